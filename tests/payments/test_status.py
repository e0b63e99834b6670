"""The eleven payment statuses and the order of the rules (reference §2.3). Pure: no database."""

from decimal import Decimal

import pytest

from orders.models import PaymentStatus
from payments.status import LedgerEntry, payment_status

TOTAL = Decimal("100.00")


def entry(n: int, action: str, amount: str, *, ok: bool = True, active: bool = False, **kw: object) -> LedgerEntry:
    return LedgerEntry(id=n, action=action, amount=Decimal(amount), successful=ok, active=active, **kw)  # type: ignore[arg-type]


LEDGERS = {
    PaymentStatus.FULL: [entry(1, "charge", "100.00")],
    PaymentStatus.PARTIALLY: [entry(1, "charge", "40.00")],
    PaymentStatus.INVOICED: [entry(1, "authorize", "100.00"), entry(2, "invoice", "100.00", active=True, source_id=1)],
    PaymentStatus.AUTHORIZED: [entry(1, "authorize", "100.00", active=True)],
    PaymentStatus.AUTHORIZED_PARTIALLY: [entry(1, "authorize", "60.00", active=True)],
    PaymentStatus.DECLINED: [entry(1, "authorize", "100.00", ok=False)],
    PaymentStatus.PENDING: [entry(1, "pending", "100.00", active=True)],
    PaymentStatus.CANCELED: [entry(1, "authorize", "100.00"), entry(2, "cancel", "100.00", source_id=1)],
    PaymentStatus.CANCELED_PARTIALLY: [
        entry(1, "authorize", "100.00", active=True),
        entry(2, "authorize", "50.00", active=True),
        entry(3, "cancel", "50.00", source_id=2),
    ],
    PaymentStatus.REFUNDED: [entry(1, "charge", "100.00"), entry(2, "refund", "100.00", source_id=1)],
    PaymentStatus.REFUNDED_PARTIALLY: [entry(1, "charge", "100.00"), entry(2, "refund", "30.00", source_id=1)],
}


@pytest.mark.parametrize("expected", list(PaymentStatus), ids=[s.value for s in PaymentStatus])
def test_each_status_comes_from_a_ledger_built_for_it(expected: PaymentStatus) -> None:
    assert payment_status(LEDGERS[expected], TOTAL) == expected


def test_every_status_has_a_ledger() -> None:
    assert set(LEDGERS) == set(PaymentStatus)
    assert len(LEDGERS) == 11


def test_no_transactions_is_pending() -> None:
    assert payment_status([], TOTAL) == PaymentStatus.PENDING


def test_partial_refund_on_fully_paid_order_is_refunded_partially() -> None:
    ledger = [entry(1, "charge", "100.00"), entry(2, "refund", "0.01", source_id=1)]
    assert payment_status(ledger, TOTAL) == PaymentStatus.REFUNDED_PARTIALLY


def test_refunds_compare_with_the_total_not_with_what_was_captured() -> None:
    ledger = [entry(1, "charge", "40.00"), entry(2, "refund", "40.00", source_id=1)]
    assert payment_status(ledger, TOTAL) == PaymentStatus.REFUNDED_PARTIALLY


def test_failed_refund_does_not_count() -> None:
    ledger = [entry(1, "charge", "100.00"), entry(2, "refund", "100.00", ok=False, source_id=1)]
    assert payment_status(ledger, TOTAL) == PaymentStatus.FULL


def test_paid_in_full_beats_invoiced_and_authorized() -> None:
    ledger = [
        entry(1, "authorize", "100.00", active=True),
        entry(2, "invoice", "100.00", active=True),
        entry(3, "capture", "100.00", source_id=1),
    ]
    assert payment_status(ledger, TOTAL) == PaymentStatus.FULL


def test_invoiced_beats_authorized_partially() -> None:
    ledger = [entry(1, "authorize", "50.00", active=True), entry(2, "invoice", "50.00", active=True)]
    assert payment_status(ledger, TOTAL) == PaymentStatus.INVOICED


def test_authorized_partially_beats_paid_partially() -> None:
    ledger = [entry(1, "authorize", "50.00", active=True), entry(2, "charge", "20.00")]
    assert payment_status(ledger, TOTAL) == PaymentStatus.AUTHORIZED_PARTIALLY


def test_canceled_partially_beats_paid_partially() -> None:
    ledger = [
        entry(1, "authorize", "100.00", active=True),
        entry(2, "charge", "10.00"),
        entry(3, "cancel", "20.00"),
    ]
    assert payment_status(ledger, TOTAL) == PaymentStatus.CANCELED_PARTIALLY


def test_partial_capture_of_an_open_authorization_is_paid_partially() -> None:
    ledger = [entry(1, "authorize", "100.00", active=True), entry(2, "capture", "40.00", source_id=1)]
    assert payment_status(ledger, TOTAL) == PaymentStatus.PARTIALLY


def test_capture_closes_authorization_and_pays_in_full() -> None:
    ledger = [entry(1, "authorize", "100.00", active=False), entry(2, "capture", "100.00", source_id=1)]
    assert payment_status(ledger, TOTAL) == PaymentStatus.FULL


def test_open_attempt_is_not_declined() -> None:
    ledger = [entry(1, "authorize", "100.00", ok=False), entry(2, "authorize", "100.00", ok=False, active=True)]
    assert payment_status(ledger, TOTAL) == PaymentStatus.PENDING


def test_inactive_authorization_is_not_authorized() -> None:
    ledger = [entry(1, "authorize", "100.00", active=False)]
    assert payment_status(ledger, TOTAL) == PaymentStatus.PENDING


def test_clone_authorization_is_ignored_but_clone_charge_counts_as_paid() -> None:
    validate = entry(1, "validate", "0", active=True, reference="PN1")
    clone_auth = entry(2, "authorize", "100.00", active=True, source_id=1, reference="PN1")
    assert payment_status([validate, clone_auth], TOTAL) == PaymentStatus.PENDING
    clone_charge = entry(3, "charge", "100.00", source_id=1, reference="PN1")
    assert payment_status([validate, clone_charge], TOTAL) == PaymentStatus.FULL


def test_authorization_with_other_reference_than_its_validation_counts() -> None:
    ledger = [
        entry(1, "validate", "0", active=True, reference="PN1"),
        entry(2, "authorize", "100.00", active=True, source_id=1, reference="PN2"),
    ]
    assert payment_status(ledger, TOTAL) == PaymentStatus.AUTHORIZED


@pytest.mark.parametrize(
    ("total", "paid", "expected"),
    [
        (Decimal("12000"), "12000", PaymentStatus.FULL),
        (Decimal("12000"), "11999", PaymentStatus.PARTIALLY),
        (Decimal("30.125"), "30.125", PaymentStatus.FULL),
        (Decimal("30.125"), "30.124", PaymentStatus.PARTIALLY),
    ],
    ids=["jpy-full", "jpy-short-by-one", "kwd-full", "kwd-short-by-a-fils"],
)
def test_minor_units_of_jpy_and_kwd_decide_full_or_partial(total: Decimal, paid: str, expected: PaymentStatus) -> None:
    assert payment_status([entry(1, "charge", paid)], total) == expected
