"""The back-office "Create invoice" action on orders."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from integrations.models import Integration
from orders.models import Invoice
from orders.services import invoice_create
from payments.services import invoice_payment_purchase, payment_purchase
from tests import factories
from tests.conftest import payment_term_order

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

    listing = client.get("/admin/orders/order/").content.decode()
    client.post("/admin/orders/order/", {"action": "create_invoices", "_selected_action": [order.pk]}, follow=True)

    assert 'value="create_invoices"' not in listing
    assert Invoice.objects.count() == 0


def test_create_invoice_skips_an_order_paid_in_full_and_says_why(admin_client: Client, fake_gateway) -> None:  # noqa: ANN001
    card = factories.IntegrationFactory(
        provider_key="fakegw", secrets={"api_key": "sk_test_x"}, payment_action=Integration.PaymentAction.CHARGE
    )
    paid = factories.OrderFactory()
    payment_purchase(order_id=paid.pk, method=f"fakegw_{card.pk}", key="card", payment_data={"token": "tok_ok"})
    unpaid = factories.OrderFactory()

    response = admin_client.post(
        "/admin/orders/order/", {"action": "create_invoices", "_selected_action": [paid.pk, unpaid.pk]}, follow=True
    )

    page = response.content.decode()
    assert f"Nothing left to invoice (paid or held by an open payment), skipped: {paid.number}." in page
    assert not paid.invoices.exists()
    assert unpaid.invoices.get().amount == unpaid.total


def test_a_promise_paid_through_its_invoice_no_longer_offers_capture(
    admin_client: Client, settings, fake_gateway
) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    factories.IntegrationFactory(
        provider_key="fakegw", secrets={"api_key": "sk_test_x"}, payment_action=Integration.PaymentAction.CHARGE
    )
    order, promise = payment_term_order()
    capture_url = f"/admin/orders/order/{order.pk}/payments/{promise.pk}/capture/"
    assert capture_url in admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    invoice = invoice_create(order=order)
    invoice_payment_purchase(invoice_id=invoice.pk, key="inv", payment_data={"token": "tok_ok"})

    assert capture_url not in admin_client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    page = admin_client.get(capture_url, follow=True).content.decode()
    assert "This payment cannot be captured now." in page
