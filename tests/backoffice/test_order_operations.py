"""Capture, cancel and refund from the order page: offered by capabilities and ledger, confirmed, permission
checked server-side, moved once on a double submit, refused with a message and nothing changed."""

from __future__ import annotations

import re
import uuid
from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Permission
from django.utils import timezone

from backoffice.operations import Operation, transaction_offers
from backoffice.selectors import payment_history
from orders.models import Order, PaymentStatus
from payments.models import Action, PaymentTransaction
from payments.services import capturable_amount, payment_capture, payment_purchase, payment_refund, refundable_amount
from tests import factories
from tests.conftest import authorize, usd

pytestmark = pytest.mark.django_db


def op_url(txn: PaymentTransaction, operation: str) -> str:
    return f"/admin/orders/order/{txn.order_id}/payments/{txn.pk}/{operation}/"


def order_url(order: Order) -> str:
    return f"/admin/orders/order/{order.pk}/change/"


def messages_of(response) -> list[str]:  # noqa: ANN001
    return [str(m) for m in response.context["messages"]]


def money_order_pending() -> PaymentTransaction:
    integration = factories.IntegrationFactory(short_labels={"en": "Check"})
    order = factories.OrderFactory()
    return payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key=f"p-{order.pk}")


def submit(client, txn: PaymentTransaction, operation: str, **data: str):  # noqa: ANN001, ANN201
    data.setdefault("key", str(uuid.uuid4()))
    return client.post(op_url(txn, operation), data, follow=True)


def test_money_order_is_captured_in_full_from_the_order_page(client, sales) -> None:
    pending = money_order_pending()
    page = client.get(order_url(pending.order)).content.decode()
    assert "Pending payment" in page
    assert op_url(pending, "capture") in page
    assert op_url(pending, "cancel") not in page  # money order: capture only
    assert op_url(pending, "refund") not in page

    form = client.get(op_url(pending, "capture"))
    html = form.content.decode()
    assert 'name="key" value="' in html
    assert 'name="amount" value="100.00"' in html
    assert "readonly" in html

    response = submit(client, pending, "capture", amount="100.00", note="Check #1001")
    assert response.redirect_chain[-1][0] == order_url(pending.order)
    assert messages_of(response) == ["The payment of $100.00 has been captured successfully."]
    assert "Paid in full" in response.content.decode()
    capture = pending.order.transactions.get(action=Action.CAPTURE)
    assert (capture.amount, capture.actor, capture.note) == (Decimal("100.00"), sales, "Check #1001")


def test_double_submit_moves_money_once(client, sales, gateway_integration, fake_gateway) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    key = str(uuid.uuid4())
    first = submit(client, auth, "capture", key=key, amount="40.00")
    second = submit(client, auth, "capture", key=key, amount="40.00")
    assert messages_of(first) == messages_of(second) == ["The payment of $40.00 has been captured successfully."]
    assert fake_gateway.calls["capture"] == 1
    assert auth.order.transactions.filter(action=Action.CAPTURE).count() == 1


def test_each_form_renders_a_fresh_key(client, sales) -> None:
    pending = money_order_pending()
    keys = {client.get(op_url(pending, "capture")).context["form"].initial["key"] for _ in range(2)}
    assert len(keys) == 2


def test_partial_capture_then_partial_refund(client, sales, gateway_integration, fake_gateway) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    form = client.get(op_url(auth, "capture")).content.decode()
    assert 'name="amount" value="100.00"' in form
    assert "readonly" not in form

    response = submit(client, auth, "capture", amount="40.00")
    assert messages_of(response) == ["The payment of $40.00 has been captured successfully."]
    assert "Paid partially" in response.content.decode()
    capture = auth.order.transactions.get(action=Action.CAPTURE)

    refund_form = client.get(op_url(capture, "refund")).content.decode()
    assert 'name="amount" value="40.00"' in refund_form
    assert "Requested by customer" in refund_form  # the provider takes a reason

    response = submit(client, capture, "refund", amount="15.00", note="Damaged box", reason="requested_by_customer")
    assert messages_of(response) == ["The refund of $15.00 has been made successfully."]
    refund = auth.order.transactions.get(action=Action.REFUND)
    assert (refund.amount, refund.note, refund.reason, refund.actor) == (
        Decimal("15.00"),
        "Damaged box",
        "requested_by_customer",
        sales,
    )
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    assert fake_gateway.calls == {"authorize": 1, "capture": 1, "refund": 1}


def ledger(order: Order) -> list[tuple]:
    return list(order.transactions.values_list("id", "action", "amount", "state", "active").order_by("id"))


def test_over_amounts_are_refused_with_a_message_and_nothing_changes(
    client, sales, gateway_integration, fake_gateway
) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    before = ledger(auth.order)
    response = submit(client, auth, "capture", amount="100.01")
    assert response.status_code == 200
    assert messages_of(response) == ["The amount 100.01 USD exceeds the 100.00 USD available."]
    assert ledger(auth.order) == before
    assert fake_gateway.calls["capture"] == 0

    capture = payment_capture(source_id=auth.pk, amount=usd("30.00"), key="c1")
    before = ledger(auth.order)
    response = submit(client, capture, "refund", amount="30.01", note="Too much")
    assert messages_of(response) == ["The amount 30.01 USD exceeds the 30.00 USD available."]
    assert ledger(auth.order) == before
    assert fake_gateway.calls["refund"] == 0


def test_amounts_with_too_many_places_and_missing_notes_are_form_errors(
    client, sales, gateway_integration, fake_gateway
) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    response = submit(client, auth, "capture", amount="10.005")
    assert "USD amounts have at most 2 decimal places; 10.005 has more." in response.content.decode()
    response = submit(client, auth, "cancel", note="")
    assert "This field is required." in response.content.decode()
    assert auth.order.transactions.count() == 1


def test_cancel_releases_the_authorization_with_a_note(client, sales, gateway_integration, fake_gateway) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    response = submit(client, auth, "cancel", note="Buyer changed their mind")
    assert messages_of(response) == ["The payment authorization of $100.00 has been canceled."]
    assert "Payment canceled" in response.content.decode()
    cancel = auth.order.transactions.get(action=Action.CANCEL)
    assert (cancel.note, cancel.actor) == ("Buyer changed their mind", sales)
    # nothing is left: the page offers no more operations on the authorization
    page = client.get(order_url(auth.order)).content.decode()
    assert op_url(auth, "capture") not in page
    assert messages_of(client.get(op_url(auth, "capture"), follow=True)) == ["This payment cannot be captured now."]


@pytest.mark.parametrize("operation", ["capture", "cancel", "refund"])
def test_each_operation_checks_its_own_permission(client, gateway_integration, fake_gateway, operation) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    capture = payment_capture(source_id=auth.pk, amount=usd("50.00"), key="c1")
    target = capture if operation == "refund" else auth
    user = factories.UserFactory(username="viewer", staff=True)
    others = [o.value for o in Operation if o.value != operation]
    user.user_permissions.set(
        Permission.objects.filter(
            codename__in=["view_order", "view_payment_history", *[f"{o}_payment" for o in others]]
        )
    )
    client.force_login(user)
    page = client.get(order_url(auth.order)).content.decode()
    assert op_url(target, operation) not in page  # hidden …
    assert client.get(op_url(target, operation)).status_code == 403  # … and refused
    before = ledger(auth.order)
    assert (
        client.post(op_url(target, operation), {"key": str(uuid.uuid4()), "amount": "1.00", "note": "x"}).status_code
        == 403
    )
    assert ledger(auth.order) == before


def test_payment_history_needs_its_own_permission(client) -> None:
    pending = money_order_pending()
    user = factories.UserFactory(username="viewer", staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_order"))
    client.force_login(user)
    page = client.get(order_url(pending.order)).content.decode()
    assert "Pending payment" in page
    assert "Payment history" not in page
    assert client.get(op_url(pending, "capture")).status_code == 403


def test_order_page_shows_badge_totals_method_and_every_column(client, sales) -> None:
    pending = money_order_pending()
    payment_capture(source_id=pending.pk, amount=None, key="c1", actor=sales, note="Check #1001")
    page = client.get(order_url(pending.order)).content.decode()
    assert 'class="payment-status"' in page
    assert "Paid in full" in page
    assert "Check" in page  # the method's short label
    assert "Authorized $0.00 · Captured $100.00 · Refunded $0.00 · Outstanding $0.00" in re.sub(r"<[^>]+>", "", page)
    assert "$100.00" in page
    headers = re.findall(r'<th class="column-[a-z_]+">([^<]+?)\s*<', page)
    assert headers[:4] == ["Sku", "Name", "Quantity", "Unit price"]  # the order lines
    assert headers[4:] == [  # plain words: no row ids, no successful/active flags
        "When",
        "What",
        "Amount",
        "Result",
        "Provider",
        "Method",
        "Card",
        "Reference code",
        "Who",
        "Note",
        "Operations",
    ]
    assert "Check #1001" in page
    assert "Sam" in page or "sam" in page


def test_unknown_method_falls_back_to_its_identifier(client, sales) -> None:
    order = factories.OrderFactory(payment_method="gone_999")
    page = client.get(order_url(order)).content.decode()
    assert "gone_999" in page


def test_offers_agree_with_the_services_amounts(gateway_integration, fake_gateway) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    first = payment_capture(source_id=auth.pk, amount=usd("30.00"), key="c1")
    second = payment_capture(source_id=auth.pk, amount=usd("20.00"), key="c2")
    payment_refund(source_id=first.pk, amount=usd("10.00"), key="r1")
    fake_gateway.fail_next.append("refund")  # an open (reserved) refund counts against what is left
    payment_refund(source_id=second.pk, amount=usd("5.00"), key="r2")
    for txn in payment_history(order_id=auth.order_id):
        offered = {o.operation: o.available.amount for o in transaction_offers(txn)}
        assert offered.get(Operation.CAPTURE, Decimal("0.00")) == capturable_amount(txn), txn
        assert offered.get(Operation.REFUND, Decimal("0.00")) == refundable_amount(txn), txn
    offers = {o.operation: o.available.amount for o in transaction_offers(payment_history().get(pk=second.pk))}
    assert offers == {Operation.REFUND: Decimal("15.00")}


@pytest.mark.parametrize("captures", [1, 24])
def test_order_page_queries_do_not_grow_with_transactions(
    client, sales, gateway_integration, fake_gateway, django_assert_max_num_queries, captures
) -> None:
    auth = authorize(factories.OrderFactory(subtotal=Decimal("1000.00")), gateway_integration)
    for n in range(captures):
        payment_capture(source_id=auth.pk, amount=usd("1.00"), key=f"c{n}")
    with django_assert_max_num_queries(22):  # the timeline reads rows, events, notes and e-mails once each
        page = client.get(order_url(auth.order))
    assert page.content.decode().count('class="field-what"') == captures + 1


def test_order_list_filters_by_method_and_shows_authorization_age(client, sales, gateway_integration) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    PaymentTransaction.objects.filter(pk=auth.pk).update(created_at=auth.created_at.replace(year=2020))
    pending = money_order_pending()
    page = client.get("/admin/orders/order/").content.decode()
    assert "Open authorization" in page
    assert "years old, expires in 6" in page  # the open authorization's age and its 7-day hold
    assert "Card gateway" in page
    assert "Check" in page
    only_checks = client.get(f"/admin/orders/order/?method={pending.payment_method}").content.decode()
    assert pending.order.number in only_checks
    assert auth.order.number not in only_checks


@pytest.mark.parametrize("orders", [1, 25])
def test_order_list_queries_stay_bounded(client, sales, django_assert_max_num_queries, orders) -> None:
    integration = factories.IntegrationFactory()
    for _ in range(orders):
        order = factories.OrderFactory()
        payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key=f"p-{order.pk}")
    with django_assert_max_num_queries(14):
        assert client.get("/admin/orders/order/").status_code == 200


def test_order_list_filters_authorizations_close_to_expiry(client, sales, gateway_integration) -> None:
    soon = authorize(factories.OrderFactory(), gateway_integration, key="soon")
    later = authorize(factories.OrderFactory(), gateway_integration, key="later")
    PaymentTransaction.objects.filter(pk=soon.pk).update(expires_at=timezone.now() + timedelta(hours=3))
    page = client.get("/admin/orders/order/?auth_expiry=soon").content.decode()
    assert soon.order.number in page
    assert later.order.number not in page
    assert 'class="auth-expiring"' in page


def test_mark_shipped_action_captures_on_shipment(client, gateway_integration, fake_gateway) -> None:
    from integrations.models import Integration
    from payments.models import ScheduledCapture

    gateway_integration.capture_policy = Integration.CapturePolicy.ON_SHIPMENT
    gateway_integration.save()
    auth = authorize(factories.OrderFactory(), gateway_integration)
    client.force_login(factories.UserFactory(superuser=True))
    response = client.post("/admin/orders/order/", {"action": "mark_shipped", "_selected_action": [auth.order_id]})
    assert response.status_code == 302
    auth.order.refresh_from_db()
    assert auth.order.shipped_at is not None
    assert ScheduledCapture.objects.get().authorization == auth


@pytest.mark.parametrize(
    ("typed", "message"),
    [
        ("1e100", "is not an amount"),
        ("1" * 30, "too large"),
        ("1_0", "is not an amount"),
        ("１０", "digits 0-9"),
        ("-10", "without a sign"),
        ("NaN", "is not an amount"),
        ("Infinity", "is not an amount"),
        ("10.005", "at most 2 decimal places"),
    ],
)
@pytest.mark.parametrize("operation", ["capture", "refund"])
def test_amounts_typed_on_capture_and_refund_are_parsed_strictly(
    client,  # noqa: ANN001
    sales,  # noqa: ANN001
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
    typed,  # noqa: ANN001
    message,  # noqa: ANN001
    operation,  # noqa: ANN001
) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    target = auth
    if operation == "refund":
        target = payment_capture(source_id=auth.pk, amount=None, key="all")
    rows = PaymentTransaction.objects.count()

    response = client.post(op_url(target, operation), {"key": str(uuid.uuid4()), "amount": typed, "note": "x"})

    assert response.status_code == 200
    assert message in response.content.decode().replace("&ldquo;", "“").replace("&rdquo;", "”")
    assert PaymentTransaction.objects.count() == rows
    assert fake_gateway.calls[operation] == 0
