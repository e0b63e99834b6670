"""The back-office "Create invoice" action on orders."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from orders.models import Invoice
from tests import factories

pytestmark = pytest.mark.django_db


def test_staff_create_an_invoice_from_an_order_once(admin_client: Client) -> None:
    order = factories.OrderFactory()

    response = admin_client.post(
        "/admin/orders/order/", {"action": "create_invoices", "_selected_action": [order.pk]}, follow=True
    )
    again = admin_client.post(
        "/admin/orders/order/", {"action": "create_invoices", "_selected_action": [order.pk]}, follow=True
    )

    invoice = order.invoices.get()
    assert f"Created invoice(s) {invoice.number}." in response.content.decode()
    assert f"Already invoiced, skipped: {order.number}." in again.content.decode()
    assert (invoice.amount, invoice.currency, invoice.customer_id, invoice.status) == (
        order.total,
        "USD",
        order.customer_id,
        Invoice.Status.OPEN,
    )
    assert admin_client.get(f"/admin/orders/invoice/{invoice.pk}/change/").status_code == 200


def test_staff_without_the_invoice_permission_create_nothing(client: Client) -> None:
    sales = factories.UserFactory(staff=True)
    sales.user_permissions.set(Permission.objects.filter(codename__in=["view_order", "change_order"]))
    client.force_login(sales)
    order = factories.OrderFactory()

    response = client.post(
        "/admin/orders/order/", {"action": "create_invoices", "_selected_action": [order.pk]}, follow=True
    )

    assert "You may not create invoices." in response.content.decode()
    assert Invoice.objects.count() == 0
