"""A copied rule gives the reference's answer: the reference's parser and PHP 8's comparison rules (issue 14,
item 5). The first table is the reference's own test data (oroinc/platform, Oro ExpressionLanguage's
ExpressionLanguageTest::evaluateDataProvider) with its expected answers."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from payment_rules.expression import (
    DIFFERENCES,
    ExpressionRuntimeError,
    ExpressionSyntaxError,
    compile_expression,
    validate_expression,
)

REFERENCE_VALUES: dict[str, Any] = {
    "a": Decimal(42),
    "b": Decimal(4242),
    "c": "4242",
    "d": [Decimal(42), Decimal(4242)],
    "e": Decimal("42.42"),
    "array": {"key": Decimal(4242)},
    "items": [{"value": Decimal(42)}, {"value": Decimal(4242)}],
    "complexItems": [{"values": [{"number": {"i": Decimal(42)}}, {"number": {"i": Decimal(4242)}}]}],
}


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 1", Decimal(2)),
        ("a + b", Decimal(4284)),
        ("a = b", False),
        ("b = c", False),
        ("a = 42", True),
        ("a == 42", True),
        ('a = "42"', False),
        ('a == "42"', True),
        ('b = "4242"', False),
        ('b == "4242"', True),
        ("a != b", True),
        ("b != c", True),
        ("a == b", False),
        ("b == c", True),
        ("e = 42.42", True),
        ("e == 42.42", True),
        ('e = "42.42"', False),
        ('e == "42.42"', True),
        ("a in d", True),
        ("c in d", False),
        ("a not in d", False),
        ("c not in d", True),
        ('array["key"]', Decimal(4242)),
        ("items.all(item.value > 0)", True),
        ("items.all(item.value > 42)", False),
        ("items.any(item.value > 0)", True),
        ("items.any(item.value > 42)", True),
        ("items.any(item.value > 4242)", False),
        ("items.any(item.value = 42)", True),
        ("items.sum(item.value)", Decimal(4284)),
        ('complexItems.any(complexItem.values.all(value.sum(value.number["i"]) > 0) == true)', True),
        ("items.sum(item.value > 42 ? 2 : 1)", Decimal(3)),
    ],
)
def test_the_reference_test_data_gives_the_reference_answers(source: str, expected: Any) -> None:
    assert compile_expression(source).evaluate(REFERENCE_VALUES) == expected


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        # `a ? b` without `:` is `a ? b : null` (the reference's parseConditionalExpression)
        ("true ? 'yes'", "yes"),
        ("false ? 'yes'", None),
        ("(false ? 'yes') = null", True),
        ("true ? false ? 'x' : 'y'", "y"),  # the innermost `?` takes the `:`
        ("false ? false ? 'x' : 'y'", None),
        # `==` is PHP 8's loose equality
        ("'1' == 1", True),
        ("'1' = 1", False),
        ("'1e1' == '10'", True),
        ("' 1' == 1", True),
        ("'abc' == 0", False),  # PHP 8: a non-numeric string is compared as a string
        ("null == false", True),
        ("null == 0", True),
        ("null == ''", True),
        ("'0' == false", True),
        ("[1, 2] == ['1', '2']", True),
        # ordering: numeric strings compare as numbers, other strings byte by byte
        ("'10' > '9'", True),
        ("'10' < '9a'", True),
        ("'abc' < 'abd'", True),
        ("'Z' < 'a'", True),
        ("10 > '9'", True),
        ("10 < 'abc'", True),  # PHP 8: '10' < 'abc'
        # null and booleans compare as booleans
        ("null < 1", True),
        ("null < 0", False),
        ("null >= 0", True),
        ("null < 'a'", True),  # null is '' against a string
        ("true > false", True),
        # arrays: fewer elements is smaller, then element by element; an array is above any scalar
        ("[1, 2] < [1, 3]", True),
        ("[5] < [1, 1]", True),
        ("[1] > 100", True),
        # null and booleans are 0 and 1 in arithmetic
        ("null + 1", Decimal(1)),
        ("true + true", Decimal(2)),
    ],
)
def test_php_semantics_the_reference_runs_on(source: str, expected: Any) -> None:
    assert compile_expression(source).evaluate({}) == expected


@pytest.mark.parametrize(
    ("source", "variables"),
    [
        ("'x' in name", {"name": "xyz"}),
        ("'x' not in name", {"name": "xyz"}),
        ("'x' in 'xyz'", {}),
        ("1 in null", {}),
    ],
)
def test_in_needs_an_array_as_in_the_reference(source: str, variables: dict[str, Any]) -> None:
    # the reference calls in_array(), which throws on a string: the rule is skipped, never a silent substring test
    with pytest.raises(ExpressionRuntimeError, match="'in' needs an array on its right"):
        compile_expression(source).evaluate(variables)


def test_in_on_a_string_field_is_refused_at_save() -> None:
    with pytest.raises(ExpressionSyntaxError, match="'in' needs a list on its right; customer.name is a string"):
        validate_expression("'ACME' in customer.name")


@pytest.mark.parametrize(
    "source",
    ["'abc' + 1", "[1] * 2", "customer * 2"],
)
def test_arithmetic_on_what_php_refuses_is_an_error(source: str) -> None:
    with pytest.raises(ExpressionRuntimeError, match="needs numbers"):
        compile_expression(source).evaluate({"customer": {"a": 1}})


def test_deliberate_differences_are_listed_for_the_rule_form() -> None:
    text = " ".join(DIFFERENCES)
    for topic in ("1 = 1.0", "subtotal > 1000", "refused when the rule is saved", "RE2", "steps", "contains"):
        assert topic in text
