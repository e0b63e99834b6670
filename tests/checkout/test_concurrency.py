"""Two submits of the same checkout at once (a double click that reaches two web workers)."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import pytest
from django.db import connection
from django.test import Client

from checkout import services
from checkout.models import Checkout
from integrations.models import Integration
from orders.models import Order
from payments.models import PaymentTransaction
from tests.checkout.conftest import add, choose, to_payment_step

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        connection.vendor == "sqlite", reason="SQLite serialises whole write transactions; the lock is PostgreSQL's"
    ),
]


def test_concurrent_submits_create_one_order_and_one_transaction(acme: Client) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, f"money_order_{Integration.objects.get(provider_key='money_order').pk}")
    checkout = Checkout.objects.select_related("cart__customer_user__customer", "cart__customer_user__user").get()
    buyer = checkout.cart.customer_user

    def submit(_: int) -> str:
        try:
            result = services.checkout_submit(checkout_id=checkout.pk, buyer=buyer, return_url=lambda key: key)
            return result.order.number
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        numbers = list(pool.map(submit, [1, 2]))

    order = Order.objects.exclude(number__startswith="DEMO-").get()
    assert numbers == [order.number, order.number]
    assert PaymentTransaction.objects.filter(order=order).count() == 1
