"""The confirmation form of a payment operation. Its hidden key makes a double submit move money once."""

from __future__ import annotations

import uuid
from collections.abc import Sequence
from typing import Any, cast

from django import forms

from backoffice.operations import Operation
from payments.money import MoneyError, parse_amount
from providers.base import Money


def fresh_key() -> str:
    return str(uuid.uuid4())


OUTCOMES = (
    ("succeeded", "The payment went through at the provider"),
    ("failed", "No money moved at the provider"),
)


class PaymentOperationForm(forms.Form):
    key = forms.UUIDField(widget=forms.HiddenInput)
    amount = forms.CharField(label="Amount", max_length=32)
    reason = forms.ChoiceField(label="Reason", required=False)
    outcome = forms.ChoiceField(label="What the provider shows", choices=OUTCOMES, widget=forms.RadioSelect)
    reference = forms.CharField(
        label="Provider reference",
        max_length=255,
        required=False,
        help_text="The provider's id of the payment that went through (e.g. pi_…), if this row has none.",
    )
    note = forms.CharField(label="Note", widget=forms.Textarea(attrs={"rows": 3, "cols": 60}), max_length=2000)

    def __init__(
        self,
        *args: Any,
        operation: Operation,
        currency: str,
        partial: bool,
        reasons: Sequence[tuple[str, str]] = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(*args, **kwargs)
        self.operation = operation
        self.currency = currency
        if operation != Operation.RESOLVE:
            del self.fields["outcome"]
            del self.fields["reference"]
        if operation in (Operation.CANCEL, Operation.RELEASE, Operation.RESOLVE):
            del self.fields["amount"]  # a cancel releases all that is left; a resolution records the row as it is
        else:
            amount = self.fields["amount"]
            amount.label = f"Amount ({currency})"
            if partial:
                amount.help_text = {
                    Operation.CAPTURE: "Lower it to capture part of the payment.",
                    Operation.REFUND: "Lower it to refund part of the payment.",
                }[operation]
            else:
                amount.widget.attrs["readonly"] = True
                amount.help_text = "This provider takes the whole amount only."
        if operation == Operation.REFUND and reasons:
            cast(forms.ChoiceField, self.fields["reason"]).choices = [("", "—"), *reasons]
        else:
            del self.fields["reason"]
        # The reference asks for a note on cancel and refund; on capture it is optional (e.g. "Check #1001").
        self.fields["note"].required = operation != Operation.CAPTURE

    def clean_amount(self) -> Money:
        try:
            return parse_amount(self.cleaned_data["amount"], self.currency)
        except MoneyError as exc:
            raise forms.ValidationError(str(exc)) from exc
