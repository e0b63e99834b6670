"""The dashboard: counts and amounts by payment status, authorizations awaiting capture, failed payments today."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.contrib.auth.models import Group, Permission
from django.utils import timezone

from backoffice.roles import SALES
from backoffice.selectors import dashboard
from orders.models import PaymentStatus
from payments.models import PaymentTransaction
from payments.services import payment_capture, payment_purchase
from tests import factories
from tests.conftest import authorize

pytestmark = pytest.mark.django_db


@pytest.fixture
def sales_client(client):  # noqa: ANN001, ANN201
    user = factories.UserFactory(username="sam", staff=True)
    user.groups.add(Group.objects.get(name=SALES))
    client.force_login(user)
    return client


def checks_order(total: str = "100.00", *, capture: bool = False) -> None:
    integration = factories.IntegrationFactory()
    order = factories.OrderFactory(subtotal=Decimal(total))
    pending = payment_purchase(order_id=order.pk, method=f"money_order_{integration.pk}", key=f"p-{order.pk}")
    if capture:
        payment_capture(source_id=pending.pk, amount=None, key=f"c-{order.pk}")


def test_figures_by_status_with_amounts_per_currency(gateway_integration) -> None:
    checks_order("100.00")
    checks_order("50.00")
    checks_order("20.00", capture=True)
    factories.OrderFactory(jpy=True, payment_status=PaymentStatus.PENDING)
    old = authorize(factories.OrderFactory(), gateway_integration, key="a1")
    PaymentTransaction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=5))
    authorize(factories.OrderFactory(), gateway_integration, key="a2")
    declined = services_decline(gateway_integration)

    figures = dashboard()
    by_status = {f.status: (f.count, f.amounts) for f in figures.statuses}
    assert by_status == {
        PaymentStatus.FULL: (1, {"USD": Decimal("20.0000")}),
        PaymentStatus.AUTHORIZED: (2, {"USD": Decimal("200.0000")}),
        PaymentStatus.DECLINED: (1, {"USD": Decimal("100.0000")}),
        PaymentStatus.PENDING: (3, {"USD": Decimal("150.0000"), "JPY": Decimal("12000.0000")}),
    }
    assert [t.pk for t in figures.awaiting_capture][0] == old.pk  # oldest first
    assert figures.awaiting_capture_count == 2
    assert [t.pk for t in figures.failed_today] == [declined.pk]
    assert figures.failed_today_count == 1
    assert dashboard(now=timezone.now() + timedelta(days=1)).failed_today_count == 0


def services_decline(integration) -> PaymentTransaction:  # noqa: ANN001
    order = factories.OrderFactory()
    return payment_purchase(
        order_id=order.pk,
        method=f"{integration.provider_key}_{integration.pk}",
        key=f"d-{order.pk}",
        payment_data={"token": "tok_decline"},
    )


def test_index_shows_the_dashboard_with_a_chart(sales_client, gateway_integration) -> None:
    checks_order()
    auth = authorize(factories.OrderFactory(), gateway_integration)
    PaymentTransaction.objects.filter(pk=auth.pk).update(created_at=timezone.now() - timedelta(days=3))
    services_decline(gateway_integration)
    page = sales_client.get("/admin/").content.decode()
    assert "Orders by payment status" in page
    assert 'class="bar"' in page
    assert "Pending payment" in page
    assert "$100.00" in page
    assert "Authorizations awaiting capture (1)" in page
    assert "3\xa0days ago" in page
    assert "Failed payments today (1)" in page
    assert "Your card was declined." in page


def test_users_who_cannot_see_orders_get_no_figures(client) -> None:
    checks_order()
    user = factories.UserFactory(username="clerk", staff=True)
    user.user_permissions.set(Permission.objects.filter(codename="view_customer"))
    client.force_login(user)
    page = client.get("/admin/").content.decode()
    assert "Orders by payment status" not in page


@pytest.mark.parametrize("orders", [1, 25])
def test_dashboard_queries_do_not_grow_with_orders(
    sales_client, gateway_integration, django_assert_max_num_queries, orders
) -> None:
    for n in range(orders):
        authorize(factories.OrderFactory(), gateway_integration, key=f"a{n}")
        services_decline(gateway_integration)
    with django_assert_max_num_queries(12):
        page = sales_client.get("/admin/")
    assert f"Authorizations awaiting capture ({orders})" in page.content.decode()
