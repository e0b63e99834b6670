"""Wirecard Checkout Seamless in the real checkout, in Chromium: the card goes from the browser to the (sandbox's)
data storage, the buyer pays on Wirecard's page, whose confirm reaches our endpoint before the buyer is back; then
sales capture part of it and refund part of that on the order page."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import Browser, expect

from orders.models import Order, PaymentStatus
from payments.models import Action, State, WebhookEvent
from sandbox.services import sim_get
from tests.e2e.conftest import log_in as staff_log_in
from tests.e2e.test_card_payments import (  # noqa: F401 - fixtures
    assert_no_card_number_in_the_database,
    buyer,
    site,
)
from tests.e2e.test_card_providers_checkout import assert_nothing_secret_reached_us, to_payment_step

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CARD = "9500000000000001"  # Wirecard's demo card


def test_a_buyer_pays_by_card_on_wirecards_page_and_sales_capture_part_and_refund_part(
    buyer,  # noqa: F811
    browser: Browser,
    site: str,  # noqa: F811
) -> None:
    page, recorder = buyer
    to_payment_step(page)
    page.get_by_label("Credit card (Wirecard)").check()
    card = page.locator(".wc-card")
    card.get_by_label("Cardholder name").fill("Gus Buyer")
    card.get_by_label("Card number").fill(CARD)
    card.get_by_label("Expiry month").fill("12")
    card.get_by_label("Expiry year").fill("2031")
    card.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    page.get_by_role("button", name="Submit order").click()
    expect(page.get_by_role("heading", name="Wirecard payment page")).to_be_visible()  # the provider's page
    expect(page.get_by_text("with card 950000******0001")).to_be_visible()
    page.get_by_role("button", name="Pay now").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    order = Order.objects.get(number=page.locator("dt:has-text('Order number') + dd").inner_text())
    auth = order.transactions.get()
    assert (auth.action, auth.state, auth.amount) == (Action.AUTHORIZE, State.SUCCEEDED, order.total)
    # the confirm came first, verified by its fingerprint, and was completed from getOrderDetails
    assert WebhookEvent.objects.get(provider_reference=auth.provider_reference).status == "processed"

    staff = browser.new_context(base_url=site).new_page()
    staff.set_default_timeout(15_000)
    staff_log_in(staff, "sales", "paydesk-sales")
    staff.goto(f"/admin/orders/order/{order.pk}/change/")
    staff.get_by_role("link", name="Capture", exact=True).click()
    staff.get_by_label("Amount (USD):").fill("20.00")
    staff.get_by_label("Note:").fill("First box shipped")
    staff.get_by_role("button", name="Yes, capture").click()
    expect(staff.locator(".payment-status")).to_have_text("Paid partially")
    staff.locator("a.payment-operation.refund").click()
    staff.get_by_label("Amount (USD):").fill("5.00")
    staff.get_by_label("Note:").fill("One part damaged")
    staff.get_by_role("button", name="Yes, refund").click()
    expect(staff.locator(".payment-status")).to_have_text("Refunded partially")
    staff.context.close()

    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    at_wirecard = sim_get("wirecard", "order", auth.provider_reference).data
    assert [(p["amount"], p["state"]) for p in at_wirecard["payments"]] == [("20.00", "DEPOSITED")]
    assert [(c["amount"], c["state"]) for c in at_wirecard["credits"]] == [("5.00", "CREDITED")]
    assert order.transactions.get(action=Action.REFUND).amount == Decimal("5.0000")
    assert_nothing_secret_reached_us(recorder, CARD)
    assert_no_card_number_in_the_database(CARD)
