"""The demo seed's OroPay integration: a sandbox app that works, card and ACH, the status URL registered."""

from __future__ import annotations

import pytest

from demo.seed import oropay_integration_seed
from integrations.adapters import integration_methods
from integrations.models import Integration
from payments import services
from payments.models import State, WebhookEvent
from providers.oropay import client as gp_client
from sandbox.models import SimObject
from sandbox.oropay import simulator as sandbox
from tests import factories


@pytest.mark.django_db
def test_seeding_twice_keeps_one_integration_with_card_and_ach(settings) -> None:
    settings.SITE_URL = "http://127.0.0.1:8000"
    oropay_integration_seed(admin=None)
    first = Integration.objects.get(provider_key="oropay")
    oropay_integration_seed(admin=None)
    again = Integration.objects.get(provider_key="oropay")
    assert (again.pk, again.secrets["app_key"]) == (first.pk, first.secrets["app_key"])
    assert again.secrets["app_key"] == sandbox.app_key_of(again.settings["app_id"])
    assert (again.environment, again.payment_action) == ("sandbox", "charge")
    assert [m.identifier for m in integration_methods(again)] == [f"oropay_{again.pk}", f"oropay_{again.pk}_ach"]
    endpoints = SimObject.objects.filter(provider="oropay", kind="webhook_endpoint")
    assert [e.data["url"] for e in endpoints] == [f"http://127.0.0.1:8000/webhooks/{again.uuid}/"]


@pytest.mark.django_db(transaction=True)
def test_the_seeded_integration_debits_a_bank_account_and_hears_it_funded(live_server, settings) -> None:
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    gp_client.token_cache_clear()
    integration = oropay_integration_seed(admin=None)
    order = factories.OrderFactory()
    token = sandbox.tokenize_bank(integration.settings["app_id"], "123456789")
    debit = services.payment_purchase(
        order_id=order.pk,
        method=f"oropay_{integration.pk}_ach",
        key="demo-ach",
        payment_data={"payment_reference": token, "account_holder": "ACME", "authorized": "1"},
    )
    assert debit.state == State.PROCESSING
    sandbox.settle(debit.provider_reference)
    debit.refresh_from_db()
    assert debit.state == State.SUCCEEDED
    assert WebhookEvent.objects.get(integration=integration).event_type == "transaction.funded"
