"""A capture of the old hold while its renewal is at the provider: after the call the service re-checks under the
order lock and cancels the renewal, and the schedule moves to a renewal only once the old hold is released.

Real threads on PostgreSQL against the Stripe sandbox. The control settles the renewal without the re-check (as
before): the renewal then stays a second live hold on money already captured, which shows the race is real.
"""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from contextlib import suppress
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import Integration
from payments import services, sweeps
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, ScheduledCapture, State
from providers.stripe.adapter import StripeAdapter
from sandbox.services import sim_get
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def settle_without_recheck(*, old_id: int, renewal_id: int, key: str, actor) -> None:  # noqa: ANN001
    """The control: release the old hold right after the renewal, as the service did before the re-check."""
    with suppress(PaymentRefused):
        services.payment_cancel(source_id=old_id, key=f"{key}:cancel", actor=actor, reason="duplicate")


@pytest.mark.parametrize("recheck", [True, False], ids=["rechecked", "control-without-recheck"])
def test_capture_during_reauthorization_leaves_one_hold_and_takes_the_total_once(
    stripe_integration,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
    recheck,  # noqa: ANN001
) -> None:
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises whole write transactions; the race is exercised on PostgreSQL")
    stripe_integration.settings = {**stripe_integration.settings, "re_authorization": True}
    stripe_integration.capture_policy = Integration.CapturePolicy.AFTER_DELAY
    stripe_integration.capture_delay_hours = 24 * 8
    stripe_integration.save()
    order = factories.OrderFactory()
    old = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="auth",
        payment_data={"payment_method": "pm_card_visa"},
    )
    PaymentTransaction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=6, hours=21))
    schedule = ScheduledCapture.objects.get(authorization=old)
    if not recheck:
        monkeypatch.setattr(services, "renewal_settle", settle_without_recheck)

    renewed, captured = threading.Event(), threading.Event()
    reauthorize = StripeAdapter.reauthorize

    def reauthorize_then_wait(self, request):  # noqa: ANN001, ANN202 - the answer is on its way back when staff capture
        result = reauthorize(self, request)
        renewed.set()
        captured.wait(timeout=20)
        return result

    monkeypatch.setattr(StripeAdapter, "reauthorize", reauthorize_then_wait)

    def renew() -> None:
        try:
            with suppress(PaymentRefused):
                services.payment_reauthorize(source_id=old.pk, key=f"reauthorize:{old.pk}")
        finally:
            renewed.set()
            connection.close()

    def staff_capture() -> None:
        try:
            assert renewed.wait(timeout=20)
            services.payment_capture(source_id=old.pk, amount=None, key="staff")
        finally:
            captured.set()
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        for future in [pool.submit(renew), pool.submit(staff_capture)]:
            future.result()

    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source__action=Action.RE_AUTHORIZE)
    assert renewal.state == State.SUCCEEDED  # the race happened: both holds existed at once
    renewal_at_stripe = sim_get("stripe", "payment_intent", renewal.provider_reference).data["status"]
    if not recheck:
        assert renewal_at_stripe == "requires_capture"  # a second live hold on money already captured
        return

    assert renewal_at_stripe == "canceled"
    renewal.refresh_from_db()
    assert renewal.active is False
    assert sim_get("stripe", "payment_intent", old.provider_reference).data["status"] == "succeeded"
    schedule.refresh_from_db()
    assert schedule.authorization_id == old.pk  # never handed to the renewal: the old hold was never released
    ScheduledCapture.objects.filter(pk=schedule.pk).update(due_at=timezone.now())
    assert sweeps.scheduled_capture_run(schedule_id=schedule.pk).state == ScheduledCapture.State.SKIPPED
    captures = PaymentTransaction.objects.filter(order=order, action=Action.CAPTURE, state=State.SUCCEEDED)
    assert [c.amount for c in captures] == [Decimal("100.00")]
    order.refresh_from_db()
    assert order.payment_status == "full"
