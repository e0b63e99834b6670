"""The Stripe integration's settings: which are secret, what is checked, what the adapter offers."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest

from integrations.forms import integration_form_class
from integrations.models import Integration
from providers import registry
from providers.base import Capability, CheckoutContext, Money
from providers.stripe.adapter import StripeAdapter
from providers.stripe.forms import SettingsForm

VALID = {
    "public_key": "pk_test_demo1234",
    "secret_key": "sk_test_demo1234",
    "webhook_secret": "whsec_demo",
    "user_monitoring": "on",
}


def test_stripe_is_registered_with_its_adapter_and_form() -> None:
    assert registry.adapter_class("stripe") is StripeAdapter
    assert registry.settings_form_class("stripe") is SettingsForm
    assert SettingsForm.secret_fields == ("secret_key", "webhook_secret")


def test_capabilities_allow_one_partial_capture_but_not_several() -> None:
    adapter = StripeAdapter({}, base_url="")
    assert adapter.supports(Capability.PARTIAL_CAPTURE)
    assert not adapter.supports(Capability.MULTIPLE_CAPTURE)
    assert adapter.authorization_ttl_hours == 168
    assert adapter.js_url == "https://js.stripe.com/v3/"
    assert StripeAdapter({}, base_url="http://127.0.0.1:8000/sandbox/stripe").js_url.endswith(
        "/sandbox/stripe/js/v3.js"
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("public_key", "sk_test_oops", "starts with pk_test_ or pk_live_"),
        ("secret_key", "pk_test_oops", "starts with sk_test_ or sk_live_"),
        ("re_authorization", "on", "Say who is alerted"),
    ],
)
def test_wrong_keys_and_missing_alert_email_are_refused(field, value, message) -> None:
    form = SettingsForm(data={**VALID, field: value})
    assert not form.is_valid()
    assert message in str(form.errors)


@pytest.mark.django_db
def test_secrets_are_stored_encrypted_and_never_rendered() -> None:
    form_class = integration_form_class("stripe")
    data = {
        **VALID,
        "name": "Stripe",
        "environment": "sandbox",
        "payment_action": "authorize",
        "capture_policy": "manual",
        "capture_delay_hours": "24",
        "active": "on",
        "label_en": "Card",
    }
    form = form_class(data=data, instance=Integration(provider_key="stripe"))
    assert form.is_valid(), form.errors
    integration = form.save()
    assert integration.settings["public_key"] == "pk_test_demo1234"
    assert "secret_key" not in integration.settings
    assert integration.adapter_settings()["secret_key"] == "sk_test_demo1234"
    rendered = str(form_class(instance=integration))
    assert "sk_test_demo1234" not in rendered
    assert "whsec_demo" not in rendered


@pytest.mark.parametrize(
    ("amount", "currency", "applicable"),
    [
        ("100.00", "USD", True),
        ("0.49", "USD", False),
        ("12000", "JPY", True),
        ("30.120", "KWD", True),
        ("30.125", "KWD", False),
        ("1000000.00", "USD", False),
    ],
)
def test_is_applicable_only_for_amounts_stripe_can_take(amount, currency, applicable) -> None:
    total = Money(Decimal(amount), currency)
    context = CheckoutContext(currency=currency, subtotal=total, total=total)
    assert StripeAdapter({}, base_url="").is_applicable(context) is applicable


def test_the_widget_posts_only_the_payment_method_id_to_the_shop() -> None:
    from django.template.loader import render_to_string

    from providers.base import MethodInfo

    adapter = StripeAdapter({"public_key": "pk_test_widget01"}, base_url="http://127.0.0.1:8000/sandbox/stripe")
    method = MethodInfo(identifier="stripe_3", integration_id=3, provider_key="stripe")
    options = adapter.widget_context(method, None)  # type: ignore[arg-type]
    assert options == {"js_url": "http://127.0.0.1:8000/sandbox/stripe/js/v3.js", "publishable_key": "pk_test_widget01"}
    html = render_to_string(
        "stripe/widget.html", {"options": options, "method": method, "field_prefix": "payment_data"}
    )
    assert '<script src="http://127.0.0.1:8000/sandbox/stripe/js/v3.js"></script>' in html
    assert 'Stripe("pk_test_widget01")' in html
    # no card field in the shop's form: only the token Stripe hands back
    assert re.findall(r'<input[^>]*name="([^"]+)"', html) == ["payment_data[payment_method]"]


def test_stripe_keys_say_test_or_live() -> None:
    from providers.stripe.forms import SettingsForm

    assert SettingsForm.credential_mode({"secret_key": "sk_test_abc12345"}) == "test"
    assert SettingsForm.credential_mode({"secret_key": "sk_live_abc12345"}) == "live"
    assert SettingsForm.credential_mode({}) is None


@pytest.mark.django_db
def test_the_admin_form_runs_the_provider_forms_own_checks() -> None:
    """The integration form copies the provider's fields; its clean_* methods must run as well."""
    form_class = integration_form_class("stripe")
    data = {
        **VALID,
        "public_key": "not-a-stripe-key",
        "name": "Stripe",
        "environment": "sandbox",
        "payment_action": "authorize",
        "capture_policy": "manual",
        "capture_delay_hours": "24",
        "active": "on",
        "label_en": "Card",
    }
    form = form_class(data=data, instance=Integration(provider_key="stripe"))
    assert not form.is_valid()
    assert "public_key" in form.errors
