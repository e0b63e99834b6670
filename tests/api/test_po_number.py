"""The headless checkout takes the buyer's PO number too: on the order, in the buyer's order, and at Stripe."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from checkout.models import Checkout
from orders.models import Order
from sandbox.models import SimObject
from tests.api.test_store import VISA, globex, shop, stripe_method, stripe_token, to_payment_step  # noqa: F401

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_headless_checkout_carries_the_po_number_to_the_order_and_stripe(shop: str, globex: APIClient) -> None:  # noqa: F811
    to_payment_step(globex)
    chosen = globex.post(
        "/api/v1/store/checkout/payment/",
        {
            "payment_method": stripe_method(globex),
            "payment_data": {"payment_method": stripe_token(shop, VISA)},
            "po_number": "PO-API-12",
        },
        format="json",
    )
    assert chosen.status_code == 200, chosen.json()
    assert chosen.json()["po_number"] == "PO-API-12"
    submitted = globex.post(
        "/api/v1/store/checkout/submit/",
        {"return_url": f"{shop}/done", "reviewed": chosen.json()["fingerprint"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="submit-po-1",
    )
    assert submitted.json()["outcome"] == "completed", submitted.json()
    order = Order.objects.get(number=submitted.json()["order"])
    assert order.po_number == "PO-API-12"
    assert globex.get(f"/api/v1/store/orders/{order.number}/").json()["po_number"] == "PO-API-12"
    reference = order.transactions.get().provider_reference
    intent = SimObject.objects.get(provider="stripe", kind="payment_intent", object_id=reference)
    assert intent.data["metadata"]["po_number"] == "PO-API-12"


def test_a_bad_po_number_is_refused_and_nothing_changes(shop: str, globex: APIClient) -> None:  # noqa: F811
    to_payment_step(globex)
    response = globex.post(
        "/api/v1/store/checkout/payment/",
        {"payment_method": stripe_method(globex), "payment_data": {}, "po_number": "PO&AMT=1"},
        format="json",
    )
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "po_number"
    checkout = Checkout.objects.get(completed_at__isnull=True)
    assert (checkout.payment_method, checkout.po_number) == ("", "")
