"""On a provider that closes an authorization with its first capture, the capture form says what a partial capture
releases before anything moves, and the order page shows authorized, captured, refunded and outstanding amounts."""

from __future__ import annotations

import re
import uuid
from decimal import Decimal

import pytest

from payments import services
from payments.models import Action, PaymentTransaction, State
from sandbox.models import SimIdempotencyKey
from tests import factories
from tests.conftest import authorize

pytestmark = pytest.mark.django_db(transaction=True)


def text(response) -> str:  # noqa: ANN001
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", response.content.decode()))


def test_partial_capture_on_stripe_says_the_rest_is_released_and_asks_to_confirm(
    client, sales, stripe_integration
) -> None:  # noqa: ANN001
    order = factories.OrderFactory(subtotal=Decimal("200.00"))
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="auth",
        payment_data={"payment_method": "pm_card_visa"},
    )
    url = f"/admin/orders/order/{order.pk}/payments/{auth.pk}/capture/"

    form = text(client.get(url))
    assert "capturing less than $200.00 releases the rest" in form
    assert "Release the rest" in form

    key = str(uuid.uuid4())
    unconfirmed = client.post(url, {"key": key, "amount": "24.00", "note": ""})
    assert unconfirmed.status_code == 200
    assert "the remaining $176.00 will be released and can no longer be captured" in text(unconfirmed)
    assert not PaymentTransaction.objects.filter(action=Action.CAPTURE).exists()
    assert not SimIdempotencyKey.objects.filter(provider="stripe", key__startswith="backoffice:").exists()

    confirmed = client.post(url, {"key": key, "amount": "24.00", "release_rest": "on", "note": ""}, follow=True)
    assert "The payment of $24.00 has been captured successfully." in text(confirmed)
    capture = PaymentTransaction.objects.get(action=Action.CAPTURE)
    assert (capture.amount, capture.state) == (Decimal("24.00"), State.SUCCEEDED)
    page = text(client.get(f"/admin/orders/order/{order.pk}/change/"))
    assert "Authorized $200.00 · Captured $24.00 · Refunded $0.00 · Outstanding $176.00 · Released $176.00" in page


def test_full_capture_needs_no_confirmation_and_multi_capture_providers_release_nothing(
    client,  # noqa: ANN001
    sales,  # noqa: ANN001
    gateway_integration,  # noqa: ANN001
) -> None:
    auth = authorize(factories.OrderFactory(), gateway_integration)
    url = f"/admin/orders/order/{auth.order_id}/payments/{auth.pk}/capture/"
    assert "Release the rest" not in text(client.get(url))

    response = client.post(url, {"key": str(uuid.uuid4()), "amount": "40.00", "note": ""}, follow=True)

    assert "The payment of $40.00 has been captured successfully." in text(response)
    page = text(client.get(f"/admin/orders/order/{auth.order_id}/change/"))
    assert "Authorized $100.00 · Captured $40.00 · Refunded $0.00 · Outstanding $60.00 · Held $60.00" in page
