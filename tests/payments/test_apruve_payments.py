"""Apruve end to end through the payment services, the webhook inbox and the ledger, against the Apruve sandbox.

The buyer's lightbox is played with `requests` (`apruve_buyer_accepts`); the return page's work is
`payment_complete` with the order id the browser posts; Apruve's collection is the sandbox's close hook, whose
signed `invoice.closed` reaches our webhook URL (with its token) through the sandbox's delivery task.
"""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from integrations.models import Integration
from orders.models import PaymentStatus
from payments import services, sweeps
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from providers.base import Money
from sandbox.apruve import simulator as apruve_sandbox
from sandbox.profiles import apruve_buyer_accepts, apruve_close_invoice, apruve_webhook_url
from sandbox.profiles import profile as sandbox_profile
from sandbox.services import sim_count, sim_fault_add, sim_list
from tests import factories
from tests.sandbox_support import ledger

pytestmark = pytest.mark.django_db(transaction=True)
RETURN_URL = "http://shop.test/checkout/return/token/"
SETTINGS, SECRETS = sandbox_profile("apruve").credentials("paydeskapruve", "")


@pytest.fixture
def apruve(live_server, settings) -> Integration:  # noqa: ANN001
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = factories.IntegrationFactory(
        provider_key="apruve",
        name="Apruve",
        settings=dict(SETTINGS),
        secrets=dict(SECRETS),
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )
    register = sandbox_profile("apruve").register_webhooks
    assert register is not None
    register({**SETTINGS, **SECRETS}, integration.get_webhook_url(), (), "")
    return integration


def base(live_server) -> str:  # noqa: ANN001
    return f"{live_server.url}/sandbox/apruve"


def money(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def offer(integration: Integration, order, key: str = "checkout:1:1") -> PaymentTransaction:  # noqa: ANN001
    txn = services.payment_purchase(
        order_id=order.pk, method=f"apruve_{integration.pk}", key=key, return_url=RETURN_URL
    )
    assert (txn.action, txn.state) == (Action.AUTHORIZE, State.ACTION_REQUIRED)
    return txn


def accepted(integration: Integration, order, live_server) -> PaymentTransaction:  # noqa: ANN001
    """The buyer accepts in the lightbox and the browser posts the order id back to the return page."""
    txn = offer(integration, order)
    action = txn.response["next_action"]
    order_id = apruve_buyer_accepts(base(live_server), action["order"], action["secure_hash"])
    return services.payment_complete(transaction_id=txn.pk, returned_reference=order_id)


def status(order) -> str:  # noqa: ANN001
    order.refresh_from_db()
    return order.payment_status


def test_lightbox_then_a_partial_invoice_closed_by_webhook_then_the_rest(apruve, live_server) -> None:
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    assert (auth.state, auth.successful, auth.active, status(order)) == (
        State.SUCCEEDED,
        True,
        True,
        PaymentStatus.AUTHORIZED,
    )
    first = services.payment_invoice(
        source_id=auth.pk, amount=money("30.00"), key="invoice-1", tracking_number="1Z999", shipper="UPS"
    )
    assert (first.action, first.state, first.active, status(order)) == (
        Action.INVOICE,
        State.SUCCEEDED,
        True,
        PaymentStatus.INVOICED,
    )
    assert [s.data["tracking_number"] for s in sim_list("apruve", "shipment")] == ["1Z999"]
    apruve_close_invoice(base(live_server), first.provider_reference)  # invoice.closed comes back signed
    assert status(order) == PaymentStatus.PARTIALLY
    capture = PaymentTransaction.objects.get(action=Action.CAPTURE)
    assert (capture.source_id, capture.amount, capture.provider_reference) == (
        first.pk,
        Decimal("30.0000"),
        first.provider_reference,
    )
    rest = services.payment_invoice(source_id=auth.pk, amount=None, key="invoice-2")
    assert (rest.amount, status(order)) == (Decimal("70.0000"), PaymentStatus.INVOICED)
    with pytest.raises(PaymentRefused) as refused:  # everything authorized is invoiced
        services.payment_invoice(source_id=auth.pk, amount=money("0.01"), key="invoice-3")
    assert refused.value.code == "nothing_to_invoice"
    apruve_close_invoice(base(live_server), rest.provider_reference)
    assert status(order) == PaymentStatus.FULL
    assert [row[:5] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded", True, True),
        ("invoice", "30.0000", "succeeded", True, False),
        ("capture", "30.0000", "succeeded", True, False),
        ("invoice", "70.0000", "succeeded", True, False),
        ("capture", "70.0000", "succeeded", True, False),
    ]
    assert WebhookEvent.objects.filter(event_type="invoice.closed", status=WebhookEvent.Status.PROCESSED).count() == 2


def test_an_invoice_above_what_is_authorized_is_refused_and_nothing_is_sent(apruve, live_server) -> None:
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    with pytest.raises(PaymentRefused) as refused:
        services.payment_invoice(source_id=auth.pk, amount=money("100.01"), key="invoice-1")
    assert refused.value.code == "amount_exceeds_available"
    assert (sim_count("apruve", "invoice"), order.transactions.count()) == (0, 1)


def invoice_closed_body(invoice: PaymentTransaction, event_id: str = "ev-closed-1") -> str:
    """The invoice.closed Apruve sends for our invoice, as the sandbox would sign it."""
    entity = {
        "id": invoice.provider_reference,
        "order_id": invoice.source.provider_reference,
        "amount_cents": int(invoice.amount * 100),
        "currency": "USD",
        "status": "closed",
        "merchant_invoice_id": invoice.idempotency_key,
    }
    return json.dumps({"uuid": event_id, "event": "invoice.closed", "entity": entity})


def post_event(client, integration: Integration, body: str, *, token: str | None = None):  # noqa: ANN001, ANN201
    url = apruve_webhook_url(integration.get_webhook_url(), token or integration.secrets["webhook_token"])
    signature = apruve_sandbox.sign(body, "", 0)["X-Apruve-Signature"]
    return client.post(
        url.removeprefix(integration.get_webhook_url().split("/webhooks/")[0]),
        data=body,
        content_type="application/json",
        HTTP_X_APRUVE_SIGNATURE=signature,
    )


def test_invoice_closed_twice_records_one_capture(apruve, live_server, client) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    invoice = services.payment_invoice(source_id=auth.pk, amount=money("40.00"), key="invoice-1")
    body = invoice_closed_body(invoice)
    assert [post_event(client, apruve, body).status_code for _ in range(2)] == [200, 200]
    again = invoice_closed_body(invoice, event_id="ev-closed-redelivered")  # Apruve's retry with a new uuid
    assert post_event(client, apruve, again).status_code == 200
    assert PaymentTransaction.objects.filter(action=Action.CAPTURE).count() == 1
    assert WebhookEvent.objects.filter(event_type="invoice.closed").count() == 2
    assert status(order) == PaymentStatus.PARTIALLY


def test_a_webhook_with_a_wrong_url_token_or_no_token_is_refused_and_stored_nowhere(
    apruve, live_server, client
) -> None:  # noqa: ANN001
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    invoice = services.payment_invoice(source_id=auth.pk, amount=money("40.00"), key="invoice-1")
    body = invoice_closed_body(invoice)
    assert post_event(client, apruve, body, token="x" * 32).status_code == 400
    signature = apruve_sandbox.sign(body, "", 0)["X-Apruve-Signature"]
    plain = client.post(  # the URL without its token, the token sent as a header instead
        f"/webhooks/{apruve.uuid}/",
        data=body,
        content_type="application/json",
        HTTP_X_APRUVE_SIGNATURE=signature,
        HTTP_X_PAYDESK_URL_TOKEN=apruve.secrets["webhook_token"],
    )
    assert plain.status_code == 400
    closed = WebhookEvent.objects.filter(event_type="invoice.closed")  # order.accepted came, from the sandbox
    assert (closed.count(), PaymentTransaction.objects.filter(action=Action.CAPTURE).count()) == (0, 0)


def test_invoice_closed_before_the_invoice_reply_was_recorded_completes_it_then_reconcile_finds_it_final(
    apruve, live_server, client
) -> None:  # noqa: ANN001
    """The reply to "send invoice" is lost (timeout after Apruve made it); Apruve's close arrives first."""
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    sim_fault_add(provider="apruve", kind="timeout", operation="create_invoice", delay=1.5)
    from providers.apruve.adapter import ApruveAdapter

    original = ApruveAdapter.read_timeout
    ApruveAdapter.read_timeout = 0.5
    try:
        invoice = services.payment_invoice(source_id=auth.pk, amount=money("25.00"), key="invoice-1")
    finally:
        ApruveAdapter.read_timeout = original
    assert (invoice.state, status(order)) == (State.RESERVED, PaymentStatus.AUTHORIZED)
    made = sim_list("apruve", "invoice")[0].data
    assert made["merchant_invoice_id"] == "invoice-1"
    entity = {**made, "status": "closed"}
    body = json.dumps({"uuid": "ev-early", "event": "invoice.closed", "entity": entity})
    assert post_event(client, apruve, body).status_code == 200
    invoice.refresh_from_db()
    assert (invoice.state, invoice.provider_reference, invoice.active) == (State.SUCCEEDED, made["id"], False)
    assert status(order) == PaymentStatus.PARTIALLY
    assert sweeps.payment_reconcile(transaction_id=invoice.pk).state == State.SUCCEEDED
    assert (sim_count("apruve", "invoice"), PaymentTransaction.objects.filter(action=Action.CAPTURE).count()) == (1, 1)


def test_reconcile_of_a_lost_invoice_reply_finds_the_invoice_by_our_key(apruve, live_server) -> None:
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    sim_fault_add(provider="apruve", kind="timeout", operation="create_invoice", delay=1.5)
    from providers.apruve.adapter import ApruveAdapter

    original = ApruveAdapter.read_timeout
    ApruveAdapter.read_timeout = 0.5
    try:
        lost = services.payment_invoice(source_id=auth.pk, amount=money("60.00"), key="invoice-1")
    finally:
        ApruveAdapter.read_timeout = original
    assert lost.state == State.RESERVED
    settled = sweeps.payment_reconcile(transaction_id=lost.pk)
    made = sim_list("apruve", "invoice")
    assert [i.data["id"] for i in made] == [settled.provider_reference]
    assert (settled.state, settled.amount, status(order)) == (State.SUCCEEDED, Decimal("60.0000"), "invoiced")


def test_reconcile_resends_an_invoice_that_never_reached_apruve_once(apruve, live_server) -> None:
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    sim_fault_add(provider="apruve", kind="error_503", operation="create_invoice")
    never = services.payment_invoice(source_id=auth.pk, amount=money("60.00"), key="invoice-1")
    assert (never.state, sim_count("apruve", "invoice")) == (State.RESERVED, 0)
    settled = sweeps.payment_reconcile(transaction_id=never.pk)
    again = sweeps.payment_reconcile(transaction_id=never.pk)
    assert (settled.state, again.state, sim_count("apruve", "invoice")) == (State.SUCCEEDED, State.SUCCEEDED, 1)


def test_an_order_id_for_another_amount_is_refused_and_the_offer_stays(apruve, live_server) -> None:
    """The browser changed the amount of the offer: Apruve refuses the secure hash; and an order id of an order
    for another amount (or another order) never becomes the authorization."""
    order = factories.OrderFactory()
    txn = offer(apruve, order)
    action = txn.response["next_action"]
    tampered = json.loads(action["order"])
    tampered["amount_cents"] = 100
    assert apruve_buyer_accepts(base(live_server), json.dumps(tampered), action["secure_hash"]) == ""
    other = factories.OrderFactory()
    other_txn = offer(apruve, other, key="checkout:2:1")
    other_action = other_txn.response["next_action"]
    other_id = apruve_buyer_accepts(base(live_server), other_action["order"], other_action["secure_hash"])
    assert other_id
    done = services.payment_complete(transaction_id=txn.pk, returned_reference=other_id)
    assert (done.state, done.provider_reference, status(order)) == (State.ACTION_REQUIRED, "", PaymentStatus.PENDING)
    assert services.payment_complete(transaction_id=other_txn.pk, returned_reference=other_id).state == State.SUCCEEDED
    # the same order id again, now another payment's: refused before Apruve is even asked
    assert services.payment_complete(transaction_id=txn.pk, returned_reference=other_id).state == (
        State.ACTION_REQUIRED
    )


def test_a_buyer_who_accepted_and_never_came_back_is_found_by_our_order_number(apruve, live_server) -> None:
    order = factories.OrderFactory()
    txn = offer(apruve, order)
    action = txn.response["next_action"]
    order_id = apruve_buyer_accepts(base(live_server), action["order"], action["secure_hash"])
    found = services.payment_complete(transaction_id=txn.pk)  # reconcile asks the same way
    assert (found.state, found.provider_reference, status(order)) == (
        State.SUCCEEDED,
        order_id,
        PaymentStatus.AUTHORIZED,
    )


def test_cancel_while_nothing_is_invoiced_and_refused_after_an_invoice(apruve, live_server) -> None:
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    services.payment_invoice(source_id=auth.pk, amount=money("10.00"), key="invoice-1")
    with pytest.raises(PaymentRefused) as refused:
        services.payment_cancel(source_id=auth.pk, key="cancel-1", note="buyer asked")
    assert refused.value.code == "invoiced"
    other = factories.OrderFactory()
    other_auth = offer(apruve, other, key="checkout:2:1")
    action = other_auth.response["next_action"]
    other_id = apruve_buyer_accepts(base(live_server), action["order"], action["secure_hash"])
    other_auth = services.payment_complete(transaction_id=other_auth.pk, returned_reference=other_id)
    cancel = services.payment_cancel(source_id=other_auth.pk, key="cancel-2", note="buyer asked")
    assert (cancel.state, status(other)) == (State.SUCCEEDED, PaymentStatus.CANCELED)
    assert [o.data["status"] for o in sim_list("apruve", "order") if o.object_id == other_id] == ["canceled"]


def test_refund_of_a_paid_invoice_is_a_credit_at_apruve(apruve, live_server) -> None:
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    invoice = services.payment_invoice(source_id=auth.pk, amount=None, key="invoice-1")
    apruve_close_invoice(base(live_server), invoice.provider_reference)
    capture = PaymentTransaction.objects.get(action=Action.CAPTURE)
    refund = services.payment_refund(source_id=capture.pk, amount=money("15.00"), key="refund-1", note="damaged")
    assert (refund.state, status(order)) == (State.SUCCEEDED, PaymentStatus.REFUNDED_PARTIALLY)
    assert [r.data["amount_cents"] for r in sim_list("apruve", "invoice_return")] == [1500]


def test_an_invoice_canceled_at_apruve_gives_its_amount_back_to_the_authorization(apruve, live_server) -> None:
    order = factories.OrderFactory()
    auth = accepted(apruve, order, live_server)
    invoice = services.payment_invoice(source_id=auth.pk, amount=money("30.00"), key="invoice-1")
    assert status(order) == PaymentStatus.INVOICED
    apruve_sandbox.invoice_cancel(invoice.provider_reference)  # Apruve's invoice.canceled comes back signed
    invoice.refresh_from_db()
    assert (invoice.state, invoice.active, invoice.error_code, status(order)) == (
        State.DECLINED,
        False,
        "canceled",
        PaymentStatus.AUTHORIZED,
    )
    whole = services.payment_invoice(source_id=auth.pk, amount=None, key="invoice-2")
    assert (whole.state, whole.amount) == (State.SUCCEEDED, Decimal("100.0000"))
