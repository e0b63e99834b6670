"""Finance's CSV exports of orders, invoices and the ledger; the back-office order search."""

from __future__ import annotations

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client

from backoffice.roles import ADMINISTRATORS, FINANCE, SALES
from core.status import PaymentStatus
from customers.models import CustomerUser
from orders.models import Invoice, Order
from payments.models import Action, PaymentTransaction, State
from tests import factories

pytestmark = pytest.mark.django_db


def staff(client: Client, group: str) -> Client:
    user = factories.UserFactory(username=f"{group.lower()}-user", staff=True)
    user.groups.add(Group.objects.get(name=group))
    client.force_login(user)
    return client


def rows(response) -> list[dict[str, str]]:  # noqa: ANN001
    assert response.status_code == 200, response.content[:500]
    assert response["Content-Type"].startswith("text/csv")
    return list(csv.DictReader(io.StringIO(response.content.decode("utf-8-sig"))))


def export(client: Client, path: str, query: str = "") -> list[dict[str, str]]:
    return rows(client.post(f"{path}export/{query}", {"format": "0"}))


@pytest.fixture
def orders() -> dict[str, Order]:
    buyer = factories.CustomerUserFactory(user__email="ada@acme.example")
    usd = factories.OrderFactory.create(
        customer=buyer.customer, customer_user=buyer, subtotal=Decimal("352"), shipping=Decimal("12.5")
    )
    jpy = factories.OrderFactory.create(customer=buyer.customer, jpy=True, po_number="PO-JP-1")
    kwd = factories.OrderFactory.create(kwd=True, payment_status=PaymentStatus.FULL)
    return {"usd": usd, "jpy": jpy, "kwd": kwd}


def test_finance_exports_orders_with_money_as_plain_decimals(client: Client, orders: dict[str, Order]) -> None:
    staff(client, FINANCE)
    exported = {row["order"]: row for row in export(client, "/admin/orders/order/")}
    assert list(next(iter(exported.values()))) == [
        "order",
        "created_at",
        "customer",
        "customer_email",
        "po_number",
        "currency",
        "subtotal",
        "shipping",
        "tax",
        "total",
        "payment_status",
        "payment_method",
        "invoices",
    ]
    usd, jpy, kwd = (exported[orders[key].number] for key in ("usd", "jpy", "kwd"))
    assert (usd["subtotal"], usd["shipping"], usd["tax"], usd["total"]) == ("352.00", "12.50", "0.00", "364.50")
    assert usd["customer_email"] == "ada@acme.example"
    assert (jpy["total"], jpy["po_number"]) == ("12000", "PO-JP-1")
    assert (kwd["total"], kwd["currency"]) == ("30.125", "KWD")


def test_the_order_export_follows_the_lists_filter_and_search(client: Client, orders: dict[str, Order]) -> None:
    staff(client, FINANCE)
    paid = export(client, "/admin/orders/order/", "?payment_status__exact=full")
    assert [row["order"] for row in paid] == [orders["kwd"].number]
    found = export(client, "/admin/orders/order/", "?q=PO-JP-1")
    assert [row["order"] for row in found] == [orders["jpy"].number]


def test_finance_exports_invoices_and_transactions(client: Client, orders: dict[str, Order]) -> None:
    staff(client, FINANCE)
    order = orders["kwd"]
    invoice = Invoice.objects.create(
        number="INV-X1",
        order=order,
        customer=order.customer,
        amount=Decimal("30.125"),
        currency="KWD",
        due_date=date(2030, 1, 31),
    )
    PaymentTransaction.objects.create(
        order=order,
        integration=factories.IntegrationFactory(),
        invoice=invoice,
        action=Action.CHARGE,
        amount=Decimal("30.125"),
        currency="KWD",
        state=State.SUCCEEDED,
        successful=True,
        provider_reference="ch_export_1",
        idempotency_key="export-1",
        payment_method="stripe_1",
    )
    (inv,) = export(client, "/admin/orders/invoice/")
    assert (inv["invoice"], inv["order"], inv["amount"], inv["status"]) == ("INV-X1", order.number, "30.125", "open")
    (txn,) = export(client, "/admin/payments/paymenttransaction/")
    assert (txn["order"], txn["invoice"], txn["action"], txn["amount"], txn["provider_reference"]) == (
        order.number,
        "INV-X1",
        "charge",
        "30.125",
        "ch_export_1",
    )


def test_administrators_may_export_sales_may_not(client: Client, orders: dict[str, Order]) -> None:
    staff(client, SALES)
    assert client.post("/admin/orders/order/export/", {"format": "0"}).status_code == 403
    assert client.get("/admin/orders/order/export/").status_code == 403
    assert "export_link" not in client.get("/admin/orders/order/").content.decode()
    admin_client = staff(Client(), ADMINISTRATORS)
    assert "export_link" in admin_client.get("/admin/orders/order/").content.decode()
    assert len(export(admin_client, "/admin/orders/order/")) == 3


def test_a_buyer_or_a_visitor_cannot_export(client: Client, orders: dict[str, Order]) -> None:
    response = client.post("/admin/orders/order/export/", {"format": "0"})
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]
    buyer = CustomerUser.objects.get(pk=orders["usd"].customer_user_id).user
    client.force_login(buyer)
    assert client.post("/admin/orders/order/export/", {"format": "0"}).status_code == 302


def test_the_order_export_costs_the_same_queries_for_3_and_40_orders(
    client: Client,
    orders: dict[str, Order],
    django_assert_max_num_queries,  # noqa: ANN001
) -> None:
    staff(client, FINANCE)
    export(client, "/admin/orders/order/")
    for _ in range(37):
        factories.OrderFactory(customer=orders["usd"].customer)
    with django_assert_max_num_queries(12):
        assert len(export(client, "/admin/orders/order/")) == 40


# --- search -----------------------------------------------------------------------------------------------------


def found(client: Client, query: str) -> list[str]:
    response = client.get("/admin/orders/order/", {"q": query})
    assert response.status_code == 200
    return [order.number for order in response.context["cl"].result_list]


def test_staff_find_orders_by_provider_reference_invoice_number_and_email(
    client: Client, orders: dict[str, Order]
) -> None:
    staff(client, SALES)
    usd, kwd = orders["usd"], orders["kwd"]
    PaymentTransaction.objects.create(
        order=kwd,
        integration=factories.IntegrationFactory(),
        action=Action.AUTHORIZE,
        amount=kwd.total,
        currency="KWD",
        state=State.SUCCEEDED,
        successful=True,
        provider_reference="pi_3Search",
        idempotency_key="search-1",
        payment_method="stripe_1",
    )
    Invoice.objects.create(
        number="INV-S1", order=usd, customer=usd.customer, amount=usd.total, currency="USD", due_date=date(2030, 1, 1)
    )
    assert found(client, "pi_3Search") == [kwd.number]
    assert found(client, "INV-S1") == [usd.number]
    assert found(client, "ada@acme.example") == [usd.number]
    assert found(client, "PO-JP-1") == [orders["jpy"].number]
    assert found(client, "pi_3Sear") == []  # a reference is matched whole, not by a fragment


def test_the_order_page_shows_the_po_number(client: Client, orders: dict[str, Order]) -> None:
    staff(client, SALES)
    page = client.get(f"/admin/orders/order/{orders['jpy'].pk}/change/").content.decode()
    assert "PO number" in page
    assert "PO-JP-1" in page
