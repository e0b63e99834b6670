"""Scheduled capture and reconcile in a real Celery worker through Redis, against the Stripe sandbox.

The worker runs in a thread of the test process and consumes from the real broker; sweeps are the beat tasks.
"""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import Integration
from orders.models import PaymentStatus
from payments import services
from payments.models import Action, PaymentTransaction, ScheduledCapture, State
from payments.tasks import reconcile_sweep_task, scheduled_capture_run_task, scheduled_captures_sweep_task
from providers.stripe.adapter import StripeAdapter
from sandbox.models import SimIdempotencyKey
from sandbox.services import sim_fault_add
from tests import factories
from tests.sandbox_support import wait_until

pytestmark = [pytest.mark.slow, pytest.mark.django_db(transaction=True)]


def captures_sent_to_stripe() -> int:
    """Capture requests that reached the sandbox, by distinct request key."""
    return SimIdempotencyKey.objects.filter(provider="stripe", key__startswith="capture:").count()


def stripe_authorization(integration: Integration) -> PaymentTransaction:
    order = factories.OrderFactory()
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{integration.pk}",
        key=f"auth-{order.pk}",
        payment_data={"payment_method": "pm_card_visa"},
    )
    assert auth.state == State.SUCCEEDED
    return auth


@pytest.fixture
def capture_after_an_hour(stripe_integration: Integration) -> Integration:
    stripe_integration.capture_policy = Integration.CapturePolicy.AFTER_DELAY
    stripe_integration.capture_delay_hours = 1
    stripe_integration.save()
    return stripe_integration


def test_capture_after_one_hour_is_captured_once_by_concurrent_sweeps_and_a_redelivered_task(
    capture_after_an_hour, worker
) -> None:
    auth = stripe_authorization(capture_after_an_hour)
    schedule = ScheduledCapture.objects.get(authorization=auth)
    scheduled_captures_sweep_task.apply()
    assert ScheduledCapture.objects.get(pk=schedule.pk).state == ScheduledCapture.State.PENDING  # not due yet

    # an hour passes
    ScheduledCapture.objects.filter(pk=schedule.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    barrier = threading.Barrier(2)

    def sweep() -> None:
        barrier.wait()
        try:
            scheduled_captures_sweep_task.apply()
        finally:
            connection.close()

    threads = [threading.Thread(target=sweep) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    scheduled_capture_run_task.delay(schedule.pk)  # the same message delivered again after a worker died

    wait_until(lambda: ScheduledCapture.objects.get(pk=schedule.pk).state == ScheduledCapture.State.DONE)
    wait_until(lambda: not PaymentTransaction.objects.filter(action=Action.CAPTURE, state=State.RESERVED).exists())
    captures = PaymentTransaction.objects.filter(source=auth, action=Action.CAPTURE)
    assert list(captures.values_list("state", "amount")) == [(State.SUCCEEDED, auth.amount)]
    assert captures_sent_to_stripe() == 1
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.FULL


def test_worker_dying_after_stripe_captured_is_settled_by_reconcile(capture_after_an_hour, worker, monkeypatch):
    monkeypatch.setattr(StripeAdapter, "read_timeout", 0.5)
    monkeypatch.setattr(StripeAdapter, "max_network_retries", 0)
    # Stripe captures, but the answer never arrives: like a worker killed before it could record it
    sim_fault_add(provider="stripe", kind="timeout", operation="capture", times=1, delay=1.5)
    auth = stripe_authorization(capture_after_an_hour)
    schedule = ScheduledCapture.objects.get(authorization=auth)
    ScheduledCapture.objects.filter(pk=schedule.pk).update(due_at=timezone.now())
    scheduled_captures_sweep_task.apply()
    wait_until(lambda: PaymentTransaction.objects.filter(action=Action.CAPTURE).exists())
    capture = PaymentTransaction.objects.get(action=Action.CAPTURE)
    wait_until(lambda: ScheduledCapture.objects.get(pk=schedule.pk).capture_id == capture.pk)
    capture.refresh_from_db()
    assert capture.state == State.RESERVED
    # not "Captured" while nobody knows: the schedule waits for the row's outcome
    assert ScheduledCapture.objects.get(pk=schedule.pk).state == ScheduledCapture.State.ENQUEUED
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.AUTHORIZED

    scheduled_capture_run_task.delay(schedule.pk)  # redelivered: finds its row, sends nothing
    # minutes pass: the reconcile sweep picks the open row up
    PaymentTransaction.objects.filter(pk=capture.pk).update(updated_at=timezone.now() - timedelta(minutes=3))
    reconcile_sweep_task.apply()
    wait_until(lambda: PaymentTransaction.objects.get(pk=capture.pk).state == State.SUCCEEDED)
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.FULL
    scheduled_capture_run_task.delay(schedule.pk)  # the next claim of the schedule reads the outcome by its key
    wait_until(lambda: ScheduledCapture.objects.get(pk=schedule.pk).state == ScheduledCapture.State.DONE)
    assert captures_sent_to_stripe() == 1


def test_capture_stripe_never_carried_out_is_settled_as_not_captured(stripe_integration, worker) -> None:
    sim_fault_add(provider="stripe", kind="error_500", operation="capture", times=5)
    auth = stripe_authorization(stripe_integration)
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="by-hand")
    assert capture.state == State.RESERVED  # a 5xx: we cannot know, so nothing is concluded yet

    PaymentTransaction.objects.filter(pk=capture.pk).update(updated_at=timezone.now() - timedelta(minutes=3))
    reconcile_sweep_task.apply()
    wait_until(lambda: not PaymentTransaction.objects.get(pk=capture.pk).is_open)
    capture.refresh_from_db()
    auth.refresh_from_db()
    assert (capture.state, capture.error_code) == (State.DECLINED, "not_captured")
    assert auth.active is True
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.AUTHORIZED  # honest: still only authorized
