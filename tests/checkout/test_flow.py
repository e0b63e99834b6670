"""The checkout through the Django test client: steps, submit, outcomes and what the buyer may see."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from django.test import Client

from checkout.models import Cart, CartLine, Checkout
from core.status import PaymentStatus
from integrations.models import Integration
from orders.models import Invoice, Order
from payments.models import Action, PaymentTransaction, State
from tests.checkout.conftest import US_ADDRESS, add, choose, login, to_payment_step
from tests.fakes import FakeGateway


def method_id(provider_key: str) -> str:
    integration = Integration.objects.get(provider_key=provider_key)
    return f"{provider_key}_{integration.pk}"


def submit(client: Client) -> object:
    checkout = Checkout.objects.get(completed_at__isnull=True)
    return client.post("/checkout/review/", {"checkout": checkout.pk})


def test_money_order_checkout_places_a_pending_order_and_empties_the_cart(acme: Client) -> None:
    add(acme, "BOLT-M8", 2)
    add(acme, "NUT-M8", 4)
    to_payment_step(acme)
    payment = acme.get("/checkout/payment/").content.decode()
    assert "Make Check Payable To:</strong> Paydesk Demo Inc." in payment
    assert "Send Check To:</strong><br>1 Market Street<br>San Francisco, CA 94105" in payment
    assert "Terms:</strong> Net 30" in payment
    choose(acme, method_id("money_order"))
    review = acme.get("/checkout/review/").content.decode()
    assert "$65.00" in review  # 2 × 12.50 + 4 × 6.25 + 15.00 shipping

    response = submit(acme)

    order = Order.objects.exclude(number__startswith="DEMO-").get()
    assert response["Location"] == f"/checkout/confirmation/{order.number}/"
    assert (order.subtotal, order.shipping, order.total, order.currency) == (
        Decimal("50.0000"),
        Decimal("15.0000"),
        Decimal("65.0000"),
        "USD",
    )
    assert order.payment_status == PaymentStatus.PENDING
    assert [(line.sku, line.quantity) for line in order.lines.all()] == [
        ("BOLT-M8", Decimal("2.000")),
        ("NUT-M8", Decimal("4.000")),
    ]
    assert order.billing_address.country == "US"
    txn = order.transactions.get()
    assert (txn.action, txn.state, txn.idempotency_key) == (
        Action.PENDING,
        State.SUCCEEDED,
        f"checkout:{Checkout.objects.get().pk}:1",
    )
    assert CartLine.objects.count() == 0
    confirmation = acme.get(response["Location"]).content.decode()
    assert order.number in confirmation
    assert "<dd>Check</dd>" in confirmation
    assert "<dd>Pending payment</dd>" in confirmation


def test_submitting_the_review_step_twice_creates_one_order_and_one_transaction(acme: Client) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, method_id("money_order"))
    checkout = Checkout.objects.get()

    first = acme.post("/checkout/review/", {"checkout": checkout.pk})
    second = acme.post("/checkout/review/", {"checkout": checkout.pk})

    order = Order.objects.exclude(number__startswith="DEMO-").get()
    assert first["Location"] == second["Location"] == f"/checkout/confirmation/{order.number}/"
    assert PaymentTransaction.objects.filter(order=order).count() == 1


def test_another_company_gets_404_for_an_order_and_its_invoice(acme: Client, globex: Client) -> None:
    invoice = Invoice.objects.get()  # the seed's, for a demo order of ACME
    order = invoice.order
    assert acme.get(f"/account/orders/{order.number}/").status_code == 200
    assert acme.get(f"/account/invoices/{invoice.number}/").status_code == 200

    assert globex.get(f"/account/orders/{order.number}/").status_code == 404
    assert globex.get(f"/checkout/confirmation/{order.number}/").status_code == 404
    assert globex.get(f"/account/invoices/{invoice.number}/").status_code == 404
    assert globex.post(f"/account/invoices/{invoice.number}/pay/", {"key": "x"}).status_code == 404
    assert order.number not in globex.get("/account/orders/").content.decode()
    assert invoice.number not in globex.get("/account/invoices/").content.decode()


#: the seeded card methods, offered for every USD checkout ("All online methods (USD)", sorted first)
CARDS = [
    "Credit card",
    "Credit card (PayPal)",
    "Credit card (Authorize.Net)",
    "Credit card (OroPay)",
    "Credit card (Wirecard)",
]
#: Wirecard's PayPal in dollars, and its card, PayPal and SEPA direct debit in euros for Germany and Austria
WIRECARD_USD = ["PayPal (Wirecard)"]
WIRECARD_EUR = ["Credit card (Wirecard)", "PayPal (Wirecard)", "SEPA direct debit (Wirecard)"]
#: Apruve's own rule ("Apruve trade credit (USD)", sorted last)
APRUVE = "Apruve trade credit"


@pytest.mark.parametrize(
    ("buyer", "currency_sku", "country", "quantity", "expected"),
    [
        # the card rule (all USD checkouts) sorts first; checks need a US address; terms need Wholesale or 5,000
        (
            "buyer@acme.example",
            "BOLT-M8",
            "US",
            1,
            [*CARDS, *WIRECARD_USD, "Bank account (eCheck)", "Check / Money Order", "Payment Terms", APRUVE],
        ),
        (
            "buyer@globex.example",
            "BOLT-M8",
            "US",
            1,
            [*CARDS, *WIRECARD_USD, "Bank account (eCheck)", "Check / Money Order", APRUVE],
        ),
        (
            "buyer@globex.example",
            "BOLT-M8",
            "DE",
            1,
            [*CARDS, *WIRECARD_USD, APRUVE],
        ),
        ("buyer@acme.example", "DINRAIL-35", "AT", 1, ["Check / Money Order", *WIRECARD_EUR]),
        ("buyer@acme.example", "DINRAIL-35", "US", 1, []),  # euros only for Germany and Austria
        # from 5,000 the terms rule matches, but Globex resolves to no term: the provider's own gate says no
        (
            "buyer@globex.example",
            "COMPRESSOR-50L",
            "US",
            3,
            [*CARDS, *WIRECARD_USD, "Bank account (eCheck)", "Check / Money Order", APRUVE],
        ),
    ],
    ids=["acme-usd-us", "globex-usd-us", "globex-usd-de", "acme-eur-at", "acme-eur-us", "globex-usd-us-5000"],
)
def test_payment_step_lists_what_the_rules_allow(seeded, buyer, currency_sku, country, quantity, expected) -> None:  # noqa: ANN001
    client = login(Client(), buyer)
    add(client, currency_sku, quantity)
    to_payment_step(client, {**US_ADDRESS, "country": country, "region_code": ""})

    page = client.get("/checkout/payment/").content.decode()

    labels = re.findall(r'<label for="pm-[a-z_0-9]+">([^<]+)</label>', page)
    assert labels == expected
    message = "No payment methods are available, please contact us to complete the order submission."
    assert (message in page) == (expected == [])


def test_cart_survives_logging_out_and_in(acme: Client) -> None:
    add(acme, "BOLT-M8", 3)
    acme.post("/logout/")
    acme.force_login(Cart.objects.get().customer_user.user)
    assert "Hex bolt M8 (box of 100)" in acme.get("/cart/").content.decode()


def test_submit_from_a_review_page_that_no_longer_shows_the_order_charges_nothing(acme: Client, card: str) -> None:
    """Tab A shows the review page (2 bolts, its total); in tab B the buyer adds 40 more bolts. Then "Submit order"
    is pressed in tab A.

    Defect: the submit placed and charged the order as the checkout stood then (42 bolts, a total the buyer never
    saw on the page they confirmed). The review page says what it showed; a submit of a page that no longer
    matches the checkout is sent back to the review, with nothing ordered or charged."""
    tab_b = login(Client(), "buyer@acme.example")
    add(acme, "BOLT-M8", 2)
    to_payment_step(acme)
    choose(acme, card, token="tok_ok")
    review = acme.get("/checkout/review/")
    shown = review.context["totals"].total
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', review.content.decode()))

    add(tab_b, "BOLT-M8", 40)
    response = acme.post("/checkout/review/", form)

    assert response["Location"] == "/checkout/review/"
    page = acme.get("/checkout/review/").content.decode()
    assert "Your order changed after you reviewed it" in page
    assert not Order.objects.filter(payment_method=card).exists()
    assert FakeGateway.calls["authorize"] == 0

    again = acme.get("/checkout/review/")
    form = dict(re.findall(r'<input type="hidden" name="(\w+)" value="([^"]*)"', again.content.decode()))
    placed = acme.post("/checkout/review/", form)  # the buyer reviews what is in the cart now, and submits
    [order] = Order.objects.filter(payment_method=card)
    assert placed["Location"] == f"/checkout/confirmation/{order.number}/"
    assert order.total == again.context["totals"].total != shown
