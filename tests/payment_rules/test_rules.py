"""Rules in the database: validation, the cached rule set, and integrations staying consistent with rules."""

from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from integrations.models import Integration
from integrations.services import integration_activate, integration_deactivate, integration_delete
from payment_rules.matching import applicable_methods, can_start_checkout
from payment_rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod
from payment_rules.services import rules_using_integration
from payments.services import payment_capture, payment_purchase
from tests import factories

pytestmark = pytest.mark.django_db


def make_rule(*integrations: Integration, currency: str = "USD", sort: int = 0, **fields: object) -> PaymentRule:
    rule = PaymentRule.objects.create(name=f"Rule {sort}", currency=currency, sort_order=sort, **fields)
    for integration in integrations:
        PaymentRuleMethod.objects.create(
            rule=rule, integration=integration, method=f"{integration.provider_key}_{integration.pk}"
        )
    return rule


def methods_for(order) -> list[str]:  # noqa: ANN001
    return [m.identifier for m in applicable_methods(order.checkout_context())]


def test_valid_rule_passes_full_clean() -> None:
    PaymentRule(name="ok", currency="USD", expression="subtotal.value > 1000.0").full_clean()


def test_unknown_currency_is_rejected() -> None:
    with pytest.raises(ValidationError) as error:
        PaymentRule(name="bad", currency="XYZ").full_clean()
    assert "ISO 4217" in str(error.value.message_dict["currency"])


@pytest.mark.parametrize(
    ("expression", "position"),
    [
        ("subtotal.value >", "position 16"),
        ("(1 + 2", "position"),
    ],
)
def test_malformed_expression_is_rejected_with_its_position(expression: str, position: str) -> None:
    with pytest.raises(ValidationError) as error:
        PaymentRule(name="bad", currency="USD", expression=expression).full_clean()
    assert position in error.value.message_dict["expression"][0]


@pytest.mark.parametrize("expression", ["__class__", "customer.__class__", "customer.save()", "customer._meta"])
def test_expression_reaching_outside_the_context_is_rejected(expression: str) -> None:
    with pytest.raises(ValidationError) as error:
        PaymentRule(name="bad", currency="USD", expression=expression).full_clean()
    assert "position" in error.value.message_dict["expression"][0]


def test_region_must_belong_to_the_country() -> None:
    rule = make_rule(currency="USD")
    with pytest.raises(ValidationError):
        PaymentRuleDestination(rule=rule, country="US", region_code="CA-ON").full_clean()


def test_resolution_follows_rules_and_sees_changes_at_once() -> None:
    checks = factories.IntegrationFactory(name="Checks")
    order = factories.OrderFactory()
    assert methods_for(order) == []
    rule = make_rule(checks)
    assert methods_for(order) == [f"money_order_{checks.pk}"]
    rule.enabled = False
    rule.save()
    assert methods_for(order) == []


def test_destination_edit_invalidates_the_cache() -> None:
    checks = factories.IntegrationFactory()
    rule = make_rule(checks)
    order = factories.OrderFactory()  # billing in US
    assert methods_for(order) == [f"money_order_{checks.pk}"]
    PaymentRuleDestination.objects.create(rule=rule, country="CA")
    assert methods_for(order) == []


@pytest.mark.parametrize("rules", [1, 60])
def test_resolution_costs_constant_queries(rules: int, django_assert_max_num_queries) -> None:
    checks = factories.IntegrationFactory()
    terms = factories.IntegrationFactory(payment_term=True)
    for n in range(rules):
        rule = make_rule(checks, terms, sort=n, expression="subtotal.value > 10.0" if n % 2 else "")
        if n % 3 == 0:
            PaymentRuleDestination.objects.create(rule=rule, country="US", postal_codes="62701, 10001")
    order = factories.OrderFactory(customer=factories.CustomerFactory(payment_term=factories.PaymentTermFactory()))
    context = order.checkout_context()
    applicable_methods(context)  # warm
    with django_assert_max_num_queries(1):
        result = applicable_methods(context)
    assert [m.identifier for m in result] == [f"money_order_{checks.pk}", f"payment_term_{terms.pk}"]


def test_deactivating_hides_methods_at_once_and_activating_restores_them() -> None:
    checks = factories.IntegrationFactory()
    rule = make_rule(checks)
    order = factories.OrderFactory()
    integration_deactivate(integration=checks)
    assert methods_for(order) == []
    rule.refresh_from_db()
    assert (rule.enabled, rule.methods.get().enabled) == (False, False)  # as delete does (reference §5)
    integration_activate(integration=checks)
    rule.refresh_from_db()
    assert (rule.enabled, rule.methods.get().enabled) == (True, True)
    assert methods_for(order) == [f"money_order_{checks.pk}"]


def test_delete_lists_rules_beforehand_and_disables_the_one_left_without_methods() -> None:
    checks = factories.IntegrationFactory(name="Checks")
    terms = factories.IntegrationFactory(payment_term=True)
    only_checks = make_rule(checks, sort=1)
    both = make_rule(checks, terms, sort=2)
    unrelated = make_rule(terms, sort=3)

    checks_id = checks.pk
    affected = rules_using_integration(integration=checks)
    assert [(a.rule.pk, a.will_be_disabled) for a in affected] == [(only_checks.pk, True), (both.pk, False)]

    integration_delete(integration=checks)
    only_checks.refresh_from_db()
    both.refresh_from_db()
    unrelated.refresh_from_db()
    assert only_checks.enabled is False
    assert both.enabled is True
    assert unrelated.enabled is True
    assert list(both.methods.values_list("method", "enabled")) == [
        (f"money_order_{checks_id}", False),
        (f"payment_term_{terms.pk}", True),
    ]
    assert not Integration.objects.filter(pk=checks_id).exists()  # no payments: removed
    assert methods_for(factories.OrderFactory()) == []


def test_deleted_integration_with_payments_stays_for_capture_but_takes_no_new_purchase() -> None:
    checks = factories.IntegrationFactory()
    make_rule(checks)
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{checks.pk}", key="p1")

    integration_delete(integration=checks)
    checks.refresh_from_db()
    assert (checks.active, checks.deleted_at is not None) == (False, True)
    assert not Integration.objects.existing().filter(pk=checks.pk).exists()
    assert methods_for(factories.OrderFactory()) == []

    payment_capture(source_id=pending.pk, amount=None, key="c1")
    order.refresh_from_db()
    assert order.payment_status == "full"


def test_can_start_checkout_is_lighter_than_matching() -> None:
    checks = factories.IntegrationFactory()
    make_rule(checks, expression="subtotal.value > 100000.0")
    order = factories.OrderFactory(subtotal=Decimal("50.00"))
    assert methods_for(order) == []
    assert can_start_checkout(order.checkout_context()) is True
