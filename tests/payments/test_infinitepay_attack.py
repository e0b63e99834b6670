"""InfinitePay through the payment services: what the ledger offers must be what InfinitePay can do."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest

from orders.models import PaymentStatus
from payments import services, sweeps
from payments.exceptions import PaymentRefused
from payments.models import Action, State
from providers.base import Money
from providers.infinitepay.adapter import InfinitePayAdapter
from sandbox.infinitepay import simulator as sandbox
from sandbox.services import sim_fault_add
from tests.infinitepay_support import IP_SETTINGS, VAT_ID, german_order
from tests.payments.test_infinitepay_payments import at_sandbox, pay

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_captured_payment_not_yet_activated_is_refunded_in_full_by_canceling_or_not_at_all(ip_integration) -> None:
    """InfinitePay applies credit notes to activated orders only: a partial refund of a capture whose invoice was
    not issued is refused by us, not sent to fail there; a refund in full cancels the order at InfinitePay (the
    buyer's limit is released), where it used to fail too and leave the limit held with no way to release it."""
    order = german_order("200.00")
    auth = pay(ip_integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")
    with pytest.raises(PaymentRefused) as refused:
        services.payment_refund(source_id=capture.pk, amount=Money(Decimal("50.00"), "EUR"), key="credit-1")
    assert refused.value.code == "partial_refund_unsupported"
    assert not order.transactions.filter(action=Action.REFUND).exists()
    assert sandbox.debtor_exposure(IP_SETTINGS["client_ref"], VAT_ID) == 20000
    whole = services.payment_refund(source_id=capture.pk, amount=None, key="credit-2")
    order.refresh_from_db()
    assert (whole.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.REFUNDED)
    assert at_sandbox(auth)["status"] == "canceled"
    assert sandbox.debtor_exposure(IP_SETTINGS["client_ref"], VAT_ID) == 0


def test_a_credit_note_is_partial_once_the_payment_is_activated(ip_integration) -> None:
    order = german_order("200.00")
    auth = pay(ip_integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")
    services.payment_activate(
        source_id=capture.pk, key="act-1", invoice_number="INV-1", invoice_date=date(2026, 11, 30)
    )
    credit = services.payment_refund(source_id=capture.pk, amount=Money(Decimal("50.00"), "EUR"), key="credit-2")
    assert credit.state == State.SUCCEEDED
    assert at_sandbox(auth)["open"] == 15000


def test_a_lost_auto_activated_charge_read_back_by_reconcile_is_not_offered_activation_again(
    ip_integration, monkeypatch
) -> None:
    """With auto capture and auto activation the reserve activates the invoice; when its reply is lost, the row
    reconcile settles must know it is activated (no second activation, credit notes allowed)."""
    ip_integration.settings = {**ip_integration.settings, "auto_capture": True, "auto_activate": True}
    ip_integration.save()
    monkeypatch.setattr(InfinitePayAdapter, "read_timeout", 0.5)
    sim_fault_add(provider="infinitepay", kind="timeout", operation="reserveOrder", delay=1.5)
    order = german_order("90.00")
    lost = pay(ip_integration, order)
    assert lost.state == State.RESERVED
    charge = sweeps.payment_reconcile(transaction_id=lost.pk)
    assert (charge.action, charge.state) == (Action.CHARGE, State.SUCCEEDED)
    assert at_sandbox(charge)["status"] == "activated"
    with pytest.raises(PaymentRefused) as twice:
        services.payment_activate(
            source_id=charge.pk, key="act-1", invoice_number="INV-2", invoice_date=date(2026, 12, 1)
        )
    assert twice.value.code == "already_activated"
    credit = services.payment_refund(source_id=charge.pk, amount=Money(Decimal("10.00"), "EUR"), key="credit-1")
    assert credit.state == State.SUCCEEDED


def test_two_staff_activating_the_same_capture_at_once_activate_it_once(ip_integration) -> None:
    """Two back-office users (different keys) press Activate on the same capture at the same moment."""
    import threading

    from django.db import connection

    order = german_order("70.00")
    auth = pay(ip_integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")
    barrier = threading.Barrier(2)
    outcomes: list[str] = []

    def activate(key: str) -> None:
        barrier.wait()
        try:
            row = services.payment_activate(
                source_id=capture.pk, key=key, invoice_number=f"INV-{key}", invoice_date=date(2026, 12, 1)
            )
            outcomes.append(row.state)
        except PaymentRefused as refused:
            outcomes.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=activate, args=(k,)) for k in ("a", "b")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(outcomes) == ["already_activated", State.SUCCEEDED]
    assert order.transactions.filter(action=Action.ACTIVATE).count() == 1
    assert at_sandbox(auth)["status"] == "activated"
