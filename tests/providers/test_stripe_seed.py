"""The demo seed's Stripe integration: sandbox keys that work, its webhook URL registered, idempotent.

The seed's Stripe part is called on its own: the whole seed creates demo orders, which the run-script test covers.
"""

from __future__ import annotations

import pytest

from demo.seed import stripe_integration_seed
from integrations.models import Integration
from payments import services
from payments.models import State, WebhookEvent
from sandbox.models import SimObject
from tests import factories


@pytest.mark.django_db
def test_seeding_twice_keeps_one_stripe_integration_with_the_same_keys(settings) -> None:
    settings.SITE_URL = "http://127.0.0.1:8000"
    stripe_integration_seed(admin=None)
    first = Integration.objects.get(provider_key="stripe")
    stripe_integration_seed(admin=None)
    again = Integration.objects.get(provider_key="stripe")
    assert (again.pk, again.secrets["secret_key"]) == (first.pk, first.secrets["secret_key"])
    assert again.secrets["secret_key"].startswith("sk_test_")
    assert again.settings["public_key"].startswith("pk_test_")
    assert again.secrets["webhook_secret"].startswith("whsec_")
    assert (again.environment, again.payment_action) == ("sandbox", "authorize")
    endpoints = SimObject.objects.filter(provider="stripe", kind="webhook_endpoint")
    assert [e.data["url"] for e in endpoints] == [f"http://127.0.0.1:8000/webhooks/{again.uuid}/"]
    assert endpoints[0].data["api_version"] == "2026-10-28.endive"  # as the README says to set up live
    assert "refund.created" in endpoints[0].data["enabled_events"]


@pytest.mark.django_db(transaction=True)
def test_the_seeded_integration_pays_and_hears_back_from_the_sandbox(live_server, settings) -> None:
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    stripe_integration_seed(admin=None)
    stripe = Integration.objects.get(provider_key="stripe")
    order = factories.OrderFactory()
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe.pk}",
        key="demo-auth",
        payment_data={"payment_method": "pm_card_visa"},
    )
    assert auth.state == State.SUCCEEDED
    event = WebhookEvent.objects.get(integration=stripe)
    assert (event.event_type, event.status) == ("payment_intent.amount_capturable_updated", "processed")
