from decimal import Decimal

import pytest
from django.template import Context, Template
from django.utils import translation

from core.money import MoneyError, format_money, parse_amount, quantize, validate_currency
from providers.base import Money, from_minor, to_minor


@pytest.mark.parametrize(
    ("amount", "currency", "minor"),
    [
        ("10.15", "USD", 1015),
        ("1200", "JPY", 1200),
        ("30.125", "KWD", 30125),
        ("0.001", "KWD", 1),
    ],
)
def test_minor_units_round_trip(amount: str, currency: str, minor: int) -> None:
    money = Money(Decimal(amount), currency)
    assert to_minor(money) == minor
    assert from_minor(minor, currency) == money


@pytest.mark.parametrize(("value", "currency"), [("10.005", "USD"), ("5.5", "JPY"), ("1.0001", "KWD")])
def test_more_places_than_the_currency_has_are_refused_not_rounded(value: str, currency: str) -> None:
    with pytest.raises(MoneyError, match="decimal places"):
        parse_amount(value, currency)
    with pytest.raises(ValueError, match="more places"):
        to_minor(Money(Decimal(value), currency))


def test_floats_are_refused() -> None:
    with pytest.raises(MoneyError, match="floating-point"):
        parse_amount(10.15, "USD")
    with pytest.raises(TypeError):
        Money(10.15, "USD")  # type: ignore[arg-type]


@pytest.mark.parametrize("value", ["abc", "", "NaN", "Infinity"])
def test_garbage_is_not_an_amount(value: str) -> None:
    with pytest.raises(MoneyError, match="not an amount"):
        parse_amount(value, "USD")


def test_unknown_currency_is_refused() -> None:
    with pytest.raises(MoneyError, match="ISO 4217"):
        validate_currency("XYZ")
    assert validate_currency("jpy") == "JPY"


def test_parse_amount_keeps_exact_value() -> None:
    assert parse_amount(" 12.5 ", "USD") == Money(Decimal("12.50"), "USD")
    assert parse_amount("100", "KWD") == Money(Decimal("100.000"), "KWD")


def test_quantize_rounds_half_up_to_the_currency() -> None:
    assert quantize(Decimal("2.345"), "USD") == Decimal("2.35")
    assert quantize(Decimal("2.5"), "JPY") == Decimal("3")
    assert quantize(Decimal("1.2345"), "KWD") == Decimal("1.235")


@pytest.mark.parametrize(
    ("value", "message"),
    [
        ("1e100", "is not an amount"),
        ("1" * 30, "too large"),
        ("1_0", "is not an amount"),
        ("1_000", "is not an amount"),
        ("１０", "digits 0-9"),
        ("١٠", "digits 0-9"),  # Arabic-Indic digits
        ("+10", "without a sign"),
        ("-10", "without a sign"),
        ("NaN", "is not an amount"),
        ("-Infinity", "without a sign"),
        ("sNaN", "is not an amount"),
        ("1,000.00", "is not an amount"),
        ("10..0", "is not an amount"),
        (" ", "empty value"),
    ],
)
def test_typed_amounts_are_parsed_strictly(value: str, message: str) -> None:
    with pytest.raises(MoneyError, match=message):
        parse_amount(value, "USD")


def test_the_decimal_separator_is_the_users_locales() -> None:
    assert parse_amount("24,50", "EUR", "de") == Money(Decimal("24.50"), "EUR")
    assert parse_amount("24.50", "USD", "en") == Money(Decimal("24.50"), "USD")
    assert parse_amount("24.50", "USD") == Money(Decimal("24.50"), "USD")  # the API: "." always
    with pytest.raises(MoneyError, match="“,” as the decimal separator"):
        parse_amount("1.000", "EUR", "de")  # a thousands separator there, a decimal point here: refused
    with pytest.raises(MoneyError, match="“.” as the decimal separator"):
        parse_amount("24,50", "USD", "en")


def test_decimals_from_code_are_held_to_the_same_limits() -> None:
    assert parse_amount(Decimal("10.10"), "USD") == Money(Decimal("10.10"), "USD")
    assert parse_amount(7, "JPY") == Money(Decimal("7"), "JPY")
    for value in (Decimal("1e100"), Decimal("NaN"), Decimal("-1"), Decimal("10.005")):
        with pytest.raises(MoneyError):
            parse_amount(value, "USD")
    with pytest.raises(MoneyError):
        parse_amount(True, "USD")


@pytest.mark.parametrize(
    ("amount", "currency", "locale", "shown"),
    [
        ("352", "USD", "en", "$352.00"),
        ("352", "USD", "de", "352,00\xa0$"),
        ("1250", "JPY", "en", "¥1,250"),
        ("1250", "JPY", "de", "1.250\xa0¥"),
        ("1250.5", "KWD", "en", "KWD1,250.500"),  # CLDR: no space after a code in English
        ("1250.5", "KWD", "de", "1.250,500\xa0KWD"),
        ("33.7500", "EUR", "en", "€33.75"),
        ("33.7500", "EUR", "de", "33,75\xa0€"),
    ],
)
def test_format_money_follows_the_currency_and_the_locale(amount: str, currency: str, locale: str, shown: str) -> None:
    assert format_money(Money(Decimal(amount), currency), locale) == shown


def test_format_money_uses_the_active_language_by_default() -> None:
    with translation.override("de"):
        assert format_money(Money(Decimal("33.7500"), "EUR")) == "33,75\xa0€"
    with translation.override("en"):
        assert format_money(Money(Decimal("352"), "USD")) == "$352.00"


def test_the_money_filter_formats_ledger_amounts_in_the_page_language() -> None:
    page = Template('{% load money %}{{ amount|money:"USD" }}|{{ none|money:"USD" }}')
    with translation.override("en"):
        assert page.render(Context({"amount": Decimal("352.0000"), "none": None})) == "$352.00|"
