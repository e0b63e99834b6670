"""A scheduled capture is "Captured" only when the provider captured: a decline fails with its reason and a notice
to staff, or is tried again later (with a new request key) when the reason may pass."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from integrations.models import Integration
from notifications.models import Notice
from orders.models import PaymentStatus
from payments import sweeps
from payments.models import Action, PaymentTransaction, ScheduledCapture, State
from tests import factories
from tests.conftest import authorize

pytestmark = pytest.mark.django_db


@pytest.fixture
def delayed_capture(gateway_integration: Integration, settings) -> Integration:  # noqa: ANN001
    settings.PAYMENT_ALERT_EMAILS = ["payments@paydesk.example"]
    gateway_integration.capture_policy = Integration.CapturePolicy.AFTER_DELAY
    gateway_integration.capture_delay_hours = 1
    gateway_integration.save()
    return gateway_integration


def test_a_declined_scheduled_capture_fails_with_its_reason_and_tells_staff(delayed_capture, fake_gateway) -> None:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(), delayed_capture)
    fake_gateway.decline_next["capture"] = "card_declined"

    schedule = sweeps.scheduled_capture_run(schedule_id=auth.scheduled_capture.pk)
    again = sweeps.scheduled_capture_run(schedule_id=schedule.pk)  # a redelivered task changes nothing

    assert (schedule.state, schedule.attempts) == (ScheduledCapture.State.FAILED, 1)
    assert schedule.last_error == "Declined by the provider (card_declined): card_declined."
    assert schedule.capture.state == State.DECLINED
    assert again.state == ScheduledCapture.State.FAILED
    notice = Notice.objects.get(key=f"scheduled-capture-failed:{schedule.pk}")
    assert notice.level == Notice.Level.ERROR
    assert auth.order.number in notice.message
    assert [m.to for m in mail.outbox] == [["payments@paydesk.example"]]
    auth.refresh_from_db()
    auth.order.refresh_from_db()
    assert (auth.active, auth.order.payment_status) == (True, PaymentStatus.AUTHORIZED)  # staff may still capture
    assert fake_gateway.calls["capture"] == 1


def test_a_capture_declined_for_a_passing_reason_is_retried_later_with_a_new_key(delayed_capture, fake_gateway) -> None:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(), delayed_capture)
    fake_gateway.decline_next["capture"] = "processing_error"

    schedule = sweeps.scheduled_capture_run(schedule_id=auth.scheduled_capture.pk)

    assert (schedule.state, schedule.attempts) == (ScheduledCapture.State.PENDING, 1)
    assert timedelta(minutes=29) < schedule.due_at - timezone.now() <= timedelta(minutes=30)
    assert Notice.objects.filter(key=f"scheduled-capture-declined:{schedule.pk}:1").exists()
    assert sweeps.scheduled_captures_claim() == []  # not before its time
    assert sweeps.scheduled_captures_claim(now=schedule.due_at) == [schedule.pk]

    schedule = sweeps.scheduled_capture_run(schedule_id=schedule.pk)

    assert schedule.state == ScheduledCapture.State.DONE
    assert schedule.capture.idempotency_key == f"capture:{auth.pk}:scheduled:2"
    assert list(PaymentTransaction.objects.filter(action=Action.CAPTURE).values_list("state", "amount")) == [
        (State.DECLINED, Decimal("100.00")),
        (State.SUCCEEDED, Decimal("100.00")),
    ]
    auth.order.refresh_from_db()
    assert auth.order.payment_status == PaymentStatus.FULL
    assert fake_gateway.calls["capture"] == 2


def test_no_retry_past_the_authorizations_expiry(delayed_capture, fake_gateway) -> None:  # noqa: ANN001
    auth = authorize(factories.OrderFactory(), delayed_capture)
    PaymentTransaction.objects.filter(pk=auth.pk).update(expires_at=timezone.now() + timedelta(minutes=10))
    fake_gateway.decline_next["capture"] = "processing_error"

    schedule = sweeps.scheduled_capture_run(schedule_id=auth.scheduled_capture.pk)

    assert schedule.state == ScheduledCapture.State.FAILED
    assert Notice.objects.filter(key=f"scheduled-capture-failed:{schedule.pk}").exists()
