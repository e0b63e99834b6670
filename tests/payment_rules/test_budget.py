"""Every evaluation has a budget of steps: a condition whose worst case on a large cart exceeds it is refused at
save, and one that exceeds it on a real checkout is skipped and logged like any other run-time error (issue 14,
item 2). Steps, not time, so the tests are exact."""

from __future__ import annotations

import logging
from decimal import Decimal

import pytest

from payment_rules.expression import (
    MAX_STEPS,
    ExpressionBudgetExceeded,
    ExpressionRuntimeError,
    ExpressionSyntaxError,
    Obj,
    compile_expression,
    validate_expression,
)
from payment_rules.expression.schema import LARGE_CART_LINES
from payment_rules.matching import CompiledRule, match_methods
from tests.payment_rules.support import money_order_ruleset, usd_cart

NESTED_8 = "lineItems.sum(" * 8 + "lineItem.quantity" + ")" * 8


def lines(count: int) -> list[Obj]:
    return [Obj(quantity=Decimal(n + 1)) for n in range(count)]


def test_eight_nested_sums_are_refused_at_save_with_the_estimate() -> None:
    with pytest.raises(ExpressionSyntaxError) as error:
        validate_expression(NESTED_8)
    assert f"on a large cart ({LARGE_CART_LINES} lines" in error.value.reason
    assert f"more than the {MAX_STEPS:,} one condition may take" in error.value.reason
    # it points at the innermost sum that alone is too costly: the third level from the inside (100**3 passes)
    assert error.value.position == len("lineItems.sum(") * 5 + len("lineItems.")


def test_eight_nested_sums_stop_at_the_budget_at_run_time() -> None:
    compiled = compile_expression(NESTED_8)  # a rule saved before the check still compiles
    with pytest.raises(ExpressionBudgetExceeded) as error:
        compiled.measure({"lineItems": lines(10)})  # 10**8 passes: over 10 s without a budget
    assert isinstance(error.value, ExpressionRuntimeError)
    assert f"{MAX_STEPS:,} steps" in str(error.value)


def test_steps_count_each_pass_through_a_collection() -> None:
    compiled = compile_expression("lineItems.sum(lineItem.quantity * 2)")
    # root: method + var = 2 steps; body: mul + attr + var + number = 4 steps per item
    assert compiled.measure({"lineItems": lines(3)}) == (Decimal(12), 2 + 3 * 4)
    assert compiled.measure({"lineItems": []}) == (Decimal(0), 2)


def test_a_nested_condition_within_the_budget_on_a_real_cart_is_evaluated() -> None:
    compiled = compile_expression("lineItems.all(lineItems.any(lineItem.quantity >= 1))")
    value, steps = compiled.measure({"lineItems": lines(50)})
    assert value is True
    assert steps < MAX_STEPS


def test_the_budget_can_be_smaller_for_one_evaluation() -> None:
    compiled = compile_expression("lineItems.sum(lineItem.quantity)")
    with pytest.raises(ExpressionBudgetExceeded):
        compiled.measure({"lineItems": lines(10)}, max_steps=20)
    assert compiled.measure({"lineItems": lines(10)}, max_steps=200)[0] == Decimal(55)


@pytest.mark.parametrize(
    "source",
    [
        "lineItems.all(lineItems.any(lineItem.quantity > 1))",  # two levels over the cart: 10,000 passes
        "lineItems.all(lineItem.product.inventoryLevels.any(inventoryLevel.quantity >= lineItem.quantity))",
        "customer.users.any(user.email matches '/@acme\\\\.example$/')",
    ],
)
def test_everyday_nesting_fits_the_worst_case(source: str) -> None:
    assert validate_expression(source).worst_case_steps < MAX_STEPS


def test_three_levels_over_the_cart_are_refused() -> None:
    with pytest.raises(ExpressionSyntaxError, match="avoid nesting"):
        validate_expression("lineItems.all(lineItems.all(lineItems.any(lineItem.quantity > 1)))")


def test_a_rule_over_budget_at_checkout_is_skipped_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    ruleset = money_order_ruleset(
        CompiledRule(1, "runaway", 0, False, ("check",), condition=compile_expression(NESTED_8)),
        CompiledRule(2, "everyone", 1, False, ("wire",)),
    )
    with caplog.at_level(logging.WARNING, logger="payment_rules.matching"):
        offered = match_methods(usd_cart(10), ruleset)
    assert [m.identifier for m in offered] == ["wire"]
    assert "Payment rule 1 (runaway) skipped: Condition stopped after 1,000,000 steps" in caplog.text
