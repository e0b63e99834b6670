"""Every money movement, in three steps (DESIGN.md), on top of the ledger (`payments.ledger`):

1. in a database transaction, lock the order row, check the move is allowed (`payments.operations`) and the
   amount available, and write the transaction row with its idempotency key, not yet successful;
2. call the provider with that key, with no database transaction open;
3. in a new database transaction, lock again and record the result (`ledger_record`), which updates the
   source transaction and the order's payment status.

A repeat with the same key returns the row it made and moves nothing. A provider that cannot be reached
leaves the row `reserved` for reconcile; no charge can happen that the ledger does not know about.

The ledger's public names used by callers of these services (the lock, the amounts, the status requests) are
re-exported here, so `payments.services` stays the one import of the views, tasks and the API.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, replace
from datetime import date, timedelta
from decimal import Decimal
from typing import Any

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q

from integrations.adapters import adapter_for
from integrations.models import Integration
from integrations.provider_customers import provider_customer_reference, provider_customer_remember
from integrations.selectors import method_resolve
from notifications.services import notice_raise
from orders.models import Invoice, Order
from payments.account import AccountRow, OrderAccount, account_from_rows
from payments.exceptions import PaymentRefused
from payments.ledger import (
    CAPTURE_SOURCES,
    MONEY_IN_ACTIONS,
    PURCHASE_ACTIONS,
    REFUND_SOURCES,
    capabilities_of,
    capturable_amount,
    follow_up_request,
    invoice_payment_status_refresh,
    late_released,
    ledger_record,
    ledger_refund_reverse,
    lock_order,
    lock_order_of,
    order_id_of,
    order_payment_status_refresh,
    refundable_amount,
    replay,
    request_fingerprint,
    reserve,
    reserve_child,
    reserve_replayed,
    reserve_replayed_before,
    schedule_to_renewal,
    source_read,
    status_refresh_after_reserve,
    status_request,
)
from payments.models import OPEN_STATES, Action, PaymentTransaction, State
from payments.money import MoneyError, ensure_exact, quantize
from payments.operations import AllowedOperations, Refusal, allowed_operations
from payments.selectors import invoice_payment_method, order_account, order_ledger_rows, taken_from_rows
from payments.validations import validation_for_reuse
from providers.base import (
    Adapter,
    Capability,
    CheckoutContext,
    ErrorCode,
    MethodInfo,
    Money,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    UnsupportedOperation,
    scrub,
)

logger = logging.getLogger(__name__)

__all__ = [
    "CAPTURE_SOURCES",
    "MONEY_IN_ACTIONS",
    "PURCHASE_ACTIONS",
    "REFUND_SOURCES",
    "capabilities_of",
    "capturable_amount",
    "invoice_payment_purchase",
    "invoice_payment_status_refresh",
    "ledger_record",
    "ledger_refund_reverse",
    "lock_order",
    "notice_raise",
    "order_payment_status_refresh",
    "payment_cancel",
    "payment_activate",
    "payment_capture",
    "payment_complete",
    "order_purchase_reserve",
    "payment_invoice",
    "payment_purchase",
    "purchase_call",
    "purchase_record",
    "purchase_send",
    "payment_reauthorize",
    "payment_refund",
    "refundable_amount",
    "status_request",
]


# --- step 2: the provider call ------------------------------------------------------------------------------


def _call_provider(
    txn: PaymentTransaction, call: Callable[[Any], ProviderResult], request: Any, adapter: Adapter
) -> PaymentTransaction:
    """Call the provider with no transaction open, then record what it said."""
    return _record_answer(txn, _provider_answer(txn, call, request), adapter)


def _provider_answer(
    txn: PaymentTransaction, call: Callable[[Any], ProviderResult], request: Any
) -> ProviderResult | None:
    """Step 2: what the provider said, or None when it gave no answer (money may have moved: reconcile asks)."""
    try:
        return call(request)
    except ProviderUnavailable as exc:
        logger.warning(
            "Provider gave no answer for %s of order %s (transaction %s); left for reconcile: %s",
            txn.action,
            txn.order_id,
            txn.pk,
            exc,
        )
        return None
    except (ProviderMisconfigured, UnsupportedOperation) as exc:
        logger.error(  # noqa: G200 - no secret reaches these messages
            "Provider refused %s of order %s (transaction %s): %s", txn.action, txn.order_id, txn.pk, exc
        )
        return ProviderResult(
            outcome=Outcome.DECLINED,
            provider_reference=None,
            amount=txn.money,
            error_code=ErrorCode.PROVIDER_MISCONFIGURED,
            message="The payment provider rejected the integration's settings. Please contact us.",
        )


def _record_answer(
    txn: PaymentTransaction, result: ProviderResult | None, adapter: Adapter, *, savepoint: bool = True
) -> PaymentTransaction:
    """Step 3: record the answer under the order lock; with no answer the row stays reserved, saying so."""
    if result is None:
        PaymentTransaction.objects.filter(pk=txn.pk, state=State.RESERVED).update(
            message="The payment provider did not answer; the outcome will be checked automatically."
        )
        txn.refresh_from_db()
        return txn
    if result.customer_reference:  # the buyer's company as the provider now knows it, for later payments
        provider_customer_remember(
            integration_id=txn.integration_id, customer_id=txn.order.customer_id, reference=result.customer_reference
        )
    return ledger_record(
        transaction_id=txn.pk, result=result, adapter=adapter, order_id=txn.order_id, savepoint=savepoint
    )


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


# --- purchases: an order's total, or an open invoice --------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class _Purchase:
    """What one purchase takes, decided under the order lock."""

    action: Action
    amount: Decimal
    reference: str  # the order's or the invoice's number, as the provider shows it
    context: CheckoutContext
    invoice: Invoice | None = None
    #: a card this buyer validated and kept, chosen here (never named by the browser)
    validated: PaymentTransaction | None = None


def _purchase_reserve(
    order: Order,
    purchase: _Purchase,
    integration: Integration,
    method_info: MethodInfo,
    key: str,
    terms: str,
    actor: User | None,
    return_url: str,
    options: Mapping[str, Any] | None,
) -> PaymentTransaction:
    """The purchase's row, under the order lock the caller holds; the key was replayed, so no savepoint."""
    txn = reserve_replayed_before(
        order=order,
        invoice=purchase.invoice,
        source=purchase.validated,
        integration=integration,
        payment_method=method_info.identifier,
        action=purchase.action,
        amount=purchase.amount,
        currency=order.currency,
        idempotency_key=key,
        fingerprint=terms,
        actor=actor,
        request=scrub({"action": purchase.action, "return_url": return_url, "options": dict(options or {})}),
    )
    status_refresh_after_reserve(order=order, txn=txn)
    if purchase.invoice is not None:
        invoice_payment_status_refresh(invoice_id=purchase.invoice.pk)
    return txn


@dataclass(frozen=True, slots=True)
class ReservedPurchase:
    """A purchase whose row is written (step 1); `purchase_send` calls the provider once that row is committed."""

    txn: PaymentTransaction
    adapter: Adapter
    request: PaymentRequest
    action: Action


def _purchase_request(
    txn: PaymentTransaction,
    purchase: _Purchase,
    adapter: Adapter,
    integration: Integration,
    method_info: MethodInfo,
    payment_data: Mapping[str, str] | None,
    return_url: str,
    options: Mapping[str, Any] | None,
) -> ReservedPurchase:
    request = PaymentRequest(
        amount=txn.money,
        idempotency_key=txn.idempotency_key,
        method=method_info,
        reference=purchase.reference,
        context=purchase.context,
        payment_data=dict(payment_data or {}),
        return_url=return_url,
        options=dict(options or {}),
        source_reference=purchase.validated.provider_reference if purchase.validated else "",
        customer_reference=_customer_reference(adapter, integration, txn.order),
        # our own endpoint, never one derived from the return URL (the store API takes that from its caller)
        notify_url=integration.get_webhook_url(),
    )
    return ReservedPurchase(txn, adapter, request, purchase.action)


def purchase_send(reserved: ReservedPurchase) -> PaymentTransaction:
    """Steps 2 and 3 of a purchase: the provider call with no transaction open, and the record."""
    return purchase_record(reserved, purchase_call(reserved))


def purchase_call(reserved: ReservedPurchase) -> ProviderResult | None:
    """Step 2 of a purchase, with no transaction open: the provider's answer, None when it gave none."""
    call = {
        Action.PENDING: reserved.adapter.pending,
        Action.AUTHORIZE: reserved.adapter.authorize,
        Action.CHARGE: reserved.adapter.charge,
    }
    return _provider_answer(reserved.txn, call[reserved.action], reserved.request)


def purchase_record(
    reserved: ReservedPurchase, result: ProviderResult | None, *, savepoint: bool = True
) -> PaymentTransaction:
    """Step 3 of a purchase: record `result` under the order lock. `savepoint=False` records in the caller's open
    transaction (the checkout, which takes its own lock first: the checkout's before the order's)."""
    return _record_answer(reserved.txn, result, reserved.adapter, savepoint=savepoint)


def _purchase(
    *,
    order_id: int,
    integration: Integration,
    method_info: MethodInfo,
    adapter: Adapter,
    key: str,
    fingerprint: Callable[[Order], str],
    decide: Callable[[Order], _Purchase],
    actor: User | None,
    payment_data: Mapping[str, str] | None,
    return_url: str,
    options: Mapping[str, Any] | None,
) -> PaymentTransaction:
    """The three steps of every purchase: under the order lock, replay or `decide` (which refuses) and reserve;
    then the provider call with no transaction open, and the record."""
    try:
        with transaction.atomic():
            order = lock_order(order_id=order_id)
            terms = fingerprint(order)
            if existing := replay(key, terms):
                return existing
            purchase = decide(order)
            txn = _purchase_reserve(order, purchase, integration, method_info, key, terms, actor, return_url, options)
    except IntegrityError:  # the key was taken meanwhile by a row of another order: nothing was written
        return reserve_replayed(key, fingerprint(Order.objects.get(pk=order_id)))
    return purchase_send(
        _purchase_request(txn, purchase, adapter, integration, method_info, payment_data, return_url, options)
    )


def _purchase_decider(
    adapter: Adapter,
    integration: Integration,
    method_info: MethodInfo,
    given: CheckoutContext | None,
    *,
    fresh: bool = False,
) -> Callable[[Order], _Purchase]:
    """What a purchase of the order with this method takes, decided under the order lock; refuses when the order
    owes nothing or the provider does not take it. `fresh`: the order was made in this very transaction, so it
    has no ledger rows yet and owes its total (no need to read them)."""
    method = method_info.identifier

    def decide(order: Order) -> _Purchase:
        action = _purchase_action(adapter, integration, method_info)
        if order.total <= 0:
            raise PaymentRefused("amount_not_positive", "There is nothing to pay on this order.")
        # What the order still owes: its total, unless part was taken or is held (a lapsed authorization holds
        # nothing, so its order can be paid again).
        amount = quantize(order.total if fresh else order_account(order=order).payable, order.currency)
        if amount <= 0:
            # nothing left to pay: say whether it is paid or still being confirmed with the provider
            _refuse_second_purchase(order.transactions.all(), f"Order {order.number}")
            raise PaymentRefused("already_paid", f"Order {order.number} is already paid or being paid.")
        context = given if given is not None and given.total == order.total_money else order.checkout_context()
        if amount != order.total:
            context = replace(context, total=Money(quantize(amount, order.currency), order.currency))
        if not adapter.is_applicable(context):
            raise PaymentRefused("method_not_applicable", "This payment method is not available for this order.")
        update_fields = ["payment_method", "updated_at"]
        if adapter.supports(Capability.ON_ACCOUNT):
            order.payment_term = order.customer.resolved_payment_term
            update_fields.append("payment_term")
        if order.payment_method != method or len(update_fields) > 2:  # a checkout's order is made with its method
            order.payment_method = method
            order.save(update_fields=update_fields)
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
        return _Purchase(action, amount, order.number, context, validated=validated)

    return decide


def order_purchase_reserve(
    *,
    order: Order,
    integration: Integration,
    method_info: MethodInfo,
    key: str,
    actor: User | None = None,
    payment_data: Mapping[str, str] | None = None,
    return_url: str = "",
    options: Mapping[str, Any] | None = None,
    context: CheckoutContext | None = None,
) -> ReservedPurchase:
    """Step 1 of paying an order that the caller made in its open transaction (the checkout's submit), in that
    transaction: the row is written before the provider is called, and `purchase_send` calls it once the caller
    committed. No other transaction can see the order yet, so it needs no lock of its own and has no ledger rows
    to read or replay; a key that exists anyway ends the caller's transaction with IntegrityError, nothing kept.
    Refuses (PaymentRefused) as `payment_purchase` does, having written nothing."""
    if not transaction.get_connection().in_atomic_block:
        raise RuntimeError("order_purchase_reserve runs in the transaction that made the order")
    adapter = adapter_for(integration)
    purchase = _purchase_decider(adapter, integration, method_info, context, fresh=True)(order)
    terms = request_fingerprint("purchase", order.pk, method_info.identifier, order.total, order.currency)
    txn = _purchase_reserve(order, purchase, integration, method_info, key, terms, actor, return_url, options)
    txn.order = order
    return _purchase_request(txn, purchase, adapter, integration, method_info, payment_data, return_url, options)


def payment_purchase(
    *,
    order_id: int,
    method: str,
    key: str,
    actor: User | None = None,
    payment_data: Mapping[str, str] | None = None,
    return_url: str = "",
    options: Mapping[str, Any] | None = None,
    context: CheckoutContext | None = None,
) -> PaymentTransaction:
    """Pay an order's total with a method: authorize or charge per the integration, or pending (offline).

    `context` is the order as rules and providers see it, when the caller has just built it from what the order
    was made of (the checkout); otherwise it is read from the order."""
    try:
        integration, method_info = method_resolve(method)
    except LookupError as exc:
        raise PaymentRefused("method_unavailable", "This payment method is not available.") from exc
    adapter = adapter_for(integration)
    decide = _purchase_decider(adapter, integration, method_info, context)
    return _purchase(
        order_id=order_id,
        integration=integration,
        method_info=method_info,
        adapter=adapter,
        key=key,
        fingerprint=lambda order: request_fingerprint("purchase", order.pk, method, order.total, order.currency),
        decide=decide,
        actor=actor,
        payment_data=payment_data,
        return_url=return_url,
        options=options,
    )


def invoice_payment_purchase(
    *,
    invoice_id: int,
    key: str,
    actor: User | None = None,
    payment_data: Mapping[str, str] | None = None,
    return_url: str = "",
    options: Mapping[str, Any] | None = None,
    method: str = "",
) -> PaymentTransaction:
    """Pay an open invoice with the configured invoice method (settings.INVOICE_PAYMENT_METHOD); `method` picks one
    of that integration's methods (OroPay's card or ACH), its first by default.

    No payment rules (reference §8), and always a charge whatever the integration's payment action; an
    offline method records a pending promise instead. Three steps under the order lock, like every payment.
    """
    try:
        integration, method_info = invoice_payment_method(method)
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

    def fingerprint(order: Order) -> str:
        amount, currency = Invoice.objects.values_list("amount", "currency").get(pk=invoice_id)
        return request_fingerprint("invoice", invoice_id, method_info.identifier, amount, currency)

    def decide(order: Order) -> _Purchase:
        invoice = Invoice.objects.get(pk=invoice_id)
        action = Action.PENDING if adapter.supports(Capability.PENDING) else Action.CHARGE
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
        return _Purchase(action, invoice.amount, invoice.number, context, invoice=invoice)

    return _purchase(
        order_id=order_id,
        integration=integration,
        method_info=method_info,
        adapter=adapter,
        key=key,
        fingerprint=fingerprint,
        decide=decide,
        actor=actor,
        payment_data=payment_data,
        return_url=return_url,
        options=options,
    )


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


# --- operations on a payment: capture, cancel, refund --------------------------------------------------------


def _allowed(order: Order, source: PaymentTransaction, rows: list[AccountRow]) -> AllowedOperations:
    """What may be done to `source`, from the order's `rows` read under the order lock: the same answer the order
    page offers from. No limit of an operation on a payment reads the open invoices (a capture or an invoice of an
    authorization is held to `capture_room`, taken and held money only; open invoices bound new purchases and
    invoices, `payable` and `invoiceable`), so the account is made without them."""
    return allowed_operations(
        source,
        taken=taken_from_rows(rows, source_id=source.pk),
        capabilities=capabilities_of(source.integration),
        account=account_from_rows(rows, total=order.total, currency=order.currency, open_invoices={}),
    )


def _operate(
    *,
    verb: str,
    source_id: int,
    terms: tuple[object, ...],
    key: str,
    reserve_checked: Callable[[PaymentTransaction, AllowedOperations, str], PaymentTransaction],
    options: dict[str, Any] | None = None,
) -> PaymentTransaction:
    """The prologue every operation on a payment shares: lock, read the order's rows with the source and a repeated
    key's row (one read), replay a repeated key, check and reserve (`reserve_checked`, which refuses); then the
    adapter's `verb` with no transaction open, and the record."""
    fingerprint = request_fingerprint(verb, source_id, *terms)
    try:
        with transaction.atomic():
            order = lock_order_of(transaction_id=source_id)
            rows, existing = order_ledger_rows(order_id=order.pk, key=key)
            source = rows[source_id]  # the lock was taken through it: a row of this order
            source.order = order  # the locked row
            adapter = adapter_for(source.integration)
            if existing is not None:
                if existing.fingerprint != fingerprint:
                    raise PaymentRefused(
                        "idempotency_key_reused",
                        "This request key was already used for a different payment operation.",
                    )
                return existing
            account_rows = [row.as_account_row() for row in rows.values()]
            txn = reserve_checked(source, _allowed(order, source, account_rows), fingerprint)  # without a savepoint
    except IntegrityError:  # the key was taken meanwhile by a row of another order: nothing was written
        return reserve_replayed(key, fingerprint)
    return _call_provider(txn, getattr(adapter, verb), follow_up_request(txn, source, options=options), adapter)


def _refuse_unless(refusal: Refusal | None) -> None:
    if refusal is not None:
        raise PaymentRefused(refusal.code, refusal.message)


def _wanted(
    amount: Money | None, *, left: Decimal, currency: str, whole: Decimal, partial: bool, in_full: Refusal
) -> Money:
    """The amount asked for, or all that is `left`: refused when it does not fit, or when it is less than the
    `whole` on a provider that takes only all of it."""
    wanted = amount or Money(left, currency)
    _check_amount(wanted, currency=currency, available=left)
    if wanted.amount < whole and not partial:
        _refuse_unless(in_full)
    return wanted


def payment_capture(
    *, source_id: int, amount: Money | None, key: str, actor: User | None = None, note: str = ""
) -> PaymentTransaction:
    """Capture all (amount None) or part of an authorization, or mark an offline promise paid."""

    def reserve_checked(source: PaymentTransaction, allowed: AllowedOperations, fingerprint: str) -> PaymentTransaction:
        _refuse_unless(allowed.capture_refused)
        wanted = _wanted(
            amount,
            left=allowed.capture_limit,
            currency=source.currency,
            whole=allowed.capturable,
            partial=allowed.partial_capture,
            in_full=Refusal(
                "partial_capture_unsupported",
                f"This payment can only be captured in full ({allowed.capturable} {source.currency}).",
            ),
        )
        return reserve_child(
            source, Action.CAPTURE, wanted, key=key, fingerprint=fingerprint, actor=actor, note=note, savepoint=False
        )

    return _operate(verb="capture", source_id=source_id, terms=_terms(amount), key=key, reserve_checked=reserve_checked)


def payment_cancel(
    *, source_id: int, key: str, actor: User | None = None, note: str = "", reason: str = ""
) -> PaymentTransaction:
    """Release what is left of an authorization (the provider's void)."""

    def reserve_checked(source: PaymentTransaction, allowed: AllowedOperations, fingerprint: str) -> PaymentTransaction:
        _refuse_unless(allowed.cancel_refused)
        left = Money(allowed.cancelable, source.currency)
        return reserve_child(
            source,
            Action.CANCEL,
            left,
            key=key,
            fingerprint=fingerprint,
            actor=actor,
            note=note,
            reason=reason,
            savepoint=False,
        )

    return _operate(verb="cancel", source_id=source_id, terms=(), key=key, reserve_checked=reserve_checked)


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

    def reserve_checked(source: PaymentTransaction, allowed: AllowedOperations, fingerprint: str) -> PaymentTransaction:
        _refuse_unless(allowed.refund_refused)
        wanted = _wanted(
            amount,
            left=allowed.refundable,
            currency=source.currency,
            whole=source.amount,
            partial=allowed.partial_refund,
            in_full=Refusal(
                "partial_refund_unsupported", f"This payment can only be refunded in full ({source.money})."
            ),
        )
        return reserve_child(
            source,
            Action.REFUND,
            wanted,
            key=key,
            fingerprint=fingerprint,
            actor=actor,
            note=note,
            reason=reason,
            savepoint=False,
        )

    return _operate(verb="refund", source_id=source_id, terms=_terms(amount), key=key, reserve_checked=reserve_checked)


def payment_activate(
    *, source_id: int, key: str, invoice_number: str, invoice_date: date, actor: User | None = None, note: str = ""
) -> PaymentTransaction:
    """The invoice for a captured payment was issued: the provider grants its guarantee and the payment term starts
    (InfinitePay's activateOrder). Refused on an authorization (capture first) and on an activated payment; the
    invoice number and date are kept with the row, so reconcile can send the same request again."""
    invoice_number = invoice_number.strip()
    if not invoice_number or len(invoice_number) > 50:
        raise PaymentRefused("invalid_invoice_number", "Give the invoice number (at most 50 characters).")

    def reserve_checked(source: PaymentTransaction, allowed: AllowedOperations, fingerprint: str) -> PaymentTransaction:
        _refuse_unless(allowed.activate_refused)
        txn = reserve_child(
            source, Action.ACTIVATE, source.money, key=key, fingerprint=fingerprint, actor=actor, note=note
        )
        if txn.request.get("options") is None:
            txn.request = {
                **txn.request,
                "options": {"invoice_id": invoice_number, "invoice_date": invoice_date.isoformat()},
            }
            txn.save(update_fields=["request", "updated_at"])
        return txn

    return _operate(
        verb="activate",
        source_id=source_id,
        terms=(invoice_number, invoice_date.isoformat()),
        key=key,
        reserve_checked=reserve_checked,
    )


def payment_invoice(
    *,
    source_id: int,
    amount: Money | None,
    key: str,
    actor: User | None = None,
    note: str = "",
    tracking_number: str = "",
    shipper: str = "",
) -> PaymentTransaction:
    """ "Send invoice" (Apruve): bill the buyer's company for all that is left (amount None) or part of an
    authorization; several invoices per authorization, together never above it. The `invoice` row's reference
    is the provider's invoice id, and the money arrives later as its capture (a webhook). A tracking number adds
    the shipment to the invoice at the provider."""
    shipment = {"tracking_number": tracking_number.strip(), "shipper": shipper.strip()}

    def reserve_checked(source: PaymentTransaction, allowed: AllowedOperations, fingerprint: str) -> PaymentTransaction:
        _refuse_unless(allowed.invoice_refused)
        wanted = amount or Money(allowed.invoice_limit, source.currency)
        _check_amount(wanted, currency=source.currency, available=allowed.invoice_limit)
        txn = reserve_child(source, Action.INVOICE, wanted, key=key, fingerprint=fingerprint, actor=actor, note=note)
        if shipment["tracking_number"]:
            PaymentTransaction.objects.filter(pk=txn.pk).update(request={**txn.request, "shipment": shipment})
        return txn

    return _operate(
        verb="invoice",
        source_id=source_id,
        terms=(*_terms(amount), shipment["tracking_number"]),
        key=key,
        reserve_checked=reserve_checked,
        options=shipment,
    )


def _terms(amount: Money | None) -> tuple[object, ...]:
    """What a capture or refund request asked for: an amount, or everything that is left."""
    return ("all",) if amount is None else (amount.amount, amount.currency)


# --- completing open rows ----------------------------------------------------------------------------------------


def payment_complete(*, transaction_id: int, returned_reference: str = "") -> PaymentTransaction:
    """Ask the provider what became of an open row and record it (3-D Secure return page, reconcile).

    A final row is returned as it is, without calling the provider; a webhook that got there first wins.
    `returned_reference` is what the buyer's browser brought back from the provider (Apruve's lightbox gives an
    order id): the adapter verifies it with the provider, and one another payment already stands on is refused
    here (an order id of another order or company is never taken over). A payment ended because the buyer left
    it stays ended when the browser names an object the provider made for it afterwards (the buyer accepted in
    another tab): that object is canceled at the provider (`payments.abandonment.late_acceptance_release`).
    """
    txn = PaymentTransaction.objects.select_related("integration").get(pk=transaction_id)
    if not txn.is_open:
        if returned_reference.strip() and txn.state == State.DECLINED:
            from payments.abandonment import late_acceptance_release  # that module builds on this one

            late_acceptance_release(transaction_id=txn.pk, returned_reference=returned_reference)
        return txn
    adapter = adapter_for(txn.integration)
    if not adapter.supports(Capability.FETCH_STATUS):
        return txn
    returned_reference = returned_reference.strip()[:255]
    if returned_reference and (
        PaymentTransaction.objects.filter(
            integration_id=txn.integration_id, action__in=PURCHASE_ACTIONS, provider_reference=returned_reference
        )
        .exclude(pk=txn.pk)
        .exists()
        or returned_reference in late_released(txn.integration.provider_key)  # canceled for an ended payment
    ):
        logger.warning("Transaction %s: the browser named a reference another payment stands on", txn.pk)
        returned_reference = ""
    try:
        result = adapter.fetch_status(status_request(txn, returned_reference=returned_reference))
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
    order_id = order_id_of(source_id)
    with transaction.atomic():
        lock_order(order_id=order_id)
        fingerprint = request_fingerprint("re_authorize", source_id)
        if existing := replay(key, fingerprint):
            return existing.children.filter(action=Action.AUTHORIZE).first() or existing
        source = source_read(source_id)
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
        link = reserve(
            **common, source=source, action=Action.RE_AUTHORIZE, idempotency_key=key, fingerprint=fingerprint
        )
        renewal = reserve(
            **common,
            source=link,
            action=Action.AUTHORIZE,
            idempotency_key=f"{key}:authorize",
            fingerprint=request_fingerprint("authorize", link.pk),
            request={"action": "authorize", "renews": source.pk},
        )
    request = follow_up_request(renewal, source, reason="", validation_only=False)
    renewal = _call_provider(renewal, adapter.reauthorize, request, adapter)  # records it, closing `link` too
    if renewal.state == State.SUCCEEDED:
        renewal_settle(old_id=source.pk, renewal_id=renewal.pk, key=key, actor=actor)
    renewal.refresh_from_db()
    return renewal


def renewal_settle(*, old_id: int, renewal_id: int, key: str, actor: User | None) -> None:
    """After a renewal succeeded, keep exactly one hold: release the old one, or cancel the renewal.

    The old hold may have been captured (or a capture sent) while the renewal was at the provider, with no
    lock held: re-checked here under the order lock. Then the renewal is a second live hold on money already
    taken, and is cancelled. So is it when the old hold cannot be released (captured at the provider), or was
    cancelled meanwhile (staff released the order's money). An old hold that lapsed meanwhile (the expiry
    sweep, no capture or cancel) is what the renewal was for: the renewal stays, and takes over the schedule.
    """
    with transaction.atomic():
        lock_order(order_id=order_id_of(old_id))
        old, renewal = source_read(old_id), source_read(renewal_id)
        if not (renewal.successful and renewal.active):
            return
        if (
            old.children.filter(action=Action.CANCEL, idempotency_key=f"{key}:cancel").exists()
            or renewal.children.filter(action=Action.CANCEL, idempotency_key=f"{key}:cancel-renewal").exists()
        ):
            return  # settled already: the service and the recording of the renewal's answer both ask
        acted_on = old.children.filter(action__in=(Action.CAPTURE, Action.CANCEL)).exclude(state=State.DECLINED)
        if old.successful and not old.active and not acted_on.exists():
            schedule_to_renewal(old)
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
