"""The order page in Chromium: amounts at a glance, the history with the provider's release of an uncaptured rest,
one timeline with a staff note, the order's History page, and the buyer's own order page."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from playwright.sync_api import Browser, BrowserContext, expect

from backoffice.roles import SALES
from payments import services
from payments.models import Action
from providers.base import Money
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def logged_in(browser: Browser, base_url: str, user) -> BrowserContext:  # noqa: ANN001
    client = Client()
    client.force_login(user)
    context = browser.new_context(base_url=base_url, viewport={"width": 1440, "height": 1000})
    context.set_default_timeout(15_000)
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": base_url}])
    return context


@pytest.fixture
def shots(screenshot_dir: Path) -> Path:
    folder = screenshot_dir / "screenshots"
    folder.mkdir(exist_ok=True)
    return folder


@pytest.fixture
def captured_and_refunded(stripe_integration):  # noqa: ANN001, ANN201
    """$200.00 authorized at Stripe, $150.00 captured (Stripe releases the other $50.00), $20.00 refunded."""
    buyer = factories.CustomerUserFactory(user__email="buyer@acme.example", user__username="buyer@acme.example")
    order = factories.OrderFactory(subtotal=Decimal("200.00"), customer=buyer.customer, customer_user=buyer)
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="auth",
        payment_data={"payment_method": "pm_card_visa"},
    )
    capture = services.payment_capture(source_id=auth.pk, amount=Money(Decimal("150.00"), "USD"), key="cap")
    services.payment_refund(source_id=capture.pk, amount=Money(Decimal("20.00"), "USD"), key="ref", note="Goodwill")
    return order, buyer


def test_staff_see_amounts_history_and_one_timeline_and_add_a_note(
    browser: Browser,
    live_server,  # noqa: ANN001
    captured_and_refunded,  # noqa: ANN001
    shots: Path,
) -> None:
    order, _ = captured_and_refunded
    assert order.transactions.filter(action=Action.RELEASE, amount=Decimal("50.00")).count() == 1
    clerk = factories.UserFactory(username="klara", first_name="Klara", last_name="Clerk", staff=True)
    clerk.groups.add(Group.objects.get(name=SALES))
    context = logged_in(browser, live_server.url, clerk)
    page = context.new_page()
    try:
        page.goto(f"/admin/orders/order/{order.pk}/change/")

        summary = page.locator(".field-payment_summary")
        expect(summary).to_contain_text("Authorized $200.00")
        expect(summary).to_contain_text("Captured $150.00")
        expect(summary).to_contain_text("Refunded $20.00")
        expect(summary).to_contain_text("Outstanding $50.00")
        expect(summary).to_contain_text("Released $50.00")
        history = page.locator(".inline-group", has_text="Payment history")
        release = history.locator("tr", has_text="Uncaptured rest released by the provider")
        expect(release).to_contain_text("$50.00")
        expect(release).to_contain_text("Stripe")  # the provider column: the integration's name
        expect(history.locator("tr", has_text="Goodwill")).to_contain_text("Refund")
        expect(page.get_by_role("button", name="Save")).to_have_count(0)  # sales read the order; nothing to save

        page.get_by_label("Add a note").fill("Buyer called: keep the rest released.")
        page.get_by_role("button", name="Add note").click()

        expect(page.locator("ul.messagelist")).to_contain_text("The note was added to the timeline.")
        timeline = page.locator("#timeline")
        expect(timeline.locator("li.timeline-note")).to_contain_text("Buyer called: keep the rest released.")
        expect(timeline.locator("li.timeline-note")).to_contain_text("by Klara Clerk")
        expect(timeline.locator("li.timeline-payment", has_text="Payment captured")).to_contain_text("$150.00")
        expect(timeline.locator("li.timeline-status", has_text="Payment status: Refunded partially")).to_have_count(1)
        expect(timeline.locator("li.timeline-email").first).to_contain_text("E-mail to the buyer")
        page.screenshot(path=str(shots / "order-page-amounts-history-timeline.png"), full_page=True)

        page.get_by_role("link", name="History").click()

        expect(page.locator("#timeline li.timeline-note")).to_contain_text("Buyer called")
        expect(page.locator("#timeline li.timeline-payment", has_text="Refund")).to_contain_text("$20.00")
        page.screenshot(path=str(shots / "order-history-page.png"), full_page=True)
    finally:
        context.close()


def test_the_buyer_sees_the_amounts_of_their_order(
    browser: Browser,
    live_server,  # noqa: ANN001
    captured_and_refunded,  # noqa: ANN001
    shots: Path,
) -> None:
    order, buyer = captured_and_refunded
    context = logged_in(browser, live_server.url, buyer.user)
    page = context.new_page()
    try:
        page.goto(f"/account/orders/{order.number}/")

        expect(page.locator(".amount-authorized")).to_have_text("$200.00")
        expect(page.locator(".amount-captured")).to_have_text("$150.00")
        expect(page.locator(".amount-refunded")).to_have_text("$20.00")
        expect(page.locator(".amount-outstanding")).to_have_text("$50.00")
        expect(page.get_by_text("Goodwill")).to_have_count(0)  # staff notes stay with staff
        page.screenshot(path=str(shots / "buyer-order-amounts.png"), full_page=True)
    finally:
        context.close()
