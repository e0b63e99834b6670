"""The ledger: the one place that writes `PaymentTransaction` rows and the payment status that follows from them.

Every money movement takes three steps (DESIGN.md), and this module holds what the steps share:

1. `lock_order`, then `replay` (a repeat of the same request finds its row), then `reserve` / `reserve_child`
   (the row is written, with its idempotency key, before the provider is called);
2. the provider call, made by the services with no transaction open, from `follow_up_request` /
   `status_request`;
3. `ledger_record` under the lock again: the first answer wins, closes the source it acted on (and a renewal's
   link), and refreshes the order's and the invoice's payment status in the same transaction.

What is left to capture or refund is computed from the rows under the lock (`capturable_amount`,
`refundable_amount`), by the same rules the back-office offers from (`payments.operations`). Services,
webhooks, sweeps and the back-office use the public names here; nothing else writes ledger rows.
"""

from __future__ import annotations

import hashlib
import logging
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Case, F, Q, Sum, Value, When
from django.utils import timezone

from integrations.adapters import adapter_for, method_for
from integrations.models import Integration
from notifications.emails import buyer_email_queue
from notifications.models import BuyerEmail, Notice
from notifications.services import endpoints_listening, notice_raise, payment_status_changed
from orders.models import INVOICE_PAID_STATUSES, Invoice, Order, PaymentStatus
from payments.account import AccountRow, account_from_rows
from payments.exceptions import PaymentRefused
from payments.models import OPEN_STATES, Action, PaymentTransaction, ScheduledCapture, State
from payments.money import format_money, quantize
from payments.operations import CAPTURE_SOURCES, REFUND_SOURCES, Taken, allowed_operations
from payments.selectors import taken_from_rows
from payments.status import LedgerEntry, amount_paid, payment_status
from payments.validations import validation_record
from providers import registry
from providers.base import (
    Adapter,
    Capability,
    ErrorCode,
    FollowUpRequest,
    MethodInfo,
    Money,
    Outcome,
    ProviderResult,
    StatusRequest,
    scrub,
)

logger = logging.getLogger(__name__)

__all__ = [
    "AMOUNT_CHECKED_ACTIONS",
    "CAPTURE_SOURCES",
    "MONEY_IN_ACTIONS",
    "PURCHASE_ACTIONS",
    "REFUND_SOURCES",
    "capabilities_of",
    "capturable_amount",
    "children_taken",
    "follow_up_request",
    "invoice_payment_status_refresh",
    "ledger_hold_released",
    "ledger_invoice_void",
    "ledger_record",
    "ledger_refund_reverse",
    "lock_order",
    "lock_order_of",
    "order_id_of",
    "order_payment_status_refresh",
    "refundable_amount",
    "replay",
    "request_fingerprint",
    "reserve",
    "reserve_child",
    "reserve_replayed",
    "reserve_replayed_before",
    "schedule_to_renewal",
    "shipment_captures_schedule",
    "source_read",
    "status_refresh_after_reserve",
    "status_request",
    "transaction_method",
]

#: actions that bring money in, at most once per order (a new attempt needs the last one to have failed)
PURCHASE_ACTIONS = (Action.AUTHORIZE, Action.CHARGE, Action.PENDING, Action.PURCHASE)
#: purchases whose success holds or takes money
MONEY_IN_ACTIONS = (Action.AUTHORIZE, Action.CHARGE, Action.PURCHASE)


def lock_order(*, order_id: int) -> Order:
    """SELECT … FOR UPDATE on the order row: the only lock money movements take, so locks never cross."""
    return Order.objects.select_for_update(of=("self",)).get(pk=order_id)


def lock_order_of(*, transaction_id: int) -> Order:
    """The order lock taken through one of its rows, in one statement (no separate look-up of the order's id);
    an unknown row is refused, not a server error."""
    try:
        return Order.objects.select_for_update(of=("self",)).get(transactions=transaction_id)
    except Order.DoesNotExist as exc:
        raise PaymentRefused("unknown_transaction", "This payment transaction does not exist.") from exc


def order_id_of(transaction_id: int) -> int:
    """The order whose lock a movement on this row takes; an unknown row is refused, not a server error."""
    try:
        return PaymentTransaction.objects.values_list("order_id", flat=True).get(pk=transaction_id)
    except PaymentTransaction.DoesNotExist as exc:
        raise PaymentRefused("unknown_transaction", "This payment transaction does not exist.") from exc


def source_read(source_id: int) -> PaymentTransaction:
    """The source row, read after the order lock so its children are current."""
    return PaymentTransaction.objects.select_related("integration", "order").get(pk=source_id)


def capabilities_of(integration: Integration) -> frozenset[Capability]:
    """What the integration's provider can do; class attributes, so no secret is decrypted to know it."""
    try:
        return registry.adapter_class(integration.provider_key).capabilities
    except KeyError:  # the provider's package is not installed here
        return frozenset()


def children_taken(source: PaymentTransaction) -> Taken:
    """What the source's children took or may still take (successful and open rows), in one query."""
    counted = source.children.filter(Q(state=State.SUCCEEDED) | Q(state__in=OPEN_STATES))
    sums = counted.aggregate(
        captured=Sum("amount", filter=Q(action=Action.CAPTURE)),
        canceled=Sum("amount", filter=Q(action=Action.CANCEL)),
        refunded=Sum("amount", filter=Q(action=Action.REFUND)),
        activated=Sum("amount", filter=Q(action=Action.ACTIVATE)),
        invoiced=Sum("amount", filter=Q(action=Action.INVOICE)),
    )
    zero = Decimal("0")
    return Taken(
        captured=sums["captured"] or zero,
        canceled=sums["canceled"] or zero,
        refunded=sums["refunded"] or zero,
        activated=sums["activated"] or zero,
        invoiced=sums["invoiced"] or zero,
    )


def capturable_amount(source: PaymentTransaction, *, taken: Taken | None = None) -> Decimal:
    """What is left of an authorization (or pending promise): captures and cancels, open ones too, count.
    `taken`: what its children took, when the caller has the rows (`taken_from_rows`); else they are read."""
    if source.action not in CAPTURE_SOURCES or not (source.successful and source.active):
        return quantize(Decimal("0"), source.currency)  # no need to read children or capabilities
    taken = children_taken(source) if taken is None else taken
    return allowed_operations(source, taken=taken, capabilities=capabilities_of(source.integration)).capturable


def refundable_amount(source: PaymentTransaction, *, taken: Taken | None = None) -> Decimal:
    """What is left to refund of a charge or capture: refunds, open ones too, count.
    `taken`: what its children took, when the caller has the rows (`taken_from_rows`); else they are read."""
    if source.action not in REFUND_SOURCES or not source.successful:
        return quantize(Decimal("0"), source.currency)
    taken = children_taken(source) if taken is None else taken
    return allowed_operations(source, taken=taken, capabilities=()).refundable


def _ledger_entries(rows: Any) -> list[LedgerEntry]:
    """The rows as the payment status rules read them."""
    values = rows.values_list("id", "action", "amount", "successful", "active", "source_id", "provider_reference")
    return [
        LedgerEntry(id=i, action=a, amount=amt, successful=s, active=act, source_id=src, reference=ref or None)
        for i, a, amt, s, act, src, ref in values
    ]


def order_payment_status_refresh(
    *,
    order: Order,
    cause: PaymentTransaction | None = None,
    rows: list[AccountRow] | None = None,
    listening: bool = True,
) -> PaymentStatus:
    """Recompute and store the status; called inside the transaction of every ledger change.

    A change is announced to subscribed endpoints (notifications), in the same transaction. `rows`: the order's
    rows as they stand after the change, read by the caller under the lock (`order_account_rows`, or the rows
    `ledger_record` read with its change applied, `PaymentTransaction.as_account_row`). `listening`: False when
    the caller's read under the lock found no active endpoint (`endpoints_listening`).
    """
    if rows is None:
        entries = _ledger_entries(PaymentTransaction.objects.filter(order_id=order.pk))
    else:
        entries = [
            LedgerEntry(
                id=r.id,
                action=r.action,
                amount=r.amount,
                successful=r.successful,
                active=r.active,
                source_id=r.source_id,
                reference=r.reference,
            )
            for r in rows
        ]
    status = payment_status(entries, order.total)
    if status != order.payment_status:
        previous = order.payment_status
        Order.objects.filter(pk=order.pk).update(payment_status=status)
        order.payment_status = status
        payment_status_changed(
            order=order,
            previous=previous,
            status=status,
            amount_paid=amount_paid(entries),
            transaction_id=cause.pk if cause else None,
            transaction_action=cause.action if cause else "",
            transaction_amount=cause.amount if cause else None,
            listening=listening,
        )
    if cause is not None:
        _buyer_emails_queue(order, cause, status)
    return status


#: statuses in which the order still holds or has the buyer's money: a lapsed authorization is no failure then
_STILL_PAYING = frozenset(
    {
        PaymentStatus.FULL,
        PaymentStatus.PARTIALLY,
        PaymentStatus.AUTHORIZED,
        PaymentStatus.AUTHORIZED_PARTIALLY,
        PaymentStatus.INVOICED,
    }
)


def _buyer_emails_queue(order: Order, cause: PaymentTransaction, status: str) -> None:
    """The buyer's e-mails that a recorded ledger change calls for, queued in its transaction (sent after commit,
    once per order, kind and row however often the change is recorded again)."""
    succeeded = cause.state == State.SUCCEEDED
    if succeeded and cause.source_id is None and cause.action in (*PURCHASE_ACTIONS, Action.INVOICE):
        buyer_email_queue(order=order, kind=BuyerEmail.Kind.ORDER_CONFIRMATION)
    if succeeded and cause.action in (Action.CAPTURE, Action.CHARGE, Action.PURCHASE):
        buyer_email_queue(order=order, kind=BuyerEmail.Kind.PAYMENT_RECEIPT, key=f"txn:{cause.pk}", amount=cause.amount)
    elif succeeded and cause.action == Action.REFUND:
        buyer_email_queue(order=order, kind=BuyerEmail.Kind.REFUND_NOTICE, key=f"txn:{cause.pk}", amount=cause.amount)
    elif (
        cause.action == Action.AUTHORIZE
        and cause.successful
        and not cause.active
        and cause.expires_at is not None  # only the expiry sweep records an authorization as lapsed
        and status not in _STILL_PAYING
    ):
        buyer_email_queue(order=order, kind=BuyerEmail.Kind.PAYMENT_FAILED, key=f"txn:{cause.pk}", amount=cause.amount)


def invoice_payment_status_refresh(*, invoice_id: int) -> PaymentStatus:
    """Recompute an invoice's payment status over its own rows; an open invoice paid by it becomes paid.

    Called under the order lock, in the transaction of every ledger change of a row tagged with the invoice.
    """
    invoice = Invoice.objects.get(pk=invoice_id)
    entries = _ledger_entries(PaymentTransaction.objects.filter(invoice_id=invoice_id))
    status = payment_status(entries, invoice.amount)
    fields: dict[str, str] = {"payment_status": status}
    if invoice.status == Invoice.Status.OPEN and status in INVOICE_PAID_STATUSES:
        fields["status"] = Invoice.Status.PAID
        buyer_email_queue(
            order=invoice.order,
            kind=BuyerEmail.Kind.INVOICE_PAID,
            key=f"invoice:{invoice.pk}",
            amount=invoice.amount,
            invoice_number=invoice.number,
        )
    Invoice.objects.filter(pk=invoice_id).update(**fields)
    return status


def request_fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def replay(key: str, fingerprint: str) -> PaymentTransaction | None:
    """The row an earlier request with this key made; refused if that request asked for something else."""
    existing = PaymentTransaction.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.fingerprint != fingerprint:
        raise PaymentRefused(
            "idempotency_key_reused", "This request key was already used for a different payment operation."
        )
    return existing


def reserve_replayed_before(**fields: Any) -> PaymentTransaction:
    """`reserve` for a caller that has replayed the key under the order lock, without the savepoint's two round
    trips: a duplicate key can then only come from a row of another order written meanwhile, and its
    IntegrityError ends the caller's transaction, which replays the key after it (`reserve_replayed`)."""
    return PaymentTransaction.objects.create(state=State.RESERVED, active=True, successful=False, **fields)


def reserve(**fields: Any) -> PaymentTransaction:
    """Write the row before the provider is called: open (active), not successful."""
    try:
        with transaction.atomic():  # a savepoint, so a duplicate key leaves the outer transaction usable
            return PaymentTransaction.objects.create(state=State.RESERVED, active=True, successful=False, **fields)
    except IntegrityError:
        existing = replay(fields["idempotency_key"], fields["fingerprint"])
        if existing is None:
            raise
        return existing


def reserve_replayed(key: str, fingerprint: str) -> PaymentTransaction:
    """After a transaction that reserved without a savepoint failed on the unique key: the row that holds the key,
    or the key is reused (refused)."""
    existing = replay(key, fingerprint)
    if existing is None:
        raise PaymentRefused("idempotency_key_reused", "This request key is already being used for another payment.")
    return existing


def status_refresh_after_reserve(*, order: Order, txn: PaymentTransaction) -> None:
    """A reserved row is open and not successful: of the status rules it changes only "declined" (every row
    failed) back to pending, and it queues no e-mail. Any other status stays, so the refresh is skipped."""
    if order.payment_status == PaymentStatus.DECLINED:
        order_payment_status_refresh(order=order, cause=txn)


def reserve_child(
    source: PaymentTransaction,
    action: Action,
    amount: Money,
    *,
    key: str,
    fingerprint: str,
    actor: User | None,
    note: str = "",
    reason: str = "",
    order: Order | None = None,
    savepoint: bool = True,
    provider_reference: str | None = None,
) -> PaymentTransaction:
    """A capture, cancel or refund of `source`, reserved under the lock of `order` (its order, locked);
    `savepoint=False` after the key was replayed under that lock (`reserve_replayed_before`).
    `provider_reference`: the provider's object it acts on, when not the source's (a release of an object the
    provider made after its payment was ended, which the ended row never learnt: `payments.abandonment`)."""
    txn = (reserve if savepoint else reserve_replayed_before)(
        order_id=source.order_id,
        invoice_id=source.invoice_id,  # a capture or refund of an invoice payment belongs to that invoice too
        source=source,
        integration=source.integration,
        payment_method=source.payment_method,
        action=action,
        amount=amount.amount,
        currency=amount.currency,
        provider_reference=source.provider_reference if provider_reference is None else provider_reference,
        idempotency_key=key,
        fingerprint=fingerprint,
        actor=actor,
        note=note,
        reason=reason,
        request={"action": action.value, "amount": str(amount.amount), "reason": reason},
    )
    status_refresh_after_reserve(order=order or source.order, txn=txn)
    return txn


def ledger_record(
    *,
    transaction_id: int,
    result: ProviderResult,
    adapter: Adapter | None = None,
    order_id: int | None = None,
    savepoint: bool = True,
) -> PaymentTransaction:
    """Record a provider's answer under the order lock; the first answer wins, later ones find the row final.

    Return pages, webhooks and reconcile come through here too. `order_id`, when the caller knows the row's order,
    saves looking it up; `savepoint=False` records in the caller's transaction without a savepoint of its own
    (an error then ends the caller's transaction, and the row stays open for reconcile).
    """
    with transaction.atomic(savepoint=savepoint):
        if order_id is None:
            try:
                order = Order.objects.select_for_update(of=("self",)).get(transactions=transaction_id)
            except Order.DoesNotExist as exc:
                raise PaymentTransaction.DoesNotExist(transaction_id) from exc
        else:
            order = lock_order(order_id=order_id)
        # the order's rows, read once under the lock: the row, its source, what the source has left, the status and
        # the account all come from them, the changes below applied in memory (no read after a write); with them
        # whether a status change has endpoints to announce it to
        rows: dict[int, PaymentTransaction] = {
            row.pk: row
            for row in PaymentTransaction.objects.select_related("integration")
            .filter(order_id=order.pk)
            .annotate(listening=endpoints_listening())
        }
        txn = rows.get(transaction_id)
        if txn is None:
            raise PaymentTransaction.DoesNotExist(transaction_id)
        for row in rows.values():
            row.order = order  # the locked row, read once
        if txn.source_id in rows:
            txn.source = rows[txn.source_id]  # the same instance: what is written to it shows in `rows`
        if not txn.is_open:
            return txn
        adapter = adapter or adapter_for(txn.integration)
        for row in _apply_result(txn, result, adapter, rows):  # rows it added (a validation, a released rest)
            if row.order_id == order.pk:
                rows[row.pk] = row
        link = txn.source
        if txn.state == State.SUCCEEDED and link is not None and link.action == Action.RE_AUTHORIZE and link.source_id:
            # a renewal answered late (reconcile, a webhook) still leaves one hold: release the old one
            transaction.on_commit(
                partial(_renewal_settle_later, old_id=link.source_id, renewal_id=txn.pk, key=link.idempotency_key),
                robust=True,
            )
        if txn.action in PURCHASE_ACTIONS and txn.provider_reference:  # events that waited for it can apply now
            transaction.on_commit(
                partial(_waiting_events_release, txn.integration_id, txn.provider_reference, txn.idempotency_key)
            )
        after = [row.as_account_row() for row in rows.values()]
        order_payment_status_refresh(order=order, cause=txn, rows=after, listening=getattr(txn, "listening", True))
        if txn.invoice_id is not None:
            invoice_payment_status_refresh(invoice_id=txn.invoice_id)
        if txn.state == State.SUCCEEDED and txn.action in (Action.CAPTURE, Action.CHARGE, Action.PURCHASE):
            # what was taken counts ledger rows only: the open invoices are no part of it
            account = account_from_rows(after, total=order.total, currency=order.currency, open_invoices={})
            _flag_overpayment(order, txn, account.taken)
        if order.discarded_at is not None and txn.successful and txn.action in MONEY_IN_ACTIONS:
            # a checkout attempt the buyer gave up was paid after all: give the money back (payments.abandonment)
            transaction.on_commit(partial(_order_release_later, order.pk), robust=True)
        return txn


def ledger_refund_reverse(*, transaction_id: int, error_code: str, message: str) -> PaymentTransaction:
    """A refund recorded as made did not happen after all (voided at the provider before it settled): the row
    no longer counts as money returned, what is left to refund grows back, and staff are told. Recording it
    again changes nothing."""
    order_id = PaymentTransaction.objects.values_list("order_id", flat=True).get(pk=transaction_id)
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        txn = PaymentTransaction.objects.select_related("order").get(pk=transaction_id)
        if txn.action != Action.REFUND or txn.state != State.SUCCEEDED:
            return txn
        txn.state = State.DECLINED
        txn.successful = False
        txn.active = False
        txn.error_code = error_code
        txn.message = message or "The refund was undone at the provider: no money went back."
        txn.save(update_fields=["state", "successful", "active", "error_code", "message", "updated_at"])
        order_payment_status_refresh(order=order, cause=txn)
        if txn.invoice_id is not None:
            invoice_payment_status_refresh(invoice_id=txn.invoice_id)
        notice_raise(
            key=f"refund-voided:{txn.pk}",
            level=Notice.Level.ERROR,
            order=order,
            message=(
                f"Order {order.number}: the refund of {format_money(txn.money)} (reference "
                f"{txn.provider_reference or 'none'}) was undone at the provider, so the buyer got nothing back. "
                "Refund again if that was not intended."
            ),
        )
        return txn


def ledger_invoice_void(*, transaction_id: int, message: str) -> PaymentTransaction:
    """An invoice the provider canceled before anything was collected on it (Apruve's invoice.canceled): the row no
    longer bills the buyer's company, so what it billed is its authorization's again, and the order's status
    follows. One whose capture is recorded stays as it is (the money came); recording it again changes nothing."""
    order_id = PaymentTransaction.objects.values_list("order_id", flat=True).get(pk=transaction_id)
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        txn = PaymentTransaction.objects.select_related("order").get(pk=transaction_id)
        if txn.action != Action.INVOICE or txn.state == State.DECLINED:
            return txn
        if txn.children.filter(action=Action.CAPTURE).exclude(state=State.DECLINED).exists():
            return txn
        txn.state = State.DECLINED
        txn.successful = False
        txn.active = False
        txn.error_code = ErrorCode.CANCELED
        txn.message = message or "The invoice was canceled at the provider; nothing was collected on it."
        txn.save(update_fields=["state", "successful", "active", "error_code", "message", "updated_at"])
        order_payment_status_refresh(order=order, cause=txn)
        return txn


def ledger_hold_released(*, transaction_id: int, message: str) -> PaymentTransaction:
    """The provider let go of all an authorization still held (a void in its dashboard) while nothing was left to
    cancel in the ledger: what it had left is spoken for by captures still waiting for their answer. It closes,
    as the record of a cancel closes it (`_close_source`): such a capture taken before the void stays taken, and
    one refused afterwards leaves nothing held, so its amount is payable again. Recording it again changes
    nothing."""
    with transaction.atomic():
        order = lock_order_of(transaction_id=transaction_id)
        source = PaymentTransaction.objects.get(pk=transaction_id)
        if not (source.active and source.successful and source.action in CAPTURE_SOURCES):
            return source
        source.active = False
        source.message = message
        source.save(update_fields=["active", "message", "updated_at"])
        schedule_to_renewal(source)
        order_payment_status_refresh(order=order, cause=source)
        return source


def _flag_overpayment(order: Order, txn: PaymentTransaction, taken: Decimal) -> None:
    """Our services never take more than an order's total; money moved outside them (a capture in the provider's
    dashboard) still may. It is recorded as it happened, and staff are told to refund the excess."""
    if taken <= order.total:
        return
    excess = Money(quantize(taken - order.total, order.currency), order.currency)
    PaymentTransaction.objects.filter(pk=txn.pk).update(needs_attention=True)
    txn.needs_attention = True
    notice_raise(
        key=f"overpaid:{txn.pk}",
        level=Notice.Level.ERROR,
        order=order,
        message=(
            f"Order {order.number} has taken {format_money(excess)} more than its total "
            f"({format_money(order.total_money)}), with the {txn.get_action_display().lower()} of "
            f"{format_money(txn.money)} (reference {txn.provider_reference or 'none'}). Refund the excess."
        ),
    )
    logger.error("Order %s took %s more than its total (transaction %s)", order.pk, excess, txn.pk)


def _order_release_later(order_id: int) -> None:
    from payments.tasks import order_release_task  # the tasks module imports this one

    order_release_task.delay(order_id)


def _renewal_settle_later(*, old_id: int, renewal_id: int, key: str) -> None:
    from payments.services import renewal_settle  # the services build on the ledger

    renewal_settle(old_id=old_id, renewal_id=renewal_id, key=key, actor=None)


def _waiting_events_release(integration_id: int, reference: str, key: str) -> None:
    from payments.webhook_services import webhook_events_release  # it builds on this module

    webhook_events_release(integration_id=integration_id, references=[reference], keys=[key])


def _apply_result(
    txn: PaymentTransaction, result: ProviderResult, adapter: Adapter, rows: dict[int, PaymentTransaction]
) -> list[PaymentTransaction]:
    """Apply the answer to `txn` and the source it acted on, among the order's `rows` read under the lock; returns
    the rows it added (a validation the payment rests on, the rest a provider released)."""
    added: list[PaymentTransaction] = []
    if (
        result.validation is not None
        and txn.source_id is None
        and result.outcome in (Outcome.SUCCEEDED, Outcome.PENDING)
    ):
        txn.source = validation_record(payment=txn, validation=result.validation)  # the payment rests on it
        added.append(txn.source)
    if result.provider_reference:
        txn.provider_reference = result.provider_reference
    waiting_for = (txn.response or {}).get("next_action")
    txn.response = dict(scrub(result.raw))
    if result.next_action:
        txn.response["next_action"] = dict(result.next_action)
    elif waiting_for and result.outcome in (Outcome.ERROR, Outcome.ACTION_REQUIRED):
        txn.response["next_action"] = waiting_for  # an unreadable answer must not lose where the buyer was sent
    txn.error_code = result.error_code or ""
    txn.message = result.message
    closed = None
    if result.outcome == Outcome.SUCCEEDED:
        txn.state = State.SUCCEEDED
        txn.successful = True
        txn.active = txn.action in (Action.AUTHORIZE, Action.PENDING, Action.INVOICE)
        txn.next_reconcile_at = None
        _compare_amount(txn, result.amount)
        closed, released = _close_source(txn, adapter, rows)
        added.extend([released] if released is not None else [])
        if txn.action == Action.AUTHORIZE:
            _authorization_succeeded(txn, adapter)
    elif result.outcome == Outcome.DECLINED:
        txn.state = State.DECLINED
        txn.successful = False
        txn.active = False
        txn.next_reconcile_at = None
    elif result.outcome == Outcome.ACTION_REQUIRED:
        txn.state = State.ACTION_REQUIRED
    elif result.outcome == Outcome.PENDING:
        txn.state = State.PROCESSING
    # Outcome.ERROR: the provider answered something we cannot map; the row stays reserved for reconcile.
    _save_with_source(txn, closed)
    if not txn.is_open and txn.source is not None and txn.source.action == Action.RE_AUTHORIZE:
        _close_renewal_link(txn.source, txn)
    return added


def _save_with_source(txn: PaymentTransaction, closed: PaymentTransaction | None) -> None:
    """Save the columns of `txn` the answer changed and, when it closed its source, the source's `active` flag: one
    UPDATE for both rows (a CASE per column, as `bulk_update` writes).

    Only changed columns are written (`PaymentTransaction.changed_columns`, against the values the record read
    under the lock), never the whole in-memory copy. Reconcile and the sweeps write an open row's bookkeeping
    (attempts, next try, the attention flag, a provider reference they learnt) without the order lock, so they
    may write between the record's read and this UPDATE; written in full, the stale copy would undo them (the
    reference lost, the flag cleared). Taking the order lock in reconcile would not be enough: any other unlocked
    writer of the row (a webhook's flag, staff's note on the source) would be undone the same way, while writing
    only what the answer changed is right under every interleaving: a column the record did not change keeps
    whatever its last writer wrote. The record changes a reference only to one the provider gave (never to
    none), sets the attention flag only to True, and clears the next try only when it settles the row, after
    which reconcile writes nothing to it (its writes are conditional on the row being open, `payments.sweeps`).
    The source's other columns keep what they hold in the same way (the expiry warning a sweep set on it)."""
    changed = txn.changed_columns()
    if closed is None:
        txn.save(update_fields=[*changed, "updated_at"])
        return
    txn.updated_at = closed.updated_at = timezone.now()
    columns = {}
    for field in PaymentTransaction._meta.concrete_fields:
        name = field.attname
        whens = []
        if name in changed or name == "updated_at":
            whens.append(When(pk=txn.pk, then=Value(getattr(txn, name), output_field=field)))
        if name in ("active", "updated_at"):
            whens.append(When(pk=closed.pk, then=Value(getattr(closed, name), output_field=field)))
        if whens:
            columns[name] = Case(*whens, default=F(name), output_field=field)
    PaymentTransaction.objects.filter(pk__in=(txn.pk, closed.pk)).update(**columns)
    txn.remember_stored([*changed, "updated_at"])
    closed.remember_stored(["active", "updated_at"])


#: actions whose reported amount is money that moved or is held, and so must equal the row's
AMOUNT_CHECKED_ACTIONS = (Action.AUTHORIZE, Action.CHARGE, Action.PURCHASE, Action.CAPTURE, Action.REFUND)


def _compare_amount(txn: PaymentTransaction, reported: Money) -> None:
    """A provider that reports another amount than the row asked for is recorded and flagged, never ignored.

    The row keeps the amount we asked for (what the limits were checked against); the reported amount, the
    flag and a notice tell staff to check the payment at the provider.
    """
    if txn.action not in AMOUNT_CHECKED_ACTIONS:
        return
    expected = txn.money
    if reported.currency == expected.currency and reported.amount == expected.amount:
        return
    txn.needs_attention = True
    txn.response["amount_mismatch"] = {
        "ledger": str(expected.amount),
        "ledger_currency": expected.currency,
        "reported": str(reported.amount),
        "reported_currency": reported.currency,
    }
    text = (
        f"The provider reports {reported} for this {txn.get_action_display().lower()} of {expected}; "
        "check the payment in the provider's dashboard."
    )
    txn.message = f"{txn.message} {text}".strip()
    logger.error(
        "Amount mismatch on transaction %s of order %s: ledger %s, provider %s",
        txn.pk,
        txn.order_id,
        expected,
        reported,
    )
    notice_raise(
        key=f"amount-mismatch:{txn.pk}",
        level=Notice.Level.ERROR,
        order=txn.order,
        message=f"Order {txn.order.number}: {text} (reference {txn.provider_reference or 'none'}).",
    )


def _close_renewal_link(link: PaymentTransaction, renewal: PaymentTransaction) -> None:
    """The re_authorize row mirrors its renewal's outcome, whoever records it (the service, a webhook, reconcile)."""
    link.state = renewal.state
    link.successful = renewal.successful
    link.active = False
    link.provider_reference = renewal.provider_reference
    link.error_code = renewal.error_code
    link.message = renewal.message
    link.save(
        update_fields=["state", "successful", "active", "provider_reference", "error_code", "message", "updated_at"]
    )


def _authorization_succeeded(txn: PaymentTransaction, adapter: Adapter) -> None:
    """Note when the hold lapses, and schedule its capture if the integration captures by itself."""
    now = timezone.now()
    if adapter.authorization_ttl_hours:
        txn.expires_at = now + timedelta(hours=adapter.authorization_ttl_hours)
    if txn.source is not None and txn.source.action == Action.RE_AUTHORIZE:
        return  # a renewal takes over the old hold's schedule only once that hold is released (_close_source)
    if txn.order.discarded_at is not None:
        return  # a late payment of a given-up checkout attempt is given back (payments.abandonment), never captured
    policy = txn.integration.capture_policy
    if policy == Integration.CapturePolicy.AFTER_DELAY:
        due = now + timedelta(hours=txn.integration.capture_delay_hours)
    elif policy == Integration.CapturePolicy.ON_SHIPMENT and txn.order.shipped_at is not None:
        due = now
    else:
        return
    ScheduledCapture.objects.get_or_create(authorization=txn, defaults={"due_at": due})


def _close_source(
    txn: PaymentTransaction, adapter: Adapter, rows: dict[int, PaymentTransaction]
) -> tuple[PaymentTransaction | None, PaymentTransaction | None]:
    """A successful capture or cancel may close the authorization it acted on. Returns the source when it closed
    it (saved with `txn`, `_save_with_source`) and the rest the provider released, recorded as its row. What the
    source has left is computed from the order's `rows`, read under the lock (the capture in hand among them).

    On a provider that captures more than once, the authorization closes only when its settled children
    (`_settled_of`: succeeded captures, cancels, invoices, releases) account for all of it; a cancel closes it at
    once, open siblings or not (the provider's void releases all it still holds). A sibling still open
    counts against what may be captured (the reserve step, `capturable_amount` over open rows too) but closes
    nothing: declined later, it would leave the provider holding its amount while the ledger held nothing (not
    capturable by staff, offered to the buyer again). So the record of the last sibling to succeed closes it,
    and a declined one leaves its amount held and capturable again. A provider that takes one capture per
    authorization releases the rest with the first capture, open siblings or not: that one closes it at once."""
    source = txn.source
    if source is None or not source.active:
        return None, None
    released = None
    if txn.action == Action.CANCEL:
        # the void let go of everything the source still held at the provider (Wirecard's approveReversal, OroPay's
        # reversal), open siblings' amounts too: the provider cannot hold back for a capture it has not taken. A
        # sibling taken before the void stays taken (its record finds the source closed); one not taken is refused
        # afterwards, and nothing is held for it, so the source closes now whatever its siblings' answers.
        source.active = False
        schedule_to_renewal(source)
    elif txn.action == Action.CAPTURE:
        # an invoice paid outside our own invoice rows (Apruve's dashboard) takes its part; the rest stays billable
        one_capture = not adapter.supports(Capability.MULTIPLE_CAPTURE) and not adapter.supports(Capability.INVOICE)
        if not (one_capture or source.action == Action.PENDING or _settled_of(source, rows) >= source.amount):
            return None, None  # the authorization holds more, or a sibling still open may be declined: it stays open
        source.active = False  # without multiple captures the provider released the rest
        if source.action == Action.AUTHORIZE:
            taken = _taken_of(source, rows)
            # the capture in hand counts: it is among the rows, open or succeeded
            rest = quantize(source.amount - taken.captured - taken.canceled - taken.invoiced, source.currency)
            # a capture the provider reports with another amount (flagged, `_compare_amount`) leaves the rest
            # it released unknown: no row claims one
            if rest > 0 and "amount_mismatch" not in (txn.response or {}):
                released = _release_record(source, txn, rest, rows)
    else:
        return None, None
    return source, released


#: children whose success settles part of an authorization for good: taken, invoiced, voided or let go
_SETTLING_ACTIONS = (Action.CAPTURE, Action.CANCEL, Action.INVOICE, Action.RELEASE)


def _settled_of(source: PaymentTransaction, rows: dict[int, PaymentTransaction]) -> Decimal:
    """What the source's succeeded children settled (open ones not counted: their answer may still be no), from the
    order's `rows` read under the lock, the row in hand with its answer applied (`_close_source`)."""
    children = (
        rows.values()
        if source.pk in rows
        else PaymentTransaction.objects.filter(source_id=source.pk)  # not a row of the order read: read its own
    )
    return sum(
        (
            row.amount
            for row in children
            if row.source_id == source.pk and row.state == State.SUCCEEDED and row.action in _SETTLING_ACTIONS
        ),
        Decimal("0"),
    )


def _taken_of(source: PaymentTransaction, rows: dict[int, PaymentTransaction]) -> Taken:
    """What the source's children took, from the order's rows when it is one of them (a capture's or cancel's
    source always is: its children are rows of its order); read otherwise."""
    if source.pk not in rows:
        return children_taken(source)
    return taken_from_rows([row.as_account_row() for row in rows.values()], source_id=source.pk)


def _release_record(
    source: PaymentTransaction, capture: PaymentTransaction, amount: Decimal, rows: dict[int, PaymentTransaction]
) -> PaymentTransaction | None:
    """The rest of an authorization the provider let go with a partial capture, as its own row (a record of what
    the provider did, not a request: nothing is sent). Keyed by the capture, so recording it twice writes one row:
    the order's `rows`, read under the lock every writer of them takes, say whether it exists (a row of the
    source's order). No sum of the account or rule of the status reads it. Returns the row written, if any."""
    key = f"released-rest:{capture.pk}"
    if any(row.idempotency_key == key for row in rows.values()):
        return None
    return PaymentTransaction.objects.create(
        idempotency_key=key,
        order_id=source.order_id,
        invoice_id=source.invoice_id,
        source=source,
        integration_id=source.integration_id,
        payment_method=source.payment_method,
        action=Action.RELEASE,
        state=State.SUCCEEDED,
        successful=True,
        active=False,
        amount=amount,
        currency=source.currency,
        provider_reference=source.provider_reference,
        fingerprint=request_fingerprint("release", capture.pk),
        note="The provider takes one capture per authorization.",
    )


def schedule_to_renewal(released: PaymentTransaction) -> None:
    """A released authorization hands its scheduled capture to the renewal that replaced it, if there is one.

    Not earlier: while both holds exist, the schedule stays with the old one, so a capture can never be due on
    a renewal that may still be cancelled (the old hold captured meanwhile).
    """
    renewal = (
        PaymentTransaction.objects.filter(
            source__source=released,
            source__action=Action.RE_AUTHORIZE,
            action=Action.AUTHORIZE,
            state=State.SUCCEEDED,
            active=True,
        )
        .order_by("-pk")
        .first()
    )
    if renewal is not None:
        ScheduledCapture.objects.filter(
            authorization=released, state__in=(ScheduledCapture.State.PENDING, ScheduledCapture.State.ENQUEUED)
        ).update(authorization=renewal, state=ScheduledCapture.State.PENDING)


def transaction_method(txn: PaymentTransaction) -> MethodInfo:
    """The method a row was made with, as its adapter describes it; old rows keep working when the integration no
    longer exposes it."""
    try:
        return method_for(txn.integration, txn.payment_method)
    except LookupError:  # the integration no longer exposes it; old payments still work
        return MethodInfo(
            identifier=txn.payment_method,
            integration_id=txn.integration_id,
            provider_key=txn.integration.provider_key,
        )


def follow_up_request(
    txn: PaymentTransaction,
    source: PaymentTransaction,
    *,
    key: str | None = None,
    reason: str | None = None,
    validation_only: bool | None = None,
    options: dict[str, Any] | None = None,
) -> FollowUpRequest:
    """How to ask the provider for the movement of row `txn` on `source`: by default with the row's own key and
    reason; an undo of a purchase by itself (abandon, release) passes its own key and reason. It acts on the
    source's provider reference, or on the row's own when the source has none (the release of an object made
    after its payment was ended, `payments.abandonment`: a re-send by reconcile must name that object too)."""
    return FollowUpRequest(
        amount=txn.money,
        idempotency_key=txn.idempotency_key if key is None else key,
        provider_reference=source.provider_reference or txn.provider_reference,
        method=transaction_method(txn),
        source_amount=source.money,
        reason=txn.reason if reason is None else reason,
        validation_only=source.is_clone if validation_only is None else validation_only,
        # what the operation asked beyond an amount: given by the caller, or kept with the row for a repeat
        options=options if options is not None else dict((txn.request or {}).get("options") or {}),
    )


#: the key prefix of a release of an object the provider made after its payment was ended
#: (`payments.abandonment.late_acceptance_reserve`)
LATE_RELEASE = "late-release:"


def late_released(provider_key: str) -> frozenset[str]:
    """The provider's objects the ledger releases (or released) because they were made after their payment was
    ended: no other payment takes one for its own (the release cancels it at the provider, or staff do)."""
    rows = PaymentTransaction.objects.filter(
        integration__provider_key=provider_key, action=Action.CANCEL, idempotency_key__startswith=LATE_RELEASE
    ).exclude(provider_reference="")
    return frozenset(rows.values_list("provider_reference", flat=True))


def status_request(txn: PaymentTransaction, *, returned_reference: str = "") -> StatusRequest:
    """How to ask the provider about a row: by our key and, once known, its reference; with what the buyer's
    browser brought back from the provider, for the adapter to verify."""
    return StatusRequest(
        idempotency_key=txn.idempotency_key,
        provider_reference=txn.provider_reference or None,
        action=txn.action,
        amount=txn.money,
        method=transaction_method(txn),
        requested_at=txn.created_at,
        reference=txn.invoice.number if txn.invoice_id is not None and txn.invoice else txn.order.number,
        returned_reference=returned_reference,
        claimed_references=_claimed_references(txn),
    )


def _claimed_references(txn: PaymentTransaction) -> frozenset[str]:
    """The references of the order's other successful rows of the same action and integration: what a lookup of
    this row's lost answer by amount must not take for its own (two deposits of equal amounts). For a purchase:
    the objects being released because they were made after their payment was ended (`late_released`)."""
    if txn.action in (Action.AUTHORIZE, Action.PURCHASE):
        return late_released(txn.integration.provider_key)
    if txn.action not in (Action.CAPTURE, Action.REFUND, Action.CANCEL):
        return frozenset()
    others = (
        PaymentTransaction.objects.filter(
            order_id=txn.order_id, integration_id=txn.integration_id, action=txn.action, state=State.SUCCEEDED
        )
        .exclude(pk=txn.pk)
        .exclude(provider_reference="")
        .values_list("provider_reference", flat=True)
    )
    return frozenset(others)


def shipment_captures_schedule(*, order: Order) -> None:
    """The order was shipped: its open authorizations on integrations that capture on shipment are due now.

    Called under the order lock, in the transaction that marks the order shipped."""
    authorizations = order.transactions.filter(
        action=Action.AUTHORIZE,
        successful=True,
        active=True,
        integration__capture_policy=Integration.CapturePolicy.ON_SHIPMENT,
    )
    due = order.shipped_at or timezone.now()
    for authorization in authorizations:
        ScheduledCapture.objects.get_or_create(authorization=authorization, defaults={"due_at": due})
