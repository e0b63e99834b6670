"""The checkout submit costs a fixed number of statements, however many lines the cart has.

Counted with `core.statements`, transaction control included: in these tests each transaction of the request is a
savepoint (the test's own transaction is outside), so its SAVEPOINT and RELEASE stand for BEGIN and COMMIT.
"""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from checkout.models import Checkout, Product
from core.statements import count_statements
from integrations.models import Integration
from tests.checkout.conftest import add, choose, to_payment_step

#: measured 55 before the round-trip cuts, 25 after them, 24 since the record reads the order's rows once
#: (each transaction's 2 included): 2 for the session and the buyer (read with the user); 12 in one transaction
#: to lock the checkout, read its lines and the rule set's version, write the order, its lines and number, the
#: attempt, and the payment row (the payment's own lock, replay and account reads were for an order that nobody
#: else can see yet); after the provider call 10 in one transaction to lock the checkout with its cart, lock the
#: order, read the order's rows (the payment row and the status from one read), record the payment row, write the
#: order confirmation, complete the checkout and the attempt, and take the ordered lines out of the cart in one
#: statement. An N+1 over the lines would add 50 more.
SUBMIT_STATEMENTS = 24


@pytest.fixture
def bulk_products(acme: Client) -> None:
    Product.objects.bulk_create(
        Product(sku=f"BULK-{n:03d}", name=f"Bulk item {n}", price="1.10", currency="USD") for n in range(50)
    )
    submit(acme, ready(acme, 1))  # warm: the rule set is compiled once per process and then cached


def ready(client: Client, lines: int) -> Checkout:
    """A checkout with `lines` cart lines that stands at the review step."""
    for product in Product.objects.filter(sku__startswith="BULK-").order_by("sku")[:lines]:
        add(client, product.sku)
    to_payment_step(client)
    choose(client, f"money_order_{Integration.objects.get(provider_key='money_order').pk}")
    return Checkout.objects.get(completed_at__isnull=True)


def submit(client: Client, checkout: Checkout) -> None:
    response = client.post("/checkout/review/", {"checkout": checkout.pk})
    assert response["Location"].startswith("/checkout/confirmation/")


@pytest.mark.skipif(connection.vendor == "sqlite", reason="the budget is PostgreSQL's (one statement empties the cart)")
@pytest.mark.parametrize("lines", [1, 50])
def test_submit_costs_its_statement_budget(acme: Client, bulk_products: None, lines: int) -> None:
    checkout = ready(acme, lines)
    with count_statements() as log:
        submit(acme, checkout)
    assert log.statements == SUBMIT_STATEMENTS, log


def test_submit_costs_the_same_for_1_and_50_lines(acme: Client, bulk_products: None) -> None:
    counts = []
    for lines in (1, 50):
        checkout = ready(acme, lines)
        with CaptureQueriesContext(connection) as queries:
            submit(acme, checkout)
        counts.append(len(queries))
    assert counts[0] == counts[1]
