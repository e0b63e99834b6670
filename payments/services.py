"""Every money movement, in three steps (DESIGN.md):

1. in a database transaction, lock the order row, check the move is allowed and the amount available, and
   write the transaction row with its idempotency key, not yet successful;
2. call the provider with that key, with no database transaction open;
3. in a new database transaction, lock again and record the result (`ledger_record`), which updates the
   source transaction and the order's payment status.

A repeat with the same key returns the row it made and moves nothing. A provider that cannot be reached
leaves the row `reserved` for reconcile; no charge can happen that the ledger does not know about.
"""

from __future__ import annotations

import hashlib
import logging
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import timedelta
from decimal import Decimal
from functools import partial
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q, Sum
from django.utils import timezone

from integrations.adapters import adapter_for, method_for
from integrations.models import Integration
from integrations.provider_customers import provider_customer_reference, provider_customer_remember
from integrations.selectors import method_resolve
from notifications.models import Notice
from notifications.services import payment_status_changed
from orders.models import INVOICE_PAID_STATUSES, Invoice, Order, PaymentStatus
from payments.account import OrderAccount
from payments.exceptions import PaymentRefused
from payments.models import OPEN_STATES, Action, PaymentTransaction, ScheduledCapture, State
from payments.money import MoneyError, ensure_exact, format_money, quantize
from payments.selectors import invoice_payment_method, order_account
from payments.status import LedgerEntry, amount_paid, payment_status
from payments.validations import validation_for_reuse, validation_record
from providers import registry
from providers.base import (
    Adapter,
    Capability,
    ErrorCode,
    FollowUpRequest,
    MethodInfo,
    Money,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    UnsupportedOperation,
    scrub,
)

logger = logging.getLogger(__name__)

#: actions that bring money in, at most once per order (a new attempt needs the last one to have failed)
PURCHASE_ACTIONS = (Action.AUTHORIZE, Action.CHARGE, Action.PENDING, Action.PURCHASE)
#: purchases whose success holds or takes money
MONEY_IN_ACTIONS = (Action.AUTHORIZE, Action.CHARGE, Action.PURCHASE)
CAPTURE_SOURCES = (Action.AUTHORIZE, Action.PENDING)
REFUND_SOURCES = (Action.CHARGE, Action.CAPTURE, Action.PURCHASE)


# --- locking and reads under the lock ------------------------------------------------------------------


def lock_order(*, order_id: int) -> Order:
    """SELECT … FOR UPDATE on the order row: the only lock money movements take, so locks never cross."""
    return Order.objects.select_for_update(of=("self",)).get(pk=order_id)


def notice_raise(*, key: str, message: str, order: Order | None = None, level: str = Notice.Level.WARNING) -> bool:
    """A back-office notice, once per key. Returns whether it is new."""
    try:
        with transaction.atomic():
            Notice.objects.create(key=key, message=message, order=order, level=level)
    except IntegrityError:
        return False
    return True


def capabilities_of(integration: Integration) -> frozenset[Capability]:
    """What the integration's provider can do; class attributes, so no secret is decrypted to know it."""
    try:
        return registry.adapter_class(integration.provider_key).capabilities
    except KeyError:  # the provider's package is not installed here
        return frozenset()


def _sum_children(source: PaymentTransaction, actions: tuple[str, ...]) -> Decimal:
    """Amount of the source's children with these actions that succeeded or may still succeed."""
    total = (
        source.children.filter(action__in=actions)
        .filter(Q(state=State.SUCCEEDED) | Q(state__in=OPEN_STATES))
        .aggregate(total=Sum("amount"))["total"]
    )
    return total or Decimal("0")


def capturable_amount(source: PaymentTransaction) -> Decimal:
    """What is left of an authorization (or pending promise): captures and cancels, open ones too, count.

    A provider without MULTIPLE_CAPTURE takes one capture per authorization and releases the rest, so once a
    capture is sent (even before its answer) nothing is left to capture or cancel.
    """
    if source.action not in CAPTURE_SOURCES or not (source.successful and source.active):
        return quantize(Decimal("0"), source.currency)
    if (
        source.action == Action.AUTHORIZE
        and Capability.MULTIPLE_CAPTURE not in capabilities_of(source.integration)
        and source.children.filter(action=Action.CAPTURE)
        .filter(Q(state=State.SUCCEEDED) | Q(state__in=OPEN_STATES))
        .exists()
    ):
        return quantize(Decimal("0"), source.currency)
    left = source.amount - _sum_children(source, (Action.CAPTURE, Action.CANCEL))
    return quantize(max(left, Decimal("0")), source.currency)


def refundable_amount(source: PaymentTransaction) -> Decimal:
    """What is left to refund of a charge or capture: refunds, open ones too, count."""
    if source.action not in REFUND_SOURCES or not source.successful:
        return quantize(Decimal("0"), source.currency)
    left = source.amount - _sum_children(source, (Action.REFUND,))
    return quantize(max(left, Decimal("0")), source.currency)


def order_payment_status_refresh(*, order: Order, cause: PaymentTransaction | None = None) -> PaymentStatus:
    """Recompute and store the status; called inside the transaction of every ledger change.

    A change is announced to subscribed endpoints (notifications), in the same transaction.
    """
    rows = PaymentTransaction.objects.filter(order_id=order.pk).values_list(
        "id", "action", "amount", "successful", "active", "source_id", "provider_reference"
    )
    entries = [
        LedgerEntry(id=i, action=a, amount=amt, successful=s, active=act, source_id=src, reference=ref or None)
        for i, a, amt, s, act, src, ref in rows
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
        )
    return status


# --- step 1: reserve ------------------------------------------------------------------------------------


def _fingerprint(*parts: object) -> str:
    return hashlib.sha256("|".join(str(p) for p in parts).encode()).hexdigest()


def _replay(key: str, fingerprint: str) -> PaymentTransaction | None:
    """The row an earlier request with this key made; refused if that request asked for something else."""
    existing = PaymentTransaction.objects.filter(idempotency_key=key).first()
    if existing is not None and existing.fingerprint != fingerprint:
        raise PaymentRefused(
            "idempotency_key_reused", "This request key was already used for a different payment operation."
        )
    return existing


def _check_amount(amount: Money, *, currency: str, available: Decimal) -> None:
    if amount.currency != currency:
        raise PaymentRefused(
            "currency_mismatch", f"The amount is in {amount.currency} but the payment is in {currency}."
        )
    try:
        ensure_exact(amount.amount, currency)
    except MoneyError as exc:  # never rounded: the ledger would say 10.005 while the provider takes 10.01
        raise PaymentRefused("amount_precision", str(exc)) from exc
    if amount.amount <= 0:
        raise PaymentRefused("amount_not_positive", "The amount must be greater than zero.")
    if amount.amount > available:
        raise PaymentRefused(
            "amount_exceeds_available", f"The amount {amount} exceeds the {available} {currency} available."
        )


def _reserve(**fields: Any) -> PaymentTransaction:
    """Write the row before the provider is called: open (active), not successful."""
    try:
        with transaction.atomic():  # a savepoint, so a duplicate key leaves the outer transaction usable
            return PaymentTransaction.objects.create(state=State.RESERVED, active=True, successful=False, **fields)
    except IntegrityError:
        existing = _replay(fields["idempotency_key"], fields["fingerprint"])
        if existing is None:
            raise
        return existing


# --- step 3: record ---------------------------------------------------------------------------------------


def ledger_record(*, transaction_id: int, result: ProviderResult, adapter: Adapter | None = None) -> PaymentTransaction:
    """Record a provider's answer under the order lock; the first answer wins, later ones find the row final.

    Return pages, webhooks and reconcile come through here too.
    """
    order_id = PaymentTransaction.objects.values_list("order_id", flat=True).get(pk=transaction_id)
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        txn = PaymentTransaction.objects.select_related("source", "integration", "order").get(pk=transaction_id)
        if not txn.is_open:
            return txn
        adapter = adapter or adapter_for(txn.integration)
        _apply_result(txn, result, adapter)
        if txn.action in PURCHASE_ACTIONS and txn.provider_reference:  # events that waited for it can apply now
            transaction.on_commit(
                partial(_waiting_events_release, txn.integration_id, txn.provider_reference, txn.idempotency_key)
            )
        order_payment_status_refresh(order=order, cause=txn)
        if txn.invoice_id is not None:
            invoice_payment_status_refresh(invoice_id=txn.invoice_id)
        if txn.state == State.SUCCEEDED and txn.action in (Action.CAPTURE, Action.CHARGE, Action.PURCHASE):
            _flag_overpayment(order, txn)
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


def _flag_overpayment(order: Order, txn: PaymentTransaction) -> None:
    """Our services never take more than an order's total; money moved outside them (a capture in the provider's
    dashboard) still may. It is recorded as it happened, and staff are told to refund the excess."""
    taken = order_account(order=order).taken
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


def _waiting_events_release(integration_id: int, reference: str, key: str) -> None:
    from payments.webhook_services import webhook_events_release  # it builds on this module

    webhook_events_release(integration_id=integration_id, references=[reference], keys=[key])


def _apply_result(txn: PaymentTransaction, result: ProviderResult, adapter: Adapter) -> None:
    if (
        result.validation is not None
        and txn.source_id is None
        and result.outcome in (Outcome.SUCCEEDED, Outcome.PENDING)
    ):
        txn.source = validation_record(payment=txn, validation=result.validation)  # the payment rests on it
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
    if result.outcome == Outcome.SUCCEEDED:
        txn.state = State.SUCCEEDED
        txn.successful = True
        txn.active = txn.action in (Action.AUTHORIZE, Action.PENDING, Action.INVOICE)
        txn.next_reconcile_at = None
        _compare_amount(txn, result.amount)
        _close_source(txn, adapter)
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
    txn.save()
    if not txn.is_open and txn.source is not None and txn.source.action == Action.RE_AUTHORIZE:
        _close_renewal_link(txn.source, txn)


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


def _close_source(txn: PaymentTransaction, adapter: Adapter) -> None:
    """A successful capture or cancel may close the authorization it acted on."""
    source = txn.source
    if source is None or not source.active:
        return
    if txn.action == Action.CANCEL:
        source.active = False
        _schedule_to_renewal(source)
    elif txn.action == Action.CAPTURE:
        remaining = capturable_amount(source)
        if remaining <= 0 or not adapter.supports(Capability.MULTIPLE_CAPTURE) or source.action == Action.PENDING:
            source.active = False  # without multiple captures the provider released the rest
    else:
        return
    source.save(update_fields=["active", "updated_at"])


def _schedule_to_renewal(released: PaymentTransaction) -> None:
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


# --- step 2: the provider call ------------------------------------------------------------------------------


def _call_provider(
    txn: PaymentTransaction, call: Callable[[Any], ProviderResult], request: Any, adapter: Adapter
) -> PaymentTransaction:
    """Call the provider with no transaction open, then record what it said."""
    try:
        result = call(request)
    except ProviderUnavailable as exc:
        logger.warning(
            "Provider gave no answer for %s of order %s (transaction %s); left for reconcile: %s",
            txn.action,
            txn.order_id,
            txn.pk,
            exc,
        )
        PaymentTransaction.objects.filter(pk=txn.pk, state=State.RESERVED).update(
            message="The payment provider did not answer; the outcome will be checked automatically."
        )
        txn.refresh_from_db()
        return txn
    except (ProviderMisconfigured, UnsupportedOperation) as exc:
        logger.error(  # noqa: G200 - no secret reaches these messages
            "Provider refused %s of order %s (transaction %s): %s", txn.action, txn.order_id, txn.pk, exc
        )
        result = ProviderResult(
            outcome=Outcome.DECLINED,
            provider_reference=None,
            amount=txn.money,
            error_code=ErrorCode.PROVIDER_MISCONFIGURED,
            message="The payment provider rejected the integration's settings. Please contact us.",
        )
    if result.customer_reference:  # the buyer's company as the provider now knows it, for later payments
        provider_customer_remember(
            integration_id=txn.integration_id, customer_id=txn.order.customer_id, reference=result.customer_reference
        )
    return ledger_record(transaction_id=txn.pk, result=result, adapter=adapter)


def _method_info(txn: PaymentTransaction) -> MethodInfo:
    try:
        return method_for(txn.integration, txn.payment_method)
    except LookupError:  # the integration no longer exposes it; old payments still work
        return MethodInfo(
            identifier=txn.payment_method,
            integration_id=txn.integration_id,
            provider_key=txn.integration.provider_key,
        )


# --- the services ----------------------------------------------------------------------------------------------


def payment_purchase(
    *,
    order_id: int,
    method: str,
    key: str,
    actor: User | None = None,
    payment_data: Mapping[str, str] | None = None,
    return_url: str = "",
    options: Mapping[str, Any] | None = None,
) -> PaymentTransaction:
    """Pay an order's total with a method: authorize or charge per the integration, or pending (offline)."""
    try:
        integration, method_info = method_resolve(method)
    except LookupError as exc:
        raise PaymentRefused("method_unavailable", "This payment method is not available.") from exc
    adapter = adapter_for(integration)

    with transaction.atomic():
        order = lock_order(order_id=order_id)
        action = _purchase_action(adapter, integration, method_info)
        fingerprint = _fingerprint("purchase", order.pk, method, order.total, order.currency)
        if existing := _replay(key, fingerprint):
            return existing
        if order.total <= 0:
            raise PaymentRefused("amount_not_positive", "There is nothing to pay on this order.")
        # What the order still owes: its total, unless part was taken or is held (a lapsed authorization holds
        # nothing, so its order can be paid again).
        amount = quantize(order_account(order=order).payable, order.currency)
        if amount <= 0:
            # nothing left to pay: say whether it is paid or still being confirmed with the provider
            _refuse_second_purchase(order.transactions.all(), f"Order {order.number}")
            raise PaymentRefused("already_paid", f"Order {order.number} is already paid or being paid.")
        context = order.checkout_context()
        if amount != order.total:
            context = replace(context, total=Money(quantize(amount, order.currency), order.currency))
        if not adapter.is_applicable(context):
            raise PaymentRefused("method_not_applicable", "This payment method is not available for this order.")
        update_fields = ["payment_method", "updated_at"]
        order.payment_method = method
        if adapter.supports(Capability.ON_ACCOUNT):
            order.payment_term = order.customer.resolved_payment_term
            update_fields.append("payment_term")
        order.save(update_fields=update_fields)
        # a card this buyer validated and kept, chosen here (never named by the browser)
        validated = (
            validation_for_reuse(
                order=order,
                payment_method=method,
                lifetime=_hours(adapter.validation_ttl_hours),
                completed_within=_hours(adapter.authorization_ttl_hours),
            )
            if adapter.supports(Capability.VALIDATE)
            else None
        )
        txn = _reserve(
            order=order,
            source=validated,
            integration=integration,
            payment_method=method,
            action=action,
            amount=amount,
            currency=order.currency,
            idempotency_key=key,
            fingerprint=fingerprint,
            actor=actor,
            request=scrub({"action": action, "return_url": return_url, "options": dict(options or {})}),
        )
        order_payment_status_refresh(order=order, cause=txn)

    request = PaymentRequest(
        amount=txn.money,
        idempotency_key=key,
        method=method_info,
        reference=order.number,
        context=context,
        payment_data=dict(payment_data or {}),
        return_url=return_url,
        options=dict(options or {}),
        source_reference=validated.provider_reference if validated else "",
        customer_reference=_customer_reference(adapter, integration, order),
    )
    call = {
        Action.PENDING: adapter.pending,
        Action.AUTHORIZE: adapter.authorize,
        Action.CHARGE: adapter.charge,
    }
    return _call_provider(txn, call[Action(action)], request, adapter)


def _customer_reference(adapter: Adapter, integration: Integration, order: Order) -> str:
    """The buyer's company as the provider knows it, for adapters that keep one (saved cards)."""
    if not adapter.keeps_customers:
        return ""
    return provider_customer_reference(integration_id=integration.pk, customer_id=order.customer_id)


def _refuse_second_purchase(transactions: Any, what: str) -> None:
    """At most one purchase at a time. An attempt whose outcome is not known yet (the provider's answer was lost,
    the buyer is on the bank's page) is not "paid": the buyer is told it is being confirmed."""
    taken = transactions.filter(action__in=PURCHASE_ACTIONS).filter(Q(successful=True) | Q(state__in=OPEN_STATES))
    found = set(taken.values_list("successful", flat=True)[:10])
    if True in found:
        raise PaymentRefused("already_paid", f"{what} is already paid.")
    if found:
        raise PaymentRefused(
            "payment_in_progress",
            f"{what} has a payment that is still being confirmed with the payment provider; nothing more will be "
            "charged. Please check back in a few minutes, or contact us.",
        )


def _hours(hours: int | None) -> timedelta | None:
    return timedelta(hours=hours) if hours is not None else None


def _purchase_action(adapter: Adapter, integration: Integration, method: MethodInfo | None = None) -> Action:
    if adapter.supports(Capability.PENDING):
        return Action.PENDING
    wanted = (method.payment_action if method else None) or integration.payment_action
    wants_authorize = wanted == PaymentAction.AUTHORIZE
    if (wants_authorize and adapter.supports(Capability.AUTHORIZE)) or not adapter.supports(Capability.CHARGE):
        return Action.AUTHORIZE
    return Action.CHARGE


def payment_capture(
    *, source_id: int, amount: Money | None, key: str, actor: User | None = None, note: str = ""
) -> PaymentTransaction:
    """Capture all (amount None) or part of an authorization, or mark an offline promise paid."""
    order_id = _order_id_of(source_id)
    with transaction.atomic():
        order = lock_order(order_id=order_id)
        source = _source(source_id)
        adapter = adapter_for(source.integration)
        fingerprint = _fingerprint("capture", source_id, *_terms(amount))
        if existing := _replay(key, fingerprint):
            return existing
        available = capturable_amount(source)
        if not adapter.supports(Capability.CAPTURE) or source.action not in CAPTURE_SOURCES:
            raise PaymentRefused("not_capturable", "This payment cannot be captured.")
        if available <= 0:
            raise PaymentRefused("nothing_to_capture", "Nothing is left to capture on this payment.")
        limit = _capture_limit(order, source, available)
        amount = amount or Money(limit, source.currency)
        _check_amount(amount, currency=source.currency, available=limit)
        partial = amount.amount < available
        if partial and (source.action == Action.PENDING or not adapter.supports(Capability.PARTIAL_CAPTURE)):
            raise PaymentRefused(
                "partial_capture_unsupported",
                f"This payment can only be captured in full ({available} {source.currency}).",
            )
        txn = _reserve_child(source, Action.CAPTURE, amount, key=key, fingerprint=fingerprint, actor=actor, note=note)
    return _call_provider(txn, adapter.capture, _follow_up(txn, source), adapter)


def _capture_limit(order: Order, source: PaymentTransaction, available: Decimal) -> Decimal:
    """What a capture of `source` may take: what it has left, within what the order may still take (under the lock).

    An order settled another way (its invoice paid by card, a check received) leaves nothing to capture.
    """
    account = order_account(order=order)
    room = quantize(account.capture_room(source.pk, promise=source.action == Action.PENDING), source.currency)
    if room <= 0:
        raise PaymentRefused(
            "order_settled",
            f"Nothing more may be captured on order {order.number}: its total ({format_money(order.total_money)}) "
            "is already paid or held by other payments.",
        )
    if source.action == Action.PENDING and room < available:
        raise PaymentRefused(
            "order_settled",
            f"Only {format_money(Money(room, source.currency))} of order {order.number} is still owed, so this "
            f"promise of {format_money(Money(available, source.currency))} cannot be marked paid.",
        )
    return min(available, room)


def payment_cancel(
    *, source_id: int, key: str, actor: User | None = None, note: str = "", reason: str = ""
) -> PaymentTransaction:
    """Release what is left of an authorization (the provider's void)."""
    order_id = _order_id_of(source_id)
    with transaction.atomic():
        lock_order(order_id=order_id)
        source = _source(source_id)
        adapter = adapter_for(source.integration)
        fingerprint = _fingerprint("cancel", source_id)
        if existing := _replay(key, fingerprint):
            return existing
        available = capturable_amount(source)
        if not adapter.supports(Capability.CANCEL) or source.action != Action.AUTHORIZE:
            raise PaymentRefused("not_cancelable", "This payment cannot be canceled.")
        if available <= 0:
            raise PaymentRefused("nothing_to_cancel", "Nothing is left to cancel on this payment.")
        txn = _reserve_child(
            source,
            Action.CANCEL,
            Money(available, source.currency),
            key=key,
            fingerprint=fingerprint,
            actor=actor,
            note=note,
            reason=reason,
        )
    return _call_provider(txn, adapter.cancel, _follow_up(txn, source), adapter)


def payment_refund(
    *,
    source_id: int,
    amount: Money | None,
    key: str,
    actor: User | None = None,
    note: str = "",
    reason: str = "",
) -> PaymentTransaction:
    """Refund all that is left (amount None) or part of a charge or capture; refunds may repeat."""
    order_id = _order_id_of(source_id)
    with transaction.atomic():
        lock_order(order_id=order_id)
        source = _source(source_id)
        adapter = adapter_for(source.integration)
        fingerprint = _fingerprint("refund", source_id, *_terms(amount))
        if existing := _replay(key, fingerprint):
            return existing
        available = refundable_amount(source)
        amount = amount or Money(available, source.currency)
        if not adapter.supports(Capability.REFUND) or source.action not in REFUND_SOURCES:
            raise PaymentRefused("not_refundable", "This payment cannot be refunded.")
        if available <= 0:
            raise PaymentRefused("nothing_to_refund", "Nothing is left to refund on this payment.")
        _check_amount(amount, currency=source.currency, available=available)
        if amount.amount < source.amount and not adapter.supports(Capability.PARTIAL_REFUND):
            raise PaymentRefused(
                "partial_refund_unsupported", f"This payment can only be refunded in full ({source.money})."
            )
        txn = _reserve_child(
            source,
            Action.REFUND,
            amount,
            key=key,
            fingerprint=fingerprint,
            actor=actor,
            note=note,
            reason=reason,
        )
    return _call_provider(txn, adapter.refund, _follow_up(txn, source), adapter)


def _order_id_of(transaction_id: int) -> int:
    try:
        return PaymentTransaction.objects.values_list("order_id", flat=True).get(pk=transaction_id)
    except PaymentTransaction.DoesNotExist as exc:
        raise PaymentRefused("unknown_transaction", "This payment transaction does not exist.") from exc


def _source(source_id: int) -> PaymentTransaction:
    """The source row, read after the order lock so its children are current."""
    return PaymentTransaction.objects.select_related("integration", "order").get(pk=source_id)


def _terms(amount: Money | None) -> tuple[object, ...]:
    """What a capture or refund request asked for: an amount, or everything that is left."""
    return ("all",) if amount is None else (amount.amount, amount.currency)


def _reserve_child(
    source: PaymentTransaction,
    action: Action,
    amount: Money,
    *,
    key: str,
    fingerprint: str,
    actor: User | None,
    note: str = "",
    reason: str = "",
) -> PaymentTransaction:
    txn = _reserve(
        order_id=source.order_id,
        invoice_id=source.invoice_id,  # a capture or refund of an invoice payment belongs to that invoice too
        source=source,
        integration=source.integration,
        payment_method=source.payment_method,
        action=action,
        amount=amount.amount,
        currency=amount.currency,
        provider_reference=source.provider_reference,
        idempotency_key=key,
        fingerprint=fingerprint,
        actor=actor,
        note=note,
        reason=reason,
        request={"action": action.value, "amount": str(amount.amount), "reason": reason},
    )
    order_payment_status_refresh(order=source.order, cause=txn)
    return txn


def _follow_up(txn: PaymentTransaction, source: PaymentTransaction) -> FollowUpRequest:
    return FollowUpRequest(
        amount=txn.money,
        idempotency_key=txn.idempotency_key,
        provider_reference=source.provider_reference,
        method=_method_info(txn),
        source_amount=source.money,
        reason=txn.reason,
        validation_only=source.is_clone,
    )


# --- completing open rows ----------------------------------------------------------------------------------------


def status_request(txn: PaymentTransaction) -> StatusRequest:
    """How to ask the provider about a row: by our key and, once known, its reference."""
    return StatusRequest(
        idempotency_key=txn.idempotency_key,
        provider_reference=txn.provider_reference or None,
        action=txn.action,
        amount=txn.money,
        method=_method_info(txn),
        requested_at=txn.created_at,
    )


def payment_complete(*, transaction_id: int) -> PaymentTransaction:
    """Ask the provider what became of an open row and record it (3-D Secure return page, reconcile).

    A final row is returned as it is, without calling the provider; a webhook that got there first wins.
    """
    txn = PaymentTransaction.objects.select_related("integration").get(pk=transaction_id)
    if not txn.is_open:
        return txn
    adapter = adapter_for(txn.integration)
    if not adapter.supports(Capability.FETCH_STATUS):
        return txn
    try:
        result = adapter.fetch_status(status_request(txn))
    except (ProviderUnavailable, ProviderMisconfigured) as exc:
        logger.warning("Could not ask the provider about transaction %s: %s", txn.pk, exc)
        return txn
    return ledger_record(transaction_id=txn.pk, result=result, adapter=adapter)


# --- re-authorization --------------------------------------------------------------------------------------------


def payment_reauthorize(*, source_id: int, key: str, actor: User | None = None) -> PaymentTransaction:
    """Renew an authorization before its hold lapses: a new authorization of what is left, then a cancel of the
    old one, linked by a `re_authorize` row (old ← re_authorize ← new authorize). Returns the new authorization.

    The order stays "Payment authorized" throughout: the new hold exists before the old one is released.
    """
    order_id = _order_id_of(source_id)
    with transaction.atomic():
        lock_order(order_id=order_id)
        fingerprint = _fingerprint("re_authorize", source_id)
        if existing := _replay(key, fingerprint):
            return existing.children.filter(action=Action.AUTHORIZE).first() or existing
        source = _source(source_id)
        adapter = adapter_for(source.integration)
        if not adapter.supports(Capability.REAUTHORIZE) or source.action != Action.AUTHORIZE:
            raise PaymentRefused("not_reauthorizable", "This payment cannot be re-authorized.")
        available = capturable_amount(source)
        if available <= 0:
            raise PaymentRefused("nothing_to_reauthorize", "Nothing is left to re-authorize on this payment.")
        common = {
            "order_id": source.order_id,
            "integration": source.integration,
            "payment_method": source.payment_method,
            "amount": available,
            "currency": source.currency,
            "actor": actor,
        }
        link = _reserve(
            **common, source=source, action=Action.RE_AUTHORIZE, idempotency_key=key, fingerprint=fingerprint
        )
        renewal = _reserve(
            **common,
            source=link,
            action=Action.AUTHORIZE,
            idempotency_key=f"{key}:authorize",
            fingerprint=_fingerprint("authorize", link.pk),
            request={"action": "authorize", "renews": source.pk},
        )
    request = FollowUpRequest(
        amount=renewal.money,
        idempotency_key=renewal.idempotency_key,
        provider_reference=source.provider_reference,
        method=_method_info(renewal),
        source_amount=source.money,
    )
    renewal = _call_provider(renewal, adapter.reauthorize, request, adapter)  # records it, closing `link` too
    if renewal.state == State.SUCCEEDED:
        _renewal_settle(old_id=source.pk, renewal_id=renewal.pk, key=key, actor=actor)
    renewal.refresh_from_db()
    return renewal


def _renewal_settle(*, old_id: int, renewal_id: int, key: str, actor: User | None) -> None:
    """After a renewal succeeded, keep exactly one hold: release the old one, or cancel the renewal.

    The old hold may have been captured (or a capture sent) while the renewal was at the provider, with no
    lock held: re-checked here under the order lock. Then the renewal is a second live hold on money already
    taken, and is cancelled. So is it when the old hold cannot be released (captured at the provider), or was
    cancelled meanwhile (staff released the order's money). An old hold that lapsed meanwhile (the expiry
    sweep, no capture or cancel) is what the renewal was for: the renewal stays, and takes over the schedule.
    """
    with transaction.atomic():
        lock_order(order_id=_order_id_of(old_id))
        old, renewal = _source(old_id), _source(renewal_id)
        if not (renewal.successful and renewal.active):
            return
        acted_on = old.children.filter(action__in=(Action.CAPTURE, Action.CANCEL)).exclude(state=State.DECLINED)
        if old.successful and not old.active and not acted_on.exists():
            _schedule_to_renewal(old)
            return
        old_holds = (
            old.successful
            and old.active
            and capturable_amount(old) >= renewal.amount
            and not old.children.filter(action=Action.CAPTURE).exclude(state=State.DECLINED).exists()
        )
    if old_holds:
        try:
            released = payment_cancel(
                source_id=old_id,
                key=f"{key}:cancel",
                actor=actor,
                reason="duplicate",
                note=f"Released: renewed by authorization {renewal.provider_reference}.",
            )
        except PaymentRefused:  # captured or cancelled since the check above
            released = None
        if released is not None and released.state != State.DECLINED:
            return  # released, or its answer pending (reconcile records it; the schedule moves then)
    try:
        payment_cancel(
            source_id=renewal_id,
            key=f"{key}:cancel-renewal",
            actor=actor,
            reason="duplicate",
            note="Released: the authorization it renewed was captured or could not be released meanwhile.",
        )
    except PaymentRefused as exc:  # a capture of the renewal itself got there first: it is the hold now
        logger.warning("Renewal %s of transaction %s left as it is: %s", renewal_id, old_id, exc.code)


# --- invoices -----------------------------------------------------------------------------------------------


def invoice_payment_status_refresh(*, invoice_id: int) -> PaymentStatus:
    """Recompute an invoice's payment status over its own rows; an open invoice paid by it becomes paid.

    Called under the order lock, in the transaction of every ledger change of a row tagged with the invoice.
    """
    invoice = Invoice.objects.get(pk=invoice_id)
    rows = PaymentTransaction.objects.filter(invoice_id=invoice_id).values_list(
        "id", "action", "amount", "successful", "active", "source_id", "provider_reference"
    )
    entries = [
        LedgerEntry(id=i, action=a, amount=amt, successful=s, active=act, source_id=src, reference=ref or None)
        for i, a, amt, s, act, src, ref in rows
    ]
    status = payment_status(entries, invoice.amount)
    fields: dict[str, str] = {"payment_status": status}
    if invoice.status == Invoice.Status.OPEN and status in INVOICE_PAID_STATUSES:
        fields["status"] = Invoice.Status.PAID
    Invoice.objects.filter(pk=invoice_id).update(**fields)
    return status


def _check_invoice_payable(order: Order, invoice: Invoice, account: OrderAccount) -> None:
    """An invoice payment never takes the order above its total: refused once the order is settled otherwise."""
    room = account.settleable
    if room >= invoice.amount:
        return
    if room <= 0:
        raise PaymentRefused(
            "order_settled", f"Invoice {invoice.number} has already been settled; there is nothing left to pay."
        )
    raise PaymentRefused(
        "order_settled",
        f"Part of order {order.number} has been paid since invoice {invoice.number} was issued, so it cannot be "
        "paid online as it stands. Please contact us for an updated invoice.",
    )


def invoice_payment_purchase(
    *,
    invoice_id: int,
    key: str,
    actor: User | None = None,
    payment_data: Mapping[str, str] | None = None,
    return_url: str = "",
    options: Mapping[str, Any] | None = None,
) -> PaymentTransaction:
    """Pay an open invoice with the configured invoice method (settings.INVOICE_PAYMENT_METHOD).

    No payment rules (reference §8), and always a charge whatever the integration's payment action; an
    offline method records a pending promise instead. Three steps under the order lock, like every payment.
    """
    try:
        integration, method_info = invoice_payment_method()
    except LookupError as exc:
        raise PaymentRefused("method_unavailable", "Invoices cannot be paid online at the moment.") from exc
    adapter = adapter_for(integration)
    order_id = Invoice.objects.values_list("order_id", flat=True).get(pk=invoice_id)
    # Paying again (another card) while an earlier payment of the invoice waits for the buyer at the provider (3-D
    # Secure left): that one is ended first, at the provider, so the invoice has one live payment. One the
    # provider cannot end, or that completed meanwhile, stays, and the checks below refuse the new one.
    from payments.abandonment import payment_abandon  # that module builds on this one

    waiting = PaymentTransaction.objects.filter(
        invoice_id=invoice_id, action__in=PURCHASE_ACTIONS, state=State.ACTION_REQUIRED
    ).exclude(idempotency_key=key)
    for row_id in waiting.values_list("id", flat=True):
        payment_abandon(transaction_id=row_id)

    with transaction.atomic():
        order = lock_order(order_id=order_id)
        invoice = Invoice.objects.get(pk=invoice_id)
        action = Action.PENDING if adapter.supports(Capability.PENDING) else Action.CHARGE
        fingerprint = _fingerprint("invoice", invoice.pk, method_info.identifier, invoice.amount, invoice.currency)
        if existing := _replay(key, fingerprint):
            return existing
        if invoice.status != Invoice.Status.OPEN:
            raise PaymentRefused("invoice_not_open", f"Invoice {invoice.number} is {invoice.get_status_display()}.")
        _refuse_second_purchase(invoice.transactions.all(), f"Invoice {invoice.number}")
        if action == Action.CHARGE and not adapter.supports(Capability.CHARGE):
            raise PaymentRefused("method_unavailable", "Invoices cannot be paid online at the moment.")
        _check_invoice_payable(order, invoice, order_account(order=order))
        context = replace(order.checkout_context(), subtotal=invoice.money, total=invoice.money)
        if not adapter.is_applicable(context):  # the provider's own gate: currency, amount limits
            raise PaymentRefused(
                "method_not_applicable",
                f"Invoice {invoice.number} cannot be paid online in {invoice.currency} or for this amount. "
                "Please contact us to arrange payment.",
            )
        txn = _reserve(
            order=order,
            invoice=invoice,
            integration=integration,
            payment_method=method_info.identifier,
            action=action,
            amount=invoice.amount,
            currency=invoice.currency,
            idempotency_key=key,
            fingerprint=fingerprint,
            actor=actor,
            request=scrub({"action": action, "return_url": return_url, "options": dict(options or {})}),
        )
        order_payment_status_refresh(order=order, cause=txn)
        invoice_payment_status_refresh(invoice_id=invoice.pk)

    request = PaymentRequest(
        amount=txn.money,
        idempotency_key=key,
        method=method_info,
        reference=invoice.number,
        context=context,
        payment_data=dict(payment_data or {}),
        return_url=return_url,
        options=dict(options or {}),
        customer_reference=_customer_reference(adapter, integration, order),
    )
    call = adapter.pending if action == Action.PENDING else adapter.charge
    return _call_provider(txn, call, request, adapter)
