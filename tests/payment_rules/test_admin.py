"""Rules in the back-office: create with methods of live integrations, validation messages, enable/disable,
and the integration delete confirmation that lists the rules it affects."""

import pytest

from payment_rules.models import PaymentRule, PaymentRuleMethod
from tests import factories

pytestmark = pytest.mark.django_db

ADD = "/admin/payment_rules/paymentrule/add/"


def form(**overrides: str) -> dict[str, str]:
    data = {
        "enabled": "on",
        "name": "USD checks",
        "sort_order": "10",
        "currency": "USD",
        "expression": "",
        "destinations-TOTAL_FORMS": "1",
        "destinations-INITIAL_FORMS": "0",
        "destinations-0-country": "US",
        "destinations-0-region_code": "",
        "destinations-0-postal_codes": "",
        "methods-TOTAL_FORMS": "1",
        "methods-INITIAL_FORMS": "0",
        "methods-0-method": "",
        "methods-0-enabled": "on",
    }
    data.update(overrides)
    return data


@pytest.fixture
def admin_client(client):  # noqa: ANN001, ANN201
    client.force_login(factories.UserFactory(superuser=True))
    return client


def test_create_rule_with_a_live_method_and_a_destination(admin_client) -> None:
    checks = factories.IntegrationFactory(name="Checks")
    response = admin_client.post(ADD, form(**{"methods-0-method": f"money_order_{checks.pk}"}))
    assert response.status_code == 302, response.content.decode()[:3000]
    rule = PaymentRule.objects.get()
    method = rule.methods.get()
    assert (method.method, method.integration, method.enabled) == (f"money_order_{checks.pk}", checks, True)
    assert [str(d) for d in rule.destinations.all()] == ["US"]


def test_inactive_integrations_are_not_offered(admin_client) -> None:
    factories.IntegrationFactory(name="Live checks")
    off = factories.IntegrationFactory(name="Old checks", active=False)
    html = admin_client.get(ADD).content.decode()
    assert "Live checks" in html
    assert f"money_order_{off.pk}" not in html


def test_rule_needs_at_least_one_method(admin_client) -> None:
    response = admin_client.post(ADD, form(**{"methods-TOTAL_FORMS": "0"}))
    assert response.status_code == 200
    assert "Please submit at least 1 form" in response.content.decode()
    assert not PaymentRule.objects.exists()


def test_expression_error_names_the_position(admin_client) -> None:
    checks = factories.IntegrationFactory()
    response = admin_client.post(
        ADD, form(**{"methods-0-method": f"money_order_{checks.pk}", "expression": "subtotal.value >"})
    )
    assert response.status_code == 200
    assert "position 16" in response.content.decode()
    assert not PaymentRule.objects.exists()


def test_enable_and_disable_actions(admin_client) -> None:
    rule = PaymentRule.objects.create(name="r", currency="USD", enabled=True)
    admin_client.post("/admin/payment_rules/paymentrule/", {"action": "disable_rules", "_selected_action": [rule.pk]})
    rule.refresh_from_db()
    assert rule.enabled is False
    admin_client.post("/admin/payment_rules/paymentrule/", {"action": "enable_rules", "_selected_action": [rule.pk]})
    rule.refresh_from_db()
    assert rule.enabled is True


def test_rule_list_filters_by_currency(admin_client) -> None:
    PaymentRule.objects.create(name="dollars", currency="USD")
    PaymentRule.objects.create(name="euros", currency="EUR")
    html = admin_client.get("/admin/payment_rules/paymentrule/?currency=EUR").content.decode()
    assert "euros" in html
    assert "dollars" not in html


def test_integration_delete_confirmation_lists_both_rules_and_disables_one(admin_client) -> None:
    checks = factories.IntegrationFactory(name="Checks")
    terms = factories.IntegrationFactory(payment_term=True)
    alone = PaymentRule.objects.create(name="Checks only", currency="USD")
    shared = PaymentRule.objects.create(name="Checks or terms", currency="USD")
    PaymentRuleMethod.objects.create(rule=alone, integration=checks, method=f"money_order_{checks.pk}")
    PaymentRuleMethod.objects.create(rule=shared, integration=checks, method=f"money_order_{checks.pk}")
    PaymentRuleMethod.objects.create(rule=shared, integration=terms, method=f"payment_term_{terms.pk}")
    url = f"/admin/integrations/integration/{checks.pk}/delete/"

    html = admin_client.get(url).content.decode()
    assert "Checks only" in html
    assert "Checks or terms" in html
    assert html.count("will be disabled") == 1
    assert f"/admin/payment_rules/paymentrule/{alone.pk}/change/" in html

    response = admin_client.post(url, {"post": "yes"})
    assert response.status_code == 302
    alone.refresh_from_db()
    shared.refresh_from_db()
    assert (alone.enabled, shared.enabled) == (False, True)


def test_integration_with_payments_can_be_deleted_and_stays_hidden(admin_client) -> None:
    from payments.services import payment_purchase

    checks = factories.IntegrationFactory(name="Checks")
    order = factories.OrderFactory()
    payment_purchase(order_id=order.pk, method=f"money_order_{checks.pk}", key="p1")
    response = admin_client.post(f"/admin/integrations/integration/{checks.pk}/delete/", {"post": "yes"})
    assert response.status_code == 302
    listing = admin_client.get("/admin/integrations/integration/").content.decode()
    assert f"/admin/integrations/integration/{checks.pk}/change/" not in listing
    assert admin_client.get(f"/admin/orders/order/{order.pk}/change/").status_code == 200
