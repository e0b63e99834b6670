"""The acceptance walk through the API: an administrator connects Stripe (its sandbox) and writes a rule, a buyer
checks out headlessly with a sandbox token, sales capture half and refund part, and the ledger the API shows is the
one the back-office order page shows."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from backoffice.selectors import payment_history
from checkout.models import Product
from integrations.models import Integration
from orders.models import Order
from payments.models import Action
from tests.checkout.conftest import US_ADDRESS
from tests.sandbox_support import STRIPE_SECRETS

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(live_server, settings) -> str:  # noqa: ANN001
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    return live_server.url


def test_integration_rule_headless_checkout_capture_half_refund_part(shop, callers, client):  # noqa: ANN001
    admin, sales, buyer = callers["admin"].client, callers["sales"].client, callers["buyer_a"].client
    product = Product.objects.create(sku="GEAR-1", name="Gear", price=Decimal("42.50"), currency="USD")

    # an administrator connects Stripe's sandbox and offers it to US orders in USD
    made = admin.post(
        "/api/v1/integrations/",
        {
            "provider_key": "stripe",
            "name": "Stripe",
            "labels": {"en": "Credit card"},
            "environment": "sandbox",
            "payment_action": "authorize",
            "settings": {"public_key": "pk_test_paydeskservices"},
            "secrets": dict(STRIPE_SECRETS),
        },
        format="json",
        HTTP_IDEMPOTENCY_KEY="integration-1",
    )
    assert made.status_code == 201, made.json()
    integration = made.json()
    assert integration["secrets_set"] == ["secret_key", "webhook_secret"]
    assert STRIPE_SECRETS["secret_key"] not in made.content.decode()
    method = f"stripe_{integration['id']}"
    rule = admin.post(
        "/api/v1/payment-rules/",
        {
            "name": "Cards (USD)",
            "currency": "USD",
            "destinations": [{"country": "US", "region_code": "", "postal_codes": ""}],
            "methods": [{"method": method, "enabled": True}],
        },
        format="json",
    )
    assert rule.status_code == 201, rule.json()
    assert admin.post(f"/api/v1/integrations/{integration['id']}/check-connection/").json()["ok"] is True

    # the buyer checks out headlessly; the card goes to the sandbox, the API gets its token
    buyer.post("/api/v1/store/cart/lines/", {"product": product.pk, "quantity": 2}, format="json")
    buyer.patch(
        "/api/v1/store/checkout/",
        {"billing_address": US_ADDRESS, "ship_to_billing": True, "shipping_method": "flat_rate"},
        format="json",
    )
    assert [m["identifier"] for m in buyer.get("/api/v1/store/checkout/payment-methods/").json()] == [method]
    token = requests.post(
        f"{shop}/sandbox/stripe/v1/payment_methods",
        data={"type": "card", "card[number]": "4242424242424242", "card[exp_month]": "12", "card[exp_year]": "2034"},
        headers={"Authorization": "Bearer pk_test_paydeskservices"},
        timeout=10,
    ).json()["id"]
    chosen = buyer.post(
        "/api/v1/store/checkout/payment/",
        {"payment_method": method, "payment_data": {"payment_method": token}},
        format="json",
    ).json()
    submitted = buyer.post(
        "/api/v1/store/checkout/submit/",
        {"return_url": f"{shop}/done", "reviewed": chosen["fingerprint"]},
        format="json",
        HTTP_IDEMPOTENCY_KEY="submit-1",
    ).json()
    assert submitted["outcome"] == "completed", submitted
    order = Order.objects.get(number=submitted["order"])
    assert order.total == Decimal("100.00")  # 2 × 42.50 + 15.00 flat rate

    # sales capture half and refund part
    detail = sales.get(f"/api/v1/orders/{order.pk}/").json()
    [authorization] = [row for row in detail["ledger"] if row["action"] == "authorize"]
    captured = sales.post(
        f"/api/v1/transactions/{authorization['id']}/capture/",
        {"amount": "50.00"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="capture-half",
    )
    assert captured.status_code == 201, captured.json()
    assert captured.json()["state"] == "succeeded"
    refunded = sales.post(
        f"/api/v1/transactions/{captured.json()['id']}/refund/",
        {"amount": "12.34", "reason": "requested_by_customer"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="refund-part",
    )
    assert refunded.status_code == 201, refunded.json()
    assert refunded.json()["state"] == "succeeded"

    # the API's ledger is the back-office's
    detail = sales.get(f"/api/v1/orders/{order.pk}/").json()
    api_ledger = [(r["id"], r["action"], r["state"], r["amount"]["amount"]) for r in detail["ledger"]]
    office_ledger = [(t.pk, t.action, t.state, f"{t.amount:.2f}") for t in payment_history(order_id=order.pk)]
    assert api_ledger == office_ledger
    # the half the single-capture provider let go is its own row
    assert [a for _, a, _, _ in api_ledger] == [Action.AUTHORIZE, Action.CAPTURE, Action.RELEASE, Action.REFUND]
    assert detail["amounts"]["captured"] == {"amount": "50.00", "currency": "USD"}
    assert detail["amounts"]["refunded"] == {"amount": "12.34", "currency": "USD"}
    assert detail["payment_status"] == order.__class__.objects.get(pk=order.pk).payment_status
    client.force_login(callers["sales"].user)
    page = client.get(f"/admin/orders/order/{order.pk}/change/").content.decode()
    assert "12.34" in page
    assert Integration.objects.get(pk=integration["id"]).secrets == STRIPE_SECRETS
