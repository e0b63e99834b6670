"""InfinitePay end to end through the payment services and the ledger, against its sandbox: reserve, capture
(shipped), activate (invoice issued), credit notes, cancel, and lost replies settled by reconcile."""

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
from providers.infinitepay.client import split_reference
from sandbox.infinitepay import simulator as sandbox
from sandbox.services import sim_fault_add
from tests.infinitepay_support import DEBTOR, german_order
from tests.sandbox_support import ledger

pytestmark = pytest.mark.django_db(transaction=True)


def pay(integration, order, *, key: str = "purchase-1", data: dict | None = None):  # noqa: ANN001, ANN201
    return services.payment_purchase(
        order_id=order.pk, method=f"infinitepay_{integration.pk}", key=key, payment_data=data or dict(DEBTOR)
    )


def at_sandbox(txn) -> dict:  # noqa: ANN001
    found = sandbox.order_state(split_reference(txn.provider_reference.partition("#")[0])[1])
    assert found is not None
    return found


def test_reserve_capture_activate_and_a_credit_note(ip_integration) -> None:
    order = german_order("500.00")
    auth = pay(ip_integration, order)
    order.refresh_from_db()
    assert (auth.action, auth.state, order.payment_status) == (Action.AUTHORIZE, State.SUCCEEDED, "authorized")
    assert auth.response["guaranteed_amount"] == "500.00"
    assert at_sandbox(auth)["status"] == "reserved"
    with pytest.raises(PaymentRefused) as early:  # not shipped yet: nothing is sent
        services.payment_activate(
            source_id=auth.pk, key="act-0", invoice_number="INV-1", invoice_date=date(2026, 11, 30)
        )
    assert early.value.code == "not_captured"
    assert order.transactions.count() == 1
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")
    assert capture.state == State.SUCCEEDED
    activation = services.payment_activate(
        source_id=capture.pk, key="act-1", invoice_number="INV-1", invoice_date=date(2026, 11, 30)
    )
    assert (activation.action, activation.state, activation.source_id) == (Action.ACTIVATE, State.SUCCEEDED, capture.pk)
    assert at_sandbox(auth)["invoice"] == {
        "INVOICE_ID": "INV-1",
        "INVOICE_DATE": "20261130",
        "DUE_DATE": "20261230",
        "PAYMENT_TERMS": "30 days net",
        "DELAY_IN_DAYS": "30",
    }
    again = services.payment_activate(
        source_id=capture.pk, key="act-1", invoice_number="INV-1", invoice_date=date(2026, 11, 30)
    )
    assert again.pk == activation.pk  # a double click activates once
    with pytest.raises(PaymentRefused) as twice:
        services.payment_activate(
            source_id=capture.pk, key="act-2", invoice_number="INV-2", invoice_date=date(2026, 11, 30)
        )
    assert twice.value.code == "already_activated"
    credit = services.payment_refund(source_id=capture.pk, amount=Money(Decimal("120.00"), "EUR"), key="credit-1")
    order.refresh_from_db()
    assert (credit.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.REFUNDED_PARTIALLY)
    assert at_sandbox(auth)["open"] == 38000
    assert [row[:5] for row in ledger(order)] == [
        ("authorize", "500.0000", "succeeded", True, False),
        ("capture", "500.0000", "succeeded", True, False),
        ("activate", "500.0000", "succeeded", True, False),
        ("refund", "120.0000", "succeeded", True, False),
    ]
    assert {txn.provider_reference.partition("#")[0] for txn in order.transactions.all()} == {auth.provider_reference}


def test_cancel_releases_the_buyers_limit(ip_integration) -> None:
    first = german_order("30000.00")
    auth = pay(ip_integration, first)
    second = german_order("25000.00")
    over = pay(ip_integration, second, key="purchase-2")
    assert (over.state, over.error_code) == (State.DECLINED, "insufficient_funds")
    services.payment_cancel(source_id=auth.pk, key="cancel-1", note="order withdrawn")
    first.refresh_from_db()
    assert first.payment_status == PaymentStatus.CANCELED
    assert pay(ip_integration, second, key="purchase-3").state == State.SUCCEEDED


def test_a_company_without_vat_id_cannot_pay_by_infinitepay(ip_integration) -> None:
    order = german_order(vat_id="")
    with pytest.raises(PaymentRefused) as refused:
        pay(ip_integration, order)
    assert refused.value.code == "method_not_applicable"
    assert order.transactions.count() == 0


def test_a_lost_reserve_reply_is_settled_by_reconcile(ip_integration, monkeypatch) -> None:
    monkeypatch.setattr(InfinitePayAdapter, "read_timeout", 0.5)
    sim_fault_add(provider="infinitepay", kind="timeout", operation="reserveOrder", delay=1.5)
    order = german_order()
    open_row = pay(ip_integration, order)
    assert (open_row.state, open_row.provider_reference) == (State.RESERVED, "")
    settled = sweeps.payment_reconcile(transaction_id=open_row.pk)
    order.refresh_from_db()
    assert (settled.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.AUTHORIZED)
    assert settled.provider_reference.startswith("IP")
    assert at_sandbox(settled)["status"] == "reserved"


def test_a_lost_activation_is_settled_by_reconcile_and_an_unsent_one_is_sent_again(ip_integration, monkeypatch) -> None:
    order = german_order()
    auth = pay(ip_integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")
    monkeypatch.setattr(InfinitePayAdapter, "read_timeout", 0.5)
    sim_fault_add(provider="infinitepay", kind="error_503", operation="activateOrder")  # never arrives
    lost = services.payment_activate(
        source_id=capture.pk, key="act-1", invoice_number="INV-7", invoice_date=date(2026, 12, 1)
    )
    assert lost.state == State.RESERVED
    assert at_sandbox(auth)["status"] == "captured"
    settled = sweeps.payment_reconcile(transaction_id=lost.pk)  # not found: sent again, with its invoice
    assert settled.state == State.SUCCEEDED
    assert at_sandbox(auth)["invoice"]["INVOICE_ID"] == "INV-7"
