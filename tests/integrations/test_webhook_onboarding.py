"""The webhook onboarding panel of an integration's page: the URL, what each provider's adapter says to configure,
a warning while the signing secret is unset, and the deliveries refused with why."""

from __future__ import annotations

import pytest

from integrations.models import RejectedWebhook
from providers import registry
from tests import factories
from tests.authorizenet_support import ANET_SECRETS, ANET_SETTINGS
from tests.sandbox_support import STRIPE_SECRETS, STRIPE_SETTINGS

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client(client):  # noqa: ANN001, ANN201
    client.force_login(factories.UserFactory(superuser=True))
    return client


def page(client, integration) -> str:  # noqa: ANN001
    return client.get(f"/admin/integrations/integration/{integration.pk}/change/").content.decode()


@pytest.mark.parametrize("key", sorted(key for key in registry.ADAPTERS if registry.adapter_class(key).webhook_setup()))
def test_every_provider_that_sends_webhooks_says_what_to_configure(key: str) -> None:
    setup = registry.adapter_class(key).webhook_setup()

    assert setup is not None
    assert setup.events, "an endpoint without events receives nothing"
    assert setup.where
    assert setup.signing_field in registry.settings_form_class(key).base_fields  # the field the secret is typed in


def test_a_provider_without_webhooks_has_no_setup_and_no_panel(admin_client) -> None:  # noqa: ANN001
    checks = factories.IntegrationFactory(provider_key="money_order")

    assert registry.adapter_class("money_order").webhook_setup() is None
    assert "Webhook URL" not in page(admin_client, checks)


def test_the_stripe_panel_shows_url_events_and_api_version(admin_client) -> None:  # noqa: ANN001
    stripe = factories.IntegrationFactory(
        provider_key="stripe", settings=dict(STRIPE_SETTINGS), secrets=dict(STRIPE_SECRETS)
    )

    html = page(admin_client, stripe)

    assert stripe.get_webhook_url() in html
    assert "<code>payment_intent.amount_capturable_updated</code>" in html
    assert "<code>charge.dispute.created</code>" in html
    assert f"<code>{registry.adapter_class('stripe').webhook_api_version}</code>" in html
    assert "Workbench › Webhooks" in html
    assert "webhook-secret-missing" not in html
    assert "None: every delivery so far verified." in html


@pytest.mark.parametrize(("signature_key", "warned"), [("", True), ("A" * 128, False)])
def test_authorize_net_warns_while_the_signature_key_is_unset(admin_client, signature_key: str, warned: bool) -> None:  # noqa: ANN001
    anet = factories.IntegrationFactory(
        provider_key="authorizenet",
        settings=dict(ANET_SETTINGS),
        secrets={**ANET_SECRETS, "signature_key": signature_key},
    )

    html = page(admin_client, anet)

    assert "<code>net.authorize.payment.priorAuthCapture.created</code>" in html
    assert "Endpoint API version" not in html  # Authorize.Net's endpoints have none
    assert ("No signing secret is set" in html) is warned


def test_a_refused_delivery_is_noted_with_why_and_shown(client, admin_client) -> None:  # noqa: ANN001
    stripe = factories.IntegrationFactory(
        provider_key="stripe", settings=dict(STRIPE_SETTINGS), secrets=dict(STRIPE_SECRETS)
    )
    url = f"/webhooks/{stripe.uuid}/"
    body = '{"id": "evt_1", "type": "payment_intent.succeeded"}'

    signed = client.post(url, body, content_type="application/json", HTTP_STRIPE_SIGNATURE="t=1,v1=00")
    unsigned = client.post(url, body, content_type="application/json")

    assert (signed.status_code, unsigned.status_code) == (400, 400)
    rows = list(RejectedWebhook.objects.filter(integration=stripe).order_by("id"))
    assert [(r.reason, r.had_signature, r.body_bytes) for r in rows] == [
        ("Stripe webhook signature does not verify", True, len(body)),
        ("Stripe webhook signature does not verify", False, len(body)),
    ]
    html = page(admin_client, stripe)
    assert "Stripe webhook signature does not verify" in html
    assert "None: every delivery so far verified." not in html


def test_only_the_last_refused_deliveries_are_kept(client) -> None:  # noqa: ANN001
    stripe = factories.IntegrationFactory(
        provider_key="stripe", settings=dict(STRIPE_SETTINGS), secrets=dict(STRIPE_SECRETS)
    )
    for _ in range(RejectedWebhook.KEEP + 3):
        client.post(f"/webhooks/{stripe.uuid}/", "{}", content_type="application/json")

    assert RejectedWebhook.objects.filter(integration=stripe).count() == RejectedWebhook.KEEP
