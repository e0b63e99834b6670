"""The Authorize.Net integration's settings, methods and storefront widgets."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.template.loader import render_to_string

from integrations.forms import integration_form_class
from integrations.models import Integration
from providers import registry
from providers.authorizenet.adapter import AuthorizeNetAdapter
from providers.authorizenet.forms import SettingsForm
from providers.base import Capability, CheckoutContext, Environment, IntegrationInfo, Money, PaymentAction
from tests.authorizenet_support import ANET_SECRETS, ANET_SETTINGS

VALID = {
    "api_login_id": "paydesk01",
    "transaction_key": "Abcdef0123456789",
    "client_key": "public-client-key-01",
    "signature_key": "0F" * 64,
    "account_currency": "USD",
    "allowed_card_types": ["visa", "mastercard"],
    "require_cvv": "on",
    "allow_held_transactions": "on",
}
SANDBOX = "http://127.0.0.1:8000/sandbox/authorizenet"


def info(**fields) -> IntegrationInfo:  # noqa: ANN003
    return IntegrationInfo(
        id=7,
        uuid="u",
        provider_key="authorizenet",
        name="Authorize.Net",
        environment=Environment.SANDBOX,
        payment_action=PaymentAction.AUTHORIZE,
        labels={"en": "Card"},
        **fields,
    )


def test_registered_with_its_adapter_and_form_and_honest_capabilities() -> None:
    assert registry.adapter_class("authorizenet") is AuthorizeNetAdapter
    assert registry.settings_form_class("authorizenet") is SettingsForm
    assert SettingsForm.secret_fields == ("transaction_key", "signature_key")
    adapter = AuthorizeNetAdapter({}, base_url="")
    assert adapter.supports(Capability.PARTIAL_CAPTURE)
    assert adapter.supports(Capability.PARTIAL_REFUND)
    assert not adapter.supports(Capability.MULTIPLE_CAPTURE)  # priorAuthCapture happens once
    assert (adapter.authorization_ttl_hours, tuple(adapter.refund_reasons)) == (720, ())
    assert SettingsForm.credential_mode({**VALID}) is None  # test and live credentials look alike


def test_js_and_api_addresses_per_environment() -> None:
    assert AuthorizeNetAdapter({}, base_url="").js_url == "https://js.authorize.net/v1/Accept.js"
    test = AuthorizeNetAdapter({}, base_url=AuthorizeNetAdapter.test_base_url)
    assert (test.js_url, test.endpoint) == (
        "https://jstest.authorize.net/v1/Accept.js",
        "https://apitest.authorize.net/xml/v1/request.api",
    )
    sandbox = AuthorizeNetAdapter({}, base_url=SANDBOX)
    assert (sandbox.js_url, sandbox.endpoint) == (f"{SANDBOX}/v1/Accept.js", f"{SANDBOX}/xml/v1/request.api")


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("transaction_key", "short", "16 letters and digits"),
        ("signature_key", "xyz", "128 hexadecimal characters"),
        ("echeck_enabled", "on", "Say what the buyer authorizes"),
    ],
)
def test_malformed_keys_and_an_echeck_without_confirmation_text_are_refused(field, value, message) -> None:
    form = SettingsForm(data={**VALID, field: value})
    assert not form.is_valid()
    assert message in str(form.errors)


@pytest.mark.django_db
def test_secrets_are_stored_encrypted_and_never_rendered() -> None:
    form_class = integration_form_class("authorizenet")
    data = {
        **VALID,
        "name": "Authorize.Net",
        "environment": "sandbox",
        "payment_action": "charge",
        "capture_policy": "manual",
        "capture_delay_hours": "24",
        "active": "on",
        "label_en": "Card",
    }
    form = form_class(data=data, instance=Integration(provider_key="authorizenet"))
    assert form.is_valid(), form.errors
    integration = form.save()
    assert integration.settings["client_key"] == "public-client-key-01"
    assert "transaction_key" not in integration.settings
    assert integration.adapter_settings()["transaction_key"] == "Abcdef0123456789"
    rendered = str(form_class(instance=integration))
    assert "Abcdef0123456789" not in rendered
    assert "0F0F0F" not in rendered


def test_echeck_is_a_second_method_that_always_charges() -> None:
    assert [m.identifier for m in AuthorizeNetAdapter({}, base_url="").methods(info())] == ["authorizenet_7"]
    card, echeck = AuthorizeNetAdapter(dict(ANET_SETTINGS), base_url="").methods(info())
    assert (card.identifier, card.payment_action, card.widget) == ("authorizenet_7", None, "authorizenet/widget.html")
    assert (echeck.identifier, echeck.variant, echeck.payment_action) == (
        "authorizenet_7_echeck",
        "echeck",
        PaymentAction.CHARGE,
    )
    assert (echeck.labels, echeck.short_labels, echeck.widget) == (
        {"en": "Bank account (eCheck)"},
        {"en": "eCheck"},
        "authorizenet/echeck_widget.html",
    )


@pytest.mark.parametrize(
    ("amount", "currency", "applicable"),
    [("100.00", "USD", True), ("0.00", "USD", False), ("12000", "JPY", False), ("30.120", "KWD", False)],
)
def test_only_the_account_currency_with_two_decimals(amount, currency, applicable) -> None:
    total = Money(Decimal(amount), currency)
    context = CheckoutContext(currency=currency, subtotal=total, total=total)
    assert AuthorizeNetAdapter(dict(ANET_SETTINGS), base_url="").is_applicable(context) is applicable


def widget(template: str, **settings) -> str:  # noqa: ANN003
    adapter = AuthorizeNetAdapter({**ANET_SETTINGS, **ANET_SECRETS, **settings}, base_url=SANDBOX)
    methods = adapter.methods(info())
    method = methods[1] if "echeck" in template else methods[0]
    return render_to_string(
        template, {"options": adapter.widget_context(method), "method": method, "field_prefix": "payment_data"}
    )


def named_fields(html: str) -> list[str]:
    return re.findall(r'<(?:input|select|textarea)[^>]*\bname="([^"]+)"', html)


def test_the_card_widget_gives_the_shop_only_opaque_data() -> None:
    html = widget("authorizenet/widget.html")
    assert f'<script src="{SANDBOX}/v1/Accept.js" charset="utf-8"></script>' in html
    assert named_fields(html) == [
        "payment_data[data_descriptor]",
        "payment_data[data_value]",
    ]  # no card field in the shop's form
    assert 'data-card-types="visa,mastercard,american_express,discover"' in html
    assert 'clientKey: "services\\u002Dclient\\u002Dkey"' in html  # the public key, escaped for JavaScript
    assert ANET_SECRETS["transaction_key"] not in html
    assert ANET_SECRETS["signature_key"] not in html
    assert "Accept.dispatchData" in html
    assert "(optional)" not in html
    assert "(optional)" in widget("authorizenet/widget.html", require_cvv=False)


def test_the_echeck_widget_shows_the_confirmation_text_and_gives_only_opaque_data() -> None:
    html = widget("authorizenet/echeck_widget.html", echeck_account_types=["checking", "businessChecking"])
    assert named_fields(html) == ["payment_data[data_descriptor]", "payment_data[data_value]"]
    assert "I authorize Paydesk Demo Inc. to debit my account for this order." in html
    assert re.findall(r'<option value="([^"]+)"', html) == ["checking", "businessChecking"]
    assert "bankData" in html
