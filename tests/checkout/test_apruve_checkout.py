"""Apruve at checkout, through our views: the return page shows the lightbox, takes the order id the browser
posts only once Apruve confirms it is this order's (amount, currency, order number), and a closed lightbox
returns the buyer to the payment step with the attempt ended."""

from __future__ import annotations

import json
from decimal import Decimal

import pytest
from django.test import Client

from checkout.models import Checkout, CheckoutAttempt
from demo.seed import seed_demo
from integrations.models import Integration
from orders.models import Order, PaymentStatus
from payments import services
from payments.models import Action, PaymentTransaction, State
from payments.selectors import order_account
from sandbox.profiles import apruve_buyer_accepts
from sandbox.services import sim_count, sim_get
from tests import factories
from tests.checkout.conftest import add, choose, login, to_payment_step

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def globex(live_server, settings) -> Client:  # noqa: ANN001
    settings.SITE_URL = live_server.url
    settings.SANDBOX_BASE_URL = f"{live_server.url}/sandbox"
    seed_demo()
    return login(Client(), "buyer@globex.example")


def apruve() -> Integration:
    return Integration.objects.get(provider_key="apruve")


def to_lightbox(client: Client) -> tuple[str, PaymentTransaction]:
    add(client, "BOLT-M8")
    to_payment_step(client)
    choose(client, f"apruve_{apruve().pk}")
    checkout = Checkout.objects.get(completed_at__isnull=True)
    response = client.post("/checkout/review/", {"checkout": checkout.pk})
    return_path = response["Location"].split("testserver")[-1]
    assert return_path.startswith("/checkout/return/")
    page = client.get(return_path)
    assert page.status_code == 200
    assert "apruve.setOrder(order, hash)" in page.content.decode()
    return return_path, PaymentTransaction.objects.get(action=Action.AUTHORIZE)


def base(live_server) -> str:  # noqa: ANN001
    return f"{live_server.url}/sandbox/apruve"


def test_the_order_id_of_another_order_is_refused_then_the_right_one_places_the_order(globex, live_server) -> None:  # noqa: ANN001
    return_path, txn = to_lightbox(globex)
    other = factories.OrderFactory(subtotal=Decimal("1.00"), customer=txn.order.customer)
    other_offer = services.payment_purchase(
        order_id=other.pk, method=txn.payment_method, key="other-offer", return_url="http://shop.test/r/"
    )
    cheap = apruve_buyer_accepts(
        base(live_server),
        other_offer.response["next_action"]["order"],
        other_offer.response["next_action"]["secure_hash"],
    )
    refused = globex.post(return_path, {"reference": cheap})
    assert refused.status_code == 400
    assert "Apruve did not confirm this purchase" in refused.content.decode()
    txn.refresh_from_db()
    assert (txn.state, txn.provider_reference, txn.order.payment_status) == (
        State.ACTION_REQUIRED,
        "",
        PaymentStatus.PENDING,
    )
    action = txn.response["next_action"]
    tampered = {**json.loads(action["order"]), "amount_cents": 100}  # the amount changed in the browser
    assert apruve_buyer_accepts(base(live_server), json.dumps(tampered), action["secure_hash"]) == ""
    assert sim_count("apruve", "order") == 1  # Apruve made no order for the tampered offer

    right = apruve_buyer_accepts(base(live_server), action["order"], action["secure_hash"])
    placed = globex.post(return_path, {"reference": right})
    order = Order.objects.get(pk=txn.order_id)
    assert placed["Location"] == f"/checkout/confirmation/{order.number}/"
    assert (order.payment_status, order.transactions.get().provider_reference) == (PaymentStatus.AUTHORIZED, right)


def test_closing_the_lightbox_ends_the_attempt_and_reopens_the_payment_step(globex) -> None:  # noqa: ANN001
    return_path, txn = to_lightbox(globex)
    response = globex.post(return_path, {"closed": "1"})
    assert response["Location"] == "/checkout/payment/"
    txn.refresh_from_db()
    assert (txn.state, txn.successful) == (State.DECLINED, False)
    assert CheckoutAttempt.objects.get().status == CheckoutAttempt.Status.ABANDONED
    assert "You closed the payment window without paying." in globex.get("/checkout/payment/").content.decode()


def test_a_payment_that_takes_no_answer_from_the_browser_refuses_one(globex) -> None:  # noqa: ANN001
    return_path, txn = to_lightbox(globex)
    PaymentTransaction.objects.filter(pk=txn.pk).update(response={"next_action": {"type": "redirect"}})
    assert globex.post(return_path, {"reference": "0" * 32}).status_code == 400


def test_confirming_in_another_window_after_closing_this_one_cancels_it_and_tells_the_buyer(
    globex, live_server
) -> None:  # noqa: ANN001
    """The buyer closed the lightbox here (the payment ended), then confirmed in another window, whose page posts
    the order id back: Apruve's order is canceled and the buyer is back at the payment step, told why."""
    return_path, txn = to_lightbox(globex)
    action = txn.response["next_action"]
    assert globex.post(return_path, {"closed": "1"})["Location"] == "/checkout/payment/"
    accepted = apruve_buyer_accepts(base(live_server), action["order"], action["secure_hash"])

    response = globex.post(return_path, {"reference": accepted})

    assert (response.status_code, response["Location"]) == (302, "/checkout/payment/")
    assert "does not count and is canceled" in globex.get("/checkout/payment/").content.decode()
    assert sim_get("apruve", "order", accepted).data["status"] == "canceled"
    txn.refresh_from_db()
    assert (txn.state, txn.successful) == (State.DECLINED, False)
    order = Order.objects.get(pk=txn.order_id)
    account = order_account(order=order)
    assert (account.held, account.taken, account.payable) == (0, 0, order.total)


def test_an_order_id_posted_for_an_ended_payment_that_apruve_does_not_confirm_cancels_nothing(
    globex,
    live_server,  # noqa: ANN001
) -> None:
    return_path, txn = to_lightbox(globex)
    assert globex.post(return_path, {"closed": "1"})["Location"] == "/checkout/payment/"
    other = factories.OrderFactory(subtotal=Decimal("1.00"), customer=txn.order.customer)
    other_offer = services.payment_purchase(
        order_id=other.pk, method=txn.payment_method, key="other-offer", return_url="http://shop.test/r/"
    )
    elsewhere = apruve_buyer_accepts(
        base(live_server),
        other_offer.response["next_action"]["order"],
        other_offer.response["next_action"]["secure_hash"],
    )
    response = globex.post(return_path, {"reference": elsewhere})  # another order's id, named by the browser
    assert response.status_code == 302
    assert sim_get("apruve", "order", elsewhere).data["status"] != "canceled"
