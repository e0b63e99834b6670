"""The buyer's "My orders" and "Invoices": pages of 25, search, status filter, a flat query count, invoice PDFs."""

from __future__ import annotations

from datetime import date
from decimal import Decimal

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from core.status import PaymentStatus
from customers.models import Customer, CustomerUser
from integrations.models import Integration
from orders.models import Invoice, Order
from tests.factories import OrderFactory


def acme_customer() -> Customer:
    return CustomerUser.objects.get(user__username="buyer@acme.example").customer


def make_orders(count: int, **fields: object) -> list[Order]:
    """Orders of ACME paid by its money order method (each row shows the method's label)."""
    customer = acme_customer()
    method = f"money_order_{Integration.objects.get(provider_key='money_order').pk}"
    return [OrderFactory(customer=customer, payment_method=method, **fields) for _ in range(count)]


def make_invoice(order: Order, number: str, status: str = Invoice.Status.OPEN) -> Invoice:
    return Invoice.objects.create(
        number=number,
        order=order,
        customer=order.customer,
        amount=order.total,
        currency=order.currency,
        due_date=date(2030, 1, 31),
        status=status,
    )


def listed_orders(client: Client, query: str = "") -> list[str]:
    response = client.get(f"/account/orders/{query}")
    assert response.status_code == 200
    return [row.order.number for row in response.context["orders"]]


def test_orders_come_in_pages_of_25(acme: Client) -> None:
    before = Order.objects.placed().filter(customer=acme_customer()).count()
    make_orders(60 - before)
    first, third = listed_orders(acme), listed_orders(acme, "?page=3")
    assert (len(first), len(third)) == (25, 10)
    assert not set(first) & set(third)
    newest = Order.objects.placed().filter(customer=acme_customer()).order_by("-created_at", "-id")
    assert first == [order.number for order in newest[:25]]
    page = acme.get("/account/orders/?page=2").content.decode()
    assert "Page 2 of 3" in page
    assert 'rel="prev"' in page
    assert 'rel="next"' in page


def test_a_page_past_the_end_or_not_a_number_is_no_error(acme: Client) -> None:
    make_orders(30)
    assert acme.get("/account/orders/?page=99").context["page"].number == 2
    assert acme.get("/account/orders/?page=x%27").context["page"].number == 1


def test_orders_are_found_by_number_po_number_and_invoice_number(acme: Client) -> None:
    wanted, with_po, invoiced, other = make_orders(4)
    Order.objects.filter(pk=with_po.pk).update(po_number="PO-7781")
    make_invoice(invoiced, "INV-FIND-1")
    assert listed_orders(acme, f"?q={wanted.number}") == [wanted.number]
    assert listed_orders(acme, "?q=po-7781") == [with_po.number]
    assert listed_orders(acme, "?q=INV-FIND-1") == [invoiced.number]
    assert listed_orders(acme, "?q=nothing-like-it") == []
    assert "No orders match." in acme.get("/account/orders/?q=nothing-like-it").content.decode()


def test_orders_are_filtered_by_payment_status_and_an_unknown_status_filters_nothing(acme: Client) -> None:
    paid, pending = make_orders(2)
    Order.objects.filter(pk=paid.pk).update(payment_status=PaymentStatus.FULL)
    full = listed_orders(acme, "?status=full")
    assert paid.number in full
    assert pending.number not in full
    assert set(full) == set(
        Order.objects.placed().filter(customer=acme_customer(), payment_status="full").values_list("number", flat=True)
    )
    everything = listed_orders(acme, "?status=no-such-status")
    assert {paid.number, pending.number} <= set(everything)


def test_the_search_keeps_to_the_buyers_company(acme: Client, globex: Client) -> None:
    (mine,) = make_orders(1)
    assert listed_orders(globex, f"?q={mine.number}") == []
    assert listed_orders(acme, f"?q={mine.number}") == [mine.number]


def test_the_pager_keeps_the_search_and_status(acme: Client) -> None:
    for order in make_orders(30):
        Order.objects.filter(pk=order.pk).update(po_number="BULK-PO", payment_status=PaymentStatus.FULL)
    page = acme.get("/account/orders/?q=BULK-PO&status=full").content.decode()
    assert "?q=BULK-PO&amp;status=full&amp;page=2" in page


def test_the_orders_page_costs_the_same_queries_for_5_and_80_orders(acme: Client) -> None:
    """Measured: 8 queries (session, user, buyer, count, page, one label lookup per distinct method: one here).
    Before pages, every order of the company was rendered: 185 ms and 178 KB at 889 orders."""
    acme.get("/account/orders/")  # warm: the session and the buyer
    counts = []
    for total in (5, 80):
        make_orders(total - Order.objects.placed().filter(customer=acme_customer()).count())
        Order.objects.filter(customer=acme_customer()).update(payment_method=make_orders(1)[0].payment_method)
        with CaptureQueriesContext(connection) as queries:
            assert acme.get("/account/orders/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def test_the_invoices_page_costs_the_same_queries_for_3_and_60_invoices(acme: Client) -> None:
    acme.get("/account/invoices/")
    counts = []
    for total in (3, 60):
        have = Invoice.objects.filter(customer=acme_customer()).count()
        for n, order in enumerate(make_orders(max(total - have, 0))):
            make_invoice(order, f"INV-Q{total}-{n}")
        with CaptureQueriesContext(connection) as queries:
            assert acme.get("/account/invoices/").status_code == 200
        counts.append(len(queries))
    assert counts[0] == counts[1], counts


def listed_invoices(client: Client, query: str = "") -> list[str]:
    response = client.get(f"/account/invoices/{query}")
    assert response.status_code == 200
    return [row.invoice.number for row in response.context["invoices"]]


def test_invoices_are_paginated_searched_and_filtered(acme: Client) -> None:
    orders = make_orders(30)
    for n, order in enumerate(orders):
        make_invoice(order, f"INV-L{n:03d}", status=Invoice.Status.PAID if n < 3 else Invoice.Status.OPEN)
    Order.objects.filter(pk=orders[7].pk).update(po_number="PO-ACME-7")
    assert len(listed_invoices(acme)) == 25
    assert listed_invoices(acme, "?q=INV-L012") == ["INV-L012"]
    assert listed_invoices(acme, f"?q={orders[5].number}") == ["INV-L005"]
    assert listed_invoices(acme, "?q=PO-ACME-7") == ["INV-L007"]
    assert sorted(listed_invoices(acme, "?status=paid")) == ["INV-L000", "INV-L001", "INV-L002"]


# --- invoice PDF ---------------------------------------------------------------------------------------------


def pdf_text(content: bytes) -> str:
    from io import BytesIO

    from pypdf import PdfReader

    return "\n".join(page.extract_text() for page in PdfReader(BytesIO(content)).pages)


def test_the_buyer_downloads_their_invoice_as_a_pdf(acme: Client) -> None:
    (order,) = make_orders(1, currency="KWD", subtotal=Decimal("30.125"))
    Order.objects.filter(pk=order.pk).update(po_number="PO-4410")
    make_invoice(order, "INV-PDF-1")
    response = acme.get("/account/invoices/INV-PDF-1/pdf/")
    assert response.status_code == 200
    assert response["Content-Type"] == "application/pdf"
    assert response.content.startswith(b"%PDF-")
    text = pdf_text(response.content)
    assert "Invoice INV-PDF-1" in text
    assert "PO number: PO-4410" in text
    assert order.number in text
    assert "KWD" in text
    assert "30.125" in text
    assert "Widget" in text


def test_another_companys_invoice_pdf_is_404(acme: Client, globex: Client) -> None:
    (order,) = make_orders(1)
    make_invoice(order, "INV-PDF-2")
    assert acme.get("/account/invoices/INV-PDF-2/pdf/").status_code == 200
    assert globex.get("/account/invoices/INV-PDF-2/pdf/").status_code == 404
    assert globex.get("/account/invoices/INV-NONE/pdf/").status_code == 404


def test_an_anonymous_visitor_gets_the_login_page_not_the_pdf(seeded: None, client: Client) -> None:
    (order,) = make_orders(1)
    make_invoice(order, "INV-PDF-3")
    response = client.get("/account/invoices/INV-PDF-3/pdf/")
    assert response.status_code == 302
    assert response["Location"].startswith("/login/")


def test_an_invoice_of_a_failed_checkout_attempt_has_no_pdf(acme: Client) -> None:
    (order,) = make_orders(1)
    make_invoice(order, "INV-PDF-4")
    Order.objects.filter(pk=order.pk).update(discarded_at="2026-01-01T00:00:00Z")
    assert acme.get("/account/invoices/INV-PDF-4/pdf/").status_code == 404


@pytest.mark.parametrize("path", ["/account/orders/", "/account/invoices/"])
def test_the_lists_have_a_labelled_search_and_status_filter(acme: Client, path: str) -> None:
    page = acme.get(path).content.decode()
    assert '<label for="list-q">Search</label>' in page
    assert '<label for="list-status">Status</label>' in page
