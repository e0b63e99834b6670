"""The confirmation form of a payment operation. Its hidden key makes a double submit move money once.

The amount is read by `payments.money.parse_amount` in the user's locale: the one parser of typed amounts.
"""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from django import forms
from django.utils import timezone

from backoffice.operations import Operation
from payments.money import MoneyError, decimal_symbol, format_money, parse_amount
from providers.base import Money


def fresh_key() -> str:
    return str(uuid.uuid4())


OUTCOMES = (
    ("succeeded", "The payment went through at the provider"),
    ("failed", "No money moved at the provider"),
)


class PaymentOperationForm(forms.Form):
    key = forms.UUIDField(widget=forms.HiddenInput)
    amount = forms.CharField(label="Amount", max_length=64)
    release_rest = forms.BooleanField(label="Release the rest", required=False)
    reason = forms.ChoiceField(label="Reason", required=False)
    outcome = forms.ChoiceField(label="What the provider shows", choices=OUTCOMES, widget=forms.RadioSelect)
    reference = forms.CharField(
        label="Provider reference",
        max_length=255,
        required=False,
        help_text="The provider's id of the payment that went through (e.g. pi_…), if this row has none.",
    )
    invoice_number = forms.CharField(label="Invoice number", max_length=50)
    invoice_date = forms.DateField(
        label="Invoice date", help_text="The payment term (the integration's due period) runs from this date."
    )
    tracking_number = forms.CharField(
        label="Tracking number",
        max_length=255,
        required=False,
        help_text="Optional: the shipment this invoice is for; it is added to the invoice at the provider.",
    )
    shipper = forms.CharField(label="Shipper", max_length=255, required=False, help_text="e.g. UPS, FedEx.")
    note = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000)

    def __init__(
        self,
        *args: Any,
        operation: Operation,
        currency: str,
        partial: bool,
        reasons: Sequence[tuple[str, str]] = (),
        held: Money | None = None,
        releases_rest: bool = False,
        locale: str | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.operation = operation
        self.currency = currency
        self.held = held
        self.releases_rest = releases_rest and operation == Operation.CAPTURE and held is not None
        self.locale = locale
        if operation != Operation.INVOICE:
            del self.fields["tracking_number"]
            del self.fields["shipper"]
        if operation != Operation.RESOLVE:
            del self.fields["outcome"]
            del self.fields["reference"]
        if operation != Operation.ACTIVATE:
            del self.fields["invoice_number"]
            del self.fields["invoice_date"]
        else:
            self.fields["invoice_date"].initial = timezone.localdate()
        if operation in (Operation.CANCEL, Operation.RELEASE, Operation.RESOLVE, Operation.ACTIVATE):
            del self.fields["amount"]  # a cancel releases all that is left; a resolution records the row as it is
        else:
            amount = self.fields["amount"]
            amount.label = f"Amount ({currency})"
            if partial:
                amount.help_text = {
                    Operation.CAPTURE: "Lower it to capture part of the payment.",
                    Operation.REFUND: "Lower it to refund part of the payment.",
                    Operation.INVOICE: "Lower it to invoice part of the payment; send the rest later.",
                }[operation]
            else:
                amount.widget.attrs["readonly"] = True
                amount.help_text = "This provider takes the whole amount only."
        if self.releases_rest:
            assert held is not None  # noqa: S101 - narrowed by releases_rest
            self.fields["amount"].help_text = (
                f"This provider takes one capture per authorization: whatever you do not capture now of the "
                f"{format_money(held)} held is released and can no longer be captured."
            )
            self.fields["release_rest"].help_text = "Confirm that the rest of the authorization is released."
        else:
            del self.fields["release_rest"]
        if operation == Operation.REFUND and reasons:
            cast(forms.ChoiceField, self.fields["reason"]).choices = [("", "—"), *reasons]
        else:
            del self.fields["reason"]
        # The reference asks for a note on cancel and refund; on capture it is optional (e.g. "Check #1001").
        self.fields["note"].required = operation not in (Operation.CAPTURE, Operation.ACTIVATE, Operation.INVOICE)

    @property
    def decimal_separator(self) -> str:
        """What the user types between units and cents (the page's script reads typed amounts with it)."""
        return decimal_symbol(self.locale)

    def clean_amount(self) -> Money:
        try:
            return parse_amount(self.cleaned_data["amount"], self.currency, self.locale)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from exc

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        amount = data.get("amount")
        if self.releases_rest and isinstance(amount, Money) and self.held is not None:
            rest = self.held.amount - amount.amount
            if 0 < rest and not data.get("release_rest"):
                self.add_error(
                    "release_rest",
                    f"Capturing {format_money(amount)} releases the rest: the remaining "
                    f"{format_money(Money(rest, amount.currency))} will be released and can no longer be captured. "
                    "Tick “Release the rest” to confirm.",
                )
        return data
