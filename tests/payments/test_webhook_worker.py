"""Webhook processing in a real Celery worker consuming from Redis (not eager), as in production.

The worker runs in a thread of the test process (celery.contrib.testing.worker.start_worker), so it shares the
test database; the message goes through the real broker.
"""

from __future__ import annotations

import os

import pytest

from orders.models import PaymentStatus
from payments import services
from payments.models import WebhookEvent
from tests import factories
from tests.sandbox_support import (
    dashboard,
    deliver_all,
    ledger,
    sandbox_events,
    wait_until,
)

pytestmark = [
    pytest.mark.slow,
    pytest.mark.skipif(not os.environ.get("REDIS_URL"), reason="needs a Redis broker (REDIS_URL); CI sets it"),
    pytest.mark.django_db(transaction=True),
]


def test_webhook_events_are_processed_by_a_real_worker_through_redis(
    client, stripe_integration, stripe_sandbox, worker
) -> None:
    order = factories.OrderFactory()
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="auth-worker",
        payment_data={"payment_method": "pm_card_visa"},
    )
    stripe = dashboard(stripe_sandbox)
    stripe.v1.payment_intents.capture(auth.provider_reference, params={"amount_to_capture": 7000})
    stripe.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 2500})

    events = sandbox_events(auth.provider_reference)
    assert set(deliver_all(client, stripe_integration, events[::-1] + events)) == {200}

    wait_until(lambda: not WebhookEvent.objects.filter(status=WebhookEvent.Status.RECEIVED).exists())
    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("capture", "70.0000", "succeeded", True, False, "ch_"),
        ("release", "30.0000", "succeeded", True, False, "pi_"),  # Stripe let the uncaptured rest go
        ("refund", "25.0000", "succeeded", True, False, "re_"),
    ]
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    assert set(WebhookEvent.objects.values_list("status", "attempts")) == {("processed", 1)}
