"""Attacks on the order timeline: staff who may see an order but not its payment history (the ledger inline is
hidden from them, the operation pages refuse them) must not read the payments, their provider references, staff
remarks on refunds or the provider's events through the timeline or the order's History page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.test import Client

from orders.models import OrderNote
from payments.models import WebhookEvent
from payments.services import payment_capture, payment_refund
from tests import factories
from tests.conftest import authorize, usd

pytestmark = pytest.mark.django_db


@pytest.fixture
def paid_order(gateway_integration, fake_gateway):  # noqa: ANN001, ANN201
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)
    capture = payment_capture(source_id=auth.pk, amount=usd("60.00"), key="cap")
    payment_refund(source_id=capture.pk, amount=usd("10.00"), key="ref", note="Goodwill for the late delivery")
    WebhookEvent.objects.create(
        integration=gateway_integration,
        provider_event_id="evt_secret",
        event_type="charge.refunded",
        provider_reference=auth.provider_reference,
        event={},
        status=WebhookEvent.Status.PROCESSED,
        result="Refund recorded.",
    )
    OrderNote.objects.create(order=auth.order, text="Called the buyer")
    return auth


def _viewer(client: Client, *codenames: str) -> None:
    user = factories.UserFactory(staff=True)
    user.user_permissions.set(Permission.objects.filter(codename__in=codenames))
    client.force_login(user)


@pytest.mark.parametrize("page", ["change", "history"])
def test_staff_without_payment_history_see_no_payments_on_the_timeline(client: Client, paid_order, page: str) -> None:  # noqa: ANN001
    _viewer(client, "view_order", "add_ordernote")

    response = client.get(f"/admin/orders/order/{paid_order.order_id}/{page}/")

    assert response.status_code == 200
    html = response.content.decode()
    assert "Called the buyer" in html  # the notes stay: they are the order's, not the ledger's
    for hidden in (
        "Payment captured",
        "Refund: $10.00",
        "Goodwill for the late delivery",
        paid_order.provider_reference,
        "charge.refunded",
    ):
        assert hidden not in html, hidden


def test_staff_with_payment_history_still_see_the_payments(client: Client, paid_order) -> None:  # noqa: ANN001
    _viewer(client, "view_order", "view_payment_history")

    html = client.get(f"/admin/orders/order/{paid_order.order_id}/history/").content.decode()

    assert "Payment captured: $60.00" in html
    assert "Goodwill for the late delivery" in html
    assert "charge.refunded" in html


def test_a_note_with_markup_is_shown_as_text(client: Client, sales) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    client.post(f"/admin/orders/order/{order.pk}/notes/", {"text": '<script>alert("x")</script><img src=x onerror=1>'})

    html = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()

    assert "<script>alert" not in html
    assert "<img src=x" not in html
    assert "&lt;script&gt;alert(&quot;x&quot;)&lt;/script&gt;" in html


def test_staff_who_may_add_notes_but_not_see_orders_cannot_add_one(client: Client) -> None:
    order = factories.OrderFactory()
    _viewer(client, "add_ordernote")  # may add notes, may not see orders

    assert client.post(f"/admin/orders/order/{order.pk}/notes/", {"text": "x"}).status_code == 403
    assert not OrderNote.objects.exists()
