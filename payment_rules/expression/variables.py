"""The variables a condition sees for one checkout, built from its ``CheckoutContext`` as the reference's payment
context exposes them (``schema.VARIABLES`` lists every field).

Data that costs a query and that few rules read (a product's stock levels per warehouse, the users of the
buyer's company) comes through :class:`RuleData` and is loaded only when a condition reads it, once per context
and for all lines at once.
"""

from __future__ import annotations

import functools
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from decimal import Decimal
from typing import TYPE_CHECKING, Any, Protocol

import pycountry

from payment_rules.expression.values import Lazy, MoneyObj, Obj

if TYPE_CHECKING:
    from providers.base import AddressInfo, CheckoutContext, CustomerUserInfo, LineItemInfo, Money

#: ISO 3166 has no code for Kosovo; banks and card networks use XK / XKX, and so do addresses here
_KOSOVO = {"XK": ("XKX", "Kosovo")}


@dataclass(frozen=True, slots=True)
class InventoryLevelData:
    """A product's stock in one warehouse, in the unit it is sold in."""

    id: int
    quantity: Decimal
    warehouse_id: int
    warehouse_name: str


class RuleData(Protocol):
    """Where the query-backed variables come from (the database in production, plain data in tests)."""

    def inventory_levels(self, product_ids: Sequence[int]) -> Mapping[int, Sequence[InventoryLevelData]]: ...

    def customer_users(self, customer_id: int) -> Sequence[CustomerUserInfo]: ...


@functools.lru_cache(maxsize=1)
def _english_territories() -> Mapping[str, str]:
    from babel import Locale

    return Locale("en").territories


def country_name(iso2: str) -> str:
    """The English short name, as the reference shows it (CLDR: "United States", "South Korea")."""
    return str(_english_territories().get(iso2, "")) if iso2 else ""


def country_iso3(iso2: str) -> str:
    if iso2 in _KOSOVO:
        return _KOSOVO[iso2][0]
    country = pycountry.countries.get(alpha_2=iso2) if len(iso2) == 2 else None
    return country.alpha_3 if country is not None else ""


def _money(money: Money) -> MoneyObj:
    return MoneyObj(money.amount, money.currency)


def _address(address: AddressInfo | None) -> Obj | None:
    if address is None:
        return None
    iso2 = address.country_iso2.upper()
    region_code = address.region_code
    if iso2 and region_code.upper().startswith(iso2 + "-"):
        region_code = region_code[len(iso2) + 1 :]  # the reference's regionCode is the region's own code: "NY"
    return Obj(
        street=address.street,
        street2=address.street2,
        city=address.city,
        regionName=address.region_name,
        regionCode=region_code,
        postalCode=address.postal_code,
        countryName=country_name(iso2),
        countryIso2=iso2,
        countryIso3=country_iso3(iso2),
        organization=address.organization,
        firstName=address.first_name,
        lastName=address.last_name,
    )


def _unit_precision(line: LineItemInfo) -> Obj:
    return Obj(unit=Obj(code=line.unit_code), precision=line.unit_precision, sell=True, conversionRate=Decimal(1))


def _line_item(line: LineItemInfo, levels: Lazy) -> Obj:
    precision = _unit_precision(line)
    product = None
    if line.product_id is not None:
        category = None if line.category_id is None else Obj(id=line.category_id, name=line.category_name)
        product = Obj(
            id=line.product_id,
            sku=line.sku,
            name=line.name,
            type="simple",  # no product kits are sold here
            category=category,
            primaryUnitPrecision=precision,
            unitPrecisions=[precision],
            inventoryLevels=levels,
        )
    weight = line.weight
    dimensions = line.dimensions
    return Obj(
        product=product,
        sku=line.sku,
        name=line.name,
        productUnit=Obj(code=line.unit_code),
        quantity=line.quantity,
        price=_money(line.unit_price),
        weight=None if weight is None else Obj(value=weight.value, unit=Obj(code=weight.unit)),
        dimensions=None
        if dimensions is None
        else Obj(
            value=Obj(length=dimensions.length, width=dimensions.width, height=dimensions.height),
            unit=Obj(code=dimensions.unit),
        ),
        checksum="",  # the reference sets it for product kits only
        kitItemLineItems=[],
    )


def _user(user: CustomerUserInfo) -> Obj:
    return Obj(
        id=user.id,
        email=user.email,
        firstName=user.first_name,
        middleName="",
        lastName=user.last_name,
        fullName=" ".join(part for part in (user.first_name, user.last_name) if part),
    )


def build_variables(context: CheckoutContext, data: RuleData | None = None) -> dict[str, Any]:
    """The variables payment-rule expressions see for ``context`` (the keys of the reference's payment context).

    Without ``data`` the query-backed collections (``inventoryLevels``, ``customer.users``) are empty.
    """
    product_ids = [line.product_id for line in context.line_items if line.product_id is not None]

    @functools.cache
    def stock() -> Mapping[int, Sequence[InventoryLevelData]]:
        return data.inventory_levels(product_ids) if data is not None and product_ids else {}

    line_items = []
    for line in context.line_items:
        product_id = line.product_id if line.product_id is not None else -1
        precision = _unit_precision(line)

        def levels(product_id: int = product_id, precision: Obj = precision) -> list[Obj]:
            return [
                Obj(
                    id=level.id,
                    quantity=level.quantity,
                    productUnitPrecision=precision,
                    warehouse=Obj(id=level.warehouse_id, name=level.warehouse_name),
                )
                for level in stock().get(product_id, ())
            ]

        line_items.append(_line_item(line, Lazy(levels)))

    customer = context.customer
    customer_view = None
    if customer is not None:
        group = customer.group
        term = customer.resolved_payment_term
        customer_id = customer.id

        def users() -> list[Obj]:
            return [_user(user) for user in data.customer_users(customer_id)] if data is not None else []

        customer_view = Obj(
            id=customer.id,
            name=customer.name,
            vatId=customer.vat_id,
            group=None
            if group is None
            else Obj(
                id=group.id,
                name=group.name,
                payment_term_7c4f1e8e=None
                if group.payment_term is None
                else Obj(id=group.payment_term.id, label=group.payment_term.label),
            ),
            payment_term_7c4f1e8e=None if term is None else Obj(id=term.id, label=term.label),
            users=Lazy(users),
        )

    user = context.customer_user
    return {
        "lineItems": line_items,
        "billingAddress": _address(context.billing_address),
        "shippingAddress": _address(context.shipping_address),
        "shippingOrigin": _address(context.shipping_origin),
        "shippingMethod": context.shipping_method or None,
        "currency": context.currency,
        "subtotal": _money(context.subtotal),
        "total": _money(context.total),
        "customer": customer_view,
        "customerUser": None if user is None else _user(user),
    }
