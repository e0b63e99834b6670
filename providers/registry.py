"""Provider key -> adapter class and settings form: an explicit mapping.

Importing this module registers nothing and imports no SDK: classes are loaded on first use, so a page
that only lists integrations does not pay for the Stripe or Authorize.Net packages.
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass
from functools import cache
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from django import forms

    from providers.base import Adapter


@dataclass(frozen=True, slots=True)
class ProviderSpec:
    key: str
    label: str
    adapter_path: str
    form_path: str


PROVIDERS: dict[str, ProviderSpec] = {
    spec.key: spec
    for spec in [
        ProviderSpec(
            "money_order",
            "Check / Money Order",
            "providers.money_order.adapter.MoneyOrderAdapter",
            "providers.money_order.forms.SettingsForm",
        ),
        ProviderSpec(
            "payment_term",
            "Payment Terms",
            "providers.payment_term.adapter.PaymentTermAdapter",
            "providers.payment_term.forms.SettingsForm",
        ),
        ProviderSpec(
            "stripe",
            "Stripe",
            "providers.stripe.adapter.StripeAdapter",
            "providers.stripe.forms.SettingsForm",
        ),
        ProviderSpec(
            "payflow",
            "PayPal Payflow Gateway",
            "providers.payflow.adapter.PayflowAdapter",
            "providers.payflow.forms.SettingsForm",
        ),
        ProviderSpec(
            "payflow_pro",
            "PayPal Payments Pro",
            "providers.payflow.adapter.PayflowProAdapter",
            "providers.payflow.forms.SettingsForm",
        ),
        ProviderSpec(
            "authorizenet",
            "Authorize.Net",
            "providers.authorizenet.adapter.AuthorizeNetAdapter",
            "providers.authorizenet.forms.SettingsForm",
        ),
        ProviderSpec(
            "infinitepay",
            "InfinitePay",
            "providers.infinitepay.adapter.InfinitePayAdapter",
            "providers.infinitepay.forms.SettingsForm",
        ),
        ProviderSpec(
            "oropay",
            "OroPay",
            "providers.oropay.adapter.OroPayAdapter",
            "providers.oropay.forms.SettingsForm",
        ),
        ProviderSpec(
            "apruve",
            "Apruve",
            "providers.apruve.adapter.ApruveAdapter",
            "providers.apruve.forms.SettingsForm",
        ),
        ProviderSpec(
            "wirecard",
            "Wirecard Checkout Seamless",
            "providers.wirecard.adapter.WirecardAdapter",
            "providers.wirecard.forms.SettingsForm",
        ),
    ]
}
ADAPTERS = frozenset(PROVIDERS)


def _load(path: str) -> type:
    module_name, _, attr = path.rpartition(".")
    return getattr(importlib.import_module(module_name), attr)


@cache
def adapter_class(key: str) -> type[Adapter]:
    """The adapter class of a provider key; KeyError for an unknown key."""
    return _load(PROVIDERS[key].adapter_path)


@cache
def settings_form_class(key: str) -> type[forms.Form]:
    """The provider's integration-settings form (its own fields; which are secret is `secret_fields`)."""
    return _load(PROVIDERS[key].form_path)


def provider_choices() -> list[tuple[str, str]]:
    return [(spec.key, spec.label) for spec in PROVIDERS.values()]
