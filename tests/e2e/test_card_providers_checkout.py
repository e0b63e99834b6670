"""Authorize.Net (card and eCheck) and Payflow (card through its hosted page) in the real checkout, in Chromium.

Every request the browser sends to our views is recorded; none may carry a card or bank account number, and
the database is searched afterwards.
"""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from orders.models import Order, PaymentStatus
from payments.models import Action
from tests.e2e.conftest import log_in as staff_log_in
from tests.e2e.test_card_payments import (  # noqa: F401 - fixtures
    Recorder,
    assert_no_card_number_in_the_database,
    buyer,
    site,
)

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

ANET_CARD = "4111 1111 1111 1111"
BANK_ACCOUNT = "987654321"


def to_payment_step(page: Page) -> None:
    page.get_by_role("button", name="Add Hex bolt M8 (box of 100) to cart").click()
    page.goto("/cart/")
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("First name").fill("Gus")
    page.get_by_label("Last name").fill("Buyer")
    page.get_by_label("Company").fill("Globex & Sons = Trading")  # '&' and '=' travel in Payflow's NVP bodies
    page.get_by_label("Street address", exact=True).fill("5 Harbor Road")
    page.get_by_label("City").fill("Boston")
    page.get_by_label("Postal code").fill("02110")
    page.get_by_label("Country").select_option(label="United States")
    page.get_by_label("State or region").select_option("US-MA")  # its regions follow the country
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Flat rate ($15.00)").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()


def submit(page: Page) -> Order:
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    page.get_by_role("button", name="Submit order").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    return Order.objects.get(number=page.locator("dt:has-text('Order number') + dd").inner_text())


def assert_nothing_secret_reached_us(recorder: Recorder, *numbers: str) -> None:
    assert recorder.ours
    for request in recorder.ours:
        flat = request.replace(" ", "").replace("%20", "").replace("+", "")
        for number in numbers:
            assert number.replace(" ", "") not in flat, request


def test_authorizenet_card_then_sales_capture_and_echeck(buyer, browser: Browser, site: str) -> None:  # noqa: F811
    page, recorder = buyer
    to_payment_step(page)
    page.get_by_label("Credit card (Authorize.Net)").check()
    card = page.locator(".anet-card")
    card.get_by_label("Card number").fill(ANET_CARD)
    card.get_by_label("Expiry month").fill("12")
    card.get_by_label("Expiry year").fill("2034")
    card.get_by_label("Security code").fill("123")
    order = submit(page)
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    assert order.transactions.get().action == Action.AUTHORIZE

    staff = browser.new_context(base_url=site).new_page()
    staff_log_in(staff, "sales", "paydesk-sales")
    staff.goto(f"/admin/orders/order/{order.pk}/change/")
    staff.get_by_role("link", name="Capture", exact=True).click()
    staff.get_by_label("Note:").fill("Shipped")
    staff.get_by_role("button", name="Yes, capture").click()
    expect(staff.locator(".payment-status")).to_have_text("Paid in full")
    staff.context.close()

    page.goto("/")
    to_payment_step(page)
    page.get_by_label("Bank account (eCheck)").check()
    bank = page.locator(".anet-echeck")
    bank.get_by_label("Routing number").fill("121042882")
    bank.get_by_label("Account number").fill(BANK_ACCOUNT)
    bank.get_by_label("Name on account").fill("Gus Buyer")
    bank.get_by_label("I authorize this debit of my bank account.").check()
    echeck_order = submit(page)
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Paid in full")  # always a charge
    assert echeck_order.transactions.get().action == Action.CHARGE

    assert_nothing_secret_reached_us(recorder, ANET_CARD, BANK_ACCOUNT)
    assert_no_card_number_in_the_database(ANET_CARD, BANK_ACCOUNT)


def test_payflow_card_through_the_gateways_page(buyer) -> None:  # noqa: F811
    page, recorder = buyer
    to_payment_step(page)
    page.get_by_label("Credit card (PayPal)").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Submit order").click()
    # the card is typed on the gateway's page (the sandbox), which returns the buyer to our return page
    page.get_by_label("Card number").fill("4111111111111111")
    page.get_by_label("Expiry (MMYY)").fill("1234")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay now").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    order = Order.objects.get(number=page.locator("dt:has-text('Order number') + dd").inner_text())
    assert order.payment_status == PaymentStatus.AUTHORIZED
    assert order.billing_address.organization == "Globex & Sons = Trading"
    assert_nothing_secret_reached_us(recorder, "4111111111111111")
    assert_no_card_number_in_the_database("4111111111111111")
