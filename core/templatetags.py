"""The `money` template filter, loaded as `{% load money %}` on back-office pages and e-mails (settings.TEMPLATES)."""

from __future__ import annotations

from decimal import Decimal

from django import template

from core.money import Money, format_money, quantize

register = template.Library()


@register.filter
def money(amount: Decimal | str | None, currency: str) -> str:
    """`{{ line.amount|money:"USD" }}` → "$1,250.00": the currency's own precision, the active language's locale."""
    if amount is None or amount == "" or not currency:
        return ""
    return format_money(Money(quantize(Decimal(amount), currency), currency))
