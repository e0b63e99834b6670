"""Attacks on completing Stripe refund events from the Charge with its `refunds` expanded (10 newest, `has_more`),
end to end: dashboard refunds at the sandbox, their events delivered to our endpoint in any order, the ledger
compared with what Stripe holds.

Ten refunds fit the expanded list exactly; eleven do not, and before API 2025-03-31 the rest a partial capture
released is one more "refund" in the lists an endpoint of that version receives; before 2022-11-15 the event
itself lists 10 with `has_more`. A refund that fails afterwards is no money back. A proxy that drops the expanded
list must not lose refunds either.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
import requests

from orders.models import PaymentStatus
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from providers.stripe.adapter import API_VERSION
from tests import factories
from tests.payments.test_webhooks import authorize
from tests.sandbox_support import dashboard, deliver_all, sandbox_events

pytestmark = pytest.mark.django_db(transaction=True)

#: endpoint versions: refunds listed in the event (with has_more past 10), releases shown as refunds, current
VERSIONS = ["2022-08-01", "2024-06-20", API_VERSION]


def dashboard_refunds(stripe, pi: str, count: int) -> list[str]:  # noqa: ANN001
    """`count` refunds of 1.01, 1.02 … made in Stripe's dashboard; their ids, oldest first."""
    return [stripe.v1.refunds.create(params={"payment_intent": pi, "amount": 101 + i}).id for i in range(count)]


def ledger_refunds(order) -> dict[str, tuple[Decimal, str]]:  # noqa: ANN001
    rows = PaymentTransaction.objects.filter(order=order, action=Action.REFUND)
    references = [row.provider_reference for row in rows]
    assert len(references) == len(set(references)), "a refund recorded twice"
    return {row.provider_reference: (row.amount, row.state) for row in rows}


def stripe_refunded(stripe, pi: str) -> Decimal:  # noqa: ANN001
    charge_id = stripe.v1.payment_intents.retrieve(pi).latest_charge
    return Decimal(stripe.v1.charges.retrieve(charge_id).amount_refunded) / 100


@pytest.mark.parametrize("count", [10, 11])
@pytest.mark.parametrize("version", VERSIONS)
def test_dashboard_refunds_around_the_expanded_lists_page_end_in_the_ledger_once_each(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, version, count
) -> None:
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order)
    stripe = dashboard(stripe_sandbox)
    stripe.v1.payment_intents.capture(auth.provider_reference, params={"amount_to_capture": 6000})  # 40 released
    made = dashboard_refunds(stripe, auth.provider_reference, count)
    events = sandbox_events(auth.provider_reference, api_version=version)

    with django_capture_on_commit_callbacks(execute=True):
        assert set(deliver_all(client, stripe_integration, events[::-1])) == {200}

    assert not WebhookEvent.objects.exclude(status__in=["processed", "ignored"]).exists()
    recorded = ledger_refunds(order)
    assert recorded == {ref: (Decimal(101 + i) / 100, State.SUCCEEDED) for i, ref in enumerate(made)}
    assert sum(amount for amount, _ in recorded.values()) == stripe_refunded(stripe, auth.provider_reference)
    captures = PaymentTransaction.objects.filter(order=order, action=Action.CAPTURE)
    assert [(c.amount, c.state) for c in captures] == [(Decimal("60.0000"), State.SUCCEEDED)]
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY


@pytest.mark.parametrize("version", ["2024-06-20", API_VERSION])
def test_eleven_refunds_that_fail_afterwards_return_nothing_in_the_ledger(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, version
) -> None:
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order, pm="pm_card_refundFail")
    stripe = dashboard(stripe_sandbox)
    stripe.v1.payment_intents.capture(auth.provider_reference)
    dashboard_refunds(stripe, auth.provider_reference, 11)
    events = sandbox_events(auth.provider_reference, api_version=version)

    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(client, stripe_integration, events)

    assert stripe_refunded(stripe, auth.provider_reference) == 0
    succeeded = [ref for ref, (_, state) in ledger_refunds(order).items() if state == State.SUCCEEDED]
    assert succeeded == []
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL


def test_a_proxy_that_drops_the_expanded_refunds_list_loses_no_refund(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """The charge comes back without `refunds` (an older proxy strips what it does not know): every refund is
    listed instead, none is taken for absent."""
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order)
    stripe = dashboard(stripe_sandbox)
    stripe.v1.payment_intents.capture(auth.provider_reference)
    made = dashboard_refunds(stripe, auth.provider_reference, 12)
    events = sandbox_events(auth.provider_reference)
    real = requests.Session.request

    def strip_refunds(self, method, url, **kwargs):  # noqa: ANN001, ANN003, ANN202
        reply = real(self, method, url, **kwargs)
        if method.upper() == "GET" and "/v1/charges/" in url and reply.status_code == 200:
            body = reply.json()
            body.pop("refunds", None)
            reply._content = json.dumps(body).encode()  # noqa: SLF001
        return reply

    monkeypatch.setattr(requests.Session, "request", strip_refunds)
    with django_capture_on_commit_callbacks(execute=True):
        deliver_all(client, stripe_integration, events[::-1])

    recorded = ledger_refunds(order)
    assert set(recorded) == set(made)
    assert sum(amount for amount, _ in recorded.values()) == stripe_refunded(stripe, auth.provider_reference)


def test_a_dashboard_refund_is_not_taken_for_our_refund_of_the_same_amount_whose_answer_was_lost(
    client, stripe_integration, stripe_sandbox, django_capture_on_commit_callbacks, monkeypatch
) -> None:
    """A refund of 30.00 made in the dashboard, whose events are late; then ours of 30.00, carried out at Stripe with
    its answer lost. Stripe echoes our key on every refund we make, so a refund without it is never ours: the
    dashboard's must be a row of its own, and ours completed by its own events. Both went back: 60.00."""
    from payments import services
    from providers.stripe.adapter import StripeAdapter
    from sandbox.services import sim_fault_add
    from tests.payments.test_webhooks import usd

    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="capture-ours")
    stripe = dashboard(stripe_sandbox)
    theirs = stripe.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 3000}).id
    monkeypatch.setattr(StripeAdapter, "read_timeout", 0.5)
    sim_fault_add(provider="stripe", kind="timeout", operation="refund", times=5, delay=1.5)
    ours = services.payment_refund(source_id=capture.pk, amount=usd("30.00"), key="refund-ours")
    assert ours.state == State.RESERVED
    monkeypatch.setattr(StripeAdapter, "read_timeout", 30.0)
    events = sandbox_events(auth.provider_reference)

    with django_capture_on_commit_callbacks(execute=True):
        assert set(deliver_all(client, stripe_integration, events)) == {200}

    assert stripe_refunded(stripe, auth.provider_reference) == Decimal("60.00")
    recorded = ledger_refunds(order)
    assert sum(amount for amount, state in recorded.values() if state == State.SUCCEEDED) == Decimal("60.0000")
    assert recorded[theirs] == (Decimal("30.0000"), State.SUCCEEDED)
    ours.refresh_from_db()
    assert (ours.state, ours.provider_reference != theirs) == (State.SUCCEEDED, True)
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
