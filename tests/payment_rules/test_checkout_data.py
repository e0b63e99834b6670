"""The checkout data the reference's rules read (issue 14, item 3): products carry weight, dimensions, category and
unit precision, line items expose them as the reference's payment context does, `shippingMethod` is set once
chosen, stock levels and the company's users exist, and query-backed data costs nothing until a rule reads it."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from checkout.models import Cart, CartLine, Category, Checkout, InventoryLevel, Product, Warehouse
from checkout.selectors import cart_lines, checkout_context
from orders.services import LineInput, order_create
from payment_rules.expression import build_variables, compile_expression
from payment_rules.matching import applicable_methods
from payment_rules.models import PaymentRule, PaymentRuleMethod
from payment_rules.selectors import DatabaseRuleData
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.fixture
def products() -> list[Product]:
    fasteners = Category.objects.create(name="Fasteners")
    bolt = Product.objects.create(
        sku="BOLT",
        name="Bolt",
        price=Decimal("12.50"),
        currency="USD",
        category=fasteners,
        unit="box",
        unit_precision=0,
        weight=Decimal("1.2"),
        length=Decimal("18"),
        width=Decimal("12"),
        height=Decimal("6"),
    )
    rope = Product.objects.create(
        sku="ROPE", name="Rope", price=Decimal("3.00"), currency="USD", unit="m", unit_precision=2
    )  # sold by the metre, no shipping data recorded
    north, south = Warehouse.objects.create(name="North"), Warehouse.objects.create(name="South")
    InventoryLevel.objects.create(product=bolt, warehouse=south, quantity=Decimal(7))
    InventoryLevel.objects.create(product=bolt, warehouse=north, quantity=Decimal(40))
    return [bolt, rope]


@pytest.fixture
def buyer():  # noqa: ANN201
    return factories.CustomerUserFactory()


def checkout_of(buyer, products: list[Product], shipping_method: str = "flat_rate", quantity: int = 3):  # noqa: ANN001, ANN201
    cart = Cart.objects.create(customer_user=buyer)
    for product in products:
        CartLine.objects.create(cart=cart, product=product, quantity=quantity)
    checkout = Checkout.objects.create(cart=cart, billing_address={"country": "US"}, shipping_method=shipping_method)
    return checkout_context(checkout=checkout, lines=cart_lines(cart=cart), buyer=buyer)


def test_line_items_expose_the_products_shipping_data_category_and_unit(buyer, products) -> None:  # noqa: ANN001
    bolt, rope = build_variables(checkout_of(buyer, products), DatabaseRuleData())["lineItems"]
    assert bolt.weight.value == Decimal("1.2")
    assert bolt.weight.unit.code == "kg"
    assert (bolt.dimensions.value.length, bolt.dimensions.value.width, bolt.dimensions.value.height) == (18, 12, 6)
    assert bolt.dimensions.unit.code == "cm"
    assert (bolt.product.category.id, bolt.product.category.name) == (products[0].category_id, "Fasteners")
    assert (bolt.productUnit.code, bolt.product.primaryUnitPrecision.precision) == ("box", 0)
    assert [(p.unit.code, p.precision, p.sell) for p in bolt.product.unitPrecisions] == [("box", 0, True)]
    assert (rope.productUnit.code, rope.product.primaryUnitPrecision.precision) == ("m", 2)
    assert (rope.weight, rope.dimensions, rope.product.category) == (None, None, None)  # unknown, not zero


def test_stock_levels_per_warehouse(buyer, products) -> None:  # noqa: ANN001
    variables = build_variables(checkout_of(buyer, products), DatabaseRuleData())
    levels = variables["lineItems"][0].product.inventoryLevels
    assert [(level.warehouse.name, level.quantity) for level in levels] == [("North", 40), ("South", 7)]
    assert levels[0].productUnitPrecision.unit.code == "box"
    assert variables["lineItems"][1].product.inventoryLevels == []


def test_stock_is_read_in_one_query_for_all_lines_and_only_when_a_condition_needs_it(buyer, products) -> None:  # noqa: ANN001
    variables = build_variables(checkout_of(buyer, products), DatabaseRuleData())
    with CaptureQueriesContext(connection) as none:
        compile_expression("lineItems.all(lineItem.quantity > 0)").evaluate(variables)
    stock = compile_expression("lineItems.all(lineItem.product.inventoryLevels.any(inventoryLevel.quantity >= 3))")
    with CaptureQueriesContext(connection) as once:
        assert stock.evaluate(variables) is False  # the rope has no stock
        assert stock.evaluate(variables) is False
    assert (len(none), len(once)) == (0, 1)


def test_customer_users_are_the_companys_users(buyer) -> None:  # noqa: ANN001
    colleague = factories.CustomerUserFactory(customer=buyer.customer)
    factories.CustomerUserFactory()  # another company's
    variables = build_variables(checkout_of(buyer, []), DatabaseRuleData())
    with CaptureQueriesContext(connection) as queries:
        emails = [user.email for user in variables["customer"].users]
    assert emails == [buyer.user.email, colleague.user.email]
    assert len(queries) == 1


def test_shipping_method_is_set_once_chosen(buyer, products) -> None:  # noqa: ANN001
    assert build_variables(checkout_of(buyer, products))["shippingMethod"] == "flat_rate"
    Cart.objects.all().delete()
    assert build_variables(checkout_of(buyer, products, shipping_method=""))["shippingMethod"] is None


def test_shipping_origin_comes_from_the_settings(buyer, products, settings) -> None:  # noqa: ANN001
    settings.SHIPPING_ORIGIN = {"country": "DE", "region_code": "DE-BY", "city": "München"}
    origin = build_variables(checkout_of(buyer, products))["shippingOrigin"]
    assert (origin.countryIso2, origin.countryIso3, origin.regionCode, origin.city) == ("DE", "DEU", "BY", "München")


def test_an_order_keeps_its_shipping_method_and_reads_its_products(buyer, products) -> None:  # noqa: ANN001
    bolt = products[0]
    order = order_create(
        customer=buyer.customer,
        customer_user=buyer,
        currency="USD",
        lines=[LineInput(bolt.sku, bolt.name, Decimal(2), bolt.price, bolt.pk)],
        shipping_method="flat_rate",
    )
    variables = build_variables(order.checkout_context(), DatabaseRuleData())
    assert variables["shippingMethod"] == "flat_rate"
    assert compile_expression("lineItems.sum(lineItem.weight.value * lineItem.quantity)").evaluate(variables) == (
        Decimal("2.4")
    )
    bolt.delete()  # a product deleted since: the order's line keeps what was bought, without shipping data
    line = build_variables(order.checkout_context())["lineItems"][0]
    assert (line.sku, line.product, line.weight) == ("BOLT", None, None)


def test_a_weight_rule_offers_its_method_at_checkout(buyer, products) -> None:  # noqa: ANN001
    checks = factories.IntegrationFactory()
    rule = PaymentRule.objects.create(
        name="Light orders", currency="USD", expression="lineItems.sum(lineItem.weight.value * lineItem.quantity) < 5"
    )
    PaymentRuleMethod.objects.create(rule=rule, integration=checks, method=f"money_order_{checks.pk}")
    light = checkout_of(buyer, products[:1])  # 3 boxes of 1.2 kg
    assert [m.identifier for m in applicable_methods(light)] == [f"money_order_{checks.pk}"]
    Cart.objects.all().delete()
    heavy = checkout_of(buyer, products[:1], quantity=5)  # 6 kg
    assert applicable_methods(heavy) == []


def test_the_back_office_edits_shipping_data_and_stock(client, products) -> None:  # noqa: ANN001
    client.force_login(factories.UserFactory(superuser=True))
    rope = products[1]
    north = Warehouse.objects.get(name="North")
    form = {
        "sku": "ROPE",
        "name": "Rope",
        "price": "3.00",
        "currency": "USD",
        "active": "on",
        "category": "",
        "unit": "m",
        "unit_precision": "2",
        "weight": "0.08",
        "weight_unit": "kg",
        "length": "",
        "width": "",
        "height": "1",
        "dimension_unit": "cm",
        "inventory_levels-TOTAL_FORMS": "1",
        "inventory_levels-INITIAL_FORMS": "0",
        "inventory_levels-0-warehouse": str(north.pk),
        "inventory_levels-0-quantity": "250",
    }
    url = f"/admin/checkout/product/{rope.pk}/change/"
    assert "Give length, width and height together" in client.post(url, form).content.decode()
    response = client.post(url, {**form, "height": ""})
    assert response.status_code == 302
    rope.refresh_from_db()
    assert (rope.weight, rope.inventory_levels.get().quantity) == (Decimal("0.08"), 250)
