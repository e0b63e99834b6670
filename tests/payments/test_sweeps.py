"""Scheduled capture, authorization expiry and reconcile, through the real services and a gateway at the edge."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.core import mail
from django.utils import timezone

from integrations.models import Integration
from notifications.models import Notice
from orders import services as order_services
from orders.models import PaymentStatus
from payments import sweeps
from payments.models import Action, PaymentTransaction, ScheduledCapture, State
from payments.services import payment_capture, payment_purchase
from tests import factories
from tests.conftest import authorize, usd

pytestmark = pytest.mark.django_db


@pytest.fixture
def delayed_capture(gateway_integration: Integration) -> Integration:
    gateway_integration.capture_policy = Integration.CapturePolicy.AFTER_DELAY
    gateway_integration.capture_delay_hours = 1
    gateway_integration.save()
    return gateway_integration


def test_capture_after_one_hour_is_due_then_and_runs_once(delayed_capture, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, delayed_capture)
    schedule = auth.scheduled_capture
    assert timedelta(minutes=59) < schedule.due_at - timezone.now() <= timedelta(hours=1)

    assert sweeps.scheduled_captures_claim() == []  # not due yet
    later = timezone.now() + timedelta(hours=1, minutes=1)
    assert sweeps.scheduled_captures_claim(now=later) == [schedule.pk]
    assert sweeps.scheduled_captures_claim(now=later) == []  # a second sweep finds it claimed

    sweeps.scheduled_capture_run(schedule_id=schedule.pk)
    sweeps.scheduled_capture_run(schedule_id=schedule.pk)  # the task delivered again
    schedule.refresh_from_db()
    order.refresh_from_db()
    assert schedule.state == ScheduledCapture.State.DONE
    assert schedule.capture.amount == Decimal("100.00")
    assert order.payment_status == PaymentStatus.FULL
    assert fake_gateway.calls["capture"] == 1


def test_scheduled_capture_after_a_manual_one_is_skipped(delayed_capture, fake_gateway) -> None:
    auth = authorize(factories.OrderFactory(), delayed_capture)
    payment_capture(source_id=auth.pk, amount=None, key="by-hand")
    sweeps.scheduled_capture_run(schedule_id=auth.scheduled_capture.pk)
    assert ScheduledCapture.objects.get().state == ScheduledCapture.State.SKIPPED
    assert fake_gateway.calls["capture"] == 1


def test_worker_killed_before_the_provider_call_captures_once_after_reconcile(delayed_capture, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, delayed_capture)
    schedule = auth.scheduled_capture
    fake_gateway.fail_next.append("capture")  # the request is lost: as if the worker died before sending it
    sweeps.scheduled_capture_run(schedule_id=schedule.pk)
    capture = PaymentTransaction.objects.get(action=Action.CAPTURE)
    assert capture.state == State.RESERVED
    sweeps.scheduled_capture_run(schedule_id=schedule.pk)  # redelivered task: finds the row, sends nothing
    assert fake_gateway.calls["capture"] == 0

    later = timezone.now() + timedelta(minutes=3)
    assert sweeps.transactions_due_for_reconcile(now=later) == [capture.pk]
    sweeps.payment_reconcile(transaction_id=capture.pk)  # the provider never saw it: sent again, same key
    capture.refresh_from_db()
    order.refresh_from_db()
    assert capture.state == State.SUCCEEDED
    assert order.payment_status == PaymentStatus.FULL
    assert fake_gateway.calls["capture"] == 1


def test_lost_reply_is_settled_from_the_providers_state_without_sending_again(
    gateway_integration, fake_gateway
) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    fake_gateway.lose_reply_next.append("capture")
    capture = payment_capture(source_id=auth.pk, amount=usd("40.00"), key="c1")
    assert capture.state == State.RESERVED
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED

    sweeps.payment_reconcile(transaction_id=capture.pk)
    capture.refresh_from_db()
    order.refresh_from_db()
    assert (capture.state, capture.successful) == (State.SUCCEEDED, True)
    assert order.payment_status == PaymentStatus.PARTIALLY
    assert fake_gateway.calls["capture"] == 1


def test_purchase_that_never_reached_the_provider_is_recorded_as_failed(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    fake_gateway.fail_next.append("authorize")
    txn = payment_purchase(
        order_id=order.pk, method=f"fakegw_{gateway_integration.pk}", key="a1", payment_data={"token": "tok_ok"}
    )
    assert txn.state == State.RESERVED
    sweeps.payment_reconcile(transaction_id=txn.pk)
    txn.refresh_from_db()
    order.refresh_from_db()
    assert (txn.state, txn.error_code) == (State.DECLINED, "not_found")
    assert order.payment_status == PaymentStatus.DECLINED
    assert fake_gateway.calls["authorize"] == 0


def test_unreachable_provider_backs_off_then_flags_the_row_for_staff(gateway_integration, fake_gateway) -> None:
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    fake_gateway.unavailable = True
    capture = payment_capture(source_id=auth.pk, amount=None, key="c1")

    sweeps.payment_reconcile(transaction_id=capture.pk)
    capture.refresh_from_db()
    assert capture.reconcile_attempts == 1
    assert timedelta(minutes=1) < capture.next_reconcile_at - timezone.now() <= timedelta(minutes=2)
    assert sweeps.transactions_due_for_reconcile() == []
    for _ in range(sweeps.RECONCILE_MAX_ATTEMPTS - 1):
        sweeps.payment_reconcile(transaction_id=capture.pk)
    capture.refresh_from_db()
    assert (capture.needs_attention, capture.state, capture.next_reconcile_at) == (True, State.RESERVED, None)
    notice = Notice.objects.get(key=f"unsettled:{capture.pk}")
    assert capture.idempotency_key in notice.message
    assert auth.provider_reference in notice.message
    assert sweeps.transactions_due_for_reconcile(now=timezone.now() + timedelta(days=1)) == []


def test_marking_shipped_makes_on_shipment_captures_due(gateway_integration, fake_gateway) -> None:
    gateway_integration.capture_policy = Integration.CapturePolicy.ON_SHIPMENT
    gateway_integration.save()
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    assert not ScheduledCapture.objects.exists()
    order_services.order_mark_shipped(order_id=order.pk)
    assert sweeps.scheduled_captures_claim() == [auth.scheduled_capture.pk]


def test_manual_policy_schedules_nothing(gateway_integration, fake_gateway) -> None:
    authorize(factories.OrderFactory(), gateway_integration)
    assert not ScheduledCapture.objects.exists()


def test_expiry_warns_once_then_marks_the_lapsed_authorization_inactive(gateway_integration, fake_gateway, settings):
    settings.PAYMENT_ALERT_EMAILS = ["payments@paydesk.example"]
    gateway_integration.default_owner = factories.UserFactory(email="owner@paydesk.example")
    gateway_integration.save()
    order = factories.OrderFactory()
    auth = authorize(order, gateway_integration)
    assert timedelta(days=7) - (auth.expires_at - timezone.now()) < timedelta(minutes=1)

    assert sweeps.authorizations_expiry_sweep() == (0, 0)
    nearly = auth.expires_at - timedelta(hours=12)
    assert sweeps.authorizations_expiry_sweep(now=nearly) == (1, 0)
    assert sweeps.authorizations_expiry_sweep(now=nearly) == (0, 0)
    assert len(mail.outbox) == 1
    assert sorted(mail.outbox[0].to) == ["owner@paydesk.example", "payments@paydesk.example"]
    assert order.number in mail.outbox[0].body
    assert Notice.objects.filter(key=f"expiry-warning:{auth.pk}").exists()

    assert sweeps.authorizations_expiry_sweep(now=auth.expires_at + timedelta(minutes=1)) == (0, 1)
    auth.refresh_from_db()
    order.refresh_from_db()
    assert auth.active is False
    assert "expired" in auth.message
    assert order.payment_status == PaymentStatus.PENDING
