"""Validation at save (issue 14, item 6): unknown variables and fields are refused with the list of what exists,
documented fields this product does not provide are refused with the reason, and country and region codes come
from ISO 3166 (pycountry's data), in conditions and in destinations."""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError

from payment_rules.expression import ExpressionSyntaxError, Lazy, Obj, build_variables, validate_expression
from payment_rules.expression.schema import VARIABLES, Collection, Record, Shape
from payment_rules.models import PaymentRule, PaymentRuleDestination
from providers.base import (
    AddressInfo,
    CheckoutContext,
    CustomerGroupInfo,
    CustomerInfo,
    CustomerUserInfo,
    Dimensions,
    LineItemInfo,
    Money,
    PaymentTermInfo,
    Weight,
)


def refusal(source: str) -> str:
    with pytest.raises(ExpressionSyntaxError) as error:
        validate_expression(source)
    return str(error.value)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "account = 1",  # the reference's old example on its rules page: null there, so never true
            "Unknown variable 'account'; the variables are: lineItems, billingAddress, shippingAddress, "
            "shippingOrigin, shippingMethod, currency, subtotal, total, customer, customerUser at position 0",
        ),
        ("lineItem.quantity > 1", "Unknown variable 'lineItem'"),  # only inside lineItems.any(…)
        (
            "customer.grup.name = 'Wholesale'",
            "customer has no field 'grup'; its fields are: id, name, vatId, group, payment_term_7c4f1e8e, users",
        ),
        (
            "lineItems.any(lineItem.product.weight > 1)",
            "lineItem.product has no field 'weight'; its fields are: id, sku, name, type, category, "
            "primaryUnitPrecision, unitPrecisions, inventoryLevels",
        ),
        (
            "lineItems[1].product.price > 1000.00",  # the docs' element example; a product has no price there either
            "lineItems[1].product has no field 'price'",
        ),
        ("billingAddress.country = 'US'", "billingAddress has no field 'country'; its fields are: street,"),
        ("subtotal.amount > 1", "subtotal has no field 'amount'; its fields are: value, currency"),
        ("lineItems.quantity > 1", "lineItems is a list: read its items with lineItems.any(…)"),
        ("currency.code = 'USD'", "currency is a string; it has no field 'code'"),
        ("customer.name.any(true)", "customer.name is not a list"),
        ("count(billingAddress) > 0", "count() needs a list; billingAddress is not one"),
        (
            "paymentMethod = 'payflow_1'",
            "Variable 'paymentMethod' is not available to payment rules: it belongs to shipping rules",
        ),
        (
            "lineItems.any(lineItem.product.primaryUnitPrecision.id = 3)",
            "lineItem.product.primaryUnitPrecision.id is not supported: a product here is sold in one unit",
        ),
    ],
)
def test_unknown_and_unsupported_names_are_refused_with_what_exists(source: str, message: str) -> None:
    assert message in refusal(source)


@pytest.mark.parametrize(
    "source",
    [
        "lineItems.any(lineItem.product.category.id = 4) and customer.users.any(user.email matches '/@acme/')",
        "lineItems.all(lineItem.product.unitPrecisions.any(unitPrecision.unit.code = lineItem.productUnit.code))",
        "lineItems[0].dimensions.value.length <= 120.0 and lineItems[0].weight.unit.code = 'kg'",
        "shippingMethod = 'flat_rate' and shippingOrigin.countryIso2 = 'US'",
        "customer.users[1].email = 'a@b.example' and customerUser.fullName = 'Amanda Cole'",
        "{a: 1}.b = 2 and [1, 2][0] = 1",  # literals have no schema: checked when evaluated
    ],
)
def test_documented_fields_are_accepted(source: str) -> None:
    validate_expression(source)


@pytest.mark.parametrize(
    ("source", "message"),
    [
        (
            "billingAddress.countryIso2 = 'UK'",
            "'UK' is not an ISO 3166-1 alpha-2 country code (the United Kingdom is 'GB')",
        ),
        ("billingAddress.countryIso2 in ['US', 'us']", "Country codes are upper case: 'US', not 'us'"),
        ("'XX' = shippingAddress.countryIso2", "'XX' is not an ISO 3166-1 alpha-2 country code"),
        ("billingAddress.countryIso3 != 'USX'", "'USX' is not an ISO 3166-1 alpha-3 country code"),
        ("billingAddress.regionCode = 'US-NY'", "regionCode holds the region's own code: 'NY', not 'US-NY'"),
        ("billingAddress.regionCode not in ['NY', 'QQ9']", "'QQ9' is not the code of an ISO 3166-2 region"),
    ],
)
def test_country_and_region_codes_in_conditions_come_from_iso_3166(source: str, message: str) -> None:
    assert message in refusal(source)


def test_valid_codes_pass() -> None:
    validate_expression(
        "billingAddress.countryIso2 in ['US', 'DE', 'GB'] and billingAddress.countryIso3 = 'USA' "
        "and billingAddress.regionCode in ['NY', 'BY', ''] and shippingAddress.countryIso2 != 'XK'"
    )


pytestmark_db = pytest.mark.django_db


@pytestmark_db
@pytest.mark.parametrize(
    ("country", "region", "field", "message"),
    [
        ("UK", "", "country", "'UK' is not an ISO 3166-1 alpha-2 country code. The United Kingdom is GB."),
        ("XX", "", "country", "'XX' is not an ISO 3166-1 alpha-2 country code."),
        ("US", "US-XX", "region_code", "US-XX is not an ISO 3166-2 region of United States. For example: US-AK"),
        ("US", "CA-ON", "region_code", 'A region of United States starts with "US-".'),
    ],
)
def test_destinations_are_iso_3166(country: str, region: str, field: str, message: str) -> None:
    rule = PaymentRule.objects.create(name="r", currency="USD")
    with pytest.raises(ValidationError) as error:
        PaymentRuleDestination(rule=rule, country=country, region_code=region).full_clean()
    assert message in error.value.message_dict[field][0]


@pytestmark_db
def test_a_valid_destination_is_normalised() -> None:
    rule = PaymentRule.objects.create(name="r", currency="USD")
    destination = PaymentRuleDestination(rule=rule, country="de", region_code="de-by")
    destination.full_clean()
    assert (destination.country, destination.region_code) == ("DE", "DE-BY")


@pytestmark_db
def test_the_rule_form_refuses_an_unknown_field() -> None:
    with pytest.raises(ValidationError) as error:
        PaymentRule(name="bad", currency="USD", expression="customer.vat = 'x'").full_clean()
    assert "customer has no field 'vat'" in error.value.message_dict["expression"][0]


# --- the schema and the variables agree ---------------------------------------------------------------


def full_context() -> CheckoutContext:
    usd = Money(Decimal("10.00"), "USD")
    address = AddressInfo(country_iso2="US", region_code="US-NY")
    line = LineItemInfo(
        "SKU-1",
        "Widget",
        Decimal(1),
        usd,
        product_id=1,
        category_id=2,
        category_name="Tools",
        weight=Weight(Decimal(1), "kg"),
        dimensions=Dimensions(Decimal(1), Decimal(2), Decimal(3), "cm"),
    )
    term = PaymentTermInfo(1, "Net 30")
    return CheckoutContext(
        currency="USD",
        subtotal=usd,
        total=usd,
        line_items=[line],
        billing_address=address,
        shipping_address=address,
        shipping_origin=address,
        shipping_method="flat_rate",
        customer=CustomerInfo(1, "ACME", group=CustomerGroupInfo(1, "Wholesale", term), payment_term=term),
        customer_user=CustomerUserInfo(1, "a@acme.example", "Ada", "Buyer"),
    )


class OneOfEach:
    def inventory_levels(self, product_ids: Any) -> Any:
        from payment_rules.expression import InventoryLevelData

        return {1: [InventoryLevelData(id=1, quantity=Decimal(5), warehouse_id=1, warehouse_name="Main")]}

    def customer_users(self, customer_id: int) -> Any:
        return [CustomerUserInfo(1, "a@acme.example", "Ada", "Buyer")]


def assert_conforms(value: Any, shape: Shape, path: str) -> None:
    if type(value) is Lazy:
        value = value.get()
    if value is None:
        return
    if isinstance(shape, Record):
        assert isinstance(value, Obj), path
        assert set(value.as_dict()) == set(shape.fields), path
        for name, field in shape.fields.items():
            assert_conforms(value[name], field, f"{path}.{name}")
    elif isinstance(shape, Collection):
        assert isinstance(value, list), path
        for item in value:
            assert_conforms(item, shape.item, f"{path}[]")


def test_build_variables_gives_exactly_the_fields_of_the_schema() -> None:
    variables = build_variables(full_context(), OneOfEach())
    assert set(variables) == set(VARIABLES)
    for name, shape in VARIABLES.items():
        assert variables[name] is not None, name
        assert_conforms(variables[name], shape, name)
    assert variables["lineItems"][0].product.inventoryLevels[0].warehouse.name == "Main"
    assert variables["customer"].users[0].email == "a@acme.example"
