"""Amounts at a glance and the order's timeline: the release of an uncaptured rest as its own row, one timeline of
payments, status changes, provider events, e-mails and staff notes, and the order's History page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission

from backoffice.timeline import order_timeline
from core.cards import card_summary
from orders.models import OrderNote
from payments.ledger import ledger_record
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from payments.services import payment_capture, payment_refund
from providers.base import Capability, ProviderResult
from tests import factories
from tests.conftest import authorize, usd

pytestmark = pytest.mark.django_db


@pytest.fixture
def single_capture(fake_gateway, monkeypatch):  # noqa: ANN001, ANN201
    """The fake gateway as a provider that takes one capture per authorization (Stripe, Authorize.Net, Payflow)."""
    monkeypatch.setattr(fake_gateway, "capabilities", fake_gateway.capabilities - {Capability.MULTIPLE_CAPTURE})
    return fake_gateway


def test_a_partial_capture_on_a_single_capture_provider_records_the_released_rest(
    gateway_integration, single_capture
) -> None:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)

    capture = payment_capture(source_id=auth.pk, amount=usd("60.00"), key="cap")

    [release] = PaymentTransaction.objects.filter(order=auth.order, action=Action.RELEASE)
    assert (release.source_id, release.amount, release.state, release.successful, release.active) == (
        auth.pk,
        Decimal("40.0000"),
        State.SUCCEEDED,
        True,
        False,
    )
    assert release.provider_reference == auth.provider_reference
    # the capture's answer recorded again (a webhook, reconcile) writes no second release
    ledger_record(transaction_id=capture.pk, result=ProviderResult.succeeded(usd("60.00"), reference="again"))
    assert PaymentTransaction.objects.filter(order=auth.order, action=Action.RELEASE).count() == 1
    auth.order.refresh_from_db()
    assert auth.order.payment_status == "partially"  # the release row changes no status


def test_a_provider_that_captures_again_releases_nothing(gateway_integration, fake_gateway) -> None:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)

    payment_capture(source_id=auth.pk, amount=usd("60.00"), key="cap")

    assert not PaymentTransaction.objects.filter(order=auth.order, action=Action.RELEASE).exists()


def test_a_full_capture_releases_nothing(gateway_integration, single_capture) -> None:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)

    payment_capture(source_id=auth.pk, amount=None, key="cap")

    assert not PaymentTransaction.objects.filter(order=auth.order, action=Action.RELEASE).exists()


def test_the_timeline_holds_payments_status_changes_events_emails_and_notes_in_order(
    gateway_integration, single_capture
) -> None:  # noqa: ANN001
    buyer = factories.CustomerUserFactory(user__email="buyer@acme.example")
    order = factories.OrderFactory(subtotal=Decimal("100.00"), customer=buyer.customer, customer_user=buyer)
    auth = authorize(order, gateway_integration)
    capture = payment_capture(source_id=auth.pk, amount=usd("60.00"), key="cap")
    payment_refund(source_id=capture.pk, amount=usd("10.00"), key="ref", note="Damaged box")
    WebhookEvent.objects.create(
        integration=gateway_integration,
        provider_event_id="evt_1",
        event_type="charge.refunded",
        provider_reference=auth.provider_reference,
        event={},
        status=WebhookEvent.Status.PROCESSED,
        result="Already recorded.",
    )
    WebhookEvent.objects.create(  # another payment's event stays off this order
        integration=gateway_integration, provider_event_id="evt_2", event_type="x", provider_reference="other", event={}
    )
    OrderNote.objects.create(order=order, text="Called the buyer")

    entries = order_timeline(order=order)

    titles = [(e.kind, e.title) for e in entries if e.kind in ("payment", "status", "note", "webhook")]
    assert titles == [
        ("payment", "Payment authorized: $100.00"),
        ("status", "Payment status: Payment authorized"),
        ("payment", "Payment captured: $60.00"),
        ("status", "Payment status: Paid partially"),
        ("payment", "Uncaptured rest released by the provider: $40.00"),
        ("payment", "Refund: $10.00"),
        ("status", "Payment status: Refunded partially"),
        ("webhook", "Provider event charge.refunded: processed"),
        ("note", "Note"),
    ]
    emails = [e.title for e in entries if e.kind == "email"]
    assert len(emails) == 3, emails  # confirmation, receipt, refund notice
    assert all(title.startswith("E-mail to the buyer: ") for title in emails)
    assert "Damaged box" in next(e.detail for e in entries if e.title == "Refund: $10.00")


def test_the_history_page_of_an_order_shows_its_timeline(client, sales, gateway_integration, single_capture) -> None:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)
    capture = payment_capture(source_id=auth.pk, amount=usd("60.00"), key="cap")
    payment_refund(source_id=capture.pk, amount=usd("10.00"), key="ref", note="Damaged box")

    html = client.get(f"/admin/orders/order/{auth.order_id}/history/").content.decode()

    assert "Payment captured: $60.00" in html
    assert "Refund: $10.00" in html
    assert "Uncaptured rest released by the provider: $40.00" in html
    assert "This object doesn’t have a change history" not in html


def test_sales_add_a_note_and_an_empty_one_is_refused(client, sales) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    url = f"/admin/orders/order/{order.pk}/notes/"

    client.post(url, {"text": "   "})
    assert not OrderNote.objects.exists()

    response = client.post(url, {"text": "Buyer asks for a paper invoice"})

    assert response.status_code == 302
    [note] = OrderNote.objects.all()
    assert (note.order_id, note.author_id, note.text) == (order.pk, sales.pk, "Buyer asks for a paper invoice")
    assert "Buyer asks for a paper invoice" in client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()


def test_staff_without_the_note_permission_cannot_add_one(client) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    viewer = factories.UserFactory(username="viewer", staff=True)
    viewer.user_permissions.set(Permission.objects.filter(codename="view_order"))
    client.force_login(viewer)

    assert client.post(f"/admin/orders/order/{order.pk}/notes/", {"text": "x"}).status_code == 403
    assert "Add note" not in client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert not OrderNote.objects.exists()


@pytest.mark.parametrize(
    ("response", "shown"),
    [
        ({"account": "XXXX1111", "account_type": "Visa"}, "Visa •••• 1111"),
        ({"card": {"brand": "mastercard", "last4": "4444"}}, "Mastercard •••• 4444"),
        ({"account": "4111111111111111", "account_type": "Visa"}, "Visa •••• 1111"),  # never more than four
        ({"status": "succeeded"}, ""),
        (None, ""),
    ],
)
def test_card_summary_shows_brand_and_last_four_only(response, shown) -> None:  # noqa: ANN001
    assert card_summary(response) == shown


def test_the_buyers_order_page_shows_the_amounts_from_the_account(client, gateway_integration, single_capture) -> None:  # noqa: ANN001
    buyer = factories.CustomerUserFactory()
    order = factories.OrderFactory(subtotal=Decimal("100.00"), customer=buyer.customer, customer_user=buyer)
    auth = authorize(order, gateway_integration)
    capture = payment_capture(source_id=auth.pk, amount=usd("60.00"), key="cap")
    payment_refund(source_id=capture.pk, amount=usd("10.00"), key="ref", note="Internal remark")
    client.force_login(buyer.user)

    html = client.get(f"/account/orders/{order.number}/").content.decode()

    assert '<dd class="amount-authorized">$100.00</dd>' in html
    assert '<dd class="amount-captured">$60.00</dd>' in html
    assert '<dd class="amount-refunded">$10.00</dd>' in html
    assert '<dd class="amount-outstanding">$40.00</dd>' in html
    assert "Internal remark" not in html
