"""A buyer shops, checks out through every step and pays, in real Chromium, as a new user would."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from playwright.sync_api import Browser, Page, expect

from demo.seed import seed_demo
from orders.models import Invoice, Order

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def site(live_server) -> str:  # noqa: ANN001
    seed_demo()
    return live_server.url


def open_page(browser: Browser) -> Iterator[Page]:
    context = browser.new_context()
    page = context.new_page()
    page.set_default_timeout(10_000)
    yield page
    context.close()


@pytest.fixture
def page(browser: Browser) -> Iterator[Page]:
    yield from open_page(browser)


@pytest.fixture
def other_page(browser: Browser) -> Iterator[Page]:
    yield from open_page(browser)


def nav(page: Page, name: str) -> None:
    page.get_by_role("navigation", name="Main").get_by_role("link", name=name, exact=True).click()


def log_in(page: Page, site: str, email: str) -> None:
    page.goto(f"{site}/")
    nav(page, "Log in")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("paydesk-buyer")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()


def check_out(page: Page, method: str, widget_text: str) -> str:
    """From the cart through every step; returns the order number on the confirmation page."""
    nav(page, "Cart")
    page.get_by_role("link", name="Check out").click()

    expect(page.get_by_role("heading", name="Billing address")).to_be_visible()
    page.get_by_label("First name").fill("Ada")
    page.get_by_label("Last name").fill("Buyer")
    page.get_by_label("Company").fill("ACME Industrial")
    page.get_by_label("Street address", exact=True).fill("200 Industrial Way")
    page.get_by_label("City").fill("Springfield")
    page.get_by_label("Postal code").fill("62701")
    page.get_by_label("Country").select_option(label="United States")
    page.get_by_label("State or region").select_option("US-IL")  # its regions follow the country
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Shipping address")).to_be_visible()
    expect(page.get_by_label("Ship to the billing address")).to_be_checked()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Shipping method")).to_be_visible()
    page.get_by_label("Flat rate ($15.00)").check()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()
    page.get_by_label(method).check()
    expect(page.get_by_text(widget_text)).to_be_visible()
    page.get_by_role("button", name="Continue").click()

    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.get_by_text(widget_text)).to_be_visible()
    page.get_by_role("button", name="Submit order").click()

    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    return page.locator("dt:has-text('Order number') + dd").inner_text()


def test_buyer_checks_out_by_money_order_and_by_payment_terms(site: str, page: Page, other_page: Page) -> None:
    log_in(page, site, "buyer@acme.example")
    page.get_by_role("button", name="Add Hex bolt M8 (box of 100) to cart").click()
    expect(page.get_by_text("Hex bolt M8 (box of 100) was added to your cart.")).to_be_visible()
    page.get_by_role("article", name="Hex nut M8 (box of 100)").get_by_label("Quantity").fill("2")
    page.get_by_role("button", name="Add Hex nut M8 (box of 100) to cart").click()
    nav(page, "Cart")
    expect(page.get_by_role("row", name=re.compile("Hex bolt M8"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile("Hex nut M8"))).to_be_visible()

    first = check_out(page, "Check / Money Order", "Make Check Payable To: Paydesk Demo Inc.")
    expect(page.locator("dt:has-text('Payment method') + dd")).to_have_text("Check")
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Pending payment")

    nav(page, "Catalog")
    page.get_by_role("button", name="Add Air compressor 50 L to cart").click()
    second = check_out(page, "Payment Terms", "Terms: Net 30")
    expect(page.locator("dt:has-text('Payment method') + dd")).to_have_text("Terms")
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Pending payment")

    nav(page, "My orders")
    for number, method in [(first, "Check"), (second, "Terms")]:
        row = page.get_by_role("row", name=re.compile(number))
        expect(row.get_by_role("cell").nth(2)).to_have_text(method)
        expect(row.get_by_role("cell").nth(3)).to_have_text("Pending payment")
    assert [str(Order.objects.get(number=n).total) for n in (first, second)] == ["40.0000", "2465.0000"]

    # another company's buyer sees neither the order nor ACME's invoice
    log_in(other_page, site, "buyer@globex.example")
    assert other_page.goto(f"{site}/account/orders/{first}/").status == 404
    invoice = Invoice.objects.get().number
    assert other_page.goto(f"{site}/account/invoices/{invoice}/").status == 404
    assert page.goto(f"{site}/account/invoices/{invoice}/").status == 200


def test_buyer_pays_an_open_invoice(site: str, page: Page, settings) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "money_order"
    invoice = Invoice.objects.get().number
    log_in(page, site, "buyer@acme.example")
    nav(page, "Invoices")
    page.get_by_role("link", name=f"Pay {invoice}").click()
    expect(page.get_by_text("Make Check Payable To: Paydesk Demo Inc.")).to_be_visible()
    page.get_by_role("button", name="Pay $97.13").click()
    expect(page.get_by_text(f"Thank you. Your payment for invoice {invoice} was recorded")).to_be_visible()
    nav(page, "Invoices")
    expect(page.get_by_role("link", name=f"Pay {invoice}")).to_have_count(0)
