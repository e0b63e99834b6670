"""What may be done to a payment transaction: one answer for the back-office (what to offer) and for the services
(what to allow, under the order lock).

A pure function of the row, what its children took and the provider's capabilities, and, for captures, of the
order's account. No database: the services read the children under the lock (`payments.ledger.children_taken`),
the back-office from the annotations of `backoffice.selectors.payment_history`, and both get the same answer.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from decimal import Decimal

from payments.account import OrderAccount
from payments.models import Action, PaymentTransaction
from payments.money import format_money, quantize
from providers.base import Capability, Money

#: purchases that hold money a capture takes (an authorization, or an offline promise marked paid)
CAPTURE_SOURCES = (Action.AUTHORIZE, Action.PENDING)
#: rows whose money a refund gives back
REFUND_SOURCES = (Action.CHARGE, Action.CAPTURE, Action.PURCHASE)
#: rows an activation (the invoice issued) acts on: what was captured, by a capture or a charge with auto capture
ACTIVATE_SOURCES = (Action.CAPTURE, Action.CHARGE)
ZERO = Decimal("0")


@dataclass(frozen=True, slots=True)
class Taken:
    """What a row's children took or may still take: successful ones and open ones (their answer may be yes)."""

    captured: Decimal = ZERO
    canceled: Decimal = ZERO
    refunded: Decimal = ZERO
    #: what activations (the invoice issued: InfinitePay) of the row cover, open ones too
    activated: Decimal = ZERO
    #: sent to the buyer's company as invoices (Apruve): no longer the authorization's to capture or cancel
    invoiced: Decimal = ZERO


@dataclass(frozen=True, slots=True)
class Refusal:
    """Why an operation is not allowed, as `PaymentRefused` says it (a `RefusalCode`)."""

    code: str
    message: str


@dataclass(frozen=True, slots=True)
class AllowedOperations:
    """What may be captured, canceled and refunded on one row, how much, and why not.

    `capturable` is what the hold has left; `capture_limit` is what a capture may take now (within what the
    order may still take, when the account is known). An operation is allowed when its refusal is None.
    """

    currency: str
    capturable: Decimal
    capture_limit: Decimal
    partial_capture: bool
    #: a capture of less than `capturable` releases the rest (the provider takes one capture per authorization)
    releases_rest: bool
    capture_refused: Refusal | None
    cancelable: Decimal
    cancel_refused: Refusal | None
    refundable: Decimal
    partial_refund: bool
    refund_refused: Refusal | None
    #: activation (`Capability.ACTIVATE`): allowed once on a successful capture or charge not activated yet
    activate_refused: Refusal | None = Refusal("not_activatable", "This payment cannot be activated.")
    #: "Send invoice" (`Capability.INVOICE`), which replaces Capture: what an invoice may bill now, or why not
    invoice_limit: Decimal = ZERO
    invoice_refused: Refusal | None = Refusal("not_invoiceable", "No invoice can be sent for this payment.")


def allowed_operations(
    row: PaymentTransaction,
    *,
    taken: Taken,
    capabilities: Collection[Capability],
    account: OrderAccount | None = None,
) -> AllowedOperations:
    """What may be done to `row`. Captures are held to the order's `account` when it is given (read under the
    lock by the services; by the order page for what it offers)."""
    currency = row.currency
    capturable = _capturable(row, taken, capabilities)
    capture_limit, capture_refused = _capture(row, capturable, capabilities, account)
    partial_capture = Capability.PARTIAL_CAPTURE in capabilities and row.action != Action.PENDING
    cancel_refused = None
    if Capability.CANCEL not in capabilities or row.action != Action.AUTHORIZE:
        cancel_refused = Refusal("not_cancelable", "This payment cannot be canceled.")
    elif capturable <= 0:
        cancel_refused = Refusal("nothing_to_cancel", "Nothing is left to cancel on this payment.")
    elif taken.invoiced > 0:  # the provider cancels a whole order, and an invoice already bills part of it
        cancel_refused = Refusal(
            "invoiced", "An invoice was sent for this payment, so it can no longer be canceled; credit the invoice."
        )
    refundable = _refundable(row, taken)
    refund_refused = None
    if Capability.REFUND not in capabilities or row.action not in REFUND_SOURCES:
        refund_refused = Refusal("not_refundable", "This payment cannot be refunded.")
    elif refundable <= 0:
        refund_refused = Refusal("nothing_to_refund", "Nothing is left to refund on this payment.")
    elif refundable < row.amount and Capability.PARTIAL_REFUND not in capabilities:
        # part was refunded already (at the provider, reported by a webhook): what is left is a partial refund
        refund_refused = Refusal(
            "partial_refund_unsupported", f"This payment can only be refunded in full ({row.money})."
        )
    invoice_limit, invoice_refused = _invoice(row, capturable, capabilities, account)
    credit_only_activated = (
        Capability.ACTIVATE in capabilities and row.action in ACTIVATE_SOURCES and not _activated(row, taken)
    )
    if refund_refused is None and credit_only_activated and refundable < row.amount:
        refund_refused = Refusal(
            "not_activated", "Only an activated payment can be credited: activate it (invoice issued) first."
        )
    return AllowedOperations(
        activate_refused=_activate(row, taken, capabilities),
        currency=currency,
        capturable=capturable,
        capture_limit=capture_limit,
        partial_capture=partial_capture,
        releases_rest=(
            partial_capture and row.action == Action.AUTHORIZE and Capability.MULTIPLE_CAPTURE not in capabilities
        ),
        capture_refused=capture_refused,
        cancelable=capturable if cancel_refused is None else quantize(ZERO, currency),
        cancel_refused=cancel_refused,
        refundable=refundable,
        # before activation the provider takes no credit note: a refund ends the whole order (InfinitePay's
        # cancelOrder of a captured order), so it is all or nothing
        partial_refund=Capability.PARTIAL_REFUND in capabilities and not credit_only_activated,
        refund_refused=refund_refused,
        invoice_limit=invoice_limit,
        invoice_refused=invoice_refused,
    )


def _activate(row: PaymentTransaction, taken: Taken, capabilities: Collection[Capability]) -> Refusal | None:
    """Why `row` may not be activated now, or None. An authorization is refused with its own message: the provider
    activates only what was captured (shipped)."""
    if Capability.ACTIVATE not in capabilities:
        return Refusal("not_activatable", "This payment cannot be activated.")
    if row.action == Action.AUTHORIZE:
        return Refusal("not_captured", "Capture the payment (the order shipped) before activating it.")
    if row.action not in ACTIVATE_SOURCES or not row.successful:
        return Refusal("not_activatable", "This payment cannot be activated.")
    if _activated(row, taken):
        return Refusal("already_activated", "This payment was activated already.")
    if taken.refunded > 0:
        return Refusal("not_activatable", "This payment was refunded.")
    return None


def _activated(row: PaymentTransaction, taken: Taken) -> bool:
    """Whether `row` is activated: by an activation of its own (open ones too), or with it (auto activation)."""
    return taken.activated > 0 or (row.response or {}).get("activated") is True


def _capturable(row: PaymentTransaction, taken: Taken, capabilities: Collection[Capability]) -> Decimal:
    """What is left of an authorization (or pending promise): captures and cancels, open ones too, count.

    A provider without MULTIPLE_CAPTURE takes one capture per authorization and releases the rest, so once a
    capture is sent (even before its answer) nothing is left to capture or cancel.
    """
    zero = quantize(ZERO, row.currency)
    if row.action not in CAPTURE_SOURCES or not (row.successful and row.active):
        return zero
    if (
        row.action == Action.AUTHORIZE
        and Capability.MULTIPLE_CAPTURE not in capabilities
        and Capability.INVOICE not in capabilities  # billed by several invoices, paid one by one (Apruve)
        and taken.captured > 0
    ):
        return zero
    left = row.amount - taken.captured - taken.canceled - taken.invoiced
    return quantize(max(left, ZERO), row.currency)


def _refundable(row: PaymentTransaction, taken: Taken) -> Decimal:
    """What is left to refund of a charge or capture: refunds, open ones too, count."""
    if row.action not in REFUND_SOURCES or not row.successful:
        return quantize(ZERO, row.currency)
    return quantize(max(row.amount - taken.refunded, ZERO), row.currency)


def _capture(
    row: PaymentTransaction,
    capturable: Decimal,
    capabilities: Collection[Capability],
    account: OrderAccount | None,
) -> tuple[Decimal, Refusal | None]:
    """What a capture of `row` may take, within what the order may still take; or why it may not.

    An order settled another way (its invoice paid by card, a check received) leaves nothing to capture, and a
    promise is marked paid in full or not at all.
    """
    zero = quantize(ZERO, row.currency)
    if Capability.CAPTURE not in capabilities or row.action not in CAPTURE_SOURCES:
        return zero, Refusal("not_capturable", "This payment cannot be captured.")
    if capturable <= 0:
        return zero, Refusal("nothing_to_capture", "Nothing is left to capture on this payment.")
    if account is None:
        return capturable, None
    order = row.order
    room = quantize(account.capture_room(row.pk, promise=row.action == Action.PENDING), row.currency)
    if room <= 0:
        return zero, Refusal(
            "order_settled",
            f"Nothing more may be captured on order {order.number}: its total ({format_money(order.total_money)}) "
            "is already paid or held by other payments.",
        )
    if row.action == Action.PENDING and room < capturable:
        return zero, Refusal(
            "order_settled",
            f"Only {format_money(Money(room, row.currency))} of order {order.number} is still owed, so this "
            f"promise of {format_money(Money(capturable, row.currency))} cannot be marked paid.",
        )
    return min(capturable, room), None


def _invoice(
    row: PaymentTransaction,
    capturable: Decimal,
    capabilities: Collection[Capability],
    account: OrderAccount | None,
) -> tuple[Decimal, Refusal | None]:
    """What an invoice of `row` may bill: what the authorization has left, within what the order may still take
    (an invoice turns part of the hold into money the provider collects, as a capture does)."""
    zero = quantize(ZERO, row.currency)
    if Capability.INVOICE not in capabilities or row.action != Action.AUTHORIZE:
        return zero, Refusal("not_invoiceable", "No invoice can be sent for this payment.")
    if capturable <= 0:
        return zero, Refusal(
            "nothing_to_invoice", "Everything authorized on this payment has been invoiced or released."
        )
    if account is None:
        return capturable, None
    room = quantize(account.capture_room(row.pk, promise=False), row.currency)
    if room <= 0:
        return zero, Refusal(
            "order_settled",
            f"Nothing more may be invoiced on order {row.order.number}: its total "
            f"({format_money(row.order.total_money)}) is already paid, held or invoiced by other payments.",
        )
    return min(capturable, room), None
