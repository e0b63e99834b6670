"""Attacks on the rule engine of issue 14: conditions an administrator can save that stall a checkout, and
sequences of deactivating, activating and deleting integrations that leave buyers without a method.

Each test says in its docstring what went wrong before its fix. Costs are asserted in steps, never in time.
"""

from __future__ import annotations

from decimal import Decimal

from payment_rules.expression import compile_expression, values

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
