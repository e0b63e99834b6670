"""Cart quantities keep their 9,999 limit on every path (repeated adds, the line update) and are read strictly:
ASCII digits only, so `1_000` or full-width digits order nothing."""

from __future__ import annotations

import pytest
from django.test import Client

from checkout.models import CartLine, Product
from tests.checkout.conftest import add

SKU = "BOLT-M8"


@pytest.fixture
def product(seeded) -> Product:  # noqa: ANN001
    return Product.objects.get(sku=SKU)


def messages_of(response) -> list[str]:  # noqa: ANN001
    return [str(m) for m in response.context["messages"]]


def test_repeated_adds_stop_at_the_limit(acme: Client, product: Product) -> None:
    add(acme, SKU, 9999)

    response = acme.post("/cart/add/", {"product": product.pk, "quantity": 9999}, follow=True)
    acme.post("/cart/add/", {"product": product.pk, "quantity": 1})

    assert CartLine.objects.get(product=product).quantity == 9999
    assert f"You can order at most 9,999 of {product.name}; your cart already has 9,999." in messages_of(response)


@pytest.mark.parametrize("typed", ["1_000", "１０", "10.0", "1e3", "-1", "29999", "99999999999999999999"])
def test_quantities_are_read_strictly_when_adding_and_updating(acme: Client, product: Product, typed: str) -> None:
    add(acme, SKU, 2)
    line = CartLine.objects.get(product=product)

    acme.post("/cart/add/", {"product": product.pk, "quantity": typed})
    response = acme.post(f"/cart/lines/{line.pk}/", {"quantity": typed}, follow=True)

    assert response.status_code == 200
    assert CartLine.objects.get(pk=line.pk).quantity == 2
    assert "Please enter a quantity of 0 or more." in messages_of(response)
