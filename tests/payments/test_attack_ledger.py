"""Attacks on what an order owes (issue 12, part A): each test names a way money was taken twice, beyond what
is owed, or lost track of, and proves it no longer can be."""

from __future__ import annotations

from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import Integration
from notifications.models import Notice
from orders.models import Invoice, Order, PaymentStatus
from orders.services import invoice_create
from payments import services, sweeps, webhook_services
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, ScheduledCapture, State, WebhookEvent
from providers.authorizenet.adapter import AuthorizeNetAdapter
from providers.base import EventMovement, Money, MovementAction
from providers.base import WebhookEvent as ProviderEvent
from providers.stripe.adapter import StripeAdapter
from sandbox.authorizenet import simulator as anet_sandbox
from sandbox.services import sim_advance_time, sim_fault_add, sim_get, sim_list
from tests import factories
from tests.authorizenet_support import card
from tests.fakes import DECLINE_TOKEN, TIMEOUT_TOKEN
from tests.sandbox_support import dashboard


@contextmanager
def reply_lost(adapter: type, provider: str, operation: str, *, tries: int = 1) -> Iterator[None]:
    """The sandbox carries out `operation`, then holds its answer past the client's timeout (lowered only here, so
    a loaded machine does not lose other answers)."""
    sim_fault_add(provider=provider, kind="timeout", operation=operation, times=tries, delay=3.0)
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(adapter, "read_timeout", 1.0)
        yield


@pytest.mark.django_db(transaction=True)
def test_an_invoice_charge_whose_reply_was_lost_and_that_settled_is_not_recorded_as_never_made(
    anet_integration,  # noqa: ANN001
    settings,  # noqa: ANN001
) -> None:
    """Authorize.Net carried out the charge, its answer was lost, and the day's batch settled before reconcile
    asked. Reconcile looked among unsettled transactions only, found nothing, and recorded "never reached the
    provider; no money moved": the invoice was open again and the buyer paid it a second time."""
    settings.INVOICE_PAYMENT_METHOD = "authorizenet"
    anet_integration.payment_action = "charge"
    anet_integration.save()
    order = factories.OrderFactory()
    invoice = invoice_create(order=order)

    with reply_lost(AuthorizeNetAdapter, "authorizenet", "charge"):
        lost = services.invoice_payment_purchase(invoice_id=invoice.pk, key="invoice-1", payment_data=card())
    assert (lost.state, lost.provider_reference) == (State.RESERVED, "")
    assert anet_sandbox.settle() == 1  # the batch closed while nobody knew the charge had happened

    done = sweeps.payment_reconcile(transaction_id=lost.pk)

    assert (done.state, done.amount) == (State.SUCCEEDED, Decimal("100.0000"))
    assert done.provider_reference
    invoice.refresh_from_db()
    order.refresh_from_db()
    assert (invoice.status, order.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)
    with pytest.raises(PaymentRefused):
        services.invoice_payment_purchase(invoice_id=invoice.pk, key="invoice-2", payment_data=card())
    charges = PaymentTransaction.objects.filter(order=order, action=Action.CHARGE, state=State.SUCCEEDED)
    assert charges.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_lost_charge_past_the_first_page_of_a_list_is_found(anet_integration, monkeypatch) -> None:  # noqa: ANN001
    """Authorize.Net answers at most 1,000 transactions per list request (here 2, to keep the test small); the
    search read the first page only, so with a busy day's unsettled list a lost charge was "not found" and
    recorded as never made."""
    monkeypatch.setattr(AuthorizeNetAdapter, "search_page_size", 2)  # the sandbox pages by the limit asked for
    anet_integration.payment_action = "charge"
    anet_integration.save()
    earlier = [factories.OrderFactory() for _ in range(3)]
    for n, order in enumerate(earlier):
        services.payment_purchase(
            order_id=order.pk, method=f"authorizenet_{anet_integration.pk}", key=f"earlier-{n}", payment_data=card()
        )
    order = factories.OrderFactory()
    with reply_lost(AuthorizeNetAdapter, "authorizenet", "charge"):
        lost = services.payment_purchase(
            order_id=order.pk, method=f"authorizenet_{anet_integration.pk}", key="lost", payment_data=card()
        )
    assert lost.state == State.RESERVED

    done = sweeps.payment_reconcile(transaction_id=lost.pk)

    assert (done.state, done.amount) == (State.SUCCEEDED, Decimal("100.0000"))


@pytest.mark.django_db(transaction=True)
def test_a_transaction_list_that_cannot_be_read_proves_nothing(anet_integration) -> None:  # noqa: ANN001
    """A list reply that could not be read was taken for an empty list: reconcile recorded "never reached the
    provider; no money moved" for a charge Authorize.Net had made. The row must stay open for the next try."""
    anet_integration.payment_action = "charge"
    anet_integration.save()
    order = factories.OrderFactory()
    with reply_lost(AuthorizeNetAdapter, "authorizenet", "charge"):
        lost = services.payment_purchase(
            order_id=order.pk, method=f"authorizenet_{anet_integration.pk}", key="lost", payment_data=card()
        )
    sim_fault_add(provider="authorizenet", kind="malformed", operation="list", times=1)

    unsure = sweeps.payment_reconcile(transaction_id=lost.pk)

    assert (unsure.state, unsure.successful, unsure.reconcile_attempts) == (State.RESERVED, False, 1)
    done = sweeps.payment_reconcile(transaction_id=lost.pk)
    assert done.state == State.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_lost_refund_that_settled_is_found_not_sent_again(anet_integration) -> None:  # noqa: ANN001
    """A refund whose answer was lost settled, and reconcile asked after Authorize.Net's 8-hour duplicate window:
    not found among unsettled transactions, it was sent again with its key, and the buyer got the money twice."""
    anet_integration.payment_action = "charge"
    anet_integration.save()
    order = factories.OrderFactory()
    charge = services.payment_purchase(
        order_id=order.pk, method=f"authorizenet_{anet_integration.pk}", key="charge", payment_data=card()
    )
    anet_sandbox.settle(charge.provider_reference)
    with reply_lost(AuthorizeNetAdapter, "authorizenet", "refund"):
        lost = services.payment_refund(source_id=charge.pk, amount=Money(Decimal("30.00"), "USD"), key="refund")
    assert lost.state == State.RESERVED
    anet_sandbox.settle()
    sim_advance_time(provider="authorizenet", seconds=9 * 3600)

    done = sweeps.payment_reconcile(transaction_id=lost.pk)

    assert (done.state, done.amount) == (State.SUCCEEDED, Decimal("30.0000"))
    refunds = [o for o in sim_list("authorizenet", "transaction") if o.data["type"] == "refundTransaction"]
    assert len(refunds) == 1


# --- re-authorization interleaved with the expiry sweep ----------------------------------------------------------


def reauthorizing_order(integration) -> PaymentTransaction:  # noqa: ANN001
    """A Stripe authorization due for renewal, captured by the scheduler 8 days after it was made."""
    integration.settings = {**integration.settings, "re_authorization": True}
    integration.capture_policy = Integration.CapturePolicy.AFTER_DELAY
    integration.capture_delay_hours = 24 * 8
    integration.save()
    order = factories.OrderFactory()
    old = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{integration.pk}",
        key="auth",
        payment_data={"payment_method": "pm_card_visa"},
    )
    PaymentTransaction.objects.filter(pk=old.pk).update(created_at=timezone.now() - timedelta(days=6, hours=23))
    return old


@pytest.mark.django_db(transaction=True)
def test_an_authorization_lapsing_while_its_renewal_is_at_stripe_keeps_the_renewal_and_its_schedule(
    stripe_integration,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    """The expiry sweep marked the old hold lapsed while its renewal was at Stripe (no lock held). Settling the
    renewal read "the old hold no longer holds" as "it was captured" and cancelled the renewal, and the schedule
    stayed with the lapsed hold: no hold was left, the scheduled capture was skipped, nothing was ever taken.
    The sweep runs in its own thread while the renewal's answer is on its way back."""
    if connection.vendor == "sqlite":
        pytest.skip("SQLite serialises whole write transactions; the interleaving is exercised on PostgreSQL")
    old = reauthorizing_order(stripe_integration)
    schedule = ScheduledCapture.objects.get(authorization=old)
    reauthorize = StripeAdapter.reauthorize

    def lapse() -> None:
        try:
            PaymentTransaction.objects.filter(pk=old.pk).update(expires_at=timezone.now())
            assert sweeps.authorizations_expiry_sweep() == (0, 1)
        finally:
            connection.close()

    def reauthorize_while_the_old_hold_lapses(self, request):  # noqa: ANN001, ANN202
        result = reauthorize(self, request)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(lapse).result()
        return result

    monkeypatch.setattr(StripeAdapter, "reauthorize", reauthorize_while_the_old_hold_lapses)

    assert sweeps.reauthorizations_sweep() == (1, 0)

    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source__action=Action.RE_AUTHORIZE)
    assert (renewal.state, renewal.active) == (State.SUCCEEDED, True)
    assert sim_get("stripe", "payment_intent", renewal.provider_reference).data["status"] == "requires_capture"
    schedule.refresh_from_db()
    assert (schedule.authorization_id, schedule.state) == (renewal.pk, ScheduledCapture.State.PENDING)
    ScheduledCapture.objects.filter(pk=schedule.pk).update(due_at=timezone.now())
    assert sweeps.scheduled_capture_run(schedule_id=schedule.pk).state == ScheduledCapture.State.DONE
    order = Order.objects.get(pk=old.order_id)
    assert order.payment_status == PaymentStatus.FULL
    captured = PaymentTransaction.objects.filter(order=order, action=Action.CAPTURE, state=State.SUCCEEDED)
    assert [(c.source_id, c.amount) for c in captured] == [(renewal.pk, Decimal("100.0000"))]


@pytest.mark.django_db(transaction=True)
def test_the_schedule_reaches_the_renewal_when_the_old_hold_lapses_before_its_release_is_confirmed(
    stripe_integration,  # noqa: ANN001
) -> None:
    """The release of the old hold got no answer (it stays open for reconcile), then the expiry sweep marked the
    old hold lapsed, then reconcile confirmed the release. The schedule moved to the renewal only on a release
    of a hold still marked active, so it stayed with the lapsed hold and was skipped: the renewal, the only hold,
    was never captured."""
    old = reauthorizing_order(stripe_integration)
    schedule = ScheduledCapture.objects.get(authorization=old)
    with reply_lost(StripeAdapter, "stripe", "cancel", tries=2):  # the SDK retries once, with the same key
        assert sweeps.reauthorizations_sweep() == (1, 0)
    release = PaymentTransaction.objects.get(action=Action.CANCEL, source=old)
    assert release.state == State.RESERVED

    PaymentTransaction.objects.filter(pk=old.pk).update(expires_at=timezone.now())
    assert sweeps.authorizations_expiry_sweep() == (0, 1)
    assert sweeps.payment_reconcile(transaction_id=release.pk).state == State.SUCCEEDED

    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source__action=Action.RE_AUTHORIZE)
    schedule.refresh_from_db()
    assert (schedule.authorization_id, schedule.state) == (renewal.pk, ScheduledCapture.State.PENDING)
    ScheduledCapture.objects.filter(pk=schedule.pk).update(due_at=timezone.now())
    assert sweeps.scheduled_capture_run(schedule_id=schedule.pk).state == ScheduledCapture.State.DONE
    assert Order.objects.get(pk=old.order_id).payment_status == PaymentStatus.FULL


@pytest.mark.django_db(transaction=True)
def test_a_hold_staff_cancel_while_its_renewal_is_at_stripe_takes_the_renewal_with_it(
    stripe_integration,  # noqa: ANN001
    monkeypatch,  # noqa: ANN001
) -> None:
    """The other side of keeping a renewal whose old hold lapsed: an old hold that staff cancelled meanwhile was
    released on purpose, so its renewal is released too and nothing is left to capture."""
    old = reauthorizing_order(stripe_integration)
    reauthorize = StripeAdapter.reauthorize

    def reauthorize_while_staff_cancel(self, request):  # noqa: ANN001, ANN202
        result = reauthorize(self, request)
        with ThreadPoolExecutor(max_workers=1) as pool:
            pool.submit(cancel_by_staff, old.pk).result()
        return result

    monkeypatch.setattr(StripeAdapter, "reauthorize", reauthorize_while_staff_cancel)

    assert sweeps.reauthorizations_sweep() == (1, 0)

    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source__action=Action.RE_AUTHORIZE)
    assert sim_get("stripe", "payment_intent", renewal.provider_reference).data["status"] == "canceled"
    assert not ScheduledCapture.objects.filter(authorization=renewal).exists()
    assert Order.objects.get(pk=old.order_id).payment_status == PaymentStatus.CANCELED


def cancel_by_staff(source_id: int) -> None:
    try:
        services.payment_cancel(source_id=source_id, key="staff-cancel", note="Buyer cancelled the order.")
    finally:
        connection.close()


@pytest.mark.django_db(transaction=True)
def test_a_renewal_is_kept_when_stripe_already_released_the_old_hold(
    stripe_integration, stripe_sandbox, monkeypatch
) -> None:  # noqa: ANN001
    """Stripe cancels an uncaptured PaymentIntent by itself when its hold lapses; a renewal that answered just after
    that asked Stripe to cancel the old one, Stripe refused ("it has a status of canceled"), and the refusal was
    read as "the old hold was captured meanwhile": the renewal, the only hold left, was cancelled too."""
    old = reauthorizing_order(stripe_integration)
    schedule = ScheduledCapture.objects.get(authorization=old)
    reauthorize = StripeAdapter.reauthorize

    def reauthorize_as_the_old_hold_lapses(self, request):  # noqa: ANN001, ANN202
        result = reauthorize(self, request)
        dashboard(stripe_sandbox).v1.payment_intents.cancel(old.provider_reference)  # Stripe's own release
        return result

    monkeypatch.setattr(StripeAdapter, "reauthorize", reauthorize_as_the_old_hold_lapses)

    assert sweeps.reauthorizations_sweep() == (1, 0)

    renewal = PaymentTransaction.objects.get(action=Action.AUTHORIZE, source__action=Action.RE_AUTHORIZE)
    assert sim_get("stripe", "payment_intent", renewal.provider_reference).data["status"] == "requires_capture"
    assert (renewal.state, renewal.active) == (State.SUCCEEDED, True)
    old.refresh_from_db()
    assert old.active is False
    schedule.refresh_from_db()
    assert schedule.authorization_id == renewal.pk
    order = Order.objects.get(pk=old.order_id)
    assert order.payment_status == PaymentStatus.AUTHORIZED


# --- amounts the provider reports ---------------------------------------------------------------------------------


def event_process(integration: Integration, event_id: str, movement: EventMovement) -> WebhookEvent | None:
    """A verified event reporting one movement, stored in the inbox and processed as the worker would."""
    event = ProviderEvent(event_id, "authorization.created", movement.provider_reference, movements=(movement,))
    inbox = WebhookEvent.objects.create(
        integration=integration,
        provider_event_id=event.event_id,
        event_type=event.type,
        provider_reference=movement.provider_reference,
        event=event.as_dict(),
    )
    return webhook_services.webhook_event_process(webhook_event_id=inbox.pk)


@pytest.mark.django_db
def test_an_authorization_a_webhook_reports_for_another_amount_is_flagged(gateway_integration, fake_gateway) -> None:  # noqa: ANN001
    """The synchronous answer compares the amount the provider reports with the row; a webhook that got there first
    recorded the row with the row's own amount, so a provider holding 90.00 of a 100.00 authorization was never
    noticed (the answer that came later found the row final and compared nothing)."""
    order = factories.OrderFactory()
    unanswered = services.payment_purchase(
        order_id=order.pk,
        method=f"fakegw_{gateway_integration.pk}",
        key="auth",
        payment_data={"token": TIMEOUT_TOKEN},
    )
    assert unanswered.state == State.RESERVED
    held = EventMovement(MovementAction.AUTHORIZE, "fk_held", Money(Decimal("90.00"), "USD"), "auth")

    event_process(gateway_integration, "evt_1", held)

    auth = PaymentTransaction.objects.get(pk=unanswered.pk)
    assert (auth.state, auth.amount, auth.needs_attention) == (State.SUCCEEDED, Decimal("100.0000"), True)
    assert auth.response["amount_mismatch"]["reported"] == "90.00"
    assert Notice.objects.filter(key=f"amount-mismatch:{auth.pk}", order=order).exists()


@pytest.mark.django_db
def test_a_webhook_reporting_money_taken_on_a_payment_recorded_declined_is_flagged(
    gateway_integration,  # noqa: ANN001
    fake_gateway,  # noqa: ANN001
) -> None:
    """A row recorded declined (a decline answer, or reconcile's "never reached the provider") whose provider later
    reports it authorized or charged was answered "already recorded" and forgotten: money the ledger says never
    moved. Nothing is rewritten (staff check the provider), but the row is flagged and staff are told."""
    order = factories.OrderFactory()
    declined = services.payment_purchase(
        order_id=order.pk,
        method=f"fakegw_{gateway_integration.pk}",
        key="auth",
        payment_data={"token": DECLINE_TOKEN},
    )
    assert declined.state == State.DECLINED
    late = EventMovement(MovementAction.AUTHORIZE, "fk_late", Money(Decimal("100.00"), "USD"), "auth")

    processed = event_process(gateway_integration, "evt_late", late)

    row = PaymentTransaction.objects.get(pk=declined.pk)
    assert (row.state, row.needs_attention) == (State.DECLINED, True)
    notice = Notice.objects.get(key=f"declined-but-reported:{row.pk}")
    assert (notice.level, notice.order_id) == (Notice.Level.ERROR, order.pk)
    assert "fk_late" in notice.message
    assert processed is not None
    assert "recorded as declined" in processed.result
