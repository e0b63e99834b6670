"""Which payment operations the order page offers on a transaction, and for how much.

What may be done is decided once, by `payments.operations.allowed_operations` (the adapter's capabilities, what
the ledger has left, never the provider key; a capture within what the order may still take): the services
enforce that answer under the order lock, and this offers it. Rows come from
`backoffice.selectors.payment_history`, which annotates what children already took.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from payments.account import OrderAccount
from payments.attention import attention_releasable
from payments.models import PaymentTransaction
from payments.operations import AllowedOperations, Taken, allowed_operations
from providers import registry
from providers.base import Adapter, Capability, Money


class Operation(enum.StrEnum):
    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"
    #: "Send invoice": bill the buyer's company for (part of) an authorization (Apruve); replaces Capture
    INVOICE = "invoice"
    #: a payment nobody could settle (needs attention): end it at the provider
    RELEASE = "release"
    #: a payment nobody could settle: record what staff found at the provider
    RESOLVE = "resolve"
    #: the invoice for a captured payment was issued: the provider's guarantee and payment term start (InfinitePay)
    ACTIVATE = "activate"

    @property
    def permission(self) -> str:
        return {"release": "payments.cancel_payment"}.get(self.value, f"payments.{self.value}_payment")

    @property
    def label(self) -> str:
        return {
            "capture": "Capture",
            "cancel": "Cancel authorization",
            "refund": "Refund",
            "invoice": "Send invoice",
            "release": "Cancel the hold",
            "resolve": "Mark resolved",
            "activate": "Activate (invoice issued)",
        }[self.value]


@dataclass(frozen=True, slots=True)
class Offer:
    operation: Operation
    available: Money  # what is left to capture (or cancel) or to refund
    partial: bool  # the amount may be lowered
    reasons: Sequence[tuple[str, str]] = ()
    #: a capture of less than `held` releases the rest (the provider takes one capture per authorization)
    releases_rest: bool = False
    #: captures: what the authorization holds (`available` may be less, when the order owes less)
    held: Money | None = None


def adapter_class_of(txn: PaymentTransaction) -> type[Adapter] | None:
    """Capabilities are class attributes: no need to decrypt secrets to know what a provider can do."""
    try:
        return registry.adapter_class(txn.integration.provider_key)
    except KeyError:  # the provider's package is not installed here: offer nothing
        return None


def allowed_on(txn: PaymentTransaction, adapter: type[Adapter], account: OrderAccount | None) -> AllowedOperations:
    """The services' answer for a row of `payment_history()`, from what its annotations say the children took."""
    taken = Taken(
        captured=txn.captured,  # type: ignore[attr-defined]
        canceled=txn.captured_or_canceled - txn.captured,  # type: ignore[attr-defined]
        refunded=txn.refunded,  # type: ignore[attr-defined]
        activated=getattr(txn, "activated", Decimal("0")),
        invoiced=getattr(txn, "invoiced", Decimal("0")),
    )
    return allowed_operations(txn, taken=taken, capabilities=adapter.capabilities, account=account)


def transaction_offers(txn: PaymentTransaction, account: OrderAccount | None = None) -> list[Offer]:
    """What the order page offers on a row; with the order's `account`, captures stay within the order's total."""
    adapter = adapter_class_of(txn)
    if adapter is None:
        return []
    can = adapter.capabilities.__contains__
    offers = []
    if txn.needs_attention and txn.is_open:  # nobody could settle it: staff end it, or say what happened
        if attention_releasable(txn) and can(Capability.CANCEL) and can(Capability.FETCH_STATUS):
            offers.append(Offer(Operation.RELEASE, txn.money, False))
        offers.append(Offer(Operation.RESOLVE, txn.money, False))
        return offers
    allowed = allowed_on(txn, adapter, account)
    if allowed.capture_refused is None:
        offers.append(
            Offer(
                Operation.CAPTURE,
                Money(allowed.capture_limit, txn.currency),
                allowed.partial_capture,
                releases_rest=allowed.releases_rest,
                held=Money(allowed.capturable, txn.currency),
            )
        )
    if allowed.invoice_refused is None:
        offers.append(Offer(Operation.INVOICE, Money(allowed.invoice_limit, txn.currency), True))
    if allowed.cancel_refused is None:
        offers.append(Offer(Operation.CANCEL, Money(allowed.cancelable, txn.currency), False))
    if allowed.refund_refused is None:
        offers.append(
            Offer(
                Operation.REFUND,
                Money(allowed.refundable, txn.currency),
                allowed.partial_refund,
                adapter.refund_reasons,
            )
        )
    if allowed.activate_refused is None:
        offers.append(Offer(Operation.ACTIVATE, txn.money, False))
    return offers


def transaction_offer(
    txn: PaymentTransaction, operation: Operation, account: OrderAccount | None = None
) -> Offer | None:
    return next((offer for offer in transaction_offers(txn, account) if offer.operation == operation), None)
