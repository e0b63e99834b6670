"""What an order has taken, holds and still owes: one account over its ledger rows and its open invoices.

Every path that can take money (checkout purchase, capture by staff or by the scheduler, marking an offline
promise paid, invoice creation, invoice payment, re-authorization) asks this account, read under the order
lock, how much room is left. The order, its invoices, its payments and its payment term are one account
(`failure-modes.md` §6), so nothing can take an order above its total through any mix of paths.

The accounting, per ledger row (invoice payments are rows of the order tagged with their invoice, so they
count here like any other row):

* **taken**: successful captures, charges and purchases, gross. A refund does *not* re-open what is owed:
  staff refund for a reason (goods returned, goodwill, a dispute), and money given back must not be collected
  again by the scheduler, an old invoice or the storefront. Collecting it again is a deliberate act: a new
  order. So `taken` never exceeds the total, even after refunds.
* **held**: what open card authorizations can still capture: the authorized amount less captures and invoices
  (done or in flight) and successful cancels; and what an invoice sent against one (Apruve) has not collected
  yet, until its capture arrives. An authorization that lapsed, was released or was captured holds nothing.
  A renewal (re-authorization) stands in for the authorization it renews and counts only once that one no
  longer holds, so the same money is never counted twice while both exist.
* **in flight**: open purchases and captures (reserved, awaiting the buyer, processing): money may still move.
* **promised**: offline promises (check / money order, payment term) not yet marked paid. No money moved;
  staff mark them paid ("Capture") when the check or transfer arrives.
* **invoiced**: what open invoices ask for beyond what their own payments already cover.

`committed` = taken + held + in flight: what has moved or can move without anyone asking the buyer again.

The limits that follow:

* a new purchase (checkout, or paying again after an authorization lapsed) may take `payable` =
  total - committed - promised - invoiced;
* a new invoice may ask for `invoiceable` = total - committed - invoiced; a promise does not stand in the way,
  because an invoice is how an order on account (payment term, check) is collected;
* an invoice payment or marking a promise paid may take `settleable` = total - committed: once the order is
  settled one way (the invoice paid by card, the check received), the other way offers and takes nothing;
* a capture converts what its own authorization holds, so it may take up to total - (committed - that hold).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

ZERO = Decimal("0")
TAKING = frozenset({"capture", "charge", "purchase"})
OPEN = frozenset({"reserved", "action_required", "processing"})


@dataclass(frozen=True, slots=True)
class AccountRow:
    """One ledger row as the account reads it (plain values: this module needs no database)."""

    id: int
    action: str
    state: str
    amount: Decimal
    successful: bool
    active: bool
    source_id: int | None = None
    invoice_id: int | None = None
    #: the provider's reference, which the status rules read (a clone of a validation shares its reference)
    reference: str | None = None


@dataclass(frozen=True, slots=True)
class OrderAccount:
    total: Decimal
    currency: str
    authorized: Decimal = ZERO  # successful authorizations, renewals not counted again
    taken: Decimal = ZERO
    refunded: Decimal = ZERO
    held: Decimal = ZERO
    in_flight: Decimal = ZERO
    promised: Decimal = ZERO
    invoiced: Decimal = ZERO
    captured_from_authorizations: Decimal = ZERO
    #: what each open authorization or promise still holds (row id -> amount), for captures
    holds: Mapping[int, Decimal] = field(default_factory=dict)

    @property
    def committed(self) -> Decimal:
        return self.taken + self.held + self.in_flight

    @property
    def payable(self) -> Decimal:
        return max(self.total - self.committed - self.promised - self.invoiced, ZERO)

    @property
    def invoiceable(self) -> Decimal:
        return max(self.total - self.committed - self.invoiced, ZERO)

    @property
    def settleable(self) -> Decimal:
        return max(self.total - self.committed, ZERO)

    @property
    def outstanding(self) -> Decimal:
        """Not collected yet (the total less what was taken; refunds do not re-open it)."""
        return max(self.total - self.taken, ZERO)

    @property
    def released(self) -> Decimal:
        """Authorized but neither captured nor still held: cancelled, lapsed or released by a capture."""
        return max(self.authorized - self.captured_from_authorizations - self.held, ZERO)

    def capture_room(self, source_id: int, *, promise: bool) -> Decimal:
        """How much a capture of this authorization (or marking this promise paid) may take."""
        if promise:
            return self.settleable
        return max(self.total - (self.committed - self.holds.get(source_id, ZERO)), ZERO)


def account_from_rows(
    rows: Iterable[AccountRow], *, total: Decimal, currency: str, open_invoices: Mapping[int, Decimal]
) -> OrderAccount:
    """The account of one order from its rows and its open invoices (invoice id -> amount)."""
    rows = list(rows)
    by_id = {r.id: r for r in rows}
    children: dict[int, list[AccountRow]] = defaultdict(list)
    for r in rows:
        if r.source_id is not None:
            children[r.source_id].append(r)

    def holds_now(r: AccountRow) -> Decimal:
        """What an authorization or promise still holds (the shape of `capturable`, without the cancel in flight:
        until a cancel succeeds, the money is still held)."""
        if not (r.successful and r.active):
            return ZERO
        used = sum(
            (
                c.amount
                for c in children[r.id]
                if (c.action in ("capture", "invoice") and (c.state == "succeeded" or c.state in OPEN))
                or (c.action == "cancel" and c.state == "succeeded")
            ),
            ZERO,
        )
        return max(r.amount - used, ZERO)

    def stands_in(r: AccountRow) -> bool:
        """A renewal whose predecessor still holds: the predecessor's hold already counts for it."""
        link = by_id.get(r.source_id) if r.source_id is not None else None
        if link is None or link.action != "re_authorize" or link.source_id is None:
            return False
        old = by_id.get(link.source_id)
        return old is not None and holds_now(old) > 0

    sums: dict[str, Decimal] = defaultdict(lambda: ZERO)
    per_invoice: dict[int, Decimal] = defaultdict(lambda: ZERO)
    holds: dict[int, Decimal] = {}
    for r in rows:
        kind, amount = _contribution(r, holds_now, stands_in)
        if kind == "authorized_hold":
            holds[r.id] = amount
            kind = "held"
        elif kind == "promise":
            holds[r.id] = amount
            kind = "promised"
        if kind:
            sums[kind] += amount
            if r.invoice_id is not None:
                per_invoice[r.invoice_id] += amount
        if r.action == "refund" and r.state == "succeeded":
            sums["refunded"] += r.amount
        if r.action == "authorize" and r.successful and not _is_renewal(r, by_id):
            sums["authorized"] += r.amount
        if r.action == "capture" and r.state == "succeeded":
            source = by_id.get(r.source_id) if r.source_id is not None else None
            if source is not None and source.action == "invoice" and source.source_id is not None:
                source = by_id.get(source.source_id)  # an invoice's capture takes what its authorization held
            if source is not None and source.action == "authorize":
                sums["captured_from_authorizations"] += r.amount
    invoiced = sum((max(amount - per_invoice[pk], ZERO) for pk, amount in open_invoices.items()), ZERO)
    return OrderAccount(
        total=total,
        currency=currency,
        authorized=sums["authorized"],
        taken=sums["taken"],
        refunded=sums["refunded"],
        held=sums["held"],
        in_flight=sums["in_flight"],
        promised=sums["promised"],
        invoiced=invoiced,
        holds=holds,
        captured_from_authorizations=sums["captured_from_authorizations"],
    )


def _is_renewal(r: AccountRow, by_id: Mapping[int, AccountRow]) -> bool:
    link = by_id.get(r.source_id) if r.source_id is not None else None
    return link is not None and link.action == "re_authorize"


def _contribution(
    r: AccountRow, holds_now: Callable[[AccountRow], Decimal], stands_in: Callable[[AccountRow], bool]
) -> tuple[str, Decimal]:
    """Which sum a row adds to, and how much."""
    if r.action in TAKING:
        if r.state == "succeeded":
            return "taken", r.amount
        if r.state in OPEN:
            return "in_flight", r.amount
        return "", ZERO
    if r.action == "authorize":
        if stands_in(r):
            return "", ZERO
        if r.state in OPEN:
            return "in_flight", r.amount
        held = holds_now(r)
        return ("authorized_hold", held) if held > 0 else ("", ZERO)
    if r.action == "invoice":  # part of an authorization's hold, billed: held until its capture arrives
        if r.state in OPEN:
            return "in_flight", r.amount
        held = holds_now(r)
        return ("held", held) if held > 0 else ("", ZERO)
    if r.action == "pending":
        if r.state in OPEN:
            return "promised", r.amount
        held = holds_now(r)
        return ("promise", held) if held > 0 else ("", ZERO)
    return "", ZERO
