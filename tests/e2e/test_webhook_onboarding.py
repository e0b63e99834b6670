"""The webhook onboarding panel in Chromium: what to configure at the provider, the missing signing secret, and a
refused delivery with why."""

from __future__ import annotations

from pathlib import Path

import pytest
from django.test import Client
from playwright.sync_api import Browser, expect

from tests import factories
from tests.authorizenet_support import ANET_SECRETS, ANET_SETTINGS

pytestmark = [pytest.mark.e2e, pytest.mark.django_db(transaction=True)]


def test_an_administrator_sees_how_to_set_up_webhooks_and_why_deliveries_were_refused(
    browser: Browser,
    live_server,  # noqa: ANN001
    screenshot_dir: Path,
) -> None:
    anet = factories.IntegrationFactory(
        provider_key="authorizenet",
        name="Authorize.Net (new)",
        settings=dict(ANET_SETTINGS),
        secrets={**ANET_SECRETS, "signature_key": ""},
    )
    Client().post(  # the provider sends before the secret is pasted
        f"/webhooks/{anet.uuid}/",
        '{"notificationId": "n-1", "eventType": "net.authorize.payment.authcapture.created"}',
        content_type="application/json",
        HTTP_X_ANET_SIGNATURE="sha512=ABC",
    )
    client = Client()
    client.force_login(factories.UserFactory(username="ada", superuser=True))
    context = browser.new_context(base_url=live_server.url, viewport={"width": 1440, "height": 1000})
    context.add_cookies([{"name": "sessionid", "value": client.cookies["sessionid"].value, "url": live_server.url}])
    page = context.new_page()
    try:
        page.goto(f"/admin/integrations/integration/{anet.pk}/change/")

        panel = page.locator(".webhook-onboarding")
        expect(panel.get_by_role("heading", name="Webhooks")).to_be_visible()
        expect(panel.get_by_label("Webhook URL")).to_have_value(anet.get_webhook_url())
        expect(panel.locator(".webhook-events")).to_contain_text("net.authorize.payment.refund.created")
        expect(panel.get_by_role("alert")).to_contain_text("No signing secret is set")
        refused = panel.locator(".webhook-rejected tbody tr")
        expect(refused).to_have_count(1)
        expect(refused).to_contain_text("Authorize.Net webhook without signature or signature key")
        folder = screenshot_dir / "screenshots"
        folder.mkdir(exist_ok=True)
        panel.scroll_into_view_if_needed()
        page.screenshot(path=str(folder / "integration-webhook-onboarding.png"), full_page=True)
    finally:
        context.close()
