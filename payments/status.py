"""The payment status of an order, computed from its ledger by the ordered rules of the reference (§2.3).

A pure function of plain values: the first rule that matches wins, otherwise `pending`. Sums are Decimal.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from decimal import Decimal

from orders.models import PaymentStatus

PAID_ACTIONS = frozenset({"capture", "charge", "purchase"})


@dataclass(frozen=True, slots=True)
class LedgerEntry:
    id: int
    action: str
    amount: Decimal
    successful: bool
    active: bool
    source_id: int | None = None
    reference: str | None = None


def _is_clone(entry: LedgerEntry, by_id: dict[int, LedgerEntry]) -> bool:
    """An authorize that reuses a zero-amount validation (same reference) instead of calling the gateway."""
    source = by_id.get(entry.source_id) if entry.source_id is not None else None
    return source is not None and source.action == "validate" and source.reference == entry.reference


def _sum(entries: Iterable[LedgerEntry]) -> Decimal:
    return sum((e.amount for e in entries), Decimal("0"))


def payment_status(entries: Sequence[LedgerEntry], total: Decimal) -> PaymentStatus:
    by_id = {e.id: e for e in entries}
    non_clone = [e for e in entries if not _is_clone(e, by_id)]

    refunds = [e for e in non_clone if e.action == "refund" and e.successful]
    if refunds:
        return PaymentStatus.REFUNDED_PARTIALLY if _sum(refunds) < total else PaymentStatus.REFUNDED

    paid = [e for e in entries if e.successful and e.action in PAID_ACTIONS]  # clones count here
    if paid and _sum(paid) >= total:
        return PaymentStatus.FULL

    if any(e.action == "invoice" and e.active and e.successful for e in non_clone):
        return PaymentStatus.INVOICED

    auth = [e for e in non_clone if e.action == "authorize" and e.active and e.successful]
    if auth and _sum(auth) < total:
        return PaymentStatus.AUTHORIZED_PARTIALLY

    cancels = [e for e in non_clone if e.action == "cancel" and e.successful]
    if cancels and _sum(auth) > _sum(cancels):
        return PaymentStatus.CANCELED_PARTIALLY

    if paid and _sum(paid) < total:
        return PaymentStatus.PARTIALLY

    if auth and _sum(auth) >= total:
        return PaymentStatus.AUTHORIZED

    if cancels and _sum(cancels) >= _sum(auth):
        return PaymentStatus.CANCELED

    if entries and all(not e.successful and not e.active for e in entries):
        return PaymentStatus.DECLINED

    return PaymentStatus.PENDING


def amount_paid(entries: Sequence[LedgerEntry]) -> Decimal:
    """Successful captures, charges and purchases less successful refunds, never below zero (reference §2.5)."""
    paid = _sum(e for e in entries if e.successful and e.action in PAID_ACTIONS)
    refunded = _sum(e for e in entries if e.successful and e.action == "refund")
    return max(paid - refunded, Decimal("0"))
