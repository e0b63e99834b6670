"""How fast the REST API answers the two reads an ERP makes most: the order list (100 orders) and an order's
detail with its ledger (50 transactions), and how many SQL queries each request takes.

Prints requests per second (in-process, through the whole middleware and DRF stack, token authentication
included) and queries per request, each beside the same request over a tenth of the rows: the query counts must
not grow with the rows. Runs in a scratch database of its own, as the other benchmarks do.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import Group, User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from api.services import api_token_create  # noqa: E402
from backoffice.roles import SALES  # noqa: E402
from customers.models import Customer  # noqa: E402
from integrations.models import Integration  # noqa: E402
from orders.models import Order, OrderLine, PaymentStatus  # noqa: E402
from payments.models import Action, PaymentTransaction, State  # noqa: E402

REQUESTS = 200


def scratch_database() -> str:
    database = settings.DATABASES["default"]
    original = database["NAME"]
    if connection.vendor != "sqlite":
        database.setdefault("TEST", {})["NAME"] = f"bench_api_{original}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return original


def orders(count: int, customer: Customer, prefix: str) -> list[Order]:
    made = Order.objects.bulk_create(
        Order(
            number=f"{prefix}-{n:05d}",
            customer=customer,
            currency="USD",
            subtotal=Decimal("100.00"),
            total=Decimal("100.00"),
            payment_status=PaymentStatus.AUTHORIZED,
        )
        for n in range(count)
    )
    OrderLine.objects.bulk_create(
        OrderLine(order=o, sku="SKU-1", name="Widget", quantity=1, unit_price=Decimal("100.00")) for o in made
    )
    return made


def ledger(order: Order, integration: Integration, rows: int) -> None:
    """An authorization and `rows - 1` captures of 1.00 from it (written directly: reads are measured here)."""
    auth = PaymentTransaction.objects.create(
        order=order,
        integration=integration,
        payment_method=f"money_order_{integration.pk}",
        action=Action.AUTHORIZE,
        state=State.SUCCEEDED,
        successful=True,
        active=True,
        amount=order.total,
        currency="USD",
        idempotency_key=f"bench:{order.pk}:auth",
    )
    PaymentTransaction.objects.bulk_create(
        PaymentTransaction(
            order=order,
            source=auth,
            integration=integration,
            payment_method=auth.payment_method,
            action=Action.CAPTURE,
            state=State.SUCCEEDED,
            successful=True,
            amount=Decimal("1.00"),
            currency="USD",
            idempotency_key=f"bench:{order.pk}:{n}",
        )
        for n in range(rows - 1)
    )


def measure(client: Client, url: str) -> tuple[float, int]:
    """Requests per second over REQUESTS requests, and the queries of one request."""
    client.get(url)  # warm
    with CaptureQueriesContext(connection) as queries:
        response = client.get(url)
    if response.status_code != 200:
        raise SystemExit(f"{url} answered {response.status_code}: {response.content[:300]!r}")
    count = len(queries)
    start = time.perf_counter()
    for _ in range(REQUESTS):
        client.get(url)
    return REQUESTS / (time.perf_counter() - start), count


def main() -> None:
    logging.disable(logging.WARNING)
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the in-process client's host
    original = scratch_database()
    try:
        user = User.objects.create_user("bench", is_staff=True)
        user.groups.add(Group.objects.get(name=SALES))
        _, token = api_token_create(user=user, name="bench")
        client = Client(HTTP_AUTHORIZATION=f"Bearer {token}")
        integration = Integration.objects.create(provider_key="money_order", name="Checks", settings={"pay_to": "x"})
        few_customer = Customer.objects.create(name="Few")
        many_customer = Customer.objects.create(name="Many")
        orders(10, few_customer, "F")
        orders(100, many_customer, "M")
        small, large = orders(2, many_customer, "L")
        ledger(small, integration, 5)
        ledger(large, integration, 50)
        rows = [
            ("order list, 10 orders", f"/api/v1/orders/?customer={few_customer.pk}&page_size=100"),
            ("order list, 100 orders", f"/api/v1/orders/?customer={many_customer.pk}&page_size=100"),
            ("order detail, 5 transactions", f"/api/v1/orders/{small.pk}/"),
            ("order detail, 50 transactions", f"/api/v1/orders/{large.pk}/"),
        ]
        print(f"{'request':34} {'req/s':>8} {'queries':>8}")
        for label, url in rows:
            rate, queries = measure(client, url)
            print(f"{label:34} {rate:8.1f} {queries:8d}")
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
