"""Fixtures and helpers for tests of Wirecard Checkout Seamless against its sandbox."""

from __future__ import annotations

from collections.abc import Mapping

import pytest
import requests

from integrations.models import Integration
from sandbox.profiles import WIRECARD_CARD
from sandbox.profiles import profile as sandbox_profile
from tests import factories

WIRECARD_SETTINGS, WIRECARD_SECRETS = sandbox_profile("wirecard").credentials("paydeskservices", "")
#: the sandbox's demo cards: paid, declined, pending (settled later by __sim/settle)
PAID, DECLINED, PENDING = "9500000000000001", "9500000000000010", "9500000000000028"


@pytest.fixture
def wirecard_sandbox(live_server, settings) -> str:
    """The live test server as site and sandbox host; returns the Wirecard sandbox's base URL."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    return f"{live_server.url}/sandbox/wirecard"


@pytest.fixture
def wirecard_integration(wirecard_sandbox) -> Integration:  # noqa: ANN001
    return factories.IntegrationFactory(
        provider_key="wirecard",
        name="Wirecard",
        settings=dict(WIRECARD_SETTINGS),
        secrets=dict(WIRECARD_SECRETS),
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )


def stored(base_url: str, *, pan: str = PAID, sepa: bool = False) -> dict[str, str]:
    """What the payment step posts after the buyer's browser stored the card (or account) at Wirecard."""
    if sepa:
        fields: Mapping[str, str] = {"accountOwner": "Ada Buyer", "bankAccountIban": "AT611904300234573201"}
        return _store(base_url, fields, "SEPA-DD")
    return _store(base_url, {**WIRECARD_CARD, "pan": pan}, "CCARD")


def _store(base_url: str, fields: Mapping[str, str], payment_type: str) -> dict[str, str]:
    from sandbox.profiles import wirecard_store

    return wirecard_store(base_url, {**WIRECARD_SETTINGS, **WIRECARD_SECRETS}, fields, payment_type=payment_type)


def buyer_on_pay_page(redirect_url: str, action: str = "pay") -> str:
    """The buyer on Wirecard's page: the page posts the confirm, then sends the browser back; returns where."""
    reply = requests.post(redirect_url, data={"action": action}, allow_redirects=False, timeout=30)
    assert reply.status_code == 302, reply.text
    return reply.headers["Location"]


def settle_pending(base_url: str, order_number: str, outcome: str = "SUCCESS") -> None:
    reply = requests.post(
        f"{base_url}/__sim/settle", data={"orderNumber": order_number, "outcome": outcome}, timeout=30
    )
    assert "settled=1" in reply.text, reply.text
