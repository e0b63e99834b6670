"""Paying by card in real Chromium with the Stripe method (its sandbox): manual capture, partial capture and
refund from the order page, 3-D Secure, a decline. No card number may reach our views or our database."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core import serializers
from playwright.sync_api import Browser, Page, Request, expect

from demo.seed import seed_demo
from orders.models import Order, PaymentStatus
from payments.models import Action
from tests.e2e.conftest import log_in as staff_log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

VISA = "4242 4242 4242 4242"
THREE_D_SECURE = "4000 0027 6000 3184"
AUTHENTICATION_REQUIRED = "4000 0025 0000 3155"
DECLINED = "4000 0000 0000 0002"
CARDS = [VISA, THREE_D_SECURE, AUTHENTICATION_REQUIRED, DECLINED]


@pytest.fixture
def site(live_server, settings) -> str:  # noqa: ANN001
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    seed_demo()
    return live_server.url


class Recorder:
    """Every request the browser sends to our own views (the sandbox stands for Stripe and is left out)."""

    def __init__(self, site: str) -> None:
        self.site = site
        self.ours: list[str] = []
        self.to_stripe: list[str] = []

    def __call__(self, request: Request) -> None:
        if not request.url.startswith(self.site):
            return
        text = f"{request.method} {request.url} {request.post_data or ''}"
        (self.to_stripe if "/sandbox/" in request.url else self.ours).append(text)


@pytest.fixture
def buyer(browser: Browser, site: str) -> Iterator[tuple[Page, Recorder]]:
    context = browser.new_context(base_url=site)
    recorder = Recorder(site)
    context.on("request", recorder)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.get_by_label("Email").fill("buyer@globex.example")
    page.get_by_label("Password").fill("paydesk-buyer")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    yield page, recorder
    context.close()


def enter_card(page: Page, card: str) -> None:
    """Choose the Stripe method on the payment step, type the card into Stripe's fields, continue to review."""
    page.get_by_label("Credit card", exact=True).check()
    stripe = page.locator(".stripe-widget")  # other card methods have their own fields on the page
    stripe.get_by_label("Card number").fill(card)
    stripe.get_by_label("MM / YY").fill("12 / 34")
    stripe.get_by_label("CVC").fill("123")
    page.get_by_role("button", name="Continue").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()


def card_checkout(page: Page, card: str) -> None:
    """Add a product, go through the steps with a US address, enter the card in Stripe's fields, submit."""
    page.get_by_role("button", name="Add Hex bolt M8 (box of 100) to cart").click()
    page.goto("/cart/")
    page.get_by_role("link", name="Check out").click()
    page.get_by_label("First name").fill("Gus")
    page.get_by_label("Last name").fill("Buyer")
    page.get_by_label("Company").fill("Globex Trading")
    page.get_by_label("Street address", exact=True).fill("5 Harbor Road")
    page.get_by_label("City").fill("Boston")
    page.get_by_label("Postal code").fill("02110")
    page.get_by_label("Country").select_option(label="United States")
    page.get_by_label("State or region").select_option("US-MA")  # its regions follow the country
    page.get_by_role("button", name="Continue").click()
    page.get_by_role("button", name="Continue").click()
    page.get_by_label("Flat rate ($15.00)").check()
    page.get_by_role("button", name="Continue").click()

    enter_card(page, card)
    page.get_by_role("button", name="Submit order").click()


def assert_no_card_number_reached_us(recorder: Recorder) -> None:
    digits = [card.replace(" ", "") for card in CARDS]
    assert recorder.ours, "the recorder saw no request to our views"
    for request in recorder.ours:
        for number in digits:
            assert number not in re.sub(r"\D|%20|\+", "", request.replace("%20", "")), request
            assert number[-8:] not in request.replace(" ", "").replace("%20", "").replace("+", ""), request
    assert any("card%5Bnumber%5D" in r or "card[number]" in r for r in recorder.to_stripe)  # went to "Stripe"


def assert_no_card_number_in_the_database(*numbers: str) -> None:
    """Every row of every table of ours, serialized: no full card number anywhere (the sandbox keeps last4)."""
    ours = [m for m in apps.get_models() if m._meta.app_label not in {"sandbox", "sessions", "admin"}]
    dump = "".join(serializers.serialize("json", m._default_manager.all()) for m in ours)
    assert '"model"' in dump
    for card in [*CARDS, *numbers]:
        assert card.replace(" ", "") not in dump
        assert card not in dump


def test_card_payment_with_manual_capture_then_partial_capture_and_refund(buyer, browser: Browser, site: str):
    page, recorder = buyer
    card_checkout(page, VISA)
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    number = page.locator("dt:has-text('Order number') + dd").inner_text()
    order = Order.objects.get(number=number)
    authorization = order.transactions.get()
    assert (authorization.action, authorization.provider_reference[:3]) == (Action.AUTHORIZE, "pi_")
    assert_no_card_number_reached_us(recorder)
    assert_no_card_number_in_the_database()

    staff = browser.new_context(base_url=site).new_page()
    staff.set_default_timeout(15_000)
    staff_log_in(staff, "sales", "paydesk-sales")
    staff.goto(f"/admin/orders/order/{order.pk}/change/")
    expect(staff.locator(".payment-status")).to_have_text("Payment authorized")
    staff.get_by_role("link", name="Capture", exact=True).click()
    staff.get_by_label("Amount (USD):").fill("20.00")
    staff.get_by_label("Note:").fill("First shipment")
    # Stripe takes one capture per authorization: the page says what the rest is before anything moves
    rest = authorization.amount - 20
    expect(staff.locator("#release-remaining")).to_have_text(f"The remaining {rest:.2f} USD will be released.")
    staff.get_by_role("button", name="Yes, capture").click()
    expect(staff.locator(".errorlist")).to_contain_text(f"the remaining ${rest:,.2f} will be released")
    assert not order.transactions.filter(action=Action.CAPTURE).exists()
    staff.get_by_label("Release the rest").check()
    staff.get_by_role("button", name="Yes, capture").click()
    expect(staff.locator("ul.messagelist")).to_have_text("The payment of $20.00 has been captured successfully.")
    expect(staff.locator(".payment-status")).to_have_text("Paid partially")

    staff.get_by_role("link", name="Refund", exact=True).click()
    staff.get_by_label("Amount (USD):").fill("5.00")
    staff.get_by_label("Note:").fill("One box damaged")
    staff.get_by_label("Reason:").select_option("requested_by_customer")
    staff.get_by_role("button", name="Yes, refund").click()
    expect(staff.locator("ul.messagelist")).to_have_text("The refund of $5.00 has been made successfully.")
    expect(staff.locator(".payment-status")).to_have_text("Refunded partially")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    assert list(order.transactions.order_by("pk").values_list("action", "amount")) == [
        ("authorize", authorization.amount),
        ("capture", 20),
        ("release", authorization.amount - 20),  # Stripe captures once: it let the rest go, recorded as such
        ("refund", 5),
    ]


def test_three_d_secure_card_goes_through_its_challenge(buyer) -> None:
    page, recorder = buyer
    card_checkout(page, THREE_D_SECURE)
    page.get_by_role("button", name="Complete authentication").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    assert_no_card_number_reached_us(recorder)
    assert_no_card_number_in_the_database()


def test_leaving_3d_secure_for_another_card_cancels_the_open_payment(buyer) -> None:
    page, recorder = buyer
    card_checkout(page, AUTHENTICATION_REQUIRED)
    expect(page.get_by_role("button", name="Complete authentication")).to_be_visible()
    challenge = page.url

    page.goto("/checkout/payment/")  # the buyer leaves the challenge and pays with another card
    expect(page.get_by_text("the payment provider is still waiting for you")).to_be_visible()
    enter_card(page, VISA)
    page.get_by_role("button", name="Submit order").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    number = page.locator("dt:has-text('Order number') + dd").inner_text()

    old_tab = page.context.new_page()  # the challenge, still open in another tab
    old_tab.goto(challenge)
    expect(old_tab.get_by_text("no longer waiting for authentication (status: canceled)")).to_be_visible()
    old_tab.get_by_role("button", name="Return to the shop").click()
    expect(old_tab.get_by_role("alert").first).to_contain_text("You changed how to pay after starting this payment")
    expect(old_tab.locator("dt:has-text('Order number') + dd")).to_have_text(number)

    assert [o.number for o in Order.objects.placed().filter(customer__name="Globex Trading")] == [number]
    abandoned = Order.objects.discarded().get(customer__name="Globex Trading").transactions.get()
    assert (abandoned.state, abandoned.reason) == ("declined", "abandoned")
    assert_no_card_number_reached_us(recorder)
    assert_no_card_number_in_the_database()


def test_declined_card_shows_the_decline_and_leaves_no_order(buyer) -> None:
    page, recorder = buyer
    card_checkout(page, DECLINED)
    expect(page.get_by_role("heading", name="Payment method")).to_be_visible()
    expect(page.get_by_role("alert").first).to_contain_text("We were unable to process your payment")
    assert not Order.objects.placed().filter(customer__name="Globex Trading").exists()
    page.goto("/account/orders/")
    expect(page.get_by_text("No orders yet.")).to_be_visible()  # the declined attempt's order is for staff only
    page.goto("/cart/")
    expect(page.get_by_role("row", name=re.compile("Hex bolt M8"))).to_be_visible()  # the cart is intact
    assert_no_card_number_reached_us(recorder)
    assert_no_card_number_in_the_database()


def test_buyer_pays_an_open_invoice_by_card(browser: Browser, site: str) -> None:
    from orders.models import Invoice

    invoice = Invoice.objects.get(status=Invoice.Status.OPEN)  # seeded for ACME
    context = browser.new_context(base_url=site)
    recorder = Recorder(site)
    context.on("request", recorder)
    page = context.new_page()
    page.goto("/login/")
    page.get_by_label("Email").fill("buyer@acme.example")
    page.get_by_label("Password").fill("paydesk-buyer")
    page.get_by_role("button", name="Log in").click()
    page.goto(f"/account/invoices/{invoice.number}/")
    page.get_by_label("Card number").fill(VISA)
    page.get_by_label("MM / YY").fill("12 / 34")
    page.get_by_label("CVC").fill("123")
    page.get_by_role("button", name=re.compile(r"^Pay ")).click()
    expect(page.get_by_text(f"Thank you. Your payment for invoice {invoice.number} was recorded")).to_be_visible()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)
    charge = invoice.transactions.get()
    assert (charge.action, charge.successful, charge.provider_reference[:3]) == (Action.CHARGE, True, "pi_")
    assert_no_card_number_reached_us(recorder)
    assert_no_card_number_in_the_database()
    context.close()
