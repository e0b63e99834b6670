from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.test import Client

from checkout.models import Product
from demo.seed import seed_demo
from integrations.models import Integration
from payment_rules.models import PaymentRule, PaymentRuleMethod

US_ADDRESS = {
    "first_name": "Ada",
    "last_name": "Buyer",
    "organization": "ACME Industrial",
    "street": "200 Industrial Way",
    "city": "Springfield",
    "region_code": "US-IL",
    "postal_code": "62701",
    "country": "US",
}
DE_ADDRESS = {
    **US_ADDRESS,
    "street": "Industriestraße 5",
    "city": "München",
    "region_code": "DE-BY",
    "postal_code": "80331",
    "country": "DE",
}


@pytest.fixture
def seeded(db: None) -> None:
    seed_demo()


def login(client: Client, email: str) -> Client:
    client.force_login(User.objects.get(username=email))
    return client


@pytest.fixture
def acme(seeded: None, client: Client) -> Client:
    return login(client, "buyer@acme.example")


@pytest.fixture
def globex(seeded: None) -> Client:
    return login(Client(), "buyer@globex.example")


def add(client: Client, sku: str, quantity: int = 1) -> None:
    product = Product.objects.get(sku=sku)
    response = client.post("/cart/add/", {"product": product.pk, "quantity": quantity})
    assert response.status_code == 302


def prefixed(prefix: str, address: dict[str, str]) -> dict[str, str]:
    return {f"{prefix}-{name}": value for name, value in address.items()}


def to_payment_step(client: Client, billing: dict[str, str] = US_ADDRESS) -> None:
    """Billing address, shipping same as billing, flat rate: the checkout stands at the payment step."""
    assert client.post("/checkout/billing/", prefixed("billing", billing))["Location"] == "/checkout/shipping/"
    assert client.post("/checkout/shipping/", {"ship_to_billing": "on"})["Location"] == "/checkout/shipping-method/"
    response = client.post("/checkout/shipping-method/", {"shipping_method": "flat_rate"})
    assert response["Location"] == "/checkout/payment/"


def choose(client: Client, method: str, **payment_data: str) -> None:
    data = {"payment_method": method, **{f"payment_data[{k}]": v for k, v in payment_data.items()}}
    response = client.post("/checkout/payment/", data)
    assert response.status_code == 302, response.content.decode()[-2000:]
    assert response["Location"] == "/checkout/review/"


@pytest.fixture
def card(acme: Client, gateway_integration: Integration) -> str:
    """The fake card gateway offered to USD checkouts, as the first rule."""
    rule = PaymentRule.objects.create(name="Cards (USD)", currency="USD", sort_order=1)
    identifier = f"fakegw_{gateway_integration.pk}"
    PaymentRuleMethod.objects.create(rule=rule, integration=gateway_integration, method=identifier)
    return identifier
