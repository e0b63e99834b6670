"""The buyer's company as each provider knows it: read before a payment, kept after one (see ProviderCustomer)."""

from __future__ import annotations

from integrations.models import ProviderCustomer


def provider_customer_reference(*, integration_id: int, customer_id: int | None) -> str:
    """The provider's id of a buyer's company at an integration, or "" when none was made yet."""
    if customer_id is None:
        return ""
    found = ProviderCustomer.objects.filter(integration_id=integration_id, customer_id=customer_id)
    return found.values_list("reference", flat=True).first() or ""


def provider_customer_remember(*, integration_id: int, customer_id: int | None, reference: str) -> None:
    """Keep (or replace, when the provider made a new one) the id the provider gave a buyer's company."""
    if customer_id is None or not reference:
        return
    ProviderCustomer.objects.update_or_create(
        integration_id=integration_id, customer_id=customer_id, defaults={"reference": reference[:255]}
    )
