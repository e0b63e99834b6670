"""Money helpers on top of `providers.base.Money`: currency checks, quantizing and strict input parsing."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal, InvalidOperation

from babel.numbers import format_currency, is_currency

from providers.base import Money, currency_exponent

__all__ = [
    "Money",
    "MoneyError",
    "currency_exponent",
    "format_money",
    "parse_amount",
    "quantize",
    "validate_currency",
]


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


def parse_amount(value: object, currency: str) -> Money:
    """An amount typed by a person or sent by a client, refused (not rounded) when it is not exact.

    Floats are refused outright: 0.1 + 0.2 is not money.
    """
    currency = validate_currency(currency)
    if isinstance(value, float):
        raise MoneyError("Amounts must be given as decimal strings, not floating-point numbers.")
    try:
        amount = Decimal(str(value).strip())
    except (InvalidOperation, ValueError) as exc:
        raise MoneyError(f"{value!r} is not an amount.") from exc
    if not amount.is_finite():
        raise MoneyError(f"{value!r} is not an amount.")
    exponent = currency_exponent(currency)
    if amount != amount.quantize(Decimal(1).scaleb(-exponent), rounding=ROUND_HALF_UP):
        places = "no decimal places" if exponent == 0 else f"at most {exponent} decimal places"
        raise MoneyError(f"{currency} amounts have {places}; {value} has more.")
    return Money(quantize(amount, currency), currency)


def format_money(money: Money, locale: str = "en_US") -> str:
    return format_currency(money.amount, money.currency, locale=locale)
