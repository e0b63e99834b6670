"""The demo seed's Authorize.Net integration: sandbox credentials that work, webhooks registered, idempotent."""

from __future__ import annotations

import pytest

from demo.seed import authorizenet_integration_seed
from integrations.adapters import integration_methods
from integrations.models import Integration
from payments import services
from payments.models import State, WebhookEvent
from sandbox.authorizenet.simulator import accept_tokenize
from sandbox.models import SimObject
from tests import factories


@pytest.mark.django_db
def test_seeding_twice_keeps_one_integration_with_the_same_credentials(settings) -> None:
    settings.SITE_URL = "http://127.0.0.1:8000"
    authorizenet_integration_seed(admin=None)
    first = Integration.objects.get(provider_key="authorizenet")
    authorizenet_integration_seed(admin=None)
    again = Integration.objects.get(provider_key="authorizenet")
    assert (again.pk, again.secrets["transaction_key"]) == (first.pk, first.secrets["transaction_key"])
    assert len(again.secrets["transaction_key"]) == 16
    assert len(again.secrets["signature_key"]) == 128
    assert (again.environment, again.payment_action) == ("sandbox", "authorize")
    assert [m.identifier for m in integration_methods(again)] == [
        f"authorizenet_{again.pk}",
        f"authorizenet_{again.pk}_echeck",
    ]
    endpoints = SimObject.objects.filter(provider="authorizenet", kind="webhook_endpoint")
    assert [e.data["url"] for e in endpoints] == [f"http://127.0.0.1:8000/webhooks/{again.uuid}/"]


@pytest.mark.django_db(transaction=True)
def test_the_seeded_integration_pays_and_hears_back_from_the_sandbox(live_server, settings) -> None:
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = authorizenet_integration_seed(admin=None)
    order = factories.OrderFactory()
    data = accept_tokenize(
        integration.settings["api_login_id"], cardNumber="4111111111111111", expirationDate="12/34", cardCode="123"
    )
    auth = services.payment_purchase(
        order_id=order.pk, method=f"authorizenet_{integration.pk}", key="demo-auth", payment_data=data
    )
    assert auth.state == State.SUCCEEDED
    event = WebhookEvent.objects.get(integration=integration)
    assert event.event_type == "net.authorize.payment.authorization.created"
