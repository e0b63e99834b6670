"""Payflow in the browser: the transparent-redirect card form and PayPal Express approval, at the return-URL level.

The storefront checkout is built on another branch; minimal stand-in pages (tests/e2e/payflow_urls.py) render the
card form for an open payment and complete it on return, as the checkout will. Every request the browser sends to
our host is recorded: the card number goes to the sandbox (PayPal's stand-in) only.
"""

from __future__ import annotations

from urllib.parse import urlsplit

import pytest
from playwright.sync_api import Page, Request, expect

from orders.models import PaymentStatus
from payments import services
from payments.models import PaymentTransaction, State
from tests import factories
from tests.payments.test_payflow_payments import payflow_integration_make

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]
CARD = "4111111111111111"


@pytest.fixture
def site(live_server, settings) -> str:  # noqa: ANN001
    settings.ROOT_URLCONF = "tests.e2e.payflow_urls"
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    return live_server.url


def record(page: Page) -> list[Request]:
    sent: list[Request] = []

    def keep(request: Request) -> None:  # Playwright wants a Python function, not a bound builtin
        sent.append(request)

    page.on("request", keep)
    return sent


def ours(sent: list[Request], site: str) -> list[Request]:
    """Requests to our own pages: our host, outside the provider stand-ins under /sandbox/."""
    return [r for r in sent if r.url.startswith(site) and not urlsplit(r.url).path.startswith("/sandbox/")]


def test_card_through_the_transparent_redirect_reaches_only_the_gateway(page: Page, site: str) -> None:
    integration = payflow_integration_make()
    order = factories.OrderFactory()
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"payflow_{integration.pk}",
        key="e2e-card-1",
        return_url=f"{site}/e2e/payflow/return/{order.pk}/",
    )
    sent = record(page)
    page.goto(f"/e2e/payflow/pay/{txn.pk}/")
    page.get_by_label("Card number").fill(CARD)
    page.get_by_label("Expiry (MMYY)").fill("1230")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay securely").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()

    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED
    to_gateway = [r for r in sent if urlsplit(r.url).path == "/sandbox/payflow/link/"]
    assert len(to_gateway) == 1
    assert CARD in (to_gateway[0].post_data or "")  # the card went to PayPal's stand-in …
    for request in ours(sent, site):  # … and never to our pages
        assert CARD not in request.url
        assert CARD not in (request.post_data or "")
    assert [urlsplit(r.url).path for r in ours(sent, site) if r.resource_type == "document"] == [
        f"/e2e/payflow/pay/{txn.pk}/",
        f"/e2e/payflow/return/{order.pk}/",
    ]
    stored = list(PaymentTransaction.objects.values_list("request", "response", "message"))
    assert CARD not in str(stored)


def test_a_card_type_the_integration_does_not_take_is_refused_in_the_form(page: Page, site: str) -> None:
    integration = payflow_integration_make()  # Visa and Mastercard only
    order = factories.OrderFactory()
    txn = services.payment_purchase(
        order_id=order.pk, method=f"payflow_{integration.pk}", key="e2e-card-2", return_url=f"{site}/"
    )
    sent = record(page)
    page.goto(f"/e2e/payflow/pay/{txn.pk}/")
    page.get_by_label("Card number").fill("378282246310005")
    page.get_by_label("Expiry (MMYY)").fill("1230")
    page.get_by_label("Security code").fill("1234")
    page.get_by_role("button", name="Pay securely").click()
    expect(page.get_by_role("alert")).to_have_text("This card type is not accepted.")
    assert not [r for r in sent if "/sandbox/" in r.url]


def test_paypal_express_approval_and_return(page: Page, site: str) -> None:
    integration = payflow_integration_make()  # Express Checkout charges
    order = factories.OrderFactory()
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"payflow_{integration.pk}_express",
        key="e2e-express-1",
        return_url=f"{site}/e2e/payflow/return/{order.pk}/",
    )
    assert txn.state == State.ACTION_REQUIRED
    page.goto(txn.response["next_action"]["redirect_url"])
    expect(page.get_by_role("heading", name="PayPal")).to_be_visible()
    page.get_by_role("button", name="Pay now").click()
    expect(page.get_by_role("heading", name="Payment succeeded")).to_be_visible()
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL


def test_paypal_express_cancel_leaves_the_payment_waiting(page: Page, site: str) -> None:
    integration = payflow_integration_make()
    order = factories.OrderFactory()
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"payflow_{integration.pk}_express",
        key="e2e-express-2",
        return_url=f"{site}/e2e/payflow/return/{order.pk}/",
    )
    page.goto(txn.response["next_action"]["redirect_url"])
    page.get_by_role("button", name="Cancel and return to the merchant").click()
    expect(page.get_by_role("heading", name="Payment action_required")).to_be_visible()
    assert "canceled=1" in page.url
