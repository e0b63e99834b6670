"""Money helpers on top of `providers.base.Money`: currency checks, quantizing and strict input parsing.

`parse_amount` is the one parser of amounts that people type or clients send: the back-office forms, the
storefront and the API all call it, so `1e100`, `1_000`, full-width digits or `NaN` mean the same thing (a
refusal with a message fit to show) everywhere, and nothing reaches a service that the currency cannot hold.
"""

from __future__ import annotations

import re
from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, get_decimal_symbol, is_currency
from django.conf import settings
from django.utils.translation import get_language, to_locale

from providers.base import Money, currency_exponent

__all__ = [
    "AMOUNT_MAX_INTEGER_DIGITS",
    "Money",
    "MoneyError",
    "currency_exponent",
    "current_locale",
    "decimal_symbol",
    "ensure_exact",
    "format_amount_input",
    "format_money",
    "parse_amount",
    "quantize",
    "validate_currency",
]

#: ledger amounts are DecimalField(max_digits=20, decimal_places=4): sixteen digits before the point
AMOUNT_MAX_INTEGER_DIGITS = 16
_SHOWN = 40  # how much of a refused input a message repeats

_PLAIN = re.compile(r"(?P<units>[0-9]*)(?:(?P<point>[.,])(?P<fraction>[0-9]*))?", re.ASCII)


class MoneyError(ValueError):
    """Input that is not a valid amount for its currency. The message is fit to show to a user."""


def validate_currency(currency: str) -> str:
    code = (currency or "").strip().upper()
    if len(code) != 3 or not is_currency(code):
        raise MoneyError(f"{currency!r} is not an ISO 4217 currency code.")
    return code


def quantize(amount: Decimal, currency: str) -> Decimal:
    """Round a computed amount to the currency's minor unit (half up), e.g. for a line total or tax."""
    return amount.quantize(Decimal(1).scaleb(-currency_exponent(currency)), rounding=ROUND_HALF_UP)


def _places(currency: str) -> str:
    exponent = currency_exponent(currency)
    return "no decimal places" if exponent == 0 else f"at most {exponent} decimal places"


def ensure_exact(amount: Decimal, currency: str) -> Decimal:
    """`amount` quantized to the currency, or MoneyError when that would change it (10.005 USD, 5.5 JPY)."""
    if not amount.is_finite():
        raise MoneyError("This is not an amount.")
    exact = quantize(amount, currency)
    if exact != amount:
        raise MoneyError(f"{currency} amounts have {_places(currency)}; {amount.normalize():f} has more.")
    return exact


def decimal_symbol(locale: str | None) -> str:
    """The decimal separator people type in `locale` (None: the API's "."); "." for anything babel cannot read."""
    if not locale:
        return "."
    try:
        symbol = get_decimal_symbol(locale.replace("-", "_"))
    except (ValueError, LookupError, TypeError):
        return "."
    return symbol if symbol in (".", ",") else "."


def parse_amount(value: object, currency: str, locale: str | None = None) -> Money:
    """An amount typed by a person (in `locale`) or sent by a client (locale None: "." as the decimal point).

    Accepted: the digits 0-9, at most one decimal separator (the locale's), at most the currency's places,
    at most sixteen digits before the separator, surrounding spaces. Refused with a message, never rounded:
    signs, exponents (`1e100`), underscores (`1_0`), thousands separators, digits of other scripts
    (full-width `１０`), NaN and Infinity, floats (0.1 + 0.2 is not money). Decimal and int values from code
    are held to the same limits.
    """
    currency = validate_currency(currency)
    if isinstance(value, bool) or isinstance(value, float):
        raise MoneyError("Amounts must be given as decimal strings, not floating-point numbers.")
    if isinstance(value, int):
        value = Decimal(value)
    if isinstance(value, Decimal):
        if not value.is_finite():
            raise MoneyError(f"{value} is not an amount.")
        if value < 0:
            raise MoneyError("Enter the amount without a sign.")
        if value.adjusted() >= AMOUNT_MAX_INTEGER_DIGITS:
            raise MoneyError("This amount is too large.")
        return Money(ensure_exact(value, currency), currency)
    if not isinstance(value, str):
        raise MoneyError("This is not an amount.")
    return Money(_parse_text(value.strip(), currency, decimal_symbol(locale)), currency)


def _parse_text(text: str, currency: str, symbol: str) -> Decimal:
    shown = text if len(text) <= _SHOWN else f"{text[:_SHOWN]}…"
    example = f"24{symbol}50" if currency_exponent(currency) else "2450"
    if not text:
        raise MoneyError("An empty value is not an amount. Enter one, for example " + example + ".")
    if not text.isascii():
        raise MoneyError(f"“{shown}” is not an amount: use the digits 0-9, for example {example}.")
    if text[0] in "+-":
        raise MoneyError(f"“{shown}” is not an amount: enter it without a sign, for example {example}.")
    match = _PLAIN.fullmatch(text)
    if match is None or not (match["units"] or match["fraction"]):
        raise MoneyError(f"“{shown}” is not an amount: use digits and at most one “{symbol}”, for example {example}.")
    if match["point"] and match["point"] != symbol:
        raise MoneyError(
            f"“{shown}” is not an amount: use “{symbol}” as the decimal separator and no thousands "
            f"separators, for example {example}."
        )
    units = match["units"].lstrip("0")
    if len(units) > AMOUNT_MAX_INTEGER_DIGITS:
        raise MoneyError(f"“{shown}” is too large for an amount.")
    fraction = (match["fraction"] or "").rstrip("0")
    if len(fraction) > currency_exponent(currency):
        raise MoneyError(f"{currency} amounts have {_places(currency)}; {shown} has more.")
    try:
        amount = Decimal(f"{units or '0'}.{fraction or '0'}")
    except InvalidOperation as exc:  # cannot happen after the pattern; kept so no parser error escapes
        raise MoneyError(f"“{shown}” is not an amount.") from exc
    return quantize(amount, currency)


def format_amount_input(amount: Decimal, currency: str, locale: str | None = None) -> str:
    """An amount as `parse_amount` reads it back in `locale` (the initial value of an amount field)."""
    return f"{quantize(amount, currency):f}".replace(".", decimal_symbol(locale))


def current_locale() -> str:
    """The locale of the request being served (its language), in babel's spelling: "en", "de", "fr"."""
    return to_locale(get_language() or settings.LANGUAGE_CODE)


def format_money(money: Money, locale: str | None = None) -> str:
    """The one way amounts are shown ("$352.00", "352,00 $" in German, "¥352", "KWD 1.250"): babel's currency
    pattern for `locale` (default: the active language), at the currency's own precision, so a ledger amount
    stored with four places never shows them and no page prints "352 USD"."""
    return format_currency(quantize(money.amount, money.currency), money.currency, locale=locale or current_locale())
