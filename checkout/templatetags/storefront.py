"""Template helpers of the storefront: money in the buyer's language (babel)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from core.money import Money, current_locale, format_money, quantize

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """`{{ line.amount|money:"USD" }}` → "$1,250.00" (the currency's own precision, the page's locale)."""
    if amount is None or not currency:
        return ""
    return format_money(Money(quantize(Decimal(amount), currency), currency), current_locale())
