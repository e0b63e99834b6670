"""Which payment operations the order page offers on a transaction, and for how much.

An operation is offered when the adapter's capabilities allow it and the ledger has something left; never
by provider key. A capture is also held to what the order may still take (`payments.account`): a promise
whose order was paid through its invoice offers no capture. The services check everything again under the
order lock: this only decides what to show. Rows come from `backoffice.selectors.payment_history`, which
annotates what children already took.
"""

from __future__ import annotations

import enum
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import Decimal

from payments.account import OrderAccount
from payments.attention import attention_releasable
from payments.models import Action, PaymentTransaction
from payments.money import quantize
from payments.services import CAPTURE_SOURCES, REFUND_SOURCES
from providers import registry
from providers.base import Adapter, Capability, Money


class Operation(enum.StrEnum):
    CAPTURE = "capture"
    CANCEL = "cancel"
    REFUND = "refund"
    #: a payment nobody could settle (needs attention): end it at the provider
    RELEASE = "release"
    #: a payment nobody could settle: record what staff found at the provider
    RESOLVE = "resolve"

    @property
    def permission(self) -> str:
        return {"release": "payments.cancel_payment"}.get(self.value, f"payments.{self.value}_payment")

    @property
    def label(self) -> str:
        return {
            "capture": "Capture",
            "cancel": "Cancel authorization",
            "refund": "Refund",
            "release": "Cancel the hold",
            "resolve": "Mark resolved",
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


def capturable(txn: PaymentTransaction, adapter: type[Adapter] | None = None) -> Decimal:
    """What is left to capture, as `payments.services.capturable_amount` counts it (one capture at most on a
    provider without MULTIPLE_CAPTURE)."""
    zero = quantize(Decimal("0"), txn.currency)
    if txn.action not in CAPTURE_SOURCES or not (txn.successful and txn.active):
        return zero
    single = adapter is not None and Capability.MULTIPLE_CAPTURE not in adapter.capabilities
    if single and txn.action == Action.AUTHORIZE and txn.captured > 0:  # type: ignore[attr-defined]
        return zero
    taken = txn.captured_or_canceled  # type: ignore[attr-defined]  # annotated by payment_history()
    return quantize(max(txn.amount - taken, Decimal("0")), txn.currency)


def refundable(txn: PaymentTransaction) -> Decimal:
    if txn.action not in REFUND_SOURCES or not txn.successful:
        return quantize(Decimal("0"), txn.currency)
    taken = txn.refunded  # type: ignore[attr-defined]  # annotated by payment_history()
    return quantize(max(txn.amount - taken, Decimal("0")), txn.currency)


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
    left = capturable(txn, adapter)
    to_capture = left
    if account is not None:
        room = account.capture_room(txn.pk, promise=txn.action == Action.PENDING)
        to_capture = quantize(min(left, room), txn.currency)
        if txn.action == Action.PENDING and to_capture < left:
            to_capture = quantize(Decimal("0"), txn.currency)  # a promise is marked paid in full or not at all
    if to_capture > 0 and can(Capability.CAPTURE):
        partial = can(Capability.PARTIAL_CAPTURE) and txn.action != Action.PENDING
        releases = partial and txn.action == Action.AUTHORIZE and not can(Capability.MULTIPLE_CAPTURE)
        offers.append(
            Offer(
                Operation.CAPTURE,
                Money(to_capture, txn.currency),
                partial,
                releases_rest=releases,
                held=Money(left, txn.currency),
            )
        )
    if left > 0 and can(Capability.CANCEL) and txn.action == Action.AUTHORIZE:
        offers.append(Offer(Operation.CANCEL, Money(left, txn.currency), False))
    left = refundable(txn)
    if left > 0 and can(Capability.REFUND):
        offers.append(
            Offer(Operation.REFUND, Money(left, txn.currency), can(Capability.PARTIAL_REFUND), adapter.refund_reasons)
        )
    return offers


def transaction_offer(
    txn: PaymentTransaction, operation: Operation, account: OrderAccount | None = None
) -> Offer | None:
    return next((offer for offer in transaction_offers(txn, account) if offer.operation == operation), None)
