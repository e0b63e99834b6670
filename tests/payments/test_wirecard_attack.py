"""Attacks on Wirecard Checkout Seamless: lost replies, equal amounts, confirms the order details cannot back."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from payments import services, sweeps
from payments.models import PaymentTransaction, State
from providers.base import Money
from sandbox.services import sim_fault_add, sim_get
from tests import factories
from tests.payments.test_wirecard_payments import paid

pytestmark = pytest.mark.django_db(transaction=True)


def eur(amount: str) -> Money:
    return Money(Decimal(amount), "EUR")


def _sent_long_ago(txn: PaymentTransaction) -> None:
    """The row was written long before reconcile asks (no request of it can still be in flight)."""
    PaymentTransaction.objects.filter(pk=txn.pk).update(created_at=timezone.now() - timedelta(hours=1))


def test_a_lost_second_deposit_of_an_equal_amount_is_not_taken_for_the_first(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    """Two deposits of 30: the first recorded, the second never reached Wirecard (HTTP 500, nothing done).
    getOrderDetails holds one deposit of 30, and it is the first's: the second must not be recorded as made."""
    order = factories.OrderFactory(currency="EUR")
    auth = paid(wirecard_integration, order, wirecard_sandbox, live_server)
    first = services.payment_capture(source_id=auth.pk, amount=eur("30.00"), key="capture-1")
    assert first.state == State.SUCCEEDED
    sim_fault_add(provider="wirecard", kind="error_500", operation="deposit", times=1)
    second = services.payment_capture(source_id=auth.pk, amount=eur("30.00"), key="capture-2")
    assert second.state == State.RESERVED
    _sent_long_ago(second)
    second = sweeps.payment_reconcile(transaction_id=second.pk)
    deposits = sim_get("wirecard", "order", auth.provider_reference).data["payments"]
    # either it was sent again (and is a deposit of its own), or it stays open: never the first one's reference
    assert second.provider_reference != first.provider_reference
    ledger_captured = sum(
        t.amount for t in PaymentTransaction.objects.filter(source=auth, action="capture", state=State.SUCCEEDED)
    )
    at_wirecard = sum(Decimal(p["amount"]) for p in deposits if p["state"] == "DEPOSITED")
    assert ledger_captured == at_wirecard


def test_a_lost_second_refund_of_an_equal_amount_is_not_taken_for_the_first(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    order = factories.OrderFactory(currency="EUR")
    auth = paid(wirecard_integration, order, wirecard_sandbox, live_server)
    capture = services.payment_capture(source_id=auth.pk, amount=eur("60.00"), key="capture-1")
    first = services.payment_refund(source_id=capture.pk, amount=eur("10.00"), key="refund-1")
    assert first.state == State.SUCCEEDED
    sim_fault_add(provider="wirecard", kind="error_500", operation="refund", times=1)
    second = services.payment_refund(source_id=capture.pk, amount=eur("10.00"), key="refund-2")
    assert second.state == State.RESERVED
    _sent_long_ago(second)
    second = sweeps.payment_reconcile(transaction_id=second.pk)
    credits = sim_get("wirecard", "order", auth.provider_reference).data["credits"]
    assert second.provider_reference != first.provider_reference
    ledger_refunded = sum(
        t.amount for t in PaymentTransaction.objects.filter(source=capture, action="refund", state=State.SUCCEEDED)
    )
    assert ledger_refunded == sum(Decimal(c["amount"]) for c in credits if c["state"] == "CREDITED")


def test_reconcile_does_not_send_a_deposit_again_while_the_lost_one_may_still_be_carried_out(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    """No idempotency key: 'not in getOrderDetails' a few minutes after a timed-out deposit does not prove it
    will never be carried out, and a re-send then takes the money twice. The row waits; once the request is
    long past, not found means never received, and it is sent again, once."""
    order = factories.OrderFactory(currency="EUR")
    auth = paid(wirecard_integration, order, wirecard_sandbox, live_server)
    sim_fault_add(provider="wirecard", kind="error_500", operation="deposit", times=1)
    capture = services.payment_capture(source_id=auth.pk, amount=eur("40.00"), key="capture-1")
    assert capture.state == State.RESERVED
    PaymentTransaction.objects.filter(pk=capture.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    capture = sweeps.payment_reconcile(transaction_id=capture.pk)
    assert capture.is_open
    assert sim_get("wirecard", "order", auth.provider_reference).data["payments"] == []
    _sent_long_ago(capture)
    capture = sweeps.payment_reconcile(transaction_id=capture.pk)
    assert capture.state == State.SUCCEEDED
    assert [p["amount"] for p in sim_get("wirecard", "order", auth.provider_reference).data["payments"]] == ["40.00"]


def test_a_signed_confirm_whose_order_details_cannot_be_read_is_applied_once_they_can(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    """The confirm's SUCCESS is signed, but the ledger records what getOrderDetails says; an unreadable answer
    (a proxy's HTML page) must not end the event as 'nothing to apply': a redelivery of the confirm is a
    duplicate, so the payment would wait an hour for reconcile while the buyer sees it unpaid."""
    from payments.models import WebhookEvent
    from payments.webhook_services import FINAL, webhook_event_process
    from tests.payments.test_wirecard_payments import pay
    from tests.wirecard_support import buyer_on_pay_page

    order = factories.OrderFactory(currency="EUR")
    txn = pay(wirecard_integration, order, wirecard_sandbox, live_server.url)
    sim_fault_add(provider="wirecard", kind="malformed", operation="getOrderDetails", times=1)
    buyer_on_pay_page(txn.response["next_action"]["redirect_url"])
    event = WebhookEvent.objects.get(integration=wirecard_integration)
    assert event.status not in FINAL, event.result  # left for the task's retry, not ended
    webhook_event_process(webhook_event_id=event.pk)  # the retry
    event.refresh_from_db()
    txn.refresh_from_db()
    assert (event.status, txn.state) == (WebhookEvent.Status.PROCESSED, State.SUCCEEDED), event.result


def test_a_forged_unsigned_cancel_cannot_use_up_the_genuine_one(
    wirecard_integration, wirecard_sandbox, live_server, client
) -> None:
    """CANCEL and FAILURE confirms carry no fingerprint. Anyone who knows an order number could post one first:
    stored under the same event id as the genuine confirm, it made the genuine one a duplicate, so the buyer's
    cancel was never applied. Our echoed reference is now signed, so a forged one is refused."""
    from urllib.parse import urlencode

    from payments.models import WebhookEvent
    from tests.payments.test_wirecard_payments import pay
    from tests.wirecard_support import buyer_on_pay_page

    order = factories.OrderFactory(currency="EUR")
    txn = pay(wirecard_integration, order, wirecard_sandbox, live_server.url)
    url = wirecard_integration.get_webhook_url().removeprefix(live_server.url)
    forged = client.post(
        url,
        urlencode({"paymentState": "CANCEL", "paydeskOrderNumber": txn.provider_reference}),
        content_type="application/x-www-form-urlencoded",
    )
    assert forged.status_code == 400
    buyer_on_pay_page(txn.response["next_action"]["redirect_url"], action="cancel")
    txn.refresh_from_db()
    assert (txn.state, txn.error_code) == (State.DECLINED, "canceled")
    assert WebhookEvent.objects.get(integration=wirecard_integration).status == WebhookEvent.Status.PROCESSED


def test_an_approval_reversed_at_wirecard_before_we_heard_of_it_is_not_recorded_as_held(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    """The confirm was lost (refused by the allow-list) and staff reversed the approval in Wirecard's back
    office: reconcile must not record an authorization that holds money (the order would read 'authorized',
    be shipped, and its capture refused)."""
    from integrations.adapters import adapter_for
    from orders.models import PaymentStatus
    from payments.ledger import follow_up_request
    from providers.base import Outcome

    wirecard_integration.settings = {**wirecard_integration.settings, "confirm_ip_allowlist": "195.93.244.97"}
    wirecard_integration.save()
    order = factories.OrderFactory(currency="EUR")
    txn = paid(wirecard_integration, order, wirecard_sandbox, live_server)
    assert txn.state == State.ACTION_REQUIRED
    reversed_ = adapter_for(wirecard_integration).cancel(follow_up_request(txn, txn, key="in-the-back-office"))
    assert reversed_.outcome == Outcome.SUCCEEDED
    txn = sweeps.payment_reconcile(transaction_id=txn.pk)
    order.refresh_from_db()
    assert not (txn.successful and txn.active)
    assert order.payment_status not in (PaymentStatus.AUTHORIZED, PaymentStatus.AUTHORIZED_PARTIALLY)


def test_the_confirm_url_is_our_own_endpoint_whatever_return_url_the_buyer_gives(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    """The store API takes the return URL from its caller. The server-to-server confirm must still go to our
    webhook endpoint on our own site, never to the host the buyer named (which would get the signed confirm
    while we wait an hour for reconcile)."""
    from sandbox.services import sim_list
    from tests.wirecard_support import stored

    order = factories.OrderFactory(currency="EUR")
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"wirecard_{wirecard_integration.pk}",
        key="purchase-1",
        payment_data=stored(wirecard_sandbox),
        return_url="https://elsewhere.example/back",
    )
    assert txn.state == State.ACTION_REQUIRED
    [page] = sim_list("wirecard", "pay")
    assert page.data["params"]["confirmUrl"] == wirecard_integration.get_webhook_url()
    assert page.data["params"]["successUrl"] == "https://elsewhere.example/back"


def test_two_captures_at_once_take_no_more_than_was_approved(
    wirecard_integration, wirecard_sandbox, live_server
) -> None:
    """Two staff members (or staff and the scheduler) deposit 60 of a 100 approval at the same moment, in real
    threads on PostgreSQL: one deposit reaches Wirecard, the other is refused by the ledger."""
    from concurrent.futures import ThreadPoolExecutor

    from django.db import connection

    from payments.exceptions import PaymentRefused

    order = factories.OrderFactory(currency="EUR")
    auth = paid(wirecard_integration, order, wirecard_sandbox, live_server)

    def capture(key: str) -> str:
        try:
            return services.payment_capture(source_id=auth.pk, amount=eur("60.00"), key=key).state
        except PaymentRefused as refused:
            return refused.code
        finally:
            connection.close()

    with ThreadPoolExecutor(2) as pool:
        outcomes = sorted(pool.map(capture, ["capture-a", "capture-b"]))
    assert State.SUCCEEDED in outcomes, outcomes
    assert outcomes.count(State.SUCCEEDED) == 1, outcomes
    deposits = sim_get("wirecard", "order", auth.provider_reference).data["payments"]
    assert [p["amount"] for p in deposits] == ["60.00"]
