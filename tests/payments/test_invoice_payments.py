"""Invoice payments: ledger rows of the invoice's order tagged with the invoice, always a charge, no rules."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import Invoice, PaymentStatus
from orders.services import invoice_create
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from payments.services import invoice_payment_purchase, payment_capture, payment_complete
from tests import factories

pytestmark = pytest.mark.django_db


def test_invoice_gets_a_prefixed_number_the_order_total_and_a_due_date(settings) -> None:  # noqa: ANN001
    settings.INVOICE_NUMBER_PREFIX = "RE-"
    order = factories.OrderFactory()

    invoice = invoice_create(order=order)

    assert invoice.number == f"RE-{invoice.pk:06d}"
    assert (invoice.amount, invoice.currency, invoice.customer_id) == (Decimal("100.00"), "USD", order.customer_id)
    assert (invoice.due_date - invoice.created_at.date()).days == 30
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.OPEN, PaymentStatus.PENDING)


def test_money_order_invoice_payment_is_pending_until_captured(settings) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "money_order"
    factories.IntegrationFactory()
    invoice = invoice_create(order=factories.OrderFactory())

    txn = invoice_payment_purchase(invoice_id=invoice.pk, key="inv-1")
    repeat = invoice_payment_purchase(invoice_id=invoice.pk, key="inv-1")

    invoice.refresh_from_db()
    assert repeat.pk == txn.pk
    assert (txn.invoice_id, txn.order_id, txn.action, txn.state) == (
        invoice.pk,
        invoice.order_id,
        Action.PENDING,
        State.SUCCEEDED,
    )
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.OPEN, PaymentStatus.PENDING)

    capture = payment_capture(source_id=txn.pk, amount=None, key="inv-1-capture")

    invoice.refresh_from_db()
    invoice.order.refresh_from_db()
    assert capture.invoice_id == invoice.pk
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)
    assert invoice.order.payment_status == PaymentStatus.FULL


def test_card_invoice_payment_is_a_charge_even_for_an_authorize_only_integration(
    settings,  # noqa: ANN001
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
) -> None:
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    invoice = invoice_create(order=factories.OrderFactory())

    txn = invoice_payment_purchase(invoice_id=invoice.pk, key="inv-card", payment_data={"token": "tok_ok"})

    invoice.refresh_from_db()
    assert (txn.action, txn.state) == (Action.CHARGE, State.SUCCEEDED)
    assert fake_gateway.calls == {"charge": 1}
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)
    with pytest.raises(PaymentRefused) as refused:
        invoice_payment_purchase(invoice_id=invoice.pk, key="inv-card-2", payment_data={"token": "tok_ok"})
    assert refused.value.code == "invoice_not_open"
    assert PaymentTransaction.objects.filter(invoice=invoice).count() == 1


def test_declined_invoice_payment_leaves_the_invoice_open_for_another_try(
    settings,  # noqa: ANN001
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
) -> None:
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    invoice = invoice_create(order=factories.OrderFactory())

    declined = invoice_payment_purchase(invoice_id=invoice.pk, key="a", payment_data={"token": "tok_decline"})
    invoice.refresh_from_db()
    assert declined.state == State.DECLINED
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.OPEN, PaymentStatus.DECLINED)

    paid = invoice_payment_purchase(invoice_id=invoice.pk, key="b", payment_data={"token": "tok_ok"})
    invoice.refresh_from_db()
    assert paid.state == State.SUCCEEDED
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)


def test_no_live_integration_of_the_invoice_method_refuses_and_writes_nothing(settings) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "money_order"
    invoice = invoice_create(order=factories.OrderFactory())

    with pytest.raises(PaymentRefused) as refused:
        invoice_payment_purchase(invoice_id=invoice.pk, key="x")

    assert refused.value.code == "method_unavailable"
    assert PaymentTransaction.objects.count() == 0


def test_payment_complete_leaves_a_row_open_when_the_provider_cannot_report(
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory()
    txn = PaymentTransaction.objects.create(
        order=order,
        integration=gateway_integration,
        payment_method=f"fakegw_{gateway_integration.pk}",
        action=Action.AUTHORIZE,
        amount=order.total,
        currency="USD",
        idempotency_key="open-1",
        state=State.ACTION_REQUIRED,
        active=True,
    )

    assert payment_complete(transaction_id=txn.pk).state == State.ACTION_REQUIRED  # FakeGateway has no fetch_status
