"""OroPay through the payment services, the ledger and the webhook inbox, against its GP-API sandbox."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest

from integrations.models import Integration
from orders.models import Invoice, PaymentStatus
from orders.services import invoice_create
from payment_rules.models import PaymentRule
from payments import services
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State, WebhookEvent
from providers.base import Money
from providers.oropay import client as gp_client
from providers.oropay.adapter import notification_signature
from sandbox.oropay import simulator as sandbox
from sandbox.profiles import profile as sandbox_profile
from sandbox.services import sim_count, sim_get
from tests import factories
from tests.sandbox_support import ledger

pytestmark = pytest.mark.django_db(transaction=True)

SETTINGS, SECRETS = sandbox_profile("oropay").credentials("paydeskoropay", "")


@pytest.fixture(autouse=True)
def fresh_tokens():
    gp_client.token_cache_clear()
    yield
    gp_client.token_cache_clear()


@pytest.fixture
def oropay(live_server, settings) -> Integration:
    """An OroPay integration taking payments in one step (so ACH is offered), with its status URL registered."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = factories.IntegrationFactory(
        provider_key="oropay",
        name="OroPay",
        settings=dict(SETTINGS),
        secrets=dict(SECRETS),
        payment_action=Integration.PaymentAction.CHARGE,
    )
    sandbox.status_url_register(app_id=SETTINGS["app_id"], url=integration.get_webhook_url())
    return integration


def card(number: str = "4263970000005262") -> dict[str, str]:
    return {"payment_reference": sandbox.tokenize(SETTINGS["app_id"], number)}


def bank(number: str = "123456789") -> dict[str, str]:
    token = sandbox.tokenize_bank(SETTINGS["app_id"], number)
    return {"payment_reference": token, "account_holder": "ACME Industrial", "authorized": "1"}


def money(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_authorize_then_two_partial_captures_then_the_rest_released(oropay) -> None:
    oropay.payment_action = Integration.PaymentAction.AUTHORIZE
    oropay.save()
    order = factories.OrderFactory()
    auth = services.payment_purchase(order_id=order.pk, method=f"oropay_{oropay.pk}", key="p-1", payment_data=card())
    assert (auth.action, auth.state) == (Action.AUTHORIZE, State.SUCCEEDED)
    services.payment_capture(source_id=auth.pk, amount=money("30.00"), key="c-1")
    services.payment_capture(source_id=auth.pk, amount=money("20.00"), key="c-2")
    services.payment_cancel(source_id=auth.pk, key="x-1")
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded"),
        ("capture", "30.0000", "succeeded"),
        ("capture", "20.0000", "succeeded"),
        ("cancel", "50.0000", "succeeded"),
    ]
    txn = sim_get("oropay", "transaction", auth.provider_reference)
    assert (txn.data["status"], txn.data["_captured"], txn.data["amount"]) == ("CAPTURED", 5000, "5000")


def test_an_ach_debit_stays_pending_until_the_funded_notification(oropay) -> None:
    order = factories.OrderFactory()
    debit = services.payment_purchase(
        order_id=order.pk, method=f"oropay_{oropay.pk}_ach", key="ach-1", payment_data=bank()
    )
    order.refresh_from_db()
    assert (debit.action, debit.state, order.payment_status) == (Action.CHARGE, State.PROCESSING, PaymentStatus.PENDING)
    assert sandbox.settle(debit.provider_reference) == 1  # the sandbox notifies FUNDED to the status URL
    debit.refresh_from_db()
    order.refresh_from_db()
    assert (debit.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.FULL)
    assert WebhookEvent.objects.filter(integration=oropay).count() == 1


def test_an_ach_debit_rejected_is_declined_and_a_return_after_funding_gives_the_money_back(oropay) -> None:
    rejected_order, returned_order = factories.OrderFactory(), factories.OrderFactory()
    rejected = services.payment_purchase(
        order_id=rejected_order.pk, method=f"oropay_{oropay.pk}_ach", key="ach-r", payment_data=bank("00000002")
    )
    returned = services.payment_purchase(
        order_id=returned_order.pk, method=f"oropay_{oropay.pk}_ach", key="ach-f", payment_data=bank()
    )
    sandbox.settle()
    assert sandbox.ach_return(returned.provider_reference)
    rejected.refresh_from_db()
    assert (rejected.state, rejected.error_code) == (State.DECLINED, "insufficient_funds")
    returned_order.refresh_from_db()
    assert [row[:3] for row in ledger(returned_order)] == [
        ("charge", "100.0000", "succeeded"),
        ("refund", "100.0000", "succeeded"),
    ]
    assert returned_order.payment_status == PaymentStatus.REFUNDED


def test_a_forged_notification_is_refused_and_stored_nowhere(client, oropay) -> None:
    body = json.dumps({"id": "TRN_1", "status": "FUNDED", "amount": "100", "currency": "USD"})
    forged = notification_signature(body.encode(), "not the app key")
    reply = client.post(
        f"/webhooks/{oropay.uuid}/", data=body, content_type="application/json", HTTP_X_GP_SIGNATURE=forged
    )
    assert reply.status_code == 400
    assert WebhookEvent.objects.count() == 0


def test_an_open_invoice_is_paid_by_oropay_ach_without_any_payment_rule_and_never_twice(oropay, settings) -> None:
    settings.INVOICE_PAYMENT_METHOD = "oropay"
    invoice = invoice_create(order=factories.OrderFactory())
    assert PaymentRule.objects.count() == 0  # nothing offers OroPay at checkout; invoices need no rule
    txn = services.invoice_payment_purchase(
        invoice_id=invoice.pk, key="inv-1", payment_data=bank(), method=f"oropay_{oropay.pk}_ach"
    )
    assert (txn.action, txn.state, txn.invoice_id, txn.payment_method) == (
        Action.CHARGE,
        State.PROCESSING,
        invoice.pk,
        f"oropay_{oropay.pk}_ach",
    )
    with pytest.raises(PaymentRefused):  # a second payment while the first is open would take more than is owed
        services.invoice_payment_purchase(invoice_id=invoice.pk, key="inv-2", payment_data=card())
    sandbox.settle(txn.provider_reference)
    invoice.refresh_from_db()
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)
    with pytest.raises(PaymentRefused):
        services.invoice_payment_purchase(invoice_id=invoice.pk, key="inv-3", payment_data=card())
    assert PaymentTransaction.objects.filter(invoice=invoice).count() == 1
    assert sim_count("oropay", "transaction") == 1


def test_an_invoice_method_the_integration_does_not_have_is_refused(oropay, settings) -> None:
    settings.INVOICE_PAYMENT_METHOD = "oropay"
    invoice = invoice_create(order=factories.OrderFactory())
    with pytest.raises(PaymentRefused) as refused:
        services.invoice_payment_purchase(invoice_id=invoice.pk, key="inv-1", payment_data=card(), method="stripe_1")
    assert refused.value.code == "method_unavailable"
    assert PaymentTransaction.objects.count() == 0


def test_the_notifications_of_our_own_refunds_add_nothing(oropay) -> None:
    order = factories.OrderFactory()
    charge = services.payment_purchase(order_id=order.pk, method=f"oropay_{oropay.pk}", key="p-1", payment_data=card())
    services.payment_refund(source_id=charge.pk, amount=money("30.00"), key="r-1")
    services.payment_refund(source_id=charge.pk, amount=money("30.00"), key="r-2")
    order.refresh_from_db()
    assert [row[:3] for row in ledger(order)] == [
        ("charge", "100.0000", "succeeded"),
        ("refund", "30.0000", "succeeded"),
        ("refund", "30.0000", "succeeded"),
    ]
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    # each refund is notified (a card sale is answered at once, not notified) and the ledger has it once
    assert WebhookEvent.objects.filter(integration=oropay).count() == 2


def test_a_charge_whose_answer_was_lost_is_settled_by_reconcile(oropay, settings) -> None:
    from payments import sweeps
    from providers.oropay.adapter import OroPayAdapter
    from sandbox.services import sim_fault_add

    settings.SANDBOX_STRICT = "true"
    order = factories.OrderFactory()
    sim_fault_add(provider="oropay", kind="timeout", operation="create", times=1, delay=1.5)
    OroPayAdapter.read_timeout = 0.5
    try:
        charge = services.payment_purchase(
            order_id=order.pk, method=f"oropay_{oropay.pk}", key="lost-1", payment_data=card()
        )
    finally:
        OroPayAdapter.read_timeout = 30.0
    assert (charge.state, charge.provider_reference) == (State.RESERVED, "")
    settled = sweeps.payment_reconcile(transaction_id=charge.pk)
    order.refresh_from_db()
    assert (settled.state, settled.provider_reference[:4], order.payment_status) == (
        State.SUCCEEDED,
        "TRN_",
        PaymentStatus.FULL,
    )
    assert sim_count("oropay", "transaction") == 1  # found by its reference, not charged again


def test_a_token_the_browser_made_up_or_took_from_another_merchant_is_declined(oropay) -> None:
    order = factories.OrderFactory()
    other = sandbox.tokenize("anothermerchant1", "4263970000005262")
    for key, token in [("forged", "PMT_forged"), ("foreign", other), ("not-a-token", "4263970000005262")]:
        txn = services.payment_purchase(
            order_id=order.pk, method=f"oropay_{oropay.pk}", key=key, payment_data={"payment_reference": token}
        )
        assert (txn.state, txn.error_code) == (State.DECLINED, "invalid_payment_data"), key
    assert sim_count("oropay", "transaction") == 0


def test_the_same_notification_twice_is_stored_and_applied_once(client, oropay) -> None:
    order = factories.OrderFactory()
    debit = services.payment_purchase(
        order_id=order.pk, method=f"oropay_{oropay.pk}_ach", key="ach-dup", payment_data=bank()
    )
    body = json.dumps(
        {
            "id": debit.provider_reference,
            "status": "FUNDED",
            "type": "SALE",
            "capture_mode": "AUTO",
            "amount": "10000",
            "currency": "USD",
            "reference": "ach-dup",
            "payment_method": {"result": "00", "bank_transfer": {}},
            "action": {"id": "ACT_funded", "type": "FUNDING"},
        }
    )
    signature = notification_signature(body.encode(), SECRETS["app_key"])
    replies = [
        client.post(
            f"/webhooks/{oropay.uuid}/", data=body, content_type="application/json", HTTP_X_GP_SIGNATURE=signature
        ).status_code
        for _ in range(2)
    ]
    debit.refresh_from_db()
    order.refresh_from_db()
    assert replies == [200, 200]
    assert WebhookEvent.objects.filter(integration=oropay).count() == 1
    assert (debit.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.FULL)
    assert [row[:3] for row in ledger(order)] == [("charge", "100.0000", "succeeded")]
