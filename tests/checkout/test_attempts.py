"""Checkout attempts against the providers' sandboxes: a double click while the provider is still answering, a
buyer who leaves 3-D Secure or a hosted payment page to pay another way, items added while a payment is open.

The buyer is played with Django test clients against the live server, whose sandboxes stand for Stripe and
Payflow; what the buyer's browser does at the provider (the 3-D Secure page, the card form) goes to the sandbox
over HTTP with `requests`.
"""

from __future__ import annotations

import re
import threading
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import requests
from django.db import connection
from django.http import HttpResponse
from django.test import Client
from django.utils import timezone

from checkout import services
from checkout.models import CartLine, Checkout, CheckoutAttempt
from checkout.tasks import checkout_attempts_settle_sweep_task
from core.status import PaymentStatus
from demo.seed import seed_demo
from integrations.models import Integration
from notifications.models import Notice
from orders.models import Invoice, Order
from payment_rules.models import PaymentRule, PaymentRuleMethod
from payments import services as payment_services
from payments import sweeps
from payments.models import Action, PaymentTransaction, State
from sandbox.models import SimIdempotencyKey, SimObject
from sandbox.payflow.simulator import transactions as payflow_transactions
from sandbox.services import sim_fault_add
from tests.checkout.conftest import add, choose, login, to_payment_step
from tests.providers.sandboxes import payflow_post_card
from tests.sandbox_support import wait_until

pytestmark = pytest.mark.django_db(transaction=True)

DECLINED = "We were unable to process your payment."
THREE_D_SECURE = "4000002500003155"
VISA = "4242424242424242"
DECLINED_CARD = "4000000000000002"


@pytest.fixture
def shop(live_server, settings) -> str:  # noqa: ANN001
    """The demo shop on the live server, whose sandboxes stand for the providers (webhooks included)."""
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    seed_demo()
    return live_server.url


@pytest.fixture
def buyer(shop: str) -> Client:
    return login(Client(), "buyer@globex.example")


def method(provider_key: str, variant: str = "") -> str:
    integration = Integration.objects.get(provider_key=provider_key)
    return f"{provider_key}_{integration.pk}" + (f"_{variant}" if variant else "")


def stripe_card(shop: str, number: str) -> str:
    """What Stripe.js does in the browser: the card goes to Stripe (the sandbox), the shop gets a pm_ id."""
    public_key = Integration.objects.get(provider_key="stripe").settings["public_key"]
    reply = requests.post(
        f"{shop}/sandbox/stripe/v1/payment_methods",
        data={"type": "card", "card[number]": number, "card[exp_month]": "12", "card[exp_year]": "2034"},
        headers={"Authorization": f"Bearer {public_key}"},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text
    return reply.json()["id"]


def review_and_submit(client: Client) -> str:
    """Open the review page and press "Submit order" on it, as the browser does; returns where it leads."""
    page = client.get("/checkout/review/")
    assert page.status_code == 200, page.get("Location")
    checkout = page.context["checkout"]
    response = client.post("/checkout/review/", {"checkout": checkout.pk, "attempt": checkout.attempt})
    assert response.status_code == 302, response.content.decode()[-1500:]
    return response["Location"]


def follow(client: Client, location: str) -> str:
    """Where our own redirects end, and the page there (messages included)."""
    while location.startswith("/") or location.startswith("http://testserver"):
        response = client.get(location.removeprefix("http://testserver"))
        if response.status_code != 302:
            return response.content.decode()
        location = response["Location"]
    raise AssertionError(f"left the shop for {location}")


def placed_orders() -> list[Order]:
    return list(Order.objects.placed().filter(customer__name="Globex Trading"))


def our_path(url: str) -> str:
    """A URL of the live server as the test client wants it (path and query)."""
    parts = urlsplit(url)
    return f"{parts.path}?{parts.query}" if parts.query else parts.path


def stripe_intent(pi_id: str) -> dict:
    return SimObject.objects.get(provider="stripe", kind="payment_intent", object_id=pi_id).data


def purchase_creates_sent_to_stripe() -> int:
    return SimIdempotencyKey.objects.filter(provider="stripe", key__startswith="checkout:").count()


# --- item 2: a second "Place order" while the provider is still answering ----------------------------------------


@pytest.mark.skipif(connection.vendor == "sqlite", reason="two requests at once need PostgreSQL's row locks")
@pytest.mark.parametrize("waits", [True, False], ids=["second-waits", "control-second-does-not-wait"])
def test_a_second_submit_while_the_provider_answers_waits_for_its_decline(
    shop: str, waits: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    second_done = threading.Event()
    if not waits:  # the race this guards against: the second submit takes the open row for an answer
        monkeypatch.setattr(services, "_in_flight", lambda attempt: False)
        provider_answer = payment_services._provider_answer

        def answered_after_the_second(*args, **kwargs):  # noqa: ANN002, ANN003, ANN202
            assert second_done.wait(timeout=60)  # however slow the machine, Stripe answers the first one last
            return provider_answer(*args, **kwargs)

        monkeypatch.setattr(payment_services, "_provider_answer", answered_after_the_second)
    first, second = login(Client(), "buyer@globex.example"), login(Client(), "buyer@globex.example")
    add(first, "BOLT-M8", 2)
    to_payment_step(first)
    choose(first, method("stripe"), payment_method=stripe_card(shop, DECLINED_CARD))
    checkout = Checkout.objects.get()
    sim_fault_add(provider="stripe", kind="timeout", operation="create", delay=6)  # Stripe holds its answer 6 s

    def submit(client: Client) -> str:
        try:
            response = client.post("/checkout/review/", {"checkout": checkout.pk, "attempt": 1})
            return response["Location"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        one = pool.submit(submit, first)
        wait_until(lambda: PaymentTransaction.objects.filter(idempotency_key__startswith="checkout:").exists())
        two = pool.submit(submit, second)  # the double click reaches another web worker
        try:
            if not waits:
                two.result()
        finally:
            second_done.set()
        locations = [one.result(), two.result()]

    cart = [(line.product.sku, line.quantity) for line in CartLine.objects.all()]
    if waits:
        assert locations == ["/checkout/payment/", "/checkout/payment/"]
        assert DECLINED in follow(second, locations[1])
        assert "PD-" not in second.get("/account/orders/").content.decode()
        assert placed_orders() == []
        assert cart == [("BOLT-M8", 2)]
        assert Checkout.objects.get().completed_at is None
    else:  # what a second submit that does not wait does: the buyer sees a placed order and an empty cart
        assert locations[1].startswith("/checkout/confirmation/")
        assert cart == []
    assert purchase_creates_sent_to_stripe() == 1


@pytest.mark.skipif(connection.vendor == "sqlite", reason="two requests at once need PostgreSQL's row locks")
def test_a_second_submit_that_waits_too_long_reads_the_outcome_on_the_processing_page(shop: str, settings) -> None:  # noqa: ANN001
    settings.CHECKOUT_SUBMIT_WAIT_SECONDS = 0  # the second submit does not wait at all: the page does
    first, second = login(Client(), "buyer@globex.example"), login(Client(), "buyer@globex.example")
    add(first, "BOLT-M8")
    to_payment_step(first)
    choose(first, method("stripe"), payment_method=stripe_card(shop, VISA))
    checkout = Checkout.objects.get()
    sim_fault_add(provider="stripe", kind="timeout", operation="create", delay=3)

    def submit(client: Client) -> str:
        try:
            return client.post("/checkout/review/", {"checkout": checkout.pk, "attempt": 1})["Location"]
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        one = pool.submit(submit, first)
        wait_until(lambda: PaymentTransaction.objects.filter(idempotency_key__startswith="checkout:").exists())
        waiting = submit(second)
        assert waiting == f"/checkout/processing/{CheckoutAttempt.objects.get().pk}/"
        page = second.get(waiting)
        assert page.status_code == 200
        assert b'http-equiv="refresh"' in page.content
        placed = one.result()

    [order] = placed_orders()
    assert placed == f"/checkout/confirmation/{order.number}/"
    assert second.get(waiting)["Location"] == placed  # the page now reads the first submit's outcome
    assert order.payment_status == PaymentStatus.AUTHORIZED
    assert purchase_creates_sent_to_stripe() == 1


# --- item 3: the buyer leaves 3-D Secure or a hosted page and pays another way ----------------------------------


def leave_a_3ds_challenge(shop: str, client: Client) -> tuple[str, PaymentTransaction]:
    """Submit with a card that asks for 3-D Secure; the buyer is sent to the challenge and does not finish it."""
    add(client, "BOLT-M8")
    to_payment_step(client)
    choose(client, method("stripe"), payment_method=stripe_card(shop, THREE_D_SECURE))
    challenge = review_and_submit(client)
    assert challenge.startswith(f"{shop}/sandbox/stripe/3ds/pi_")
    return challenge, PaymentTransaction.objects.get(state=State.ACTION_REQUIRED)


def complete_challenge(challenge: str) -> str:
    """The buyer finishes 3-D Secure on the issuer's page; returns where it sends the browser back to."""
    reply = requests.post(challenge, data={"outcome": "complete"}, allow_redirects=False, timeout=10)
    assert reply.status_code == 302, reply.text
    return reply.headers["Location"]


def test_another_card_after_leaving_3ds_cancels_the_open_payment_and_pays_with_the_new_card(
    shop: str, buyer: Client
) -> None:
    challenge, old = leave_a_3ds_challenge(shop, buyer)

    choose(buyer, method("stripe"), payment_method=stripe_card(shop, VISA))  # back, and another card
    confirmation = review_and_submit(buyer)

    [order] = placed_orders()
    assert confirmation == f"/checkout/confirmation/{order.number}/"  # not the old challenge again
    assert order.payment_status == PaymentStatus.AUTHORIZED
    new = order.transactions.get()
    assert new.provider_reference != old.provider_reference
    assert new.idempotency_key == f"checkout:{Checkout.objects.get().pk}:2"  # a new attempt, a new key
    assert stripe_intent(old.provider_reference)["status"] == "canceled"
    assert stripe_intent(old.provider_reference)["cancellation_reason"] == "abandoned"
    old.refresh_from_db()
    assert (old.state, old.reason, old.order.discarded_at is not None) == (State.DECLINED, "abandoned", True)
    assert list(CheckoutAttempt.objects.order_by("number").values_list("status", flat=True)) == [
        "abandoned",
        "placed",
    ]

    back = complete_challenge(challenge)  # the old tab: the issuer's page no longer completes it
    page = follow(buyer, our_path(back))
    assert "You changed how to pay after starting this payment, so it was canceled" in page
    assert order.number in page  # the buyer lands on the order that was placed
    assert stripe_intent(old.provider_reference)["status"] == "canceled"
    assert placed_orders() == [order]


def test_another_method_after_leaving_3ds_places_one_order_without_internal_errors(shop: str, buyer: Client) -> None:
    _, old = leave_a_3ds_challenge(shop, buyer)

    choose(buyer, method("money_order"))
    confirmation = review_and_submit(buyer)
    page = follow(buyer, confirmation)

    [order] = placed_orders()
    assert confirmation == f"/checkout/confirmation/{order.number}/"
    assert order.payment_method == method("money_order")
    assert "Thank you for your order" in page
    assert "key" not in page.lower()  # "This request key was already used …" never reaches a buyer
    assert stripe_intent(old.provider_reference)["status"] == "canceled"
    assert Order.objects.filter(customer__name="Globex Trading").count() == 2  # the abandoned one, for staff


def test_a_late_success_of_an_abandoned_3ds_payment_is_canceled_and_staff_are_told(shop: str, buyer: Client) -> None:
    challenge, old = leave_a_3ds_challenge(shop, buyer)
    sim_fault_add(provider="stripe", kind="error_500", operation="cancel", times=2)  # the cancel never gets through

    choose(buyer, method("stripe"), payment_method=stripe_card(shop, VISA))
    review_and_submit(buyer)
    old.refresh_from_db()
    assert (old.state, old.reason) == (State.ACTION_REQUIRED, "abandoned")  # open: Stripe may still complete it

    back = complete_challenge(challenge)  # the buyer finishes the old challenge after all: Stripe authorizes it

    wait_until(lambda: PaymentTransaction.objects.filter(source=old, action=Action.CANCEL, state=State.SUCCEEDED))
    old.refresh_from_db()
    assert (old.state, old.active) == (State.SUCCEEDED, False)  # the money moved; the ledger says so
    assert stripe_intent(old.provider_reference)["status"] == "canceled"  # and gave it back
    assert old.order.payment_status == PaymentStatus.CANCELED
    notice = Notice.objects.get(key=f"released:{old.pk}")
    assert "succeeded later. It was canceled automatically." in notice.message
    [order] = placed_orders()
    assert order.payment_status == PaymentStatus.AUTHORIZED  # the one live payment of the checkout
    assert "so it was canceled" in follow(buyer, our_path(back))


def test_reconcile_ends_an_abandoned_payment_whose_cancel_did_not_get_through(shop: str, buyer: Client) -> None:
    _, old = leave_a_3ds_challenge(shop, buyer)
    sim_fault_add(provider="stripe", kind="error_500", operation="cancel", times=2)
    choose(buyer, method("money_order"))
    review_and_submit(buyer)
    old.refresh_from_db()
    assert (old.state, stripe_intent(old.provider_reference)["status"]) == (State.ACTION_REQUIRED, "requires_action")

    sweeps.payment_reconcile(transaction_id=old.pk)  # an hour on, reconcile finds it still waiting for the buyer

    old.refresh_from_db()
    assert (old.state, old.reason) == (State.DECLINED, "abandoned")
    assert stripe_intent(old.provider_reference)["status"] == "canceled"


def test_payflow_card_page_left_for_another_method_and_used_late_is_voided(shop: str, buyer: Client) -> None:
    add(buyer, "BOLT-M8")
    to_payment_step(buyer)
    choose(buyer, method("payflow"))
    card_page = review_and_submit(buyer)
    assert card_page.startswith(f"{shop}/sandbox/payflow/link/")
    old = PaymentTransaction.objects.get(state=State.ACTION_REQUIRED)

    choose(buyer, method("money_order"))
    confirmation = review_and_submit(buyer)
    [order] = placed_orders()
    assert confirmation == f"/checkout/confirmation/{order.number}/"
    old.refresh_from_db()
    assert (old.state, old.reason) == (State.ACTION_REQUIRED, "abandoned")  # Payflow's token lives 30 minutes

    back = payflow_post_card(old.response["next_action"], "4111111111111111")  # the old card page, used after all
    page = follow(buyer, our_path(back))

    old.refresh_from_db()
    assert (old.state, old.active) == (State.SUCCEEDED, False)
    release = PaymentTransaction.objects.get(source=old, action=Action.CANCEL)
    assert release.state == State.SUCCEEDED
    [authorization] = [t for t in payflow_transactions() if t["pnref"] == old.provider_reference]
    assert authorization["voided"] is True
    assert "so it was canceled" in page
    assert order.number in page
    assert placed_orders() == [order]
    assert Notice.objects.filter(key=f"released:{old.pk}").exists()


def test_payflow_express_left_for_another_method_never_takes_the_money(shop: str, buyer: Client) -> None:
    rule = PaymentRule.objects.create(name="PayPal (USD)", currency="USD", sort_order=1)
    payflow = Integration.objects.get(provider_key="payflow")
    PaymentRuleMethod.objects.create(rule=rule, integration=payflow, method=method("payflow", "express"))
    add(buyer, "BOLT-M8")
    to_payment_step(buyer)
    choose(buyer, method("payflow", "express"))
    approval = review_and_submit(buyer)
    assert approval.startswith(f"{shop}/sandbox/payflow/express/approve")
    old = PaymentTransaction.objects.get(state=State.ACTION_REQUIRED)

    choose(buyer, method("money_order"))
    review_and_submit(buyer)
    old.refresh_from_db()
    assert (old.state, old.error_code) == (State.DECLINED, "abandoned")  # ended: PayPal waits for us to complete

    token = old.provider_reference
    reply = requests.post(approval, data={"token": token, "decision": "approve"}, allow_redirects=False, timeout=10)
    page = follow(buyer, our_path(reply.headers["Location"]))  # the buyer approves on the old PayPal page

    assert "so it was canceled" in page
    assert [t for t in payflow_transactions() if t.get("tender") == "P"] == []  # no DoExpressCheckoutPayment
    assert len(placed_orders()) == 1


# --- item 6: items added to the cart while a redirect payment is open ------------------------------------------


def test_items_added_while_3ds_is_open_stay_in_the_cart_for_the_next_order(shop: str, buyer: Client) -> None:
    challenge, _ = leave_a_3ds_challenge(shop, buyer)
    add(buyer, "WASHER-M8", 3)  # in another tab, while the issuer's page is open
    add(buyer, "BOLT-M8", 2)

    back = complete_challenge(challenge)
    page = follow(buyer, our_path(back))

    [order] = placed_orders()
    assert "Thank you for your order" in page
    assert [(line.sku, int(line.quantity)) for line in order.lines.all()] == [("BOLT-M8", 1)]  # what was paid for
    assert order.payment_status == PaymentStatus.AUTHORIZED
    assert sorted((line.product.sku, line.quantity) for line in CartLine.objects.all()) == [
        ("BOLT-M8", 2),
        ("WASHER-M8", 3),
    ]


# --- the buyer never comes back from the provider's page ----------------------------------------------------------


def test_a_3ds_payment_the_issuer_declined_while_the_buyer_was_away_leaves_no_order(shop: str, buyer: Client) -> None:
    """The buyer fails the issuer's challenge and closes the tab: Stripe's event records the decline, but no return
    page ever runs.

    Defect: the attempt stayed "waiting for the buyer" and its order stayed placed, so the buyer's orders listed
    an order "Payment declined" and staff counted it among placed orders, until the buyer happened to submit
    again. Whichever request sees the answer settles the attempt; for an event, the attempts sweep does."""
    challenge, txn = leave_a_3ds_challenge(shop, buyer)
    reply = requests.post(challenge, data={"outcome": "fail"}, allow_redirects=False, timeout=10)
    assert reply.status_code == 302  # the browser would go back to the shop; this tab was closed instead
    wait_until(lambda: PaymentTransaction.objects.filter(pk=txn.pk, state=State.DECLINED).exists())

    checkout_attempts_settle_sweep_task.apply()

    attempt = CheckoutAttempt.objects.get()
    assert (attempt.status, attempt.reason) == (CheckoutAttempt.Status.DECLINED, "authentication_failed")
    assert attempt.order.number not in buyer.get("/account/orders/").content.decode()
    assert placed_orders() == []
    assert [(line.product.sku, line.quantity) for line in CartLine.objects.all()] == [("BOLT-M8", 1)]
    assert Checkout.objects.get().attempt == 2
    assert "still waiting for" not in buyer.get("/checkout/payment/").content.decode()


def test_a_3ds_payment_completed_while_the_buyer_was_away_places_the_order(shop: str, buyer: Client) -> None:
    """The buyer completes the challenge and the tab closes before our return page: Stripe's event authorizes the
    payment. The attempts sweep places the order and takes what it holds out of the cart, so the paid items are
    not bought again."""
    challenge, txn = leave_a_3ds_challenge(shop, buyer)
    complete_challenge(challenge)  # the redirect back to the shop is never followed
    wait_until(lambda: PaymentTransaction.objects.filter(pk=txn.pk, state=State.SUCCEEDED).exists())

    checkout_attempts_settle_sweep_task.apply()

    [order] = placed_orders()
    assert order.payment_status == PaymentStatus.AUTHORIZED
    assert CheckoutAttempt.objects.get().status == CheckoutAttempt.Status.PLACED
    assert Checkout.objects.get().completed_at is not None
    assert CartLine.objects.count() == 0
    assert order.number in buyer.get("/account/orders/").content.decode()


def test_a_3ds_payment_the_buyer_never_finished_is_ended_after_an_hour_not_left_to_staff(
    shop: str, buyer: Client
) -> None:
    """The buyer closes the 3-D Secure tab and never returns; Stripe keeps such a PaymentIntent waiting for ever.

    Defect: the attempt waited for ever too. Its order stayed on the buyer's list as "Pending payment" and among
    staff's placed orders, reconcile asked Stripe again and again and, some hours on, raised an error notice to
    check the payment in the dashboard: one for every buyer who closed that tab. After an hour the attempts
    sweep ends it as a change of method does (cancelled at Stripe, the order hidden, the cart kept)."""
    challenge, txn = leave_a_3ds_challenge(shop, buyer)
    an_hour_ago = timezone.now() - timedelta(minutes=61)
    CheckoutAttempt.objects.update(updated_at=an_hour_ago)
    PaymentTransaction.objects.filter(pk=txn.pk).update(updated_at=an_hour_ago)

    checkout_attempts_settle_sweep_task.apply()
    for _ in range(sweeps.RECONCILE_MAX_ATTEMPTS):  # and reconcile, for the rest of the day
        sweeps.payment_reconcile(transaction_id=txn.pk)

    txn.refresh_from_db()
    attempt = CheckoutAttempt.objects.get()
    assert (attempt.status, attempt.reason) == (CheckoutAttempt.Status.ABANDONED, "expired")
    assert (txn.state, txn.needs_attention) == (State.DECLINED, False)
    assert stripe_intent(txn.provider_reference)["status"] == "canceled"
    assert not Notice.objects.filter(order=txn.order).exists()
    assert placed_orders() == []
    assert txn.order.number not in buyer.get("/account/orders/").content.decode()
    assert [(line.product.sku, line.quantity) for line in CartLine.objects.all()] == [("BOLT-M8", 1)]

    back = complete_challenge(challenge)  # the buyer comes back the next day and finds the old page
    page = follow(buyer, our_path(back))
    assert "was not completed in time, so it was canceled" in page
    assert placed_orders() == []


# --- an invoice payment the buyer left at 3-D Secure --------------------------------------------------------------


def pay_invoice(client: Client, invoice: Invoice, payment_method: str) -> HttpResponse:
    page = client.get(f"/account/invoices/{invoice.number}/").content.decode()
    key = re.search(r'name="key" value="([0-9a-f-]+)"', page)
    assert key is not None, "no Pay form on the invoice page"
    return client.post(
        f"/account/invoices/{invoice.number}/pay/", {"key": key[1], "payment_data[payment_method]": payment_method}
    )


def test_an_invoice_whose_3ds_payment_was_left_is_paid_with_another_card_once(shop: str) -> None:
    """The buyer pays an invoice with a card that asks for 3-D Secure, leaves the challenge, and comes back to the
    invoice to pay with another card.

    Defect: the payment left waiting blocked the invoice for good: no Pay form ("being paid"), and Stripe keeps
    such a payment waiting for ever, so the invoice could never be paid online again (and reconcile ended in an
    error notice for staff). Paying again ends the payment left behind (Stripe cancels it) and pays with the new
    card, with a new key; the old challenge, completed later, takes nothing."""
    acme = login(Client(), "buyer@acme.example")
    invoice = Invoice.objects.get(status=Invoice.Status.OPEN)  # seeded for ACME
    challenge = pay_invoice(acme, invoice, stripe_card(shop, THREE_D_SECURE))["Location"]
    assert challenge.startswith(f"{shop}/sandbox/stripe/3ds/pi_")
    old = invoice.transactions.get()
    page = acme.get(f"/account/invoices/{invoice.number}/").content.decode()
    assert "the payment provider is still waiting for you. If you pay with other payment details" in page

    paid = pay_invoice(acme, invoice, stripe_card(shop, VISA))  # back on the invoice, another card

    assert paid["Location"] == f"/account/invoices/{invoice.number}/"
    invoice.refresh_from_db()
    old.refresh_from_db()
    assert (invoice.status, invoice.payment_status) == (Invoice.Status.PAID, PaymentStatus.FULL)
    assert (old.state, old.reason) == (State.DECLINED, "abandoned")
    assert stripe_intent(old.provider_reference)["status"] == "canceled"
    new = invoice.transactions.get(state=State.SUCCEEDED)
    assert new.idempotency_key != old.idempotency_key

    complete_challenge(challenge)  # the old tab, later: the issuer's page no longer completes it
    assert stripe_intent(old.provider_reference)["status"] == "canceled"
    assert invoice.transactions.filter(successful=True).count() == 1


def test_an_invoice_payment_left_at_3ds_is_ended_by_reconcile_not_left_to_staff(shop: str) -> None:
    """The buyer leaves an invoice's 3-D Secure challenge and never comes back.

    Defect: reconcile asked Stripe again and again (the PaymentIntent waits for ever) and, some hours on, raised
    an error notice asking staff to check the payment in the dashboard, for what is only a buyer who left. The
    first time reconcile finds it still waiting (an hour on) it ends it at Stripe; the invoice stays payable."""
    acme = login(Client(), "buyer@acme.example")
    invoice = Invoice.objects.get(status=Invoice.Status.OPEN)
    pay_invoice(acme, invoice, stripe_card(shop, THREE_D_SECURE))
    txn = invoice.transactions.get()
    PaymentTransaction.objects.filter(pk=txn.pk).update(updated_at=timezone.now() - timedelta(minutes=61))

    for _ in range(sweeps.RECONCILE_MAX_ATTEMPTS):
        for due in sweeps.transactions_due_for_reconcile():
            sweeps.payment_reconcile(transaction_id=due)
        PaymentTransaction.objects.filter(next_reconcile_at__isnull=False).update(next_reconcile_at=timezone.now())

    txn.refresh_from_db()
    assert (txn.state, txn.reason, txn.needs_attention) == (State.DECLINED, "abandoned", False)
    assert stripe_intent(txn.provider_reference)["status"] == "canceled"
    assert not Notice.objects.filter(order=invoice.order, level=Notice.Level.ERROR).exists()
    invoice.refresh_from_db()
    assert invoice.status == Invoice.Status.OPEN
    assert "Pay this invoice" in acme.get(f"/account/invoices/{invoice.number}/").content.decode()
