"""Attacks on the rule engine of issue 14: conditions an administrator can save that stall a checkout, and
sequences of deactivating, activating and deleting integrations that leave buyers without a method.

Each test says in its docstring what went wrong before its fix. Costs are asserted in steps, never in time.
"""

from __future__ import annotations

from decimal import Decimal

import pytest

from payment_rules.expression import (
    ExpressionBudgetExceeded,
    ExpressionRuntimeError,
    ExpressionSyntaxError,
    compile_expression,
    validate_expression,
    values,
)

# --- numbers that turn into huge integers ---------------------------------------------------------------------


def test_a_hash_key_beyond_64_bit_integers_stays_a_number() -> None:
    """PHP normalises integral array keys to integers; the engine did it with Python's unbounded ``int``, so
    ``{1e999999: 1} == {1: 1}`` (nine steps, accepted at save) built a million-digit integer and ran for 73 s,
    and ``1e9999999`` for longer than anyone waited. Keys beyond 64-bit integers must stay numbers."""
    assert type(values._array_key(Decimal("1e30"))) is Decimal
    assert type(values._array_key(Decimal("-1e30"))) is Decimal
    assert values._array_key(Decimal("42")) == 42
    assert type(values._array_key(Decimal("42"))) is int
    compiled = compile_expression("{1e30: 'a'} == {1e30: 'a'} and {1e30: 'a'}[1e30] = 'a' and {1e30: 1} != {1: 1}")
    assert compiled.evaluate({}) is True


# --- regular expressions that RE2 runs slowly -------------------------------------------------------------------

#: RE2 matches in linear time, but linear in the subject times the size of the compiled pattern, and a counted
#: repetition compiles to a copy per count: this one is 8,000 instructions, and on a 1,000-character string it took
#: 350 ms (10,000 characters: 1.9 s) while costing 10 steps of the budget.
HUGE_PROGRAM = "/^(\\\\w+\\\\s?){1000}$/"
#: 306 instructions; a random a/b string defeats RE2's DFA cache, and the NFA fallback took 0.5 s on 100,000
#: characters for 1,000 steps.
DFA_BUSTER = "/a[ab]{300}c/"


def ab_string(length: int) -> str:
    """A deterministic string of a and b without long runs of either."""
    return "".join("ab"[(n * n + n // 7) % 2] for n in range(length))


@pytest.mark.parametrize("pattern", [HUGE_PROGRAM, "/^[\\\\p{L} .,-]{1,100}$/u", "/^.{1,255}$/u"])
def test_a_pattern_that_compiles_to_a_huge_program_is_refused_at_save(pattern: str) -> None:
    """Counted repetitions made RE2 programs of thousands of instructions; the save check let them through, and
    each match cost the checkout up to seconds. They are refused with what to write instead."""
    with pytest.raises(ExpressionSyntaxError, match="too complex") as error:
        validate_expression(f"billingAddress.street matches '{pattern}'")
    assert "+ or *" in error.value.reason


def test_a_huge_pattern_from_a_variable_is_a_runtime_error() -> None:
    """A pattern built at run time cannot be checked at save; it must fail (and its rule be skipped), not run."""
    compiled = compile_expression("street matches pattern")
    with pytest.raises(ExpressionRuntimeError, match="too complex"):
        compiled.evaluate({"street": "Main Street 5", "pattern": HUGE_PROGRAM.replace("\\\\", "\\")})


def test_a_match_is_charged_for_the_size_of_the_pattern_not_only_the_subject() -> None:
    """The budget charged a match one step per 100 characters whatever the pattern, so a mid-sized pattern on a
    long subject ran far longer than the steps it was charged. The budget now stops it before it runs."""
    compiled = compile_expression("street matches pattern")
    subject = ab_string(100_000)
    with pytest.raises(ExpressionBudgetExceeded):
        compiled.measure({"street": subject, "pattern": DFA_BUSTER})
    small = compiled.measure({"street": subject[:1000], "pattern": "/^ab/"})[1]
    large = compiled.measure({"street": subject[:1000], "pattern": DFA_BUSTER})[1]
    assert large > 20 * small  # 306 instructions against 5


def test_a_mid_sized_pattern_over_every_line_is_refused_at_save() -> None:
    """The save-time estimate assumed every match costs 10 steps; over a large cart a pattern of 900 instructions
    is far beyond the budget, yet was accepted."""
    with pytest.raises(ExpressionSyntaxError, match="on a large cart"):
        validate_expression("lineItems.any(lineItem.name matches '/\\\\w{300}c/')")
    # everyday patterns over every line, and over every stock level of every line, still fit
    validate_expression("lineItems.any(lineItem.sku matches '/^(BOLT|NUT)-M[0-9]+$/')")
    validate_expression(
        "lineItems.all(lineItem.product.inventoryLevels.any(inventoryLevel.warehouse.name matches "
        "'/^(Chicago|Rotterdam) Warehouse$/i'))"
    )
