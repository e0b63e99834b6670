"""Attacks on the release of an Apruve order accepted after its payment was ended, against the Apruve sandbox.

Only an order made for the ended payment may be canceled: never one another payment stands on (of this order, of
another integration of the same Apruve account, of another company), whatever the browser posts back and
whichever endpoint Apruve's event reaches; and the release happens once, however the reports race.
"""

from __future__ import annotations

import json
import threading
import time
from decimal import Decimal

import pytest
from django.db import connection

from integrations.models import Integration
from notifications.models import Notice
from orders.models import PaymentStatus
from payments import services, sweeps
from payments.abandonment import payment_abandon
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from payments.selectors import order_account
from sandbox.apruve.simulator import order_hash
from sandbox.models import SimWebhookDelivery
from sandbox.services import sim_fault_add
from sandbox.tasks import sim_webhook_deliver_task
from tests import factories
from tests.payments.test_apruve_late_acceptance import (
    accept_in_other_tab,
    apruve_status,
    assert_nothing_held_or_paid,
    cancels_at_apruve,
    deliver_held,
    ended_offer,
    hold_webhooks,
    releases,
)
from tests.payments.test_apruve_payments import SECRETS, SETTINGS, apruve, offer, status
from tests.payments.test_webhooks import pi_event
from tests.sandbox_support import post_event, stripe_integration, stripe_sandbox

__all__ = ["apruve", "stripe_integration", "stripe_sandbox"]  # the fixtures

pytestmark = pytest.mark.django_db(transaction=True)


def second_integration() -> Integration:
    """Another integration of the same Apruve account (staff connected it again, say with other labels): the same
    merchant, so Apruve's orders of both carry our order numbers side by side. Its webhook URL is not registered
    at Apruve: Apruve's events still reach the first integration's endpoint."""
    return factories.IntegrationFactory(
        provider_key="apruve",
        name="Apruve (new)",
        settings=dict(SETTINGS),
        secrets=dict(SECRETS),
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )


def paid_again(integration: Integration, order, live_server, key: str) -> tuple[PaymentTransaction, str]:  # noqa: ANN001
    """A second payment of the same order: offered, accepted in the lightbox, posted back; it holds the order."""
    txn = offer(integration, order, key=key)
    order_id = accept_in_other_tab(live_server, txn.response["next_action"])
    done = services.payment_complete(transaction_id=txn.pk, returned_reference=order_id)
    assert (done.state, done.provider_reference) == (State.SUCCEEDED, order_id)
    return done, order_id


def assert_second_payment_holds(order, payment: PaymentTransaction, order_id: str) -> None:  # noqa: ANN001
    payment.refresh_from_db()
    assert (payment.state, payment.active, payment.provider_reference) == (State.SUCCEEDED, True, order_id)
    assert apruve_status(order_id) == "accepted"  # its Apruve order still holds the credit the ledger counts
    assert cancels_at_apruve(order_id) == 0
    assert status(order) == PaymentStatus.AUTHORIZED
    account = order_account(order=order)
    assert (account.held, account.payable) == (order.total, 0)


# --- what the browser names --------------------------------------------------------------------------------------


def test_a_post_back_naming_another_companys_order_cancels_it_nowhere(apruve, live_server) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    ended, _ = ended_offer(apruve, order)
    other = factories.OrderFactory()  # another company's order, paid with Apruve
    _, other_id = paid_again(apruve, other, live_server, key="checkout:2:1")

    services.payment_complete(transaction_id=ended.pk, returned_reference=other_id)

    assert releases(ended) == []
    assert (apruve_status(other_id), cancels_at_apruve(other_id)) == ("accepted", 0)
    assert not Notice.objects.filter(order=order).exists()


@pytest.mark.parametrize("named", ["its order", "nothing Apruve knows"])
def test_a_post_back_of_the_ended_payment_never_cancels_the_order_a_second_payment_holds(
    apruve, live_server, named: str
) -> None:  # noqa: ANN001
    """The order was paid again (the same integration) after its first payment was ended; the stale page of the
    first posts back the second one's Apruve order, or an id Apruve does not know (the adapter then looks our
    order number up, and finds the second payment's order)."""
    order = factories.OrderFactory()
    ended, _ = ended_offer(apruve, order)
    second, order_id = paid_again(apruve, order, live_server, key="checkout:1:2")

    services.payment_complete(
        transaction_id=ended.pk, returned_reference=order_id if named == "its order" else "0" * 32
    )

    assert releases(ended) == []
    assert_second_payment_holds(order, second, order_id)


@pytest.mark.parametrize("named", ["its order", "nothing Apruve knows"])
def test_a_post_back_of_the_ended_payment_never_cancels_the_order_a_payment_of_another_integration_holds(
    apruve, live_server, monkeypatch, named: str
) -> None:  # noqa: ANN001
    """As above, the second payment made with another integration of the same Apruve account: its Apruve order
    carries our order number and amount too, and it is ours all the same. (Apruve's events are held back here:
    the page alone.)"""
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, _ = ended_offer(apruve, order)
    second, order_id = paid_again(second_integration(), order, live_server, key="checkout:1:2")

    services.payment_complete(
        transaction_id=ended.pk, returned_reference=order_id if named == "its order" else "0" * 32
    )

    assert releases(ended) == []
    assert_second_payment_holds(order, second, order_id)


def test_the_event_of_a_payment_of_another_integration_never_cancels_its_order_for_the_ended_one(
    apruve, live_server, monkeypatch
) -> None:  # noqa: ANN001
    """Apruve sends its events to the endpoint registered for the account (the first integration's): the
    order.accepted of the second payment's order, matched there by our order number, is not the ended one's."""
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, _ = ended_offer(apruve, order)
    second, order_id = paid_again(second_integration(), order, live_server, key="checkout:1:2")

    assert deliver_held() == ["order.accepted"]

    assert WebhookEvent.objects.get(event_type="order.accepted").integration_id == apruve.pk
    assert releases(ended) == []
    assert_second_payment_holds(order, second, order_id)


# --- reported twice at once --------------------------------------------------------------------------------------


def test_the_post_back_and_the_event_racing_in_two_threads_cancel_the_order_once(
    apruve, live_server, monkeypatch
) -> None:  # noqa: ANN001
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    order_id = accept_in_other_tab(live_server, lightbox)
    start = threading.Barrier(2)
    errors: list[BaseException] = []

    def run(step) -> None:  # noqa: ANN001
        try:
            start.wait()
            step()
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    threads = [
        threading.Thread(
            target=run, args=(lambda: services.payment_complete(transaction_id=ended.pk, returned_reference=order_id),)
        ),
        threading.Thread(target=run, args=(deliver_held,)),
    ]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert errors == []
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert (apruve_status(order_id), cancels_at_apruve(order_id)) == ("canceled", 1)
    assert_nothing_held_or_paid(order, ended)
    assert Notice.objects.filter(order=order).count() == 1


def test_a_redelivered_accepted_event_after_the_release_changes_nothing(apruve, live_server) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    order_id = accept_in_other_tab(live_server, lightbox)
    accepted = [
        d
        for d in SimWebhookDelivery.objects.filter(provider="apruve")
        if json.loads(d.body)["event"] == "order.accepted"
    ]
    assert len(accepted) == 1

    SimWebhookDelivery.objects.filter(pk=accepted[0].pk).update(delivered_at=None)
    sim_webhook_deliver_task(accepted[0].pk)

    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert (apruve_status(order_id), cancels_at_apruve(order_id)) == ("canceled", 1)
    assert_nothing_held_or_paid(order, ended)


def test_an_order_reported_for_two_ended_payments_of_the_same_order_is_released_once(
    apruve, live_server, monkeypatch
) -> None:  # noqa: ANN001
    """The order was offered twice and both offers were ended (the same Apruve offer: our number, our amount); the
    buyer accepted one of them late. The first page posts its id back, Apruve's event is matched by our number to
    the latest ended payment: one Apruve order, one release, one notice."""
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    first, lightbox = ended_offer(apruve, order, key="checkout:1:1")
    latest, _ = ended_offer(apruve, order, key="checkout:1:2")
    order_id = accept_in_other_tab(live_server, lightbox)

    services.payment_complete(transaction_id=first.pk, returned_reference=order_id)
    deliver_held()

    rows = PaymentTransaction.objects.filter(order=order, action=Action.CANCEL)
    assert [(r.state, r.provider_reference) for r in rows] == [(State.SUCCEEDED, order_id)]
    assert (apruve_status(order_id), cancels_at_apruve(order_id)) == ("canceled", 1)
    assert_nothing_held_or_paid(order, latest)
    assert Notice.objects.filter(order=order).count() == 1


# --- money taken is not released by a cancel ---------------------------------------------------------------------


def test_a_capture_reported_after_a_stripe_payment_was_ended_is_flagged_never_canceled(
    client, stripe_integration
) -> None:  # noqa: ANN001
    """Stripe reports a manual-capture PaymentIntent succeeded (authorized, then captured: money taken) for a
    payment ended when the buyer left it: a cancel releases a hold, never money taken, so none is written; staff
    are told money may have moved."""
    order = factories.OrderFactory()
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{stripe_integration.pk}",
        key="auth-3ds-left",
        payment_data={"payment_method": "pm_card_threeDSecure2Required"},
    )
    assert auth.state == State.ACTION_REQUIRED
    ended = payment_abandon(transaction_id=auth.pk)
    assert (ended.state, ended.error_code) == (State.DECLINED, "abandoned")
    cents = int(ended.amount * 100)
    event = pi_event(
        id=ended.provider_reference,
        amount=cents,
        amount_received=cents,
        capture_method="manual",
        latest_charge="ch_late",
    )

    assert post_event(client, stripe_integration, event).status_code == 200

    assert WebhookEvent.objects.get(provider_event_id=event["id"]).status == WebhookEvent.Status.PROCESSED
    assert not PaymentTransaction.objects.filter(source=ended).exists()  # no cancel of money taken
    ended.refresh_from_db()
    assert (ended.state, ended.needs_attention) == (State.DECLINED, True)
    notices = Notice.objects.filter(order=order)
    assert [n.level for n in notices] == [Notice.Level.ERROR]
    assert "Money may have moved" in notices[0].message


# --- an order with our number that is not our offer --------------------------------------------------------------


def test_an_order_with_our_number_for_another_amount_is_flagged_not_canceled_for_the_ended_payment(
    apruve, live_server
) -> None:  # noqa: ANN001
    """After the buyer left the payment, the merchant bills part of the order through Apruve by other means (an
    order of its own, with our order number and another amount). Its order.accepted is not the late acceptance of
    our offer, whose amount the offer's hash fixes: it is not canceled; staff are told."""
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    theirs = json.loads(lightbox["order"])
    items = [{"title": "Part delivery", "price_ea_cents": 4000, "quantity": 1, "price_total_cents": 4000}]
    theirs.update(amount_cents=4000, shipping_cents=0, order_items=[{**items[0], "currency": "USD"}])
    body = json.dumps(theirs, separators=(",", ":"))
    order_id = accept_in_other_tab(live_server, {"order": body, "secure_hash": order_hash(SECRETS["api_key"], theirs)})

    assert WebhookEvent.objects.get(event_type="order.accepted").status == WebhookEvent.Status.PROCESSED
    assert releases(ended) == []
    assert (apruve_status(order_id), cancels_at_apruve(order_id)) == ("accepted", 0)
    ended.refresh_from_db()
    assert (ended.state, ended.needs_attention) == (State.DECLINED, True)
    assert [n.level for n in Notice.objects.filter(order=order)] == [Notice.Level.ERROR]


def test_an_order_accepted_for_an_offer_of_another_integration_still_waiting_is_left_to_it(
    apruve, live_server, monkeypatch
) -> None:  # noqa: ANN001
    """The order is offered again with another integration of the same account and the buyer accepts; its event
    reaches the first integration's endpoint, where only the ended payment carries our number: the order is the
    waiting offer's, which learns it from its page."""
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, _ = ended_offer(apruve, order)
    waiting = offer(second_integration(), order, key="checkout:1:2")
    order_id = accept_in_other_tab(live_server, waiting.response["next_action"])

    deliver_held()
    done = services.payment_complete(transaction_id=waiting.pk, returned_reference=order_id)

    assert releases(ended) == []
    assert (done.state, done.provider_reference) == (State.SUCCEEDED, order_id)
    assert_second_payment_holds(order, done, order_id)


def test_the_order_released_for_an_ended_payment_leaves_the_order_payable_again(apruve, live_server) -> None:  # noqa: ANN001
    """The release holds nothing and took nothing: the buyer pays the order again, and that payment holds all."""
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    released_id = accept_in_other_tab(live_server, lightbox)
    assert apruve_status(released_id) == "canceled"
    assert order_account(order=order).payable == order.total

    second, order_id = paid_again(apruve, order, live_server, key="checkout:1:2")

    assert order_id != released_id
    assert_second_payment_holds(order, second, order_id)
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, released_id, Decimal("100.0000"))]
    assert releases(second) == []


# --- reconcile and the cancel at once, a refused cancel reported again ------------------------------------------


def test_reconcile_of_the_release_while_its_cancel_is_in_flight_cancels_once(apruve, live_server, monkeypatch) -> None:  # noqa: ANN001
    """The page's cancel is slow to answer (Apruve cancels, then answers 1.5 s later); reconcile comes for the row
    meanwhile, in another thread: one row, one cancel at Apruve, one notice."""
    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    order_id = accept_in_other_tab(live_server, lightbox)
    sim_fault_add(provider="apruve", kind="timeout", operation="cancel_order", delay=1.5)
    errors: list[BaseException] = []

    def post_back() -> None:
        try:
            services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)
        except BaseException as exc:  # noqa: BLE001 - reported by the assertion below
            errors.append(exc)
        finally:
            connection.close()

    page = threading.Thread(target=post_back)
    page.start()
    for _ in range(50):  # the row is written before Apruve is asked
        if PaymentTransaction.objects.filter(source=ended, action=Action.CANCEL).exists():
            break
        time.sleep(0.05)
    time.sleep(0.3)
    release = PaymentTransaction.objects.get(source=ended, action=Action.CANCEL)
    settled = sweeps.payment_reconcile(transaction_id=release.pk)
    page.join()
    deliver_held()

    assert errors == []
    assert settled.state == State.SUCCEEDED
    assert releases(ended) == [(Action.CANCEL, State.SUCCEEDED, order_id, Decimal("100.0000"))]
    assert (apruve_status(order_id), cancels_at_apruve(order_id)) == ("canceled", 1)
    assert_nothing_held_or_paid(order, ended)
    assert Notice.objects.filter(order=order).count() == 1


def test_a_refused_release_reported_again_by_page_and_event_asks_staff_once(apruve, live_server, monkeypatch) -> None:  # noqa: ANN001
    """Apruve refuses the cancel (staff billed the order in its dashboard first); the page posts again and Apruve
    retries its event: no second cancel row, no second request, one error for staff."""
    from tests.payments.test_apruve_attack import dashboard_invoice

    hold_webhooks(monkeypatch)
    order = factories.OrderFactory()
    ended, lightbox = ended_offer(apruve, order)
    order_id = accept_in_other_tab(live_server, lightbox)
    dashboard_invoice(live_server, order_id, 2000)

    services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)
    deliver_held()
    SimWebhookDelivery.objects.filter(provider="apruve").update(delivered_at=None)
    deliver_held()
    services.payment_complete(transaction_id=ended.pk, returned_reference=order_id)

    assert releases(ended) == [(Action.CANCEL, State.DECLINED, order_id, Decimal("100.0000"))]
    assert apruve_status(order_id) == "accepted"
    levels = sorted(Notice.objects.filter(order=order).values_list("level", flat=True))
    assert levels == [Notice.Level.ERROR, Notice.Level.WARNING]
    order.refresh_from_db()
    assert order_account(order=order).held == 0  # the ledger never counts it as held: staff settle it at Apruve
