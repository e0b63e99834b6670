"""Deactivating an integration treats its rules as deleting does, and activating it can restore exactly what the
deactivation switched off (issue 14, item 4; reference §5)."""

from __future__ import annotations

import pytest
from django.test import Client

from integrations.models import Integration
from integrations.services import integration_activate, integration_deactivate
from payment_rules.matching import applicable_methods
from payment_rules.models import IntegrationDeactivation, PaymentRuleMethod
from tests import factories
from tests.payment_rules.support import make_rule

pytestmark = pytest.mark.django_db


def offered() -> list[str]:
    return [m.identifier for m in applicable_methods(factories.OrderFactory().checkout_context())]


@pytest.fixture
def checks() -> Integration:
    return factories.IntegrationFactory(name="Checks")


@pytest.fixture
def terms() -> Integration:
    return factories.IntegrationFactory(payment_term=True)


@pytest.fixture
def admin_client(client: Client) -> Client:
    client.force_login(factories.UserFactory(superuser=True))
    return client


def test_a_stop_processing_rule_of_a_deactivated_integration_no_longer_hides_later_rules(checks, terms) -> None:  # noqa: ANN001
    make_rule("Checks only, and stop", checks, sort=1, stop=True)
    make_rule("Everyone else", terms, sort=2)
    customer = factories.CustomerFactory(payment_term=factories.PaymentTermFactory())
    context = factories.OrderFactory(customer=customer).checkout_context()
    assert [m.identifier for m in applicable_methods(context)] == [f"money_order_{checks.pk}"]

    integration_deactivate(integration=checks)

    assert [m.identifier for m in applicable_methods(context)] == [f"payment_term_{terms.pk}"]


def test_a_rule_whose_integrations_are_all_switched_off_never_stops_processing(checks, terms) -> None:  # noqa: ANN001
    # even when the integration was switched off without the service (a shell, an old deployment)
    make_rule("Checks only, and stop", checks, sort=1, stop=True)
    make_rule("Everyone else", terms, sort=2)
    customer = factories.CustomerFactory(payment_term=factories.PaymentTermFactory())
    checks.active = False
    checks.save()
    context = factories.OrderFactory(customer=customer).checkout_context()
    assert [m.identifier for m in applicable_methods(context)] == [f"payment_term_{terms.pk}"]


def test_deactivation_disables_its_methods_and_the_rules_left_without_one(checks, terms) -> None:  # noqa: ANN001
    alone = make_rule("Checks only", checks, sort=1)
    shared = make_rule("Checks or terms", checks, terms, sort=2)
    unrelated = make_rule("Terms only", terms, sort=3)

    affected = integration_deactivate(integration=checks)

    assert [(a.rule.name, a.will_be_disabled) for a in affected] == [("Checks only", True), ("Checks or terms", False)]
    for rule in (alone, shared, unrelated):
        rule.refresh_from_db()
    assert (alone.enabled, shared.enabled, unrelated.enabled) == (False, True, True)
    assert list(PaymentRuleMethod.objects.filter(integration=checks).values_list("enabled", flat=True)) == [
        False,
        False,
    ]
    record = IntegrationDeactivation.objects.get()
    assert set(record.rules.all()) == {alone}
    assert set(record.methods.values_list("rule__name", flat=True)) == {"Checks only", "Checks or terms"}
    checks.refresh_from_db()
    assert checks.active is False


def test_a_method_of_an_already_inactive_integration_does_not_keep_a_rule_alive(checks, terms) -> None:  # noqa: ANN001
    both = make_rule("Checks or terms", checks, terms)
    Integration.objects.filter(pk=terms.pk).update(active=False)  # switched off before deactivation kept rules
    integration_deactivate(integration=checks)
    both.refresh_from_db()
    assert both.enabled is False


def test_activation_restores_exactly_what_the_deactivation_switched_off(checks, terms) -> None:  # noqa: ANN001
    alone = make_rule("Checks only", checks, sort=1)
    shared = make_rule("Checks or terms", checks, terms, sort=2)
    paused = make_rule("Paused by hand", checks, sort=3)
    paused.enabled = False
    paused.save()
    integration_deactivate(integration=checks)
    # meanwhile an administrator takes the checks method out of the shared rule by hand
    PaymentRuleMethod.objects.filter(rule=shared, integration=checks).delete()

    restored = integration_activate(integration=checks)

    assert [rule.name for rule in restored.rules] == ["Checks only"]
    for rule in (alone, shared, paused):
        rule.refresh_from_db()
    assert (alone.enabled, shared.enabled, paused.enabled) == (True, True, False)  # paused stays as it was
    assert list(alone.methods.values_list("enabled", flat=True)) == [True]
    assert list(shared.methods.values_list("method", flat=True)) == [f"payment_term_{terms.pk}"]
    assert list(paused.methods.values_list("enabled", flat=True)) == [True]  # its method was on before
    assert IntegrationDeactivation.objects.get().restored is True
    assert offered() == [f"money_order_{checks.pk}"]  # the order's customer has no payment term


def test_activation_without_restoring_leaves_the_rules_off_for_good(checks) -> None:  # noqa: ANN001
    alone = make_rule("Checks only", checks)
    integration_deactivate(integration=checks)

    restored = integration_activate(integration=checks, restore=False)

    assert (restored.rules, restored.methods) == ([], [])
    alone.refresh_from_db()
    assert alone.enabled is False
    record = IntegrationDeactivation.objects.get()
    assert (record.ended_at is not None, record.restored) == (True, False)
    integration_deactivate(integration=checks)
    integration_activate(integration=checks)  # a later cycle does not bring back what was declined
    alone.refresh_from_db()
    assert alone.enabled is False


def test_deactivating_twice_records_once(checks) -> None:  # noqa: ANN001
    make_rule("Checks only", checks)
    integration_deactivate(integration=checks)
    assert integration_deactivate(integration=checks) == []
    assert IntegrationDeactivation.objects.count() == 1


# --- the back-office -------------------------------------------------------------------------------------


def test_the_deactivation_page_lists_the_rules_it_affects_before_anything_changes(admin_client, checks, terms) -> None:  # noqa: ANN001
    alone = make_rule("Checks only", checks, sort=1)
    make_rule("Checks or terms", checks, terms, sort=2)
    url = f"/admin/integrations/integration/{checks.pk}/deactivate/"

    html = admin_client.get(url).content.decode()

    assert "Checks only" in html
    assert "Checks or terms" in html
    assert html.count("will be disabled") == 1
    assert f"/admin/payment_rules/paymentrule/{alone.pk}/change/" in html
    checks.refresh_from_db()
    alone.refresh_from_db()
    assert (checks.active, alone.enabled) == (True, True)  # a GET changes nothing

    response = admin_client.post(url)
    assert response.status_code == 302
    checks.refresh_from_db()
    alone.refresh_from_db()
    assert (checks.active, alone.enabled) == (False, False)


def test_the_activation_page_offers_to_restore_and_does_when_asked(admin_client, checks) -> None:  # noqa: ANN001
    alone = make_rule("Checks only", checks)
    integration_deactivate(integration=checks)
    url = f"/admin/integrations/integration/{checks.pk}/activate/"

    html = admin_client.get(url).content.decode()
    assert 'name="restore"' in html
    assert "Checks only" in html

    assert admin_client.post(url, {"restore": "1"}).status_code == 302
    alone.refresh_from_db()
    checks.refresh_from_db()
    assert (checks.active, alone.enabled) == (True, True)


def test_the_change_form_switches_through_the_pages_not_a_checkbox(admin_client, checks) -> None:  # noqa: ANN001
    html = admin_client.get(f"/admin/integrations/integration/{checks.pk}/change/").content.decode()
    assert f'href="/admin/integrations/integration/{checks.pk}/deactivate/"' in html
    assert 'name="active"' not in html


def test_sales_staff_cannot_switch_integrations(client: Client, checks) -> None:  # noqa: ANN001
    client.force_login(factories.UserFactory(staff=True))
    assert client.post(f"/admin/integrations/integration/{checks.pk}/deactivate/").status_code == 403
    checks.refresh_from_db()
    assert checks.active is True
