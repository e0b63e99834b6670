"""Stripe end to end through the payment services and the ledger, against the Stripe sandbox."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from orders.models import PaymentStatus
from payments import services, sweeps
from payments.exceptions import PaymentRefused
from payments.models import Action, PaymentTransaction, State
from providers.base import Money
from providers.stripe.adapter import StripeAdapter
from sandbox.models import SimFault, SimObject
from sandbox.services import sim_count, sim_fault_add, sim_get
from tests import factories
from tests.sandbox_support import ledger

pytestmark = pytest.mark.django_db(transaction=True)


def pay(integration, order, *, key: str = "purchase-1", pm: str = "pm_card_visa") -> PaymentTransaction:  # noqa: ANN001
    return services.payment_purchase(
        order_id=order.pk,
        method=f"stripe_{integration.pk}",
        key=key,
        payment_data={"payment_method": pm},
        return_url="http://shop.test/checkout/return",
    )


def money(amount: str, currency: str = "USD") -> Money:
    return Money(Decimal(amount), currency)


def test_authorize_then_partial_capture_takes_part_and_closes_the_authorization(stripe_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(stripe_integration, order)
    assert (auth.action, auth.state, auth.provider_reference[:3]) == (Action.AUTHORIZE, State.SUCCEEDED, "pi_")
    capture = services.payment_capture(source_id=auth.pk, amount=money("30.00"), key="capture-1")
    order.refresh_from_db()
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("capture", "30.0000", "succeeded", True, False, "ch_"),
        ("release", "70.0000", "succeeded", True, False, "pi_"),
    ]
    assert order.payment_status == PaymentStatus.PARTIALLY
    with pytest.raises(PaymentRefused) as refused:  # Stripe released the rest: no second capture is offered
        services.payment_capture(source_id=auth.pk, amount=money("10.00"), key="capture-2")
    assert refused.value.code == "nothing_to_capture"
    assert sim_count("stripe", "payment_intent", id=auth.provider_reference, amount_received=3000) == 1
    assert capture.response["amount_received"] == 3000


def test_a_repeated_capture_with_the_same_key_reaches_stripe_once(stripe_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(stripe_integration, order)
    first = services.payment_capture(source_id=auth.pk, amount=money("100.00"), key="capture-1")
    again = services.payment_capture(source_id=auth.pk, amount=money("100.00"), key="capture-1")
    assert first.pk == again.pk
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.FULL


def test_charge_then_partial_and_full_refunds(stripe_integration) -> None:
    stripe_integration.payment_action = "charge"
    stripe_integration.save()
    order = factories.OrderFactory()
    charge = pay(stripe_integration, order)
    assert (charge.action, charge.state) == (Action.CHARGE, State.SUCCEEDED)
    services.payment_refund(source_id=charge.pk, amount=money("25.00"), key="refund-1", reason="requested_by_customer")
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.REFUNDED_PARTIALLY
    rest = services.payment_refund(source_id=charge.pk, amount=None, key="refund-2")
    order.refresh_from_db()
    assert (rest.amount, order.payment_status) == (Decimal("75.0000"), PaymentStatus.REFUNDED)
    assert ledger(order)[1:] == [
        ("refund", "25.0000", "succeeded", True, False, "re_"),
        ("refund", "75.0000", "succeeded", True, False, "re_"),
    ]


def test_cancel_releases_the_authorization(stripe_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(stripe_integration, order)
    cancel = services.payment_cancel(source_id=auth.pk, key="cancel-1", reason="requested_by_customer")
    order.refresh_from_db()
    assert (cancel.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.CANCELED)
    assert (
        sim_count("stripe", "payment_intent", id=auth.provider_reference, cancellation_reason="requested_by_customer")
        == 1
    )


@pytest.mark.parametrize(
    ("pm", "code", "message"),
    [
        ("pm_card_chargeDeclined", "card_declined", "Your card was declined."),
        ("pm_card_chargeDeclinedInsufficientFunds", "insufficient_funds", "Your card has insufficient funds."),
        ("pm_card_chargeDeclinedExpiredCard", "expired_card", "Your card has expired."),
    ],
)
def test_a_decline_is_recorded_with_its_reason(stripe_integration, pm, code, message) -> None:
    order = factories.OrderFactory()
    txn = pay(stripe_integration, order, pm=pm)
    order.refresh_from_db()
    assert (txn.state, txn.error_code, txn.message, txn.successful, txn.active) == (
        State.DECLINED,
        code,
        message,
        False,
        False,
    )
    assert order.payment_status == PaymentStatus.DECLINED
    retry = pay(stripe_integration, order, key="purchase-2")  # a declined attempt leaves the order payable
    assert retry.state == State.SUCCEEDED


def test_3d_secure_waits_for_the_buyer_and_the_return_page_completes_it(stripe_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(stripe_integration, order, pm="pm_card_threeDSecure2Required")
    assert (auth.state, auth.active, auth.successful) == (State.ACTION_REQUIRED, True, False)
    redirect = auth.response["next_action"]["redirect_url"]
    back = requests.post(redirect, data={"outcome": "complete"}, allow_redirects=False, timeout=10)
    assert back.headers["Location"].startswith("http://shop.test/checkout/return?payment_intent=")
    done = services.payment_complete(transaction_id=auth.pk)
    order.refresh_from_db()
    assert (done.state, done.successful, order.payment_status) == (State.SUCCEEDED, True, PaymentStatus.AUTHORIZED)


def test_a_timeout_leaves_the_capture_open_and_completing_it_asks_stripe(stripe_integration, monkeypatch) -> None:
    monkeypatch.setattr(StripeAdapter, "read_timeout", 0.5)
    order = factories.OrderFactory()
    auth = pay(stripe_integration, order)
    sim_fault_add(provider="stripe", kind="timeout", operation="capture", times=5, delay=1.5)
    capture = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="capture-1")
    order.refresh_from_db()
    assert (capture.state, capture.successful) == (State.RESERVED, False)
    assert "did not answer" in capture.message
    with pytest.raises(PaymentRefused):  # the open capture counts: nothing is captured twice meanwhile
        services.payment_capture(source_id=auth.pk, amount=money("60.01"), key="capture-2")
    done = services.payment_complete(transaction_id=capture.pk)
    order.refresh_from_db()
    assert (done.state, done.provider_reference[:3], order.payment_status) == (
        State.SUCCEEDED,
        "ch_",
        PaymentStatus.PARTIALLY,
    )


def test_a_5xx_leaves_the_capture_open_and_completing_it_finds_nothing_was_taken(stripe_integration) -> None:
    order = factories.OrderFactory()
    auth = pay(stripe_integration, order)
    sim_fault_add(provider="stripe", kind="error_500", operation="capture", times=5)
    capture = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="capture-1")
    assert capture.state == State.RESERVED
    done = services.payment_complete(transaction_id=capture.pk)
    assert (done.state, done.error_code) == (State.DECLINED, "not_captured")
    SimFault.objects.all().delete()  # Stripe is back
    again = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="capture-2")
    assert again.state == State.SUCCEEDED


@pytest.mark.parametrize(("trait", "part"), [("jpy", "5000"), ("kwd", "10.120")])
def test_jpy_and_kwd_flow_in_their_own_units(stripe_integration, trait, part) -> None:
    order = factories.OrderFactory(**{trait: True}, subtotal=Decimal("30.120") if trait == "kwd" else Decimal("12000"))
    auth = pay(stripe_integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=money(part, order.currency), key="capture-1")
    assert (auth.state, capture.state) == (State.SUCCEEDED, State.SUCCEEDED)
    minor = {"jpy": (12000, 5000), "kwd": (30120, 10120)}[trait]
    assert (auth.response["amount"], capture.response["amount_received"]) == minor


def test_a_kwd_total_stripe_cannot_take_is_not_offered(stripe_integration) -> None:
    order = factories.OrderFactory(kwd=True)  # 30.125 KWD: Stripe needs the last of three decimals to be 0
    with pytest.raises(PaymentRefused) as refused:
        pay(stripe_integration, order)
    assert refused.value.code == "method_not_applicable"


def test_a_wrong_secret_key_declines_as_misconfigured(stripe_integration) -> None:
    stripe_integration.secrets = {**stripe_integration.secrets, "secret_key": "sk_test_invalid"}
    stripe_integration.save()
    order = factories.OrderFactory()
    txn = pay(stripe_integration, order)
    assert (txn.state, txn.error_code) == (State.DECLINED, "provider_misconfigured")
    assert "sk_test_invalid" not in str(txn.response) + txn.message


# --- Stripe's minor units, which are not ISO 4217's ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("currency", "total", "part", "wire"),
    [
        ("ISK", "5000", "2000", (500000, 200000)),  # two decimals at Stripe, whole krónur
        ("HUF", "25000", "10000", (2500000, 1000000)),  # two decimals at Stripe (none in CLDR)
        ("UGX", "50000", "20000", (50000, 20000)),  # zero-decimal at Stripe and in ISO 4217
        ("TWD", "1000.50", "400.25", (100050, 40025)),
    ],
)
def test_amounts_reach_stripe_in_its_own_minor_units(stripe_integration, currency, total, part, wire) -> None:
    order = factories.OrderFactory(currency=currency, subtotal=Decimal(total))
    auth = pay(stripe_integration, order)
    capture = services.payment_capture(source_id=auth.pk, amount=money(part, currency), key="capture-1")
    refund = services.payment_refund(source_id=capture.pk, amount=money(part, currency), key="refund-1")
    assert (auth.state, capture.state, refund.state) == (State.SUCCEEDED, State.SUCCEEDED, State.SUCCEEDED)
    pi = sim_get("stripe", "payment_intent", auth.provider_reference).data
    assert (pi["amount"], pi["amount_received"], pi["currency"]) == (*wire, currency.lower())
    assert sim_get("stripe", "refund", refund.provider_reference).data["amount"] == wire[1]
    assert (capture.amount, refund.amount) == (Decimal(part), Decimal(part))


# --- answers lost or incomplete after money moved ------------------------------------------------------------------


def lost_purchase(integration, order, monkeypatch) -> PaymentTransaction:  # noqa: ANN001
    monkeypatch.setattr(StripeAdapter, "read_timeout", 0.5)
    sim_fault_add(provider="stripe", kind="timeout", operation="create", times=2, delay=1.5)
    txn = pay(integration, order)
    monkeypatch.setattr(StripeAdapter, "read_timeout", 30.0)
    return txn


def test_a_purchase_whose_answer_was_lost_is_found_by_its_key_and_settled(stripe_integration, monkeypatch) -> None:
    order = factories.OrderFactory()
    txn = lost_purchase(stripe_integration, order, monkeypatch)
    assert (txn.state, txn.provider_reference) == (State.RESERVED, "")
    with pytest.raises(PaymentRefused) as refused:  # the buyer comes back: told it is being confirmed
        pay(stripe_integration, order, key="purchase-2")
    assert refused.value.code == "payment_in_progress"
    PaymentTransaction.objects.filter(pk=txn.pk).update(created_at=timezone.now() - timedelta(minutes=3))

    settled = sweeps.payment_reconcile(transaction_id=txn.pk)

    pi = [o.data for o in SimObject.objects.filter(provider="stripe", kind="payment_intent")]
    assert len(pi) == 1  # nothing was sent twice
    assert (settled.state, settled.provider_reference, settled.amount) == (State.SUCCEEDED, pi[0]["id"], Decimal("100"))
    order.refresh_from_db()
    assert order.payment_status == PaymentStatus.AUTHORIZED


def test_a_purchase_that_never_reached_stripe_is_recorded_as_no_money_moved(stripe_integration) -> None:
    order = factories.OrderFactory()
    sim_fault_add(provider="stripe", kind="error_503", operation="create", times=5)
    txn = pay(stripe_integration, order)
    assert txn.state == State.RESERVED
    SimFault.objects.all().delete()
    PaymentTransaction.objects.filter(pk=txn.pk).update(created_at=timezone.now() - timedelta(minutes=3))

    settled = sweeps.payment_reconcile(transaction_id=txn.pk)

    assert (settled.state, settled.error_code) == (State.DECLINED, "not_found")
    assert not SimObject.objects.filter(provider="stripe", kind="payment_intent").exists()
    retry = pay(stripe_integration, order, key="purchase-2")  # the order can be paid again
    assert retry.state == State.SUCCEEDED


def test_a_search_too_soon_after_the_purchase_concludes_nothing(stripe_integration) -> None:
    order = factories.OrderFactory()
    sim_fault_add(provider="stripe", kind="error_503", operation="create", times=5)
    txn = pay(stripe_integration, order)
    SimFault.objects.all().delete()
    assert sweeps.payment_reconcile(transaction_id=txn.pk).state == State.RESERVED  # it may still be on its way


@pytest.mark.parametrize("operation", ["create", "capture", "refund"])
def test_a_reply_without_optional_fields_after_money_moved_never_crashes(stripe_integration, operation) -> None:
    stripe_integration.payment_action = "authorize" if operation == "capture" else "charge"
    stripe_integration.save()
    order = factories.OrderFactory()
    if operation == "create":
        sim_fault_add(provider="stripe", kind="sparse", operation="create")
    txn = pay(stripe_integration, order)
    if operation == "capture":
        sim_fault_add(provider="stripe", kind="sparse", operation="capture")
        txn = services.payment_capture(source_id=txn.pk, amount=money("40.00"), key="capture-1")
    if operation == "refund":
        sim_fault_add(provider="stripe", kind="sparse", operation="refund")
        txn = services.payment_refund(source_id=txn.pk, amount=money("40.00"), key="refund-1")

    assert (txn.state, txn.error_code) == (State.RESERVED, "incomplete_reply")  # open: read back later
    assert txn.provider_reference  # what Stripe calls it was kept

    done = services.payment_complete(transaction_id=txn.pk)
    assert (done.state, done.successful) == (State.SUCCEEDED, True)
