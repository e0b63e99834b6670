"""Attacks on applying a provider event from one read of the order's rows (`webhook_services._OrderRows`).

An event's movements are applied one after the other in one transaction under the order lock, each answered from
the rows read once and read again only after a write, and recorded without savepoints of their own. Each test
below makes a later movement depend on what an earlier movement of the same event wrote (a stale read would take
money twice, or refund more than was taken), or breaks the event in the middle, or runs it twice at once.

The events are stored in the inbox as the webhook view stores them (normalised movements), for the card gateway
the ledger tests use: every path below it (matching, the ledger, the lock, PostgreSQL) is the real one.
"""

from __future__ import annotations

import threading
import uuid
from decimal import Decimal
from typing import Any

import pytest
from django.db import connection

from notifications.models import Notice
from orders.models import PaymentStatus
from payments import ledger, services, webhook_services
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from payments.selectors import order_account
from providers.base import Money
from tests import factories
from tests.conftest import authorize, usd

pytestmark = pytest.mark.django_db(transaction=True)


def movement(action: str, reference: str, amount: str, key: str | None = None, **extra: Any) -> dict[str, Any]:
    return {
        "action": action,
        "provider_reference": reference,
        "amount": amount,
        "currency": "USD",
        "idempotency_key": key,
        "error_code": extra.get("error_code"),
        "message": extra.get("message", ""),
    }


def stored(integration, reference: str, *movements: dict, payment_key: str | None = None, event_id: str = ""):  # noqa: ANN001, ANN201
    """An event about the payment known by `reference`, as the webhook view keeps it, not processed yet."""
    event_id = event_id or f"evt_{uuid.uuid4().hex[:16]}"
    return WebhookEvent.objects.create(
        integration=integration,
        provider_event_id=event_id,
        event_type="test.event",
        provider_reference=reference,
        payment_key=payment_key or "",
        event={
            "event_id": event_id,
            "type": "test.event",
            "provider_reference": reference,
            "amount": None,
            "currency": None,
            "data": {},
            "movements": list(movements),
            "payment_key": payment_key,
            "needs_details": False,
        },
    )


def process(row: WebhookEvent) -> WebhookEvent:
    webhook_services.webhook_event_process(webhook_event_id=row.pk)
    row.refresh_from_db()
    return row


def rows_of(order, action: str) -> list[tuple[str, str, str]]:  # noqa: ANN001
    return [
        (str(amount), state, reference)
        for amount, state, reference in order.transactions.filter(action=action)
        .order_by("pk")
        .values_list("amount", "state", "provider_reference")
    ]


def refunded(order) -> Decimal:  # noqa: ANN001
    return sum((t.amount for t in order.transactions.filter(action=Action.REFUND, state=State.SUCCEEDED)), Decimal("0"))


@pytest.fixture
def paid(gateway_integration):  # noqa: ANN001, ANN201
    """An order of 100.00 authorized through us; returns (order, authorization)."""
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    assert (auth.state, auth.amount) == (State.SUCCEEDED, Decimal("100.0000"))
    return order, auth


# --- later movements of one event see what the earlier ones wrote --------------------------------------------------


def test_a_second_refund_in_the_same_event_sees_the_first_and_is_not_recorded_beyond_the_capture(
    gateway_integration, paid
) -> None:
    order, auth = paid
    row = stored(
        gateway_integration,
        auth.provider_reference,
        movement("capture", "cap_1", "60.00"),
        movement("refund", "re_1", "40.00"),
        movement("refund", "re_2", "40.00"),  # only 20.00 is left after re_1: never recorded as if it fitted
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    assert rows_of(order, "capture") == [("60.0000", "succeeded", "cap_1")]
    assert rows_of(order, "refund") == [("40.0000", "succeeded", "re_1")]
    assert "more than is left to refund" in row.result
    assert Notice.objects.filter(key__startswith="refund-mismatch:").count() == 1
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY


def test_two_refunds_that_fit_together_are_both_recorded_once_and_a_redelivery_adds_nothing(
    gateway_integration, paid
) -> None:
    order, auth = paid
    moves = (
        movement("capture", "cap_1", "100.00"),
        movement("refund", "re_1", "30.00"),
        movement("refund", "re_2", "70.00"),
    )
    assert process(stored(gateway_integration, auth.provider_reference, *moves)).status == "processed"
    again = process(stored(gateway_integration, auth.provider_reference, *reversed(moves)))

    assert "already recorded" in again.result
    assert rows_of(order, "refund") == [("30.0000", "succeeded", "re_1"), ("70.0000", "succeeded", "re_2")]
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED
    account = order_account(order=order)
    assert (account.taken, account.refunded, account.held) == (Decimal("100.0000"), Decimal("100.0000"), 0)


def test_authorize_capture_and_refund_in_one_event_on_a_payment_whose_answer_was_lost(
    gateway_integration, fake_gateway
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    fake_gateway.lose_reply_next.append("authorize")
    auth = authorize(order, gateway_integration, key="auth-lost")
    assert (auth.state, auth.provider_reference) == (State.RESERVED, "")
    row = stored(
        gateway_integration,
        "fk_lost",
        movement("authorize", "fk_lost", "100.00"),
        movement("capture", "cap_1", "100.00"),
        movement("refund", "re_1", "25.00"),
        payment_key="auth-lost",
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    auth.refresh_from_db()
    assert (auth.state, auth.active, auth.provider_reference) == (State.SUCCEEDED, False, "fk_lost")
    assert rows_of(order, "capture") == [("100.0000", "succeeded", "cap_1")]
    assert rows_of(order, "refund") == [("25.0000", "succeeded", "re_1")]
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY


def test_a_refund_reversed_in_the_event_that_recorded_it_frees_its_amount_for_a_later_refund(
    gateway_integration, paid
) -> None:
    order, auth = paid
    row = stored(
        gateway_integration,
        auth.provider_reference,
        movement("capture", "cap_1", "60.00"),
        movement("refund", "re_1", "60.00"),
        movement("refund_reversed", "re_1", "60.00", error_code="refund_failed", message="card closed"),
        movement("refund", "re_2", "60.00"),  # fits only once re_1's reversal is seen
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    assert rows_of(order, "refund") == [("60.0000", "declined", "re_1"), ("60.0000", "succeeded", "re_2")]
    assert refunded(order) == Decimal("60.0000")
    account = order_account(order=order)
    assert (account.taken, account.refunded, account.held) == (Decimal("60.0000"), Decimal("60.0000"), 40)


def test_a_dispute_flag_survives_a_capture_later_in_the_same_event(gateway_integration, paid) -> None:
    order, auth = paid
    row = stored(
        gateway_integration,
        auth.provider_reference,
        movement("dispute", "dp_1", "100.00", error_code="warning_needs_response", message="fraudulent"),
        movement("capture", "cap_1", "100.00"),  # closes the authorization: must not write back a stale flag
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    auth.refresh_from_db()
    assert (auth.needs_attention, auth.active) == (True, False)
    assert rows_of(order, "capture") == [("100.0000", "succeeded", "cap_1")]


def test_a_void_beside_an_open_capture_then_that_capture_in_the_same_event(
    gateway_integration, paid, fake_gateway
) -> None:
    """The void releases the hold (`ledger_hold_released`, its own transaction and lock); the capture that was taken
    before it is then found by its echoed key and recorded, not made a second time."""
    order, auth = paid
    fake_gateway.lose_reply_next.append("capture")
    ours = services.payment_capture(source_id=auth.pk, amount=usd("100.00"), key="cap-ours")
    assert ours.state == State.RESERVED
    row = stored(
        gateway_integration,
        auth.provider_reference,
        movement("cancel", auth.provider_reference, "0.00"),
        movement("capture", "cap_ours", "100.00", key="cap-ours"),
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    auth.refresh_from_db()
    assert auth.active is False
    assert rows_of(order, "capture") == [("100.0000", "succeeded", "cap_ours")]
    assert order.transactions.filter(action=Action.CANCEL).count() == 0
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL


# --- an error in the middle of an event ---------------------------------------------------------------------------


def test_an_error_recording_a_later_movement_leaves_nothing_of_the_event_and_it_is_applied_whole_again(
    gateway_integration, paid, monkeypatch
) -> None:
    order, auth = paid
    real = ledger.ledger_record
    calls = []

    def second_fails(**kwargs):  # noqa: ANN003, ANN202
        calls.append(kwargs["transaction_id"])
        if len(calls) == 2:
            raise RuntimeError("the database went away in the middle of the event")
        return real(**kwargs)

    monkeypatch.setattr(ledger, "ledger_record", second_fails)
    row = stored(
        gateway_integration,
        auth.provider_reference,
        movement("capture", "cap_1", "60.00"),
        movement("refund", "re_1", "20.00"),
    )

    with pytest.raises(RuntimeError):
        webhook_services.webhook_event_process(webhook_event_id=row.pk)

    row.refresh_from_db()
    assert (row.status, row.attempts) == (WebhookEvent.Status.RECEIVED, 1)  # left for the retry, not lost
    assert order.transactions.exclude(pk=auth.pk).count() == 0  # nothing half-applied
    auth.refresh_from_db()
    assert (auth.active, auth.state) == (True, State.SUCCEEDED)

    monkeypatch.setattr(ledger, "ledger_record", real)
    assert process(row).status == WebhookEvent.Status.PROCESSED
    assert rows_of(order, "capture") == [("60.0000", "succeeded", "cap_1")]
    assert rows_of(order, "refund") == [("20.0000", "succeeded", "re_1")]


# --- the same event, or two events of one movement, processed at once ---------------------------------------------


def _at_once(monkeypatch, *targets) -> list[BaseException]:  # noqa: ANN001
    """Run `webhook_event_process` for each target in its own thread, both past the payment look-up (outside the
    lock) before either takes the order lock."""
    real = webhook_services._payment_for  # noqa: SLF001
    barrier = threading.Barrier(len(targets), timeout=10)

    def payment_for(*args):  # noqa: ANN002, ANN202
        found = real(*args)
        barrier.wait()
        return found

    monkeypatch.setattr(webhook_services, "_payment_for", payment_for)
    errors: list[BaseException] = []

    def run(pk: int) -> None:
        try:
            webhook_services.webhook_event_process(webhook_event_id=pk)
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(pk,)) for pk in targets]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    return errors


def test_one_event_processed_by_two_workers_at_once_records_each_movement_once(
    gateway_integration, paid, monkeypatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two threads racing on rows need PostgreSQL")
    order, auth = paid
    row = stored(
        gateway_integration,
        auth.provider_reference,
        movement("capture", "cap_1", "70.00"),
        movement("refund", "re_1", "30.00"),
    )

    assert _at_once(monkeypatch, row.pk, row.pk) == []

    row.refresh_from_db()
    assert row.status == WebhookEvent.Status.PROCESSED
    assert rows_of(order, "capture") == [("70.0000", "succeeded", "cap_1")]
    assert rows_of(order, "refund") == [("30.0000", "succeeded", "re_1")]
    account = order_account(order=order)
    assert (account.taken, account.refunded, account.held) == (Decimal("70.0000"), Decimal("30.0000"), 30)


def test_two_events_of_one_dashboard_refund_processed_at_once_record_it_once(
    gateway_integration, paid, monkeypatch
) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two threads racing on rows need PostgreSQL")
    order, auth = paid
    process(stored(gateway_integration, auth.provider_reference, movement("capture", "cap_1", "100.00")))
    first = stored(gateway_integration, auth.provider_reference, movement("refund", "re_1", "60.00"))
    second = stored(gateway_integration, auth.provider_reference, movement("refund", "re_1", "60.00"))

    assert _at_once(monkeypatch, first.pk, second.pk) == []

    assert rows_of(order, "refund") == [("60.0000", "succeeded", "re_1")]
    assert {r.status for r in WebhookEvent.objects.filter(pk__in=(first.pk, second.pk))} == {"processed"}


# --- which payment an event is about ------------------------------------------------------------------------------


def test_a_movement_echoing_the_key_of_another_orders_refund_is_applied_to_that_order(
    gateway_integration, fake_gateway
) -> None:
    """The movement's echoed key names the payment before the event's payment key does: the refund belongs to the
    order whose refund it is, never to the order the metadata names."""
    first, second = (
        factories.OrderFactory(subtotal=Decimal("100.00")),
        factories.OrderFactory(subtotal=Decimal("100.00")),
    )
    a = authorize(first, gateway_integration, key="auth-a")
    b = authorize(second, gateway_integration, key="auth-b")
    services.payment_capture(source_id=a.pk, amount=None, key="cap-a")
    capture_b = services.payment_capture(source_id=b.pk, amount=None, key="cap-b")
    fake_gateway.lose_reply_next.append("refund")
    refund_b = services.payment_refund(source_id=capture_b.pk, amount=usd("40.00"), key="ref-b")
    assert refund_b.state == State.RESERVED
    row = stored(
        gateway_integration,
        a.provider_reference,
        movement("refund", "re_b", "40.00", key="ref-b"),
        payment_key="auth-a",
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    refund_b.refresh_from_db()
    assert (refund_b.state, refund_b.provider_reference) == (State.SUCCEEDED, "re_b")
    assert refunded(first) == 0
    assert refunded(second) == Decimal("40.0000")


def test_a_key_of_another_integration_or_of_no_purchase_falls_back_to_the_payment_key(
    gateway_integration, fake_gateway
) -> None:
    other = factories.IntegrationFactory(
        provider_key="fakegw", settings={"login": "other"}, secrets={"api_key": "sk_test_other"}
    )
    order, foreign_order = factories.OrderFactory(subtotal=Decimal("100.00")), factories.OrderFactory()
    auth = authorize(order, gateway_integration, key="auth-mine")
    foreign = authorize(foreign_order, other, key="auth-foreign")
    validation = PaymentTransaction.objects.create(
        order=foreign_order,
        integration=gateway_integration,
        payment_method=f"fakegw_{gateway_integration.pk}",
        action=Action.VALIDATE,
        state=State.SUCCEEDED,
        successful=True,
        amount=Decimal("0"),
        currency="USD",
        idempotency_key="validate-1",
    )
    row = stored(
        gateway_integration,
        "fk_nobody",
        movement("capture", "cap_1", "100.00", key=foreign.idempotency_key),  # another integration's row
        movement("capture", "cap_1", "100.00", key=validation.idempotency_key),  # a chain with no purchase
        payment_key="auth-mine",
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    assert rows_of(order, "capture") == [("100.0000", "succeeded", "cap_1")]
    assert foreign_order.transactions.filter(action=Action.CAPTURE).count() == 0
    auth.refresh_from_db()
    assert auth.active is False


# --- which capture a refund returns, when an authorization was captured more than once ----------------------------


def test_our_refund_of_an_earlier_capture_echoed_by_an_event_is_not_recorded_again_on_the_latest(
    gateway_integration, paid
) -> None:
    """Two captures of one authorization; staff refund 20.00 of the first. The provider's event of that refund
    echoes our key but names no capture: the refund is the row we made, wherever it hangs, never a second one
    on the latest capture it would fit in."""
    order, auth = paid
    first = services.payment_capture(source_id=auth.pk, amount=usd("50.00"), key="cap-a")
    services.payment_capture(source_id=auth.pk, amount=usd("50.00"), key="cap-b")
    ours = services.payment_refund(source_id=first.pk, amount=usd("20.00"), key="ref-a")
    assert ours.state == State.SUCCEEDED
    row = stored(gateway_integration, auth.provider_reference, movement("refund", "re_a", "20.00", key="ref-a"))

    assert process(row).status == WebhookEvent.Status.PROCESSED

    assert refunded(order) == Decimal("20.0000")  # one refund of 20.00 went back, not two
    assert order.transactions.filter(action=Action.REFUND).count() == 1


def test_a_refund_listed_beside_several_captures_is_matched_to_the_row_that_stands_for_it(
    gateway_integration, paid
) -> None:
    """An event that lists all the payment's captures and refunds (as Wirecard's order details do, whose credits
    name no deposit) must find a refund already recorded on the second capture, not record it again on the
    first capture it names."""
    order, auth = paid
    process(stored(gateway_integration, auth.provider_reference, movement("capture", "cap_a", "50.00")))
    process(stored(gateway_integration, auth.provider_reference, movement("capture", "cap_b", "50.00")))
    second = order.transactions.get(action=Action.CAPTURE, provider_reference="cap_b")
    ours = services.payment_refund(source_id=second.pk, amount=usd("20.00"), key="ref-b")
    assert (ours.state, ours.provider_reference) == (State.SUCCEEDED, "cap_b")
    PaymentTransaction.objects.filter(pk=ours.pk).update(provider_reference="cr_1")  # the credit's own id
    row = stored(
        gateway_integration,
        auth.provider_reference,
        movement("capture", "cap_a", "50.00"),
        movement("capture", "cap_b", "50.00"),
        movement("refund", "cr_1", "20.00"),
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    assert refunded(order) == Decimal("20.0000")
    assert order.transactions.filter(action=Action.REFUND).count() == 1


def test_a_refund_made_at_the_provider_beside_several_captures_is_recorded_on_one_it_fits(
    gateway_integration, paid
) -> None:
    """A credit of 70.00 made in the provider's own tool, on a payment captured as 30.00 and 70.00, listed beside
    both captures: it is recorded (on the capture it fits), not refused because the first capture named is
    smaller."""
    order, auth = paid
    row = stored(
        gateway_integration,
        auth.provider_reference,
        movement("capture", "cap_a", "30.00"),
        movement("capture", "cap_b", "70.00"),
        movement("refund", "cr_1", "70.00"),
    )

    assert process(row).status == WebhookEvent.Status.PROCESSED

    assert rows_of(order, "refund") == [("70.0000", "succeeded", "cr_1")]
    assert Notice.objects.filter(key__startswith="refund-mismatch:").count() == 0


def test_a_late_wirecard_confirm_lists_a_credit_of_the_second_deposit_and_it_is_not_recorded_again(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    """Wirecard's confirm is applied from the order details as they stand when it is processed: every deposit and
    every credit, and a credit names no deposit. A confirm processed late (its first run could not read the
    details) lists the credit staff made on the second deposit meanwhile: the ledger must not record it a second
    time on the first deposit."""
    from datetime import timedelta

    from django.utils import timezone

    from payments import sweeps
    from sandbox.services import sim_fault_add, sim_get
    from tests.payments.test_wirecard_payments import pay
    from tests.wirecard_support import buyer_on_pay_page

    def eur(amount: str) -> Money:
        return Money(Decimal(amount), "EUR")

    order = factories.OrderFactory(currency="EUR")
    txn = pay(wirecard_integration, order, wirecard_sandbox, live_server.url)
    sim_fault_add(provider="wirecard", kind="malformed", operation="getOrderDetails", times=1)
    buyer_on_pay_page(txn.response["next_action"]["redirect_url"])
    confirm = WebhookEvent.objects.get(integration=wirecard_integration)
    assert confirm.status == WebhookEvent.Status.RECEIVED  # left for its retry
    PaymentTransaction.objects.filter(pk=txn.pk).update(created_at=timezone.now() - timedelta(hours=1))
    auth = sweeps.payment_reconcile(transaction_id=txn.pk)  # reconcile learns the authorization first
    assert auth.state == State.SUCCEEDED
    services.payment_capture(source_id=auth.pk, amount=eur("30.00"), key="dep-1")
    second = services.payment_capture(source_id=auth.pk, amount=eur("70.00"), key="dep-2")
    credit = services.payment_refund(source_id=second.pk, amount=eur("20.00"), key="credit-1")
    assert credit.state == State.SUCCEEDED

    assert process(confirm).status == WebhookEvent.Status.PROCESSED  # the confirm's retry

    credits = sim_get("wirecard", "order", auth.provider_reference).data["credits"]
    at_wirecard = sum((Decimal(c["amount"]) for c in credits if c["state"] == "CREDITED"), Decimal("0"))
    assert at_wirecard == Decimal("20.00")
    assert refunded(order) == at_wirecard
    assert order.transactions.filter(action=Action.REFUND).count() == 1


def test_a_second_event_of_a_dashboard_refund_finds_it_on_the_capture_it_was_recorded_on(
    gateway_integration, paid
) -> None:
    """Captures of 50.00 and 40.00; a refund of 30.00 made at the provider is recorded on the latest it fits in
    (40.00). Its second event (an update) finds only 10.00 left there and 50.00 on the first: it must find the row
    the first event made, not reserve the refund's key again on the first capture (a duplicate key, which ends
    the event's transaction: the event would fail at every retry, and anything else it reports with it)."""
    order, auth = paid
    process(stored(gateway_integration, auth.provider_reference, movement("capture", "cap_a", "50.00")))
    process(stored(gateway_integration, auth.provider_reference, movement("capture", "cap_b", "40.00")))
    first = process(stored(gateway_integration, auth.provider_reference, movement("refund", "re_1", "30.00")))
    assert first.status == WebhookEvent.Status.PROCESSED
    second = stored(
        gateway_integration,
        auth.provider_reference,
        movement("refund", "re_1", "30.00"),
        movement("refund", "re_2", "10.00"),  # a new refund reported with it
    )

    assert process(second).status == WebhookEvent.Status.PROCESSED

    assert rows_of(order, "refund") == [("30.0000", "succeeded", "re_1"), ("10.0000", "succeeded", "re_2")]
    assert refunded(order) == Decimal("40.0000")
