"""Stripe's wire: the pinned API version, Stripe's own minor units, and readers of the shapes Stripe's objects
come in (an id or an expanded object, amounts in minor units, our key in metadata)."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal
from typing import Any, TypeGuard

import stripe

from providers.base import Money, currency_exponent

#: the API version this adapter is written for; sent on every request whatever the SDK's own default
API_VERSION = "2026-10-28.endive"

METADATA_KEY = "paydesk_key"  # our idempotency key, kept on PaymentIntents and refunds for matching
CUSTOMER_METADATA_KEY = "paydesk_customer"  # our customer (company) id on the Customer made for it

# --- Stripe's minor units (docs.stripe.com/currencies) -------------------------------------------------------

#: amounts in whole units
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
#: three decimals, of which Stripe requires the last to be 0
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
#: two decimals on the wire but whole units only (Stripe's "special cases": ISK since April 2023)
WHOLE_UNITS_ONLY = frozenset({"ISK"})
#: Stripe's smallest amounts per currency, in its minor units; others: 1
MINIMUM_AMOUNT = {"USD": 50, "EUR": 50, "GBP": 30, "CHF": 50, "CAD": 50, "AUD": 50, "JPY": 50, "HUF": 17500}
MAXIMUM_AMOUNT = 99_999_999


def stripe_exponent(currency: str) -> int:
    """Decimals of Stripe's `amount` for a currency (ISO code)."""
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def to_stripe(money: Money) -> int:
    """An amount in Stripe's minor units; ValueError for one Stripe cannot take in that currency."""
    minor = money.amount.scaleb(stripe_exponent(money.currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{money} has more places than Stripe takes in {money.currency}")
    value = int(minor)
    if money.currency in THREE_DECIMAL and value % 10:
        raise ValueError(f"{money}: Stripe requires the last of three decimals to be 0")
    if money.currency in WHOLE_UNITS_ONLY and value % 100:
        raise ValueError(f"{money}: Stripe takes whole units only in {money.currency}")
    return value


def from_stripe(value: int, currency: str) -> Money:
    """Stripe's minor units back into an amount, at the currency's own precision where that is exact."""
    amount = Decimal(int(value)).scaleb(-stripe_exponent(currency))
    ours = Decimal(1).scaleb(-currency_exponent(currency))
    exact = amount.quantize(ours)
    return Money(exact if exact == amount else amount, currency)


def body(exc: stripe.StripeError) -> dict[str, Any]:
    """Stripe's JSON error body, {} when there is none."""
    return exc.json_body if isinstance(exc.json_body, dict) else {}


def minor(obj: Mapping[str, Any], name: str) -> int:
    """An amount field in minor units; ValueError when it is not an integer."""
    value = obj.get(name)
    if not is_int(value):
        raise ValueError(f"{name} is not an integer")
    return int(value)


def is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def id_of(value: Any) -> str | None:
    """An object's id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def required_id(obj: Mapping[str, Any]) -> str:
    found = id_of(obj.get("id"))
    if found is None:
        raise ValueError("object has no id")
    return found


def metadata_key(obj: Mapping[str, Any]) -> str | None:
    """Our idempotency key as kept in an object's metadata, None when it has none."""
    metadata = obj.get("metadata")
    value = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None
