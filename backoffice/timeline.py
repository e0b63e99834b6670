"""One timeline of an order for staff: payment operations, webhook events, staff notes, payment status changes and
the e-mails sent to the buyer, oldest first.

Status changes are not stored apart: they follow from the ledger, so they are replayed from its rows in the order
they were written (a hold counts as open until the row that closed it), with the status rules of
`payments.status`. At most four queries, whatever the number of rows (three when the caller hands over the rows).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import Q
from django.utils import timezone
from django.utils.formats import date_format

from core.money import format_money
from core.status import PaymentStatus
from notifications.models import BuyerEmail
from orders.models import Order, OrderNote
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from payments.status import LedgerEntry, payment_status

#: what a row's state means, in plain words
RESULT_WORDS = {
    State.RESERVED: "waiting for the provider's answer",
    State.ACTION_REQUIRED: "waiting for the buyer",
    State.PROCESSING: "processing at the provider",
    State.SUCCEEDED: "done",
    State.DECLINED: "declined",
}
#: what each action did, in plain words
ACTION_WORDS = {
    Action.VALIDATE: "Card checked",
    Action.AUTHORIZE: "Payment authorized",
    Action.RE_AUTHORIZE: "Authorization renewed",
    Action.CHARGE: "Payment charged",
    Action.CAPTURE: "Payment captured",
    Action.PURCHASE: "Payment",
    Action.INVOICE: "Invoiced",
    Action.PENDING: "Payment promised",
    Action.CANCEL: "Authorization canceled",
    Action.REFUND: "Refund",
    Action.ACTIVATE: "Activated",
    Action.SHIPMENT: "Shipment",
    Action.RELEASE: "Uncaptured rest released by the provider",
}
#: children that close the hold of their source
_CLOSING = frozenset({Action.CAPTURE, Action.CANCEL, Action.RELEASE})


@dataclass(frozen=True, slots=True)
class TimelineEntry:
    when: datetime
    kind: str  # payment | webhook | note | status | email
    title: str
    detail: str = ""
    who: str = ""

    @property
    def kind_label(self) -> str:
        return KIND_LABELS.get(self.kind, self.kind)


KIND_LABELS = {"payment": "Payment", "webhook": "Provider", "note": "Note", "status": "Status", "email": "E-mail"}


def compact_time(moment: datetime) -> str:
    """ "Nov 30, 14:05" this year, "Nov 30 2025, 14:05" before: short enough for a table cell."""
    local = timezone.localtime(moment)
    if local.year == timezone.localtime().year:
        return date_format(local, "M j, H:i")
    return date_format(local, "M j Y, H:i")


def action_words(txn: PaymentTransaction) -> str:
    """What a ledger row did, in plain words, with "(invoice)" for the payments of an invoice."""
    words = (
        ACTION_WORDS.get(Action(txn.action), txn.get_action_display()) if txn.action in Action.values else txn.action
    )
    return f"{words} (invoice)" if txn.invoice_id else words


def result_words(txn: PaymentTransaction) -> str:
    words = RESULT_WORDS.get(State(txn.state), txn.get_state_display()) if txn.state in State.values else txn.state
    if txn.state == State.DECLINED and (txn.message or txn.error_code):
        return f"{words}: {txn.message or txn.error_code}"
    return words


def _who(user: object) -> str:
    if user is None:
        return "System"
    return user.get_full_name() or user.get_username()  # type: ignore[attr-defined]


def order_timeline(
    *, order: Order, payments: bool = True, rows: list[PaymentTransaction] | None = None
) -> list[TimelineEntry]:
    """The order's timeline; without `payments` (staff who may not see the payment history) only the staff notes
    and the e-mails sent: no ledger row, provider reference, refund remark or provider event. `rows` are the
    order's ledger rows, oldest first with their actors, when the caller has read them already (the order page)."""
    if not payments:
        entries = _notes_and_emails(order)
        entries.sort(key=lambda entry: entry.when)
        return entries
    if rows is None:
        rows = list(
            PaymentTransaction.objects.filter(order_id=order.pk).select_related("actor").order_by("created_at", "id")
        )
    entries = [
        TimelineEntry(
            when=txn.created_at,
            kind="payment",
            title=f"{action_words(txn)}: {format_money(txn.money)}",
            detail=" · ".join(part for part in (result_words(txn), txn.provider_reference, txn.note) if part),
            who=_who(txn.actor),
        )
        for txn in rows
    ]
    entries += _status_changes(rows, order)
    references = {txn.provider_reference for txn in rows if txn.provider_reference}
    keys = {txn.idempotency_key for txn in rows}
    integrations = {txn.integration_id for txn in rows}
    if integrations:
        events = WebhookEvent.objects.filter(integration_id__in=integrations).filter(
            Q(provider_reference__in=references) | Q(payment_key__in=keys)
        )
        entries += [
            TimelineEntry(
                when=event.received_at,
                kind="webhook",
                title=f"Provider event {event.event_type}: {event.get_status_display().lower()}",
                detail=event.result,
                who="Provider",
            )
            for event in events.order_by("received_at", "id")[:200]
        ]
    entries += _notes_and_emails(order)
    entries.sort(key=lambda entry: entry.when)
    return entries


def _notes_and_emails(order: Order) -> list[TimelineEntry]:
    entries = [
        TimelineEntry(when=note.created_at, kind="note", title="Note", detail=note.text, who=_who(note.author))
        for note in OrderNote.objects.filter(order_id=order.pk).select_related("author")
    ]
    entries += [
        TimelineEntry(
            when=email.sent_at or email.created_at,
            kind="email",
            title=f"E-mail to the buyer: {email.subject or email.get_kind_display()}",
            detail=(f"Sent to {email.recipient}" if email.sent_at else "Not sent yet")
            + (f" ({email.language})" if email.language else ""),
            who="System",
        )
        for email in BuyerEmail.objects.filter(order_id=order.pk).order_by("created_at", "id")
    ]
    return entries


def _status_changes(rows: list[PaymentTransaction], order: Order) -> list[TimelineEntry]:
    """The payment status after each row, replayed: a row that is closed now counted as open until its closing
    child was written, so an authorization shows as "authorized" before its capture made the order paid."""
    closed_by: dict[int, int] = {}  # source id -> index of the first row that closed it
    for index, txn in enumerate(rows):
        if txn.source_id is not None and txn.action in _CLOSING and txn.state == State.SUCCEEDED:
            closed_by.setdefault(txn.source_id, index)
    changes: list[TimelineEntry] = []
    previous = PaymentStatus.PENDING.value
    for index, txn in enumerate(rows):
        prefix = rows[: index + 1]
        entries = [
            _entry(row, active=row.active or (row.successful and closed_by.get(row.pk, len(rows)) > index))
            for row in prefix
        ]
        status = payment_status(entries, order.total).value
        if status != previous:
            changes.append(
                TimelineEntry(
                    when=txn.created_at, kind="status", title=f"Payment status: {PaymentStatus(status).label}"
                )
            )
            previous = status
    # a hold that lapsed or was let go writes no row: the replay counts it open to the end, so the status the rows
    # have now (the order's) closes the timeline when it differs, at the time the last row changed
    now_status = payment_status([_entry(row, active=row.active) for row in rows], order.total).value
    if rows and now_status != previous:
        changes.append(
            TimelineEntry(
                when=max(row.updated_at for row in rows),
                kind="status",
                title=f"Payment status: {PaymentStatus(now_status).label}",
            )
        )
    return changes


def _entry(row: PaymentTransaction, *, active: bool) -> LedgerEntry:
    return LedgerEntry(
        id=row.pk,
        action=row.action,
        amount=row.amount,
        successful=row.successful,
        active=active,
        source_id=row.source_id,
        reference=row.provider_reference or None,
    )
