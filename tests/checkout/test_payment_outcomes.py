"""Submit against a card gateway at the network edge: decline, timeout, redirect, and card data refused."""

from __future__ import annotations

from typing import ClassVar

import pytest
from django.test import Client

from checkout.models import CartLine, Checkout
from core.status import PaymentStatus
from integrations.models import Integration
from orders.models import Order
from payments.models import PaymentTransaction, State
from providers import registry
from providers.base import Outcome, PaymentRequest, ProviderResult, StatusRequest
from tests.checkout.conftest import add, choose, to_payment_step
from tests.fakes import FakeGateway

DECLINED = (
    "We were unable to process your payment. Please verify your payment information and try again, "
    "or try another payment method."
)


def customer_orders() -> list[Order]:
    """The orders the buyer has: not the demo data, not the orders of failed attempts (kept for staff)."""
    return list(Order.objects.placed().exclude(number__startswith="DEMO-"))


def submit(client: Client):  # noqa: ANN201
    checkout = Checkout.objects.get(completed_at__isnull=True)
    return client.post("/checkout/review/", {"checkout": checkout.pk})


def test_decline_keeps_no_order_and_keeps_the_cart(acme: Client, card: str, fake_gateway) -> None:  # noqa: ANN001
    add(acme, "BOLT-M8", 2)
    to_payment_step(acme)
    choose(acme, card, token="tok_decline")

    response = submit(acme)

    assert response["Location"] == "/checkout/payment/"
    assert DECLINED in acme.get("/checkout/payment/").content.decode()
    assert customer_orders() == []
    [declined] = PaymentTransaction.objects.filter(payment_method=card)  # kept, with its order, for staff
    assert (declined.state, declined.order.discarded_at is not None) == (State.DECLINED, True)
    assert [(line.product.sku, line.quantity) for line in CartLine.objects.all()] == [("BOLT-M8", 2)]
    checkout = Checkout.objects.get()
    assert (checkout.attempt, checkout.order_id, checkout.completed_at) == (2, None, None)
    assert fake_gateway.calls["authorize"] == 1

    choose(acme, card, token="tok_ok")  # the next attempt has its own key, so the gateway is asked again
    response = submit(acme)
    order = Order.objects.get(number=response["Location"].split("/")[-2])
    assert order.payment_status == PaymentStatus.AUTHORIZED
    assert order.transactions.get().idempotency_key == f"checkout:{checkout.pk}:2"
    assert fake_gateway.calls["authorize"] == 2
    assert CartLine.objects.count() == 0


def test_timeout_keeps_the_order_with_a_pending_payment(acme: Client, card: str) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, card, token="tok_timeout")

    response = submit(acme)

    [order] = customer_orders()
    assert response["Location"] == f"/checkout/confirmation/{order.number}/"
    assert order.payment_status == PaymentStatus.PENDING
    assert order.transactions.get().state == State.RESERVED
    assert CartLine.objects.count() == 0
    page = acme.get(response["Location"]).content.decode()
    assert "We are still waiting for the payment provider to confirm your payment" in page
    assert "<dd>Pending payment</dd>" in page


@pytest.mark.parametrize(
    "fields",
    [
        {"payment_data[card_number]": "4242424242424242"},
        {"payment_data[cvc]": "123"},
        {"payment_data[token]": "4111 1111 1111 1111"},
        {"cardNumber": "5555555555554444"},
        {"payment_data[card][cvv]": "123"},
    ],
    ids=["card_number", "cvc", "pan-as-token", "top-level", "nested-cvv"],
)
def test_card_looking_fields_are_refused_and_nothing_is_stored(acme: Client, card: str, fields) -> None:  # noqa: ANN001
    add(acme, "BOLT-M8")
    to_payment_step(acme)

    response = acme.post("/checkout/payment/", {"payment_method": card, **fields})

    assert response.status_code == 400
    assert "Card details must never be sent to this site" in response.content.decode()
    checkout = Checkout.objects.get()
    assert (checkout.payment_method, checkout.payment_data) == ("", {})


class RedirectGateway(FakeGateway):
    """Asks the buyer to confirm at the provider (3-D Secure style); fetch_status then reports the outcome."""

    key = "fakegw"
    final: ClassVar[Outcome] = Outcome.SUCCEEDED

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        return ProviderResult(
            Outcome.ACTION_REQUIRED,
            "fk_3ds",
            request.amount,
            next_action={"redirect_url": f"https://sandbox.example/3ds?return={request.return_url}"},
        )

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        self.calls["fetch_status"] += 1
        return ProviderResult(self.final, request.provider_reference, request.amount)


@pytest.fixture
def redirecting(monkeypatch: pytest.MonkeyPatch, card: str) -> type[RedirectGateway]:
    monkeypatch.setitem(
        registry.PROVIDERS,
        "fakegw",
        registry.ProviderSpec("fakegw", "Fake", "tests.checkout.test_payment_outcomes.RedirectGateway", ""),
    )
    registry.adapter_class.cache_clear()
    RedirectGateway.final = Outcome.SUCCEEDED
    return RedirectGateway


def test_redirect_method_sends_the_buyer_away_and_the_return_page_completes_the_payment(
    acme: Client, card: str, redirecting: type[RedirectGateway]
) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, card, token="tok_ok")

    response = submit(acme)

    assert response["Location"].startswith("https://sandbox.example/3ds?return=http://testserver/checkout/return/")
    [order] = customer_orders()
    assert order.transactions.get().state == State.ACTION_REQUIRED
    assert CartLine.objects.count() == 1  # not completed until the buyer is back
    return_path = response["Location"].split("return=http://testserver")[1]
    assert acme.get(return_path[:-3] + "xx/").status_code == 404  # the token is signed

    back = acme.get(return_path)
    again = acme.get(return_path)

    assert back["Location"] == again["Location"] == f"/checkout/confirmation/{order.number}/"
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED
    assert redirecting.calls["fetch_status"] == 1  # the second visit finds the row final
    assert CartLine.objects.count() == 0


def test_return_page_with_a_decline_discards_the_order_and_reopens_the_payment_step(
    acme: Client, card: str, redirecting: type[RedirectGateway]
) -> None:
    redirecting.final = Outcome.DECLINED
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, card, token="tok_ok")
    response = submit(acme)
    return_path = response["Location"].split("return=http://testserver")[1]

    back = acme.get(return_path)

    assert back["Location"] == "/checkout/payment/"
    assert customer_orders() == []
    assert CartLine.objects.count() == 1
    assert Checkout.objects.get().attempt == 2


def test_a_method_no_longer_applicable_cannot_be_submitted(acme: Client) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    money_order = Integration.objects.get(provider_key="money_order")
    choose(acme, f"money_order_{money_order.pk}")
    money_order.active = False
    money_order.save()

    review = acme.get("/checkout/review/")
    response = submit(acme)

    message = "The payment method you chose is no longer available for this order."
    assert review["Location"] == "/checkout/payment/"
    assert response["Location"] == "/checkout/payment/"
    assert message in acme.get("/checkout/payment/").content.decode()
    assert customer_orders() == []


def test_changing_the_billing_country_drops_a_method_the_rules_no_longer_allow(acme: Client) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    money_order = Integration.objects.get(provider_key="money_order")
    choose(acme, f"money_order_{money_order.pk}")

    acme.post(
        "/checkout/billing/",
        {
            f"billing-{k}": v
            for k, v in {
                "first_name": "Ada",
                "last_name": "Buyer",
                "street": "Ring 1",
                "city": "Wien",
                "postal_code": "1010",
                "country": "AT",
            }.items()
        },
    )

    assert Checkout.objects.get().payment_method == ""
    assert acme.get("/checkout/review/")["Location"] == "/checkout/payment/"
