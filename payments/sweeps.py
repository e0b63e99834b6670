"""Work that beat sweeps find in the database: scheduled captures, lapsing authorizations, open rows to reconcile.

Shipping (which makes captures on shipment due) is in `orders.services`; notices and alert emails to staff are
in `notifications.services`.

Each sweep selects due rows in batches and hands each to a task; each task calls the same services as the
back-office, so locking and idempotency keys apply and a task that runs twice moves money once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from queue import Empty, SimpleQueue
from threading import Thread

from django.conf import settings
from django.core.mail import send_mail
from django.db import connections, transaction
from django.db.models import Exists, OuterRef, Q, QuerySet
from django.utils import timezone

from core.money import format_money
from integrations.adapters import adapter_for
from integrations.ratelimits import provider_call_slot
from notifications.models import Notice
from notifications.services import alert_recipients, notice_raise, staff_alert
from payments.exceptions import PaymentRefused, RefusalCode
from payments.ledger import (
    capturable_amount,
    follow_up_request,
    ledger_record,
    lock_order,
    order_payment_status_refresh,
    schedule_to_renewal,
    status_request,
)
from payments.models import OPEN_STATES, Action, PaymentTransaction, ScheduledCapture, State
from payments.services import payment_capture, payment_reauthorize
from payments.webhook_services import webhook_events_release
from providers.base import (
    NOT_FOUND,
    Capability,
    ErrorCode,
    Money,
    Outcome,
    ProviderResult,
    ProviderUnavailable,
    UnsupportedOperation,
)

logger = logging.getLogger(__name__)

BATCH = 500
RECONCILE_FIRST_AFTER = timedelta(minutes=2)  # calls time out well before this
ABANDONED_ACTION_AFTER = timedelta(hours=1)  # a buyer who left the 3-D Secure page
RECONCILE_MAX_ATTEMPTS = 12  # about seven hours of backoff, then staff are asked to look
STALE_ENQUEUED_AFTER = timedelta(minutes=15)


# --- scheduled capture -----------------------------------------------------------------------------------------


def scheduled_captures_claim(*, now: datetime | None = None, batch: int = BATCH) -> list[int]:
    """Claim due captures (and ones enqueued long ago whose message may be lost) for the workers.

    `skip_locked` lets two sweeps run at once without claiming the same row.
    """
    now = now or timezone.now()
    with transaction.atomic():
        due = (
            ScheduledCapture.objects.select_for_update(skip_locked=True)
            .filter(
                Q(state=ScheduledCapture.State.PENDING, due_at__lte=now)
                | Q(state=ScheduledCapture.State.ENQUEUED, enqueued_at__lte=now - STALE_ENQUEUED_AFTER)
            )
            .order_by("due_at", "id")
            .values_list("id", flat=True)[:batch]
        )
        ids = list(due)
        ScheduledCapture.objects.filter(pk__in=ids).update(state=ScheduledCapture.State.ENQUEUED, enqueued_at=now)
    return ids


#: waits before each new try of a capture declined for a reason that may pass (the provider's own trouble)
SCHEDULED_CAPTURE_RETRIES = (timedelta(minutes=30), timedelta(hours=2), timedelta(hours=8))
#: decline codes worth another try; any other decline (the hold is gone, the card is closed) is final
RETRYABLE_CAPTURE_ERRORS = frozenset({ErrorCode.PROCESSING_ERROR})
GIVEN_UP_MESSAGE = "Not captured: the order belongs to a checkout attempt the buyer gave up; its payment is given back."
FINAL_STATES = (ScheduledCapture.State.DONE, ScheduledCapture.State.SKIPPED, ScheduledCapture.State.FAILED)


def scheduled_capture_key(schedule: ScheduledCapture) -> str:
    """One key per try: a redelivered task repeats its try (and moves nothing twice); a retry after a decline
    is a new request, which the provider must not answer with the stored decline."""
    base = f"capture:{schedule.authorization_id}:scheduled"
    return base if schedule.attempts == 0 else f"{base}:{schedule.attempts + 1}"


def _this_schedule(schedule: ScheduledCapture) -> QuerySet[ScheduledCapture]:
    """The schedule as this run saw it: if a renewal took it over meanwhile, this run's outcome is not its."""
    return ScheduledCapture.objects.filter(pk=schedule.pk, authorization_id=schedule.authorization_id)


def scheduled_capture_run(*, schedule_id: int) -> ScheduledCapture:
    """Capture what is left of the authorization (within what the order may still take).

    Only a successful capture marks the schedule done. A decline is failed with its reason and a notice to
    staff, or tried again later when the reason may pass. A capture whose answer is not known yet stays
    enqueued: reconcile settles the row, and the next claim of the schedule reads the outcome by its key.
    """
    schedule = ScheduledCapture.objects.select_related(
        "authorization__order", "authorization__integration__default_owner"
    ).get(pk=schedule_id)
    if schedule.state in FINAL_STATES:
        return schedule
    if schedule.authorization.order.discarded_at is not None:  # an order the buyer never sees takes nothing
        _this_schedule(schedule).update(state=ScheduledCapture.State.SKIPPED, last_error=GIVEN_UP_MESSAGE)
        schedule.refresh_from_db()
        return schedule
    provider_call_slot(schedule.authorization.integration)  # the provider's rate limit, kept across workers
    try:
        capture = payment_capture(source_id=schedule.authorization_id, amount=None, key=scheduled_capture_key(schedule))
    except PaymentRefused as exc:
        if exc.code == RefusalCode.NOTHING_TO_CAPTURE and _capture_in_flight(schedule.authorization_id):
            # what is left is spoken for by a capture still at the provider (staff's, on a provider that captures
            # more than once); declined, its amount is held again and this schedule is what takes it
            _this_schedule(schedule).update(
                state=ScheduledCapture.State.PENDING,
                due_at=timezone.now() + CAPTURE_IN_FLIGHT_WAIT,
                last_error=f"{exc.message} A capture of this payment is still waiting for the provider's answer.",
            )
        elif exc.code in (RefusalCode.NOTHING_TO_CAPTURE, RefusalCode.ORDER_SETTLED):
            _this_schedule(schedule).update(state=ScheduledCapture.State.SKIPPED, last_error=exc.message)
        else:
            _scheduled_capture_failed(schedule, exc.message)
        logger.info("Scheduled capture %s of transaction %s: %s", schedule.pk, schedule.authorization_id, exc.code)
    else:
        if capture.state == State.SUCCEEDED:
            _this_schedule(schedule).update(state=ScheduledCapture.State.DONE, capture=capture, last_error="")
        elif capture.state == State.DECLINED:
            _scheduled_capture_declined(schedule, capture)
        else:
            _this_schedule(schedule).update(capture=capture, last_error=capture.message)
    schedule.refresh_from_db()
    return schedule


#: how soon a schedule that found everything left spoken for by a capture still in flight looks again
CAPTURE_IN_FLIGHT_WAIT = timedelta(minutes=30)


def _capture_in_flight(authorization_id: int) -> bool:
    """The authorization is still open and a capture of it is still waiting for the provider's answer."""
    return PaymentTransaction.objects.filter(
        source_id=authorization_id, source__active=True, action=Action.CAPTURE, state__in=OPEN_STATES
    ).exists()


def scheduled_captures_run(*, schedule_ids: list[int], threads: int | None = None) -> None:
    """Run a batch of due captures, many provider calls in flight at once (a thread pool per worker process).

    Each capture keeps its three steps, its own lock and transactions, on its thread's own connection. Inside a
    caller's open transaction (the tests' eager tasks) they run one after the other: other connections could not
    see what that transaction wrote.
    """
    threads = settings.CAPTURE_SWEEP_THREADS if threads is None else threads
    if threads <= 1 or len(schedule_ids) <= 1 or transaction.get_connection().in_atomic_block:
        for schedule_id in schedule_ids:
            _run_one(schedule_id)
        return
    todo: SimpleQueue[int] = SimpleQueue()
    for schedule_id in schedule_ids:
        todo.put(schedule_id)

    def drain() -> None:  # one thread: captures until none is left, on one connection of its own
        try:
            while True:
                try:
                    _run_one(todo.get_nowait())
                except Empty:
                    return
        finally:
            connections.close_all()

    pool = [Thread(target=drain, name=f"capture-{n}") for n in range(min(threads, len(schedule_ids)))]
    for thread in pool:
        thread.start()
    for thread in pool:
        thread.join()


def _run_one(schedule_id: int) -> None:
    """One capture of a batch; an unexpected error stops only it (its schedule stays enqueued and is claimed again
    after STALE_ENQUEUED_AFTER), never the batch."""
    try:
        scheduled_capture_run(schedule_id=schedule_id)
    except Exception:  # noqa: BLE001 - logged with its traceback; the other captures of the batch go on
        logger.exception("Scheduled capture %s failed unexpectedly; it is claimed again later", schedule_id)


#: a capture the provider refused for its rate limit is tried again this soon, with a new key
RATE_LIMITED_RETRY = timedelta(seconds=10)


def _rate_limited_tries(schedule: ScheduledCapture) -> int:
    """The schedule's captures the provider refused for its rate limit (each under a key of its own)."""
    base = f"capture:{schedule.authorization_id}:scheduled"
    return (
        PaymentTransaction.objects.filter(
            source_id=schedule.authorization_id, action=Action.CAPTURE, error_code=ErrorCode.RATE_LIMITED
        )
        .filter(Q(idempotency_key=base) | Q(idempotency_key__startswith=f"{base}:"))
        .count()
    )


def _scheduled_capture_declined(schedule: ScheduledCapture, capture: PaymentTransaction) -> None:
    attempts = schedule.attempts + 1
    if capture.error_code == ErrorCode.RATE_LIMITED:  # nothing was done: soon again, no notice
        _this_schedule(schedule).update(
            state=ScheduledCapture.State.PENDING,
            due_at=timezone.now() + RATE_LIMITED_RETRY,
            attempts=attempts,
            capture=capture,
            last_error=capture.message,
        )
        return
    reason = f"Declined by the provider ({capture.error_code or 'no code'}): {capture.message or 'no reason given'}"
    auth = schedule.authorization
    now = timezone.now()
    tried = attempts - _rate_limited_tries(schedule)  # refusals for the rate limit did nothing: they are no try
    delay = SCHEDULED_CAPTURE_RETRIES[tried - 1] if 1 <= tried <= len(SCHEDULED_CAPTURE_RETRIES) else None
    if (
        delay is not None
        and capture.error_code in RETRYABLE_CAPTURE_ERRORS
        and (auth.expires_at is None or now + delay < auth.expires_at)
    ):
        due = now + delay
        _this_schedule(schedule).update(
            state=ScheduledCapture.State.PENDING, due_at=due, attempts=attempts, capture=capture, last_error=reason
        )
        notice_raise(
            key=f"scheduled-capture-declined:{schedule.pk}:{attempts}",
            order=auth.order,
            message=(
                f"Order {auth.order.number}: the scheduled capture of {auth.money} was declined. {reason}. "
                f"It will be tried again at {due:%Y-%m-%d %H:%M} UTC."
            ),
        )
        return
    _this_schedule(schedule).update(attempts=attempts, capture=capture)
    _scheduled_capture_failed(schedule, reason)


def _scheduled_capture_failed(schedule: ScheduledCapture, reason: str) -> None:
    """Give up on a scheduled capture: staff see why on the dashboard and by email, and capture or cancel by hand."""
    auth = schedule.authorization
    _this_schedule(schedule).update(state=ScheduledCapture.State.FAILED, last_error=reason)
    message = (
        f"Order {auth.order.number}: the scheduled capture of {auth.money} (reference {auth.provider_reference}) "
        f"failed. {reason}. Capture it by hand or ask the buyer to pay again."
    )
    staff_alert(
        key=f"scheduled-capture-failed:{schedule.pk}",
        subject=f"Scheduled capture failed: order {auth.order.number}",
        message=message,
        integration=auth.integration,
        order=auth.order,
        level=Notice.Level.ERROR,
    )
    logger.warning("Scheduled capture %s of transaction %s failed: %s", schedule.pk, auth.pk, reason)


# --- authorization expiry --------------------------------------------------------------------------------------


def authorizations_expiry_sweep(*, now: datetime | None = None) -> tuple[int, int]:
    """Warn staff before authorizations lapse; mark lapsed ones inactive so the payment status is honest."""
    now = now or timezone.now()
    warn_before = timedelta(hours=settings.AUTHORIZATION_EXPIRY_WARNING_HOURS)
    open_authorizations = PaymentTransaction.objects.filter(
        action=Action.AUTHORIZE, successful=True, active=True, expires_at__isnull=False
    ).select_related("order", "integration__default_owner")
    warned = 0
    # those passed over stay unwarned and come back each sweep: a batch taken before they are passed over would
    # fill up with them (a provider outage leaves many captures in flight) and announce nothing else
    for txn in (
        open_authorizations.filter(expires_at__gt=now, expires_at__lte=now + warn_before, expiry_warned_at__isnull=True)
        .order_by("expires_at", "pk")
        .iterator(chunk_size=BATCH)
    ):
        if warned >= BATCH:
            break
        left = capturable_amount(txn)
        if left <= 0:
            # open only while a capture of the rest waits for its answer (a provider that captures more than
            # once): nothing to capture now; declined, its amount is left again and a later sweep warns then
            continue
        message = (
            f"The authorization of {txn.money} on order {txn.order.number} (reference {txn.provider_reference}) "
            f"has {format_money(Money(left, txn.currency))} left to capture and expires at "
            f"{txn.expires_at:%Y-%m-%d %H:%M} UTC. Capture it before then or it lapses."
        )
        staff_alert(
            key=f"expiry-warning:{txn.pk}",
            subject=f"Authorization expiring: order {txn.order.number}",
            message=message,
            integration=txn.integration,
            order=txn.order,
        )
        PaymentTransaction.objects.filter(pk=txn.pk).update(expiry_warned_at=now)
        warned += 1
    expired = 0
    for txn_id, order_id in open_authorizations.filter(expires_at__lte=now).values_list("id", "order_id")[:BATCH]:
        with transaction.atomic():
            order = lock_order(order_id=order_id)
            txn = PaymentTransaction.objects.select_related("order").get(pk=txn_id)
            if not txn.active:
                continue
            txn.active = False
            txn.message = f"The authorization expired at the provider on {txn.expires_at:%Y-%m-%d %H:%M} UTC."
            txn.save(update_fields=["active", "message", "updated_at"])
            schedule_to_renewal(txn)  # a renewal made before the lapse is the hold now
            order_payment_status_refresh(order=order, cause=txn)
            notice_raise(key=f"expired:{txn.pk}", message=f"Order {order.number}: {txn.message}", order=order)
        expired += 1
    return warned, expired


# --- re-authorization ----------------------------------------------------------------------------------------------

REAUTHORIZE_AFTER = timedelta(days=6, hours=20)  # Stripe's hold lasts 7 days; renew with margin
REAUTHORIZE_UNTIL = timedelta(days=7)


def reauthorizations_sweep(*, now: datetime | None = None) -> tuple[int, int]:
    """Renew uncaptured authorizations between 6 days 20 hours and 7 days old, on integrations that ask for it;
    a failure emails the integration's alert address. Each authorization is tried once."""
    now = now or timezone.now()
    candidates = (
        PaymentTransaction.objects.filter(
            action=Action.AUTHORIZE,
            successful=True,
            active=True,
            created_at__lte=now - REAUTHORIZE_AFTER,
            created_at__gt=now - REAUTHORIZE_UNTIL,
        )
        .exclude(Exists(_renewals_tried().filter(source_id=OuterRef("pk"))))
        .select_related("integration", "order")
    )
    renewed = failed = 0
    for auth in candidates[:BATCH]:
        if not auth.integration.settings.get("re_authorization"):
            continue
        if not adapter_for(auth.integration).supports(Capability.REAUTHORIZE):
            continue
        provider_call_slot(auth.integration)  # the provider's rate limit, kept across workers
        try:
            renewal = payment_reauthorize(source_id=auth.pk, key=_renewal_key(auth))
        except PaymentRefused as exc:
            logger.info("Re-authorization of transaction %s skipped: %s", auth.pk, exc.code)
            continue
        if renewal.state == State.SUCCEEDED:
            renewed += 1
        elif renewal.state == State.DECLINED and renewal.error_code == ErrorCode.RATE_LIMITED:
            logger.info("Re-authorization of transaction %s was rate limited; the next sweep tries again", auth.pk)
        elif renewal.state == State.DECLINED:
            failed += 1
            _reauthorization_failed(auth, renewal)
    return renewed, failed


def _renewals_tried() -> QuerySet[PaymentTransaction]:
    """Re-authorizations that count as the one try: all but those refused for the rate limit (nothing done)."""
    return PaymentTransaction.objects.filter(action=Action.RE_AUTHORIZE).exclude(
        state=State.DECLINED, error_code=ErrorCode.RATE_LIMITED
    )


def _renewal_key(auth: PaymentTransaction) -> str:
    """`reauthorize:<row id>`; after refusals for the rate limit, a new request with a key of its own."""
    limited = PaymentTransaction.objects.filter(
        source=auth, action=Action.RE_AUTHORIZE, state=State.DECLINED, error_code=ErrorCode.RATE_LIMITED
    ).count()
    return f"reauthorize:{auth.pk}" if limited == 0 else f"reauthorize:{auth.pk}:{limited + 1}"


def _reauthorization_failed(auth: PaymentTransaction, renewal: PaymentTransaction) -> None:
    message = (
        f"The automatic re-authorization of {auth.money} on order {auth.order.number} (reference "
        f"{auth.provider_reference}) failed: {renewal.message or renewal.error_code}. The current authorization "
        f"lapses at {auth.expires_at:%Y-%m-%d %H:%M} UTC; capture it before then or ask the buyer to pay again."
    )
    notice_raise(key=f"reauthorization-failed:{auth.pk}", message=message, order=auth.order, level=Notice.Level.ERROR)
    email = auth.integration.settings.get("re_authorization_email")
    recipients = alert_recipients(integration=auth.integration, extra=(email,) if email else ())
    send_mail(f"Re-authorization failed: order {auth.order.number}", message, None, recipients)
    logger.warning("Re-authorization of transaction %s (order %s) failed", auth.pk, auth.order_id)


# --- reconcile ---------------------------------------------------------------------------------------------------


def transactions_due_for_reconcile(*, now: datetime | None = None, batch: int = BATCH) -> list[int]:
    now = now or timezone.now()
    return list(
        PaymentTransaction.objects.filter(needs_attention=False)
        .exclude(action=Action.RE_AUTHORIZE)  # a link row: settled with the renewal it links
        .filter(
            Q(
                state__in=(State.RESERVED, State.PROCESSING),
                next_reconcile_at__isnull=True,
                updated_at__lte=now - RECONCILE_FIRST_AFTER,
            )
            | Q(
                state=State.ACTION_REQUIRED,
                next_reconcile_at__isnull=True,
                updated_at__lte=now - ABANDONED_ACTION_AFTER,
            )
            | Q(state__in=(State.RESERVED, State.PROCESSING, State.ACTION_REQUIRED), next_reconcile_at__lte=now)
        )
        .order_by("updated_at")
        .values_list("id", flat=True)[:batch]
    )


def payment_reconcile(*, transaction_id: int) -> PaymentTransaction:
    """Settle an open row by asking the provider; re-send a follow-up it never received, with the same key.

    A row nobody can settle is flagged for staff with its provider reference after RECONCILE_MAX_ATTEMPTS.
    """
    txn = PaymentTransaction.objects.select_related("integration", "source", "order").get(pk=transaction_id)
    if not txn.is_open:
        return txn
    adapter = adapter_for(txn.integration)
    result: ProviderResult | None = None
    try:
        if adapter.supports(Capability.FETCH_STATUS):
            result = adapter.fetch_status(status_request(txn))
        if result is not None and result.error_code == NOT_FOUND and txn.state == State.RESERVED:
            result = _resend(txn, adapter)
    except ProviderUnavailable as exc:
        logger.warning("Reconcile of transaction %s (order %s): provider unavailable: %s", txn.pk, txn.order_id, exc)
        result = None
    if result is not None and result.outcome in (Outcome.SUCCEEDED, Outcome.DECLINED):
        return ledger_record(transaction_id=txn.pk, result=result, adapter=adapter)  # releases waiting events
    if result is not None and result.provider_reference and not txn.provider_reference:
        # still open, but now we know what the provider calls it: keep that, and let waiting events apply
        PaymentTransaction.objects.filter(pk=txn.pk, provider_reference="", state__in=OPEN_STATES).update(
            provider_reference=result.provider_reference
        )
        webhook_events_release(integration_id=txn.integration_id, references=[result.provider_reference])
    if (
        result is not None
        and result.outcome == Outcome.ACTION_REQUIRED
        and (txn.reason == "abandoned" or txn.invoice_id is not None)
    ):
        # The buyer left it (and ending it at the provider did not get through then: try again, same key), or left
        # an invoice's payment at the provider's page an hour ago: it is ended, and the invoice can be paid again.
        # (A checkout attempt's is ended by the attempts sweep, which also settles the attempt.)
        from payments.abandonment import payment_abandon  # that module builds on this one

        ended = payment_abandon(transaction_id=txn.pk)
        if not ended.is_open:
            return ended
    return _reconcile_later(txn)


def _resend(txn: PaymentTransaction, adapter) -> ProviderResult:  # noqa: ANN001
    """The provider never got the request: send it now, with the same key, so it happens exactly once.

    Purchases cannot be re-sent (the browser's token is gone): the buyer's attempt is recorded as failed.
    """
    calls: dict[str, Callable] = {
        Action.CAPTURE: adapter.capture,
        Action.CANCEL: adapter.cancel,
        Action.REFUND: adapter.refund,
        Action.ACTIVATE: adapter.activate,  # its invoice number and date are kept with the row
        Action.INVOICE: adapter.invoice,
    }
    call = calls.get(txn.action)
    if call is None or txn.source is None:
        return ProviderResult(
            Outcome.DECLINED,
            None,
            txn.money,
            error_code=NOT_FOUND,
            message="The payment request never reached the provider; no money moved.",
        )
    try:
        return call(follow_up_request(txn, txn.source, options=(txn.request or {}).get("shipment")))
    except UnsupportedOperation:
        return ProviderResult(Outcome.ERROR, None, txn.money, error_code=NOT_FOUND)


def _reconcile_later(txn: PaymentTransaction) -> PaymentTransaction:
    """Count the try and schedule the next, or flag the row for staff after the last one.

    Written without the order lock, so only while the row is still open: an answer recorded meanwhile (a webhook,
    the return page, under the lock) settled it, and a settled row is neither rescheduled nor flagged. The record
    writes only the columns its answer changes (`payments.ledger._save_with_source`), so what is written here to an
    open row is not undone by a record that read it before."""
    attempts = txn.reconcile_attempts + 1
    still_open = PaymentTransaction.objects.filter(pk=txn.pk, state__in=OPEN_STATES)
    if attempts >= RECONCILE_MAX_ATTEMPTS:
        flagged = still_open.update(reconcile_attempts=attempts, next_reconcile_at=None, needs_attention=True)
        if flagged:
            notice_raise(
                key=f"unsettled:{txn.pk}",
                level=Notice.Level.ERROR,
                order=txn.order,
                message=(
                    f"Order {txn.order.number}: the {txn.get_action_display().lower()} of {txn.money} could not "
                    f"be settled automatically (provider reference {txn.provider_reference or 'none'}, request key "
                    f"{txn.idempotency_key}). Check it in the provider's dashboard, then settle it on the order "
                    "page (Cancel the hold, or Mark resolved)."
                ),
            )
            logger.error(
                "Transaction %s of order %s needs attention after %s reconcile attempts", txn.pk, txn.order_id, attempts
            )
    else:
        delay = timedelta(minutes=min(2**attempts, 60))
        still_open.update(reconcile_attempts=attempts, next_reconcile_at=timezone.now() + delay)
    txn.refresh_from_db()
    return txn
