"""Addresses as payment rules and providers see them (`providers.base.AddressInfo`), from the plain dicts the
checkout stores and the settings hold; the order's own `Address` rows convert themselves (`Address.as_info`)."""

from __future__ import annotations

from django.conf import settings

from providers.base import AddressInfo


def address_info(address: dict) -> AddressInfo | None:
    """An address as a checkout stores it (the address form's fields), as rules and providers see it."""
    if not address:
        return None
    return AddressInfo(
        country_iso2=address.get("country", ""),
        region_code=address.get("region_code", ""),
        region_name=address.get("region_name", ""),
        postal_code=address.get("postal_code", ""),
        city=address.get("city", ""),
        street=address.get("street", ""),
        street2=address.get("street2", ""),
        organization=address.get("organization", ""),
        first_name=address.get("first_name", ""),
        last_name=address.get("last_name", ""),
    )


def shipping_origin() -> AddressInfo | None:
    """Where goods ship from (settings.SHIPPING_ORIGIN), or None when no country is configured."""
    origin = settings.SHIPPING_ORIGIN
    return address_info(origin) if origin.get("country") else None
