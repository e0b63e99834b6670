"""An Apruve order accepted after its payment was ended, against the Apruve sandbox.

The buyer opens the lightbox in two tabs and closes it in one: the payment is ended in the ledger (nothing exists at
Apruve yet). A moment later they accept in the other tab: Apruve makes an order, accepted, which holds the buyer
company's credit. The lightbox posts its COMPLETE back (`payment_complete` with the order id) and Apruve sends
`order.accepted`; either may come first, both may come twice. The payment stays ended, and the order is canceled
at Apruve, once, from a ledger row written before the call.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from integrations.models import Integration
from notifications.models import Notice
from orders.models import Order, PaymentStatus
from payments import services, sweeps
from payments.abandonment import payment_abandon
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from payments.selectors import order_account
from providers.apruve.adapter import ApruveAdapter
from sandbox.models import SimWebhookDelivery
from sandbox.profiles import apruve_buyer_accepts
from sandbox.services import sim_fault_add, sim_get
from sandbox.tasks import sim_webhook_deliver_task
from tests import factories
from tests.payments.test_apruve_payments import apruve, base, offer, status

__all__ = ["apruve"]  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)


def ended_offer(
    integration: Integration, order: Order, key: str = "checkout:1:1"
) -> tuple[PaymentTransaction, dict[str, str]]:
    """The offer, and the buyer closing the lightbox in one tab: the payment is ended, nothing is at Apruve.
    Returns the ended row and the offer the other tab still shows."""
    txn = offer(integration, order, key=key)
    ended = payment_abandon(transaction_id=txn.pk)
    assert (ended.state, ended.error_code) == (State.DECLINED, "abandoned")
    return ended, txn.response["next_action"]


def accept_in_other_tab(live_server, lightbox: dict[str, str]) -> str:  # noqa: ANN001
    """The buyer accepts the offer in the other tab; Apruve makes the order and sends order.accepted."""
    order_id = apruve_buyer_accepts(base(live_server), lightbox["order"], lightbox["secure_hash"])
    assert order_id
    return order_id


def hold_webhooks(monkeypatch) -> None:  # noqa: ANN001
    """Apruve's events are queued at Apruve and not delivered until `deliver_held` (a slow sender)."""
    monkeypatch.setattr(sim_webhook_deliver_task, "delay", lambda delivery_id: None)


def deliver_held() -> list[str]:
    """Deliver what Apruve queued, in order, and return the event types delivered."""
    delivered = []
    for delivery in SimWebhookDelivery.objects.filter(provider="apruve", delivered_at__isnull=True).order_by("pk"):
        sim_webhook_deliver_task(delivery.pk)
        delivered.append(json.loads(delivery.body)["event"])
    return delivered


def redeliver_all() -> None:
    """Apruve sends every event again (its retry after a lost 200): the same signed bodies."""
    SimWebhookDelivery.objects.filter(provider="apruve").update(delivered_at=None)
    deliver_held()


def apruve_status(order_id: str) -> str:
    found = sim_get("apruve", "order", order_id)
    assert found is not None
    return str(found.data["status"])


def cancels_at_apruve(order_id: str) -> int:
    """How often Apruve canceled the order: it sends order.canceled once per cancel it carried out."""
    bodies = [json.loads(d.body) for d in SimWebhookDelivery.objects.filter(provider="apruve")]
    return sum(1 for b in bodies if b["event"] == "order.canceled" and b["entity"]["id"] == order_id)


def releases(payment: PaymentTransaction) -> list[tuple[str, str, str, Decimal]]:
    return [
        (row.action, row.state, row.provider_reference, row.amount)
        for row in PaymentTransaction.objects.filter(source=payment).order_by("pk")
    ]


def assert_nothing_held_or_paid(order: Order, payment: PaymentTransaction) -> None:
    payment.refresh_from_db()
    assert (payment.state, payment.successful, payment.active, payment.provider_reference) == (
        State.DECLINED,
        False,
        False,
        "",
    )  # the payment stays ended: the buyer was told so
    order.refresh_from_db()
    account = order_account(order=order)
    assert (account.held, account.in_flight, account.taken, account.payable) == (0, 0, 0, order.total)
    assert order.payment_status == PaymentStatus.CANCELED


def test_the_event_first_cancels_the_order_and_the_complete_after_it_changes_nothing(apruve, live_server) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    order_id = accept_in_other_tab(live_server, lightbox)  # order.accepted reaches us while the lightbox answers
    assert WebhookEvent.objects.get(event_type="order.accepted").status == WebhookEvent.Status.PROCESSED
    assert apruve_status(order_id) == "canceled"
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]

    again = services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)  # the COMPLETE post

    assert again.state == State.DECLINED
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert cancels_at_apruve(order_id) == 1
    assert_nothing_held_or_paid(order, ended)
    notices = Notice.objects.filter(order=order)
    assert [(n.level, order_id in n.message) for n in notices] == [(Notice.Level.WARNING, True)]


def test_the_complete_first_cancels_the_order_and_the_event_after_it_changes_nothing(
    apruve, live_server, monkeypatch
) -> None:  # noqa: ANN001
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    order_id = accept_in_other_tab(live_server, lightbox)

    services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)

    assert apruve_status(order_id) == "canceled"
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert deliver_held() == ["order.accepted", "order.canceled"]
    accepted_event = WebhookEvent.objects.get(event_type="order.accepted")
    assert accepted_event.status == WebhookEvent.Status.PROCESSED
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert cancels_at_apruve(order_id) == 1
    assert_nothing_held_or_paid(order, ended)
    assert Notice.objects.filter(order=order).count() == 1


@pytest.mark.parametrize("first", ["complete", "event"])
def test_both_reported_twice_cancel_the_order_once(apruve, live_server, monkeypatch, first: str) -> None:  # noqa: ANN001
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    order_id = accept_in_other_tab(live_server, lightbox)

    def complete() -> None:
        services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)

    steps = [complete, deliver_held] if first == "complete" else [deliver_held, complete]
    for step in steps + [redeliver_all, complete]:  # the page posted twice (a refresh), Apruve's events retried
        step()

    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert (apruve_status(order_id), cancels_at_apruve(order_id)) == ("canceled", 1)
    assert WebhookEvent.objects.filter(event_type="order.accepted").count() == 1
    assert_nothing_held_or_paid(order, ended)
    assert Notice.objects.filter(order=order).count() == 1


def lose_the_answer(monkeypatch, kind: str) -> None:  # noqa: ANN001
    """`timeout`: Apruve cancels, then answers after our read timeout; `error_503`: it never cancels."""
    monkeypatch.setattr(ApruveAdapter, "read_timeout", 0.5)
    sim_fault_add(provider="apruve", kind=kind, operation="cancel_order", delay=1.5)


@pytest.mark.parametrize("first", ["complete", "event"])
@pytest.mark.parametrize("kind", ["timeout", "error_503"])
def test_a_lost_cancel_answer_is_settled_by_reconcile_with_the_order_canceled_once(
    apruve, live_server, monkeypatch, first: str, kind: str
) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    if first == "complete":
        hold_webhooks(monkeypatch)
    lose_the_answer(monkeypatch, kind)
    order_id = accept_in_other_tab(live_server, lightbox)  # with the event first, its cancel is sent now
    if first == "complete":
        services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)

    release = PaymentTransaction.objects.get(source=ended, action=Action.CANCEL)
    assert (release.state, release.provider_reference) == (State.RESERVED, order_id)  # written before the call
    assert apruve_status(order_id) == ("canceled" if kind == "timeout" else "accepted")
    order.refresh_from_db()
    assert order.payment_status != PaymentStatus.AUTHORIZED

    settled = sweeps.payment_reconcile(transaction_id=release.pk)  # asks Apruve; re-sends what never arrived
    again = sweeps.payment_reconcile(transaction_id=release.pk)
    if first == "complete":
        deliver_held()
    services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)

    assert (settled.state, again.state) == (State.SUCCEEDED, State.SUCCEEDED)
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert (apruve_status(order_id), cancels_at_apruve(order_id)) == ("canceled", 1)
    assert_nothing_held_or_paid(order, ended)


def test_an_order_accepted_for_an_offer_still_waiting_is_left_to_it_and_canceled_nowhere(apruve, live_server) -> None:  # noqa: ANN001
    """The same event for a payment that was not ended: it waits for the payment to learn the order from the
    verified paths (the return page, or reconcile when the page never posts back); nothing is canceled."""
    order = factories.OrderFactory()
    txn = offer(apruve, order)
    order_id = accept_in_other_tab(
        live_server, txn.response["next_action"]
    )  # the page that would post the id back was closed
    assert WebhookEvent.objects.get(event_type="order.accepted").status == WebhookEvent.Status.WAITING

    authorized = sweeps.payment_reconcile(transaction_id=txn.pk)  # finds it by our order number

    assert (authorized.state, authorized.provider_reference) == (State.SUCCEEDED, order_id)
    assert WebhookEvent.objects.get(event_type="order.accepted").status == WebhookEvent.Status.PROCESSED
    assert (status(order), apruve_status(order_id), cancels_at_apruve(order_id)) == (
        PaymentStatus.AUTHORIZED,
        "accepted",
        0,
    )
    assert not PaymentTransaction.objects.filter(action=Action.CANCEL).exists()


def test_an_order_a_new_offer_of_the_same_order_stands_on_is_not_canceled_for_the_ended_one(
    apruve, live_server
) -> None:  # noqa: ANN001
    """The ended offer and a new one of the same order are the same Apruve offer (same number, same amount): the
    order accepted belongs to the payment that waits for it, whichever tab posts it back."""
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order, key="checkout:1:1")
    waiting = offer(apruve, order, key="checkout:1:2")
    order_id = accept_in_other_tab(live_server, lightbox)  # its event waits for the waiting offer

    services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)  # the stale tab posts back
    services.payment_complete(transaction_id=waiting.pk, returned_reference=order_id)  # so does the new one

    waiting.refresh_from_db()
    assert (waiting.state, waiting.provider_reference) == (State.SUCCEEDED, order_id)
    assert (apruve_status(order_id), releases(ended)) == ("accepted", [])
    assert status(order) == PaymentStatus.AUTHORIZED


def test_a_complete_naming_an_order_apruve_does_not_have_cancels_nothing(apruve, live_server) -> None:  # noqa: ANN001
    """The browser's word is checked with Apruve: an id it does not know, with no order of ours standing."""
    order = factories.OrderFactory()
    ended, _ = ended_offer(apruve, order)

    services.payment_complete(transaction_id=ended.pk, returned_reference="0" * 32)

    assert releases(ended) == []
    assert not Notice.objects.filter(order=order).exists()
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.DECLINED


def test_an_order_accepted_while_the_payment_is_being_ended_is_canceled_once_it_is(apruve, live_server) -> None:  # noqa: ANN001
    """The buyer accepts in the other tab while the closing tab's ending asks Apruve (which found no order yet):
    order.accepted comes while the payment still waits, so it waits too, and applies once the payment is ended."""
    order = factories.OrderFactory()
    txn = offer(apruve, order)
    sim_fault_add(provider="apruve", kind="timeout", operation="list_orders", delay=2.0)  # answered after 2 s
    ended: list[PaymentTransaction] = []

    def close_the_lightbox() -> None:
        try:
            ended.append(payment_abandon(transaction_id=txn.pk))
        finally:
            connection.close()

    closing = threading.Thread(target=close_the_lightbox)
    closing.start()
    time.sleep(0.7)  # Apruve has listed our orders (none) and holds the answer back
    order_id = accept_in_other_tab(live_server, txn.response["next_action"])
    assert WebhookEvent.objects.get(event_type="order.accepted").status == WebhookEvent.Status.WAITING
    closing.join()

    assert [(e.state, e.error_code) for e in ended] == [(State.DECLINED, "abandoned")]
    assert WebhookEvent.objects.get(event_type="order.accepted").status == WebhookEvent.Status.PROCESSED
    assert releases(txn) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert (apruve_status(order_id), cancels_at_apruve(order_id)) == ("canceled", 1)
    assert_nothing_held_or_paid(order, txn)


def test_a_cancel_apruve_refuses_is_left_to_staff_with_the_payment_flagged(apruve, live_server, monkeypatch) -> None:  # noqa: ANN001
    """Staff billed the order in Apruve's dashboard before the release reached it: Apruve cancels no order with an
    invoice, so the release is declined, and staff are asked to act."""
    from tests.payments.test_apruve_attack import dashboard_invoice

    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    order_id = accept_in_other_tab(live_server, lightbox)
    dashboard_invoice(live_server, order_id, 2000)

    services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)

    assert releases(ended) == [(Action.CANCEL, State.DECLINED, order_id, Decimal("100.0000"))]
    assert apruve_status(order_id) == "accepted"
    ended.refresh_from_db()
    assert (ended.state, ended.needs_attention) == (State.DECLINED, True)
    levels = sorted(Notice.objects.filter(order=order).values_list("level", flat=True))
    assert levels == [Notice.Level.ERROR, Notice.Level.WARNING]
