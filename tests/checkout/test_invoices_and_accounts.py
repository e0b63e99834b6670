"""Invoices (created by staff or seed, paid by the buyer without payment rules) and who may use the shop."""

from __future__ import annotations

import re
from decimal import Decimal
from uuid import uuid4

import pytest
from django.contrib.auth.models import User
from django.test import Client

from core.status import PaymentStatus
from integrations.models import Integration
from orders.models import Invoice, Order
from payments.models import Action, PaymentTransaction, State
from payments.services import payment_capture
from tests import factories


@pytest.fixture(autouse=True)
def invoices_paid_by_check(settings) -> None:  # noqa: ANN001
    """These tests pay by the offline method; card invoice payment is in tests/e2e/test_card_payments.py."""
    settings.INVOICE_PAYMENT_METHOD = "money_order"


def pay_key(page: str) -> str:
    return re.search(r'name="key" value="([0-9a-f-]+)"', page)[1]


def test_buyer_pays_an_open_invoice_with_the_invoice_method_as_a_pending_charge(acme: Client) -> None:
    invoice = Invoice.objects.get()
    order = invoice.order
    number = invoice.number
    assert re.fullmatch(r"INV-\d{6}", number)
    assert (invoice.status, invoice.amount) == (Invoice.Status.OPEN, order.total)
    listing = acme.get("/account/invoices/").content.decode()
    assert f'aria-label="Pay {number}"' in listing
    page = acme.get(f"/account/invoices/{number}/").content.decode()
    assert "Make Check Payable To:</strong> Paydesk Demo Inc." in page
    key = pay_key(page)

    first = acme.post(f"/account/invoices/{number}/pay/", {"key": key})
    again = acme.post(f"/account/invoices/{number}/pay/", {"key": key})  # a double click

    assert first["Location"] == again["Location"] == f"/account/invoices/{number}/"
    txn = PaymentTransaction.objects.get(invoice=invoice)
    assert (txn.order_id, txn.action, txn.state, txn.amount) == (
        order.pk,
        Action.PENDING,
        State.SUCCEEDED,
        Decimal("97.1300"),
    )
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.OPEN, PaymentStatus.PENDING)
    assert f'aria-label="Pay {number}"' not in acme.get("/account/invoices/").content.decode()

    payment_capture(source_id=txn.pk, amount=None, key="check-arrived")  # staff: the check arrived

    invoice.refresh_from_db()
    order.refresh_from_db()
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)
    assert order.payment_status == PaymentStatus.FULL  # the invoice's payment pays its order
    assert PaymentTransaction.objects.filter(invoice=invoice).count() == 2


def test_invoice_payment_refuses_card_fields(acme: Client) -> None:
    number = Invoice.objects.get().number
    page = acme.get(f"/account/invoices/{number}/").content.decode()
    response = acme.post(
        f"/account/invoices/{number}/pay/", {"key": pay_key(page), "payment_data[number]": "4242424242424242"}
    )
    assert response.status_code == 400
    assert PaymentTransaction.objects.filter(invoice__isnull=False).count() == 0


def test_only_customer_users_can_use_the_storefront(seeded: None, client: Client) -> None:
    assert client.get("/checkout/").status_code == 302
    assert client.get("/checkout/")["Location"] == "/login/?next=/checkout/"
    assert client.get("/").status_code == 200  # the catalog is public

    refused = client.post("/login/", {"username": "sales", "password": "paydesk-sales"})
    assert "This account cannot buy in the shop." in refused.content.decode()
    client.force_login(User.objects.get(username="sales"))
    assert client.get("/account/orders/").status_code == 403

    buyer = Client()
    response = buyer.post("/login/", {"username": "buyer@acme.example", "password": "paydesk-buyer"})
    assert response["Location"] == "/"
    assert "Ada Buyer · ACME Industrial" in buyer.get("/").content.decode()


def test_order_detail_shows_the_payment_history_without_internal_notes(acme: Client) -> None:
    # the demo order paid by money order and captured by Sam with a note
    order = Order.objects.get(
        number__startswith="DEMO-", payment_method__startswith="money_order_", payment_status="full"
    )
    page = acme.get(f"/account/orders/{order.number}/").content.decode()
    assert "Paid in full" in page
    assert page.count("<td>Check</td>") == 2
    assert "Check received" not in page  # the note
    assert "sales" not in page
    assert "Sam" not in page


@pytest.mark.parametrize(("language", "label"), [("de", "Scheck"), ("de-at", "Scheck"), ("fr", "Check")])
def test_order_pages_show_the_short_label_in_the_buyers_language_else_in_the_default_one(
    acme: Client, language: str, label: str
) -> None:
    order = Order.objects.get(
        number__startswith="DEMO-", payment_method__startswith="money_order_", payment_status="full"
    )
    Integration.objects.filter(provider_key="money_order").update(short_labels={"en": "Check", "de": "Scheck"})

    detail = acme.get(f"/account/orders/{order.number}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    listing = acme.get("/account/orders/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert f"<dt>Payment method</dt><dd>{label}</dd>" in detail
    assert detail.count(f"<td>{label}</td>") == 2  # the history: the pending payment and its capture
    assert f"<td>{label}</td>" in listing


def test_a_new_buyer_sees_no_orders_and_no_invoices(seeded: None, client: Client) -> None:
    buyer = factories.CustomerUserFactory()
    client.force_login(buyer.user)
    assert "No orders yet." in client.get("/account/orders/").content.decode()
    assert "No invoices." in client.get("/account/invoices/").content.decode()


def test_an_invoice_of_an_order_settled_otherwise_offers_no_payment_and_says_why(acme: Client) -> None:
    invoice = Invoice.objects.get()
    promise = invoice.order.transactions.get(action=Action.PENDING, invoice__isnull=True)  # the payment term
    payment_capture(source_id=promise.pk, amount=None, key="wire-received")  # staff: paid by wire transfer

    page = acme.get(f"/account/invoices/{invoice.number}/").content.decode()
    refused = acme.post(f"/account/invoices/{invoice.number}/pay/", {"key": str(uuid4())}, follow=True)

    assert "This invoice&#x27;s order has already been settled, so there is nothing to pay here." in page
    assert "Pay this invoice" not in page
    assert (
        f"Invoice {invoice.number} has already been settled; there is nothing left to pay." in refused.content.decode()
    )
    assert not PaymentTransaction.objects.filter(invoice=invoice).exists()


@pytest.mark.parametrize(("language", "shown"), [("en", "$"), ("de", "\xa0$")])
def test_order_detail_shows_amounts_in_the_buyers_money_format(acme: Client, language: str, shown: str) -> None:
    order = Order.objects.get(
        number__startswith="DEMO-", payment_method__startswith="money_order_", payment_status="full"
    )
    total = order.total.quantize(Decimal("0.01"))
    units, cents = f"{total:f}".split(".")
    grouped = f"{int(units):,}"
    expected = f"${grouped}.{cents}" if language == "en" else f"{grouped.replace(',', '.')},{cents}{shown}"

    page = acme.get(f"/account/orders/{order.number}/", HTTP_ACCEPT_LANGUAGE=language).content.decode()
    listing = acme.get("/account/orders/", HTTP_ACCEPT_LANGUAGE=language).content.decode()

    assert f"<strong>{expected}</strong>" in page
    assert expected in listing
    assert f"{order.total} USD" not in page
