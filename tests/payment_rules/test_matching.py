"""The matching algorithm of reference §4.2, step by step, on compiled rules (pure: no database)."""

import logging
from decimal import Decimal

import pytest

from payment_rules.expression import compile_expression
from payment_rules.matching import (
    CompiledRule,
    Destination,
    LiveMethod,
    RuleSet,
    checkout_can_start,
    match_methods,
)
from providers.base import (
    AddressInfo,
    CheckoutContext,
    CustomerGroupInfo,
    CustomerInfo,
    MethodInfo,
    Money,
    PaymentTermInfo,
)
from providers.money_order.adapter import MoneyOrderAdapter
from providers.payment_term.adapter import PaymentTermAdapter

_ids = iter(range(1, 10_000))


def rule(
    *methods: str, sort: int = 0, stop: bool = False, where: tuple[Destination, ...] = (), when: str = ""
) -> CompiledRule:
    return CompiledRule(
        id=next(_ids),
        name=f"rule {'/'.join(methods)}",
        sort_order=sort,
        stop_processing=stop,
        methods=methods,
        destinations=where,
        condition=compile_expression(when) if when else None,
    )


def ruleset(
    rules: dict[str, list[CompiledRule]], live: tuple[str, ...] = ("check", "wire", "card", "terms")
) -> RuleSet:
    methods = {}
    for identifier in live:
        adapter = PaymentTermAdapter({}) if identifier == "terms" else MoneyOrderAdapter({})
        methods[identifier] = LiveMethod(MethodInfo(identifier, 1, adapter.key), adapter)
    return RuleSet(
        rules_by_currency={c: tuple(sorted(rs, key=lambda r: (r.sort_order, r.id))) for c, rs in rules.items()},
        methods=methods,
    )


def context(
    currency: str = "USD",
    subtotal: str = "100.00",
    country: str | None = "US",
    region: str = "US-NY",
    postal: str = "10001",
    group: str | None = None,
    term: str | None = None,
) -> CheckoutContext:
    billing = AddressInfo(country_iso2=country, region_code=region, postal_code=postal) if country else None
    customer = CustomerInfo(
        id=1,
        name="ACME",
        group=CustomerGroupInfo(id=1, name=group) if group else None,
        payment_term=PaymentTermInfo(id=1, label=term) if term else None,
    )
    money = Money(Decimal(subtotal), currency)
    return CheckoutContext(currency=currency, subtotal=money, total=money, billing_address=billing, customer=customer)


def ids(methods: list[MethodInfo]) -> list[str]:
    return [m.identifier for m in methods]


def test_no_currency_no_methods() -> None:
    rs = ruleset({"USD": [rule("check")]})
    assert ids(match_methods(context(currency=""), rs)) == []


def test_currency_must_match() -> None:
    rs = ruleset({"USD": [rule("check")], "EUR": [rule("wire")]})
    assert ids(match_methods(context(currency="USD"), rs)) == ["check"]
    assert ids(match_methods(context(currency="EUR"), rs)) == ["wire"]
    assert ids(match_methods(context(currency="GBP"), rs)) == []


def test_destination_country() -> None:
    rs = ruleset({"USD": [rule("check", where=(Destination("US"),)), rule("wire", where=(Destination("CA"),))]})
    assert ids(match_methods(context(country="US"), rs)) == ["check"]
    assert ids(match_methods(context(country="CA", region="CA-ON"), rs)) == ["wire"]
    assert ids(match_methods(context(country="DE", region=""), rs)) == []


def test_destination_region() -> None:
    rs = ruleset({"USD": [rule("check", where=(Destination("US", "US-NY"),))]})
    assert ids(match_methods(context(region="US-NY"), rs)) == ["check"]
    assert ids(match_methods(context(region="US-CA"), rs)) == []


def test_destination_postal_code_list_is_exact() -> None:
    rs = ruleset({"USD": [rule("check", where=(Destination("US", "", frozenset({"10001", "10002"})),))]})
    assert ids(match_methods(context(postal="10002"), rs)) == ["check"]
    assert ids(match_methods(context(postal="1000"), rs)) == []  # no prefixes, no wildcards
    assert ids(match_methods(context(postal="99999, 10001"), rs)) == ["check"]  # billing may list several


def test_any_of_several_destinations() -> None:
    rs = ruleset({"USD": [rule("check", where=(Destination("US", "US-CA"), Destination("CA")))]})
    assert ids(match_methods(context(country="CA", region="CA-QC"), rs)) == ["check"]
    assert ids(match_methods(context(country="US", region="US-CA"), rs)) == ["check"]
    assert ids(match_methods(context(country="US", region="US-NY"), rs)) == []


def test_without_billing_address_only_rules_without_destinations_match() -> None:
    rs = ruleset({"USD": [rule("check", where=(Destination("US"),)), rule("wire")]})
    assert ids(match_methods(context(country=None), rs)) == ["wire"]


def test_expression_true_and_false() -> None:
    rs = ruleset(
        {"USD": [rule("check", when="subtotal.value > 1000.0"), rule("wire", when="subtotal.value <= 1000.0")]}
    )
    assert ids(match_methods(context(subtotal="1500.00"), rs)) == ["check"]
    assert ids(match_methods(context(subtotal="1000.00"), rs)) == ["wire"]


def test_expression_error_skips_only_its_rule_and_is_logged(caplog: pytest.LogCaptureFixture) -> None:
    rs = ruleset({"USD": [rule("check", when="customer.group.name = 'Wholesale'", sort=1), rule("wire", sort=2)]})
    with caplog.at_level(logging.WARNING, logger="payment_rules.matching"):
        assert ids(match_methods(context(group=None), rs)) == ["wire"]  # group is null: attribute of null
    assert "skipped" in caplog.text


def test_sort_order_decides_method_order() -> None:
    rs = ruleset({"USD": [rule("wire", sort=20), rule("check", sort=10), rule("card", sort=30)]})
    assert ids(match_methods(context(), rs)) == ["check", "wire", "card"]


def test_stop_processing_drops_later_rules() -> None:
    rs = ruleset({"USD": [rule("check", sort=1, stop=True), rule("wire", sort=2)]})
    assert ids(match_methods(context(), rs)) == ["check"]


def test_stop_processing_rule_that_does_not_match_does_not_stop() -> None:
    rs = ruleset({"USD": [rule("check", sort=1, stop=True, when="subtotal.value > 5000.0"), rule("wire", sort=2)]})
    assert ids(match_methods(context(), rs)) == ["wire"]


def test_stop_processing_applies_after_sorting() -> None:
    rs = ruleset({"USD": [rule("wire", sort=5), rule("check", sort=10, stop=True), rule("card", sort=20)]})
    assert ids(match_methods(context(), rs)) == ["wire", "check"]


def test_duplicate_methods_appear_once_at_their_first_position() -> None:
    rs = ruleset({"USD": [rule("check", "wire", sort=1), rule("card", "check", sort=2), rule("wire", sort=3)]})
    assert ids(match_methods(context(), rs)) == ["check", "wire", "card"]


def test_method_of_a_dead_integration_is_skipped() -> None:
    rs = ruleset({"USD": [rule("gone", "check")]}, live=("check",))
    assert ids(match_methods(context(), rs)) == ["check"]


def test_provider_gate_is_applied() -> None:
    rs = ruleset({"USD": [rule("terms", "check")]})
    assert ids(match_methods(context(term=None), rs)) == ["check"]
    assert ids(match_methods(context(term="Net 30"), rs)) == ["terms", "check"]


def test_group_scoped_rule() -> None:
    rs = ruleset({"USD": [rule("terms", when="customer.group and customer.group.name = 'Wholesale'"), rule("check")]})
    assert ids(match_methods(context(group="Wholesale", term="Net 60"), rs)) == ["terms", "check"]
    assert ids(match_methods(context(group="Retail", term="Net 60"), rs)) == ["check"]


def test_checkout_can_start_ignores_conditions_and_stop_processing() -> None:
    rs = ruleset({"USD": [rule("check", when="subtotal.value > 99999.0", stop=True)]})
    assert match_methods(context(), rs) == []
    assert checkout_can_start(context(), rs) is True
    assert checkout_can_start(context(currency="EUR"), rs) is False


def test_checkout_can_start_needs_a_live_method_and_a_matching_destination() -> None:
    dead = ruleset({"USD": [rule("gone")]}, live=())
    assert checkout_can_start(context(), dead) is False
    abroad = ruleset({"USD": [rule("check", where=(Destination("CA"),))]})
    assert checkout_can_start(context(country="US"), abroad) is False
    assert checkout_can_start(context(country=None), abroad) is True  # address not known yet
