"""Payflow end to end through the payment services and the ledger, against the Payflow sandbox.

The buyer's browser is played with `requests`: it posts the card to the sandbox (transparent redirect) or approves
on PayPal's page, and the return page's work is `payment_complete`.
"""

from __future__ import annotations

import time
from datetime import timedelta
from decimal import Decimal

import pytest
import requests
from django.utils import timezone

from integrations.models import Integration
from orders.models import PaymentStatus
from payments import services, sweeps
from payments.models import Action, PaymentTransaction, State
from providers.base import Money
from providers.payflow.adapter import PayflowAdapter
from sandbox.models import SimFault
from sandbox.payflow.simulator import transactions
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


def made_at_payflow(count: int) -> list[dict]:
    """The sandbox's transactions once `count` exist: a request whose answer we gave up on may still be running in
    the test server's thread (wait for it, at most ten seconds, rather than race it)."""
    for _ in range(200):
        if len(made := transactions()) >= count:
            return made
        time.sleep(0.05)
    raise AssertionError(f"the sandbox made {len(transactions())} transactions, {count} expected")


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
        ("release", "70.0000", "succeeded", True, False),
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
    order.refresh_from_db()
    assert (auth.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.AUTHORIZED)
    validation_row = auth.source
    assert validation_row is not None
    capture = services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")
    order.refresh_from_db()
    assert (capture.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.FULL)
    validation, authorization, delayed = transactions()
    assert (validation["trxtype"], validation["amt"]) == ("A", "0.00")
    assert (authorization["trxtype"], authorization["amt"], authorization["origid"]) == (
        "A",
        "100.00",
        validation["pnref"],
    )
    assert (delayed["trxtype"], delayed["origid"]) == ("D", authorization["pnref"])
    assert [row[:5] for row in ledger(order)] == [
        ("authorize", "100.0000", "succeeded", True, False),
        ("validate", "0.0000", "succeeded", True, False),
        ("capture", "100.0000", "succeeded", True, False),
    ]
    assert (validation_row.action, validation_row.provider_reference) == (Action.VALIDATE, validation["pnref"])
    assert auth.provider_reference == authorization["pnref"]  # its own hold: not a clone


def test_zero_amount_validation_is_its_own_row_and_the_authorization_a_clone_that_holds_nothing(
    live_server, settings
) -> None:
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = payflow_integration_make(zero_amount_authorization=True)
    order = factories.OrderFactory()
    auth = pay_by_card(integration, order)
    order.refresh_from_db()
    (validation,) = transactions()
    assert validation["amt"] == "0.00"  # nothing held
    assert auth.source is not None
    assert (auth.source.action, auth.source.amount, auth.source.provider_reference) == (
        Action.VALIDATE,
        Decimal("0"),
        validation["pnref"],
    )
    assert (auth.action, auth.state, auth.provider_reference) == (
        Action.AUTHORIZE,
        State.SUCCEEDED,
        validation["pnref"],
    )
    assert auth.is_clone
    assert order.payment_status == PaymentStatus.PENDING  # not "Payment authorized": the status rules skip clones
    capture = services.payment_capture(source_id=auth.pk, amount=money("80.00"), key="capture-1")
    order.refresh_from_db()
    assert (capture.state, order.payment_status) == (State.SUCCEEDED, PaymentStatus.PARTIALLY)
    validation, sale = transactions()
    assert (sale["trxtype"], sale["amt"], sale["origid"]) == ("S", "80.00", validation["pnref"])


def test_a_clone_is_canceled_without_a_void_at_payflow(live_server, settings) -> None:
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = payflow_integration_make(zero_amount_authorization=True)
    order = factories.OrderFactory()
    auth = pay_by_card(integration, order)
    cancel = services.payment_cancel(source_id=auth.pk, key="cancel-1")
    assert cancel.state == State.SUCCEEDED
    assert [t["trxtype"] for t in transactions()] == ["A"]  # the validation only; nothing to void


def test_with_zero_amount_authorization_a_charge_sends_the_sale_and_never_takes_a_terse_inquiry_as_paid(
    live_server, settings
) -> None:
    """The inquiry of a validation answers in its own (low) verbosity unless asked for more: without the amount
    the adapter once took the order total for it and recorded a charge whose sale was never sent."""
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = payflow_integration_make(zero_amount_authorization=True)
    integration.payment_action = Integration.PaymentAction.CHARGE
    integration.save()
    order = factories.OrderFactory()
    charge = pay_by_card(integration, order)
    order.refresh_from_db()
    validation, sale = transactions()
    assert (validation["trxtype"], validation["amt"]) == ("A", "0.00")
    assert (sale["trxtype"], sale["amt"], sale["origid"], sale["captured"]) == (
        "S",
        "100.00",
        validation["pnref"],
        "100.00",
    )
    assert (charge.action, charge.state, charge.provider_reference) == (Action.CHARGE, State.SUCCEEDED, sale["pnref"])
    assert charge.source is not None
    assert charge.source.action == Action.VALIDATE
    assert order.payment_status == PaymentStatus.FULL


# --- reference transactions: only on a card of the same buyer, chosen by the server -----------------------------


def test_a_pnref_posted_by_the_browser_never_names_the_card_to_charge(payflow_integration) -> None:
    victim_order = factories.OrderFactory()
    victim = pay_by_card(payflow_integration, victim_order, key="victim")
    assert victim.state == State.SUCCEEDED
    order = factories.OrderFactory()  # another company's buyer
    txn = services.payment_purchase(
        order_id=order.pk,
        method=f"payflow_{payflow_integration.pk}",
        key="attacker",
        payment_data={"pnref": victim.provider_reference},
        return_url=RETURN_URL,
    )
    assert (txn.state, txn.provider_reference[:12]) == (State.ACTION_REQUIRED, "securetoken:")  # asks for a card
    assert [t["origid"] for t in transactions()] == [""]  # nothing refers to the victim's card


def test_a_kept_validation_of_the_same_buyer_is_used_and_another_buyers_never(live_server, settings) -> None:
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = payflow_integration_make(zero_amount_authorization=True, authorization_for_required_amount=True)
    buyer = factories.CustomerUserFactory()
    first = factories.OrderFactory(customer=buyer.customer, customer_user=buyer)
    pay_by_card(integration, first)
    kept = first.transactions.get(action=Action.VALIDATE)
    PaymentTransaction.objects.filter(pk=kept.pk).update(active=True)  # kept for later payments

    again = factories.OrderFactory(customer=buyer.customer, customer_user=buyer)
    reused = services.payment_purchase(
        order_id=again.pk, method=f"payflow_{integration.pk}", key="purchase-again", return_url=RETURN_URL
    )
    assert (reused.state, reused.source_id) == (State.SUCCEEDED, kept.pk)
    assert transactions()[-1]["origid"] == kept.provider_reference

    colleague = factories.CustomerUserFactory(customer=buyer.customer)  # same company, another buyer
    stranger = factories.OrderFactory(customer=buyer.customer, customer_user=colleague)
    theirs = services.payment_purchase(
        order_id=stranger.pk, method=f"payflow_{integration.pk}", key="purchase-stranger", return_url=RETURN_URL
    )
    assert (theirs.state, theirs.source_id) == (State.ACTION_REQUIRED, None)  # enters a card of their own


# --- field limits --------------------------------------------------------------------------------------------------


def test_a_long_address_and_a_zip_plus_four_are_sent_as_payflow_takes_them(payflow_integration) -> None:
    order = factories.OrderFactory(
        billing_address__first_name="Maximiliane-Alexandrina Theodora",
        billing_address__last_name="Featherstonehaugh-Cholmondeley",
        billing_address__organization="Consolidated Industrial Fasteners & Fittings Inc.",
        billing_address__street="12345 North Industrial Parkway Boulevard",
        billing_address__street2="Building 7, Suite 1200",
        billing_address__city="Rancho Santa Margarita Heights",
        billing_address__postal_code="62701-1234",
    )
    auth = pay_by_card(payflow_integration, order)
    assert auth.state == State.SUCCEEDED
    (sent,) = transactions()
    billing = sent["billing"]
    assert billing["ZIP"] == "627011234"
    assert {
        k: len(v) for k, v in billing.items() if k in ("FIRSTNAME", "LASTNAME", "COMPANYNAME", "STREET", "CITY")
    } == {
        "FIRSTNAME": 30,
        "LASTNAME": 30,
        "COMPANYNAME": 30,
        "STREET": 30,
        "CITY": 20,
    }
    assert billing["STREET"] == "12345 North Industrial Parkway"


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


def test_an_express_checkout_paid_at_paypal_whose_answer_was_lost_is_recorded_as_paid_after_the_token_expired(
    payflow_integration, monkeypatch
) -> None:
    """The buyer approved, DoExpressCheckoutPayment took the money and its answer was lost. Asking again only works
    while the Express Checkout token lives (3 hours): reconcile (PayPal still down at first, or a late worker)
    then read "10411 session expired" as "the buyer never paid" and recorded a decline for money PayPal took;
    the order became payable again."""
    order = factories.OrderFactory()
    txn = pay(payflow_integration, order, express=True)
    approval = txn.response["next_action"]["redirect_url"]
    requests.post(approval, data={"decision": "approve"}, allow_redirects=False, timeout=10)
    sim_fault_add(provider="payflow", kind="timeout", operation="express_do", times=1, delay=1.5)
    with monkeypatch.context() as lossy:
        lossy.setattr(PayflowAdapter, "read_timeout", 0.5)
        returned = services.payment_complete(transaction_id=txn.pk)  # the return page: no answer
    assert returned.state == State.ACTION_REQUIRED
    (sale,) = made_at_payflow(1)  # PayPal took the money
    sim_advance_time(provider="payflow", seconds=4 * 3600)  # the token is gone

    done = sweeps.payment_reconcile(transaction_id=txn.pk)

    order.refresh_from_db()
    assert (done.state, done.successful, done.provider_reference) == (State.SUCCEEDED, True, sale["pnref"])
    assert order.payment_status == PaymentStatus.FULL
    assert len(transactions()) == 1


def test_an_express_checkout_never_paid_still_declines_once_the_token_expired(payflow_integration) -> None:
    order = factories.OrderFactory()
    txn = pay(payflow_integration, order, express=True)
    approval = txn.response["next_action"]["redirect_url"]
    requests.post(approval, data={"decision": "approve"}, allow_redirects=False, timeout=10)
    sim_advance_time(provider="payflow", seconds=4 * 3600)
    done = sweeps.payment_reconcile(transaction_id=txn.pk)
    assert (done.state, done.error_code) == (State.DECLINED, "token_expired")
    assert transactions() == []


@pytest.mark.parametrize(
    ("required_amount", "age_days"),
    [(False, 350), (True, 366)],
    ids=["clone whose capture would come too late", "reference authorization after 12 months"],
)
def test_a_kept_validation_payflow_no_longer_references_is_not_reused(
    live_server, settings, required_amount, age_days
) -> None:
    """Payflow lets a PNREF be referenced for 12 months. A kept validation was chosen for the buyer's next payment
    whatever its age: past 12 months, every reference authorization of that buyer declined (RESULT 19) with no
    way to enter the card again; and a clone (checkout "succeeds" without calling Payflow) rested on a validation
    that lapses before the clone's capture, a reference sale up to 29 days later, so the capture would be
    refused after the goods shipped."""
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    integration = payflow_integration_make(
        zero_amount_authorization=True, authorization_for_required_amount=required_amount
    )
    buyer = factories.CustomerUserFactory()
    first = factories.OrderFactory(customer=buyer.customer, customer_user=buyer)
    pay_by_card(integration, first)
    kept = first.transactions.get(action=Action.VALIDATE)
    PaymentTransaction.objects.filter(pk=kept.pk).update(
        active=True, created_at=timezone.now() - timedelta(days=age_days)
    )
    sim_advance_time(provider="payflow", seconds=age_days * 24 * 3600)
    made_before = len(transactions())

    again = factories.OrderFactory(customer=buyer.customer, customer_user=buyer)
    txn = services.payment_purchase(
        order_id=again.pk, method=f"payflow_{integration.pk}", key="purchase-again", return_url=RETURN_URL
    )

    assert (txn.state, txn.source_id, txn.provider_reference[:12]) == (State.ACTION_REQUIRED, None, "securetoken:")
    assert len(transactions()) == made_before  # nothing refers to the old validation


@pytest.mark.parametrize("operation", ["delayed_capture", "credit"])
def test_a_follow_up_whose_answer_was_lost_is_found_by_its_custref_a_month_later(
    payflow_integration, monkeypatch, operation
) -> None:
    """An inquiry by CUSTREF searches the last 30 days unless told when to look. Asked later (staff settling a
    row flagged for them), a capture or credit Payflow carried out was "not found" and sent again: past the 30
    days Payflow keeps request ids, a second credit, or a capture refused (RESULT 111) and recorded as declined
    though the money was taken."""
    order = factories.OrderFactory()
    auth = pay_by_card(payflow_integration, order)
    if operation == "credit":
        auth = services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")
    sim_fault_add(provider="payflow", kind="timeout", operation=operation, times=1, delay=1.5)
    with monkeypatch.context() as lossy:
        lossy.setattr(PayflowAdapter, "read_timeout", 0.5)
        if operation == "credit":
            lost = services.payment_refund(source_id=auth.pk, amount=money("40.00"), key="refund-1")
        else:
            lost = services.payment_capture(source_id=auth.pk, amount=money("40.00"), key="capture-1")
    assert lost.state == State.RESERVED
    made = len(made_at_payflow(3 if operation == "credit" else 2))
    sim_advance_time(provider="payflow", seconds=31 * 24 * 3600)

    done = sweeps.payment_reconcile(transaction_id=lost.pk)

    assert (done.state, done.amount, done.provider_reference) == (
        State.SUCCEEDED,
        Decimal("40.0000"),
        transactions()[-1]["pnref"],
    )
    assert len(transactions()) == made  # nothing sent again
