"""How fast the payment-rule matcher resolves one checkout: 1,000 enabled rules, 10,000 varied contexts.

Prints the median and p99 time per resolution (warm: rule set compiled, one version query per call) and
the number of SQL queries per resolution. Runs where everything else runs: on the server of DATABASE_URL
(PostgreSQL, or SQLite when unset), in a scratch database of its own made and dropped the way the test suite
makes its test database, so it never writes into your data.
"""

from __future__ import annotations

import logging
import os
import random
import statistics
import sys
import time
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings_test")

import django  # noqa: E402

django.setup()

from django.conf import settings  # noqa: E402
from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from integrations.models import Integration  # noqa: E402
from payment_rules.matching import applicable_methods  # noqa: E402
from payment_rules.models import PaymentRule, PaymentRuleDestination, PaymentRuleMethod  # noqa: E402
from providers.base import (  # noqa: E402
    AddressInfo,
    CheckoutContext,
    CustomerGroupInfo,
    CustomerInfo,
    CustomerUserInfo,
    LineItemInfo,
    Money,
    PaymentTermInfo,
)

RULES, CONTEXTS = 1_000, 10_000
CURRENCIES = ["USD", "USD", "USD", "EUR", "GBP", "JPY"]
COUNTRIES = ["US", "CA", "DE", "AT", "FR", "GB", "JP", "MX", "NL", "IT", "ES", "PL", "SE", "CH", "BE"]
REGIONS = {"US": ["US-NY", "US-CA", "US-IL", "US-TX"], "CA": ["CA-ON", "CA-QC"], "DE": ["DE-BY", "DE-BE"]}
EXPRESSIONS = [
    "",
    "subtotal.value > 1000.0",
    "subtotal.value <= 250.0",
    "customer.group and customer.group.name = 'Wholesale'",
    "billingAddress.countryIso2 in ['US', 'CA'] and subtotal.value > 100.0",
    "lineItems.any(lineItem.quantity >= 10.0)",
    "count(lineItems) > 3",
    "customerUser and customerUser.email matches '/@acme\\\\.example$/i'",
    "lineItems.sum(lineItem.price.value * lineItem.quantity) > 500.0",
    "customer.payment_term_7c4f1e8e and customer.payment_term_7c4f1e8e.label = 'Net 30'",
]


def scratch_database() -> str:
    """Create and migrate the bench's own database next to DATABASE_URL's; returns the name to restore."""
    database = settings.DATABASES["default"]
    original = database["NAME"]
    if connection.vendor != "sqlite":
        database.setdefault("TEST", {})["NAME"] = f"bench_rules_{original}"
    connection.creation.create_test_db(verbosity=0, autoclobber=True, serialize=False)
    return original


def build(rng: random.Random) -> None:
    integrations = [
        Integration.objects.create(provider_key="money_order", name=f"Checks {n}", settings={"pay_to": "x"})
        for n in range(8)
    ] + [Integration.objects.create(provider_key="payment_term", name=f"Terms {n}") for n in range(2)]
    for n in range(RULES):
        rule = PaymentRule.objects.create(
            name=f"rule {n}",
            currency=rng.choice(CURRENCIES),
            sort_order=rng.randint(0, 500),
            stop_processing=rng.random() < 0.02,
            expression=rng.choice(EXPRESSIONS),
        )
        for integration in rng.sample(integrations, rng.randint(1, 3)):
            PaymentRuleMethod.objects.create(
                rule=rule, integration=integration, method=f"{integration.provider_key}_{integration.pk}"
            )
        if rng.random() < 0.7:
            for country in rng.sample(COUNTRIES, rng.randint(1, 3)):
                region = rng.choice(REGIONS.get(country, [""]) + [""])
                postal = ",".join(str(rng.randint(10000, 10100)) for _ in range(rng.randint(0, 3)))
                PaymentRuleDestination.objects.create(
                    rule=rule, country=country, region_code=region, postal_codes=postal
                )


def contexts(rng: random.Random) -> list[CheckoutContext]:
    result = []
    for n in range(CONTEXTS):
        currency = rng.choice(CURRENCIES)
        country = rng.choice(COUNTRIES)
        lines = [
            LineItemInfo(
                sku=f"SKU-{k}",
                name="Item",
                quantity=Decimal(rng.randint(1, 20)),
                unit_price=Money(Decimal(rng.randint(1, 400)), currency),
            )
            for k in range(rng.randint(1, 6))
        ]
        subtotal = sum((line.quantity * line.unit_price.amount for line in lines), Decimal(0))
        group = CustomerGroupInfo(id=1, name=rng.choice(["Wholesale", "Retail"])) if rng.random() < 0.7 else None
        term = PaymentTermInfo(id=1, label="Net 30") if rng.random() < 0.5 else None
        billing = (
            AddressInfo(
                country_iso2=country,
                region_code=rng.choice(REGIONS.get(country, [""])),
                postal_code=str(rng.randint(10000, 10100)),
            )
            if rng.random() < 0.95
            else None
        )
        result.append(
            CheckoutContext(
                currency=currency,
                subtotal=Money(subtotal, currency),
                total=Money(subtotal, currency),
                line_items=lines,
                billing_address=billing,
                shipping_address=billing,
                customer=CustomerInfo(id=n, name="Buyer", group=group, payment_term=term),
                customer_user=CustomerUserInfo(id=n, email=rng.choice(["a@acme.example", "b@globex.example"])),
            )
        )
    return result


def main() -> None:
    # A twentieth of the contexts have no billing address, which some conditions read: those rules are skipped
    # and logged, as designed; the log lines would drown the figures.
    logging.getLogger("payment_rules.matching").setLevel(logging.ERROR)
    rng = random.Random(20261123)  # noqa: S311 - reproducible load, not security
    original = scratch_database()
    try:
        run(rng)
    finally:
        connection.creation.destroy_test_db(original, verbosity=0)


def run(rng: random.Random) -> None:
    started = time.perf_counter()
    build(rng)
    print(f"built {RULES} rules on {connection.vendor} in {time.perf_counter() - started:.1f} s")
    samples = contexts(rng)
    started = time.perf_counter()
    applicable_methods(samples[0])
    print(f"cold resolution (compile the rule set): {(time.perf_counter() - started) * 1000:.1f} ms")
    for context in samples[:500]:  # warm every (currency, country) index
        applicable_methods(context)
    timings, offered = [], 0
    for context in samples:
        t0 = time.perf_counter_ns()
        offered += len(applicable_methods(context))
        timings.append(time.perf_counter_ns() - t0)
    with CaptureQueriesContext(connection) as queries:
        applicable_methods(samples[1])
    timings.sort()
    print(f"{CONTEXTS} contexts, {offered / CONTEXTS:.2f} methods offered on average")
    p99 = timings[int(len(timings) * 0.99)] / 1e6
    print(f"median {statistics.median(timings) / 1e6:.3f} ms, p99 {p99:.3f} ms (goal < 2 ms)")
    print(f"SQL queries per warm resolution: {len(queries)} (goal 1)")


if __name__ == "__main__":
    main()
