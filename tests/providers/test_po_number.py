"""The buyer's PO number reaches the providers that take one, each in its own field, through the sandboxes."""

from __future__ import annotations

from dataclasses import replace
from decimal import Decimal
from typing import Any

import pytest
import requests

from providers.base import CheckoutContext, Money, Outcome
from sandbox.models import SimObject
from tests.providers.sandboxes import sandbox_adapter, scenario

pytestmark = pytest.mark.django_db(transaction=True)

CONTEXT = CheckoutContext(
    currency="USD", subtotal=Money(Decimal("100.00"), "USD"), total=Money(Decimal("100.00"), "USD")
)


def test_stripe_keeps_the_po_number_in_the_payment_intents_metadata(live_server) -> None:  # noqa: ANN001
    adapter = sandbox_adapter("stripe", live_server.url)
    result = adapter.charge(scenario(adapter, "success", context=replace(CONTEXT, po_number="PO-4410/B")))
    assert result.outcome == Outcome.SUCCEEDED
    pi = SimObject.objects.get(provider="stripe", kind="payment_intent", object_id=result.provider_reference)
    assert pi.data["metadata"]["po_number"] == "PO-4410/B"


def test_stripe_sends_no_po_number_when_there_is_none(live_server) -> None:  # noqa: ANN001
    adapter = sandbox_adapter("stripe", live_server.url)
    result = adapter.charge(scenario(adapter, "success", context=CONTEXT))
    pi = SimObject.objects.get(provider="stripe", kind="payment_intent", object_id=result.provider_reference)
    assert "po_number" not in pi.data["metadata"]


@pytest.mark.parametrize(("po_number", "sent"), [("PO-4410", "PO-4410"), ("PO-2026-000000123456", "PO-2026-0000001")])
def test_payflow_sends_ponum_cut_to_its_15_characters(live_server, po_number: str, sent: str) -> None:  # noqa: ANN001
    adapter = sandbox_adapter("payflow", live_server.url)
    request = scenario(adapter, "success", context=replace(CONTEXT, po_number=po_number))
    # a new card: the secure token holds the transaction (the sandbox keeps its parameters)
    result = adapter.charge(replace(request, source_reference="", payment_data={}))
    assert result.outcome == Outcome.ACTION_REQUIRED, result
    token = SimObject.objects.filter(provider="payflow", kind="secure_token").latest("id")
    assert token.data["params"]["PONUM"] == sent


def test_authorizenet_sends_po_number_after_tax_exempt_and_before_customer(live_server, monkeypatch) -> None:  # noqa: ANN001
    sent: list[bytes] = []
    post = requests.Session.post

    def spy(session: requests.Session, url: str, **kwargs: Any) -> requests.Response:
        body = kwargs.get("data") or b""
        sent.append(body if isinstance(body, bytes) else str(body).encode())
        return post(session, url, **kwargs)

    monkeypatch.setattr(requests.Session, "post", spy)  # the client posts through a pooled session
    adapter = sandbox_adapter("authorizenet", live_server.url)
    context = replace(CONTEXT, po_number="PO-77 A")
    result = adapter.charge(scenario(adapter, "success", context=context))
    assert result.outcome == Outcome.SUCCEEDED, result
    (body,) = [b for b in sent if b"createTransactionRequest" in b]
    assert b"<poNumber>PO-77 A</poNumber>" in body
    assert (
        body.index(b"<order>")
        < body.index(b"<poNumber>")
        < body.index(b"<billTo>" if b"<billTo>" in body else b"</transactionRequest>")
    )
