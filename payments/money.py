"""Moved to `core.money`; these names stay importable from here while payments/ and backoffice/ are reworked.

New code imports `core.money`.
"""

from core.money import (
    AMOUNT_MAX_INTEGER_DIGITS,
    Money,
    MoneyError,
    currency_exponent,
    current_locale,
    decimal_symbol,
    ensure_exact,
    format_amount_input,
    format_money,
    parse_amount,
    quantize,
    validate_currency,
)

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
