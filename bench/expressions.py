"""Median time per evaluation of typical payment-rule expressions; the hostile regular expressions of issue 14 on
10,000 characters; how long a condition runs before its step budget stops it.

Run from the project root: ``.venv/bin/python bench/expressions.py``. Needs no Django and no database.
"""

from __future__ import annotations

import statistics
import sys
import time
from collections.abc import Mapping
from decimal import Decimal
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from payment_rules.expression import (  # noqa: E402
    MAX_STEPS,
    CompiledExpression,
    ExpressionBudgetExceeded,
    Obj,
    build_variables,
    compile_expression,
)
from providers.base import (  # noqa: E402
    AddressInfo,
    CheckoutContext,
    CustomerGroupInfo,
    CustomerInfo,
    CustomerUserInfo,
    LineItemInfo,
    Money,
    PaymentTermInfo,
    Weight,
)

EXPRESSIONS = [
    "total < 99999",
    "billingAddress.countryIso2 = 'US' and subtotal.value > 1000.0",
    "billingAddress.countryIso2 in ['US', 'CA'] and customer.group.name = 'Wholesale'",
    'customerUser and customerUser.email = ""',
    "customerUser.email matches '/@example\\\\.com$/i'",
    "count(lineItems) >= 2 and lineItems.any(lineItem.quantity != 1.0)",
    "lineItems.sum(lineItem.weight.value * lineItem.quantity) < 100",
    "lineItems.all(lineItem.product.inventoryLevels.any(inventoryLevel.quantity > 0))",
]

ROUNDS = 15
LOOPS = 2_000


def sample_context(line_count: int = 3) -> CheckoutContext:
    def usd(amount: str) -> Money:
        return Money(Decimal(amount), "USD")

    return CheckoutContext(
        currency="USD",
        subtotal=usd("1200.00"),
        total=usd("1290.50"),
        line_items=[
            LineItemInfo(
                f"SKU-{n}", f"Item {n}", Decimal(n + 1), usd("100.00"), product_id=n, weight=Weight(Decimal(2), "kg")
            )
            for n in range(line_count)
        ],
        billing_address=AddressInfo(country_iso2="US", region_code="US-NY", city="New York", postal_code="10001"),
        customer=CustomerInfo(
            1, "ACME Corp", group=CustomerGroupInfo(5, "Wholesale", payment_term=PaymentTermInfo(3, "Net 30"))
        ),
        customer_user=CustomerUserInfo(7, "buyer@example.com", "Jane", "Doe"),
    )


def median_seconds(fn, rounds: int = ROUNDS, loops: int = LOOPS) -> float:  # noqa: ANN001
    samples = []
    for _ in range(rounds):
        start = time.perf_counter()
        for _ in range(loops):
            fn()
        samples.append((time.perf_counter() - start) / loops)
    return statistics.median(samples)


def main() -> None:
    variables = build_variables(sample_context())
    print(f"median of {ROUNDS} rounds x {LOOPS} evaluations, 3 line items")
    print(f"{'per evaluation':>15}  expression")
    for source in EXPRESSIONS:
        compiled = compile_expression(source)
        compiled.evaluate(variables)  # warm up; also fails loudly on a broken expression
        seconds = median_seconds(lambda compiled=compiled: compiled.evaluate(variables))
        print(f"{seconds * 1e6:12.2f} us  {source}")

    compile_expression.cache_clear()
    source = EXPRESSIONS[1]

    def compile_uncached() -> None:
        compile_expression.cache_clear()
        compile_expression(source)

    seconds = median_seconds(compile_uncached, loops=100)
    print(f"{seconds * 1e6:12.2f} us  compile (uncached): {source}")
    seconds = median_seconds(lambda: build_variables(sample_context()), loops=500)
    print(f"{seconds * 1e6:12.2f} us  build_variables (3 line items, including building the context)")

    print("\nhostile patterns on 10,000 characters (RE2: linear in the subject)")
    for pattern, subject in SLOW_PATTERNS:
        compiled = compile_expression(f"street matches '{pattern}'")
        seconds = median_seconds(lambda c=compiled, s=subject: c.evaluate({"street": s}), rounds=5, loops=20)
        print(f"{seconds * 1e3:12.3f} ms  {pattern}")

    print(f"\nthe step budget ({MAX_STEPS:,} steps): a condition nested 8 deep over 10 lines stops after")
    runaway = compile_expression("lineItems.sum(" * 8 + "lineItem.quantity" + ")" * 8)
    lines = {"lineItems": [Obj(quantity=Decimal(n)) for n in range(10)]}
    seconds = median_seconds(lambda: until_budget(runaway, lines), rounds=3, loops=1)
    print(f"{seconds * 1e3:12.1f} ms  ({seconds / MAX_STEPS * 1e9:.0f} ns per step)")

    print("\nconditions whose cost is in what they compare, on 100 lines (seconds to minutes before they were charged)")
    hundred = {
        "lineItems": [Obj(quantity=Decimal(1), name=f"Hex bolt M{n}") for n in range(100)],
        "street": "".join("ab"[(n * n + n // 7) % 2] for n in range(100_000)),
    }
    for source in COSTLY:
        compiled = compile_expression(source)
        seconds = median_seconds(lambda c=compiled: until_budget(c, hundred), rounds=3, loops=1)
        print(f"{seconds * 1e3:12.1f} ms  {source[:100]}")


def until_budget(compiled: CompiledExpression, variables: Mapping[str, object]) -> None:
    """Evaluate, to the end or until the step budget stops it."""
    try:
        compiled.evaluate(variables)
    except ExpressionBudgetExceeded:
        return


SLOW_PATTERNS = [
    (r"/^\\w+\\s?\\w+\\s?\\w+\\s?\\w+$/", "a" * 10_000 + "!"),
    ("/(a?){25}a{25}/", "a" * 10_000),
    ("/(?x) ( a+ )+ $/", "a" * 10_000 + "!"),
]

#: each stops at the budget or runs within it; before the budget charged comparisons and matches for their size
#: they took 0.5 s, 1.1 s, 14 s and 73 s
COSTLY = [
    "street matches '/a[ab]{300}c/'",
    "lineItems.all({'r': 1..9999}['r'] == {'r': 1..9999}['r'])",
    "lineItems.sum(lineItems.sum('" + "1" * 9_000 + "x' < lineItem.name ? 1 : 1))",
    "{1e999999: 1} == {1: 1}",
]


if __name__ == "__main__":
    main()
