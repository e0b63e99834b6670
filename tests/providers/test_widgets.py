"""Storefront widgets of the offline providers: found by the template loader, fed by `widget_context`."""

from __future__ import annotations

from decimal import Decimal

from django.template.loader import render_to_string

from providers.base import (
    Adapter,
    CheckoutContext,
    CustomerGroupInfo,
    CustomerInfo,
    IntegrationInfo,
    Money,
    PaymentAction,
    PaymentTermInfo,
)
from providers.base import Environment as Env
from providers.money_order.adapter import MoneyOrderAdapter
from providers.payment_term.adapter import PaymentTermAdapter

INTEGRATION = IntegrationInfo(7, "u", "money_order", "Checks", Env.SANDBOX, PaymentAction.CHARGE)


def context(customer: CustomerInfo | None = None) -> CheckoutContext:
    money = Money(Decimal("10.00"), "USD")
    return CheckoutContext(currency="USD", subtotal=money, total=money, customer=customer)


def test_money_order_widget_shows_pay_to_and_send_to_and_nothing_else() -> None:
    adapter = MoneyOrderAdapter({"pay_to": "Paydesk Inc.", "send_to": "1 Market St\nSF", "api_key": "sk_secret"})
    [method] = adapter.methods(INTEGRATION)

    options = adapter.widget_context(method, context())
    html = render_to_string(method.widget, {"options": options})

    assert method.widget == "money_order/widget.html"
    assert options == {"pay_to": "Paydesk Inc.", "send_to": "1 Market St\nSF"}
    assert "<strong>Make Check Payable To:</strong> Paydesk Inc." in html
    assert "<strong>Send Check To:</strong><br>1 Market St<br>SF" in html
    assert "sk_secret" not in html


def test_payment_term_widget_shows_the_customers_resolved_term() -> None:
    adapter = PaymentTermAdapter({})
    [method] = adapter.methods(INTEGRATION)
    group = CustomerGroupInfo(1, "Wholesale", PaymentTermInfo(2, "Net 60"))
    own = CustomerInfo(1, "ACME", group=group, payment_term=PaymentTermInfo(1, "Net 30"))

    assert adapter.widget_context(method, context(own)) == {"term": "Net 30"}
    assert adapter.widget_context(method, context(CustomerInfo(2, "B", group=group))) == {"term": "Net 60"}
    html = render_to_string(method.widget, {"options": {"term": "Net 30"}})
    assert "<strong>Terms:</strong> Net 30" in html


def test_an_adapter_shows_nothing_by_default() -> None:
    class Plain(Adapter):
        key = "plain"
        label = "Plain"

    [method] = Plain({"secret": "x"}).methods(INTEGRATION)
    assert Plain({"secret": "x"}).widget_context(method, context()) == {}
