"""The capture path cut to few statements, attacked: the reserve reads the order's rows once (no open invoices), the
record reads them once and closes the source in the row's own UPDATE, release rows are written without
get_or_create, and status notifications skip the endpoints read when none is active.

Each test states what must still hold: never more than the order's total across authorizations, open invoices and
promises; one release per capture; no column of the source lost or resurrected by the record's UPDATE; one
notification per status change; every child action counted. Races run on PostgreSQL with real threads.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection

from notifications import services as notification_services
from notifications.models import Delivery, Endpoint
from orders.models import Invoice, Order, PaymentStatus
from orders.services import invoice_create
from payments import ledger, services
from payments.exceptions import PaymentRefused
from payments.ledger import children_taken, ledger_record, request_fingerprint, reserve_child
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from payments.money import MoneyError
from payments.selectors import order_account, order_ledger_rows, taken_from_rows
from payments.sweeps import payment_reconcile
from providers.base import Capability, Money, ProviderResult
from tests import factories
from tests.conftest import authorize, hold_after_account_check, usd

pytestmark = pytest.mark.django_db(transaction=True)

ZERO = Decimal("0")


@pytest.fixture(autouse=True)
def _postgresql_only() -> None:
    if connection.vendor == "sqlite":
        pytest.skip("the order lock and the races are exercised on PostgreSQL")


@pytest.fixture
def single_capture(fake_gateway, monkeypatch):  # noqa: ANN001, ANN201
    """The fake gateway as a provider that takes one capture per authorization and releases the rest."""
    monkeypatch.setattr(fake_gateway, "capabilities", fake_gateway.capabilities - {Capability.MULTIPLE_CAPTURE})
    return fake_gateway


@pytest.fixture
def deliveries(monkeypatch) -> list[int]:  # noqa: ANN001
    """An active notification endpoint; the deliveries queued for it are collected, not sent."""
    Endpoint.objects.create(name="ERP", url="http://127.0.0.1:9/hook")
    sent: list[int] = []
    monkeypatch.setattr(notification_services, "_enqueue", sent.append)
    return sent


def taken(order: Order) -> Decimal:
    """Money in: successful captures, charges and purchases of the order (refunds do not re-open it)."""
    rows = PaymentTransaction.objects.filter(
        order=order, state=State.SUCCEEDED, action__in=(Action.CAPTURE, Action.CHARGE, Action.PURCHASE)
    )
    return sum(rows.values_list("amount", flat=True), ZERO)


def at_once(*calls: Callable[[], object]) -> list[object]:
    """Run the calls in threads of their own, each on its own connection; refusals are results."""

    def run(call: Callable[[], object]) -> object:
        try:
            return call()
        except PaymentRefused as refused:
            return refused
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=len(calls)) as pool:
        return [future.result() for future in [pool.submit(run, call) for call in calls]]


@pytest.fixture
def overlap(monkeypatch) -> None:  # noqa: ANN001
    """Hold each operation on a payment after it read the order's rows, until the other has read them too: without
    the order lock both would check against the same rows."""
    hold_after_account_check(monkeypatch, timeout=2)


def card_invoice(settings, order: Order, amount: str) -> Invoice:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "fakegw"  # the card gateway pays invoices online
    return invoice_create(order=order, amount=Decimal(amount))


def pay_invoice(invoice: Invoice, key: str = "pay-invoice") -> PaymentTransaction:
    return services.invoice_payment_purchase(invoice_id=invoice.pk, key=key, payment_data={"token": "tok_ok"})


# --- never more than the total across the order, its open invoices and its promises ------------------------------


@pytest.mark.parametrize("first", ["capture", "invoice", "both-at-once"])
def test_an_authorization_and_an_open_invoice_take_the_total_once_in_any_order(
    first: str,
    settings,
    gateway_integration,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    invoice = card_invoice(settings, order, "40.00")
    auth = authorize(order, gateway_integration)  # what the order still owes besides the invoice
    assert (auth.state, auth.amount) == (State.SUCCEEDED, Decimal("60.00"))

    def capture() -> PaymentTransaction:
        return services.payment_capture(source_id=auth.pk, amount=None, key="capture")

    if first == "capture":
        capture()
        pay_invoice(invoice)
    elif first == "invoice":
        pay_invoice(invoice)
        capture()
    else:
        results = at_once(capture, lambda: pay_invoice(invoice))
        assert not any(isinstance(r, PaymentRefused) for r in results), results  # together they make the total

    order.refresh_from_db()
    invoice.refresh_from_db()
    assert taken(order) == Decimal("100.00")
    assert (order.payment_status, invoice.status) == (PaymentStatus.FULL, Invoice.Status.PAID)
    with pytest.raises(PaymentRefused):
        services.payment_capture(source_id=auth.pk, amount=usd("0.01"), key="one-cent-more")
    account = order_account(order=order)
    assert (account.taken, account.held, account.in_flight, account.outstanding) == (Decimal("100.00"), 0, 0, 0)


@pytest.mark.parametrize("first", ["promise", "invoice", "both-at-once"])
def test_a_money_order_promise_and_an_invoice_for_the_same_total_take_it_once(
    first: str,
    settings,
    gateway_integration,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    money_order = factories.IntegrationFactory()
    promise = services.payment_purchase(order_id=order.pk, method=f"money_order_{money_order.pk}", key="promise")
    invoice = card_invoice(settings, order, "100.00")  # a promise does not stand in an invoice's way

    def mark_paid() -> PaymentTransaction:
        return services.payment_capture(source_id=promise.pk, amount=None, key="check-received")

    if first == "promise":
        mark_paid()
        with pytest.raises(PaymentRefused):
            pay_invoice(invoice)
    elif first == "invoice":
        pay_invoice(invoice)
        with pytest.raises(PaymentRefused):
            mark_paid()
    else:
        results = at_once(mark_paid, lambda: pay_invoice(invoice))
        assert sum(isinstance(r, PaymentRefused) for r in results) == 1, results

    order.refresh_from_db()
    assert taken(order) == Decimal("100.00")
    assert order.payment_status == PaymentStatus.FULL


def test_a_partial_capture_and_an_invoice_for_the_rest_take_the_total_once(
    settings,
    gateway_integration,
    single_capture,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="part")  # the provider releases 60
    invoice = card_invoice(settings, order, "60.00")
    with pytest.raises(MoneyError):
        invoice_create(order=order, amount=Decimal("0.01"))  # 60 are invoiced already: nothing more
    pay_invoice(invoice)

    with pytest.raises(PaymentRefused):
        services.payment_capture(source_id=auth.pk, amount=usd("0.01"), key="again")
    order.refresh_from_db()
    assert taken(order) == Decimal("100.00")
    assert order.payment_status == PaymentStatus.FULL
    releases = PaymentTransaction.objects.filter(order=order, action=Action.RELEASE)
    assert [r.amount for r in releases] == [Decimal("60.0000")]


def test_an_open_authorization_leaves_nothing_to_invoice_after_a_partial_capture(gateway_integration) -> None:  # noqa: ANN001
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)  # captures more than once: it still holds the rest
    services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="part")
    with pytest.raises(MoneyError):
        invoice_create(order=order)


def test_refunds_do_not_make_room_for_a_capture_beyond_the_total(gateway_integration) -> None:  # noqa: ANN001
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    first = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="first")
    services.payment_refund(source_id=first.pk, amount=None, key="refund-first")
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="second")
    with pytest.raises(PaymentRefused):
        services.payment_capture(source_id=auth.pk, amount=usd("0.01"), key="third")

    order.refresh_from_db()
    auth.refresh_from_db()
    assert taken(order) == Decimal("100.00")
    assert not auth.active
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    account = order_account(order=order)
    assert (account.authorized, account.captured_from_authorizations, account.refunded, account.outstanding) == (
        Decimal("100.00"),
        Decimal("100.00"),
        Decimal("40.00"),
        0,
    )


# --- two operations at once -------------------------------------------------------------------------------------


def test_a_capture_and_a_cancel_at_once_never_take_more_than_was_authorized(
    gateway_integration,
    fake_gateway,
    overlap,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)

    at_once(
        lambda: services.payment_capture(source_id=auth.pk, amount=usd("70.00"), key="capture"),
        lambda: services.payment_cancel(source_id=auth.pk, key="cancel"),
    )

    children = {r.action: r for r in PaymentTransaction.objects.filter(source=auth, state=State.SUCCEEDED)}
    assert sum((r.amount for r in children.values()), ZERO) == Decimal("100.00")  # captured + released
    auth.refresh_from_db()
    order.refresh_from_db()
    assert not auth.active
    account = order_account(order=order)
    assert account.held == 0
    assert account.taken == (children[Action.CAPTURE].amount if Action.CAPTURE in children else ZERO)


@pytest.mark.parametrize("same_key", [False, True], ids=["two-keys", "one-key"])
def test_two_captures_at_once_take_the_authorization_once(
    same_key: bool,
    gateway_integration,
    fake_gateway,
    overlap,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    keys = ["cap", "cap"] if same_key else ["cap-1", "cap-2"]

    results = at_once(
        *[(lambda key=key: services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key=key)) for key in keys]
    )

    assert fake_gateway.calls["capture"] == 1
    assert taken(order) == Decimal("60.00")
    if same_key:  # the second request waits for the first and gets its row
        assert [r.pk for r in results] == [results[0].pk] * 2  # type: ignore[union-attr]
    else:
        assert sum(isinstance(r, PaymentRefused) for r in results) == 1


def test_a_capture_while_a_sibling_capture_is_refunded_keeps_both_within_their_limits(
    gateway_integration,
    fake_gateway,
    overlap,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    first = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="first")

    at_once(
        lambda: services.payment_capture(source_id=auth.pk, amount=None, key="rest"),
        lambda: services.payment_refund(source_id=first.pk, amount=None, key="refund"),
    )

    order.refresh_from_db()
    auth.refresh_from_db()
    assert taken(order) == Decimal("100.00")
    assert not auth.active
    assert order_account(order=order).refunded == Decimal("40.00")
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    assert fake_gateway.calls == {"authorize": 1, "capture": 2, "refund": 1}


# --- the record's one UPDATE and what others write to the source meanwhile ------------------------------------


@pytest.mark.parametrize("operation", ["capture", "cancel"])
def test_what_a_sweep_writes_to_the_source_between_the_records_read_and_its_update_is_kept(
    operation: str,
    gateway_integration,
    monkeypatch,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    assert auth.expires_at is not None
    warned_at = auth.expires_at - timedelta(hours=1)
    original = ledger._save_with_source

    def sweep_meanwhile(txn, closed):  # noqa: ANN001, ANN202 - the expiry warning, on a connection of its own
        def warn() -> None:
            try:
                PaymentTransaction.objects.filter(pk=auth.pk).update(
                    expiry_warned_at=warned_at, needs_attention=True, note="checked by staff"
                )
            finally:
                connection.close()

        worker = threading.Thread(target=warn)
        worker.start()
        worker.join()
        original(txn, closed)

    monkeypatch.setattr(ledger, "_save_with_source", sweep_meanwhile)
    if operation == "capture":
        done = services.payment_capture(source_id=auth.pk, amount=None, key="all")
    else:
        done = services.payment_cancel(source_id=auth.pk, key="void")

    auth.refresh_from_db()
    assert done.state == State.SUCCEEDED
    assert (auth.active, auth.expiry_warned_at, auth.needs_attention, auth.note) == (
        False,
        warned_at,
        True,
        "checked by staff",
    )
    assert (auth.state, auth.successful, auth.amount) == (State.SUCCEEDED, True, Decimal("100.0000"))


def test_the_records_update_writes_the_row_in_full_and_only_the_sources_flag(gateway_integration) -> None:  # noqa: ANN001
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    before: dict[str, object] = dict(PaymentTransaction.objects.filter(pk=auth.pk).values().get())

    capture = services.payment_capture(source_id=auth.pk, amount=None, key="all")

    after: dict[str, object] = dict(PaymentTransaction.objects.filter(pk=auth.pk).values().get())
    changed = {name for name in before if before[name] != after[name]}
    assert changed == {"active", "updated_at"}
    stored = PaymentTransaction.objects.get(pk=capture.pk)
    assert (stored.state, stored.successful, stored.active, stored.provider_reference, stored.response) == (
        State.SUCCEEDED,
        True,
        False,
        auth.provider_reference,
        capture.response,
    )
    assert stored.next_reconcile_at is None


# --- lost replies, late answers, replays -----------------------------------------------------------------------


def test_a_capture_whose_reply_was_lost_is_recorded_by_reconcile_with_one_release(
    gateway_integration,
    single_capture,
    deliveries,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    single_capture.lose_reply_next.append("capture")

    capture = services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="part")
    assert capture.state == State.RESERVED  # the provider captured; we do not know yet
    auth.refresh_from_db()
    assert auth.active

    settled = payment_reconcile(transaction_id=capture.pk)
    again = payment_reconcile(transaction_id=capture.pk)

    assert (settled.state, again.state) == (State.SUCCEEDED, State.SUCCEEDED)
    assert single_capture.calls["capture"] == 1
    releases = PaymentTransaction.objects.filter(order=order, action=Action.RELEASE)
    assert [(r.amount, r.source_id) for r in releases] == [(Decimal("40.0000"), auth.pk)]
    auth.refresh_from_db()
    order.refresh_from_db()
    assert not auth.active
    assert order.payment_status == PaymentStatus.PARTIALLY
    account = order_account(order=order)
    assert (account.authorized, account.captured_from_authorizations, account.released, account.held) == (
        Decimal("100.00"),
        Decimal("60.00"),
        Decimal("40.00"),
        0,
    )
    assert account.outstanding == Decimal("40.00")
    changes = list(
        Delivery.objects.filter(order=order)
        .order_by("pk")
        .values_list("payload__previousPaymentStatus", "payload__paymentStatus")
    )
    assert changes[-1] == ("authorized", "partially")
    assert len(deliveries) == len(changes) == len(set(changes))


def test_a_capture_replayed_by_its_key_after_a_crash_before_the_provider_call_moves_money_once(
    gateway_integration,
    single_capture,
    monkeypatch,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)

    class Crash(Exception):
        pass

    def crash(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202 - the worker died after the reserve committed
        raise Crash

    with monkeypatch.context() as patch:
        patch.setattr(services, "_call_provider", crash)
        with pytest.raises(Crash):
            services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="part")

    replayed = services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="part")
    assert (replayed.state, single_capture.calls["capture"]) == (State.RESERVED, 0)
    with pytest.raises(PaymentRefused):  # the reserved capture holds the authorization meanwhile
        services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="other")

    settled = payment_reconcile(transaction_id=replayed.pk)  # not found at the provider: sent now, same key

    assert (settled.state, settled.pk, single_capture.calls["capture"]) == (State.SUCCEEDED, replayed.pk, 1)
    assert PaymentTransaction.objects.filter(order=order, action=Action.RELEASE).count() == 1
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PARTIALLY


def test_a_capture_answered_after_its_authorization_lapsed_is_recorded_and_releases_nothing(
    gateway_integration,
    single_capture,  # noqa: ANN001
) -> None:
    from payments.sweeps import authorizations_expiry_sweep

    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    single_capture.lose_reply_next.append("capture")
    capture = services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="part")
    authorizations_expiry_sweep(now=auth.expires_at + timedelta(minutes=1))  # closes the source another way
    auth.refresh_from_db()
    assert not auth.active

    settled = payment_reconcile(transaction_id=capture.pk)

    assert settled.state == State.SUCCEEDED
    auth.refresh_from_db()
    order.refresh_from_db()
    assert not auth.active  # not resurrected, and its other columns as the sweep left them
    assert auth.message.startswith("The authorization expired")
    assert taken(order) == Decimal("60.00")
    assert order.payment_status == PaymentStatus.PARTIALLY
    assert order_account(order=order).outstanding == Decimal("40.00")


# --- release rows -----------------------------------------------------------------------------------------------


def test_a_partial_capture_recorded_by_its_reply_and_by_reconcile_at_once_writes_one_release(
    gateway_integration,
    single_capture,
    deliveries,
    monkeypatch,  # noqa: ANN001
) -> None:
    buyer = factories.CustomerUserFactory()
    order = factories.OrderFactory(customer=buyer.customer, customer_user=buyer, subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    barrier = threading.Barrier(2, timeout=5)
    original = ledger._apply_result

    def both_read_first(txn, result, adapter, rows):  # noqa: ANN001, ANN202
        with suppress(threading.BrokenBarrierError):
            barrier.wait(timeout=1)  # the second waits for the lock: the barrier breaks, and it goes on
        return original(txn, result, adapter, rows)

    monkeypatch.setattr(ledger, "_apply_result", both_read_first)
    capture = reserve_child(
        auth, Action.CAPTURE, usd("60.00"), key="cap", fingerprint=request_fingerprint("cap"), actor=None
    )
    single_capture.replies["cap"] = ProviderResult.succeeded(usd("60.00"), reference=auth.provider_reference)

    at_once(
        lambda: ledger_record(
            transaction_id=capture.pk, result=ProviderResult.succeeded(usd("60.00"), reference="reply")
        ),
        lambda: payment_reconcile(transaction_id=capture.pk),
    )

    releases = PaymentTransaction.objects.filter(order=order, action=Action.RELEASE)
    assert [(r.amount, r.state, r.idempotency_key) for r in releases] == [
        (Decimal("40.0000"), State.SUCCEEDED, f"released-rest:{capture.pk}")
    ]
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PARTIALLY
    statuses = list(
        Delivery.objects.filter(order=order).order_by("pk").values_list("payload__paymentStatus", flat=True)
    )
    assert statuses.count("partially") == 1
    assert order.buyer_emails.filter(kind="payment_receipt").count() == 1


def test_a_release_row_already_written_for_the_capture_is_not_written_again(
    gateway_integration,
    single_capture,  # noqa: ANN001
) -> None:
    """A release keyed by the capture exists (recorded earlier, e.g. by a webhook path) while the capture is open:
    recording the capture must not fail on the unique key, and must leave one release."""
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    capture = reserve_child(
        auth, Action.CAPTURE, usd("60.00"), key="cap", fingerprint=request_fingerprint("cap"), actor=None
    )
    PaymentTransaction.objects.create(
        idempotency_key=f"released-rest:{capture.pk}",
        order=order,
        source=auth,
        integration=auth.integration,
        payment_method=auth.payment_method,
        action=Action.RELEASE,
        state=State.SUCCEEDED,
        successful=True,
        amount=Decimal("40.00"),
        currency="USD",
        fingerprint=request_fingerprint("release", capture.pk),
    )

    recorded = ledger_record(transaction_id=capture.pk, result=ProviderResult.succeeded(usd("60.00")))

    assert recorded.state == State.SUCCEEDED
    assert PaymentTransaction.objects.filter(order=order, action=Action.RELEASE).count() == 1


# --- status notifications -----------------------------------------------------------------------------------------


@pytest.mark.parametrize("amount", [None, "40.00"], ids=["full", "partial-then-rest"])
def test_each_status_change_of_a_capture_notifies_an_active_endpoint_once(
    amount: str | None,
    gateway_integration,
    deliveries,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    if amount is not None:
        services.payment_capture(source_id=auth.pk, amount=usd(amount), key="part")
    services.payment_capture(source_id=auth.pk, amount=None, key="rest")
    services.payment_capture(source_id=auth.pk, amount=None, key="rest")  # a repeat changes nothing

    changes = list(
        Delivery.objects.filter(order=order)
        .order_by("pk")
        .values_list("payload__previousPaymentStatus", "payload__paymentStatus")
    )
    expected = [("pending", "authorized")]
    expected += [("authorized", "partially"), ("partially", "full")] if amount else [("authorized", "full")]
    assert changes == expected
    assert len(deliveries) == len(expected)


def test_two_recordings_of_one_capture_at_once_notify_once(gateway_integration, deliveries) -> None:  # noqa: ANN001
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    capture = reserve_child(
        auth, Action.CAPTURE, usd("100.00"), key="cap", fingerprint=request_fingerprint("cap"), actor=None
    )

    at_once(
        *[
            (
                lambda ref=ref: ledger_record(
                    transaction_id=capture.pk, result=ProviderResult.succeeded(usd("100.00"), reference=ref)
                )
            )
            for ref in ("reply", "webhook")
        ]
    )

    statuses = list(
        Delivery.objects.filter(order=order).order_by("pk").values_list("payload__paymentStatus", flat=True)
    )
    assert statuses == ["authorized", "full"]


# --- every child action counts ------------------------------------------------------------------------------------


def test_what_the_record_and_the_reserve_compute_from_rows_equals_what_the_database_sums(
    gateway_integration,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("1000.00"))
    auth = authorize(order, gateway_integration)
    capture = services.payment_capture(source_id=auth.pk, amount=usd("100.00"), key="c1")
    for n, (action, state, amount) in enumerate(
        [
            (Action.CAPTURE, State.RESERVED, "50.00"),
            (Action.CAPTURE, State.DECLINED, "70.00"),
            (Action.CANCEL, State.PROCESSING, "30.00"),
            (Action.INVOICE, State.SUCCEEDED, "20.00"),
            (Action.INVOICE, State.ACTION_REQUIRED, "5.00"),
            (Action.RELEASE, State.SUCCEEDED, "1.00"),
        ]
    ):
        PaymentTransaction.objects.create(
            order=order,
            source=auth,
            integration=auth.integration,
            payment_method=auth.payment_method,
            action=action,
            state=state,
            successful=state == State.SUCCEEDED,
            amount=Decimal(amount),
            currency="USD",
            idempotency_key=f"child-{n}",
        )
    for n, (action, state) in enumerate(
        [(Action.REFUND, State.SUCCEEDED), (Action.REFUND, State.RESERVED), (Action.ACTIVATE, State.PROCESSING)]
    ):
        PaymentTransaction.objects.create(
            order=order,
            source=capture,
            integration=auth.integration,
            payment_method=auth.payment_method,
            action=action,
            state=state,
            successful=state == State.SUCCEEDED,
            amount=Decimal("10.00"),
            currency="USD",
            idempotency_key=f"grandchild-{n}",
        )

    rows, _ = order_ledger_rows(order_id=order.pk)
    account_rows = [row.as_account_row() for row in rows.values()]
    for source in (auth, capture):
        assert taken_from_rows(account_rows, source_id=source.pk) == children_taken(source)
    assert taken_from_rows(account_rows, source_id=auth.pk).invoiced == Decimal("25.00")
    assert taken_from_rows(account_rows, source_id=capture.pk).activated == Decimal("10.00")


def test_the_records_one_update_stores_the_rows_json_as_objects(gateway_integration, fake_gateway) -> None:  # noqa: ANN001
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    fake_gateway.report_next["capture"] = Decimal("99.00")  # flagged: the answer's mismatch is kept in `response`

    capture = services.payment_capture(source_id=auth.pk, amount=None, key="all")

    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT jsonb_typeof(request), jsonb_typeof(response), response -> 'amount_mismatch' ->> 'reported' "
            "FROM payments_paymenttransaction WHERE id = %s",
            [capture.pk],
        )
        assert cursor.fetchone() == ("object", "object", "99.00")
    stored = PaymentTransaction.objects.get(pk=capture.pk)
    assert (stored.request, stored.response, stored.needs_attention) == (capture.request, capture.response, True)
    auth.refresh_from_db()
    assert not auth.active


@pytest.mark.parametrize(
    ("trait", "part", "rest"), [("jpy", "5000", "7000"), ("kwd", "10.005", "20.120")], ids=["JPY", "KWD"]
)
def test_a_partial_capture_in_jpy_and_kwd_releases_the_exact_rest_once(
    trait: str,
    part: str,
    rest: str,
    gateway_integration,
    single_capture,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(**{trait: True})
    auth = authorize(order, gateway_integration)
    money = Money(Decimal(part), order.currency)

    capture = services.payment_capture(source_id=auth.pk, amount=money, key="part")
    services.payment_capture(source_id=auth.pk, amount=money, key="part")  # a repeat

    releases = PaymentTransaction.objects.filter(order=order, action=Action.RELEASE)
    assert [(r.amount, r.currency, r.idempotency_key) for r in releases] == [
        (Decimal(rest), order.currency, f"released-rest:{capture.pk}")
    ]
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PARTIALLY
    account = order_account(order=order)
    assert (account.released, account.outstanding, account.held) == (Decimal(rest), Decimal(rest), 0)


def test_two_partial_captures_at_once_that_fill_the_authorization_close_it_without_a_release(
    gateway_integration,
    fake_gateway,
    overlap,
    deliveries,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)  # captures more than once

    results = at_once(
        lambda: services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="sixty"),
        lambda: services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="forty"),
    )

    assert [r.state for r in results] == [State.SUCCEEDED, State.SUCCEEDED]  # type: ignore[union-attr]
    auth.refresh_from_db()
    order.refresh_from_db()
    assert not auth.active
    assert not PaymentTransaction.objects.filter(order=order, action=Action.RELEASE).exists()
    assert (taken(order), order.payment_status) == (Decimal("100.00"), PaymentStatus.FULL)
    changes = list(Delivery.objects.filter(order=order).order_by("pk").values_list("payload__paymentStatus", flat=True))
    assert changes == ["authorized", "partially", "full"]


@pytest.mark.parametrize("locked", [True, False], ids=["locked", "control-without-lock"])
def test_an_orders_promise_and_its_invoices_money_order_promise_marked_paid_at_once_take_it_once(
    locked: bool,
    settings,
    monkeypatch,  # noqa: ANN001
) -> None:
    settings.INVOICE_PAYMENT_METHOD = "money_order"
    money_order = factories.IntegrationFactory()
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    promise = services.payment_purchase(order_id=order.pk, method=f"money_order_{money_order.pk}", key="promise")
    invoice = invoice_create(order=order)
    invoice_promise = services.invoice_payment_purchase(invoice_id=invoice.pk, key="invoice-promise")
    assert (promise.action, invoice_promise.action) == (Action.PENDING, Action.PENDING)
    hold_after_account_check(monkeypatch, timeout=2)
    if not locked:
        monkeypatch.setattr(
            services, "lock_order_of", lambda *, transaction_id: Order.objects.get(transactions=transaction_id)
        )

    results = at_once(
        lambda: services.payment_capture(source_id=promise.pk, amount=None, key="check"),
        lambda: services.payment_capture(source_id=invoice_promise.pk, amount=None, key="transfer"),
    )

    assert taken(order) == (Decimal("100.00") if locked else Decimal("200.00"))
    assert sum(isinstance(r, PaymentRefused) for r in results) == (1 if locked else 0)


def test_our_partial_capture_whose_event_arrives_first_notifies_and_releases_once(
    stripe_integration,
    stripe_sandbox,
    deliveries,  # noqa: ANN001
) -> None:
    """Stripe's sandbox delivers the capture's event before it answers our call: the webhook records the capture
    (and the rest Stripe released), and our own record then finds it final."""
    from tests.sandbox_support import register_webhooks

    register_webhooks(stripe_integration)
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="auth",
        payment_data={"payment_method": "pm_card_visa"},
    )
    capture = services.payment_capture(source_id=auth.pk, amount=usd("30.00"), key="capture-own")

    assert capture.state == State.SUCCEEDED
    releases = PaymentTransaction.objects.filter(order=order, action=Action.RELEASE)
    assert [(r.amount, r.idempotency_key) for r in releases] == [(Decimal("70.0000"), f"released-rest:{capture.pk}")]
    assert PaymentTransaction.objects.filter(order=order, action=Action.CAPTURE).count() == 1
    order.refresh_from_db()
    auth.refresh_from_db()
    assert (order.payment_status, auth.active) == (PaymentStatus.PARTIALLY, False)
    changes = list(
        Delivery.objects.filter(order=order)
        .order_by("pk")
        .values_list("payload__previousPaymentStatus", "payload__paymentStatus")
    )
    assert changes == [("pending", "authorized"), ("authorized", "partially")]
    assert len(deliveries) == 2
    event = WebhookEvent.objects.get(event_type="payment_intent.succeeded")
    assert "Capture 30.00 USD completed." in event.result  # the webhook recorded it before our own step 3
