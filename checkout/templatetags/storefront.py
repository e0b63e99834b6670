"""Template helpers of the storefront: money in the buyer's language (babel), labels of statuses."""

from __future__ import annotations

from decimal import Decimal

from babel.numbers import format_currency
from django import template
from django.utils.translation import get_language, to_locale

from core.money import quantize
from core.status import PaymentStatus

register = template.Library()


@register.filter
def money(amount: Decimal | None, currency: str) -> str:
    """`{{ line.amount|money:"USD" }}` → "$1,250.00" (the currency's own precision, the page's locale)."""
    if amount is None or not currency:
        return ""
    locale = to_locale(get_language() or "en")
    return format_currency(quantize(Decimal(amount), currency), currency, locale=locale)


@register.filter
def payment_status_label(status: str) -> str:
    try:
        return PaymentStatus(status).label
    except ValueError:
        return status
