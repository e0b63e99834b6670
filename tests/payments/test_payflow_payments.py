"""Payflow end to end through the payment services and the ledger, against the Payflow sandbox.

The buyer's browser is played with `requests`: it posts the card to the sandbox (transparent redirect) or approves
on PayPal's page, and the return page's work is `payment_complete`.
"""

from __future__ import annotations

from decimal import Decimal

import pytest
import requests

from integrations.models import Integration
from orders.models import PaymentStatus
from payments import services, sweeps
from payments.models import Action, PaymentTransaction, State
from providers.base import Money
from providers.payflow.adapter import PayflowAdapter
from providers.payflow.sandbox import transactions
from sandbox.models import SimFault
from sandbox.services import sim_advance_time, sim_fault_add
from tests import factories
from tests.providers.sandboxes import payflow_post_card
from tests.sandbox_support import ledger

pytestmark = pytest.mark.django_db(transaction=True)
RETURN_URL = "http://shop.test/checkout/return"
CARD = "4111111111111111"


@pytest.fixture
def payflow_integration(live_server, settings) -> Integration:  # noqa: ANN001
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    return payflow_integration_make()


def payflow_integration_make(**extra: object) -> Integration:
    return factories.IntegrationFactory(
        provider_key="payflow",
        name="Payflow",
        settings={
            "partner": "PayPal",
            "vendor": "paydeskservices",
            "user": "paydeskservices",
            "allowed_card_types": ["visa", "mastercard"],
            "require_cvv": True,
            "express_checkout_label": "PayPal",
            "express_checkout_payment_action": "charge",
            **extra,
        },
        secrets={"password": "pw-services"},
        payment_action=Integration.PaymentAction.AUTHORIZE,
    )


def pay(integration: Integration, order, *, key: str = "purchase-1", express: bool = False) -> PaymentTransaction:  # noqa: ANN001
    return services.payment_purchase(
        order_id=order.pk,
        method=f"payflow_{integration.pk}" + ("_express" if express else ""),
        key=key,
        return_url=RETURN_URL,
    )


def pay_by_card(integration: Integration, order, *, number: str = CARD, key: str = "purchase-1") -> PaymentTransaction:  # noqa: ANN001
    txn = pay(integration, order, key=key)
    assert (txn.state, txn.active, txn.successful) == (State.ACTION_REQUIRED, True, False)
    location = payflow_post_card(txn.response["next_action"], number)
    assert location.startswith(RETURN_URL)
    return services.payment_complete(transaction_id=txn.pk)  # the return page


def money(amount: str) -> Money:
    return Money(Decimal(amount), "USD")


def test_card_through_the_transparent_redirect_completes_on_return_then_partial_capture_and_refund(
    payflow_integration,
) -> None:
    order = factories.OrderFactory()
    auth = pay_by_card(payflow_integration, order)
    order.refresh_from_db()
    assert (auth.action, auth.state, order.payment_status) == (
        Action.AUTHORIZE,
        State.SUCCEEDED,
        PaymentStatus.AUTHORIZED,
    )
    assert auth.provider_reference.startswith("V")
    assert len(auth.provider_reference) == 12
    assert auth.expires_at is not None
    capture = services.payment_capture(source_id=auth.pk, amount=money("30.00"), key="capture-1")
    services.payment_refund(source_id=capture.pk, amount=money("10.00"), key="refund-1")
    order.refresh_from_db()
    assert [row[:5] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded", True, False),
        ("capture", "30.0000", "succeeded", True, False),
        ("refund", "10.0000", "succeeded", True, False),
    ]
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    assert [(t["trxtype"], t["amt"]) for t in transactions()] == [("A", "100.00"), ("D", "30.00"), ("C", "10.00")]
    assert CARD not in str(list(PaymentTransaction.objects.values_list("request", "response")))


def test_the_return_page_and_reconcile_complete_the_payment_once(payflow_integration) -> None:
    order = factories.OrderFactory()
    auth = pay_by_card(payflow_integration, order)
    again = services.payment_complete(transaction_id=auth.pk)
    reconciled = sweeps.payment_reconcile(transaction_id=auth.pk)
    assert again.pk == reconciled.pk == auth.pk
    assert len(transactions()) == 1


def test_zero_amount_validation_then_authorization_for_the_required_amount(live_server, settings) -> None:
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = payflow_integration_make(zero_amount_authorization=True, authorization_for_required_amount=True)
    order = factories.OrderFactory()
    auth = pay_by_card(integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")
    order.refresh_from_db()
    assert (auth.state, capture.state, order.payment_status) == (State.SUCCEEDED, State.SUCCEEDED, PaymentStatus.FULL)
    validation, authorization, delayed = transactions()
    assert (validation["trxtype"], validation["amt"]) == ("A", "0.00")
    assert (authorization["trxtype"], authorization["amt"], authorization["origid"]) == (
        "A",
        "100.00",
        validation["pnref"],
    )
    assert (delayed["trxtype"], delayed["origid"]) == ("D", authorization["pnref"])


def test_zero_amount_validation_without_holding_then_capture_is_a_reference_sale(live_server, settings) -> None:
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = payflow_integration_make(zero_amount_authorization=True)
    order = factories.OrderFactory()
    auth = pay_by_card(integration, order)
    assert (auth.state, auth.provider_reference[:5]) == (State.SUCCEEDED, "zero:")
    assert [t["amt"] for t in transactions()] == ["0.00"]  # nothing held
    capture = services.payment_capture(source_id=auth.pk, amount=money("80.00"), key="capture-1")
    order.refresh_from_db()
    assert (capture.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.PARTIALLY)
    validation, sale = transactions()
    assert (sale["trxtype"], sale["amt"], sale["origid"]) == ("S", "80.00", validation["pnref"])


def test_express_checkout_approval_and_return_charges_with_its_own_payment_action(payflow_integration) -> None:
    order = factories.OrderFactory()
    txn = pay(payflow_integration, order, express=True)
    assert (txn.action, txn.state, txn.provider_reference[:3]) == (Action.CHARGE, State.ACTION_REQUIRED, "EC-")
    approval = txn.response["next_action"]["redirect_url"]
    assert requests.get(approval, timeout=10).status_code == 200
    back = requests.post(approval, data={"decision": "approve"}, allow_redirects=False, timeout=10)
    assert back.headers["Location"].startswith(f"{RETURN_URL}?token={txn.provider_reference}&PayerID=")
    done = services.payment_complete(transaction_id=txn.pk)
    services.payment_complete(transaction_id=txn.pk)  # a second return moves nothing
    order.refresh_from_db()
    assert (done.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.FULL)
    (sale,) = transactions()
    assert (sale["trxtype"], sale["tender"], sale["amt"], sale["pnref"]) == (
        "S",
        "P",
        "100.00",
        done.provider_reference,
    )
    refund = services.payment_refund(source_id=done.pk, amount=money("40.00"), key="refund-1")
    assert refund.state == State.SUCCEEDED


def test_express_checkout_not_yet_approved_keeps_waiting(payflow_integration) -> None:
    order = factories.OrderFactory()
    txn = pay(payflow_integration, order, express=True)
    still = services.payment_complete(transaction_id=txn.pk)
    assert (still.state, still.response["next_action"]) == (State.ACTION_REQUIRED, txn.response["next_action"])
    assert transactions() == []


def test_a_declined_card_is_recorded_and_the_order_stays_payable(payflow_integration) -> None:
    order = factories.OrderFactory(subtotal=Decimal("1012.00"))  # pilot trigger: RESULT 12
    txn = pay_by_card(payflow_integration, order)
    order.refresh_from_db()
    assert (txn.state, txn.error_code, order.payment_status) == (
        State.DECLINED,
        "card_declined",
        PaymentStatus.DECLINED,
    )
    retry = pay(payflow_integration, order, key="purchase-2")
    assert retry.state == State.ACTION_REQUIRED


def test_an_abandoned_card_form_declines_once_the_token_expires(payflow_integration) -> None:
    order = factories.OrderFactory()
    txn = pay(payflow_integration, order)
    assert services.payment_complete(transaction_id=txn.pk).state == State.ACTION_REQUIRED
    sim_advance_time(provider="payflow", seconds=31 * 60)
    done = services.payment_complete(transaction_id=txn.pk)
    assert (done.state, done.error_code) == (State.DECLINED, "token_expired")


def test_a_timed_out_capture_is_found_by_reconcile(payflow_integration, monkeypatch) -> None:
    monkeypatch.setattr(PayflowAdapter, "read_timeout", 0.5)
    order = factories.OrderFactory()
    auth = pay_by_card(payflow_integration, order)
    sim_fault_add(provider="payflow", kind="timeout", operation="delayed_capture", times=1, delay=1.5)
    capture = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="capture-1")
    assert capture.state == State.RESERVED
    done = sweeps.payment_reconcile(transaction_id=capture.pk)
    order.refresh_from_db()
    assert (done.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.PARTIALLY)
    assert [t["trxtype"] for t in transactions()] == ["A", "D"]


def test_a_capture_payflow_never_got_is_sent_again_by_reconcile_with_the_same_key(payflow_integration) -> None:
    order = factories.OrderFactory()
    auth = pay_by_card(payflow_integration, order)
    sim_fault_add(provider="payflow", kind="error_503", operation="delayed_capture", times=1)
    capture = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="capture-1")
    assert capture.state == State.RESERVED
    assert not SimFault.objects.exists()
    done = sweeps.payment_reconcile(transaction_id=capture.pk)
    again = sweeps.payment_reconcile(transaction_id=capture.pk)
    assert (done.state, again.state) == (State.SUCCEEDED, State.SUCCEEDED)
    assert [t["trxtype"] for t in transactions()] == ["A", "D"]


def test_totals_of_100000_or_more_are_not_offered(payflow_integration) -> None:
    from payments.exceptions import PaymentRefused

    order = factories.OrderFactory(subtotal=Decimal("100000.00"))
    with pytest.raises(PaymentRefused) as refused:
        pay(payflow_integration, order)
    assert refused.value.code == "method_not_applicable"
