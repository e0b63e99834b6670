"""An invoice paid by card and its order's payment-term promise marked paid at the same moment: the order lock and
the account read under it let one of them through. The control, without the lock, takes the order twice."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from decimal import Decimal

import pytest
from django.db import connection

from integrations.models import Integration
from orders.models import Order
from orders.services import invoice_create
from payments import services
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from tests import factories
from tests.conftest import payment_term_order

pytestmark = pytest.mark.django_db(transaction=True)


def order_without_lock(*, order_id: int) -> Order:
    return Order.objects.get(pk=order_id)


def order_of_without_lock(*, transaction_id: int) -> Order:
    return Order.objects.get(transactions=transaction_id)


@pytest.mark.parametrize("locked", [True, False], ids=["locked", "control-without-lock"])
def test_invoice_payment_and_promise_capture_racing_take_the_order_once(
    locked,  # noqa: ANN001
    settings,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises whole write transactions; the row lock is exercised on PostgreSQL")
    settings.INVOICE_PAYMENT_METHOD = "fakegw"
    factories.IntegrationFactory(
        provider_key="fakegw", secrets={"api_key": "sk_test_race"}, payment_action=Integration.PaymentAction.CHARGE
    )
    order, promise = payment_term_order()
    invoice = invoice_create(order=order)

    read = services.order_account
    barrier = threading.Barrier(2, timeout=2)

    def slow_read(*, order):  # noqa: ANN001, ANN202 - both requests read the account before either writes
        account = read(order=order)
        with suppress(threading.BrokenBarrierError):
            barrier.wait()
        time.sleep(0.2)
        return account

    read_rows = services.order_ledger_rows

    def slow_read_rows(*, order_id, key):  # noqa: ANN001, ANN202 - the capture reads the rows its account is made of
        rows = read_rows(order_id=order_id, key=key)
        with suppress(threading.BrokenBarrierError):
            barrier.wait()
        time.sleep(0.2)
        return rows

    monkeypatch.setattr(services, "order_account", slow_read)
    monkeypatch.setattr(services, "order_ledger_rows", slow_read_rows)
    if not locked:
        monkeypatch.setattr(services, "lock_order", order_without_lock)
        monkeypatch.setattr(services, "lock_order_of", order_of_without_lock)

    def run(call) -> None:  # noqa: ANN001
        try:
            with suppress(PaymentRefused):
                call()
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        futures = [
            pool.submit(
                run,
                lambda: services.invoice_payment_purchase(
                    invoice_id=invoice.pk, key="inv", payment_data={"token": "tok_ok"}
                ),
            ),
            pool.submit(run, lambda: services.payment_capture(source_id=promise.pk, amount=None, key="wire")),
        ]
        for future in futures:
            future.result()

    taken = sum(
        PaymentTransaction.objects.filter(
            order=order, state=State.SUCCEEDED, action__in=(Action.CAPTURE, Action.CHARGE)
        ).values_list("amount", flat=True),
        Decimal("0"),
    )
    assert taken == (Decimal("97.13") if locked else Decimal("194.26"))
