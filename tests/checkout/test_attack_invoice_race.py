"""Staff invoice an order at the moment its buyer is placing it at checkout (issue 12, part A: totals across
documents). Real sessions on PostgreSQL: the staff request runs in its own thread while the buyer's checkout has
made the order and not yet reserved its payment."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from checkout import services
from checkout.models import Checkout
from core.money import MoneyError
from core.status import PaymentStatus
from integrations.models import Integration
from orders.models import Invoice, Order
from orders.services import invoice_create
from payments.models import Action, State
from tests.checkout.conftest import add, choose, to_payment_step

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="SQLite serialises whole write transactions; the race is PostgreSQL's"
    ),
]


def test_an_order_still_being_placed_at_checkout_cannot_be_invoiced(acme: Client, monkeypatch) -> None:  # noqa: ANN001
    """An order exists as soon as the buyer submits, while its payment is with the provider. Staff could invoice it:
    the buyer's payment was refused as "already paid or being paid" (the invoice asked for the whole total),
    the attempt's order could not be discarded because an invoice pointed at it, and the buyer got a server
    error on every later submit. The order belongs to the buyer's attempt until the checkout completes."""
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, f"money_order_{Integration.objects.get(provider_key='money_order').pk}")
    checkout = Checkout.objects.select_related("cart__customer_user__customer", "cart__customer_user__user").get()
    buyer = checkout.cart.customer_user
    staff_saw: list[str] = []
    call = services.purchase_call

    def staff_invoice(order_id: int) -> None:
        try:
            invoice_create(order=Order.objects.get(pk=order_id))
        except MoneyError as refused:
            staff_saw.append(str(refused))
        finally:
            connection.close()

    def sent_after_staff_invoiced(reserved):  # noqa: ANN001, ANN202
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(staff_invoice, reserved.txn.order_id).result()
        return call(reserved)

    monkeypatch.setattr(services, "purchase_call", sent_after_staff_invoiced)

    result = services.checkout_submit(checkout_id=checkout.pk, buyer=buyer, return_url=lambda key: key)

    order = Order.objects.exclude(number__startswith="DEMO-").get()
    assert result.order == order
    assert not Invoice.objects.filter(order=order).exists()
    assert staff_saw == [f"Order {order.number} is still being placed by the buyer at checkout; invoice it later."]
    promise = order.transactions.get()
    assert (promise.action, promise.state, order.payment_status) == (
        Action.PENDING,
        State.SUCCEEDED,
        PaymentStatus.PENDING,
    )
    checkout.refresh_from_db()
    assert checkout.completed_at is not None
