"""Applying verified provider events to the ledger, the same way for every provider.

An event arrives as `providers.base.WebhookEvent` with the movements it reports, in the order they happened
(authorized, captured, refunded …). Each movement is applied idempotently under the order lock:

* a movement we started is found by the idempotency key the provider echoes (or by its provider reference) and,
  if its row is still open (reserved, awaiting the buyer), completed through `ledger_record`; a final row is
  left alone, so a `payment_intent.succeeded` for a capture made from the order page adds nothing;
* a movement made outside our system (a capture or refund in the provider's dashboard) is recorded as a new row,
  keyed `webhook:<integration>:<action>:<provider reference>`, so the same movement can never be recorded twice;
* an event may imply earlier movements (a refund implies the capture), which are applied first;
* an event whose payment is not known yet (our answer was lost, or the event overtook it) waits: it is applied
  as soon as the payment learns its reference (`ledger_record` releases it, reconcile too when it only learns
  the reference, and the sweep `webhook_events_waiting_sweep` stands behind both), and a redelivery of it is
  processed again;
* an event the adapter marks `needs_details` (a refund list the provider no longer sends, a refund notification
  that names only the refund) is completed by the adapter (`webhook_event_complete`) once, before it is matched
  to its payment, and the completed event is kept; one the provider's details show cannot be applied
  (`UnreadableEvent`) is kept failed, as the webhook view keeps one it cannot read.

So duplicates and any delivery order end in the same ledger.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable
from dataclasses import replace
from datetime import datetime, timedelta
from decimal import Decimal
from functools import partial
from typing import NamedTuple

from django.conf import settings
from django.db import transaction
from django.db.models import Exists, F, OuterRef, Q, QuerySet
from django.utils import timezone

from integrations.adapters import adapter_for
from integrations.models import Integration
from notifications.models import Notice
from notifications.services import notice_raise
from orders.models import Order
from payments import abandonment, ledger
from payments.models import OPEN_STATES, Action, PaymentTransaction, State, WebhookEvent
from payments.operations import Taken
from payments.selectors import order_ledger_rows, taken_from_rows
from providers.base import (
    Adapter,
    Capability,
    ErrorCode,
    EventMovement,
    Money,
    MovementAction,
    Outcome,
    ProviderResult,
    ProviderUnavailable,
    UnreadableEvent,
)
from providers.base import WebhookEvent as ProviderEvent

logger = logging.getLogger(__name__)

CHARGE_ACTIONS = (Action.CHARGE, Action.PURCHASE)
FINAL = (WebhookEvent.Status.PROCESSED, WebhookEvent.Status.IGNORED, WebhookEvent.Status.FAILED)
#: providers retry an unanswered event for days (Stripe: three); one still without its payment then is not ours
WAITING_FOR = timedelta(days=3)
BATCH = 500


def webhook_event_process(*, webhook_event_id: int) -> WebhookEvent | None:
    """Apply one inbox row; running it again changes nothing."""
    row = WebhookEvent.objects.select_related("integration").filter(pk=webhook_event_id).first()
    if row is None:  # a message for a row that is gone (database reset): nothing to do
        logger.info("Webhook event %s no longer exists", webhook_event_id)
        return None
    if row.status in FINAL:
        return row
    # no longer waiting while it runs, so that what it records does not enqueue it a second time
    WebhookEvent.objects.filter(pk=row.pk).update(attempts=F("attempts") + 1, status=WebhookEvent.Status.RECEIVED)
    row.attempts += 1  # the row in hand says what this run wrote (`_finish` does not read it back)
    event = ProviderEvent.from_dict(row.event)
    if not event.movements and not event.needs_details:
        return _finish(row, WebhookEvent.Status.IGNORED, f"Nothing to apply for {event.type}.")
    adapter = adapter_for(row.integration)
    if event.needs_details:  # completed once, and kept: what it names now is no longer what the provider sent
        try:
            event = replace(adapter.webhook_event_complete(event), needs_details=False)
        except ProviderUnavailable as exc:  # the task retries it; the sweep leaves it to that retry meanwhile
            WebhookEvent.objects.filter(pk=row.pk).update(
                transient_failures=F("transient_failures") + 1,
                enqueued_at=timezone.now() + timedelta(seconds=settings.TASK_RETRY_COUNTDOWN_MAX),
                result=f"The provider could not be reached ({exc}); it is tried again automatically.",
            )
            raise
        except UnreadableEvent as exc:
            return _finish(row, WebhookEvent.Status.FAILED, str(exc))
        WebhookEvent.objects.filter(pk=row.pk).update(
            event=event.as_dict(), provider_reference=(event.provider_reference or "")[:255]
        )
        row.event, row.provider_reference = event.as_dict(), (event.provider_reference or "")[:255]
        if not event.movements:
            return _finish(row, WebhookEvent.Status.IGNORED, f"Nothing to apply for {event.type} any more.")
    payment = _payment_for(row.integration, event)
    if payment is None:
        known_as = f"reference {event.provider_reference}" + (
            f" or key {event.payment_key}" if event.payment_key else ""
        )
        row = _finish(
            row,
            WebhookEvent.Status.WAITING,
            f"No payment of this integration has {known_as} yet; the event is applied once it has.",
            payment_key=event.payment_key or "",
        )
        # The payment may have been recorded while this ran: its release looked for waiting events before this
        # one was waiting. Looking again after saying so closes that gap (otherwise only the sweep would).
        payment = _payment_for(row.integration, event)
        if payment is None:
            return row
        WebhookEvent.objects.filter(pk=row.pk).update(status=WebhookEvent.Status.RECEIVED)
    with transaction.atomic():
        rows = _OrderRows(ledger.lock_order(order_id=payment.order_id))
        notes = [
            _apply(movement, rows=rows, payment_id=payment.pk, event=event, adapter=adapter)
            for movement in event.movements
        ]
    return _finish(row, WebhookEvent.Status.PROCESSED, " ".join(notes))


def _finish(row: WebhookEvent, status: str, result: str, **fields: str) -> WebhookEvent:
    """Write the outcome; the row in hand is given the same values, as it was given this run's claim and completed
    event, so it is what the database holds without being read back."""
    values = {"status": status, "result": result, "processed_at": timezone.now(), **fields}
    WebhookEvent.objects.filter(pk=row.pk).update(**values)
    for name, value in values.items():
        setattr(row, name, value)
    return row


class _OrderRows:
    """The ledger rows of the order an event is about, read under its lock once and again only after something was
    written: the movements of a storm are mostly duplicates, or report what our own calls recorded already, and
    those are answered from this one read (each with its order, its integration and its source)."""

    def __init__(self, order: Order) -> None:
        self.order = order
        self._rows: dict[int, PaymentTransaction] | None = None

    def all(self) -> dict[int, PaymentTransaction]:
        if self._rows is None:
            rows, _ = order_ledger_rows(order_id=self.order.pk)
            for row in rows.values():
                row.order = self.order
                if row.source_id in rows:
                    row.source = rows[row.source_id]
            self._rows = rows
        return self._rows

    def written(self) -> None:
        """Something was written under the lock: the next look reads the rows afresh."""
        self._rows = None

    def get(self, pk: int) -> PaymentTransaction:
        return self.all()[pk]

    def children(self, source: PaymentTransaction, *actions: Action) -> list[PaymentTransaction]:
        """The rows made from `source` with one of these actions, oldest first."""
        found = [row for row in self.all().values() if row.source_id == source.pk and row.action in actions]
        return sorted(found, key=lambda row: row.pk)

    def taken(self, source: PaymentTransaction) -> Taken:
        return taken_from_rows([row.as_account_row() for row in self.all().values()], source_id=source.pk)

    def capturable(self, source: PaymentTransaction) -> Decimal:
        return ledger.capturable_amount(source, taken=self.taken(source))

    def refundable(self, source: PaymentTransaction) -> Decimal:
        return ledger.refundable_amount(source, taken=self.taken(source))

    def record(self, row: PaymentTransaction, result: ProviderResult, adapter: Adapter) -> None:
        """`ledger_record` in the event's transaction (which holds the order lock, and which any error of it ends:
        the event is then applied again, whole, by its retry)."""
        ledger.ledger_record(
            transaction_id=row.pk, result=result, adapter=adapter, order_id=self.order.pk, savepoint=False
        )
        self.written()


def webhook_events_release(
    *, integration_id: int, references: Iterable[str], keys: Iterable[str] = (), numbers: Iterable[str] = ()
) -> int:
    """Process again the events waiting for a payment that is now known by one of these references or keys, or
    for an object made from the offer of one of these order (invoice) numbers (`merchant_reference`).

    Called wherever a payment learns its reference (`ledger_record`, reconcile) or is ended while such an object
    may have reported in (`payments.abandonment`); the sweep catches the rest.
    """
    references = [r for r in references if r]
    keys = [k for k in keys if k]
    numbers = [n for n in numbers if n]
    if not references and not keys and not numbers:
        return 0
    matches = Q(provider_reference__in=references) | Q(payment_key__in=keys)
    if numbers:
        matches |= Q(event__merchant_reference__in=numbers)
    ids = list(
        WebhookEvent.objects.filter(integration_id=integration_id, status=WebhookEvent.Status.WAITING)
        .filter(matches)
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    _enqueue(ids)
    return len(ids)


def webhook_events_waiting_sweep(*, now: datetime | None = None) -> tuple[int, int]:
    """Process again the waiting events whose payment is known by now; give up on those waiting too long.

    Returns (enqueued, given up).
    """
    now = now or timezone.now()
    waiting = WebhookEvent.objects.filter(status=WebhookEvent.Status.WAITING)
    purchases = PaymentTransaction.objects.filter(integration_id=OuterRef("integration_id"))
    by_reference = purchases.filter(
        action__in=ledger.PURCHASE_ACTIONS, provider_reference=OuterRef("provider_reference")
    ).exclude(provider_reference="")
    by_key = purchases.filter(idempotency_key=OuterRef("payment_key")).exclude(idempotency_key="")
    ids = list(
        waiting.filter(Exists(by_reference) | Exists(by_key))
        .order_by("received_at", "pk")
        .values_list("pk", flat=True)[:BATCH]
    )
    _enqueue(ids)
    expired = (
        waiting.filter(received_at__lt=now - WAITING_FOR)
        .exclude(pk__in=ids)
        .update(
            status=WebhookEvent.Status.IGNORED,
            result=f"No payment of this integration matched it within {WAITING_FOR.days} days.",
            processed_at=now,
        )
    )
    return len(ids), expired


def _enqueue(ids: list[int]) -> None:
    from payments.tasks import webhook_event_process_task  # the tasks module imports this one

    for pk in ids:
        transaction.on_commit(partial(webhook_event_process_task.delay, pk))


def _payment_for(integration: Integration, event: ProviderEvent) -> _Payment | None:
    """The authorize or charge row the event is about: by an echoed key first, then by the key of the payment
    the provider carries in its metadata (the row may not know its provider reference yet, when the event
    overtakes our own call or our answer was lost), then by the provider reference.

    Only its id and its order's are read here, outside the lock: the row itself is read under it."""
    rows = PaymentTransaction.objects.filter(integration=integration).order_by()
    keys = [key for key in [movement.idempotency_key for movement in event.movements] + [event.payment_key] if key]
    if keys:
        by_key = {
            key: _Payment(pk, order_id, action, source_id)
            for key, pk, order_id, action, source_id in rows.filter(idempotency_key__in=keys).values_list(
                "idempotency_key", "pk", "order_id", "action", "source_id"
            )
        }
        for key in keys:
            found = by_key.get(key)
            while found is not None and found.action not in ledger.PURCHASE_ACTIONS:  # a child: its purchase
                found = _payment_by(rows.filter(pk=found.source_id)) if found.source_id else None
            if found is not None:
                return found
    if event.provider_reference:
        found = _payment_by(
            rows.filter(action__in=ledger.PURCHASE_ACTIONS, provider_reference=event.provider_reference).order_by("-pk")
        )
        if found is not None:
            return found
    if event.merchant_reference and event.movements and all(m.action in _MAKING for m in event.movements):
        # an object the provider made from our offer whose reference no payment knows (an Apruve order accepted in
        # a tab whose page never posted it back): the latest payment of our number that knows none. One still
        # waiting for the buyer learns it from the buyer's page or reconcile, which verify it with the provider:
        # the event waits for that. One ended meanwhile is the event's (`_complete_payment` releases the object).
        # Only for the movement that makes a payment: a cancel of another object with our number (one released
        # for an ended payment) must never end the offer that waits for the buyer
        number = event.merchant_reference
        latest = (
            rows.filter(action__in=ledger.PURCHASE_ACTIONS, provider_reference="")
            .filter(Q(invoice__isnull=True, order__number=number) | Q(invoice__number=number))
            .order_by("-pk")
            .values_list("pk", "order_id", "action", "source_id", "state")
            .first()
        )
        if latest is not None and latest[4] not in OPEN_STATES:
            return _Payment(*latest[:4])
    return None


#: movements that make a payment (what the offer waits for), as opposed to what happens to one made
_MAKING = (MovementAction.AUTHORIZE, MovementAction.CHARGE)
#: movements that take money: an event reporting one is never answered by a release (a cancel frees holds only)
_TAKING = (MovementAction.CHARGE, MovementAction.CAPTURE)


class _Payment(NamedTuple):
    pk: int
    order_id: int
    action: str
    source_id: int | None


def _payment_by(rows: QuerySet[PaymentTransaction]) -> _Payment | None:
    found = rows.values_list("pk", "order_id", "action", "source_id").first()
    return None if found is None else _Payment(*found)


def _apply(
    movement: EventMovement, *, rows: _OrderRows, payment_id: int, event: ProviderEvent, adapter: Adapter
) -> str:
    payment = rows.get(payment_id)
    action = movement.action
    if action in (MovementAction.AUTHORIZE, MovementAction.CHARGE) or (
        action == MovementAction.CAPTURE and payment.action in CHARGE_ACTIONS
    ):
        return _complete_payment(rows, payment, movement, event, adapter)
    if action == MovementAction.DECLINE:
        if not payment.is_open:
            return f"{payment.get_action_display()} already recorded."
        rows.record(
            payment,
            ProviderResult(
                Outcome.DECLINED,
                event.provider_reference,
                payment.money,
                error_code=ErrorCode.read(movement.error_code) or ErrorCode.CARD_DECLINED,
                message=movement.message,
                raw={"event": event.event_id},
            ),
            adapter,
        )
        return f"{payment.get_action_display()} declined ({movement.error_code})."
    if action == MovementAction.CAPTURE:
        note = _complete_payment(rows, payment, movement, event, adapter) if payment.is_open else ""
        payment = rows.get(payment_id)
        if payment.state == State.DECLINED:
            return _reported_after_decline(rows, payment, movement, event)
        if not payment.successful:
            return f"{note} Capture ignored: the authorization did not succeed.".strip()
        invoice = _invoice_captured(rows, payment, movement, event, adapter)
        return f"{note} {_apply_child(rows, invoice or payment, Action.CAPTURE, movement, event, adapter)}".strip()
    if action == MovementAction.CANCEL and (invoice := _invoice_named(rows, payment, movement, adapter)) is not None:
        ledger.ledger_invoice_void(
            transaction_id=invoice.pk, message=f"The invoice was canceled at the provider (event {event.event_id})."
        )
        rows.written()
        invoice = rows.get(invoice.pk)
        if invoice.state != State.DECLINED:
            return f"Invoice {invoice.money} was collected already; its cancel changes nothing."
        return f"Invoice {invoice.money} canceled at the provider: it is the authorization's again."
    if action == MovementAction.CANCEL and _names_an_invoice(movement, event, adapter):
        # an invoice made outside Paydesk (the provider's dashboard) was canceled: the order it billed still
        # stands at the provider, so the authorization is not canceled; nothing of ours changes
        return f"Invoice {movement.provider_reference} canceled at the provider: not one of ours, nothing changes."
    if action == MovementAction.CANCEL:
        if payment.is_open:  # never authorized as far as we know: the attempt ended
            rows.record(
                payment,
                ProviderResult(
                    Outcome.DECLINED,
                    event.provider_reference,
                    payment.money,
                    error_code=ErrorCode.CANCELED,
                    message="The payment was canceled before it completed.",
                    raw={"event": event.event_id},
                ),
                adapter,
            )
            return f"{payment.get_action_display()} canceled before it completed."
        if payment.action != Action.AUTHORIZE or not payment.successful:
            return "Cancel ignored: no successful authorization."
        return _apply_child(rows, payment, Action.CANCEL, movement, event, adapter)
    if action == MovementAction.REFUND_REVERSED:
        return _reverse_refund(rows, payment, movement, event, adapter)
    if action == MovementAction.DISPUTE:
        return _report_dispute(rows, payment, movement, event)
    if action == MovementAction.REFUND:
        source = _refund_source(rows, payment, event, movement, adapter)
        if source is None:
            return f"Refund {movement.provider_reference} ignored: no captured payment to refund."
        return _apply_child(rows, source, Action.REFUND, movement, event, adapter)
    return f"Movement {action} ignored."


def _invoice_named(
    rows: _OrderRows, payment: PaymentTransaction, movement: EventMovement, adapter: Adapter
) -> PaymentTransaction | None:
    """The invoice row a movement names: by our key (echoed), or by the invoice's own id, which is never the
    authorization's reference (an invoice whose answer was lost still carries that)."""
    if not adapter.supports(Capability.INVOICE):
        return None
    invoices = rows.children(payment, Action.INVOICE)
    if movement.idempotency_key and (
        row := _first(invoices, lambda invoice: invoice.idempotency_key == movement.idempotency_key)
    ):
        return row
    if movement.provider_reference and movement.provider_reference != payment.provider_reference:
        return _first(invoices, lambda invoice: invoice.provider_reference == movement.provider_reference)
    return None


def _first(rows: Iterable[PaymentTransaction], test: Callable[[PaymentTransaction], bool]) -> PaymentTransaction | None:
    return next((row for row in rows if test(row)), None)


def _names_an_invoice(movement: EventMovement, event: ProviderEvent, adapter: Adapter) -> bool:
    """The movement is about one invoice of the payment (Apruve's invoice.* events name the order as the event's
    reference and the invoice as the movement's), not about the payment itself."""
    return (
        adapter.supports(Capability.INVOICE)
        and bool(movement.provider_reference)
        and bool(event.provider_reference)
        and movement.provider_reference != event.provider_reference
    )


def _invoice_captured(
    rows: _OrderRows, payment: PaymentTransaction, movement: EventMovement, event: ProviderEvent, adapter: Adapter
) -> PaymentTransaction | None:
    """The invoice a capture collects (Apruve's invoice.closed names the invoice, and echoes our key of it): the
    capture is that invoice's child. An invoice whose own answer was lost is recorded first, from the event."""
    if not adapter.supports(Capability.INVOICE):
        return None
    invoices = [row for row in rows.children(payment, Action.INVOICE) if row.state != State.DECLINED]
    invoice = None
    if movement.idempotency_key:
        invoice = _first(invoices, lambda row: row.idempotency_key == movement.idempotency_key)
    invoice = invoice or _first(invoices, lambda row: row.provider_reference == movement.provider_reference)
    if invoice is not None and invoice.is_open:
        rows.record(
            invoice,
            ProviderResult(
                Outcome.SUCCEEDED, movement.provider_reference, invoice.money, raw={"event": event.event_id}
            ),
            adapter,
        )
        invoice = rows.get(invoice.pk)
    return invoice


def _report_dispute(
    rows: _OrderRows, payment: PaymentTransaction, movement: EventMovement, event: ProviderEvent
) -> str:
    """A chargeback: the ledger keeps what was paid (a dispute may be won), but the payment is flagged and staff
    are told at every change of the dispute's status, as only they can answer it at the provider (and refunds
    are refused while it is open)."""
    PaymentTransaction.objects.filter(pk=payment.pk).update(needs_attention=True)
    rows.written()
    status = movement.error_code or "open"
    notice_raise(
        key=f"dispute:{payment.integration_id}:{movement.provider_reference}:{status}"[:120],
        level=Notice.Level.ERROR,
        order=payment.order,
        message=(
            f"Order {payment.order.number}: the buyer's bank disputes {movement.amount} of the payment "
            f"{payment.provider_reference or payment.money} (dispute {movement.provider_reference}, "
            f"{movement.message}; event {event.event_id}). The money may be taken back: answer the dispute in the "
            "provider's dashboard."
        ),
    )
    logger.warning("Dispute %s (%s) on transaction %s", movement.provider_reference, status, payment.pk)
    return f"Dispute {movement.provider_reference} of {movement.amount} ({status}): flagged for staff."


def _reverse_refund(
    rows: _OrderRows, payment: PaymentTransaction, movement: EventMovement, event: ProviderEvent, adapter: Adapter
) -> str:
    """A refund the provider reports undone (voided, or failed after it answered "succeeded"): no money went
    back. Our own refund is found by its key too, as the event may overtake its answer (it is then recorded
    declined, and the answer finds it final)."""
    refunds = sorted(
        (
            row
            for row in rows.all().values()
            if row.integration_id == payment.integration_id and row.action == Action.REFUND
        ),
        key=lambda row: row.pk,
    )
    refund = None
    if movement.idempotency_key:
        refund = _first(refunds, lambda row: row.idempotency_key == movement.idempotency_key)
    refund = refund or _first(refunds, lambda row: row.provider_reference == movement.provider_reference)
    failed = ProviderResult.declined(
        ErrorCode.read(movement.error_code) or ErrorCode.REFUND_FAILED,
        f"{movement.message} (event {event.event_id})".strip(),
        amount=movement.amount,
        reference=movement.provider_reference,
        raw={"event": event.event_id, "type": event.type},
    )
    if refund is None:
        return f"Refund {movement.provider_reference} was undone before it was recorded: nothing to change."
    if refund.is_open:
        rows.record(refund, failed, adapter)
        return f"Refund {refund.money} undone at the provider before it was recorded: no money went back."
    ledger.ledger_refund_reverse(transaction_id=refund.pk, error_code=failed.error_code or "", message=failed.message)
    rows.written()
    return f"Refund {refund.money} undone at the provider: no money went back."


def _complete_payment(
    rows: _OrderRows, payment: PaymentTransaction, movement: EventMovement, event: ProviderEvent, adapter: Adapter
) -> str:
    if not payment.is_open:
        if payment.state == State.DECLINED and _releasable(payment, movement, event, adapter):
            return _release_late_acceptance(rows, payment, movement, event)
        if payment.state == State.DECLINED:
            return _reported_after_decline(rows, payment, movement, event)
        return f"{payment.get_action_display()} already recorded."
    # the amount the event reports for this payment, which recording compares with the row (a capture of an
    # authorization reports what was captured, not what was authorized: the row's own amount then)
    reports_payment = movement.action != MovementAction.CAPTURE or payment.action in CHARGE_ACTIONS
    rows.record(
        payment,
        ProviderResult(
            Outcome.SUCCEEDED,
            event.provider_reference or payment.provider_reference,
            movement.amount if reports_payment else payment.money,
            raw={"event": event.event_id, "type": event.type},
        ),
        adapter,
    )
    return f"{payment.get_action_display()} {payment.money} completed."


def _releasable(payment: PaymentTransaction, movement: EventMovement, event: ProviderEvent, adapter: Adapter) -> bool:
    """The provider reports a hold made for a payment the ledger ended because the buyer left it (accepted in
    another tab): the hold is released at the provider (`payments.abandonment`) rather than taken. Money taken
    (a charge, or a capture the same event reports after the authorization) is not: staff are told
    (`_reported_after_decline`)."""
    return (
        movement.action == MovementAction.AUTHORIZE
        and not any(m.action in _TAKING for m in event.movements)
        # the object made from the offer holds what the payment asked; one for another amount (matched by our
        # number only) is not that offer's, and is the merchant's to judge, never canceled here
        and movement.amount == payment.money
        and payment.action == Action.AUTHORIZE
        and adapter.supports(Capability.CANCEL)
        and abandonment.ended_by_abandonment(payment)
    )


def _release_late_acceptance(
    rows: _OrderRows, payment: PaymentTransaction, movement: EventMovement, event: ProviderEvent
) -> str:
    """Write the release of the hold under the event's lock; it is sent once the event's transaction commits (a
    message lost then leaves the row open for reconcile, which sends it)."""
    reference = movement.provider_reference or event.provider_reference or ""
    release, created = abandonment.late_acceptance_reserve(payment=payment, reference=reference, order=rows.order)
    rows.written()
    if release is None:
        return f"{movement.amount} reported for {reference} after the payment was ended: left to another payment."
    if created:
        transaction.on_commit(partial(_late_acceptance_cancel_later, release.pk), robust=True)
    return f"{payment.get_action_display()} ended, then made at the provider ({reference}): released there."


def _late_acceptance_cancel_later(release_id: int) -> None:
    from payments.tasks import late_acceptance_cancel_task  # the tasks module imports this one

    late_acceptance_cancel_task.delay(release_id)


def _reported_after_decline(
    rows: _OrderRows, payment: PaymentTransaction, movement: EventMovement, event: ProviderEvent
) -> str:
    """The provider reports money moved on a payment the ledger recorded declined. Nothing is rewritten (which
    answer is right is for staff to check at the provider), but it is never ignored: the row is flagged."""
    reference = movement.provider_reference or event.provider_reference or "none"
    label = payment.get_action_display().lower()
    PaymentTransaction.objects.filter(pk=payment.pk).update(needs_attention=True)
    rows.written()
    notice_raise(
        key=f"declined-but-reported:{payment.pk}",
        level=Notice.Level.ERROR,
        order=payment.order,
        message=(
            f"Order {payment.order.number}: the provider reports a {movement.action} of {movement.amount} "
            f"(reference {reference}, event {event.event_id}) on the {label} of {payment.money}, which is recorded "
            f"as declined ({payment.error_code or 'no code'}). Money may have moved: check it in the provider's "
            "dashboard."
        ),
    )
    logger.error("Event %s reports money moved on declined transaction %s", event.event_id, payment.pk)
    return f"{payment.get_action_display()} recorded as declined, but the provider reports it made; flagged for staff."


def _refund_source(
    rows: _OrderRows, payment: PaymentTransaction, event: ProviderEvent, refund: EventMovement, adapter: Adapter
) -> PaymentTransaction | None:
    """The charge or capture a refund returns: the capture a row standing for it already hangs on (ours, echoed,
    or recorded from an earlier event), else the capture the event names (of several named, as Wirecard's order
    details list every deposit beside credits that name none, the first it fits in), else the latest one it fits
    in. Never a second capture for a refund the ledger holds: it would be recorded twice."""
    if payment.action in CHARGE_ACTIONS:
        return payment if payment.successful else None
    captures = [row for row in reversed(rows.children(payment, Action.CAPTURE)) if row.state == State.SUCCEEDED]
    for capture in captures:
        if _known_child(rows.children(capture, Action.REFUND), capture, Action.REFUND, refund, adapter) is not None:
            return capture
    named = [movement.provider_reference for movement in event.movements if movement.action == MovementAction.CAPTURE]
    named_captures = [capture for reference in named for capture in captures if capture.provider_reference == reference]
    fits = partial(_fits, rows, refund)
    if named_captures:
        return _first(named_captures, fits) or named_captures[0]
    return _first(captures, fits) or (captures[0] if captures else None)


def _fits(rows: _OrderRows, refund: EventMovement, capture: PaymentTransaction) -> bool:
    return rows.refundable(capture) >= refund.amount.amount


def _webhook_key(source: PaymentTransaction, action: Action, movement: EventMovement) -> str:
    return f"webhook:{source.integration_id}:{action.value}:{movement.provider_reference}"


def _match_child(
    rows: _OrderRows,
    source: PaymentTransaction,
    action: Action,
    movement: EventMovement,
    adapter: Adapter,
    event: ProviderEvent,
) -> PaymentTransaction | None:
    """The row that already stands for this movement, if any."""
    children = rows.children(source, action)
    if row := _known_child(children, source, action, movement, adapter):
        return row
    # our own request whose answer was lost and whose key the provider did not echo: same amount, still open. Not
    # one whose key another movement of the event echoes: that movement is the row's own (Stripe lists a charge's
    # refunds, ours with our key, beside one of the same amount made in its dashboard)
    claimed = {other.idempotency_key for other in event.movements if other.idempotency_key and other != movement}
    return _first(
        children,
        lambda row: (
            row.state in OPEN_STATES
            and row.amount == movement.amount.amount
            and row.idempotency_key not in claimed
            and adapter.echoed_key(row.idempotency_key) not in claimed
        ),
    )


def _known_child(
    children: list[PaymentTransaction],
    source: PaymentTransaction,
    action: Action,
    movement: EventMovement,
    adapter: Adapter,
) -> PaymentTransaction | None:
    """Of `children` (of `source`, with `action`), the row the movement names: by our key (echoed as it is, or as
    the provider's digest of it), by its reference, or by the key a movement made outside Paydesk was recorded
    with; not by amount."""
    if movement.idempotency_key:
        if row := _first(children, lambda row: row.idempotency_key == movement.idempotency_key):
            return row
        # a provider that gives back a digest of our key
        if row := _first(children, lambda row: adapter.echoed_key(row.idempotency_key) == movement.idempotency_key):
            return row
    if row := _first(
        children, lambda row: row.provider_reference == movement.provider_reference and row.state != State.DECLINED
    ):
        return row
    key = _webhook_key(source, action, movement)
    return _first(children, lambda row: row.idempotency_key == key)


def _apply_child(
    rows: _OrderRows,
    source: PaymentTransaction,
    action: Action,
    movement: EventMovement,
    event: ProviderEvent,
    adapter: Adapter,
) -> str:
    label = action.label
    row = _match_child(rows, source, action, movement, adapter, event)
    if row is not None:
        if not row.is_open:
            return f"{label} {row.money} already recorded."
        rows.record(  # with the amount the provider reports, which recording compares with the row
            row,
            ProviderResult(
                Outcome.SUCCEEDED,
                movement.provider_reference,
                movement.amount if action in (Action.CAPTURE, Action.REFUND) else row.money,
                raw={"event": event.event_id},
            ),
            adapter,
        )
        return f"{label} {row.money} completed."
    # one capture per authorization at such a provider; where it bills by invoices (Apruve), each invoice paid is
    # a capture of its own (keyed by the invoice's id), also those made in the provider's dashboard
    by_invoices = adapter.supports(Capability.INVOICE) and source.action == Action.AUTHORIZE
    if action == Action.CAPTURE and not adapter.supports(Capability.MULTIPLE_CAPTURE) and not by_invoices:
        if any(row.state == State.SUCCEEDED for row in rows.children(source, Action.CAPTURE)):
            return f"{label} already recorded."  # one capture per authorization at this provider
    if action == Action.CANCEL:
        left = rows.capturable(source)
        # an invoice still waiting for its answer (Apruve) speaks for its amount as a capture does
        in_flight = any(row.state in OPEN_STATES for row in rows.children(source, Action.CAPTURE, Action.INVOICE))
        if left <= 0 and source.active and in_flight:
            # the rest is spoken for by captures still at the provider; the void let go of it all the same
            ledger.ledger_hold_released(
                transaction_id=source.pk,
                message=f"Voided at the provider, outside Paydesk (event {event.event_id}); nothing is held "
                "for the captures still waiting for an answer.",
            )
            rows.written()
            return "Voided at the provider beside captures still open: the authorization is closed."
        if left <= 0:
            return "Nothing left to cancel."
        amount = Money(left, source.currency)
    else:
        amount = movement.amount
    if amount.currency != source.currency or amount.amount <= 0:
        return f"{label} {amount} ignored: it does not fit the payment ({source.money})."
    if action == Action.REFUND and amount.amount > (refundable := rows.refundable(source)):
        # money went back at the provider beyond what the ledger says is left: never recorded as if it fitted
        text = (
            f"Order {source.order.number}: the provider reports a refund of {amount} (reference "
            f"{movement.provider_reference}, event {event.event_id}) on a payment with only "
            f"{refundable} {source.currency} left to refund. Check it in the provider's dashboard."
        )
        notice_raise(
            key=f"refund-mismatch:{event.event_id}:{movement.provider_reference}"[:120],
            message=text,
            order=source.order,
            level=Notice.Level.ERROR,
        )
        logger.error("Webhook refund %s does not fit transaction %s", movement.provider_reference, source.pk)
        return f"{label} {amount} not recorded: more than is left to refund; flagged for staff."
    row = ledger.reserve_child(  # under the order lock the key was looked for above: no savepoint needed
        source,
        action,
        amount,
        key=_webhook_key(source, action, movement),
        fingerprint=ledger.request_fingerprint("webhook", source.pk, action.value, movement.provider_reference),
        actor=None,
        note=f"Made at the provider, outside Paydesk; recorded from event {event.event_id}.",
        order=rows.order,
        savepoint=False,
    )
    rows.written()
    rows.record(
        row,
        ProviderResult(
            Outcome.SUCCEEDED, movement.provider_reference, amount, raw={"event": event.event_id, "type": event.type}
        ),
        adapter,
    )
    return f"{label} {amount} made outside Paydesk recorded."


# --- the inbox sweep ----------------------------------------------------------------------------------------------

#: an event still unprocessed this long after it arrived (or was last enqueued) lost its message: send it again.
#: Processing takes milliseconds; the age only has to outlast a busy queue.
REQUEUE_AFTER = timedelta(minutes=2)
REQUEUE_BATCH = 500
#: runs that started and never finished (each counts in `attempts`) before an event is left to staff: a fault in
#: its processing, not a lost message
REQUEUE_MAX_ATTEMPTS = 8


def webhook_events_requeue(*, now: datetime | None = None, batch: int = REQUEUE_BATCH) -> list[int]:
    """Claim inbox rows left unprocessed past REQUEUE_AFTER, for the beat task to enqueue again.

    Their message was never published (broker down when the event arrived) or is held by a worker that died
    (Redis gives it back only after the visibility timeout). Running an event twice is harmless, so a row whose
    message was only slow costs one more idempotent run. `skip_locked` lets two sweeps run at once.
    """
    now = now or timezone.now()
    cutoff = now - REQUEUE_AFTER
    left = (
        WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED)
        .filter(Q(enqueued_at__isnull=True, received_at__lte=cutoff) | Q(enqueued_at__lte=cutoff))
        .alias(unfinished=F("attempts") - F("transient_failures"))
    )
    given_up = left.filter(unfinished__gte=REQUEUE_MAX_ATTEMPTS).update(
        status=WebhookEvent.Status.FAILED,
        result=f"Processing started {REQUEUE_MAX_ATTEMPTS} times and never finished; see the worker's log.",
    )
    if given_up:
        logger.error("%s webhook event(s) failed %s times and are left for staff", given_up, REQUEUE_MAX_ATTEMPTS)
    with transaction.atomic():
        due = (
            left.select_for_update(skip_locked=True)
            .filter(unfinished__lt=REQUEUE_MAX_ATTEMPTS)
            .order_by("received_at", "id")
            .values_list("id", flat=True)[:batch]
        )
        ids = list(due)
        WebhookEvent.objects.filter(pk__in=ids).update(enqueued_at=now)
    return ids
