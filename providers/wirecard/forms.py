"""Wirecard Checkout Seamless settings (domain.md §3.11). Payment action (autoDeposit), environment and active are
the integration's own. Unlike the reference, the back-end password is kept (it needs it for no operation) and the
host is a setting (it has moved twice)."""

from __future__ import annotations

import ipaddress
import re

from django import forms

from providers.forms import ProviderSettingsForm
from providers.wirecard.adapter import CONFIRM_IPS, LANGUAGES, LIVE_BASE_URL


class SettingsForm(ProviderSettingsForm):
    """Merchant credentials, the host, the language and the confirm allow-list, and the labels of the three methods."""

    customer_id = forms.CharField(label="Customer ID", max_length=20, help_text="e.g. D200001 for the demo account.")
    shop_id = forms.CharField(label="Shop ID", max_length=20, required=False)
    secret = forms.CharField(
        label="Secret", max_length=100, help_text="Signs every request and verifies every confirm; never sent."
    )
    backend_password = forms.CharField(
        label="Back-end password", max_length=50, help_text="For capture, cancel, refund and status look-ups."
    )
    base_url = forms.URLField(
        label="Host",
        assume_scheme="https",
        required=False,
        initial=LIVE_BASE_URL,
        help_text=f"Wirecard's host for test and live accounts (default {LIVE_BASE_URL}); sandbox integrations "
        "use the built-in simulator.",
    )
    language = forms.ChoiceField(
        label="Default language", choices=[(code, code) for code in LANGUAGES], initial="en", required=False
    )
    confirm_ip_allowlist = forms.CharField(
        label="Confirm source addresses",
        required=False,
        initial=", ".join(CONFIRM_IPS),
        help_text="Comma-separated addresses or networks Wirecard's confirm may come from; empty: any (sandbox).",
    )
    sepa_label = forms.CharField(label="SEPA label", max_length=200, required=False)
    sepa_short_label = forms.CharField(label="SEPA short label", max_length=200, required=False)
    paypal_label = forms.CharField(label="PayPal label", max_length=200, required=False)
    paypal_short_label = forms.CharField(label="PayPal short label", max_length=200, required=False)
    secret_fields = ("secret", "backend_password")

    def clean_customer_id(self) -> str:
        value = (self.cleaned_data.get("customer_id") or "").strip()
        if not re.fullmatch(r"[A-Za-z0-9]{4,20}", value):
            raise forms.ValidationError("A customer ID is letters and digits, such as D200001.")
        return value

    def clean_confirm_ip_allowlist(self) -> str:
        entries = [e.strip() for e in (self.cleaned_data.get("confirm_ip_allowlist") or "").split(",") if e.strip()]
        for entry in entries:
            try:
                ipaddress.ip_network(entry, strict=False)
            except ValueError as exc:
                raise forms.ValidationError(f"{entry} is not an address or network.") from exc
        return ",".join(entries)
