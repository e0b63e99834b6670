"""Fixtures and helpers for tests of Authorize.Net against its sandbox.

Its fixtures are registered for every test by `tests/conftest.py`; import the helpers you use.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest
import requests
from lxml import etree

from integrations.models import Integration
from providers.authorizenet.adapter import AuthorizeNetAdapter
from sandbox.authorizenet import simulator as anet_sandbox_module
from sandbox.profiles import AUTHORIZENET_CARD
from sandbox.profiles import profile as sandbox_profile
from sandbox.services import sim_fault_add
from tests import factories

LOGIN = "paydeskservices"
_CREDENTIALS, ANET_SECRETS = sandbox_profile("authorizenet").credentials(LOGIN, "")
ANET_SETTINGS = {
    **_CREDENTIALS,
    # a public key with dashes: the widget test checks it is escaped for JavaScript
    "client_key": "services-client-key",
    "allowed_card_types": ["visa", "mastercard", "american_express", "discover"],
    "require_cvv": True,
    "allow_held_transactions": True,
    "echeck_enabled": True,
    "echeck_label": "Bank account (eCheck)",
    "echeck_short_label": "eCheck",
    "echeck_account_types": ["checking", "savings", "businessChecking"],
    "echeck_confirmation_text": "I authorize Paydesk Demo Inc. to debit my account for this order.",
}
CARD = AUTHORIZENET_CARD
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


@pytest.fixture
def anet_charging(anet_integration) -> Integration:  # noqa: ANN001
    """The Authorize.Net integration taking payments in one step (authCapture)."""
    anet_integration.payment_action = Integration.PaymentAction.CHARGE
    anet_integration.save()
    return anet_integration


def card(**fields: str) -> dict[str, str]:
    """Opaque data for a card, as the widget posts it (made by the sandbox's Accept.js endpoint)."""
    return anet_sandbox_module.accept_tokenize(LOGIN, **{**CARD, **fields})


def bank(**fields: str) -> dict[str, str]:
    return anet_sandbox_module.accept_tokenize(LOGIN, **{**BANK, **fields})


def register_webhooks(integration: Integration) -> None:
    register = sandbox_profile("authorizenet").register_webhooks
    assert register is not None
    register({**integration.settings, **integration.secrets}, integration.get_webhook_url(), ["*"], "")


def post_notification(client, integration: Integration, event: dict[str, Any] | str, key: str | None = None):  # noqa: ANN001, ANN201
    body = event if isinstance(event, str) else json.dumps(event)
    signature = anet_sandbox_module.sign(body, key or integration.secrets["signature_key"], 0)
    return client.post(
        f"/webhooks/{integration.uuid}/",
        data=body,
        content_type="application/json",
        HTTP_X_ANET_SIGNATURE=signature["X-ANET-Signature"],
    )


# --- someone in the Merchant Interface ----------------------------------------------------------------------------

_NS = {"a": anet_sandbox_module.NS}


def merchant_interface(api_url: str, transaction_type: str, ref_trans_id: str, amount: str | None = None) -> str:
    """A refund or void made in Authorize.Net's Merchant Interface: the same API, nothing of ours (no key of ours
    as invoice number). Returns the transaction id Authorize.Net answers (a refund's own id)."""
    payment = ""
    if transaction_type == "refundTransaction":
        details = _post(
            api_url,
            f"<getTransactionDetailsRequest xmlns='{anet_sandbox_module.NS}'>{_auth()}"
            f"<transId>{ref_trans_id}</transId></getTransactionDetailsRequest>",
        )
        last4 = (details.findtext(".//a:payment/a:creditCard/a:cardNumber", namespaces=_NS) or "")[-4:]
        payment = (
            f"<payment><creditCard><cardNumber>{last4}</cardNumber><expirationDate>XXXX</expirationDate>"
            "</creditCard></payment>"
        )
    amount_element = f"<amount>{amount}</amount>" if amount else ""
    reply = _post(
        api_url,
        f"<createTransactionRequest xmlns='{anet_sandbox_module.NS}'>{_auth()}<transactionRequest>"
        f"<transactionType>{transaction_type}</transactionType>{amount_element}{payment}"
        f"<refTransId>{ref_trans_id}</refTransId></transactionRequest></createTransactionRequest>",
    )
    assert reply.findtext("a:transactionResponse/a:responseCode", namespaces=_NS) == "1", etree.tostring(reply)
    return reply.findtext("a:transactionResponse/a:transId", namespaces=_NS) or ""


def _auth() -> str:
    return (
        f"<merchantAuthentication><name>{LOGIN}</name><transactionKey>{ANET_SECRETS['transaction_key']}"
        "</transactionKey></merchantAuthentication>"
    )


def _post(api_url: str, body: str) -> etree._Element:
    reply = requests.post(api_url, data=body.encode(), headers={"Content-Type": "application/xml"}, timeout=10)
    assert reply.status_code == 200
    assert reply.content.startswith(anet_sandbox_module.BOM)
    return etree.fromstring(reply.content[3:])


def made_at_anet(transaction_type: str, count: int = 1) -> list[dict[str, Any]]:
    """The sandbox's transactions of a type, once `count` exist: a request whose answer we gave up on may still
    be running in the test server's thread (wait for it, at most ten seconds, rather than race it)."""
    for _ in range(200):
        found = [o.data for o in anet_sandbox_module.sim_list("authorizenet", "transaction")]
        found = [t for t in found if t["type"] == transaction_type]
        if len(found) >= count:
            return found
        time.sleep(0.05)
    raise AssertionError(f"the sandbox made no {transaction_type} ({count} expected)")


@contextmanager
def answer_lost(monkeypatch: pytest.MonkeyPatch, operation: str) -> Iterator[None]:
    """Authorize.Net carries out the next `operation` sent in the block, but its answer never arrives; calls
    before and after it are answered as usual."""
    sim_fault_add(provider="authorizenet", kind="timeout", operation=operation, times=1, delay=1.5)
    with monkeypatch.context() as lossy:
        lossy.setattr(AuthorizeNetAdapter, "read_timeout", 0.5)
        yield
