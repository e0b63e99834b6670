"""Round trips and own time of the money paths and the pages, with their goals (issue [Performance]).

Checkout submit (1 and 50 cart lines) and capture: statements per request, transaction control included
(`core.statements`: each transaction's BEGIN and COMMIT count), and p50/p99 of the request's own time (the
provider is the offline money order, so no network is timed). Pages: the storefront steps and the admin order
pages, time to the first byte of the response in-process and their statements. Runs on DATABASE_URL's server
(PostgreSQL when set) in a scratch database of its own; BENCH_REPEAT changes the number of timed requests.
"""

from __future__ import annotations

import logging
import os
import statistics
import sys
import time
from collections.abc import Callable
from decimal import Decimal
from functools import partial
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.contrib.auth.models import User  # noqa: E402
from django.db import connection  # noqa: E402
from django.test import Client  # noqa: E402

from checkout.models import Checkout, Product  # noqa: E402
from config.celery import app  # noqa: E402
from core.statements import count_statements  # noqa: E402
from demo.seed import seed_demo  # noqa: E402
from integrations.models import Integration  # noqa: E402
from orders.models import Order  # noqa: E402
from payments.models import Action, PaymentTransaction, State  # noqa: E402
from payments.services import payment_capture  # noqa: E402

REPEAT = int(os.environ.get("BENCH_REPEAT", "60"))
ADDRESS = {
    "first_name": "Ada",
    "last_name": "Buyer",
    "organization": "ACME Industrial",
    "street": "200 Industrial Way",
    "city": "Springfield",
    "region_code": "US-IL",
    "postal_code": "62701",
    "country": "US",
}


def scratch_database() -> str:
    """Create and migrate the bench's own database next to DATABASE_URL's; returns the name to restore."""
    database = settings.DATABASES["default"]
    original = database["NAME"]
    if connection.vendor != "sqlite":
        database.setdefault("TEST", {})["NAME"] = f"bench_paths_{original}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return original


def percentile(values: list[float], share: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(len(ordered) * share))]


def ready(client: Client, lines: int) -> Checkout:
    """A checkout with `lines` cart lines at the review step, paid by money order."""
    for product in Product.objects.filter(sku__startswith="BENCH-").order_by("sku")[:lines]:
        client.post("/cart/add/", {"product": product.pk, "quantity": 1})
    client.post("/checkout/billing/", {f"billing-{k}": v for k, v in ADDRESS.items()})
    client.post("/checkout/shipping/", {"ship_to_billing": "on"})
    client.post("/checkout/shipping-method/", {"shipping_method": "flat_rate"})
    method = f"money_order_{Integration.objects.filter(provider_key='money_order').first().pk}"  # type: ignore[union-attr]
    client.post("/checkout/payment/", {"payment_method": method})
    return Checkout.objects.get(completed_at__isnull=True, cart__customer_user__user__username="buyer@acme.example")


def timed(call: Callable[[], object]) -> tuple[float, int]:
    with count_statements() as log:
        started = time.perf_counter()
        call()
        elapsed = (time.perf_counter() - started) * 1000
    return elapsed, log.statements


def line(name: str, statements: int, goal_statements: int | None, times: list[float], goal_p50: float | None) -> None:
    budget = f" (goal ≤ {goal_statements})" if goal_statements is not None else ""
    p50_goal = f" (goal < {goal_p50:g} ms)" if goal_p50 is not None else ""
    print(
        f"  {name}: {statements} statements{budget}; p50 {statistics.median(times):.1f} ms{p50_goal}, "
        f"p99 {percentile(times, 0.99):.1f} ms"
    )


def submits(client: Client) -> None:
    for lines in (1, 50):
        ready(client, lines)
        client.post("/checkout/review/", {"checkout": Checkout.objects.get(completed_at__isnull=True).pk})  # warm
        times, counts = [], []
        for _ in range(REPEAT):
            checkout = ready(client, lines)
            ms, statements = timed(partial(client.post, "/checkout/review/", {"checkout": checkout.pk}))
            times.append(ms)
            counts.append(statements)
        line(f"submit, {lines} line(s)", max(counts), 25, times, 15)


def captures() -> None:
    """Marking offline promises (money orders) paid: the capture service's own statements and time."""
    promises = list(
        PaymentTransaction.objects.filter(action=Action.PENDING, state=State.SUCCEEDED, active=True).order_by("pk")
    )
    times, counts = [], []
    for n, promise in enumerate(promises):
        ms, statements = timed(partial(payment_capture, source_id=promise.pk, amount=None, key=f"bench-capture-{n}"))
        times.append(ms)
        counts.append(statements)
    line(f"capture ({len(promises)} promises)", max(counts[1:] or counts), 12, times[1:] or times, None)


def pages(client: Client, staff: Client) -> None:
    ready(client, 3)
    order = Order.objects.order_by("-pk").first()
    urls = [
        ("catalog", client, "/"),
        ("cart", client, "/cart/"),
        ("billing", client, "/checkout/billing/"),
        ("shipping", client, "/checkout/shipping/"),
        ("shipping method", client, "/checkout/shipping-method/"),
        ("payment", client, "/checkout/payment/"),
        ("review", client, "/checkout/review/"),
        ("admin order list", staff, "/admin/orders/order/"),
        ("admin order page", staff, f"/admin/orders/order/{order.pk}/change/"),  # type: ignore[union-attr]
    ]
    for name, who, url in urls:
        who.get(url)  # warm
        times, statements = [], 0
        for _ in range(max(REPEAT // 3, 5)):
            ms, statements = timed(partial(who.get, url))
            times.append(ms)
        print(f"  page {name}: time to first byte p50 {statistics.median(times):.1f} ms, {statements} statements")


def main() -> None:
    settings.ALLOWED_HOSTS = [*settings.ALLOWED_HOSTS, "testserver"]  # the in-process client's host
    # tasks (buyer e-mails) are a worker's work, not the request's: sent to an in-memory broker, not run here
    app.conf.task_always_eager = False
    app.conf.broker_url = "memory://"
    logging.disable(logging.WARNING)
    original = scratch_database()
    try:
        seed_demo()
        Product.objects.bulk_create(
            Product(sku=f"BENCH-{n:03d}", name=f"Bench item {n}", price=Decimal("1.10"), currency="USD")
            for n in range(50)
        )
        client, staff = Client(), Client()
        client.force_login(User.objects.get(username="buyer@acme.example"))
        staff.force_login(User.objects.get(username="admin"))
        print(f"money paths and pages on {connection.vendor}, {REPEAT} timed requests each")
        submits(client)
        captures()
        pages(client, staff)
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


if __name__ == "__main__":
    main()
