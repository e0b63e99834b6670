"""OroPay in real Chromium: what a buyer does on a page offering both of its methods (card and ACH)."""

from __future__ import annotations

import pytest
from playwright.sync_api import Browser, expect

from orders.models import Invoice, PaymentStatus
from payments.models import Action, State
from tests.e2e.test_oropay import CARD, buyer_page, nothing_secret_reached_us, sent_to_us, site  # noqa: F401

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_buyer_pays_an_open_invoice_by_card_while_ach_is_offered_too(
    browser: Browser,
    site: str,  # noqa: F811
    settings,  # noqa: ANN001
    sent_to_us,  # noqa: ANN001, F811
) -> None:
    """The card's token reaches the server although the ACH widget's empty reference field follows it in the
    form (the hosted fields submit the form from script, which fires no submit event)."""
    settings.INVOICE_PAYMENT_METHOD = "oropay"
    invoice = Invoice.objects.get(status=Invoice.Status.OPEN)
    page = buyer_page(browser, site, "buyer@acme.example", sent_to_us)
    page.goto(f"/account/invoices/{invoice.number}/")
    expect(page.locator(".oropay-ach")).to_have_count(1)  # both methods are on the page
    fields = page.locator(".oropay-card")
    fields.get_by_label("Card number").fill(CARD)
    fields.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    fields.get_by_label("Security code").fill("123")
    fields.get_by_role("button", name="Use this card").click()
    expect(page.get_by_role("status")).to_contain_text(f"Your payment for invoice {invoice.number} was recorded")
    payment = invoice.transactions.get()
    assert (payment.action, payment.state, payment.payment_method.endswith("_ach")) == (
        Action.CHARGE,
        State.SUCCEEDED,
        False,
    )
    invoice.refresh_from_db()
    assert invoice.payment_status == PaymentStatus.FULL
    nothing_secret_reached_us(sent_to_us, CARD)


def test_buyer_pays_an_order_by_card_at_checkout_while_ach_is_offered_too(
    browser: Browser,
    site: str,  # noqa: F811
    sent_to_us,  # noqa: ANN001, F811
) -> None:
    """The demo's integration captures automatically; with a rule offering its ACH too, checkout shows the card and
    ACH on one page."""
    from demo.seed import _rule
    from integrations.models import Integration

    _rule("OroPay ACH (USD)", "USD", 12, [Integration.objects.get(provider_key="oropay")], variant="ach")
    page = buyer_page(browser, site, "buyer@globex.example", sent_to_us)
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
    expect(page.locator(".oropay-ach")).to_have_count(1)
    page.get_by_label("Credit card (OroPay)", exact=True).check()
    fields = page.locator(".oropay-card")
    fields.get_by_label("Card number").fill(CARD)
    fields.get_by_label("Expiry (MM / YY)").fill("12 / 34")
    fields.get_by_label("Security code").fill("123")
    fields.get_by_role("button", name="Use this card").click()
    expect(page.get_by_role("heading", name="Review your order")).to_be_visible()
    page.get_by_role("button", name="Submit order").click()
    expect(page.get_by_role("heading", name="Thank you for your order")).to_be_visible()
    expect(page.locator("dt:has-text('Payment status') + dd")).to_have_text("Paid in full")
    nothing_secret_reached_us(sent_to_us, CARD)
