"""The capture sweep runs a batch's captures concurrently, each still its own three steps, and takes a provider's
"rate limit reached" (HTTP 429) as "try again shortly", not as an unknown outcome."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import Integration
from notifications.models import Notice
from payments.models import Action, PaymentTransaction, ScheduledCapture, State
from payments.sweeps import scheduled_capture_run, scheduled_captures_claim, scheduled_captures_run
from providers.base import ErrorCode
from tests import factories
from tests.conftest import authorize
from tests.fakes import FakeGateway


def due_capture(integration: Integration, n: int) -> ScheduledCapture:
    integration.capture_policy = Integration.CapturePolicy.AFTER_DELAY
    integration.capture_delay_hours = 1
    integration.save()
    auth = authorize(factories.OrderFactory(subtotal=Decimal("40.00")), integration, key=f"auth-{n}")
    schedule = ScheduledCapture.objects.get(authorization=auth)
    ScheduledCapture.objects.filter(pk=schedule.pk).update(due_at=timezone.now() - timedelta(minutes=1))
    return schedule


@pytest.mark.django_db(transaction=True)
def test_a_batch_on_threads_captures_each_authorization_once(
    gateway_integration: Integration, fake_gateway: type[FakeGateway]
) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("threads with their own connections need PostgreSQL")
    schedules = [due_capture(gateway_integration, n) for n in range(6)]
    ids = [s.pk for s in schedules]

    scheduled_captures_run(schedule_ids=ids, threads=4)
    scheduled_captures_run(schedule_ids=ids, threads=4)  # redelivered: every schedule is done, nothing is sent

    assert fake_gateway.calls["capture"] == 6
    assert set(ScheduledCapture.objects.filter(pk__in=ids).values_list("state", flat=True)) == {"done"}
    captures = PaymentTransaction.objects.filter(action=Action.CAPTURE)
    assert sorted(captures.values_list("source_id", flat=True)) == sorted(s.authorization_id for s in schedules)
    assert set(captures.values_list("state", flat=True)) == {State.SUCCEEDED}


@pytest.mark.django_db
def test_a_rate_limited_capture_is_due_again_shortly_with_a_new_key(
    gateway_integration: Integration, fake_gateway: type[FakeGateway]
) -> None:
    schedule = due_capture(gateway_integration, 1)
    fake_gateway.decline_next["capture"] = ErrorCode.RATE_LIMITED

    refused = scheduled_capture_run(schedule_id=schedule.pk)
    first = refused.capture
    claimed_now = scheduled_captures_claim()
    claimed_when_due = scheduled_captures_claim(now=refused.due_at)
    done = scheduled_capture_run(schedule_id=schedule.pk)

    assert (refused.state, refused.attempts, first.state, first.error_code) == (
        ScheduledCapture.State.PENDING,
        1,
        State.DECLINED,
        ErrorCode.RATE_LIMITED,
    )
    assert timezone.now() < refused.due_at <= timezone.now() + timedelta(minutes=1)
    assert (claimed_now, claimed_when_due) == ([], [schedule.pk])
    assert done.state == ScheduledCapture.State.DONE
    assert done.capture.idempotency_key != first.idempotency_key
    assert not Notice.objects.exists()  # nothing for staff to do


@pytest.mark.django_db
def test_rate_limited_tries_do_not_use_up_the_retries_of_a_decline_that_may_pass(
    gateway_integration: Integration, fake_gateway: type[FakeGateway]
) -> None:
    """A busy provider refused the capture three times for its rate limit (nothing done, 30 seconds); its next
    answer is a processing error, which is tried again later. Those refusals are not the capture's failed tries:
    the schedule is due again, not failed and left to staff to capture by hand."""
    schedule = due_capture(gateway_integration, 1)
    for _ in range(3):
        fake_gateway.decline_next["capture"] = ErrorCode.RATE_LIMITED
        schedule = scheduled_capture_run(schedule_id=schedule.pk)
        assert schedule.state == ScheduledCapture.State.PENDING
        ScheduledCapture.objects.filter(pk=schedule.pk).update(state=ScheduledCapture.State.ENQUEUED)
    fake_gateway.decline_next["capture"] = ErrorCode.PROCESSING_ERROR

    schedule = scheduled_capture_run(schedule_id=schedule.pk)

    assert schedule.state == ScheduledCapture.State.PENDING
    assert timedelta(minutes=29) < schedule.due_at - timezone.now() <= timedelta(minutes=30)  # the first retry
