"""Settings of a Payflow Gateway or Payments Pro integration (domain.md §3.4); both types use this form.

The card method's payment action is the integration's common field; Express Checkout has its own.
"""

from __future__ import annotations

from django import forms

from providers.forms import ProviderSettingsForm
from providers.payflow.adapter import CARD_TYPES

PAYMENT_ACTIONS = [("authorize", "Authorize only"), ("charge", "Authorize and capture")]


class SettingsForm(ProviderSettingsForm):
    partner = forms.CharField(
        max_length=64, initial="PayPal", help_text="The reseller that registered the account; usually PayPal."
    )
    vendor = forms.CharField(max_length=64, help_text="The merchant login of the Payflow account.")
    user = forms.CharField(
        max_length=64, required=False, help_text="The API user, if one was set up; empty means the vendor login."
    )
    password = forms.CharField(max_length=128, help_text="The password of that user.")
    allowed_card_types = forms.MultipleChoiceField(
        choices=CARD_TYPES,
        initial=[code for code, _ in CARD_TYPES],
        widget=forms.CheckboxSelectMultiple,
        help_text="Cards the payment form accepts.",
    )
    require_cvv = forms.BooleanField(
        label="Require CVV entry", required=False, initial=True, help_text="The card form asks for the security code."
    )
    zero_amount_authorization = forms.BooleanField(
        required=False,
        help_text="The card is first validated with a zero-amount authorization; the payment then refers to it.",
    )
    authorization_for_required_amount = forms.BooleanField(
        required=False,
        help_text="With zero-amount authorization and “Authorize only”: also hold the order amount right away. "
        "Without it, nothing is held and capture takes the money with a reference sale.",
    )
    debug_mode = forms.BooleanField(
        required=False, help_text="Ask Payflow for verbose replies (VERBOSITY=HIGH) and log them, scrubbed."
    )
    express_checkout_name = forms.CharField(
        max_length=127,
        required=False,
        help_text="Shown to the buyer on PayPal's page (brand name); empty: the account's name.",
    )
    express_checkout_label = forms.CharField(
        label="Express Checkout label", max_length=200, initial="PayPal", help_text="Shown at checkout."
    )
    express_checkout_short_label = forms.CharField(
        label="Express Checkout short label", max_length=200, required=False, help_text="Shown on order pages."
    )
    express_checkout_payment_action = forms.ChoiceField(
        label="Express Checkout payment action", choices=PAYMENT_ACTIONS, initial="authorize"
    )
    secret_fields = ("password",)

    def clean(self) -> dict:
        data = super().clean() or {}
        if data.get("authorization_for_required_amount") and not data.get("zero_amount_authorization"):
            self.add_error(
                "authorization_for_required_amount", "This option only applies with zero-amount authorization."
            )
        return data
