"""Authorize.Net's settings (domain.md §3.6). Payment action, environment and active are the integration's own."""

from __future__ import annotations

import re
from typing import Any

from django import forms

from providers.authorizenet.adapter import CARD_TYPES, CURRENCIES, ECHECK_ACCOUNT_TYPES
from providers.forms import ProviderSettingsForm

CARD_TYPE_LABELS = {
    "visa": "Visa",
    "mastercard": "Mastercard",
    "american_express": "American Express",
    "discover": "Discover",
    "jcb": "JCB",
    "diners_club": "Diners Club",
    "china_union_pay": "China UnionPay",
}


class SettingsForm(ProviderSettingsForm):
    """API credentials, card options and the eCheck method.

    `credential_mode` is not overridden: Authorize.Net's login IDs and keys look alike in its test environment
    and in production, so the credentials do not say which they belong to.
    """

    api_login_id = forms.CharField(label="API login ID", max_length=25)
    transaction_key = forms.CharField(
        label="Transaction key", max_length=16, help_text="16 characters, from Account › API Credentials & Keys."
    )
    client_key = forms.CharField(
        label="Public client key",
        max_length=100,
        help_text="Used by Accept.js in the buyer's browser, so card and bank numbers never reach this shop.",
    )
    signature_key = forms.CharField(
        label="Signature key",
        max_length=128,
        required=False,
        help_text="128 hexadecimal characters; verifies the webhooks (X-ANET-Signature) Authorize.Net sends.",
    )
    account_currency = forms.ChoiceField(
        label="Account currency",
        choices=[(c, c) for c in CURRENCIES],
        initial="USD",
        help_text="The currency of the merchant account; orders in other currencies are not offered this method.",
    )
    allowed_card_types = forms.MultipleChoiceField(
        label="Allowed credit card types",
        choices=[(key, CARD_TYPE_LABELS[key]) for key in CARD_TYPES],
        initial=list(CARD_TYPES),
        widget=forms.CheckboxSelectMultiple,
    )
    require_cvv = forms.BooleanField(label="Require CVV entry", required=False, initial=True)
    allow_held_transactions = forms.BooleanField(
        label="Create orders for transactions held for review",
        required=False,
        initial=True,
        help_text="Held payments wait for the fraud review; otherwise they are voided and the buyer pays another way.",
    )
    echeck_enabled = forms.BooleanField(label="Enable eCheck", required=False)
    echeck_label = forms.CharField(label="eCheck label", max_length=200, required=False, initial="eCheck")
    echeck_short_label = forms.CharField(label="eCheck short label", max_length=200, required=False)
    echeck_account_types = forms.MultipleChoiceField(
        label="eCheck account types",
        choices=list(ECHECK_ACCOUNT_TYPES.items()),
        initial=list(ECHECK_ACCOUNT_TYPES),
        required=False,
        widget=forms.CheckboxSelectMultiple,
    )
    echeck_confirmation_text = forms.CharField(
        label="eCheck confirmation text",
        required=False,
        widget=forms.Textarea(attrs={"rows": 4}),
        help_text="The authorization the buyer confirms before the account is debited.",
    )
    secret_fields = ("transaction_key", "signature_key")

    def clean_transaction_key(self) -> str:
        value = (self.cleaned_data.get("transaction_key") or "").strip()
        if value and not re.fullmatch(r"[A-Za-z0-9]{16}", value):
            raise forms.ValidationError("A transaction key is 16 letters and digits.")
        return value

    def clean_signature_key(self) -> str:
        value = (self.cleaned_data.get("signature_key") or "").strip()
        if value and not re.fullmatch(r"[0-9A-Fa-f]{128}", value):
            raise forms.ValidationError("A signature key is 128 hexadecimal characters.")
        return value

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("echeck_enabled"):
            if not data.get("echeck_account_types"):
                self.add_error("echeck_account_types", "Choose at least one account type for eCheck.")
            if not (data.get("echeck_confirmation_text") or "").strip():
                self.add_error("echeck_confirmation_text", "Say what the buyer authorizes with an eCheck.")
        return data
