"""The buyer's order and invoice lists (pages, search, status filter, PDF) and the payment step (only the chosen
method's form expanded, with and without JavaScript), in real Chromium, with screenshots."""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date
from pathlib import Path

import pytest
from playwright.sync_api import Browser, Page, expect

from customers.models import CustomerUser
from integrations.models import Integration
from orders.models import Invoice, Order
from tests.factories import OrderFactory

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def shots(screenshot_dir: Path) -> Path:
    folder = screenshot_dir / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


def buyer_page(browser: Browser, base_url: str, email: str, *, javascript: bool = True) -> Iterator[Page]:
    context = browser.new_context(
        base_url=base_url, java_script_enabled=javascript, viewport={"width": 1280, "height": 900}
    )
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("paydesk-buyer")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    yield page
    context.close()


@pytest.fixture
def sandboxes(live_server, settings, seeded) -> None:  # noqa: ANN001
    """The card widgets load the sandboxes' scripts from the live server."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"


@pytest.fixture
def acme(browser: Browser, live_server, seeded) -> Iterator[Page]:  # noqa: ANN001
    yield from buyer_page(browser, live_server.url, "buyer@acme.example")


@pytest.fixture
def globex(browser: Browser, live_server, sandboxes) -> Iterator[Page]:  # noqa: ANN001
    yield from buyer_page(browser, live_server.url, "buyer@globex.example")


@pytest.fixture
def globex_without_js(browser: Browser, live_server, sandboxes) -> Iterator[Page]:  # noqa: ANN001
    yield from buyer_page(browser, live_server.url, "buyer@globex.example", javascript=False)


def many_acme_orders(count: int) -> list[Order]:
    customer = CustomerUser.objects.get(user__username="buyer@acme.example").customer
    method = f"money_order_{Integration.objects.get(provider_key='money_order').pk}"
    return [OrderFactory(customer=customer, payment_method=method) for _ in range(count)]


def body_rows(page: Page):  # noqa: ANN201
    return page.locator("main table tbody tr")


def test_the_buyer_pages_searches_and_filters_orders(acme: Page, shots: Path) -> None:
    orders = many_acme_orders(40)
    Order.objects.filter(pk=orders[3].pk).update(po_number="PO-SHOT-3")
    Order.objects.filter(pk__in=[o.pk for o in orders[:5]]).update(payment_status="full")
    total = Order.objects.placed().filter(customer=orders[0].customer).count()

    acme.get_by_role("navigation", name="Main").get_by_role("link", name="My orders").click()
    expect(acme.get_by_role("heading", name="My orders")).to_be_visible()
    expect(acme.get_by_role("status").filter(has_text="orders")).to_have_text(f"{total} orders")
    expect(body_rows(acme)).to_have_count(25)
    expect(acme.get_by_text("Page 1 of 2")).to_be_visible()
    acme.screenshot(path=shots / "buyer-orders-page-1.png", full_page=True)

    acme.get_by_role("link", name="Next").click()
    expect(acme.get_by_text("Page 2 of 2")).to_be_visible()
    expect(body_rows(acme)).to_have_count(total - 25)
    expect(acme.get_by_role("link", name="Next")).to_have_count(0)

    acme.get_by_label("Search").fill("PO-SHOT-3")
    acme.get_by_role("button", name="Search").click()
    expect(body_rows(acme)).to_have_count(1)
    expect(body_rows(acme).first).to_contain_text(orders[3].number)
    expect(body_rows(acme).first).to_contain_text("PO-SHOT-3")
    acme.screenshot(path=shots / "buyer-orders-search.png", full_page=True)

    acme.get_by_role("link", name="Clear").click()
    acme.get_by_label("Status").select_option(label="Paid in full")
    acme.get_by_role("button", name="Search").click()
    paid = Order.objects.placed().filter(customer=orders[0].customer, payment_status="full").count()
    assert paid >= 5
    expect(body_rows(acme)).to_have_count(paid)
    for row in body_rows(acme).all():
        expect(row).to_contain_text("Paid in full")
    acme.screenshot(path=shots / "buyer-orders-status.png", full_page=True)


def test_the_buyer_pages_searches_invoices_and_opens_a_pdf(acme: Page, shots: Path) -> None:
    for n, order in enumerate(many_acme_orders(30)):
        Invoice.objects.create(
            number=f"INV-E2E-{n:02d}",
            order=order,
            customer=order.customer,
            amount=order.total,
            currency=order.currency,
            due_date=date(2030, 1, 31),
            status=Invoice.Status.PAID if n < 2 else Invoice.Status.OPEN,
        )
    acme.get_by_role("navigation", name="Main").get_by_role("link", name="Invoices").click()
    expect(acme.get_by_role("heading", name="Invoices")).to_be_visible()
    expect(body_rows(acme)).to_have_count(25)
    expect(acme.get_by_text("Page 1 of 2")).to_be_visible()
    acme.screenshot(path=shots / "buyer-invoices-page-1.png", full_page=True)

    acme.get_by_label("Search").fill("INV-E2E-17")
    acme.get_by_role("button", name="Search").click()
    expect(body_rows(acme)).to_have_count(1)
    expect(acme.get_by_role("link", name="INV-E2E-17", exact=True)).to_be_visible()
    acme.screenshot(path=shots / "buyer-invoices-search.png", full_page=True)

    pdf = acme.request.get(acme.get_by_role("link", name="PDF of INV-E2E-17").get_attribute("href") or "")
    assert pdf.status == 200
    assert pdf.headers["content-type"] == "application/pdf"
    assert pdf.body().startswith(b"%PDF-")

    acme.get_by_label("Search").fill("")
    acme.get_by_label("Status").select_option(label="Paid")
    acme.get_by_role("button", name="Search").click()
    expect(body_rows(acme)).to_have_count(2)


def to_payment_step(page: Page) -> None:
    page.get_by_role("button", name="Add Hex bolt M8 (box of 100) to cart").click()
    page.goto("/cart/")
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("First name").fill("Gus")
    page.get_by_label("Last name").fill("Buyer")
    page.get_by_label("Street address", exact=True).fill("5 Harbor Road")
    page.get_by_label("City").fill("Boston")
    page.get_by_label("Postal code").fill("02110")
    page.get_by_label("Country").select_option(label="United States")
    page.get_by_label("State or region").select_option("US-MA")
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Flat rate ($15.00)").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()


def test_only_the_chosen_methods_form_is_expanded(globex: Page, shots: Path) -> None:
    to_payment_step(globex)
    stripe = globex.locator(".stripe-widget")
    anet = globex.locator(".anet-card")
    echeck_note = globex.get_by_label("Routing number")
    # nothing chosen yet: every form folded
    expect(stripe).to_be_hidden()
    expect(anet).to_be_hidden()

    globex.get_by_label("Credit card (Authorize.Net)").check()
    expect(anet.get_by_label("Card number")).to_be_visible()  # a visible label on each card field
    expect(anet.get_by_label("Security code")).to_be_visible()
    expect(stripe).to_be_hidden()
    expect(echeck_note).to_be_hidden()

    globex.get_by_label("Credit card", exact=True).check()
    expect(stripe.get_by_text("Card details")).to_be_visible()
    expect(stripe.get_by_label("Card number")).to_be_visible()
    expect(anet).to_be_hidden()
    expect(globex.get_by_text("authorized now, charged later").first).to_be_visible()
    globex.screenshot(path=shots / "payment-step-one-form.png", full_page=True)

    stripe.get_by_label("Card number").fill("4242 4242 4242 4242")
    stripe.get_by_label("MM / YY").fill("12 / 34")
    stripe.get_by_label("CVC").fill("123")
    globex.get_by_label("PO number").fill("PO-E2E-9")
    globex.get_by_role("button", name="Continue").click()
    expect(globex.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(globex.get_by_text("Total to authorize")).to_be_visible()
    expect(globex.get_by_text("PO-E2E-9")).to_be_visible()
    globex.screenshot(path=shots / "review-authorize.png", full_page=True)
    globex.get_by_role("button", name="Submit order").click()
    expect(globex.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(globex.locator("dt:has-text('PO number') + dd")).to_have_text("PO-E2E-9")


def test_the_payment_step_folds_forms_without_javascript_too(globex_without_js: Page, shots: Path) -> None:
    page = globex_without_js
    page.get_by_role("button", name="Add Hex bolt M8 (box of 100) to cart").click()
    page.goto("/cart/")
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("First name").fill("Gus")
    page.get_by_label("Last name").fill("Buyer")
    page.get_by_label("Street address", exact=True).fill("5 Harbor Road")
    page.get_by_label("City").fill("Boston")
    page.get_by_label("Postal code").fill("02110")
    page.get_by_label("Country").select_option(label="United States")
    page.get_by_role("button", name="Continue").click()  # no script: the server lists the country's regions
    expect(page.get_by_role("heading", name="Shipping address")).to_be_visible()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Flat rate ($15.00)").check()
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()
    frames = page.locator(".widget-frame")
    assert frames.count() >= 3
    for frame in frames.all():
        expect(frame).to_be_hidden()
    page.get_by_label("Check / Money Order").check()
    expect(page.get_by_text(re.compile("Make Check Payable To"))).to_be_visible()
    expect(page.locator(".anet-card")).to_be_hidden()
    page.screenshot(path=shots / "payment-step-without-javascript.png", full_page=True)
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    expect(page.get_by_text("Total to authorize")).to_have_count(0)  # a check moves no money at submit
