from collections.abc import Mapping
from typing import Any, Literal

from django import forms

from providers.forms import ProviderSettingsForm


class SettingsForm(ProviderSettingsForm):
    """Stripe's settings (domain.md §3.7); the capture method is the integration's payment action."""

    public_key = forms.CharField(
        label="Publishable key", max_length=255, help_text="pk_live_… or pk_test_…; used by the card widget."
    )
    secret_key = forms.CharField(label="Secret key", max_length=255, help_text="sk_live_… or sk_test_….")
    webhook_secret = forms.CharField(
        label="Webhook signing secret",
        max_length=255,
        required=False,
        help_text="whsec_… of the endpoint that sends events to this integration's webhook URL.",
    )
    user_monitoring = forms.BooleanField(
        label="User monitoring",
        required=False,
        help_text="Load the Stripe script on every storefront page (fraud signals for Radar).",
    )
    re_authorization = forms.BooleanField(
        label="Re-authorize automatically",
        required=False,
        help_text="Renew uncaptured authorizations before Stripe lets them expire after 7 days.",
    )
    re_authorization_email = forms.EmailField(
        label="Re-authorization alert email",
        required=False,
        help_text="Who is told when a re-authorization fails.",
    )
    secret_fields = ("secret_key", "webhook_secret")

    @classmethod
    def credential_mode(cls, settings: Mapping[str, Any]) -> Literal["test", "live"] | None:
        """Stripe's keys say which mode they belong to."""
        key = str(settings.get("secret_key") or settings.get("public_key") or "")
        if key.startswith(("sk_test_", "pk_test_", "rk_test_")):
            return "test"
        if key.startswith(("sk_live_", "pk_live_", "rk_live_")):
            return "live"
        return None

    def clean_public_key(self) -> str:
        value = self.cleaned_data["public_key"].strip()
        if not value.startswith(("pk_test_", "pk_live_")):
            raise forms.ValidationError("A publishable key starts with pk_test_ or pk_live_.")
        return value

    def clean_secret_key(self) -> str:
        value = (self.cleaned_data.get("secret_key") or "").strip()
        if value and not value.startswith(("sk_test_", "sk_live_", "rk_test_", "rk_live_")):
            raise forms.ValidationError("A secret key starts with sk_test_ or sk_live_ (or rk_ for a restricted key).")
        return value

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("re_authorization") and not data.get("re_authorization_email"):
            self.add_error("re_authorization_email", "Say who is alerted when a re-authorization fails.")
        return data
