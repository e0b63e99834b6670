"""A small, deterministic storm of Stripe events: every payment's ledger ends as Stripe has it.

Payments of five kinds (some whose answer we never got), changed in Stripe's dashboard; their events are delivered
shuffled with 30% duplicates, a worker dies in the middle of applying one (its message is delivered again, as with
`acks_late`), and the queue is drained. The bounded 10,000-event version with real worker processes killed midway is
`bench/webhook_storm.py`.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from decimal import Decimal
from typing import Any

import pytest

from integrations.models import Integration
from orders.models import Order
from payments import services, tasks, webhook_services
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from providers.base import ProviderUnavailable
from providers.stripe.adapter import StripeAdapter
from sandbox.models import SimObject
from tests import factories
from tests.sandbox_support import dashboard, post_event, sandbox_events

pytestmark = pytest.mark.django_db(transaction=True)
PAYMENTS = 60
DUPLICATES = 0.3
KINDS = ("lost_capture_refund", "capture_refund_all", "charge_refund", "lost_cancel", "authorized")


class WorkerDied(Exception):
    """A worker process killed while it applied an event: nothing it did in that transaction is kept."""


def answer_lost(call: Callable) -> Callable:
    """The adapter call reaches Stripe and money moves, but our process never sees the answer."""

    def lost(self: StripeAdapter, request: Any) -> Any:
        call(self, request)
        raise ProviderUnavailable("answer lost")

    return lost


def make_payments(integration: Integration, sandbox_url: str, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    """PAYMENTS orders paid and then changed in Stripe's dashboard; returns order number -> PaymentIntent."""
    stripe = dashboard(sandbox_url)
    real_authorize, real_charge = StripeAdapter.authorize, StripeAdapter.charge
    made: dict[str, str] = {}
    for i in range(PAYMENTS):
        kind = KINDS[i % len(KINDS)]
        order = factories.OrderFactory()
        lost = kind.startswith("lost")
        monkeypatch.setattr(StripeAdapter, "authorize", answer_lost(real_authorize) if lost else real_authorize)
        monkeypatch.setattr(StripeAdapter, "charge", real_charge)
        integration.payment_action = "charge" if kind == "charge_refund" else "authorize"
        integration.save(update_fields=["payment_action"])
        txn = services.payment_purchase(
            order_id=order.pk,
            method=f"stripe_{integration.pk}",
            key=f"storm-{i}",
            payment_data={"payment_method": "pm_card_visa"},
        )
        assert (txn.state == State.RESERVED) is lost
        reference = next(
            o.object_id
            for o in SimObject.objects.filter(provider="stripe", kind="payment_intent")
            if o.data["metadata"].get("paydesk_key") == f"storm-{i}"
        )
        if kind == "lost_capture_refund":
            stripe.v1.payment_intents.capture(reference, params={"amount_to_capture": 7000})
            stripe.v1.refunds.create(params={"payment_intent": reference, "amount": 2500})
        elif kind == "capture_refund_all":
            stripe.v1.payment_intents.capture(reference)
            stripe.v1.refunds.create(params={"payment_intent": reference})
        elif kind == "charge_refund":
            stripe.v1.refunds.create(params={"payment_intent": reference, "amount": 3000})
        elif kind == "lost_cancel":
            stripe.v1.payment_intents.cancel(reference)
        made[order.number] = reference
    monkeypatch.setattr(StripeAdapter, "authorize", real_authorize)
    return made


def at_stripe(reference: str) -> tuple[Decimal, Decimal, Decimal]:
    """(captured, refunded to the buyer, still held) of a PaymentIntent, as the sandbox holds it."""
    pi = SimObject.objects.get(provider="stripe", kind="payment_intent", object_id=reference).data
    refunds = [o.data for o in SimObject.objects.filter(provider="stripe", kind="refund")]
    refunded = sum(r["amount"] for r in refunds if r["payment_intent"] == reference and not r.get("_release"))
    return tuple(Decimal(v) / 100 for v in (pi["amount_received"], refunded, pi["amount_capturable"]))  # type: ignore[return-value]


def in_ledger(order: Order) -> tuple[Decimal, Decimal, Decimal]:
    """(captured, refunded, still held) of an order, from its ledger rows."""
    rows = list(order.transactions.filter(state=State.SUCCEEDED))
    captured = sum((r.amount for r in rows if r.action in (Action.CAPTURE, Action.CHARGE)), Decimal(0))
    refunded = sum((r.amount for r in rows if r.action == Action.REFUND), Decimal(0))
    held = sum((services.capturable_amount(r) for r in rows if r.action == Action.AUTHORIZE and r.active), Decimal(0))
    return captured, refunded, held


def test_a_storm_of_shuffled_duplicated_events_with_a_worker_dying_ends_in_stripes_ledger(
    client, stripe_integration, stripe_sandbox, monkeypatch
) -> None:
    made = make_payments(stripe_integration, stripe_sandbox, monkeypatch)
    events = [event for reference in made.values() for event in sandbox_events(reference)]
    rng = random.Random(13)  # noqa: S311 - a reproducible order, not a secret
    deliveries = events + rng.sample(events, int(len(events) * DUPLICATES))
    rng.shuffle(deliveries)

    queue: list[int] = []  # the broker: processing is enqueued here, run below in order
    monkeypatch.setattr(tasks.webhook_event_process_task, "delay", queue.append)
    monkeypatch.setattr(  # how the webhook view hands a stored event over
        tasks.webhook_event_process_task, "apply_async", lambda args, **options: queue.append(*args)
    )
    assert {post_event(client, stripe_integration, event).status_code for event in deliveries} == {200}
    assert WebhookEvent.objects.count() == len(events)

    real_apply = webhook_services._apply  # noqa: SLF001
    processed = 0

    def apply_or_die(*args: Any, **kwargs: Any) -> str:
        if processed == len(events) // 2:  # a worker is killed in the middle of the storm
            raise WorkerDied
        return real_apply(*args, **kwargs)

    monkeypatch.setattr(webhook_services, "_apply", apply_or_die)
    while queue:
        pk = queue.pop(0)
        try:
            tasks.webhook_event_process_task.run(pk)
        except WorkerDied:
            queue.append(pk)  # acks_late: the message goes back to the broker, another worker takes it
            monkeypatch.setattr(webhook_services, "_apply", real_apply)
        processed += 1
    webhook_services.webhook_events_waiting_sweep()  # what beat runs every minute
    while queue:
        tasks.webhook_event_process_task.run(queue.pop(0))

    wrong = {
        number: (in_ledger(order), at_stripe(made[number]))
        for number, order in ((o.number, o) for o in Order.objects.filter(number__in=made))
        if in_ledger(order) != at_stripe(made[number])
    }
    assert wrong == {}
    assert processed > len(events)  # the dead worker's event was applied again
    assert not WebhookEvent.objects.filter(status__in=["received", "waiting", "failed"]).exists()
    assert not PaymentTransaction.objects.filter(state=State.RESERVED, action=Action.AUTHORIZE).exists()
