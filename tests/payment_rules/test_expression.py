"""The payment-rule expression language (no Django, no database)."""

from __future__ import annotations

import copy
import pickle
from decimal import Decimal
from typing import Any

import pytest

from payment_rules.expression import (
    MAX_DEPTH,
    MAX_SOURCE_LENGTH,
    CompiledExpression,
    ExpressionRuntimeError,
    ExpressionSyntaxError,
    MoneyObj,
    Obj,
    build_variables,
    compile_expression,
    item_name,
    validate_expression,
)
from providers.base import (
    AddressInfo,
    CheckoutContext,
    CustomerGroupInfo,
    CustomerInfo,
    CustomerUserInfo,
    Dimensions,
    LineItemInfo,
    Money,
    PaymentTermInfo,
    Weight,
)


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def make_context(**overrides: Any) -> CheckoutContext:
    values: dict[str, Any] = {
        "currency": "USD",
        "subtotal": usd("1200.00"),
        "total": usd("1290.50"),
        "line_items": (
            LineItemInfo(
                "SKU-1",
                "Widget",
                Decimal("3"),
                usd("100.00"),
                product_id=11,
                category_id=4,
                category_name="Fasteners",
                weight=Weight(Decimal("2.5"), "kg"),
                dimensions=Dimensions(Decimal("30"), Decimal("20"), Decimal("10"), "cm"),
            ),
            LineItemInfo(
                "SKU-2",
                "Gadget",
                Decimal("1"),
                usd("900.00"),
                product_id=12,
                unit_code="set",
                weight=Weight(Decimal("10"), "kg"),
            ),
        ),
        "billing_address": AddressInfo(
            country_iso2="US",
            region_code="US-NY",
            region_name="New York",
            postal_code="10001",
            city="New York",
            street="1 Main St",
            street2="Suite 5",
        ),
        "shipping_address": AddressInfo(country_iso2="CA", region_code="CA-QC", city="Montreal"),
        "customer": CustomerInfo(
            1,
            "ACME Corp",
            vat_id="US123",
            group=CustomerGroupInfo(5, "Wholesale", payment_term=PaymentTermInfo(3, "Net 30")),
        ),
        "customer_user": CustomerUserInfo(7, "buyer@Example.com", "Jane", "Doe"),
    }
    values.update(overrides)
    return CheckoutContext(**values)


def run(source: str, variables: dict[str, Any] | None = None) -> Any:
    return compile_expression(source).evaluate(build_variables(make_context()) if variables is None else variables)


def syntax_error(source: str) -> ExpressionSyntaxError:
    with pytest.raises(ExpressionSyntaxError) as info:
        compile_expression(source)
    return info.value


def runtime_error(source: str, variables: dict[str, Any] | None = None) -> ExpressionRuntimeError:
    compiled = compile_expression(source)
    with pytest.raises(ExpressionRuntimeError) as info:
        compiled.evaluate(build_variables(make_context()) if variables is None else variables)
    return info.value


# --- the examples of the reference (domain.md 4.3) -----------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("total < 99999", True),
        ("total > 99999", False),
        ("billingAddress.countryIso2 = 'US' and subtotal.value > 1000.0", True),
        ("billingAddress.countryIso2 = 'US' and subtotal.value > 1200.0", False),
        ("lineItems.sum(lineItem.weight.value * lineItem.quantity)", Decimal("17.5")),
        ("lineItems.all(lineItem.product.inventoryLevels.any(inventoryLevel.quantity > 0))", False),
        ('customerUser and customerUser.email = ""', False),
        ("lineItems.any(lineItem.quantity != 1.0)", True),
        ("lineItems.all(lineItem.quantity != 1.0)", False),
        ("customer.group.name = 'Wholesale'", True),
        ("customer.payment_term_7c4f1e8e.label = 'Net 30'", True),
        ("count(lineItems) >= 2", True),
        ("count(lineItems) >= 3", False),
        ("'ACME' ~ ' Corp' = 'ACME Corp'", True),
        ("customerUser.email matches '/@example\\\\.com$/i'", True),
        ("billingAddress.countryIso2 in ['US', 'CA']", True),
        ("billingAddress.countryIso2 not in ['US']", False),
        ("shippingAddress.countryIso2 not in ['US']", True),
        ("2 in 1..3", True),
        ("4 in 1..3", False),
        ("count(lineItems) in 1..3", True),
        ("count(lineItems) not in 1..3", False),
    ],
)
def test_reference_examples(source: str, expected: Any) -> None:
    assert run(source) == expected
    assert type(run(source)) is type(expected)


def test_unknown_variable_compiles_but_fails_at_evaluation() -> None:
    # validate_expression refuses it at save (tests/payment_rules/test_checks.py); a rule saved before that
    # still compiles, and fails at evaluation so that only its rule is skipped
    error = runtime_error("account = 1")
    assert "Unknown variable 'account'" in str(error)
    assert error.position == 0


def test_guest_checkout_guard_short_circuits() -> None:
    variables = build_variables(make_context(customer_user=None))
    assert run('customerUser and customerUser.email = ""', variables) is False
    assert run("not customerUser or customerUser.email = 'x'", variables) is True
    with pytest.raises(ExpressionRuntimeError, match="null"):
        compile_expression('customerUser.email = ""').evaluate(variables)


def test_inventory_levels_nested_collections() -> None:
    level = Obj(quantity=Decimal("5"))
    empty = Obj(quantity=Decimal("0"))
    items = [
        Obj(product=Obj(inventoryLevels=[empty, level])),
        Obj(product=Obj(inventoryLevels=[level])),
    ]
    source = "lineItems.all(lineItem.product.inventoryLevels.any(inventoryLevel.quantity > 0))"
    assert run(source, {"lineItems": items}) is True
    items.append(Obj(product=Obj(inventoryLevels=[empty])))
    assert run(source, {"lineItems": items}) is False


# --- precedence and associativity ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1 + 2 * 3 = 7", True),
        ("(1 + 2) * 3", Decimal("9")),
        ("not true or true", True),
        ("not (true or true)", False),
        ("! false and false", False),
        ("true or false and false", True),
        ("(true or false) and false", False),
        ("1 + 2 ~ 3", Decimal("24")),  # ~ (40) binds tighter than + (30): 1 + '23'
        ("(1 + 2) ~ 3", "33"),
        ("'a' ~ 'b' = 'ab'", True),
        ("10 - 2 - 3", Decimal("5")),
        ("2 ** 3 ** 2", Decimal("512")),  # right associative
        ("-2 ** 2", Decimal("4")),  # unary minus (500) binds tighter than ** (200), as in Symfony
        ("2 * 3 ** 2", Decimal("18")),
        ("12 / 3 / 2", Decimal("2")),
        ("7 % 3 * 2", Decimal("2")),
        ("not 0 ~ 'x'", "1x"),  # (not 0) ~ 'x': not (50) binds tighter than ~ (40)
        ("2 in 1 + 1 .. 3", True),  # .. (25) below + (30), in (20) below ..
        ("1 in 0..2 = true", True),  # same level, left associative
        ("1 < 2 and 2 < 3", True),
        ("true ? 'yes' : 'no'", "yes"),
        ("false ? 'yes' : true ? 'inner' : 'no'", "inner"),
        ("null ?: 'fallback'", "fallback"),
        ("5 | 2", Decimal("7")),
        ("6 & 3", Decimal("2")),
        ("6 ^ 3", Decimal("5")),
        ("1 || 0 && 0", True),
    ],
)
def test_precedence(source: str, expected: Any) -> None:
    assert run(source, {}) == expected


def test_not_binds_looser_than_multiplication_but_tighter_than_addition() -> None:
    # Symfony: unary "not" has precedence 50: it takes "a * b" but not "a + b".
    assert run("not a * b", {"a": Decimal("2"), "b": Decimal("0")}) is True
    assert run("not a ~ 'x'", {"a": True}) == "x"  # (not a) ~ 'x' = '' ~ 'x'


# --- literals and values -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "expected"),
    [
        ("1000.0", Decimal("1000.0")),
        ("99999", Decimal("99999")),
        ("1_000", Decimal("1000")),
        ("1e3", Decimal("1e3")),
        ("'single'", "single"),
        ('"double"', "double"),
        ("'it\\'s'", "it's"),
        ('"a\\tb\\n"', "a\tb\n"),
        ("'\\x41\\101'", "AA"),
        ("true", True),
        ("TRUE", True),
        ("False", False),
        ("NULL", None),
        ("[1, 'a']", [Decimal("1"), "a"]),
        ("[1, 2,]", [Decimal("1"), Decimal("2")]),
        ("[]", []),
        ("{a: 1, 'b': 2, (1 + 1): 3}", {"a": Decimal("1"), "b": Decimal("2"), Decimal("2"): Decimal("3")}),
        ("{a: 1}.a", Decimal("1")),
        ("[10, 20][1]", Decimal("20")),
        ("[10, 20][5]", None),
    ],
)
def test_literals(source: str, expected: Any) -> None:
    assert run(source, {}) == expected


def test_numbers_are_decimal_never_float() -> None:
    assert type(run("1.5", {})) is Decimal
    assert run("0.1 + 0.2 = 0.3", {}) is True
    assert run("0.1 + 0.2", {}) == Decimal("0.3")
    assert run("10 / 4", {}) == Decimal("2.5")
    assert run("10.15 * 3", {}) == Decimal("30.45")
    assert run("subtotal.value * 2") == Decimal("2400.00")
    assert run("price > 10.14", {"price": Decimal("10.15")}) is True
    assert run("quantity = 1", {"quantity": Decimal("1.000")}) is True


def test_money_views_compare_and_compute_by_value() -> None:
    assert run("total < 99999") is True
    assert run("total = 1290.50") is True
    assert run("total > subtotal") is True
    assert run("subtotal.currency = 'USD'") is True
    assert run("subtotal + 10") == Decimal("1210.00")
    assert run("lineItems.sum(lineItem.price * lineItem.quantity)") == Decimal("1200.00")
    assert run("total.value ~ ' ' ~ total.currency") == "1290.5 USD"


def test_strict_equality() -> None:
    assert run("1 = 1.0", {}) is True
    assert run("1 == 1.0", {}) is True
    assert run("1 === 1.0", {}) is True
    assert run("'1' = 1", {}) is False
    assert run("true = 1", {}) is False
    assert run("null = false", {}) is False
    assert run("null = null", {}) is True
    assert run("'a' != 'b'", {}) is True
    assert run("1 !== 1", {}) is False
    assert run("[1, 'a'] = [1.0, 'a']", {}) is True
    assert run("id = 7", {"id": 7}) is True


def test_in_and_not_in() -> None:
    assert run("'US' in ['US', 'CA']", {}) is True
    assert run("'us' in ['US', 'CA']", {}) is False
    assert run("1 in [1.0, 2]", {}) is True
    assert run("'1' in [1, 2]", {}) is False
    assert run("true in [1]", {}) is False
    assert run("2.5 in 1..3", {}) is False
    assert run("3 in 3..1", {}) is True
    assert run("1 in {a: 1}", {}) is True


def test_string_operators() -> None:
    assert run("customer.name starts with 'ACME'") is True
    assert run("customer.name ends with 'Corp'") is True
    assert run("customer.name contains 'ME C'") is True
    assert run("customer.name contains 'acme'") is False


def test_truthiness_is_php_like() -> None:
    compiled = compile_expression("value")
    falsy_values: list[Any] = [None, False, "", "0", Decimal("0.00"), 0, []]
    truthy_values: list[Any] = [True, "a", "0.0", Decimal("0.01"), 1, [0], Obj(a=1)]
    for falsy in falsy_values:
        assert compiled.matches({"value": falsy}) is False
    for truthy in truthy_values:
        assert compiled.matches({"value": truthy}) is True
    assert run("'x' and 1", {}) is True
    assert run("0 or ''", {}) is False


# --- matches -----------------------------------------------------------------------------------------


def test_matches_takes_pcre_literals() -> None:
    assert run("customer.name matches '/^acme/i'") is True
    assert run("customer.name matches '/^acme/'") is False
    assert run("customer.name matches '#corp$#i'") is True
    assert run("customer.name matches '{^ACME}'") is True
    assert run("'a\nb' matches '/^b$/m'") is True
    assert run("'a\nb' matches '/a.b/s'") is True
    assert run("'ab' matches '/a b/x'") is True
    assert run("'2024' matches '/^(?<year>\\\\d{4})$/'") is True


def test_matches_unescapes_like_php_stripcslashes() -> None:
    # In Symfony a backslash inside a string literal is itself an escape: '\\.' is the regex \. (a dot).
    variables = {"email": "buyer@exampleXcom"}
    assert run("email matches '/@example\\\\.com$/'", variables) is False
    assert run("email matches '/@example\\.com$/'", variables) is True  # '\.' is just '.', any character


def test_matches_with_a_dynamic_pattern() -> None:
    assert run("name matches pattern", {"name": "ACME", "pattern": "/^ac/i"}) is True
    with pytest.raises(ExpressionRuntimeError, match="modifier"):
        compile_expression("name matches pattern").evaluate({"name": "ACME", "pattern": "/a/Q"})
    with pytest.raises(ExpressionRuntimeError, match="look-ahead"):
        compile_expression("name matches pattern").evaluate({"name": "a", "pattern": "/(?=a)/"})


@pytest.mark.parametrize(
    ("pattern", "reason"),
    [
        ("abc", "delimiter"),
        ("/abc", "ending delimiter"),
        ("/abc/Z", "modifier"),
        ("/(/", "Invalid regular expression"),
        ("/" + "a" * 600 + "/", "longer than"),
    ],
)
def test_matches_rejects_bad_literals_at_compile_time(pattern: str, reason: str) -> None:
    assert reason in syntax_error(f"name matches '{pattern}'").reason


def test_matches_allows_harmless_repetition() -> None:
    assert run("'ab-ab' matches '/^(ab-?)+$/'", {}) is True  # a repeated group without inner repetition
    assert run("'aaa' matches '/^(?:a)?a+$/'", {}) is True


def test_matches_reads_the_whole_subject() -> None:
    assert run("text matches '/END$/'", {"text": "x" * 999 + "END"}) is True
    assert run("text matches '/^x+END$/'", {"text": "x" * 50_000 + "END"}) is True


# --- collections -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("collection", "item"),
    [
        ("lineItems", "lineItem"),
        ("users", "user"),
        ("inventoryLevels", "inventoryLevel"),
        ("kitItemLineItems", "kitItemLineItem"),
        ("unitPrecisions", "unitPrecision"),
        ("categories", "category"),
        ("addresses", "address"),
        ("boxes", "box"),
        ("statuses", "status"),
        ("data", "dataItem"),
        ("staff", "staffItem"),
        ("item", "itemItem"),
        ("status", "statusItem"),
    ],
)
def test_item_name(collection: str, item: str) -> None:
    assert item_name(collection) == item


def test_collection_methods() -> None:
    variables = {
        "users": [Obj(id=1, email="a@x"), Obj(id=2, email="b@y")],
        "data": [Decimal("1.5"), Decimal("2.5")],
        "empty": [],
    }
    assert run("users.any(user.id = 2)", variables) is True
    assert run("users.all(user.email matches '/@x$/')", variables) is False
    assert run("users.sum(user.id)", variables) == Decimal("3")
    assert run("data.sum(dataItem * 2)", variables) == Decimal("8.0")
    assert run("users.ANY(user.id = 1)", variables) is True
    assert run("empty.any(true)", variables) is False
    assert run("empty.all(false)", variables) is True
    assert run("empty.sum(1)", variables) == Decimal("0")
    assert run("count(users) = 2 and count([]) = 0", variables) is True


def test_collection_item_name_shadows_only_inside_the_method() -> None:
    variables = {"users": [Obj(id=1)], "user": "outer"}
    assert run("users.any(user.id = 1) and user = 'outer'", variables) is True


def test_collection_methods_need_a_named_collection() -> None:
    error = syntax_error("[1, 2].any(true)")
    assert error.position == 7
    assert "Cannot name the items" in error.reason


def test_collection_method_takes_one_argument() -> None:
    assert syntax_error("lineItems.any()").position == 10
    assert syntax_error("lineItems.any(true, false)").position == 10


# --- syntax errors ---------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "position", "fragment"),
    [
        ("subtotal.value >", 16, "Unexpected end of expression"),
        ("(1 + 2", 6, "expected ')'"),
        ("[1, 2", 5, "expected ']'"),
        ("a ==== b", 5, "Unexpected token '='"),
        ("a = 'abc", 4, "Unterminated string"),
        ('a = "abc', 4, "Unterminated string"),
        ("1 + 2)", 5, "Unexpected token ')'"),
        ("a b", 2, "Unexpected token 'b'"),
        ("a # b", 2, "Unexpected character '#'"),
        ("a and and b", 6, "Unexpected keyword 'and'"),
        ("2 * not a", 4, "Unexpected keyword 'not'"),
        ("", 0, "Empty expression"),
        ("   ", 0, "Empty expression"),
    ],
)
def test_syntax_errors_report_the_position(source: str, position: int, fragment: str) -> None:
    error = syntax_error(source)
    assert error.position == position
    assert fragment in str(error)
    assert f"at position {position} (line 1, column {position + 1})" in str(error)


def test_syntax_error_message_format() -> None:
    error = syntax_error("(1 + 2) * 3 + )")
    assert str(error) == "Unexpected token ')' at position 14 (line 1, column 15)"
    assert (error.position, error.line, error.column) == (14, 1, 15)
    assert isinstance(error, ValueError)


def test_syntax_error_line_and_column_on_multiline_source() -> None:
    error = syntax_error("customer.name = 'ACME'\n  and )")
    assert (error.position, error.line, error.column) == (29, 2, 7)


def test_validate_expression() -> None:
    validate_expression("billingAddress.countryIso2 = 'US'")  # no exception
    with pytest.raises(ExpressionSyntaxError):
        validate_expression("billingAddress.countryIso2 =")


def test_limits_on_source_size_and_depth() -> None:
    assert "longer than" in syntax_error("1 + " * MAX_SOURCE_LENGTH + "1").reason
    assert "nested" in syntax_error("-(" * (MAX_DEPTH + 5) + "1" + ")" * (MAX_DEPTH + 5)).reason
    assert run("-(" * 20 + "1" + ")" * 20, {}) == Decimal("1")
    deep_but_fine = " or ".join(f"a = {n}" for n in range(300))  # and/or chains are flattened
    assert run(deep_but_fine, {"a": Decimal("299")}) is True


# --- safety ---------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "position", "fragment"),
    [
        ("__class__", 0, "Forbidden name '__class__'"),
        ("customer.__class__", 9, "Forbidden attribute '__class__'"),
        ("customer._meta", 9, "Forbidden attribute '_meta'"),
        ("customer.save()", 9, "Method 'save' is not allowed"),
        ("customer.group.delete(1)", 15, "Method 'delete' is not allowed"),
        ("lineItems.all(lineItem).__len__", 24, "Forbidden attribute '__len__'"),
        ("lineItems.all(lineItem._x)", 23, "Forbidden attribute '_x'"),
        ("customer['__dict__']", 9, "Forbidden key '__dict__'"),
        ("eval('1')", 0, "The function 'eval' does not exist"),
        ("constant('PHP_EOL')", 0, "The function 'constant' does not exist"),
        ("count(1, 2)", 0, "takes exactly one argument"),
    ],
)
def test_forbidden_access_is_refused_at_compile_time(source: str, position: int, fragment: str) -> None:
    error = syntax_error(source)
    assert fragment in error.reason
    assert error.position == position


def test_attributes_are_read_only_from_view_objects() -> None:
    class Secret:
        password = "hunter2"

    assert "Cannot read attribute 'password'" in str(runtime_error("s.password", {"s": Secret()}))
    assert "Cannot read attribute 'real'" in str(runtime_error("n.real", {"n": 5}))
    assert "Cannot read attribute 'upper'" in str(runtime_error("s.upper", {"s": "abc"}))
    assert "no attribute 'accounts'" in str(runtime_error("customer.accounts"))
    assert run("d.key", {"d": {"key": "value"}}) == "value"
    assert "Invalid key" in str(runtime_error("d[k]", {"d": {"_k": 1}, "k": "_k"}))


def test_view_objects_are_immutable_and_have_no_private_fields() -> None:
    view = Obj(a=1)
    with pytest.raises(AttributeError):
        view.a = 2  # type: ignore[misc]
    with pytest.raises(ValueError, match="invalid field name"):
        Obj(_secret=1)
    assert view.a == 1
    assert view.as_dict() == {"a": 1}
    assert MoneyObj(Decimal("1.00"), "USD").value == Decimal("1.00")
    variables = build_variables(make_context())
    assert copy.deepcopy(variables) == variables
    assert pickle.loads(pickle.dumps(variables)) == variables  # noqa: S301 - our own data


# --- runtime errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("source", "fragment"),
    [
        ("unknown = 1", "Unknown variable 'unknown'"),
        ("shippingOrigin.city = 'X'", "of null"),
        ("customer.group.missing", "has no attribute 'missing'"),
        ("1 / 0", "Division by zero"),
        ("subtotal.value / (count(lineItems) - 2)", "Division by zero"),
        ("5 % 0", "Modulo by zero"),
        ("0 ** -1", "Division by zero"),
        ("2 ** 1000", "Exponent"),
        ("2 ** -101", "Exponent"),
        ("1..1000000000", "more than"),
        ("1 in 1..1000000000", "more than"),
        ("1.5..3", "integer"),
        ("'abc' + 1", "needs numbers"),
        ("customer < 1", "cannot compare"),
        ("[1] ~ 'x'", "cannot turn"),
        ("count(null)", "count() needs an array"),
        ("shippingMethod.any(true)", "Unable to iterate"),
        ("lineItems.sum(lineItem.name)", "needs numbers"),
        ("1 in null", "needs an array"),
        ("1e999999 * 10", "Arithmetic error"),
        ("(-8) ** 0.5", "Arithmetic error"),
        ("lineItems['x']", "must be a number"),
        ("{(null): 1}", "hash key"),
    ],
)
def test_runtime_errors(source: str, fragment: str) -> None:
    error = runtime_error(source)
    assert fragment in str(error)
    assert isinstance(error, ValueError)


def test_string_length_is_capped() -> None:
    assert "longer than" in str(runtime_error("s ~ s ~ s", {"s": "x" * 40_000}))


def test_runtime_error_positions() -> None:
    error = runtime_error("customerUser.email = ''", build_variables(make_context(customer_user=None)))
    assert error.position == 13
    assert "customerUser is null" in str(error)


def test_variables_must_be_a_mapping() -> None:
    with pytest.raises(ExpressionRuntimeError):
        compile_expression("a").evaluate(None)  # type: ignore[arg-type]


# --- compilation ----------------------------------------------------------------------------------------


def test_compile_is_cached_by_source() -> None:
    first = compile_expression("count(lineItems) >= 2")
    assert compile_expression("count(lineItems) >= 2") is first
    assert compile_expression("count(lineItems) >= 3") is not first
    assert isinstance(first, CompiledExpression)
    assert first.source == "count(lineItems) >= 2"


def test_compiled_expression_is_reusable_across_variables() -> None:
    compiled = compile_expression("billingAddress.countryIso2 = 'US'")
    assert compiled.matches(build_variables(make_context())) is True
    assert compiled.matches(build_variables(make_context(billing_address=AddressInfo(country_iso2="DE")))) is False
    with pytest.raises(ExpressionRuntimeError):
        compiled.matches(build_variables(make_context(billing_address=None)))


# --- build_variables ------------------------------------------------------------------------------------


def test_build_variables_keys() -> None:
    variables = build_variables(make_context())
    assert set(variables) == {
        "lineItems",
        "billingAddress",
        "shippingAddress",
        "shippingOrigin",
        "shippingMethod",
        "currency",
        "subtotal",
        "total",
        "customer",
        "customerUser",
    }
    assert variables["currency"] == "USD"
    assert variables["shippingOrigin"] is None
    assert variables["shippingMethod"] is None
    assert variables["subtotal"] == MoneyObj(Decimal("1200.00"), "USD")


def test_build_variables_addresses() -> None:
    variables = build_variables(make_context())
    billing = variables["billingAddress"]
    assert billing.as_dict() == {
        "street": "1 Main St",
        "street2": "Suite 5",
        "city": "New York",
        "regionName": "New York",
        "regionCode": "NY",
        "postalCode": "10001",
        "countryName": "United States",
        "countryIso2": "US",
        "countryIso3": "USA",
        "organization": "",
        "firstName": "",
        "lastName": "",
    }
    shipping = variables["shippingAddress"]
    assert (shipping.countryIso3, shipping.countryName, shipping.regionCode) == ("CAN", "Canada", "QC")
    assert build_variables(make_context(billing_address=None))["billingAddress"] is None


@pytest.mark.parametrize(
    ("iso2", "iso3", "name"),
    [("DE", "DEU", "Germany"), ("GB", "GBR", "United Kingdom"), ("JP", "JPN", "Japan"), ("ZA", "ZAF", "South Africa")],
)
def test_build_variables_country_codes(iso2: str, iso3: str, name: str) -> None:
    address = build_variables(make_context(billing_address=AddressInfo(country_iso2=iso2)))["billingAddress"]
    assert (address.countryIso2, address.countryIso3, address.countryName) == (iso2, iso3, name)


def test_build_variables_line_items() -> None:
    first = build_variables(make_context())["lineItems"][0]
    assert first.sku == "SKU-1"
    assert first.name == "Widget"
    assert first.quantity == Decimal("3")
    assert first.price == MoneyObj(Decimal("100.00"), "USD")
    item_unit = Obj(unit=Obj(code="item"), precision=0, sell=True, conversionRate=Decimal(1))
    assert first.product == Obj(
        id=11,
        sku="SKU-1",
        name="Widget",
        type="simple",
        category=Obj(id=4, name="Fasteners"),
        primaryUnitPrecision=item_unit,
        unitPrecisions=[item_unit],
        inventoryLevels=[],  # no RuleData given: nothing to load them from
    )
    assert first.productUnit == Obj(code="item")
    assert first.weight == Obj(value=Decimal("2.5"), unit=Obj(code="kg"))
    assert first.dimensions == Obj(
        value=Obj(length=Decimal("30"), width=Decimal("20"), height=Decimal("10")), unit=Obj(code="cm")
    )
    assert (first.checksum, first.kitItemLineItems) == ("", [])
    second = build_variables(make_context())["lineItems"][1]
    assert (second.product.category, second.productUnit.code, second.dimensions) == (None, "set", None)


def test_build_variables_customer() -> None:
    customer = build_variables(make_context())["customer"]
    assert (customer.id, customer.name, customer.vatId) == (1, "ACME Corp", "US123")
    assert (customer.group.id, customer.group.name) == (5, "Wholesale")
    assert customer.payment_term_7c4f1e8e == Obj(id=3, label="Net 30")  # resolved from the group
    own_term = CustomerInfo(
        2,
        "Beta",
        group=CustomerGroupInfo(5, "Wholesale", payment_term=PaymentTermInfo(3, "Net 30")),
        payment_term=PaymentTermInfo(4, "Net 60"),
    )
    assert run("customer.payment_term_7c4f1e8e.label", build_variables(make_context(customer=own_term))) == "Net 60"
    no_term = build_variables(make_context(customer=CustomerInfo(3, "Gamma")))["customer"]
    assert no_term.group is None
    assert no_term.payment_term_7c4f1e8e is None
    assert build_variables(make_context(customer=None))["customer"] is None


def test_build_variables_customer_user() -> None:
    user = build_variables(make_context())["customerUser"]
    assert (user.id, user.email, user.firstName, user.lastName, user.fullName) == (
        7,
        "buyer@Example.com",
        "Jane",
        "Doe",
        "Jane Doe",
    )
    assert build_variables(make_context(customer_user=None))["customerUser"] is None
