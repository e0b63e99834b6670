"""The provider's release of an uncaptured rest is written once when the capture's answer arrives twice at the same
moment (our reply and the provider's webhook, or reconcile), on PostgreSQL with real threads."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from decimal import Decimal

import pytest
from django.db import connection

from payments.ledger import ledger_record, request_fingerprint, reserve_child
from payments.models import Action, PaymentTransaction, State
from providers.base import Capability, ProviderResult
from tests import factories
from tests.conftest import authorize, usd

pytestmark = pytest.mark.django_db(transaction=True)


def test_two_answers_of_one_partial_capture_at_once_write_one_release(
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("the order lock is exercised on PostgreSQL")
    monkeypatch.setattr(fake_gateway, "capabilities", fake_gateway.capabilities - {Capability.MULTIPLE_CAPTURE})
    auth = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration)
    capture = reserve_child(
        auth, Action.CAPTURE, usd("60.00"), key="cap", fingerprint=request_fingerprint("cap"), actor=None
    )
    barrier = threading.Barrier(2, timeout=5)

    def answer(reference: str) -> None:
        try:
            barrier.wait()
            ledger_record(transaction_id=capture.pk, result=ProviderResult.succeeded(usd("60.00"), reference=reference))
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(answer, "reply"), pool.submit(answer, "webhook")]:
            future.result()

    releases = PaymentTransaction.objects.filter(order=auth.order, action=Action.RELEASE)
    assert [(r.amount, r.state) for r in releases] == [(Decimal("40.0000"), State.SUCCEEDED)]
    auth.refresh_from_db()
    assert not auth.active
    auth.order.refresh_from_db()
    assert auth.order.payment_status == "partially"
