"""Storefront forms: login, cart quantities and the checkout steps."""

from __future__ import annotations

from functools import cache
from typing import Any

from babel import Locale
from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.contrib.auth.models import User
from django.forms.utils import flatatt
from django.urls import reverse
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from checkout.models import MAX_QUANTITY
from checkout.shipping import SHIPPING_METHODS
from core.addresses import country_regions
from orders.models import PO_NUMBER_MAX_LENGTH


class BuyerLoginForm(AuthenticationForm):
    """Only customer users may sign in to the storefront; staff use the back-office."""

    username = forms.CharField(
        label="Email", widget=forms.EmailInput(attrs={"autofocus": True, "autocomplete": "email"})
    )

    error_messages = {
        **AuthenticationForm.error_messages,
        "not_a_buyer": "This account cannot buy in the shop. Please sign in with a customer account.",
    }

    def confirm_login_allowed(self, user: User) -> None:
        super().confirm_login_allowed(user)
        if not hasattr(user, "customer_user"):
            raise forms.ValidationError(self.error_messages["not_a_buyer"], code="not_a_buyer")


class QuantityField(forms.IntegerField):
    """A quantity typed by a buyer: the digits 0-9 only.

    Django's IntegerField reads with Python's int(), which takes `1_000`, full-width `１０` and other scripts'
    digits; a typo must not order a thousand.
    """

    default_error_messages = {"invalid": "Enter a whole number using the digits 0-9."}

    def to_python(self, value: object) -> int | None:
        if isinstance(value, str):
            value = value.strip()
            if value and not (value.isascii() and value.isdigit()):
                raise forms.ValidationError(self.error_messages["invalid"], code="invalid")
            if len(value) > 9:
                raise forms.ValidationError(f"Enter a quantity of at most {MAX_QUANTITY:,}.", code="max_value")
        return super().to_python(value)


class AddToCartForm(forms.Form):
    product = forms.IntegerField(widget=forms.HiddenInput)
    quantity = QuantityField(min_value=1, max_value=MAX_QUANTITY, initial=1)


class QuantityForm(forms.Form):
    quantity = QuantityField(min_value=0, max_value=MAX_QUANTITY)


@cache
def country_choices() -> list[tuple[str, str]]:
    territories = Locale("en").territories
    countries = sorted(
        ((code, name) for code, name in territories.items() if len(code) == 2 and code.isalpha() and code != "ZZ"),
        key=lambda item: item[1],
    )
    return [("", "Choose a country"), *countries]


@cache
def _country_options() -> tuple[tuple[str, str, str], ...]:
    """Each country's <option> as HTML, unselected and selected, escaped once per process."""
    return tuple(
        (
            code,
            format_html('<option value="{}">{}</option>', code, name),
            format_html('<option value="{}" selected>{}</option>', code, name),
        )
        for code, name in country_choices()
    )


class CountrySelect(forms.Select):
    """The country list rendered from options escaped once per process. Django's Select renders each of ~250
    options through a template of its own, which was most of the address step's time."""

    def render(self, name: str, value: Any, attrs: dict[str, Any] | None = None, renderer: Any = None) -> SafeString:
        chosen = "" if value is None else str(value)
        options = "".join(selected if code == chosen else plain for code, plain, selected in _country_options())
        tag_attrs = flatatt(self.build_attrs(self.attrs, {**(attrs or {}), "name": name}))
        return mark_safe(f"<select{tag_attrs}>{options}</select>")  # noqa: S308 - attributes and options escaped


class AddressForm(forms.Form):
    first_name = forms.CharField(label="First name", max_length=100)
    last_name = forms.CharField(label="Last name", max_length=100)
    organization = forms.CharField(label="Company", max_length=200, required=False)
    street = forms.CharField(label="Street address", max_length=200)
    street2 = forms.CharField(label="Street address, line 2", max_length=200, required=False)
    city = forms.CharField(label="City", max_length=100)
    region_code = forms.CharField(
        label="State or region",
        max_length=16,
        required=False,
        widget=forms.Select,
        help_text="The regions of the chosen country; choose the country first.",
    )
    postal_code = forms.CharField(label="Postal code", max_length=20)
    country = forms.ChoiceField(label="Country", choices=country_choices, widget=CountrySelect)
    phone = forms.CharField(label="Phone", max_length=40, required=False)

    AUTOCOMPLETE = {
        "first_name": "given-name",
        "last_name": "family-name",
        "organization": "organization",
        "street": "address-line1",
        "street2": "address-line2",
        "city": "address-level2",
        "region_code": "off",
        "postal_code": "postal-code",
        "country": "country",
        "phone": "tel",
    }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        for name, value in self.AUTOCOMPLETE.items():
            self.fields[name].widget.attrs["autocomplete"] = value
        # the region dropdown lists the regions of the country the form shows (posted, or saved before); a script
        # refills it when the buyer picks another country, and without one the server asks again (see `clean`)
        country = str(self._raw("country") or "").upper()
        regions = country_regions(country)
        region = self.fields["region_code"]
        region.widget.choices = [("", "Choose a region" if regions else "None for this country"), *regions]
        region.widget.attrs["data-regions-url"] = reverse("storefront:regions")

    def _raw(self, name: str) -> object:
        if self.is_bound:
            return self.data.get(self.add_prefix(name), "")
        return self.initial.get(name, "")

    def clean_region_code(self) -> str:
        return self.cleaned_data["region_code"].strip().upper()

    def clean(self) -> dict:
        data = super().clean() or {}
        region, country = data.get("region_code", ""), data.get("country", "")
        if not country:
            return data
        regions = dict(country_regions(country))
        if region and region not in regions:
            self.add_error("region_code", "Choose a region of the chosen country.")
        else:
            data["region_name"] = regions.get(region, "")
        return data


class PONumberForm(forms.Form):
    """The buyer's purchase order number: what Authorize.Net (`poNumber`) and Payflow (`PONUM`) take, at most 25
    letters, digits, spaces and - _ / . # (no & or =, which name-value requests would have to escape)."""

    po_number = forms.RegexField(
        label="PO number",
        required=False,
        max_length=PO_NUMBER_MAX_LENGTH,
        regex=r"^[A-Za-z0-9][A-Za-z0-9 ._/#-]*$",
        strip=True,
        error_messages={"invalid": "Use letters, digits, spaces and - _ / . # only."},
        help_text="Optional: your purchase order number, shown on the order and its invoices.",
        widget=forms.TextInput(attrs={"autocomplete": "off"}),
    )

    def clean_po_number(self) -> str:
        return " ".join(self.cleaned_data["po_number"].split())


class ShippingForm(forms.Form):
    ship_to_billing = forms.BooleanField(label="Ship to the billing address", required=False)


class ShippingMethodForm(forms.Form):
    shipping_method = forms.ChoiceField(
        label="Shipping method",
        widget=forms.RadioSelect,
        choices=[(m.key, m.label) for m in SHIPPING_METHODS.values()],
    )
