"""Apruve in the real checkout and order page, in Chromium: the buyer accepts in Apruve's lightbox (the sandbox's
stand-in of apruve.js), sales sends an invoice for part of the order, Apruve's invoice.closed webhook collects it;
and a buyer who closes the lightbox is back at the payment step with nothing taken."""

from __future__ import annotations

import re

import pytest
from playwright.sync_api import Browser, Page, expect

from orders.models import Order, PaymentStatus
from payments.models import Action, PaymentTransaction, State
from sandbox.profiles import apruve_close_invoice
from tests.e2e.conftest import log_in as staff_log_in
from tests.e2e.test_card_payments import buyer, site  # noqa: F401 - fixtures
from tests.e2e.test_card_providers_checkout import to_payment_step

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def open_lightbox(page: Page) -> None:
    to_payment_step(page)
    page.get_by_label("Apruve trade credit").check()
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Submit order").click()
    expect(page.get_by_role("heading", name="Pay with Apruve")).to_be_visible()


def test_buyer_pays_with_apruve_sales_invoices_part_and_the_webhook_collects_it(
    buyer,  # noqa: F811
    browser: Browser,
    site: str,  # noqa: F811
) -> None:
    page, _ = buyer
    open_lightbox(page)
    lightbox = page.frame_locator("iframe[title='Apruve']")
    lightbox.get_by_label("Apruve account e-mail").fill("gus@globex.example")
    lightbox.get_by_role("button", name="Accept terms and place order").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    order = Order.objects.get(number=page.locator("dt:has-text('Order number') + dd").inner_text())
    auth = order.transactions.get()
    assert (auth.action, auth.state, len(auth.provider_reference)) == (Action.AUTHORIZE, State.SUCCEEDED, 32)

    staff = browser.new_context(base_url=site).new_page()
    staff_log_in(staff, "sales", "paydesk-sales")
    staff.goto(f"/admin/orders/order/{order.pk}/change/")
    expect(staff.locator(".payment-status")).to_have_text("Payment authorized")
    expect(staff.get_by_role("link", name="Capture", exact=True)).to_have_count(0)  # Send invoice replaces it
    staff.get_by_role("link", name="Send invoice").click()
    staff.get_by_label(re.compile(r"^Amount")).fill("10.00")
    staff.get_by_label("Tracking number:").fill("1Z999AA10123456784")
    staff.get_by_role("button", name="Yes, send invoice").click()
    expect(staff.locator(".payment-status")).to_have_text("Invoiced")
    invoice = PaymentTransaction.objects.get(action=Action.INVOICE)
    assert (invoice.amount, invoice.state) == (10, State.SUCCEEDED)

    apruve_close_invoice(f"{site}/sandbox/apruve", invoice.provider_reference)  # the buyer's company paid
    staff.reload()
    expect(staff.locator(".payment-status")).to_have_text("Paid partially")
    staff.context.close()
    page.goto(f"/account/orders/{order.number}/")
    expect(page.get_by_text("Paid partially").first).to_be_visible()
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PARTIALLY


def test_closing_the_lightbox_returns_to_the_payment_step_with_nothing_taken(buyer) -> None:  # noqa: F811
    page, _ = buyer
    open_lightbox(page)
    page.frame_locator("iframe[title='Apruve']").get_by_role("button", name="Close").click()
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()
    expect(page.get_by_text("You closed the payment window without paying.")).to_be_visible()
    apruve = PaymentTransaction.objects.filter(integration__provider_key="apruve")  # the seed's orders aside
    assert list(apruve.values_list("action", "state", "successful")) == [(Action.AUTHORIZE, State.DECLINED, False)]
