"""Attacks on the Apruve integration: events about invoices the ledger never made, a buyer who accepted in one
tab and closed the lightbox in another, and the like, against the Apruve sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from orders.models import PaymentStatus
from payments import services, sweeps
from payments.models import Action, PaymentTransaction, State
from sandbox.apruve import simulator as apruve_sandbox
from sandbox.profiles import apruve_buyer_accepts
from sandbox.services import sim_list
from tests import factories
from tests.payments.test_apruve_payments import SECRETS, accepted, apruve, base, money, offer, status

__all__ = ["apruve"]  # the fixture

pytestmark = pytest.mark.django_db(transaction=True)


def dashboard_invoice(live_server, order_id: str, cents: int) -> str:  # noqa: ANN001
    """Staff bill part of the Apruve order in Apruve's dashboard, not through us (the same API)."""
    reply = requests.post(
        f"{base(live_server)}/api/v4/orders/{order_id}/invoices",
        json={"amount_cents": cents, "currency": "USD", "issue_on_create": True},
        headers={"Apruve-Api-Key": SECRETS["api_key"], "Accept": "application/json"},
        timeout=10,
    )
    assert reply.status_code == 201, reply.text
    return str(reply.json()["id"])


def test_invoice_canceled_of_an_invoice_made_in_apruves_dashboard_does_not_cancel_the_authorization(
    apruve, live_server
) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    invoice_id = dashboard_invoice(live_server, auth.provider_reference, 2000)
    apruve_sandbox.invoice_cancel(invoice_id)  # its invoice.canceled reaches our webhook, signed
    assert not PaymentTransaction.objects.filter(action=Action.CANCEL).exists()
    assert status(order) == PaymentStatus.AUTHORIZED
    # the Apruve order is still accepted: staff can still bill it
    assert [o.data["status"] for o in sim_list("apruve", "order")] == ["accepted"]
    sent = services.payment_invoice(source_id=auth.pk, amount=None, key="invoice-1")
    assert (sent.state, sent.amount) == (State.SUCCEEDED, auth.amount)


def test_closing_the_lightbox_after_accepting_in_another_tab_keeps_the_accepted_order(apruve, live_server) -> None:  # noqa: ANN001
    """The buyer accepted in one tab (whose page never posted the id back) and closed the lightbox in another:
    the Apruve order exists and holds the company's credit, so it is either the payment or canceled at Apruve."""
    from payments.abandonment import payment_abandon

    order = factories.OrderFactory()
    txn = offer(apruve, order)
    action = txn.response["next_action"]
    order_id = apruve_buyer_accepts(base(live_server), action["order"], action["secure_hash"])
    assert order_id
    ended = payment_abandon(transaction_id=txn.pk)
    at_apruve = {o.object_id: o.data["status"] for o in sim_list("apruve", "order")}[order_id]
    if ended.state == State.SUCCEEDED:  # the payment stands on the accepted order
        assert (ended.provider_reference, at_apruve, status(order)) == (order_id, "accepted", "authorized")
    else:  # ended: then at Apruve too
        assert (ended.state, at_apruve) == (State.DECLINED, "canceled")


def test_two_invoices_made_in_apruves_dashboard_and_paid_are_both_recorded(apruve, live_server) -> None:  # noqa: ANN001
    """Money Apruve collected on invoices staff made in its dashboard: each close is a capture of its own."""
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    first = dashboard_invoice(live_server, auth.provider_reference, 2000)
    second = dashboard_invoice(live_server, auth.provider_reference, 3000)
    apruve_sandbox.invoice_close(first)
    apruve_sandbox.invoice_close(second)
    captures = PaymentTransaction.objects.filter(action=Action.CAPTURE, state=State.SUCCEEDED)
    assert sorted((c.provider_reference, int(c.amount * 100)) for c in captures) == sorted(
        [(first, 2000), (second, 3000)]
    )
    assert status(order) == PaymentStatus.PARTIALLY
    rest = services.payment_invoice(source_id=auth.pk, amount=None, key="invoice-rest")  # what Apruve has left
    assert (rest.state, int(rest.amount * 100)) == (State.SUCCEEDED, 5000)


def test_a_line_priced_in_fractions_of_a_cent_gives_an_offer_not_a_crash(apruve, live_server) -> None:  # noqa: ANN001
    """B2B prices carry four places (a screw at $0.1250): the lines Apruve shows cannot be whole cents each, so
    the offer is one line of the order's total, and the buyer can still accept it."""
    from decimal import Decimal

    from orders.models import OrderLine

    order = factories.OrderFactory(subtotal=Decimal("1.00"))
    order.lines.all().delete()
    OrderLine.objects.create(order=order, sku="SCREW", name="Screw", quantity=8, unit_price=Decimal("0.1250"))
    txn = offer(apruve, order)
    action = txn.response["next_action"]
    assert apruve_buyer_accepts(base(live_server), action["order"], action["secure_hash"])


def test_two_staff_sending_the_whole_invoice_at_once_bill_it_once(apruve, live_server) -> None:  # noqa: ANN001
    """Two sales people press "Send invoice" for all that is left at the same moment (real threads)."""
    import threading

    from django.db import connection

    from payments.exceptions import PaymentRefused

    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    results: list[object] = []
    barrier = threading.Barrier(2)

    def send(key: str) -> None:
        try:
            barrier.wait()
            results.append(services.payment_invoice(source_id=auth.pk, amount=None, key=key))
        except PaymentRefused as refused:
            results.append(refused.code)
        finally:
            connection.close()

    threads = [threading.Thread(target=send, args=(f"invoice-{n}",)) for n in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    sent = [r for r in results if isinstance(r, PaymentTransaction)]
    assert [r.state for r in sent] == [State.SUCCEEDED]
    assert [o.data["amount_cents"] for o in sim_list("apruve", "invoice")] == [10000]
    assert status(order) == PaymentStatus.INVOICED


def test_a_second_offer_for_the_same_order_is_refused_while_the_first_waits_for_the_buyer(apruve, live_server) -> None:  # noqa: ANN001
    """So two rows can never read back (by our order number) the same accepted Apruve order."""
    from payments.exceptions import PaymentRefused

    order = factories.OrderFactory()
    offer(apruve, order, key="checkout:1:1")
    with pytest.raises(PaymentRefused):
        offer(apruve, order, key="checkout:1:2")


def _slow(operation: str):  # noqa: ANN202
    """Apruve acts, then answers after our read timeout (the reply is lost)."""
    from providers.apruve.adapter import ApruveAdapter
    from sandbox.services import sim_fault_add

    sim_fault_add(provider="apruve", kind="timeout", operation=operation, delay=1.5)
    original = ApruveAdapter.read_timeout
    ApruveAdapter.read_timeout = 0.5
    return lambda: setattr(ApruveAdapter, "read_timeout", original)


def test_a_lost_credit_reply_is_settled_by_reconcile_without_a_second_credit(apruve, live_server) -> None:  # noqa: ANN001
    from payments import sweeps
    from tests.payments.test_apruve_payments import apruve_close_invoice

    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    invoice = services.payment_invoice(source_id=auth.pk, amount=None, key="invoice-1")
    apruve_close_invoice(base(live_server), invoice.provider_reference)
    capture = PaymentTransaction.objects.get(action=Action.CAPTURE)
    restore = _slow("create_invoice_return")
    try:
        lost = services.payment_refund(source_id=capture.pk, amount=money("15.00"), key="refund-1", note="damaged")
    finally:
        restore()
    assert lost.is_open
    settled = sweeps.payment_reconcile(transaction_id=lost.pk)
    again = sweeps.payment_reconcile(transaction_id=lost.pk)
    assert (settled.state, again.state) == (State.SUCCEEDED, State.SUCCEEDED)
    assert [r.data["amount_cents"] for r in sim_list("apruve", "invoice_return")] == [1500]
    assert status(order) == PaymentStatus.REFUNDED_PARTIALLY


def test_a_lost_cancel_reply_is_settled_by_reconcile(apruve, live_server) -> None:  # noqa: ANN001
    from payments import sweeps

    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    restore = _slow("cancel_order")
    try:
        lost = services.payment_cancel(source_id=auth.pk, key="cancel-1", note="buyer asked")
    finally:
        restore()
    # settled by Apruve's order.canceled (sent while our call waited) or by reconcile: once, either way
    assert sweeps.payment_reconcile(transaction_id=lost.pk).state == State.SUCCEEDED
    assert PaymentTransaction.objects.filter(action=Action.CANCEL).count() == 1
    assert status(order) == PaymentStatus.CANCELED


def test_an_unreadable_invoice_listing_never_makes_a_lost_invoice_twice(apruve, live_server) -> None:  # noqa: ANN001
    """The reply to "send invoice" is lost; when reconcile asks, Apruve's listing comes back unreadable (a proxy's
    HTML page with 200). That proves nothing: the invoice must not be sent again (the company billed twice)."""
    from payments import sweeps
    from sandbox.services import sim_fault_add

    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    restore = _slow("create_invoice")
    try:
        lost = services.payment_invoice(source_id=auth.pk, amount=money("30.00"), key="invoice-1")
    finally:
        restore()
    assert lost.is_open
    sim_fault_add(provider="apruve", kind="malformed", operation="list_invoices", times=5)
    sweeps.payment_reconcile(transaction_id=lost.pk)
    assert [i.data["amount_cents"] for i in sim_list("apruve", "invoice")] == [3000]
    from sandbox.services import sim_faults_clear

    sim_faults_clear(provider="apruve")
    assert sweeps.payment_reconcile(transaction_id=lost.pk).state == State.SUCCEEDED
    assert [i.data["amount_cents"] for i in sim_list("apruve", "invoice")] == [3000]


def test_an_unreadable_credit_listing_never_makes_a_lost_credit_twice(apruve, live_server) -> None:  # noqa: ANN001
    from payments import sweeps
    from sandbox.services import sim_fault_add, sim_faults_clear
    from tests.payments.test_apruve_payments import apruve_close_invoice

    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    invoice = services.payment_invoice(source_id=auth.pk, amount=None, key="invoice-1")
    apruve_close_invoice(base(live_server), invoice.provider_reference)
    capture = PaymentTransaction.objects.get(action=Action.CAPTURE)
    restore = _slow("create_invoice_return")
    try:
        lost = services.payment_refund(source_id=capture.pk, amount=money("15.00"), key="refund-1", note="damaged")
    finally:
        restore()
    assert lost.is_open
    sim_fault_add(provider="apruve", kind="malformed", operation="list_invoice_returns", times=5)
    sweeps.payment_reconcile(transaction_id=lost.pk)
    assert [r.data["amount_cents"] for r in sim_list("apruve", "invoice_return")] == [1500]
    sim_faults_clear(provider="apruve")
    assert sweeps.payment_reconcile(transaction_id=lost.pk).state == State.SUCCEEDED
    assert [r.data["amount_cents"] for r in sim_list("apruve", "invoice_return")] == [1500]


def test_an_order_accepted_after_the_payment_was_ended_is_canceled_at_apruve(apruve, live_server) -> None:  # noqa: ANN001
    from payments.abandonment import payment_abandon

    order = factories.OrderFactory()
    txn = offer(apruve, order)
    action = txn.response["next_action"]
    ended = payment_abandon(transaction_id=txn.pk)  # closed in this tab: nothing at Apruve yet
    assert ended.state == State.DECLINED
    order_id = apruve_buyer_accepts(base(live_server), action["order"], action["secure_hash"])  # the other tab
    services.payment_complete(transaction_id=txn.pk, returned_reference=order_id)  # its COMPLETE posts back
    at_apruve = {o.object_id: o.data["status"] for o in sim_list("apruve", "order")}[order_id]
    assert at_apruve == "canceled"


def test_an_order_canceled_in_apruves_dashboard_beside_an_invoice_in_flight_closes_the_authorization(
    apruve,
    live_server,  # noqa: ANN001
) -> None:
    from integrations.adapters import adapter_for
    from orders.models import PaymentStatus
    from payments import webhook_services
    from payments.models import WebhookEvent
    from payments.selectors import order_account
    from sandbox.services import sim_fault_add, sim_get

    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    sim_fault_add(provider="apruve", kind="error_503", operation="create_invoice")  # B never reaches Apruve
    b = services.payment_invoice(source_id=auth.pk, amount=None, key="invoice-b")
    assert b.state == State.RESERVED
    assert services.capturable_amount(auth) == 0  # all of it spoken for by B

    # staff cancel the order in Apruve's dashboard: nothing is invoiced there, so Apruve lets it go
    assert adapter_for(apruve).client.call("POST", f"orders/{auth.provider_reference}/cancel").ok
    assert sim_get("apruve", "order", auth.provider_reference).data["status"] == "canceled"
    for event in WebhookEvent.objects.filter(event_type="order.canceled"):
        webhook_services.webhook_event_process(webhook_event_id=event.pk)
    assert WebhookEvent.objects.filter(event_type="order.canceled").exists()
    assert sweeps.payment_reconcile(transaction_id=b.pk).state == State.DECLINED  # re-sent: the order is gone

    auth.refresh_from_db()
    order.refresh_from_db()
    account = order_account(order=order)
    # Apruve holds nothing for this order: its amount is not shown held and billable
    assert (auth.active, services.capturable_amount(auth)) == (False, Decimal("0.00"))
    assert (account.held, account.in_flight, account.payable) == (0, 0, order.total)
    assert order.payment_status == PaymentStatus.PENDING  # not authorized: nothing is held, all of it is payable
