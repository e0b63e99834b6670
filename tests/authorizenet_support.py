"""Fixtures and helpers for tests of Authorize.Net against its sandbox.

Its fixtures are registered for every test by `tests/conftest.py`; import the helpers you use.
"""

from __future__ import annotations

import json
from typing import Any

import pytest

from integrations.models import Integration
from providers.authorizenet import sandbox as anet_sandbox_module
from tests import factories

LOGIN = "paydeskservices"
ANET_SETTINGS = {
    "api_login_id": LOGIN,
    "client_key": "services-client-key",
    "account_currency": "USD",
    "allowed_card_types": ["visa", "mastercard", "american_express", "discover"],
    "require_cvv": True,
    "allow_held_transactions": True,
    "echeck_enabled": True,
    "echeck_label": "Bank account (eCheck)",
    "echeck_short_label": "eCheck",
    "echeck_account_types": ["checking", "savings", "businessChecking"],
    "echeck_confirmation_text": "I authorize Paydesk Demo Inc. to debit my account for this order.",
}
ANET_SECRETS = {"transaction_key": "Services00000001", "signature_key": "5A" * 64}
CARD = {"cardNumber": "4111111111111111", "expirationDate": "12/34", "cardCode": "123", "zip": "98004"}
BANK = {
    "routingNumber": "121042882",
    "accountNumber": "123456789",
    "nameOnAccount": "Ada Buyer",
    "accountType": "checking",
}


@pytest.fixture
def anet_sandbox(live_server, settings) -> str:
    """The live test server as site and sandbox host; returns the Authorize.Net sandbox's base URL."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    return f"{live_server.url}/sandbox/authorizenet"


@pytest.fixture
def anet_integration(anet_sandbox) -> Integration:  # noqa: ANN001
    return factories.IntegrationFactory(
        provider_key="authorizenet",
        name="Authorize.Net",
        settings=dict(ANET_SETTINGS),
        secrets=dict(ANET_SECRETS),
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )


def card(**fields: str) -> dict[str, str]:
    """Opaque data for a card, as the widget posts it (made by the sandbox's Accept.js endpoint)."""
    return anet_sandbox_module.accept_tokenize(LOGIN, **{**CARD, **fields})


def bank(**fields: str) -> dict[str, str]:
    return anet_sandbox_module.accept_tokenize(LOGIN, **{**BANK, **fields})


def register_webhooks(integration: Integration) -> None:
    anet_sandbox_module.webhook_register(
        api_login_id=integration.settings["api_login_id"],
        url=integration.get_webhook_url(),
        signature_key=integration.secrets["signature_key"],
    )


def post_notification(client, integration: Integration, event: dict[str, Any] | str, key: str | None = None):  # noqa: ANN001, ANN201
    body = event if isinstance(event, str) else json.dumps(event)
    signature = anet_sandbox_module.sign(body, key or integration.secrets["signature_key"], 0)
    return client.post(
        f"/webhooks/{integration.uuid}/",
        data=body,
        content_type="application/json",
        HTTP_X_ANET_SIGNATURE=signature["X-ANET-Signature"],
    )
