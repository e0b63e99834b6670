"""OroPay in real Chromium against its GP-API sandbox: a buyer pays an order by card (authorized, then sales
captures part from the order page) and an open invoice by ACH. Card and account numbers go from the hosted fields
to the sandbox, never to our views or our database."""

from __future__ import annotations

import re
from collections.abc import Iterator

import pytest
from django.apps import apps
from django.core import serializers
from playwright.sync_api import Browser, Page, expect

from demo.seed import seed_demo
from integrations.models import Integration
from orders.models import Invoice, Order, PaymentStatus
from payments.models import Action, State
from providers.oropay import client as gp_client
from sandbox.oropay import simulator as sandbox
from tests.e2e.conftest import log_in as staff_log_in

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]

CARD = "4263970000005262"
ACCOUNT = "987654321"
ROUTING = "021000021"


@pytest.fixture
def site(live_server, settings) -> str:  # noqa: ANN001
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    gp_client.token_cache_clear()
    seed_demo()
    return live_server.url


@pytest.fixture
def sent_to_us() -> list[str]:
    return []


def buyer_page(browser: Browser, site: str, email: str, sent: list[str]) -> Page:
    context = browser.new_context(base_url=site)

    def record(request) -> None:  # noqa: ANN001
        if request.url.startswith(site) and "/sandbox/" not in request.url:
            sent.append(f"{request.method} {request.url} {request.post_data or ''}")

    context.on("request", record)
    page = context.new_page()
    page.set_default_timeout(15_000)
    page.goto("/login/")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill("paydesk-buyer")
    page.get_by_role("button", name="Log in").click()
    expect(page.get_by_role("heading", name="Catalog")).to_be_visible()
    return page


def nothing_secret_reached_us(sent: list[str], *numbers: str) -> None:
    assert sent, "no request to our views was seen"
    for request in sent:
        for number in numbers:
            assert number not in re.sub(r"\D", "", request), request
    ours = [m for m in apps.get_models() if m._meta.app_label not in {"sandbox", "sessions", "admin"}]
    dump = "".join(serializers.serialize("json", m._default_manager.all()) for m in ours)
    for number in numbers:
        assert number not in dump


@pytest.fixture
def card_buyer(browser: Browser, site: str, sent_to_us: list[str]) -> Iterator[Page]:
    integration = Integration.objects.get(provider_key="oropay")
    integration.payment_action = Integration.PaymentAction.AUTHORIZE  # manual capture from the order view
    integration.save()
    page = buyer_page(browser, site, "buyer@globex.example", sent_to_us)
    yield page
    page.context.close()


def test_buyer_pays_by_card_then_sales_captures_part(card_buyer: Page, browser: Browser, site: str, sent_to_us) -> None:
    page = card_buyer
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

    page.get_by_label("Credit card (OroPay)", exact=True).check()
    fields = page.locator(".oropay-card")
    page.get_by_role("button", name="Continue").click()  # no card yet: refused in the page, nothing sent
    expect(fields.get_by_role("alert")).to_contain_text("Use this card")
    fields.get_by_label("Card number").fill(CARD)
    fields.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    fields.get_by_label("Security code").fill("123")
    fields.get_by_role("button", name="Use this card").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    page.get_by_role("button", name="Submit order").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Payment authorized")
    order = Order.objects.get(number=page.locator("dt:has-text('Order number') + dd").inner_text())
    auth = order.transactions.get()
    assert (auth.action, auth.provider_reference[:4]) == (Action.AUTHORIZE, "TRN_")

    staff = browser.new_context(base_url=site).new_page()
    staff.set_default_timeout(15_000)
    staff_log_in(staff, "sales", "paydesk-sales")
    staff.goto(f"/admin/orders/order/{order.pk}/change/")
    expect(staff.locator(".payment-status")).to_have_text("Payment authorized")
    staff.get_by_role("link", name="Capture", exact=True).click()
    staff.get_by_label("Amount (USD):").fill("20.00")
    staff.get_by_label("Note:").fill("First shipment")
    staff.get_by_role("button", name="Yes, capture").click()
    expect(staff.locator("ul.messagelist")).to_have_text("The payment of $20.00 has been captured successfully.")
    expect(staff.locator(".payment-status")).to_have_text("Paid partially")
    held = sandbox.sim_get("oropay", "transaction", auth.provider_reference)
    assert (held.data["status"], held.data["_captured"]) == ("CAPTURED", 2000)  # the rest stays held (MULTIPLE)
    nothing_secret_reached_us(sent_to_us, CARD)


def test_buyer_pays_an_open_invoice_by_ach(browser: Browser, site: str, settings, sent_to_us) -> None:  # noqa: ANN001
    settings.INVOICE_PAYMENT_METHOD = "oropay"  # as the demo's .env sets it
    invoice = Invoice.objects.get(status=Invoice.Status.OPEN)  # seeded for ACME
    page = buyer_page(browser, site, "buyer@acme.example", sent_to_us)
    page.goto(f"/account/invoices/{invoice.number}/")
    page.get_by_label("ACH bank debit").check()
    bank = page.locator(".oropay-ach")
    bank.get_by_label("Routing number").fill(ROUTING)
    bank.get_by_label("Account number").fill(ACCOUNT)
    bank.get_by_label("Account holder").fill("ACME Industrial")
    bank.get_by_role("button", name="Use this bank account").click()  # not authorized yet: nothing is sent
    expect(bank.get_by_role("alert")).to_have_text("Please accept the debit authorization.")
    bank.get_by_label("I authorize this debit of my bank account.").check()
    bank.get_by_role("button", name="Use this bank account").click()
    expect(page.get_by_role("status")).to_contain_text(
        f"Your payment for invoice {invoice.number} was recorded (Pending payment)"
    )
    debit = invoice.transactions.get()
    assert (debit.action, debit.state, debit.payment_method.endswith("_ach")) == (Action.CHARGE, State.PROCESSING, True)

    sandbox.settle(debit.provider_reference)  # two banking days later Global Payments reports it FUNDED
    page.reload()
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)
    nothing_secret_reached_us(sent_to_us, ACCOUNT)
