"""The dashboard on the admin index: payment figures for users who may see orders."""

from __future__ import annotations

from typing import Any

from django import template
from django.urls import reverse
from django.utils.timesince import timesince

from backoffice.selectors import dashboard
from core.money import Money, format_money, quantize
from core.status import STATUS_COLOURS, UNKNOWN_STATUS_COLOUR

register = template.Library()


@register.inclusion_tag("admin/backoffice/dashboard.html", takes_context=True)
def payment_dashboard(context: dict[str, Any]) -> dict[str, Any]:
    request = context["request"]
    if not request.user.has_perm("orders.view_order"):
        return {"visible": False}
    figures = dashboard()
    can_see_attempts = request.user.has_perm("checkout.view_checkoutattempt")
    can_see_history = request.user.has_perm("payments.view_payment_history")
    top = figures.max_count or 1
    statuses = [
        {
            "code": figure.status.value,
            "label": figure.status.label,
            "count": figure.count,
            "amounts": [format_money(Money(quantize(a, c), c)) for c, a in sorted(figure.amounts.items())],
            "percent": round(100 * figure.count / top),
            "colour": STATUS_COLOURS.get(figure.status, UNKNOWN_STATUS_COLOUR),
        }
        for figure in figures.statuses
    ]
    return {
        "visible": True,
        "statuses": statuses,
        "awaiting": [
            {"txn": txn, "amount": format_money(txn.money), "age": timesince(txn.created_at, figures.now)}
            for txn in figures.awaiting_capture
        ],
        "awaiting_count": figures.awaiting_capture_count,
        "failed": [
            {
                "item": item,
                "amount": format_money(item.amount),
                # provider references only for staff who see them elsewhere (the attempt list, the payment history)
                "reference": item.reference
                if (can_see_attempts if item.kind == "checkout" else can_see_history)
                else "",
                "url": reverse("admin:checkout_checkoutattempt_change", args=[item.pk])
                if item.kind == "checkout" and can_see_attempts
                else reverse("admin:orders_order_change", args=[item.order_id]),
            }
            for item in figures.failed_today
        ],
        "failed_count": figures.failed_today_count,
        "attempts_url": reverse("admin:checkout_checkoutattempt_changelist") + "?outcome=failed"
        if can_see_attempts
        else "",
    }
