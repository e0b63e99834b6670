"""Checkout attempts under two tabs at once, against the Stripe sandbox on the live server, with real threads.

The buyer is two logins of the same user (two browser tabs); what the buyer's browser does at the provider (the
3-D Secure page) goes to the sandbox over HTTP. Where a race needs one request to stand still at a given point,
a hook holds its thread there until the other tab has done its part: the interleaving is forced, the requests,
locks, provider calls and webhooks are the real ones.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from contextlib import contextmanager
from typing import Any

import pytest
from django.db import connection
from django.test import Client

from checkout import services
from checkout.models import Checkout, CheckoutAttempt
from core.status import PaymentStatus
from orders.models import Order
from payments import abandonment
from payments.models import PaymentTransaction, State
from tests.checkout.conftest import US_ADDRESS, add, choose, login, prefixed, to_payment_step
from tests.checkout.test_attempts import (
    VISA,
    complete_challenge,
    follow,
    leave_a_3ds_challenge,
    method,
    our_path,
    placed_orders,
    review_and_submit,
    shop,  # noqa: F401 - fixture
    stripe_card,
    stripe_intent,
)
from tests.checkout.test_failed_attempts import submit

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(connection.vendor == "sqlite", reason="two requests at once need PostgreSQL's row locks"),
]


@contextmanager
def held_at(monkeypatch: pytest.MonkeyPatch, module: Any, name: str) -> Iterator[tuple[threading.Event, ...]]:
    """Hold the first thread that calls `module.name` there until `go` is set; `arrived` says it got there."""
    arrived, go = threading.Event(), threading.Event()
    original: Callable[..., Any] = getattr(module, name)
    first = threading.Lock()

    def hold(*args: Any, **kwargs: Any) -> Any:
        if first.acquire(blocking=False):
            arrived.set()
            assert go.wait(timeout=60), "the other tab never finished"
        return original(*args, **kwargs)

    monkeypatch.setattr(module, name, hold)
    try:
        yield arrived, go
    finally:
        go.set()


def in_thread(pool: ThreadPoolExecutor, call: Callable[[], Any]):  # noqa: ANN201
    def run() -> Any:
        try:
            return call()
        finally:
            connection.close()

    return pool.submit(run)


def test_the_old_challenge_completed_while_another_card_ends_it_leaves_no_placed_order_without_its_payment(
    shop: str,  # noqa: F811
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Tab A waits at 3-D Secure; in tab B the buyer enters another card, which ends A's payment (Stripe cancels
    the PaymentIntent). Between our intent to end it (written on the row) and the cancel reaching Stripe, the
    buyer completes the challenge in tab A and its return page runs.

    Defect: the return page placed A's order (checkout completed, cart emptied, "Thank you"), and the cancel
    that arrived next released A's hold: a placed order that holds no money, and the buyer's new card never
    used. The tab that ends the attempt decides: the return page waits for that decision instead.
    """
    tab_a, tab_b = login(Client(), "buyer@globex.example"), login(Client(), "buyer@globex.example")
    challenge, old = leave_a_3ds_challenge(shop, tab_a)
    new_card = stripe_card(shop, VISA)

    with held_at(monkeypatch, abandonment, "adapter_for") as (arrived, go), ThreadPoolExecutor(1) as pool:
        change = in_thread(
            pool,
            lambda: tab_b.post(
                "/checkout/payment/", {"payment_method": method("stripe"), "payment_data[payment_method]": new_card}
            ),
        )
        assert arrived.wait(timeout=30)  # tab B wrote its intent and is about to ask Stripe to cancel
        old.refresh_from_db()
        assert (old.state, old.reason) == (State.ACTION_REQUIRED, "abandoned")

        back = complete_challenge(challenge)  # tab A: the issuer's page, then our return page
        assert stripe_intent(old.provider_reference)["status"] == "requires_capture"
        page_a = follow(tab_a, our_path(back))
        go.set()
        changed = change.result()

    old.refresh_from_db()
    assert stripe_intent(old.provider_reference)["status"] == "canceled"  # tab B's cancel did reach Stripe
    for order in placed_orders():  # whatever the buyer was told, a placed order holds its money
        assert order.payment_status == PaymentStatus.AUTHORIZED, (order.number, order.payment_status)
    assert "We are confirming your payment with the payment provider." in page_a  # tab A waited for tab B
    assert changed["Location"] == "/checkout/review/"  # tab B decided: A's attempt ended, the new card is next
    assert placed_orders() == []
    assert old.order.discarded_at is not None
    assert CheckoutAttempt.objects.get(number=1).status == CheckoutAttempt.Status.ABANDONED
    assert Checkout.objects.get().completed_at is None
    assert "so it was canceled" in follow(tab_a, f"/checkout/processing/{CheckoutAttempt.objects.get().pk}/")
    live = PaymentTransaction.objects.filter(order__customer__name="Globex Trading", state=State.SUCCEEDED, active=True)
    assert live.count() == 0  # nothing of the checkout holds money until the new card is submitted

    confirmation = review_and_submit(tab_b)

    [order] = placed_orders()
    assert confirmation == f"/checkout/confirmation/{order.number}/"
    assert order.payment_status == PaymentStatus.AUTHORIZED
    assert live.count() == 1


def test_a_step_saved_in_another_tab_while_an_attempt_is_declined_does_not_bring_that_attempt_back(
    acme: Client, card: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Tab B saves the shipping method; the step read the checkout before tab A's submit was declined, and
    writes it after (the payment rules run in between).

    Defect: the step saved every field of the checkout it had read, so the declined attempt's number came back
    and every later "Submit order" failed on that number with a server error (the attempt's key exists). A
    step now writes only what it changed, under the checkout lock, and nothing to a checkout completed
    meanwhile.
    """
    tab_b = login(Client(), "buyer@acme.example")
    add(acme, "BOLT-M8", 2)
    to_payment_step(acme)
    choose(acme, card, token="tok_decline")

    with held_at(monkeypatch, services, "checkout_method_applicable") as (arrived, go), ThreadPoolExecutor(1) as pool:
        saving = in_thread(pool, lambda: tab_b.post("/checkout/shipping-method/", {"shipping_method": "flat_rate"}))
        assert arrived.wait(timeout=30)  # tab B read the checkout and is running the payment rules
        assert submit(acme)["Location"] == "/checkout/payment/"  # tab A: declined, the next attempt opens
        go.set()
        assert saving.result()["Location"] == "/checkout/payment/"

    checkout = Checkout.objects.get()
    assert (checkout.attempt, checkout.order_id, checkout.shipping_method) == (2, None, "flat_rate")
    choose(acme, card, token="tok_ok")
    acme.raise_request_exception = False
    response = submit(acme)

    [order] = Order.objects.placed().filter(payment_method=card)
    assert response["Location"] == f"/checkout/confirmation/{order.number}/"
    assert order.payment_status == PaymentStatus.AUTHORIZED
    assert list(CheckoutAttempt.objects.order_by("number").values_list("number", "status")) == [
        (1, "declined"),
        (2, "placed"),
    ]


def test_a_step_saved_in_another_tab_after_the_order_was_placed_leaves_the_checkout_completed(
    acme: Client, card: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As above, but tab A's submit placed the order. Defect: the step's write reopened the completed checkout
    and dropped its order (and brought back the payment details it had emptied), as if nothing was placed."""
    tab_b = login(Client(), "buyer@acme.example")
    add(acme, "BOLT-M8", 2)
    to_payment_step(acme)
    choose(acme, card, token="tok_ok")

    with held_at(monkeypatch, services, "checkout_method_applicable") as (arrived, go), ThreadPoolExecutor(1) as pool:
        saving = in_thread(pool, lambda: tab_b.post("/checkout/billing/", prefixed("billing", US_ADDRESS)))
        assert arrived.wait(timeout=30)
        placed = submit(acme)["Location"]
        go.set()
        saving.result()

    [order] = Order.objects.placed().filter(payment_method=card)
    assert placed == f"/checkout/confirmation/{order.number}/"
    completed = Checkout.objects.get(order=order)
    assert completed.completed_at is not None
    assert completed.payment_data == {}
    assert Checkout.objects.filter(completed_at__isnull=True).exclude(pk=completed.pk).count() <= 1
