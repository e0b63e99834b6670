"""The back-office preview: every rule run against a recent order or cart, with what each one did.

It answers "why does this buyer see (or not see) this method?" without placing an order: which rules matched,
which stopped processing, which conditions failed and why, and which methods would be offered. The rule being
edited can be tried with an unsaved condition.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from django import forms

from checkout.models import Cart, Checkout
from checkout.selectors import cart_lines, checkout_context
from integrations.labels import method_label
from orders.models import Order
from payment_rules.expression import ExpressionSyntaxError, validate_expression
from payment_rules.matching import Trace, explain, preview_ruleset
from payment_rules.models import PaymentRule
from providers.base import CheckoutContext

RECENT = 30


def source_choices() -> list[tuple[str, list[tuple[str, str]]]]:
    """Recent orders and the carts that hold something, newest first."""
    orders = Order.objects.select_related("customer").order_by("-created_at", "-id")[:RECENT]
    carts = (
        Cart.objects.filter(lines__isnull=False)
        .distinct()
        .select_related("customer_user__customer", "customer_user__user")
        .order_by("-updated_at", "-id")[:RECENT]
    )
    return [
        (
            "Recent orders",
            [(f"order:{o.pk}", f"{o.number} — {o.customer.name}, {o.total_money.amount} {o.currency}") for o in orders],
        ),
        (
            "Carts",
            [
                (f"cart:{c.pk}", f"Cart of {c.customer_user.user.email} ({c.customer_user.customer.name})")
                for c in carts
            ],
        ),
    ]


class PreviewForm(forms.Form):
    source = forms.ChoiceField(label="Order or cart", choices=source_choices)
    rule = forms.ModelChoiceField(
        queryset=PaymentRule.objects.order_by("sort_order", "id"),
        required=False,
        label="Try a condition on rule",
        help_text="Optional: the rule whose condition below replaces its saved one, for this preview only.",
    )
    expression = forms.CharField(
        required=False,
        widget=forms.Textarea(attrs={"rows": 3, "cols": 100}),
        label="Condition",
        help_text="Leave empty to use the rule's saved condition.",
    )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        rule_id = self.data.get("rule") if self.is_bound else None
        if rule_id and not self.data.get("expression"):  # opened from a rule: show its saved condition
            rule = PaymentRule.objects.filter(pk=rule_id).first() if str(rule_id).isdigit() else None
            if rule is not None:
                self.data = {**dict(self.data.items()), "expression": rule.expression}

    def clean_expression(self) -> str:
        expression = self.cleaned_data["expression"]
        if expression.strip():
            try:
                validate_expression(expression)
            except ExpressionSyntaxError as exc:
                raise forms.ValidationError(str(exc)) from exc
        return expression


@dataclass(frozen=True, slots=True)
class Preview:
    label: str
    context: CheckoutContext
    trace: Trace
    tried_rule: PaymentRule | None
    offered: list[tuple[str, str]]  # identifier and storefront label of each method offered, in order


def source_context(source: str) -> tuple[str, CheckoutContext] | None:
    """The checkout context of `order:<id>` or `cart:<id>` (a cart with its open or last checkout's addresses)."""
    kind, _, pk = source.partition(":")
    if not pk.isdigit():
        return None
    if kind == "order":
        order = Order.objects.select_related("customer__group__payment_term", "customer__payment_term").filter(pk=pk)
        found = order.first()
        return (f"Order {found.number}", found.checkout_context()) if found else None
    if kind == "cart":
        cart = Cart.objects.select_related("customer_user__user", "customer_user__customer").filter(pk=pk).first()
        if cart is None:
            return None
        checkout = (
            cart.checkouts.filter(completed_at__isnull=True).first()
            or cart.checkouts.order_by("-created_at").first()
            or Checkout(cart=cart)
        )
        context = checkout_context(checkout=checkout, lines=cart_lines(cart=cart), buyer=cart.customer_user)
        return f"Cart of {cart.customer_user.user.email}", context
    return None


def rule_preview(form: PreviewForm) -> Preview | None:
    found = source_context(form.cleaned_data["source"])
    if found is None:
        return None
    label, context = found
    rules = list(PaymentRule.objects.prefetch_related("destinations", "methods").order_by("sort_order", "id"))
    tried: PaymentRule | None = form.cleaned_data.get("rule")
    expression = form.cleaned_data.get("expression", "")
    if tried is not None:
        for rule in rules:
            if rule.pk == tried.pk:
                rule.expression = expression  # in memory only, for this preview
    trace = explain(context, preview_ruleset(rules=rules))
    offered = [(method.identifier, method_label(method)) for method in trace.offered]
    return Preview(label, context, trace, tried, offered)
