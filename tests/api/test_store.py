"""The headless checkout and the buyer's orders and invoices, against the demo shop and the Stripe sandbox on the
live server. What the buyer's browser does at the provider (tokenizing the card, 3-D Secure) goes to the sandbox
over HTTP, as in the storefront's own tests."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests
from django.contrib.auth.models import User
from rest_framework.test import APIClient

from checkout.models import Checkout, Product
from customers.models import Customer
from demo.seed import seed_demo
from integrations.models import Integration
from orders.models import Order
from orders.services import invoice_create
from payments.models import PaymentTransaction, State
from tests import factories
from tests.api.conftest import token_client
from tests.checkout.conftest import US_ADDRESS

pytestmark = pytest.mark.django_db(transaction=True)

VISA = "4242424242424242"
THREE_D_SECURE = "4000002500003155"


@pytest.fixture
def shop(live_server, settings) -> str:  # noqa: ANN001
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    seed_demo()
    return live_server.url


def buyer(email: str) -> APIClient:
    return token_client(User.objects.get(username=email))


@pytest.fixture
def globex(shop: str) -> APIClient:
    return buyer("buyer@globex.example")


@pytest.fixture
def acme(shop: str) -> APIClient:
    return buyer("buyer@acme.example")


def stripe_token(shop: str, number: str) -> str:
    """What Stripe.js does in the browser: the card goes to Stripe (the sandbox); the shop gets a pm_ id."""
    public_key = Integration.objects.get(provider_key="stripe").settings["public_key"]
    reply = requests.post(
        f"{shop}/sandbox/stripe/v1/payment_methods",
        data={"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034"},
        headers={"Authorization": f"Bearer {public_key}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["id"]


def to_payment_step(client: APIClient, sku: str = "BOLT-M8") -> dict:
    product = Product.objects.get(sku=sku)
    assert (
        client.post("/api/v1/store/cart/lines/", {"product": product.pk, "quantity": 2}, format="json").status_code
        == 201
    )
    response = client.patch(
        "/api/v1/store/checkout/",
        {"billing_address": US_ADDRESS, "ship_to_billing": True, "shipping_method": "flat_rate"},
        format="json",
    )
    assert response.status_code == 200, response.json()
    assert response.json()["next_step"] == "payment"
    return response.json()


def stripe_method(client: APIClient) -> str:
    methods = client.get("/api/v1/store/checkout/payment-methods/").json()
    return next(m["identifier"] for m in methods if m["provider"] == "stripe")


def test_headless_checkout_with_a_sandbox_token(shop, globex):  # noqa: ANN001
    checkout = to_payment_step(globex)
    method = stripe_method(globex)

    chosen = globex.post(
        "/api/v1/store/checkout/payment/",
        {"payment_method": method, "payment_data": {"payment_method": stripe_token(shop, VISA)}},
        format="json",
    )
    assert chosen.status_code == 200, chosen.json()
    assert chosen.json()["next_step"] == "review"
    submitted = globex.post(
        "/api/v1/store/checkout/submit/",
        {"return_url": f"{shop}/done", "reviewed": chosen.json()["fingerprint"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="submit-1",
    )

    assert submitted.status_code == 200, submitted.json()
    assert submitted.json()["outcome"] == "completed"
    order = Order.objects.get(number=submitted.json()["order"])
    assert order.total == Decimal(checkout["total"]["amount"])
    mine = globex.get(f"/api/v1/store/orders/{order.number}/").json()
    assert mine["payment_status"] == order.payment_status
    assert [p["state"] for p in mine["payments"]] == ["succeeded"]
    assert set(mine["payments"][0]) == {"id", "action", "state", "amount", "payment_method", "created_at"}
    assert [o["number"] for o in globex.get("/api/v1/store/orders/").json()["results"]] == [order.number]


def test_3d_secure_redirects_and_completes_after_the_buyer_returns(shop, globex):  # noqa: ANN001
    to_payment_step(globex)
    globex.post(
        "/api/v1/store/checkout/payment/",
        {
            "payment_method": stripe_method(globex),
            "payment_data": {"payment_method": stripe_token(shop, THREE_D_SECURE)},
        },
        format="json",
    )

    submitted = globex.post("/api/v1/store/checkout/submit/", {"return_url": f"{shop}/done"}, format="json").json()

    assert submitted["outcome"] == "redirect"
    assert submitted["redirect_url"].startswith(f"{shop}/sandbox/stripe/3ds/")
    reply = requests.post(submitted["redirect_url"], data={"outcome": "complete"}, allow_redirects=False, timeout=10)
    assert reply.status_code == 302
    completed = globex.post("/api/v1/store/checkout/complete/", {"order": submitted["order"]}, format="json")
    assert completed.json()["outcome"] == "completed"
    assert PaymentTransaction.objects.get(order__number=submitted["order"]).state == State.SUCCEEDED


@pytest.mark.parametrize(
    "body",
    [
        {"payment_data": {"number": "4242424242424242"}},
        {"payment_data": {"token": "4242 4242 4242 4242"}},
        {"payment_data": {"cvc": "123"}},
        {"card_number": "4111111111111111"},
        {"payment_data": {"payment_method": "pm_1"}, "note": "4000002500003155"},
    ],
)
def test_card_data_is_refused_as_in_the_storefront(shop, globex, body):  # noqa: ANN001
    to_payment_step(globex)

    response = globex.post(
        "/api/v1/store/checkout/payment/", {"payment_method": stripe_method(globex), **body}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "card_data_refused"
    assert "4242" not in response.content.decode()
    assert "4111" not in response.content.decode()
    assert Checkout.objects.get().payment_method == ""


def test_a_method_the_rules_do_not_offer_is_refused(shop, globex):  # noqa: ANN001
    to_payment_step(globex)

    response = globex.post("/api/v1/store/checkout/payment/", {"payment_method": "stripe_999999"}, format="json")

    assert (response.status_code, response.json()["error"]["field"]) == (400, "payment_method")


def test_submit_before_the_steps_are_done_is_409_naming_the_step(shop, globex):  # noqa: ANN001
    product = Product.objects.get(sku="BOLT-M8")
    globex.post("/api/v1/store/cart/lines/", {"product": product.pk}, format="json")

    response = globex.post("/api/v1/store/checkout/submit/", {"return_url": f"{shop}/done"}, format="json")

    assert response.status_code == 409
    assert response.json()["error"] == {
        "code": "checkout_incomplete",
        "message": "Please complete this step first.",
        "field": "billing",
    }


def test_another_companys_order_and_invoice_are_404(shop, globex, acme):  # noqa: ANN001
    to_payment_step(globex)
    globex.post(
        "/api/v1/store/checkout/payment/",
        {"payment_method": stripe_method(globex), "payment_data": {"payment_method": stripe_token(shop, VISA)}},
        format="json",
    )
    number = globex.post("/api/v1/store/checkout/submit/", {"return_url": f"{shop}/done"}, format="json").json()[
        "order"
    ]

    assert acme.get(f"/api/v1/store/orders/{number}/").status_code == 404
    assert acme.post("/api/v1/store/checkout/complete/", {"order": number}, format="json").status_code == 404
    assert number not in acme.get("/api/v1/store/orders/").content.decode()
    assert acme.get("/api/v1/orders/").status_code == 403


def test_pay_an_invoice_with_a_card_token_and_the_other_company_cannot(shop, globex, acme):  # noqa: ANN001
    order = factories.OrderFactory(customer=Customer.objects.get(name="Globex Trading"), number="INV-ORDER-1")
    invoice = invoice_create(order=order)
    assert [i["number"] for i in globex.get("/api/v1/store/invoices/").json()["results"]] == [invoice.number]
    assert acme.get(f"/api/v1/store/invoices/{invoice.number}/").status_code == 404
    token = stripe_token(shop, VISA)
    assert (
        acme.post(
            f"/api/v1/store/invoices/{invoice.number}/pay/",
            {"return_url": f"{shop}/done", "payment_data": {"payment_method": token}},
            format="json",
        ).status_code
        == 404
    )

    paid = globex.post(
        f"/api/v1/store/invoices/{invoice.number}/pay/",
        {"return_url": f"{shop}/done", "payment_data": {"payment_method": token}},
        format="json",
        HTTP_IDEMPOTENCY_KEY="pay-1",
    )

    assert paid.status_code == 201, paid.json()
    assert (paid.json()["action"], paid.json()["state"]) == ("charge", "succeeded")
    assert paid.json()["amount"] == {"amount": "100.00", "currency": "USD"}
    assert globex.get(f"/api/v1/store/invoices/{invoice.number}/").json()["status"] == "paid"
