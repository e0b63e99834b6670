"""Attacks on the close rule for sibling captures of one authorization.

A cancel on a real multi-capture provider (Wirecard's `approveReversal`, OroPay's reversal) lets go of everything
the authorization still holds, not only "the rest besides captures in flight": the provider cannot know of a
capture it has not taken. A capture still open when the cancel succeeds either was taken before (its answer lost,
it stays) or is refused afterwards; nothing is held for it either way.

A scheduled capture due while a sibling is in flight finds nothing left to take; declined later, that sibling's
amount is held again, and the schedule is what must take it.
"""

from __future__ import annotations

import threading
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.utils import timezone

from integrations.models import Integration
from notifications.models import Notice
from orders.models import PaymentStatus
from payments import attention, services, sweeps, webhook_services
from payments.exceptions import PaymentRefused
from payments.models import PaymentTransaction, ScheduledCapture, State, WebhookEvent
from payments.selectors import order_account
from providers.base import EventMovement, Money, MovementAction
from providers.base import WebhookEvent as ProviderEvent
from providers.oropay import client as gp_client
from sandbox.oropay import simulator as oropay_sandbox
from sandbox.profiles import profile as sandbox_profile
from sandbox.services import sim_fault_add, sim_get
from tests import factories
from tests.conftest import authorize, usd
from tests.payments.test_wirecard_payments import paid

pytestmark = pytest.mark.django_db(transaction=True)
OROPAY_SETTINGS, OROPAY_SECRETS = sandbox_profile("oropay").credentials("paydeskoropay", "")


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def test_a_wirecard_cancel_beside_an_open_deposit_releases_the_whole_hold_and_closes_the_authorization(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    order = factories.OrderFactory(currency="EUR")
    auth = paid(wirecard_integration, order, wirecard_sandbox, live_server)
    sim_fault_add(provider="wirecard", kind="error_503", operation="deposit", times=1)  # B never reaches Wirecard
    b = services.payment_capture(source_id=auth.pk, amount=eur("40.00"), key="b")
    assert b.state == State.RESERVED

    void = services.payment_cancel(source_id=auth.pk, key="void")

    assert void.state == State.SUCCEEDED
    assert sim_get("wirecard", "order", auth.provider_reference).data["state"] == "APPROVALREVERSED"  # all of it
    # past the wait before a deposit without a key may be sent again
    PaymentTransaction.objects.filter(pk=b.pk).update(created_at=timezone.now() - timedelta(hours=1))
    declined = sweeps.payment_reconcile(transaction_id=b.pk)  # B re-sent: refused, nothing is approved any more
    assert declined.state == State.DECLINED
    assert sim_get("wirecard", "order", auth.provider_reference).data["payments"] == []

    auth.refresh_from_db()
    order.refresh_from_db()
    account = order_account(order=order)
    # Wirecard holds nothing: the ledger must not show 40 held and capturable
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
    assert (account.taken, account.held, account.in_flight) == (0, 0, 0)
    assert order.payment_status == PaymentStatus.CANCELED
    with pytest.raises(PaymentRefused):
        services.payment_capture(source_id=auth.pk, amount=None, key="rest")
    assert not PaymentTransaction.objects.filter(idempotency_key="rest").exists()


@pytest.fixture
def delayed_capture(gateway_integration: Integration) -> Integration:
    gateway_integration.capture_policy = Integration.CapturePolicy.AFTER_DELAY
    gateway_integration.capture_delay_hours = 1
    gateway_integration.save()
    return gateway_integration


@pytest.mark.parametrize("b_answer", ["declined", "succeeded"])
def test_a_scheduled_capture_due_while_a_sibling_is_in_flight_waits_for_its_answer(
    b_answer: str,
    delayed_capture: Integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, delayed_capture)
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")  # staff take part by hand
    if b_answer == "declined":
        fake_gateway.decline_next["capture"] = "card_declined"
    fake_gateway.lose_reply_next.append("capture")  # B decided at the provider, the answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    assert b.state == State.RESERVED

    schedule = sweeps.scheduled_capture_run(schedule_id=auth.scheduled_capture.pk)  # nothing to take while B is open

    assert schedule.state == ScheduledCapture.State.PENDING  # not given up: B may still be declined
    assert sweeps.payment_reconcile(transaction_id=b.pk).state == State(b_answer)
    assert sweeps.scheduled_captures_claim(now=schedule.due_at) == [schedule.pk]
    schedule = sweeps.scheduled_capture_run(schedule_id=schedule.pk)

    auth.refresh_from_db()
    order.refresh_from_db()
    if b_answer == "declined":  # the 40 still held is captured as the integration asks, not left to lapse
        assert schedule.state == ScheduledCapture.State.DONE
        assert (schedule.capture.amount, schedule.capture.state) == (Decimal("40.0000"), State.SUCCEEDED)
    else:
        assert schedule.state == ScheduledCapture.State.SKIPPED
    assert (auth.active, order.payment_status) == (False, PaymentStatus.FULL)
    assert order_account(order=order).taken == Decimal("100.00")


def test_an_oropay_reversal_beside_an_open_capture_releases_the_whole_hold_and_closes_the_authorization(
    live_server,  # noqa: ANN001
    settings,  # noqa: ANN001
) -> None:
    gp_client.token_cache_clear()
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = factories.IntegrationFactory(
        provider_key="oropay",
        name="OroPay",
        settings=dict(OROPAY_SETTINGS),
        secrets=dict(OROPAY_SECRETS),
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    token = oropay_sandbox.tokenize(OROPAY_SETTINGS["app_id"], "4263970000005262")
    auth = services.payment_purchase(
        order_id=order.pk, method=f"oropay_{integration.pk}", key="p-1", payment_data={"payment_reference": token}
    )
    assert auth.amount == Decimal("100.0000")
    sim_fault_add(provider="oropay", kind="error_503", operation="capture", times=1)  # B never reaches OroPay
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    assert b.state == State.RESERVED

    void = services.payment_cancel(source_id=auth.pk, key="void")

    assert void.state == State.SUCCEEDED
    held = sim_get("oropay", "transaction", auth.provider_reference).data
    assert (held["status"], held["_captured"]) == ("REVERSED", 0)  # all of the hold, B's 40 too
    PaymentTransaction.objects.filter(pk=b.pk).update(created_at=timezone.now() - timedelta(hours=1))
    assert sweeps.payment_reconcile(transaction_id=b.pk).state == State.DECLINED  # re-sent: nothing left to take

    auth.refresh_from_db()
    order.refresh_from_db()
    account = order_account(order=order)
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
    assert (account.taken, account.held, account.in_flight, account.payable) == (0, 0, 0, Decimal("100.00"))
    assert order.payment_status == PaymentStatus.CANCELED


def test_an_authorization_whose_rest_is_in_flight_is_not_announced_as_to_be_captured_before_it_lapses(
    gateway_integration: Integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")
    fake_gateway.decline_next["capture"] = "card_declined"
    fake_gateway.lose_reply_next.append("capture")  # B declined at the provider, the answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    PaymentTransaction.objects.filter(pk=auth.pk).update(expires_at=timezone.now() + timedelta(hours=2))

    # open only because B may be declined: nothing to capture, nothing to warn about
    assert sweeps.authorizations_expiry_sweep() == (0, 0)
    assert not Notice.objects.filter(key=f"expiry-warning:{auth.pk}").exists()

    assert sweeps.payment_reconcile(transaction_id=b.pk).state == State.DECLINED

    # now 40 is held and capturable: staff are told before it lapses
    assert sweeps.authorizations_expiry_sweep() == (1, 0)
    assert "40.00" in Notice.objects.get(key=f"expiry-warning:{auth.pk}").message


def test_a_void_in_the_providers_dashboard_beside_a_capture_in_flight_closes_the_authorization(
    gateway_integration: Integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")
    fake_gateway.decline_next["capture"] = "card_declined"
    fake_gateway.lose_reply_next.append("capture")  # B declined at the provider, the answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")

    # staff void what the authorization still holds in the provider's dashboard; the provider reports it
    movement = EventMovement(MovementAction.CANCEL, "void_dashboard", usd("40.00"))
    event = ProviderEvent("evt_void", "authorization.voided", auth.provider_reference, movements=(movement,))
    inbox = WebhookEvent.objects.create(
        integration=gateway_integration,
        provider_event_id=event.event_id,
        event_type=event.type,
        provider_reference=auth.provider_reference,
        event=event.as_dict(),
    )
    webhook_services.webhook_event_process(webhook_event_id=inbox.pk)
    assert sweeps.payment_reconcile(transaction_id=b.pk).state == State.DECLINED

    auth.refresh_from_db()
    order.refresh_from_db()
    account = order_account(order=order)
    # the provider holds nothing: B's 40 is not shown as held and capturable, it is payable again
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
    assert (account.taken, account.held, account.in_flight, account.payable) == (
        Decimal("60.00"),
        0,
        0,
        Decimal("40.00"),
    )
    with pytest.raises(PaymentRefused):
        services.payment_capture(source_id=auth.pk, amount=None, key="rest")


def _void_event(integration: Integration, auth: PaymentTransaction, event_id: str) -> WebhookEvent:
    movement = EventMovement(MovementAction.CANCEL, "void_dashboard", usd("40.00"))
    event = ProviderEvent(event_id, "authorization.voided", auth.provider_reference, movements=(movement,))
    return WebhookEvent.objects.create(
        integration=integration,
        provider_event_id=event.event_id,
        event_type=event.type,
        provider_reference=auth.provider_reference,
        event=event.as_dict(),
    )


def test_a_dashboard_void_after_the_capture_in_flight_was_taken_keeps_that_capture_and_changes_nothing_re_sent(
    gateway_integration: Integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")
    fake_gateway.lose_reply_next.append("capture")  # B taken at the provider, the answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    assert b.state == State.RESERVED

    webhook_services.webhook_event_process(webhook_event_id=_void_event(gateway_integration, auth, "evt_v1").pk)
    assert sweeps.payment_reconcile(transaction_id=b.pk).state == State.SUCCEEDED  # taken before the void: kept
    # the same void reported again, and once more under another event id (out of order, after B's record)
    webhook_services.webhook_event_process(webhook_event_id=_void_event(gateway_integration, auth, "evt_v1b").pk)
    webhook_services.webhook_event_process(webhook_event_id=_void_event(gateway_integration, auth, "evt_v2").pk)

    auth.refresh_from_db()
    order.refresh_from_db()
    account = order_account(order=order)
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
    assert (account.taken, account.held, account.in_flight, account.payable) == (Decimal("100.00"), 0, 0, 0)
    assert order.payment_status == PaymentStatus.FULL
    assert not auth.children.filter(action="cancel").exists()  # nothing was left to void: no row made up for it


@pytest.mark.parametrize("void_first", [True, False])
def test_a_dashboard_void_racing_the_record_of_the_capture_in_flight_loses_no_money(
    void_first: bool,
    gateway_integration: Integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")
    fake_gateway.lose_reply_next.append("capture")  # B taken at the provider, the answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    inbox = _void_event(gateway_integration, auth, "evt_race")
    errors: list[BaseException] = []

    def run(fn) -> None:  # noqa: ANN001
        try:
            fn()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    void = threading.Thread(
        target=run, args=(lambda: webhook_services.webhook_event_process(webhook_event_id=inbox.pk),)
    )
    record = threading.Thread(target=run, args=(lambda: sweeps.payment_reconcile(transaction_id=b.pk),))
    first, second = (void, record) if void_first else (record, void)
    first.start()
    second.start()
    first.join(30)
    second.join(30)
    assert not errors

    b.refresh_from_db()
    auth.refresh_from_db()
    order.refresh_from_db()
    account = order_account(order=order)
    assert b.state == State.SUCCEEDED
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
    assert (account.taken, account.held, account.in_flight, account.payable) == (Decimal("100.00"), 0, 0, 0)
    assert order.payment_status == PaymentStatus.FULL


@pytest.mark.parametrize("end", ["lapse", "no_money_moved", "went_through"])
def test_a_scheduled_capture_waiting_on_a_sibling_whose_answer_never_comes_ends_with_the_hold_or_staff(
    end: str,
    delayed_capture: Integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, delayed_capture)
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")
    fake_gateway.fail_next.append("capture")  # B never reaches the provider
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    assert b.state == State.RESERVED
    fake_gateway.unavailable = True  # and nothing about it is ever answered
    captures = fake_gateway.calls["capture"]

    schedule = sweeps.scheduled_capture_run(schedule_id=auth.scheduled_capture.pk)
    for _ in range(sweeps.RECONCILE_MAX_ATTEMPTS):
        sweeps.payment_reconcile(transaction_id=b.pk)
    b.refresh_from_db()
    assert (b.state, b.needs_attention) == (State.RESERVED, True)
    assert Notice.objects.filter(key=f"unsettled:{b.pk}").exists()  # staff are told of B
    for _ in range(5):  # the schedule looks again, and moves nothing while B is unanswered
        assert sweeps.scheduled_captures_claim(now=schedule.due_at) == [schedule.pk]
        schedule = sweeps.scheduled_capture_run(schedule_id=schedule.pk)
        assert schedule.state == ScheduledCapture.State.PENDING
    assert fake_gateway.calls["capture"] == captures

    if end == "lapse":  # the hold lapses: the schedule ends with it, and staff are told
        assert sweeps.authorizations_expiry_sweep(now=auth.expires_at + timedelta(minutes=1)) == (0, 1)
        assert Notice.objects.filter(key=f"expired:{auth.pk}").exists()
    else:  # staff settle B from what they found in the provider's dashboard
        fake_gateway.unavailable = False
        attention.payment_attention_resolve(
            transaction_id=b.pk,
            outcome="succeeded" if end == "went_through" else "declined",
            reference="fk_found",
            actor=None,
            note="",
        )
    assert sweeps.scheduled_captures_claim(now=schedule.due_at) == [schedule.pk]
    schedule = sweeps.scheduled_capture_run(schedule_id=schedule.pk)
    auth.refresh_from_db()
    order.refresh_from_db()
    if end == "no_money_moved":  # the 40 held again is taken as the integration asks, once
        assert schedule.state == ScheduledCapture.State.DONE
        assert (schedule.capture.amount, schedule.capture.state) == (Decimal("40.0000"), State.SUCCEEDED)
        assert fake_gateway.calls["capture"] == captures + 1
    else:
        assert schedule.state == ScheduledCapture.State.SKIPPED
        assert fake_gateway.calls["capture"] == captures
    assert not auth.active
    taken = {"lapse": Decimal("60.00")}.get(end, Decimal("100.00"))
    assert order_account(order=order).taken == taken


def test_authorizations_kept_open_only_by_captures_in_flight_do_not_crowd_out_the_expiry_warnings(
    gateway_integration: Integration,
    fake_gateway,  # noqa: ANN001
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(sweeps, "BATCH", 2)
    soon = timezone.now() + timedelta(hours=2)
    for n in range(2):  # a provider outage: the rest of these is in flight, nothing to capture
        waiting = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration, key=f"auth-{n}")
        fake_gateway.lose_reply_next.append("capture")
        services.payment_capture(source_id=waiting.pk, amount=None, key=f"rest-{n}")
        PaymentTransaction.objects.filter(pk=waiting.pk).update(expires_at=soon - timedelta(minutes=10))
    held = authorize(factories.OrderFactory(subtotal=Decimal("100.00")), gateway_integration, key="auth-held")
    PaymentTransaction.objects.filter(pk=held.pk).update(expires_at=soon)

    # the one with 100 left to capture is announced, however many ahead of it have nothing to capture
    assert sweeps.authorizations_expiry_sweep() == (1, 0)
    assert "100.00" in Notice.objects.get(key=f"expiry-warning:{held.pk}").message


def test_the_same_dashboard_void_delivered_twice_at_once_beside_a_declined_capture_closes_once(
    gateway_integration: Integration,
    fake_gateway,  # noqa: ANN001
) -> None:
    order = factories.OrderFactory(subtotal=Decimal("100.00"))
    auth = authorize(order, gateway_integration)
    services.payment_capture(source_id=auth.pk, amount=usd("60.00"), key="a")
    fake_gateway.decline_next["capture"] = "card_declined"
    fake_gateway.lose_reply_next.append("capture")  # B refused at the provider, the answer lost
    b = services.payment_capture(source_id=auth.pk, amount=usd("40.00"), key="b")
    inboxes = [_void_event(gateway_integration, auth, f"evt_twice_{n}") for n in range(2)]
    errors: list[BaseException] = []
    barrier = threading.Barrier(3)

    def run(fn) -> None:  # noqa: ANN001
        try:
            barrier.wait(10)
            fn()
        except BaseException as exc:  # noqa: BLE001
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=run, args=(lambda pk=inbox.pk: webhook_services.webhook_event_process(webhook_event_id=pk),)
        )
        for inbox in inboxes
    ]
    threads.append(threading.Thread(target=run, args=(lambda: sweeps.payment_reconcile(transaction_id=b.pk),)))
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert not errors

    auth.refresh_from_db()
    order.refresh_from_db()
    account = order_account(order=order)
    assert PaymentTransaction.objects.get(pk=b.pk).state == State.DECLINED
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
    # a cancel row, if the void came after B's decline, is the only one; nothing is held, 40 is payable again
    assert auth.children.filter(action="cancel").count() <= 1
    assert (account.taken, account.held, account.in_flight, account.payable) == (
        Decimal("60.00"),
        0,
        0,
        Decimal("40.00"),
    )
    assert set(WebhookEvent.objects.values_list("status", flat=True)) == {WebhookEvent.Status.PROCESSED}
