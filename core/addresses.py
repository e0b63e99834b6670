"""Addresses as payment rules and providers see them (`providers.base.AddressInfo`), from the plain dicts the
checkout stores and the settings hold; the order's own `Address` rows convert themselves (`Address.as_info`)."""

from __future__ import annotations

from functools import cache

import pycountry
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


@cache
def country_regions(country: str) -> tuple[tuple[str, str], ...]:
    """The ISO 3166-2 subdivisions of a country (pycountry's data) as (combined code, name), by name; () for a
    country without any or a code that names none. What the address form offers and accepts as a region."""
    if len(country) != 2 or not country.isalpha():
        return ()
    found = pycountry.subdivisions.get(country_code=country.upper()) or ()
    return tuple(sorted(((s.code, s.name) for s in found), key=lambda item: item[1]))
