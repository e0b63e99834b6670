"""The checkout submit costs a fixed number of queries, however many lines the cart has."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext

from checkout.models import Checkout, Product
from integrations.models import Integration
from tests.checkout.conftest import add, choose, to_payment_step

#: measured: 53 on PostgreSQL and on SQLite (49 before), about a dozen of them savepoints; the checkout attempt's
#: record (written, then finished) and taking only the ordered quantities out of the cart cost 4. An N+1 over
#: the lines would add 50 more. The buyer's order confirmation row (one insert, buyer e-mails) adds 1
SUBMIT_QUERY_BUDGET = 55


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


@pytest.mark.parametrize("lines", [1, 50])
def test_submit_stays_within_the_query_budget(
    acme: Client, bulk_products: None, lines: int, django_assert_max_num_queries
) -> None:  # noqa: ANN001, E501
    checkout = ready(acme, lines)
    with django_assert_max_num_queries(SUBMIT_QUERY_BUDGET):
        submit(acme, checkout)


def test_submit_costs_the_same_for_1_and_50_lines(acme: Client, bulk_products: None) -> None:
    counts = []
    for lines in (1, 50):
        checkout = ready(acme, lines)
        with CaptureQueriesContext(connection) as queries:
            submit(acme, checkout)
        counts.append(len(queries))
    assert counts[0] == counts[1]
