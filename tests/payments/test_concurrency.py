"""Two captures racing for the same authorization reach the provider once, thanks to the order row lock.

The control run swaps the lock for a plain read and shows the race is real (both reach the provider).
"""

from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress

import pytest
from django.db import connection

from orders.models import Order
from payments import services
from payments.exceptions import PaymentRefused
from tests import factories
from tests.conftest import authorize, hold_after_account_check


def order_without_lock(*, order_id: int) -> Order:
    return Order.objects.get(pk=order_id)


def order_of_without_lock(*, transaction_id: int) -> Order:
    return Order.objects.get(transactions=transaction_id)


@pytest.fixture
def slow_check(monkeypatch: pytest.MonkeyPatch) -> None:
    """Hold each request after its last read of what is available (the order's account) and before it writes its
    row, so the two overlap: without the lock both have read before either writes."""
    hold_after_account_check(monkeypatch, timeout=5)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("locked", [True, False], ids=["locked", "control-without-lock"])
def test_concurrent_captures_reach_the_provider_once(
    locked, gateway_integration, fake_gateway, slow_check, monkeypatch
):
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises whole write transactions; the row lock is exercised on PostgreSQL")
    auth = authorize(factories.OrderFactory(), gateway_integration)
    if not locked:
        monkeypatch.setattr(services, "lock_order", order_without_lock)
        monkeypatch.setattr(services, "lock_order_of", order_of_without_lock)

    def capture(key: str) -> None:
        try:
            with suppress(PaymentRefused):
                services.payment_capture(source_id=auth.pk, amount=None, key=key)
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        list(pool.map(capture, ["first", "second"]))
    assert fake_gateway.calls["capture"] == (1 if locked else 2)
