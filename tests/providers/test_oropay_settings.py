"""OroPay's settings form and widgets: what an admin enters, what a buyer's page holds."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string
from django.utils.html import escapejs

from providers.base import CheckoutContext, Environment, IntegrationInfo, Money, PaymentAction
from providers.oropay import client as gp_client
from providers.oropay.adapter import OroPayAdapter
from providers.oropay.forms import SettingsForm
from tests.providers.sandboxes import sandbox_credentials

CHARGING = IntegrationInfo(3, "u", "oropay", "OroPay", Environment.SANDBOX, PaymentAction.CHARGE)
VALID = {"app_id": "paydeskapp1", "app_key": "k" * 32, "merchant_country": "us", "account_name": ""}


def test_the_form_takes_the_app_and_keeps_the_key_secret() -> None:
    form = SettingsForm(data=VALID)
    assert form.is_valid(), form.errors
    assert form.cleaned_data["merchant_country"] == "US"
    assert SettingsForm.secret_fields == ("app_key",)


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"merchant_country": "USA"}, "merchant_country"),
        ({"ach_enabled": "on", "ach_authorization_text": " "}, "ach_authorization_text"),
        ({"app_id": ""}, "app_id"),
    ],
)
def test_the_form_refuses_what_cannot_work(changes, field) -> None:  # noqa: ANN001
    form = SettingsForm(data={**VALID, **changes})
    assert not form.is_valid()
    assert field in form.errors


@pytest.mark.django_db(transaction=True)
def test_the_widgets_hold_a_restricted_token_and_no_field_that_could_post_a_number(live_server) -> None:
    gp_client.token_cache_clear()
    adapter = OroPayAdapter(
        {**sandbox_credentials("oropay"), "merchant_name": "Paydesk Demo Inc."},
        base_url=f"{live_server.url}/sandbox/oropay",
    )
    total = Money(Decimal("10.00"), "USD")
    checkout = CheckoutContext(currency="USD", subtotal=total, total=total)
    card, ach = adapter.methods(CHARGING)
    for method in (card, ach):
        options = adapter.widget_context(method, checkout)
        html = render_to_string(method.widget, {"options": options, "method": method})
        assert options["js_url"] == f"{live_server.url}/sandbox/oropay/js/globalpayments.js"
        assert escapejs(options["access_token"]) in html
        assert adapter.settings["app_key"] not in html
        names = set(re.findall(r'<(?:input|select|textarea)[^>]*\sname="([^"]+)"', html))
        assert names <= {"payment_data[payment_reference]", "payment_data[account_holder]", "payment_data[authorized]"}
    assert "Paydesk Demo Inc." in adapter.widget_context(ach, checkout)["authorization_text"]


def test_an_unreachable_service_leaves_the_widget_saying_so() -> None:
    adapter = OroPayAdapter(sandbox_credentials("oropay"), base_url="http://127.0.0.1:9")
    [card] = adapter.methods(IntegrationInfo(3, "u", "oropay", "OroPay", Environment.SANDBOX, PaymentAction.AUTHORIZE))
    options = adapter.widget_context(card)
    html = render_to_string(card.widget, {"options": options, "method": card})
    assert options["unavailable"] is True
    assert "Card payments are not available at the moment" in html
