"""Integration writes outside the admin form (the API's way in): secrets write-only, as the form keeps them."""

import pytest

from integrations.models import Integration
from integrations.services import integration_create, integration_update, provider_values_with_stored

pytestmark = pytest.mark.django_db


def test_create_stores_plain_settings_and_secrets_apart(fake_gateway) -> None:
    integration = integration_create(
        provider_key="fakegw",
        name="Card gateway",
        values={"login": "merchant", "api_key": "sk_test_1"},
        secret_fields=("api_key",),
        labels={"en": "Pay by card"},
    )
    stored = Integration.objects.get(pk=integration.pk)
    assert (stored.settings, stored.secrets["api_key"], stored.labels) == (
        {"login": "merchant"},
        "sk_test_1",
        {"en": "Pay by card"},
    )


def test_update_with_an_empty_secret_keeps_the_stored_one(gateway_integration) -> None:
    integration_update(
        integration=gateway_integration,
        values={"login": "merchant-2", "api_key": ""},
        secret_fields=("api_key",),
        name="Renamed",
    )
    stored = Integration.objects.get(pk=gateway_integration.pk)
    assert (stored.name, stored.settings["login"], stored.secrets["api_key"]) == (
        "Renamed",
        "merchant-2",
        "sk_live_supersecret_4711",
    )


def test_update_with_a_new_secret_replaces_it(gateway_integration) -> None:
    integration_update(integration=gateway_integration, values={"api_key": "sk_live_new"}, secret_fields=("api_key",))
    assert Integration.objects.get(pk=gateway_integration.pk).secrets["api_key"] == "sk_live_new"


def test_a_settings_check_sees_the_stored_secret_for_an_empty_one() -> None:
    values = provider_values_with_stored(
        values={"login": "m", "api_key": None}, stored_secrets={"api_key": "sk_live_x"}, secret_fields=("api_key",)
    )
    assert values == {"login": "m", "api_key": "sk_live_x"}
