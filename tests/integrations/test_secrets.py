"""Integration secrets: encrypted at rest, write-only in forms, masked when printed."""

import logging

import pytest
from django.contrib.admin.models import LogEntry
from django.db import connection

from integrations.crypto import fernet
from integrations.models import Integration
from tests import factories

pytestmark = pytest.mark.django_db
SECRET = "sk_live_supersecret_4711"


def raw_column(integration: Integration) -> str:
    with connection.cursor() as cursor:
        cursor.execute("SELECT secrets FROM integrations_integration WHERE id = %s", [integration.pk])
        return cursor.fetchone()[0]


def test_secret_is_encrypted_in_the_column_and_decrypts_back(gateway_integration) -> None:
    stored = raw_column(gateway_integration)
    assert SECRET not in stored
    assert "api_key" not in stored  # not even the field names leak
    assert fernet().decrypt(stored.encode()) == b'{"api_key": "sk_live_supersecret_4711"}'
    assert Integration.objects.get(pk=gateway_integration.pk).secrets["api_key"] == SECRET


def test_printing_secrets_shows_masks(gateway_integration, caplog) -> None:
    integration = Integration.objects.get(pk=gateway_integration.pk)
    with caplog.at_level(logging.INFO):
        logging.getLogger("test").info("integration secrets: %s", integration.secrets)
    assert SECRET not in repr(integration.secrets)
    assert SECRET not in str(integration.secrets)
    assert SECRET not in caplog.text
    assert "api_key" in caplog.text


def test_admin_never_renders_the_secret_and_keeps_it_when_left_empty(client, gateway_integration) -> None:
    client.force_login(factories.UserFactory(superuser=True))
    url = f"/admin/integrations/integration/{gateway_integration.pk}/change/"
    page = client.get(url)
    assert page.status_code == 200
    html = page.content.decode()
    assert SECRET not in html
    assert "Set; leave empty to keep it." in html
    assert 'name="api_key"' in html

    form = {
        "name": "Card gateway renamed",
        "environment": "sandbox",
        "payment_action": "authorize",
        "capture_policy": "manual",
        "capture_delay_hours": "24",
        "active": "on",
        "label_en": "Pay by card",
        "login": "merchant-2",
        "api_key": "",
    }
    response = client.post(url, form)
    assert response.status_code == 302, response.content.decode()[:2000]
    gateway_integration.refresh_from_db()
    assert gateway_integration.name == "Card gateway renamed"
    assert gateway_integration.settings["login"] == "merchant-2"
    assert gateway_integration.secrets["api_key"] == SECRET
    assert "api_key" not in gateway_integration.settings

    response = client.post(url, {**form, "api_key": "sk_live_rotated_0815"})
    assert response.status_code == 302
    gateway_integration.refresh_from_db()
    assert gateway_integration.secrets["api_key"] == "sk_live_rotated_0815"
    history = " ".join(str(entry.change_message) + entry.get_change_message() for entry in LogEntry.objects.all())
    assert "sk_live_rotated_0815" not in history
    assert SECRET not in history
    assert "sk_live_rotated_0815" not in client.get(url).content.decode()


def test_new_integration_asks_for_the_type_first(client) -> None:
    client.force_login(factories.UserFactory(superuser=True))
    choose = client.get("/admin/integrations/integration/add/")
    assert choose.status_code == 200
    assert "?provider_key=money_order" in choose.content.decode()

    url = "/admin/integrations/integration/add/?provider_key=money_order"
    form = client.get(url).content.decode()
    assert 'name="pay_to"' in form
    assert 'name="label_en"' in form  # the per-language labels are on the page, not only in the form class
    assert 'name="short_label_de"' in form
    response = client.post(
        url,
        {
            "name": "Checks",
            "environment": "sandbox",
            "payment_action": "charge",
            "capture_policy": "manual",
            "capture_delay_hours": "24",
            "active": "on",
            "label_en": "Check / Money Order",
            "short_label_en": "Check",
            "pay_to": "Paydesk Inc.",
            "send_to": "1 Market Street",
        },
    )
    assert response.status_code == 302, response.content.decode()[:3000]
    integration = Integration.objects.get(name="Checks")
    assert integration.provider_key == "money_order"
    assert integration.settings == {"pay_to": "Paydesk Inc.", "send_to": "1 Market Street"}
    assert integration.labels == {"en": "Check / Money Order"}
    assert integration.short_label("en") == "Check"


def test_required_secret_must_be_given_on_create(client, fake_gateway) -> None:
    client.force_login(factories.UserFactory(superuser=True))
    url = "/admin/integrations/integration/add/?provider_key=fakegw"
    response = client.post(
        url, {"name": "Gw", "environment": "sandbox", "payment_action": "charge", "label_en": "Card", "login": "m"}
    )
    assert response.status_code == 200
    assert "This field is required." in response.content.decode()
    assert not Integration.objects.exists()
