"""Authorize.Net end to end through the payment services and the ledger, against its sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest

from orders.models import PaymentStatus
from payments import services, sweeps
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from providers.authorizenet.adapter import AuthorizeNetAdapter
from providers.base import Money
from sandbox.authorizenet import simulator as sandbox
from sandbox.models import SimFault
from sandbox.services import sim_advance_time, sim_fault_add
from tests import factories
from tests.authorizenet_support import answer_lost, bank, card, made_at_anet, merchant_interface
from tests.sandbox_support import ledger

pytestmark = pytest.mark.django_db(transaction=True)


def pay(integration, order, *, key: str = "purchase-1", data: dict | None = None, echeck: bool = False):  # noqa: ANN001, ANN201
    method = f"authorizenet_{integration.pk}" + ("_echeck" if echeck else "")
    return services.payment_purchase(
        order_id=order.pk, method=method, key=key, payment_data=data or (bank() if echeck else card())
    )


def money(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_authorize_then_partial_capture_takes_part_and_closes_the_authorization(anet_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(anet_integration, order)
    assert (auth.action, auth.state, auth.expires_at is not None) == (Action.AUTHORIZE, State.SUCCEEDED, True)
    assert (auth.expires_at - auth.created_at).days in (29, 30)
    capture = services.payment_capture(source_id=auth.pk, amount=money("30.00"), key="capture-1")
    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, auth.provider_reference[:3]),
        ("capture", "30.0000", "succeeded", True, False, auth.provider_reference[:3]),
        ("release", "70.0000", "succeeded", True, False, auth.provider_reference[:3]),
    ]
    assert capture.provider_reference == auth.provider_reference  # priorAuthCapture keeps the transaction id
    assert order.payment_status == PaymentStatus.PARTIALLY
    with pytest.raises(PaymentRefused) as refused:  # Authorize.Net captures once
        services.payment_capture(source_id=auth.pk, amount=money("10.00"), key="capture-2")
    assert refused.value.code == "nothing_to_capture"
    assert sandbox.sim_get("authorizenet", "transaction", auth.provider_reference).data["settleAmount"] == "30.00"


def test_a_full_refund_before_settlement_is_recorded_as_a_refund_made_by_a_void(anet_integration) -> None:
    anet_integration.payment_action = "charge"
    anet_integration.save()
    order = factories.OrderFactory()
    charge = pay(anet_integration, order)
    refund = services.payment_refund(source_id=charge.pk, amount=None, key="refund-1")
    order.refresh_from_db()
    assert (refund.state, refund.amount, order.payment_status) == (
        State.SUCCEEDED,
        Decimal("100.0000"),
        PaymentStatus.REFUNDED,
    )
    assert refund.response["converted_to_void"] is True
    assert "voided instead of refunded" in refund.message
    assert sandbox.sim_get("authorizenet", "transaction", charge.provider_reference).data["status"] == "voided"


def test_a_partial_refund_before_settlement_is_declined_with_the_reason_and_works_after(anet_integration) -> None:
    anet_integration.payment_action = "charge"
    anet_integration.save()
    order = factories.OrderFactory()
    charge = pay(anet_integration, order)
    early = services.payment_refund(source_id=charge.pk, amount=money("25.00"), key="refund-1")
    order.refresh_from_db()
    assert (early.state, early.error_code, order.payment_status) == (
        State.DECLINED,
        "partial_refund_before_settlement",
        PaymentStatus.FULL,
    )
    assert "can only be voided in full (100.00 USD)" in early.message
    sandbox.settle(charge.provider_reference)
    late = services.payment_refund(source_id=charge.pk, amount=money("25.00"), key="refund-2")
    rest = services.payment_refund(source_id=charge.pk, amount=None, key="refund-3")
    order.refresh_from_db()
    assert (late.state, rest.state, rest.amount) == (State.SUCCEEDED, State.SUCCEEDED, Decimal("75.0000"))
    assert late.provider_reference != charge.provider_reference
    assert order.payment_status == PaymentStatus.REFUNDED


def test_cancel_voids_the_authorization(anet_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(anet_integration, order)
    cancel = services.payment_cancel(source_id=auth.pk, key="cancel-1")
    order.refresh_from_db()
    assert (cancel.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.CANCELED)


@pytest.mark.parametrize(
    ("zip_code", "fields", "code"),
    [
        ("46282", {}, "card_declined"),
        ("62701", {"cardCode": "901"}, "incorrect_cvc"),
        ("46205", {}, "address_mismatch"),
    ],
)
def test_a_decline_is_recorded_with_its_reason_and_the_order_stays_payable(
    anet_integration, zip_code, fields, code
) -> None:
    order = factories.OrderFactory(billing_address__postal_code=zip_code)  # billTo carries the order's address
    txn = pay(anet_integration, order, data=card(**fields))
    order.refresh_from_db()
    assert (txn.state, txn.error_code, txn.successful, order.payment_status) == (
        State.DECLINED,
        code,
        False,
        PaymentStatus.DECLINED,
    )
    if zip_code == "62701":  # another card works; the address triggers decline whatever the card
        assert pay(anet_integration, order, key="purchase-2").state == State.SUCCEEDED


def test_held_for_review_waits_and_reconcile_records_the_approval(anet_integration) -> None:
    order = factories.OrderFactory(subtotal=Decimal("253.00"), shipping=Decimal("0"), tax=Decimal("0"))
    assert order.total == Decimal("253.00")
    held = pay(anet_integration, order, data=card(cardNumber="4222222222222"))
    order.refresh_from_db()
    assert (held.state, held.active, held.successful, held.error_code) == (
        State.PROCESSING,
        True,
        False,
        "held_for_review",
    )
    assert order.payment_status == PaymentStatus.PENDING
    assert sweeps.payment_reconcile(transaction_id=held.pk).state == State.PROCESSING  # still under review
    sandbox.review(held.provider_reference, "approve")
    done = sweeps.payment_reconcile(transaction_id=held.pk)
    order.refresh_from_db()
    assert (done.state, done.successful, order.payment_status) == (State.SUCCEEDED, True, PaymentStatus.AUTHORIZED)


def test_echeck_is_always_a_charge_even_for_an_authorize_only_integration(anet_integration) -> None:
    assert anet_integration.payment_action == "authorize"
    order = factories.OrderFactory()
    txn = pay(anet_integration, order, echeck=True)
    order.refresh_from_db()
    assert (txn.action, txn.state, order.payment_status) == (Action.CHARGE, State.SUCCEEDED, PaymentStatus.FULL)
    assert txn.payment_method == f"authorizenet_{anet_integration.pk}_echeck"
    stored = sandbox.sim_get("authorizenet", "transaction", txn.provider_reference).data
    assert (stored["type"], stored["payment"]["kind"]) == ("authCaptureTransaction", "bank")
    assert "123456789" not in str(txn.request) + str(txn.response)


def test_an_echeck_above_100_is_declined(anet_integration) -> None:
    order = factories.OrderFactory(subtotal=Decimal("150.00"))
    txn = pay(anet_integration, order, echeck=True)
    assert (txn.state, txn.error_code) == (State.DECLINED, "card_declined")


def test_a_timeout_leaves_the_capture_open_and_reconcile_finds_it_was_taken(anet_integration, monkeypatch) -> None:
    monkeypatch.setattr(AuthorizeNetAdapter, "read_timeout", 0.5)
    order = factories.OrderFactory()
    auth = pay(anet_integration, order)
    sim_fault_add(provider="authorizenet", kind="timeout", operation="capture", times=1, delay=1.5)
    capture = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="capture-1")
    assert (capture.state, capture.successful) == (State.RESERVED, False)
    done = sweeps.payment_reconcile(transaction_id=capture.pk)
    order.refresh_from_db()
    assert (done.state, done.amount, order.payment_status) == (
        State.SUCCEEDED,
        Decimal("40.0000"),
        PaymentStatus.PARTIALLY,
    )


def test_a_5xx_leaves_the_capture_open_and_reconcile_sends_it_again_with_its_key(anet_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(anet_integration, order)
    sim_fault_add(provider="authorizenet", kind="error_500", operation="capture", times=1)
    capture = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="capture-1")
    assert capture.state == State.RESERVED
    done = sweeps.payment_reconcile(transaction_id=capture.pk)  # not found at Authorize.Net: sent again
    assert (done.state, done.amount) == (State.SUCCEEDED, Decimal("40.0000"))
    assert SimFault.objects.count() == 0
    stored = sandbox.sim_get("authorizenet", "transaction", auth.provider_reference).data
    assert (stored["status"], stored["settleAmount"]) == ("capturedPendingSettlement", "40.00")


def test_a_repeated_capture_with_the_same_key_reaches_authorize_net_once(anet_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(anet_integration, order)
    first = services.payment_capture(source_id=auth.pk, amount=money("100.00"), key="capture-1")
    again = services.payment_capture(source_id=auth.pk, amount=money("100.00"), key="capture-1")
    assert first.pk == again.pk
    captures = [d for d in sandbox.received_documents() if "priorAuthCaptureTransaction" in d]
    assert len(captures) == 1


def test_a_wrong_transaction_key_declines_as_misconfigured(anet_integration) -> None:
    anet_integration.secrets = {**anet_integration.secrets, "transaction_key": "invalid000000000"}
    anet_integration.save()
    order = factories.OrderFactory()
    txn = pay(anet_integration, order)
    assert (txn.state, txn.error_code) == (State.DECLINED, "provider_misconfigured")
    assert "invalid000000000" not in str(txn.response) + txn.message


def test_no_card_number_reaches_the_ledger(anet_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(anet_integration, order)
    text = str(list(PaymentTransaction.objects.values()))
    assert "4111111111111111" not in text
    assert auth.response["account"] == "XXXX1111"


# --- a lost reply: reconcile searches unsettled and settled transactions before concluding anything ---------------


def test_a_charge_whose_reply_was_lost_and_that_settled_overnight_is_recorded_as_taken(
    anet_charging, monkeypatch
) -> None:
    monkeypatch.setattr(AuthorizeNetAdapter, "read_timeout", 0.5)
    order = factories.OrderFactory()
    sim_fault_add(provider="authorizenet", kind="timeout", operation="charge", times=1, delay=1.5)
    charge = pay(anet_charging, order)
    assert (charge.state, charge.provider_reference) == (State.RESERVED, "")
    assert sandbox.settle() == 1  # the nightly batch: the charge is no longer among the unsettled transactions
    done = sweeps.payment_reconcile(transaction_id=charge.pk)
    order.refresh_from_db()
    (stored,) = [o.data for o in sandbox.sim_list("authorizenet", "transaction")]
    assert (done.state, done.successful, done.provider_reference) == (State.SUCCEEDED, True, stored["transId"])
    assert order.payment_status == PaymentStatus.FULL
    assert stored["status"] == "settledSuccessfully"


# --- a refused card type or fraud hold: a decline only once the void is confirmed ----------------------------------


def refusing_integration(anet_integration, **settings):  # noqa: ANN001, ANN003, ANN201
    anet_integration.settings = {**anet_integration.settings, "allowed_card_types": ["visa"], **settings}
    anet_integration.save()
    return anet_integration


def test_a_refused_card_type_is_declined_once_the_void_is_confirmed(anet_integration) -> None:
    integration = refusing_integration(anet_integration)
    order = factories.OrderFactory()
    txn = pay(integration, order, data=card(cardNumber="5424000000000015"))
    assert (txn.state, txn.error_code, txn.response["voided"]) == (State.DECLINED, "card_type_not_accepted", True)
    assert sandbox.sim_get("authorizenet", "transaction", txn.provider_reference).data["status"] == "voided"


def test_a_refused_card_type_whose_void_fails_stays_open_and_the_order_is_kept(anet_integration) -> None:
    integration = refusing_integration(anet_integration)
    order = factories.OrderFactory()
    sim_fault_add(provider="authorizenet", kind="error_503", operation="void", times=1)
    txn = pay(integration, order, data=card(cardNumber="5424000000000015"))
    assert (txn.state, txn.successful, txn.active, txn.error_code) == (State.RESERVED, False, True, "void_failed")
    assert txn.provider_reference  # the only place our ledger knows the money by
    stored = sandbox.sim_get("authorizenet", "transaction", txn.provider_reference).data
    assert stored["status"] == "authorizedPendingCapture"  # the money is held
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.PENDING  # not declined: the checkout keeps it, unconfirmed

    done = sweeps.payment_reconcile(transaction_id=txn.pk)  # voids again; now confirmed
    order.refresh_from_db()
    assert (done.state, done.error_code, order.payment_status) == (
        State.DECLINED,
        "card_type_not_accepted",
        PaymentStatus.DECLINED,
    )
    assert sandbox.sim_get("authorizenet", "transaction", txn.provider_reference).data["status"] == "voided"


def test_a_disallowed_fraud_hold_whose_void_answer_is_lost_stays_open_and_reconcile_confirms_it(
    anet_integration, monkeypatch
) -> None:
    monkeypatch.setattr(AuthorizeNetAdapter, "read_timeout", 0.5)
    anet_integration.settings = {**anet_integration.settings, "allow_held_transactions": False}
    anet_integration.save()
    order = factories.OrderFactory(subtotal=Decimal("253.00"), shipping=Decimal("0"), tax=Decimal("0"))
    sim_fault_add(provider="authorizenet", kind="timeout", operation="void", times=1, delay=1.5)
    held = pay(anet_integration, order, data=card(cardNumber="4222222222222"))
    assert (held.state, held.error_code) == (State.RESERVED, "void_failed")
    stored = sandbox.sim_get("authorizenet", "transaction", held.provider_reference).data
    assert stored["status"] == "voided"  # the void did go through; only its answer was lost
    done = sweeps.payment_reconcile(transaction_id=held.pk)
    assert (done.state, done.error_code) == (State.DECLINED, "held_for_review")


# --- a refund whose reply was lost is never sent twice ---------------------------------------------------------------


def test_a_refund_whose_reply_was_lost_is_found_after_the_duplicate_window_and_not_sent_again(
    anet_charging, monkeypatch
) -> None:
    monkeypatch.setattr(AuthorizeNetAdapter, "read_timeout", 0.5)
    order = factories.OrderFactory()
    charge = pay(anet_charging, order)
    sandbox.settle(charge.provider_reference)
    sim_fault_add(provider="authorizenet", kind="timeout", operation="refund", times=1, delay=1.5)
    refund = services.payment_refund(source_id=charge.pk, amount=money("25.00"), key="refund-1")
    assert refund.state == State.RESERVED
    sim_advance_time(provider="authorizenet", seconds=9 * 3600)  # past the 8-hour duplicate window
    assert sandbox.settle() == 1  # the refund settled: in a batch, not among the unsettled transactions
    done = sweeps.payment_reconcile(transaction_id=refund.pk)
    refunds = [o.data for o in sandbox.sim_list("authorizenet", "transaction") if o.data["type"] == "refundTransaction"]
    assert len(refunds) == 1
    assert (done.state, done.amount, done.provider_reference) == (
        State.SUCCEEDED,
        Decimal("25.0000"),
        refunds[0]["transId"],
    )
    assert sandbox.sim_get("authorizenet", "transaction", charge.provider_reference).data["refunded"] == "25.00"


def test_a_refund_whose_reply_was_lost_and_that_was_voided_since_is_declined_and_never_sent_again(
    anet_charging, anet_sandbox, monkeypatch
) -> None:
    """Our refund reached Authorize.Net, its answer was lost, and someone voided it in the Merchant Interface
    before it settled. Reconcile found the refund by our invoice number but read "voided" as "never arrived"
    (not found) and sent it again, which after the 8-hour duplicate window made a second, real refund."""
    order = factories.OrderFactory()
    charge = pay(anet_charging, order)
    sandbox.settle(charge.provider_reference)
    with answer_lost(monkeypatch, "refund"):
        refund = services.payment_refund(source_id=charge.pk, amount=money("25.00"), key="refund-1")
    assert refund.state == State.RESERVED
    (made,) = made_at_anet("refundTransaction")
    merchant_interface(f"{anet_sandbox}/xml/v1/request.api", "voidTransaction", made["transId"])
    sim_advance_time(provider="authorizenet", seconds=9 * 3600)  # past the 8-hour duplicate window

    done = sweeps.payment_reconcile(transaction_id=refund.pk)

    refunds = [o.data for o in sandbox.sim_list("authorizenet", "transaction") if o.data["type"] == "refundTransaction"]
    assert [r["status"] for r in refunds] == ["voided"]
    assert (done.state, done.successful, done.error_code) == (State.DECLINED, False, "refund_voided")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL
    assert services.refundable_amount(charge) == Decimal("100.00")


def test_a_payment_settled_more_than_180_days_ago_is_not_refunded_and_staff_are_told_why(anet_charging) -> None:
    """Authorize.Net refunds only transactions settled within the past 180 days (then the card data is archived).
    The sandbox refunded a payment of any age, so nothing showed that the adapter sends such a refund anyway and
    reads the gateway's reason 54 as "not settled yet", telling staff to wait for a settlement that happened
    months ago."""
    order = factories.OrderFactory()
    charge = pay(anet_charging, order)
    sandbox.settle(charge.provider_reference)
    sim_advance_time(provider="authorizenet", seconds=181 * 24 * 3600)

    refund = services.payment_refund(source_id=charge.pk, amount=money("10.00"), key="refund-late")

    assert (refund.state, refund.error_code) == (State.DECLINED, "refund_period_over")
    assert "180 days" in refund.message
    assert not [o for o in sandbox.sim_list("authorizenet", "transaction") if o.data["type"] == "refundTransaction"]
    assert sandbox.sim_get("authorizenet", "transaction", charge.provider_reference).data["refunded"] == "0.00"


def test_an_address_pasted_with_control_characters_still_pays(anet_integration) -> None:
    """A billing address copied from a word processor can carry a vertical tab (a soft line break) or another
    control character. XML 1.0 cannot hold them; the SDK writes them as they are, Authorize.Net cannot parse the
    document (E00003), and the buyer was declined on every attempt with nothing they could change at checkout."""
    order = factories.OrderFactory(
        billing_address__first_name="Ada\x01", billing_address__street="12 Main Street\x0bSuite 4"
    )
    txn = pay(anet_integration, order)
    assert (txn.state, txn.error_code) == (State.SUCCEEDED, "")
    stored = sandbox.sim_get("authorizenet", "transaction", txn.provider_reference).data
    assert stored["billTo"]["firstName"] == "Ada"
    (sent,) = [d for d in sandbox.received_documents("createTransactionRequest") if "authOnlyTransaction" in d]
    assert "<address>12 Main Street Suite 4</address>" in sent
