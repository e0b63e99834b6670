"""The order page's cost: a fixed number of statements, whatever the number of ledger rows, notes, provider events
and e-mails on the order (each of them used to cost statements of its own)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group

from backoffice.roles import SALES
from core.statements import StatementLog, count_statements
from integrations.models import Integration
from notifications.models import BuyerEmail
from orders.models import Order, OrderLine, OrderNote
from payments.models import PaymentTransaction, State, WebhookEvent
from payments.services import payment_capture, payment_purchase, payment_refund
from tests import factories
from tests.conftest import authorize, usd
from tests.fakes import DECLINE_TOKEN

pytestmark = pytest.mark.django_db


def busy_order(integration, rows: int) -> Order:  # noqa: ANN001
    """An order of `rows` lines, with `rows` declined payments (each by another integration), then an authorization
    with `rows` captures (by as many staff members) and a refund of each, and `rows` notes (by as many authors),
    provider events and extra e-mails."""
    buyer = factories.CustomerUserFactory()
    order = factories.OrderFactory(
        subtotal=Decimal("1000.00"),
        customer=buyer.customer,
        customer_user=buyer,
        shipping_address=factories.AddressFactory(),
        lines=[],
    )
    for n in range(rows):
        OrderLine.objects.create(order=order, sku=f"SKU-{n}", name="Widget", quantity=1, unit_price=Decimal("10.00"))
        backup = factories.IntegrationFactory(
            provider_key="fakegw", name=f"Backup gateway {n}", payment_action=Integration.PaymentAction.AUTHORIZE
        )
        declined = payment_purchase(
            order_id=order.pk,
            method=f"fakegw_{backup.pk}",
            key=f"d-{order.pk}-{n}",
            payment_data={"token": DECLINE_TOKEN},
        )
        assert declined.state == State.DECLINED
    auth = authorize(order, integration, key=f"auth-{order.pk}")
    for n in range(rows):
        staff = factories.UserFactory(username=f"staff-{order.pk}-{n}", first_name=f"Staff {n}", staff=True)
        capture = payment_capture(source_id=auth.pk, amount=usd("10.00"), key=f"c-{order.pk}-{n}", actor=staff)
        payment_refund(source_id=capture.pk, amount=usd("1.00"), key=f"r-{order.pk}-{n}", actor=staff, note="Goodwill")
        OrderNote.objects.create(order=order, author=staff, text=f"Note {n}")
        WebhookEvent.objects.create(
            integration=integration,
            provider_event_id=f"evt-{order.pk}-{n}",
            event_type="charge.captured",
            provider_reference=capture.provider_reference or auth.provider_reference,
            event={},
            status=WebhookEvent.Status.PROCESSED,
            result="Already recorded.",
        )
        BuyerEmail.objects.create(order=order, kind=BuyerEmail.Kind.PAYMENT_RECEIPT, key=f"extra:{n}", language="en")
    return order


def page_statements(client, order: Order) -> tuple[StatementLog, str]:  # noqa: ANN001
    with count_statements() as log:
        page = client.get(f"/admin/orders/order/{order.pk}/change/")
    assert page.status_code == 200
    return log, page.content.decode()


#: session, user, the order with its buyer, addresses, term and attempt, its ledger rows, its open invoices, the
#: integrations of its methods, its lines, provider events, notes, e-mails; Sales also read their permissions (2)
@pytest.mark.parametrize(("role", "statements"), [("sales", 12), ("superuser", 10)])
def test_the_order_page_costs_the_same_statements_for_few_and_many_rows(
    client, gateway_integration, fake_gateway, role, statements
) -> None:  # noqa: ANN001
    few, many = busy_order(gateway_integration, 1), busy_order(gateway_integration, 8)
    # 8 declined payments, the authorization, 8 captures, 8 refunds
    assert PaymentTransaction.objects.filter(order=many).count() == 25
    if role == "superuser":
        user = factories.UserFactory(superuser=True)
    else:
        user = factories.UserFactory(username="sam", staff=True)
        user.groups.add(Group.objects.get(name=SALES))
    client.force_login(user)
    client.get(f"/admin/orders/order/{few.pk}/change/")  # warm: content types, permission caches of the user

    (few_log, _), (many_log, html) = page_statements(client, few), page_statements(client, many)

    assert many_log.statements == few_log.statements, many_log
    assert few_log.statements == statements, few_log
    assert html.count('class="field-what"') == 25  # every row of the history is on the page
    assert html.count("payment-operation refund") == 8  # a refund offered on each capture (Sales may refund)
    assert html.count('class="timeline-note"') == 8
