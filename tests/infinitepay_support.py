"""Fixtures for tests that run the payment services and pages against the InfinitePay sandbox."""

from __future__ import annotations

import pytest

from integrations.models import Integration
from sandbox.profiles import profile as sandbox_profile
from tests import factories

IP_SETTINGS, IP_SECRETS = sandbox_profile("infinitepay").credentials("paydeskservices", "")
#: the debtor InfinitePay's test system approves, as the widget posts it
DEBTOR = {"email": "email_for_success_emulation@test.com", "legal_form": "GmbH"}
VAT_ID = "DE136695976"


@pytest.fixture
def ip_sandbox(live_server, settings) -> str:
    """The live test server as site and sandbox host; returns the InfinitePay sandbox's base URL."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    return f"{live_server.url}/sandbox/infinitepay"


@pytest.fixture
def ip_integration(ip_sandbox) -> Integration:  # noqa: ANN001
    return factories.IntegrationFactory(
        provider_key="infinitepay",
        name="InfinitePay",
        settings={**IP_SETTINGS, "invoice_due_period": 30, "invoice_shipping_duration": 21},
        secrets=dict(IP_SECRETS),
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )


def german_order(total: str = "500.00", vat_id: str = VAT_ID):  # noqa: ANN201
    from decimal import Decimal

    return factories.OrderFactory(
        currency="EUR",
        subtotal=Decimal(total),
        customer__vat_id=vat_id,
        customer__name="Muster GmbH",
        billing_address__country="DE",
        billing_address__region_code="",
        billing_address__postal_code="10115",
        billing_address__city="Berlin",
    )
