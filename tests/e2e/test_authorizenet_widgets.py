"""The Authorize.Net widgets in Chromium: card and bank numbers go to the sandbox's Accept.js endpoint, and the
shop's form receives only the opaque data. The storefront checkout is on another branch, so the widgets are
rendered into a minimal shop page that Playwright serves at the live server's address (under /widget-test/,
which never reaches Django), so the page and the sandbox share an origin as they do in `make run`."""

from __future__ import annotations

from urllib.parse import parse_qs

import pytest
from django.template.loader import render_to_string
from playwright.sync_api import Page, Route

from providers.authorizenet.adapter import AuthorizeNetAdapter
from providers.base import Environment, IntegrationInfo, PaymentAction
from sandbox.authorizenet.simulator import sim_get
from tests.authorizenet_support import ANET_SECRETS, ANET_SETTINGS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def shop_page(live_server_url: str) -> str:
    adapter = AuthorizeNetAdapter({**ANET_SETTINGS, **ANET_SECRETS}, base_url=f"{live_server_url}/sandbox/authorizenet")
    integration = IntegrationInfo(7, "u", "authorizenet", "Authorize.Net", Environment.SANDBOX, PaymentAction.CHARGE)
    card, echeck = adapter.methods(integration)
    widgets = "".join(
        f'<label><input type="radio" name="method" value="{m.identifier}">{m.identifier}</label>'
        + render_to_string(
            m.widget, {"options": adapter.widget_context(m), "method": m, "field_prefix": "payment_data"}
        )
        for m in (card, echeck)
    )
    action = f"{live_server_url}/widget-test/pay"
    return f'<html><body><form method="post" action="{action}">{widgets}<button>Pay</button></form></body></html>'


def open_shop(page: Page, live_server_url: str) -> list[dict]:
    """Serve the shop page; record every request to the shop (what our views would receive): anything to our
    host outside the sandbox."""
    to_shop: list[dict] = []
    html = shop_page(live_server_url)

    def serve(route: Route) -> None:
        request = route.request
        to_shop.append({"url": request.url, "body": request.post_data or ""})
        if request.url.endswith("/pay"):
            route.fulfill(status=200, content_type="text/html", body="<p>paid</p>")
        else:
            route.fulfill(status=200, content_type="text/html", body=html)

    def record(request) -> None:  # noqa: ANN001
        if (
            request.url.startswith(live_server_url)
            and "/sandbox/" not in request.url
            and "/widget-test/" not in request.url
        ):
            to_shop.append({"url": request.url, "body": request.post_data or ""})

    page.on("request", record)
    page.route(f"{live_server_url}/widget-test/**", serve)
    page.goto(f"{live_server_url}/widget-test/checkout")
    return to_shop


def test_the_card_widget_posts_only_opaque_data(page: Page, live_server) -> None:
    to_shop = open_shop(page, live_server.url)
    page.check('input[value="authorizenet_7"]')
    page.get_by_label("Card number").fill("4111 1111 1111 1111")
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill("2034")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay").click()
    page.get_by_text("paid").wait_for()
    posted = parse_qs(next(r["body"] for r in to_shop if r["url"].endswith("/pay")))
    assert sorted(posted) == ["method", "payment_data[data_descriptor]", "payment_data[data_value]"]
    assert posted["payment_data[data_descriptor]"] == ["COMMON.ACCEPT.INAPP.PAYMENT"]
    nonce = sim_get("authorizenet", "nonce", posted["payment_data[data_value]"][0])
    assert nonce is not None
    assert nonce.data["number"] == "4111111111111111"  # the sandbox has it; the shop does not
    assert not any("4111" in r["body"] or "4111" in r["url"] for r in to_shop)


def test_the_echeck_widget_needs_the_confirmation_and_posts_only_opaque_data(page: Page, live_server) -> None:
    to_shop = open_shop(page, live_server.url)
    page.check('input[value="authorizenet_7_echeck"]')
    page.get_by_label("Routing number").fill("121042882")
    page.get_by_label("Account number").fill("987654321")
    page.get_by_label("Name on account").fill("Ada Buyer")
    page.get_by_role("button", name="Pay").click()
    page.get_by_text("Please confirm the debit authorization.").wait_for()
    page.get_by_label("I authorize this debit of my bank account.").check()
    page.get_by_role("button", name="Pay").click()
    page.get_by_text("paid").wait_for()
    posted = parse_qs(next(r["body"] for r in to_shop if r["url"].endswith("/pay")))
    assert sorted(posted) == ["method", "payment_data[data_descriptor]", "payment_data[data_value]"]
    assert posted["method"] == ["authorizenet_7_echeck"]
    assert sim_get("authorizenet", "nonce", posted["payment_data[data_value]"][0]).data["kind"] == "bank"
    assert not any("987654321" in r["body"] for r in to_shop)


def test_a_card_type_the_integration_refuses_is_stopped_in_the_browser(page: Page, live_server) -> None:
    open_shop(page, live_server.url)
    page.check('input[value="authorizenet_7"]')
    page.get_by_label("Card number").fill("3530111333300000")  # JCB: not among the allowed types
    page.get_by_label("Expiry month").fill("12")
    page.get_by_label("Expiry year").fill("2034")
    page.get_by_label("Security code").fill("123")
    page.get_by_role("button", name="Pay").click()
    page.get_by_text("This card type is not accepted.").wait_for()
