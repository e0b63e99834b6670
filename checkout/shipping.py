"""Shipping methods the storefront offers. A flat rate is enough for a checkout to have something to choose."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from core.money import quantize


@dataclass(frozen=True, slots=True)
class ShippingMethod:
    key: str
    label: str
    amount: Decimal  # in the cart's currency

    def amount_in(self, currency: str) -> Decimal:
        return quantize(self.amount, currency)


SHIPPING_METHODS: dict[str, ShippingMethod] = {
    method.key: method for method in [ShippingMethod("flat_rate", "Flat rate", Decimal("15.00"))]
}


def shipping_amount(key: str, currency: str) -> Decimal:
    """The charge of a chosen method (zero before one is chosen)."""
    method = SHIPPING_METHODS.get(key)
    return method.amount_in(currency) if method and currency else Decimal("0")
