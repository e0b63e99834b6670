"""Builders the payment-rule tests share."""

from __future__ import annotations

from decimal import Decimal

from integrations.models import Integration
from payment_rules.matching import CompiledRule, LiveMethod, RuleSet
from payment_rules.models import PaymentRule, PaymentRuleMethod
from providers.base import CheckoutContext, LineItemInfo, MethodInfo, Money
from providers.money_order.adapter import MoneyOrderAdapter


def money_order_ruleset(*rules: CompiledRule) -> RuleSet:
    """A rule set of these USD rules, in this order; every method they name is a live Check / Money Order method."""
    adapter = MoneyOrderAdapter({})
    identifiers = {identifier for rule in rules for identifier in rule.methods}
    return RuleSet(
        rules_by_currency={"USD": rules},
        methods={m: LiveMethod(MethodInfo(m, 1, adapter.key), adapter) for m in identifiers},
    )


def usd_cart(lines: int) -> CheckoutContext:
    """A checkout of `lines` lines of one item at 100.00 USD (the totals are not the lines' sum)."""
    money = Money(Decimal("100.00"), "USD")
    items = [LineItemInfo(f"SKU-{n}", "Item", Decimal(1), money) for n in range(lines)]
    return CheckoutContext(currency="USD", subtotal=money, total=money, line_items=items)


def make_rule(name: str, *integrations: Integration, sort: int = 0, stop: bool = False) -> PaymentRule:
    """A USD rule offering the first method of each integration."""
    rule = PaymentRule.objects.create(name=name, currency="USD", sort_order=sort, stop_processing=stop)
    for integration in integrations:
        PaymentRuleMethod.objects.create(
            rule=rule, integration=integration, method=f"{integration.provider_key}_{integration.pk}"
        )
    return rule
