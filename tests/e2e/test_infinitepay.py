"""InfinitePay in the real checkout, in Chromium: a German company with a VAT id pays on a guaranteed invoice,
then sales capture (shipped) and activate (invoice issued) from the order page."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, Page, expect

from orders.models import Order, PaymentStatus
from payments.models import Action, State
from providers.infinitepay.client import split_reference
from sandbox.infinitepay import simulator as sandbox
from tests.e2e.conftest import log_in as staff_log_in
from tests.e2e.test_card_payments import site  # noqa: F401 - fixture

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def acme_buyer(browser: Browser, site: str) -> Page:  # noqa: F811
    page = browser.new_context(base_url=site).new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.get_by_label("Email").fill("buyer@acme.example")
    page.get_by_label("Password").fill("paydesk-buyer")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    return page


def to_payment_step_in_germany(page: Page) -> None:
    page.get_by_role("button", name="Add Relay 24 V DC (pack of 10) to cart").click()
    page.goto("/cart/")
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Buyer")
    page.get_by_label("Company").fill("ACME Industrial GmbH")
    page.get_by_label("Street address", exact=True).fill("Invalidenstraße 117")
    page.get_by_label("City").fill("Berlin")
    page.get_by_label("Postal code").fill("10115")
    page.get_by_label("Country").select_option(label="Germany")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Continue").click()
    page.locator("input[name=shipping_method]").first.check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()


def test_a_german_buyer_pays_by_infinitepay_and_sales_capture_then_activate(browser: Browser, site: str) -> None:  # noqa: F811
    page = acme_buyer(browser, site)
    to_payment_step_in_germany(page)
    page.get_by_label("Invoice (InfinitePay)").check()
    debtor = page.locator(".widget-infinitepay")
    expect(debtor.get_by_label("Invoice e-mail")).to_have_value("buyer@acme.example")  # prefilled from the buyer
    expect(debtor).to_contain_text("DE136695976")
    debtor.get_by_label("Invoice e-mail").fill("email_for_success_emulation@test.com")
    debtor.get_by_label("Legal form").select_option("GmbH")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    page.get_by_role("button", name="Submit order").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    order = Order.objects.get(number=page.locator("dt:has-text('Order number') + dd").inner_text())
    reserve = order.transactions.get()
    assert (reserve.action, reserve.state, order.currency) == (Action.AUTHORIZE, State.SUCCEEDED, "EUR")
    order_id = split_reference(reserve.provider_reference)[1]

    staff = browser.new_context(base_url=site).new_page()
    staff.set_default_timeout(15_000)
    staff_log_in(staff, "sales", "paydesk-sales")
    staff.goto(f"/admin/orders/order/{order.pk}/change/")
    expect(staff.locator(".guaranteed").first).to_contain_text("guaranteed")
    expect(staff.get_by_role("link", name="Activate (invoice issued)")).to_have_count(0)  # not shipped yet
    staff.get_by_role("link", name="Capture", exact=True).click()
    staff.get_by_role("button", name="Yes, capture").click()
    expect(staff.locator(".payment-status")).to_have_text("Paid in full")
    assert sandbox.order_state(order_id)["status"] == "captured"
    staff.get_by_role("link", name="Activate (invoice issued)").click()
    staff.get_by_label("Invoice number:").fill("RE-2026-0042")
    staff.get_by_role("button", name="Yes, activate (invoice issued)").click()
    expect(staff.locator(".messagelist")).to_contain_text("activated")
    expect(staff.get_by_role("link", name="Activate (invoice issued)")).to_have_count(0)
    found = sandbox.order_state(order_id)
    assert (found["status"], found["invoice"]["INVOICE_ID"]) == ("activated", "RE-2026-0042")
    assert [t.action for t in order.transactions.order_by("pk")] == [Action.AUTHORIZE, Action.CAPTURE, Action.ACTIVATE]
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL
