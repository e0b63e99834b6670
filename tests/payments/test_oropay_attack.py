"""OroPay attacks through the services, the ledger and the webhook inbox: operations made at Global Payments
rather than through us, a challenge completed by a buyer who never comes back, lost answers."""

from __future__ import annotations

import pytest
import requests

from integrations.adapters import adapter_for
from integrations.models import Integration
from orders.models import PaymentStatus
from payments import services, sweeps
from payments.models import Action, State
from providers.oropay.adapter import OroPayAdapter
from sandbox.services import sim_fault_add, sim_get, sim_list
from tests import factories
from tests.payments.test_oropay_payments import card, fresh_tokens, money, oropay  # noqa: F401
from tests.sandbox_support import ledger

pytestmark = pytest.mark.django_db(transaction=True)


def authorized(integration: Integration, key: str = "p-1"):  # noqa: ANN201
    integration.payment_action = Integration.PaymentAction.AUTHORIZE
    integration.save()
    order = factories.OrderFactory()
    auth = services.payment_purchase(order_id=order.pk, method=f"oropay_{integration.pk}", key=key, payment_data=card())
    assert (auth.action, auth.state) == (Action.AUTHORIZE, State.SUCCEEDED)
    return order, auth


def at_the_provider(integration: Integration, path: str, body: dict, key: str) -> dict:
    """What staff do in Global Payments' portal: a call that is not ours (the portal uses its own keys)."""
    adapter = adapter_for(integration)
    assert isinstance(adapter, OroPayAdapter)
    reply = adapter._client.call("POST", path, body, key=key)
    assert reply.status == 200, reply.body
    return reply.body


def test_a_capture_made_in_the_portal_is_recorded_from_its_notification(oropay) -> None:  # noqa: F811
    order, auth = authorized(oropay)
    at_the_provider(oropay, f"/transactions/{auth.provider_reference}/capture", {"amount": "4000"}, "portal-1")
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded"),
        ("capture", "40.0000", "succeeded"),
    ]
    assert order.payment_status == PaymentStatus.AUTHORIZED_PARTIALLY or order.payment_status == PaymentStatus.PARTIALLY
    # a second capture through us takes only what is left, and is not confused with the portal's
    services.payment_capture(source_id=auth.pk, amount=money("60.00"), key="c-1")
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)][1:] == [
        ("capture", "40.0000", "succeeded"),
        ("capture", "60.0000", "succeeded"),
    ]
    assert order.payment_status == PaymentStatus.FULL


def test_a_release_made_in_the_portal_after_a_capture_is_recorded_from_its_notification(oropay) -> None:  # noqa: F811
    order, auth = authorized(oropay)
    services.payment_capture(source_id=auth.pk, amount=money("30.00"), key="c-1")
    at_the_provider(oropay, f"/transactions/{auth.provider_reference}/reversal", {}, "portal-2")
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded"),
        ("capture", "30.0000", "succeeded"),
        ("cancel", "70.0000", "succeeded"),
    ]


def test_a_challenge_completed_by_a_buyer_who_never_comes_back_is_recorded_from_its_notification(oropay) -> None:  # noqa: F811
    oropay.payment_action = Integration.PaymentAction.AUTHORIZE
    oropay.save()
    order = factories.OrderFactory()
    auth = services.payment_purchase(
        order_id=order.pk,
        method=f"oropay_{oropay.pk}",
        key="p-3ds",
        payment_data=card("4012001038488884"),
        return_url="http://shop.test/checkout/return/left",
    )
    assert auth.state == State.ACTION_REQUIRED
    challenge = sim_get("oropay", "transaction", auth.provider_reference).data
    url = challenge["payment_method"]["authentication"]["three_ds"]["redirect_url"]
    done = requests.post(url, data={"outcome": "complete"}, allow_redirects=False, timeout=10)
    assert done.status_code == 302  # the buyer closes the tab here: the shop's return page is never loaded
    auth.refresh_from_db()
    order.refresh_from_db()
    assert (auth.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.AUTHORIZED)


@pytest.mark.parametrize("notified", [True, False], ids=["notified", "not-notified"])
def test_a_release_whose_answer_was_lost_after_a_capture_is_settled(oropay, notified) -> None:  # noqa: F811
    """By the notification when one comes, else by reconcile (the authorization stays CAPTURED; the release shows
    as its last action)."""
    order, auth = authorized(oropay)
    services.payment_capture(source_id=auth.pk, amount=money("30.00"), key="c-1")
    if not notified:
        for endpoint in sim_list("oropay", "webhook_endpoint"):
            endpoint.delete()
    sim_fault_add(provider="oropay", kind="timeout", operation="reversal", times=1, delay=1.5)
    OroPayAdapter.read_timeout = 0.5
    try:
        cancel = services.payment_cancel(source_id=auth.pk, key="x-1")
    finally:
        OroPayAdapter.read_timeout = 30.0
    held = sim_get("oropay", "transaction", auth.provider_reference).data
    assert held["amount"] == "3000"  # Global Payments released the rest
    if notified:
        assert cancel.state == State.SUCCEEDED
        settled = cancel
    else:
        assert cancel.state == State.RESERVED
        settled = sweeps.payment_reconcile(transaction_id=cancel.pk)
    assert settled.state == State.SUCCEEDED
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)][-1] == ("cancel", "70.0000", "succeeded")


def test_a_refund_of_a_capture_made_in_the_portal_is_recorded_from_its_notification(oropay) -> None:  # noqa: F811
    """The refund names the capture (a transaction of its own) as its parent, not the authorization."""
    order, auth = authorized(oropay)
    capture = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="c-1")
    at_the_provider(oropay, f"/transactions/{capture.provider_reference}/refund", {"amount": "1500"}, "portal-3")
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded"),
        ("capture", "40.0000", "succeeded"),
        ("refund", "15.0000", "succeeded"),
    ]
    # and one of ours after it is recorded once
    services.payment_refund(source_id=capture.pk, amount=money("15.00"), key="r-1")
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)][2:] == [
        ("refund", "15.0000", "succeeded"),
        ("refund", "15.0000", "succeeded"),
    ]


def test_two_tabs_paying_one_invoice_at_once_by_card_and_by_ach_take_it_once(oropay, settings) -> None:  # noqa: F811
    """Real threads on the database: the order lock lets one payment through; the other is refused, and
    Global Payments is asked for one debit only."""
    import threading

    from django.db import connection

    from orders.models import Invoice
    from orders.services import invoice_create
    from payments.exceptions import PaymentRefused
    from payments.models import PaymentTransaction
    from sandbox.services import sim_count
    from tests.payments.test_oropay_payments import bank

    settings.INVOICE_PAYMENT_METHOD = "oropay"
    invoice = invoice_create(order=factories.OrderFactory())
    tabs = [("tab-card", card(), f"oropay_{oropay.pk}"), ("tab-ach", bank(), f"oropay_{oropay.pk}_ach")]
    barrier = threading.Barrier(len(tabs))
    outcomes: list[str] = []

    def pay(key: str, data: dict[str, str], method: str) -> None:
        try:
            barrier.wait(timeout=10)
            txn = services.invoice_payment_purchase(invoice_id=invoice.pk, key=key, payment_data=data, method=method)
            outcomes.append(txn.state)
        except PaymentRefused:
            outcomes.append("refused")
        finally:
            connection.close()

    threads = [threading.Thread(target=pay, args=tab) for tab in tabs]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=60)
    assert len(outcomes) == 2, outcomes
    assert outcomes.count("refused") == 1, outcomes
    assert PaymentTransaction.objects.filter(invoice=invoice).count() == 1
    assert sim_count("oropay", "transaction") == 1
    invoice.refresh_from_db()
    assert invoice.status in (Invoice.Status.OPEN, Invoice.Status.PAID)


def test_a_lost_capture_of_the_same_amount_as_an_earlier_one_is_settled_by_reconcile(oropay) -> None:  # noqa: F811
    """Two captures of 30.00 under one authorization cannot be told apart by a search; within the day GP-API keeps
    an idempotency key, asking again with the lost capture's key gives back its own answer."""
    for endpoint in sim_list("oropay", "webhook_endpoint"):  # no notification comes to help
        endpoint.delete()
    order, auth = authorized(oropay)
    first = services.payment_capture(source_id=auth.pk, amount=money("30.00"), key="c-1")
    sim_fault_add(provider="oropay", kind="timeout", operation="capture", times=1, delay=1.5)
    OroPayAdapter.read_timeout = 0.5
    try:
        lost = services.payment_capture(source_id=auth.pk, amount=money("30.00"), key="c-2")
    finally:
        OroPayAdapter.read_timeout = 30.0
    assert lost.state == State.RESERVED
    settled = sweeps.payment_reconcile(transaction_id=lost.pk)
    assert settled.state == State.SUCCEEDED
    assert settled.provider_reference.startswith("TRN_")
    assert settled.provider_reference != first.provider_reference
    held = sim_get("oropay", "transaction", auth.provider_reference).data
    assert held["_captured"] == 6000  # asked again, not captured a third time
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)][1:] == [
        ("capture", "30.0000", "succeeded"),
        ("capture", "30.0000", "succeeded"),
    ]
