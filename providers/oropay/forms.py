"""OroPay's settings (domain.md §3.10). Payment action, environment and active are the integration's own; ACH is
offered only when the payment action is automatic capture, as in the reference."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from providers.forms import ProviderSettingsForm
from providers.oropay.adapter import DEFAULT_NACHA_TEXT


class SettingsForm(ProviderSettingsForm):
    """The GP-API app the account is provisioned with, the merchant's country and the ACH method."""

    app_id = forms.CharField(label="App ID", max_length=64)
    app_key = forms.CharField(label="App key", max_length=128, help_text="Kept encrypted; never shown again.")
    account_name = forms.CharField(
        label="Account name", max_length=100, initial="transaction_processing", required=False
    )
    merchant_country = forms.CharField(label="Merchant country", max_length=2, initial="US")
    merchant_name = forms.CharField(
        label="Merchant name", max_length=100, required=False, help_text="Named in the ACH debit authorization."
    )
    ach_enabled = forms.BooleanField(
        label="Enable ACH", required=False, help_text="Offered only with Automatic (Capture) as the payment action."
    )
    ach_label = forms.CharField(label="ACH label", max_length=200, required=False, initial="ACH bank debit")
    ach_short_label = forms.CharField(label="ACH short label", max_length=200, required=False)
    ach_authorization_text = forms.CharField(
        label="ACH authorization (NACHA) wording",
        required=False,
        initial=DEFAULT_NACHA_TEXT,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="What the buyer authorizes; {merchant} is replaced by the merchant name. Its wording is the "
        "merchant's responsibility.",
    )
    secret_fields = ("app_key",)

    def clean_merchant_country(self) -> str:
        value = (self.cleaned_data.get("merchant_country") or "").strip().upper()
        if not re.fullmatch(r"[A-Z]{2}", value):
            raise forms.ValidationError("Two letters, such as US.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("ach_enabled") and not (data.get("ach_authorization_text") or "").strip():
            self.add_error("ach_authorization_text", "Say what the buyer authorizes with an ACH debit.")
        return data
