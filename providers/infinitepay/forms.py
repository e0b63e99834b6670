"""InfinitePay's settings (domain.md §3.9). Payment action, environment and active are the integration's own."""

from __future__ import annotations

from typing import Any

from django import forms

from providers.forms import ProviderSettingsForm


class SettingsForm(ProviderSettingsForm):
    """The web-service account, the guarantee steps it takes by itself, and the invoice terms."""

    secret_fields = ("password", "secret")

    client_ref = forms.CharField(label="Client reference", max_length=50)
    username = forms.CharField(label="Username", max_length=100, help_text="The web-service (WS-Security) user.")
    password = forms.CharField(label="Password", max_length=200)
    secret = forms.CharField(
        label="Secret (for security code)",
        max_length=200,
        help_text="Signs every request's security code (SECURITY_CD); given by InfinitePay with the account.",
    )
    auto_capture = forms.BooleanField(
        label="Auto capture",
        required=False,
        help_text="Capture with the reservation (the goods ship at once); the purchase is then a charge.",
    )
    auto_activate = forms.BooleanField(
        label="Auto activate",
        required=False,
        help_text="Activate (issue the invoice) with the reservation; only together with auto capture.",
    )
    invoice_due_period = forms.IntegerField(label="Invoice due period (days)", min_value=1, max_value=365, initial=30)
    invoice_shipping_duration = forms.IntegerField(
        label="Invoice shipping duration (days)",
        min_value=0,
        max_value=365,
        initial=21,
        help_text="With auto activation the due date is estimated from the shipping duration and the due period.",
    )
    wsdl_url = forms.URLField(
        label="WSDL URL",
        required=False,
        help_text="Leave empty for InfinitePay's address of the integration's environment.",
    )
    debug_mode = forms.BooleanField(
        label="Debug mode",
        required=False,
        help_text="Log requests and replies (security code, password and secret masked).",
    )

    def clean(self) -> dict[str, Any]:
        cleaned = super().clean() or {}
        if cleaned.get("auto_activate") and not cleaned.get("auto_capture"):
            self.add_error("auto_activate", "Auto activation works only together with auto capture.")
        return cleaned
