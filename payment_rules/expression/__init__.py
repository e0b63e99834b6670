"""The condition language of payment rules: OroCommerce's dialect of Symfony ExpressionLanguage.

Administrators write conditions such as ``billingAddress.countryIso2 = 'US' and subtotal.value > 1000.0`` or
``lineItems.all(lineItem.product.inventoryLevels.any(inventoryLevel.quantity >= lineItem.quantity))``; rules
written for OroCommerce give the answers they give there, except where ``DIFFERENCES`` says otherwise.

``grammar`` parses, ``language`` compiles to closures and evaluates within a step budget, ``values`` holds PHP's
rules for comparing and converting, ``regex`` runs ``matches`` on RE2, ``schema`` lists the variables and their
fields, ``variables`` builds them for a checkout, and ``checks`` validates a condition when its rule is saved.
"""

from payment_rules.expression.checks import Report, validate_expression
from payment_rules.expression.errors import ExpressionBudgetExceeded, ExpressionRuntimeError, ExpressionSyntaxError
from payment_rules.expression.language import (
    DIFFERENCES,
    MAX_CHECKOUT_STEPS,
    MAX_DEPTH,
    MAX_SOURCE_LENGTH,
    MAX_STEPS,
    STEPS_WHEN_SPENT,
    CompiledExpression,
    compile_expression,
    item_name,
)
from payment_rules.expression.values import Lazy, MoneyObj, Obj
from payment_rules.expression.variables import InventoryLevelData, RuleData, build_variables

__all__ = [
    "DIFFERENCES",
    "MAX_CHECKOUT_STEPS",
    "MAX_DEPTH",
    "MAX_SOURCE_LENGTH",
    "MAX_STEPS",
    "STEPS_WHEN_SPENT",
    "CompiledExpression",
    "ExpressionBudgetExceeded",
    "ExpressionRuntimeError",
    "ExpressionSyntaxError",
    "InventoryLevelData",
    "Lazy",
    "MoneyObj",
    "Obj",
    "Report",
    "RuleData",
    "build_variables",
    "compile_expression",
    "item_name",
    "validate_expression",
]
