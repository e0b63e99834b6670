"""Attacks on the back-office's permission matrix (issue 12, part A): an order-list action that moves money or
writes a money document is offered, and performed, only for staff who hold the matching permission."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from integrations.models import Integration
from orders.models import Invoice
from payments.models import ScheduledCapture
from tests import factories
from tests.conftest import authorize

pytestmark = pytest.mark.django_db

ORDERS = "/admin/orders/order/"


def staff_with(client: Client, *codenames: str) -> None:
    user = factories.UserFactory(staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)


def test_staff_who_may_not_capture_cannot_make_captures_due_by_marking_orders_shipped(
    client: Client,
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
) -> None:
    """ "Mark shipped" checked no permission: anyone who could see the order list could ship an order and so make
    the capture of its authorization due, though the capture page itself refused them (403)."""
    gateway_integration.capture_policy = Integration.CapturePolicy.ON_SHIPMENT
    gateway_integration.save()
    auth = authorize(factories.OrderFactory(), gateway_integration)
    staff_with(client, "view_order", "view_payment_history")
    assert client.get(f"/admin/orders/order/{auth.order_id}/payments/{auth.pk}/capture/").status_code == 403

    listing = client.get(ORDERS).content.decode()
    client.post(ORDERS, {"action": "mark_shipped", "_selected_action": [auth.order_id]}, follow=True)

    auth.order.refresh_from_db()
    assert auth.order.shipped_at is None
    assert not ScheduledCapture.objects.exists()
    assert 'value="mark_shipped"' not in listing


def test_create_invoice_is_offered_only_to_staff_who_may_create_invoices(client: Client, sales) -> None:  # noqa: ANN001
    """Sales saw "Create invoice" on the order list and were refused only after choosing it."""
    order = factories.OrderFactory()

    listing = client.get(ORDERS).content.decode()

    assert 'value="create_invoices"' not in listing
    assert 'value="mark_shipped"' in listing  # Sales capture, so they may ship
    client.post(ORDERS, {"action": "create_invoices", "_selected_action": [order.pk]}, follow=True)
    assert not Invoice.objects.exists()
