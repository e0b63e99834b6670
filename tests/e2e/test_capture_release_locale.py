"""The partial-capture hint on a single-capture provider, in Chromium, for staff who type amounts with a comma."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.contrib.auth.models import Group
from django.test import Client
from playwright.sync_api import Browser, expect

from backoffice.roles import SALES
from payments import services
from tests import factories

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_a_german_speaking_clerk_sees_what_a_partial_capture_releases(
    browser: Browser,
    live_server,  # noqa: ANN001
    stripe_integration,  # noqa: ANN001
) -> None:
    """The hint read the held amount from a number the page rendered in the clerk's locale ("200,00" in German),
    which the script could not read: German and French staff never saw "the remaining … will be released"
    while typing a partial capture."""
    order = factories.OrderFactory(subtotal=Decimal("200.00"))
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="auth",
        payment_data={"payment_method": "pm_card_visa"},
    )
    clerk = factories.UserFactory(username="klara", staff=True)
    clerk.groups.add(Group.objects.get(name=SALES))
    client = Client()
    client.force_login(clerk)
    context = browser.new_context(base_url=live_server.url, locale="de-DE")
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    try:
        page.goto(f"/admin/orders/order/{order.pk}/payments/{auth.pk}/capture/")
        amount = page.get_by_label("Amount (USD):")
        expect(amount).to_have_value("200,00")

        amount.fill("24,50")

        expect(page.locator("#release-remaining")).to_have_text("The remaining 175,50 USD will be released.")
        amount.fill("24.50")  # not a German amount: the form refuses it, so the hint says nothing
        expect(page.locator("#release-remaining")).to_have_text("")
    finally:
        context.close()
