"""Integrations and payment rules for administrators: who may, secrets never returned, rules kept in step."""

from __future__ import annotations

import pytest

from integrations.models import Integration
from payment_rules.models import PaymentRule, PaymentRuleMethod
from providers import registry
from tests import factories

pytestmark = pytest.mark.django_db

SECRET = "sk_live_supersecret_4711"


@pytest.fixture
def rule(gateway_integration: Integration) -> PaymentRule:
    rule = PaymentRule.objects.create(name="Cards", currency="USD", sort_order=1)
    PaymentRuleMethod.objects.create(
        rule=rule, integration=gateway_integration, method=f"fakegw_{gateway_integration.pk}"
    )
    return rule


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("buyer_a", 403), ("buyer_b", 403), ("sales", 403), ("admin", 200)],
)
@pytest.mark.parametrize("path", ["/api/v1/integrations/", "/api/v1/integrations/{id}/", "/api/v1/payment-rules/"])
def test_integrations_and_rules_are_for_administrators(callers, gateway_integration, rule, who, expected, path):  # noqa: ANN001
    response = callers[who].client.get(path.format(id=gateway_integration.pk))

    assert response.status_code == expected
    assert SECRET not in response.content.decode()


def test_a_secret_is_write_only_and_kept_when_left_out(admin_client, gateway_integration):  # noqa: ANN001
    shown = admin_client.get(f"/api/v1/integrations/{gateway_integration.pk}/").json()
    assert shown["secrets_set"] == ["api_key"]
    assert "secrets" not in shown

    renamed = admin_client.patch(
        f"/api/v1/integrations/{gateway_integration.pk}/", {"name": "Cards", "settings": {"login": "m2"}}, format="json"
    )

    assert renamed.status_code == 200, renamed.json()
    assert SECRET not in renamed.content.decode()
    gateway_integration.refresh_from_db()
    assert (gateway_integration.name, gateway_integration.settings["login"]) == ("Cards", "m2")
    assert gateway_integration.secrets == {"api_key": SECRET}

    rotated = admin_client.patch(
        f"/api/v1/integrations/{gateway_integration.pk}/", {"secrets": {"api_key": "sk_live_new"}}, format="json"
    )
    assert "sk_live_new" not in rotated.content.decode()
    gateway_integration.refresh_from_db()
    assert gateway_integration.secrets == {"api_key": "sk_live_new"}


def test_deactivate_and_delete_answer_the_rules_they_affect(admin_client, gateway_integration, rule):  # noqa: ANN001
    deactivated = admin_client.post(f"/api/v1/integrations/{gateway_integration.pk}/deactivate/")

    assert deactivated.json() == [{"rule": rule.pk, "name": "Cards", "will_be_disabled": True}]
    rule.refresh_from_db()
    assert rule.enabled is False
    activated = admin_client.post(f"/api/v1/integrations/{gateway_integration.pk}/activate/").json()
    assert activated["active"] is True
    rule.refresh_from_db()
    assert rule.enabled is True

    deleted = admin_client.delete(f"/api/v1/integrations/{gateway_integration.pk}/")

    assert deleted.json() == [{"rule": rule.pk, "name": "Cards", "will_be_disabled": True}]
    assert admin_client.get(f"/api/v1/integrations/{gateway_integration.pk}/").status_code == 404


def test_an_invalid_provider_setting_is_400_on_its_field(admin_client, fake_gateway):  # noqa: ANN001
    response = admin_client.post(
        "/api/v1/integrations/",
        {"provider_key": "fakegw", "name": "X", "labels": {"en": "X"}, "settings": {}, "secrets": {"api_key": "k"}},
        format="json",
    )

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "settings.login"
    assert not Integration.objects.filter(name="X").exists()


def test_a_provider_registered_after_the_api_was_loaded_is_taken(admin_client, monkeypatch):  # noqa: ANN001
    """The provider key is checked against the registry of the moment, so whether another test loaded the API
    before a provider was registered decides nothing."""
    assert admin_client.get("/api/v1/integrations/").status_code == 200  # the API's serializers exist now
    spec = registry.ProviderSpec("latergw", "Later", "tests.fakes.FakeGateway", "tests.fakes.FakeGatewaySettingsForm")
    monkeypatch.setitem(registry.PROVIDERS, "latergw", spec)
    registry.adapter_class.cache_clear()
    registry.settings_form_class.cache_clear()
    try:
        response = admin_client.post(
            "/api/v1/integrations/",
            {"provider_key": "latergw", "name": "L", "labels": {"en": "L"}, "settings": {}, "secrets": {}},
            format="json",
        )
    finally:
        registry.adapter_class.cache_clear()
        registry.settings_form_class.cache_clear()

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "settings.login"  # the provider's own form spoke: its key was taken
    unknown = admin_client.post(
        "/api/v1/integrations/", {"provider_key": "nosuch", "name": "N", "labels": {"en": "N"}}, format="json"
    )
    assert (unknown.status_code, unknown.json()["error"]["field"]) == (400, "provider_key")


def test_rule_crud_validate_and_evaluate(admin_client, gateway_integration):  # noqa: ANN001
    method = f"fakegw_{gateway_integration.pk}"
    made = admin_client.post(
        "/api/v1/payment-rules/",
        {"name": "Big", "currency": "usd", "expression": "subtotal.value > 50.0", "methods": [{"method": method}]},
        format="json",
    )
    assert made.status_code == 201, made.json()
    assert made.json()["currency"] == "USD"
    assert made.json()["methods"] == [{"method": method, "enabled": True, "integration": gateway_integration.pk}]

    bad = admin_client.post(
        "/api/v1/payment-rules/validate-expression/", {"expression": "subtotal.value >"}, format="json"
    )
    assert (bad.status_code, bad.json()["error"]["field"]) == (400, "expression")
    good = admin_client.post(
        "/api/v1/payment-rules/validate-expression/", {"expression": "subtotal.value > 1.0"}, format="json"
    )
    assert good.status_code == 200

    order = factories.OrderFactory()  # 100.00 USD
    evaluation = admin_client.post("/api/v1/payment-rules/evaluate/", {"order": order.pk}, format="json").json()
    assert evaluation["matched"] == [made.json()["id"]]
    assert evaluation["methods"] == [method]

    changed = admin_client.patch(
        f"/api/v1/payment-rules/{made.json()['id']}/", {"expression": "subtotal.value > 500.0"}, format="json"
    )
    assert changed.status_code == 200
    assert (
        admin_client.post("/api/v1/payment-rules/evaluate/", {"order": order.pk}, format="json").json()["methods"] == []
    )
    assert admin_client.delete(f"/api/v1/payment-rules/{made.json()['id']}/").status_code == 204
    assert not PaymentRule.objects.exists()


def test_a_rule_with_a_bad_expression_is_refused(admin_client):  # noqa: ANN001
    response = admin_client.post(
        "/api/v1/payment-rules/", {"name": "Bad", "currency": "USD", "expression": "1 +"}, format="json"
    )

    assert (response.status_code, response.json()["error"]["field"]) == (400, "expression")
    assert not PaymentRule.objects.exists()
