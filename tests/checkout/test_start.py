"""A buyer whose cart no payment method can serve is told when the checkout starts, on the cart page, before
entering any address (issue 14, item 7; reference §4.2, the start-checkout check)."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from checkout.models import Product
from payment_rules.models import PaymentRule
from tests.checkout.conftest import US_ADDRESS, add, prefixed, to_payment_step

BLOCKED = "No payment method is available for this order, so it cannot be checked out."


def only_rule(name: str) -> None:
    PaymentRule.objects.exclude(name=name).update(enabled=False)
    PaymentRule.objects.get(name=name).save()  # a saved rule moves the rule-set version: caches reload


def test_with_a_method_the_checkout_starts_at_the_billing_address(acme: Client) -> None:
    add(acme, "BOLT-M8")
    assert BLOCKED not in acme.get("/cart/").content.decode()
    assert acme.get("/checkout/")["Location"] == "/checkout/billing/"


def test_without_any_method_the_buyer_is_told_before_any_address(acme: Client) -> None:
    add(acme, "BOLT-M8")
    PaymentRule.objects.filter(currency="USD").update(enabled=False)
    PaymentRule.objects.filter(currency="EUR").first().save()  # a change the rule caches see

    response = acme.get("/checkout/")

    assert response["Location"] == "/cart/"
    page = acme.get("/cart/").content.decode()
    assert BLOCKED in page
    assert 'href="/checkout/"' not in page  # no "Check out" button
    assert acme.get("/checkout/billing/")["Location"] == "/cart/"  # nor a way round it
    response = acme.post("/checkout/billing/", prefixed("billing", US_ADDRESS))
    assert response["Location"] == "/cart/"


@pytest.mark.parametrize(("buyer", "startable"), [("acme", True), ("globex", False)])
def test_the_providers_own_gate_counts(buyer: str, startable: bool, request: pytest.FixtureRequest) -> None:
    # only the payment-terms rule is left: ACME has a term, Globex has none, so no method could ever be offered
    client: Client = request.getfixturevalue(buyer)
    only_rule("Payment terms on orders from 5,000 (USD)")
    add(client, "BOLT-M8")
    location = client.get("/checkout/")["Location"]
    assert location == ("/checkout/billing/" if startable else "/cart/")


def test_a_saved_address_without_a_method_does_not_lock_the_buyer_out(acme: Client) -> None:
    # only checks for US billing addresses are left; a billing address in Germany must stay editable
    only_rule("Checks for US billing addresses (USD)")
    add(acme, "BOLT-M8")
    germany = {**US_ADDRESS, "country": "DE", "region_code": ""}
    assert acme.post("/checkout/billing/", prefixed("billing", germany))["Location"] == "/checkout/shipping/"
    assert acme.get("/checkout/")["Location"] == "/checkout/shipping-method/"  # shipping to billing
    assert acme.get("/checkout/billing/").status_code == 200
    assert acme.post("/checkout/billing/", prefixed("billing", US_ADDRESS))["Location"] == "/checkout/shipping/"


def test_a_cart_whose_total_only_shipping_makes_payable_can_start(acme: Client) -> None:
    """The start check asked the providers about the cart's subtotal alone, before shipping: a free sample (0.00)
    is an amount no card provider takes (Stripe wants 0.50, Authorize.Net and Payflow more than zero), so the
    buyer was told no method was available, although with the flat-rate shipping every card method is offered."""
    only_rule("All online methods (USD)")
    Product.objects.create(sku="SAMPLE-M8", name="Free sample bolts", price=Decimal("0.00"), currency="USD")
    add(acme, "SAMPLE-M8")

    assert BLOCKED not in acme.get("/cart/").content.decode()
    assert acme.get("/checkout/")["Location"] == "/checkout/billing/"
    to_payment_step(acme)
    page = acme.get("/checkout/payment/").content.decode()
    for provider in ("stripe", "authorizenet", "payflow"):
        assert f'value="{provider}_' in page
