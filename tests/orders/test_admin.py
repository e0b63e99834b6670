"""The back-office minimum: orders with payment status and history, readable by sales, bounded queries."""

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from backoffice.roles import SALES
from payments.services import payment_capture, payment_purchase
from tests import factories

pytestmark = pytest.mark.django_db


def paid_order(reference: str = "") -> tuple:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory()
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key=f"p-{order.pk}")
    capture = payment_capture(source_id=pending.pk, amount=None, key=f"c-{order.pk}", note="Check 1001")
    return order, pending, capture


def sales_user():  # noqa: ANN201
    user = factories.UserFactory(username="sales", staff=True)
    user.groups.add(Group.objects.get(name=SALES))
    return user


def test_order_page_shows_status_and_payment_history(client) -> None:
    order, pending, capture = paid_order()
    client.force_login(sales_user())
    page = client.get(f"/admin/orders/order/{order.pk}/change/")
    html = page.content.decode()
    assert page.status_code == 200
    assert "Paid in full" in html
    assert "Payment history" in html
    assert "Check 1001" in html
    assert html.count('class="field-what"') >= 2


def test_order_list_filters_by_payment_status(client) -> None:
    order, *_ = paid_order()
    other = factories.OrderFactory()
    client.force_login(factories.UserFactory(superuser=True))
    page = client.get("/admin/orders/order/?payment_status__exact=full")
    html = page.content.decode()
    assert order.number in html
    assert other.number not in html


@pytest.mark.parametrize("orders", [1, 25])
def test_order_list_queries_do_not_grow_with_orders(client, django_assert_max_num_queries, orders) -> None:
    for _ in range(orders):
        factories.OrderFactory(total=Decimal("100.00"))
    client.force_login(factories.UserFactory(superuser=True))
    with django_assert_max_num_queries(12):
        assert client.get("/admin/orders/order/").status_code == 200


def test_sales_cannot_open_integrations(client) -> None:
    client.force_login(sales_user())
    assert client.get("/admin/integrations/integration/").status_code == 403


def test_buyer_cannot_open_the_back_office(client) -> None:
    buyer = factories.CustomerUserFactory().user
    client.force_login(buyer)
    response = client.get("/admin/orders/order/")
    assert response.status_code == 302
    assert "/admin/login/" in response["Location"]


def test_order_page_shows_every_amount_in_one_money_format(client) -> None:
    order, pending, capture = paid_order()
    order.lines.update(quantity=Decimal("2"), unit_price=Decimal("50.0000"))
    client.force_login(sales_user())
    html = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "$50.00" in html  # the line's unit price, stored with four places
    assert "$100.00" in html  # the totals, the history
    assert "50.0000" not in html
    assert "100 USD" not in html


def test_operation_page_shows_the_amount_in_the_money_format(client) -> None:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory(kwd=True)
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key=f"p-{order.pk}")
    client.force_login(factories.UserFactory(superuser=True))
    html = client.get(f"/admin/orders/order/{order.pk}/payments/{pending.pk}/capture/").content.decode()
    assert "KWD30.125" in html
    assert "30.1250" not in html
