"""Attacks on invoices in the back-office (issue 12, part A): an invoice's status follows its ledger, and voiding
one is a service that checks, under the order lock, that nothing was paid or is being paid through it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from core.money import MoneyError
from core.status import PaymentStatus
from integrations.models import Integration
from orders.models import Invoice
from orders.services import invoice_create
from payments.models import Action, PaymentTransaction, State
from payments.services import invoice_payment_purchase
from tests import factories
from tests.fakes import TIMEOUT_TOKEN

pytestmark = pytest.mark.django_db


@pytest.fixture
def card_invoices(settings, fake_gateway) -> Integration:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    return factories.IntegrationFactory(
        provider_key="fakegw", secrets={"api_key": "sk_test_inv"}, payment_action=Integration.PaymentAction.CHARGE
    )


def change(admin_client: Client, invoice: Invoice, **fields: str):  # noqa: ANN201
    data = {"due_date": invoice.due_date.isoformat(), "status": invoice.status, **fields}
    return admin_client.post(f"/admin/orders/invoice/{invoice.pk}/change/", data, follow=True)


def test_an_invoice_marked_paid_by_hand_does_not_let_the_order_be_invoiced_and_paid_again(
    admin_client: Client,
    card_invoices,  # noqa: ANN001
) -> None:
    """The invoice page let staff set the status to Paid (a check arrived) with no ledger row behind it. The
    order then owed its whole total again: "Create invoice" asked for it again, the buyer paid the new invoice
    by card, and 100.00 was collected twice for a 100.00 order, the first time nowhere in the ledger."""
    order = factories.OrderFactory()
    invoice = invoice_create(order=order)

    change(admin_client, invoice, status=Invoice.Status.PAID)

    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.OPEN, PaymentStatus.PENDING)
    with pytest.raises(MoneyError, match="Nothing is left to invoice"):
        invoice_create(order=order)
    assert order.invoices.count() == 1


def test_an_invoice_being_paid_cannot_be_voided_and_a_void_one_cannot_be_reopened(
    admin_client: Client,
    card_invoices,  # noqa: ANN001
) -> None:
    """Voiding was a plain status edit with no lock and no look at the ledger: an invoice whose card payment was
    still at the provider became Void, the payment then went through (100.00 taken on a void invoice), and a
    void invoice could be set Open again next to its replacement."""
    order = factories.OrderFactory()
    invoice = invoice_create(order=order)
    paying = invoice_payment_purchase(invoice_id=invoice.pk, key="inv-1", payment_data={"token": TIMEOUT_TOKEN})
    assert paying.state == State.RESERVED

    page = admin_client.post(
        "/admin/orders/invoice/", {"action": "void_invoices", "_selected_action": [invoice.pk]}, follow=True
    ).content.decode()
    change(admin_client, invoice, status=Invoice.Status.VOID)

    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert f"{invoice.number} has a payment in progress or made" in page

    unpaid = invoice_create(order=factories.OrderFactory())
    page = admin_client.post(
        "/admin/orders/invoice/", {"action": "void_invoices", "_selected_action": [unpaid.pk]}, follow=True
    ).content.decode()
    unpaid.refresh_from_db()
    assert unpaid.status == Invoice.Status.VOID
    assert f"Voided invoice(s) {unpaid.number}." in page
    change(admin_client, unpaid, status=Invoice.Status.OPEN)
    unpaid.refresh_from_db()
    assert unpaid.status == Invoice.Status.VOID
    assert invoice_create(order=unpaid.order).amount == Decimal("100.00")  # a void invoice asks for nothing
    assert not PaymentTransaction.objects.filter(order=unpaid.order, action=Action.CHARGE).exists()
