from __future__ import annotations

import threading
import time
from collections.abc import Iterator
from contextlib import suppress
from decimal import Decimal

import pytest

from integrations.models import Integration
from orders.models import Order
from payments import services
from payments.models import PaymentTransaction
from providers import registry
from providers.base import Money
from tests import factories
from tests.fakes import FakeGateway, FakeGatewaySettingsForm

pytest_plugins = [
    "tests.sandbox_support",
    "tests.authorizenet_support",
    "tests.infinitepay_support",
    "tests.wirecard_support",
]  # fixtures for the provider sandboxes


@pytest.fixture
def fake_gateway(monkeypatch: pytest.MonkeyPatch) -> Iterator[type[FakeGateway]]:
    """Put the fake card gateway in the registry for this test."""
    spec = registry.ProviderSpec(
        "fakegw", "Fake gateway", "tests.fakes.FakeGateway", "tests.fakes.FakeGatewaySettingsForm"
    )
    monkeypatch.setitem(registry.PROVIDERS, "fakegw", spec)
    registry.adapter_class.cache_clear()
    registry.settings_form_class.cache_clear()
    assert registry.settings_form_class("fakegw") is FakeGatewaySettingsForm
    FakeGateway.reset()
    yield FakeGateway
    registry.adapter_class.cache_clear()
    registry.settings_form_class.cache_clear()
    FakeGateway.reset()


@pytest.fixture
def gateway_integration(fake_gateway: type[FakeGateway]) -> Integration:
    return factories.IntegrationFactory(
        provider_key="fakegw",
        name="Card gateway",
        settings={"login": "merchant"},
        secrets={"api_key": "sk_live_supersecret_4711"},
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )


def authorize(order, integration: Integration, key: str = "auth-1") -> PaymentTransaction:  # noqa: ANN001
    return services.payment_purchase(
        order_id=order.pk,
        method=f"{integration.provider_key}_{integration.pk}",
        key=key,
        payment_data={"token": "tok_ok"},
    )


def payment_term_order(total: str = "97.13") -> tuple[Order, PaymentTransaction]:
    """An order bought on the customer's payment term (Net 30): its pending promise to pay."""
    customer = factories.CustomerFactory(payment_term=factories.PaymentTermFactory(label="Net 30"))
    integration = factories.IntegrationFactory(payment_term=True)
    order = factories.OrderFactory(customer=customer, subtotal=Decimal(total))
    promise = services.payment_purchase(
        order_id=order.pk, method=f"payment_term_{integration.pk}", key=f"term-{order.pk}"
    )
    return order, promise


def usd(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def hold_after_account_check(monkeypatch: pytest.MonkeyPatch, timeout: float = 5) -> None:
    """Hold each of two operations on a payment after it checked what is available (`services._allowed`, the
    order's rows) and before it writes its row, until the other has checked too: without the order lock both would
    check against the same rows."""
    original = services._allowed
    barrier = threading.Barrier(2, timeout=timeout)

    def slow(order, source, rows):  # noqa: ANN001, ANN202
        allowed = original(order, source, rows)
        with suppress(threading.BrokenBarrierError):
            barrier.wait()
        time.sleep(0.2)
        return allowed

    monkeypatch.setattr(services, "_allowed", slow)
