"""On a provider without MULTIPLE_CAPTURE an open capture leaves nothing capturable: fifty concurrent partial
captures of one Stripe authorization send exactly one capture to Stripe.

Real threads on PostgreSQL against the Stripe sandbox; the sandbox's own record of request keys counts what
reached it. The control counts captures as multi-capture providers do and shows the race is real.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from decimal import Decimal

import pytest
from django.db import connection

from payments import services
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from providers.base import Capability, Money
from providers.stripe.adapter import StripeAdapter
from sandbox.models import SimIdempotencyKey
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)

THREADS = 50


@pytest.mark.parametrize("single_capture", [True, False], ids=["one-capture-rule", "control-as-multi-capture"])
def test_fifty_concurrent_partial_captures_send_one_capture(stripe_integration, monkeypatch, single_capture) -> None:  # noqa: ANN001
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises whole write transactions; the row lock is exercised on PostgreSQL")
    order = factories.OrderFactory(subtotal=Decimal("200.00"))
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="auth",
        payment_data={"payment_method": "pm_card_visa"},
    )
    assert auth.state == State.SUCCEEDED
    if not single_capture:
        real = services.capabilities_of
        monkeypatch.setattr(services, "capabilities_of", lambda i: real(i) | {Capability.MULTIPLE_CAPTURE})
    capture = StripeAdapter.capture

    def slow_capture(self, request):  # noqa: ANN001, ANN202 - the first capture is still at Stripe while others try
        time.sleep(0.5)
        return capture(self, request)

    monkeypatch.setattr(StripeAdapter, "capture", slow_capture)

    def partial(i: int) -> str:
        try:
            with suppress(PaymentRefused):
                return services.payment_capture(
                    source_id=auth.pk, amount=Money(Decimal("10.00"), "USD"), key=f"cap-{i}"
                ).state
            return "refused"
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=THREADS) as pool:
        outcomes = list(pool.map(partial, range(THREADS)))

    sent = SimIdempotencyKey.objects.filter(provider="stripe", key__startswith="cap-").count()
    captured = PaymentTransaction.objects.filter(action=Action.CAPTURE, state=State.SUCCEEDED)
    assert [c.amount for c in captured] == [Decimal("10.00")]  # Stripe takes one capture whatever we send
    if single_capture:
        assert sent == 1
        assert sorted(outcomes).count("refused") == THREADS - 1
        assert PaymentTransaction.objects.filter(action=Action.CAPTURE).count() == 1
    else:
        assert sent > 1  # the race the rule closes: more captures reached Stripe while the first was in flight
