"""What payment-rule conditions can read: the variables of the reference's payment context and their fields.

The schema is checked when a rule is saved: an unknown variable or field is refused with the list of what
exists (the reference would read it as null and the rule would silently never match), and so is a documented
field this product deliberately does not provide, with the reason. ``variables.build_variables`` builds exactly
these fields (a test holds the two together). Collection sizes are those of a large cart, for the worst-case
estimate of the evaluation budget.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(frozen=True, slots=True)
class Scalar:
    kind: str  # "string", "number", "boolean"
    #: what the value is coded as, so literals compared with it can be checked: "iso2", "iso3", "region"
    code: str = ""
    #: the most characters a string can have, when known (a literal, a concatenation of literals)
    length: int = 0


@dataclass(frozen=True, slots=True)
class Record:
    name: str
    fields: dict[str, Shape]
    #: documented fields of the reference that are deliberately not provided, with the reason
    unsupported: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class Collection:
    item: Shape
    #: how many items a large cart has, for the worst-case estimate of the evaluation budget
    worst_case: int
    #: the elements of every item, however deeply nested, when known better than from ``item`` (a literal)
    weight: int | None = None


@dataclass(frozen=True, slots=True)
class Unknown:
    """A value whose shape is not known before evaluation (a hash literal, an element of an array literal)."""


Shape = Scalar | Record | Collection | Unknown

STRING = Scalar("string")
NUMBER = Scalar("number")
BOOLEAN = Scalar("boolean")
UNKNOWN = Unknown()

#: characters assumed for a string field of the checkout (streets, names and emails have at most 255)
DATA_STRING_LENGTH = 255

#: a large cart: the worst case a condition is estimated on when it is saved
LARGE_CART_LINES = 100
WAREHOUSES = 10
UNIT_PRECISIONS = 5
KIT_ITEMS = 10
COMPANY_USERS = 100

CODE = Record("unit", {"code": STRING})
MONEY = Record("amount", {"value": NUMBER, "currency": STRING})
UNIT_PRECISION = Record(
    "unit precision",
    {"unit": CODE, "precision": NUMBER, "sell": BOOLEAN, "conversionRate": NUMBER},
    unsupported={
        "id": "a product here is sold in one unit, which has no record of its own; "
        "test unit.code and precision instead",
    },
)
WAREHOUSE = Record("warehouse", {"id": NUMBER, "name": STRING})
INVENTORY_LEVEL = Record(
    "inventory level",
    {"id": NUMBER, "quantity": NUMBER, "productUnitPrecision": UNIT_PRECISION, "warehouse": WAREHOUSE},
)
CATEGORY = Record("category", {"id": NUMBER, "name": STRING})
PRODUCT = Record(
    "product",
    {
        "id": NUMBER,
        "sku": STRING,
        "name": STRING,
        "type": STRING,
        "category": CATEGORY,
        "primaryUnitPrecision": UNIT_PRECISION,
        "unitPrecisions": Collection(UNIT_PRECISION, UNIT_PRECISIONS),
        "inventoryLevels": Collection(INVENTORY_LEVEL, WAREHOUSES),
    },
)
WEIGHT = Record("weight", {"value": NUMBER, "unit": CODE})
DIMENSIONS = Record(
    "dimensions",
    {"value": Record("dimensions value", {"length": NUMBER, "width": NUMBER, "height": NUMBER}), "unit": CODE},
)
KIT_ITEM = Record(
    "kit item",
    {
        "id": NUMBER,
        "defaultLabel": STRING,
        "optional": BOOLEAN,
        "sortOrder": NUMBER,
        "minimumQuantity": NUMBER,
        "maximumQuantity": NUMBER,
    },
)
KIT_ITEM_LINE_ITEM = Record(
    "kit item line item",
    {"kitItem": KIT_ITEM, "product": PRODUCT, "productUnit": CODE, "quantity": NUMBER, "price": MONEY},
)
LINE_ITEM = Record(
    "line item",
    {
        "product": PRODUCT,
        "sku": STRING,
        "name": STRING,
        "productUnit": CODE,
        "quantity": NUMBER,
        "price": MONEY,
        "weight": WEIGHT,
        "dimensions": DIMENSIONS,
        "checksum": STRING,
        "kitItemLineItems": Collection(KIT_ITEM_LINE_ITEM, KIT_ITEMS),
    },
)
ADDRESS = Record(
    "address",
    {
        "street": STRING,
        "street2": STRING,
        "city": STRING,
        "regionName": STRING,
        "regionCode": Scalar("string", "region"),
        "postalCode": STRING,
        "countryName": STRING,
        "countryIso2": Scalar("string", "iso2"),
        "countryIso3": Scalar("string", "iso3"),
        "organization": STRING,
        "firstName": STRING,
        "lastName": STRING,
    },
)
PAYMENT_TERM = Record("payment term", {"id": NUMBER, "label": STRING})
USER = Record(
    "customer user",
    {"id": NUMBER, "email": STRING, "firstName": STRING, "middleName": STRING, "lastName": STRING, "fullName": STRING},
)
CUSTOMER = Record(
    "customer",
    {
        "id": NUMBER,
        "name": STRING,
        "vatId": STRING,
        "group": Record("customer group", {"id": NUMBER, "name": STRING, "payment_term_7c4f1e8e": PAYMENT_TERM}),
        "payment_term_7c4f1e8e": PAYMENT_TERM,
        "users": Collection(USER, COMPANY_USERS),
    },
)

#: the variables of the reference's payment context (BasicPaymentContextToRulesValueConverter), plus ``total``
VARIABLES: dict[str, Shape] = {
    "lineItems": Collection(LINE_ITEM, LARGE_CART_LINES),
    "billingAddress": ADDRESS,
    "shippingAddress": ADDRESS,
    "shippingOrigin": ADDRESS,
    "shippingMethod": STRING,
    "currency": STRING,
    "subtotal": MONEY,
    "total": MONEY,
    "customer": CUSTOMER,
    "customerUser": USER,
}
UNSUPPORTED_VARIABLES = {
    "paymentMethod": "it belongs to shipping rules; payment rules decide which payment methods are offered, "
    "so a payment method is not chosen yet when they run",
}
