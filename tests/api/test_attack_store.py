"""Attacks on the buyer endpoints: other companies' objects, card data anywhere, double submits, abandoned 3-D Secure.
Against the demo shop and the Stripe sandbox on the live server, as the other headless checkout tests."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

import pytest
import requests
from django.db import connection

from checkout.models import CartLine, Checkout, Product
from customers.models import Customer
from orders.models import Order
from orders.services import invoice_create
from payments.models import PaymentTransaction, State
from payments.sweeps import payment_reconcile
from providers.stripe import adapter as stripe_adapter
from providers.stripe.adapter import StripeAdapter
from sandbox.services import sim_fault_add
from sandbox.tasks import sim_webhook_deliver_task
from tests import factories
from tests.api.test_store import THREE_D_SECURE, VISA, acme, globex, shop, stripe_method, stripe_token, to_payment_step
from tests.checkout.conftest import US_ADDRESS

__all__ = ["acme", "globex", "shop"]  # fixtures

pytestmark = pytest.mark.django_db(transaction=True)

CARD = "4111111111111111"


def choose_card(client, shop: str, number: str = VISA):  # noqa: ANN001, ANN201
    return client.post(
        "/api/v1/store/checkout/payment/",
        {"payment_method": stripe_method(client), "payment_data": {"payment_method": stripe_token(shop, number)}},
        format="json",
    )


@pytest.mark.parametrize(
    "body",
    [
        {"billing_address": {**US_ADDRESS, "street": CARD}},
        {"billing_address": {**US_ADDRESS, "street2": "4111 1111 1111 1111"}},
        {"shipping_address": {**US_ADDRESS, "phone": CARD}, "ship_to_billing": False},
    ],
    ids=["street", "street2-spaced", "phone"],
)
def test_card_numbers_in_the_addresses_are_refused_and_not_stored(shop, globex, body):  # noqa: ANN001
    product = Product.objects.get(sku="BOLT-M8")
    globex.post("/api/v1/store/cart/lines/", {"product": product.pk}, format="json")

    response = globex.patch("/api/v1/store/checkout/", body, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "card_data_refused"
    assert "4111" not in response.content.decode()
    assert "4111" not in str(list(Checkout.objects.values()))


@pytest.mark.parametrize(
    "body",
    [
        {"payment_data": {"payment_method": [CARD]}},
        {"payment_data": {"payment_method": "pm_1", "card": {"number": CARD}}},
        {"payment_data": {"payment_method": "pm_1"}, "extra": [{"pan": CARD}]},
        {"payment_data": {"payment_method": "pm_1", CARD: "12/34"}},
    ],
    ids=["list", "nested-object", "list-of-objects", "card-number-as-a-name"],
)
def test_card_numbers_nested_deeper_in_the_payment_step_are_refused(shop, globex, body):  # noqa: ANN001
    to_payment_step(globex)

    response = globex.post(
        "/api/v1/store/checkout/payment/", {"payment_method": stripe_method(globex), **body}, format="json"
    )

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "card_data_refused"
    assert "4111" not in response.content.decode()


def test_a_card_number_sent_with_the_submit_or_an_invoice_payment_is_refused(shop, globex):  # noqa: ANN001
    to_payment_step(globex)
    choose_card(globex, shop)
    order = factories.OrderFactory(customer=Customer.objects.get(name="Globex Trading"), number="INV-ORDER-9")
    invoice = invoice_create(order=order)

    submitted = globex.post(
        "/api/v1/store/checkout/submit/", {"return_url": f"{shop}/done", "card_number": CARD}, format="json"
    )
    paid = globex.post(
        f"/api/v1/store/invoices/{invoice.number}/pay/",
        {"return_url": f"{shop}/done", "payment_data": {"payment_method": "pm_1"}, "notes": [CARD]},
        format="json",
    )

    assert (submitted.status_code, paid.status_code) == (400, 400)
    assert submitted.json()["error"]["code"] == paid.json()["error"]["code"] == "card_data_refused"
    assert not PaymentTransaction.objects.filter(order=order).exists()


def test_another_buyers_cart_line_cannot_be_changed(shop, globex, acme):  # noqa: ANN001
    product = Product.objects.get(sku="BOLT-M8")
    globex.post("/api/v1/store/cart/lines/", {"product": product.pk, "quantity": 2}, format="json")
    line = CartLine.objects.get()

    changed = acme.patch(f"/api/v1/store/cart/lines/{line.pk}/", {"quantity": 500}, format="json")
    removed = acme.patch(f"/api/v1/store/cart/lines/{line.pk}/", {"quantity": 0}, format="json")

    assert changed.status_code in (400, 404)
    assert removed.status_code in (400, 404)
    line.refresh_from_db()
    assert line.quantity == 2


def test_list_filters_do_not_widen_a_buyers_view(shop, globex, acme):  # noqa: ANN001
    globex_company = Customer.objects.get(name="Globex Trading")
    order = factories.OrderFactory(customer=globex_company, number="GLOBEX-1")
    invoice = invoice_create(order=order)

    for path in (
        f"/api/v1/store/orders/?customer={globex_company.pk}",
        f"/api/v1/store/invoices/?customer={globex_company.pk}&order={order.pk}",
    ):
        body = acme.get(path).content.decode()
        assert order.number not in body
        assert invoice.number not in body
    assert acme.get(f"/api/v1/transactions/?order={order.pk}").status_code == 403
    assert acme.get(f"/api/v1/invoices/{invoice.pk}/").status_code == 403


def test_two_submits_at_once_make_one_order_that_takes_money(shop, globex):  # noqa: ANN001
    seeded = set(Order.objects.values_list("pk", flat=True))
    to_payment_step(globex)
    reviewed = choose_card(globex, shop).json()["fingerprint"]
    barrier = threading.Barrier(2)

    def submit(key: str):  # noqa: ANN202
        try:
            barrier.wait(10)
            return globex.post(
                "/api/v1/store/checkout/submit/",
                {"return_url": f"{shop}/done", "reviewed": reviewed},
                format="json",
                HTTP_IDEMPOTENCY_KEY=key,
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(submit, ["tab-1", "tab-2"]))

    assert all(r.status_code in (200, 409) for r in responses), [r.content for r in responses]
    placed = Order.objects.exclude(pk__in=seeded).filter(discarded_at__isnull=True)
    assert placed.count() == 1
    assert PaymentTransaction.objects.filter(order__in=placed, state=State.SUCCEEDED).count() == 1
    assert {r.json()["order"] for r in responses if r.status_code == 200} == {placed.get().number}


def test_one_invoice_paid_twice_at_once_is_charged_once(shop, globex):  # noqa: ANN001
    order = factories.OrderFactory(customer=Customer.objects.get(name="Globex Trading"), number="INV-ORDER-2")
    invoice = invoice_create(order=order)
    tokens = [stripe_token(shop, VISA), stripe_token(shop, VISA)]
    barrier = threading.Barrier(2)

    def pay(index: int):  # noqa: ANN202
        try:
            barrier.wait(10)
            return globex.post(
                f"/api/v1/store/invoices/{invoice.number}/pay/",
                {"return_url": f"{shop}/done", "payment_data": {"payment_method": tokens[index]}},
                format="json",
                HTTP_IDEMPOTENCY_KEY=f"pay-{index}",
            )
        finally:
            connection.close()

    with ThreadPoolExecutor(max_workers=2) as pool:
        responses = list(pool.map(pay, [0, 1]))

    assert sorted(r.status_code for r in responses) == [201, 409], [r.content for r in responses]
    assert PaymentTransaction.objects.filter(invoice=invoice, successful=True).count() == 1


def test_abandoned_3d_secure_then_a_new_card_leaves_one_payment_that_can_take_money(shop, globex):  # noqa: ANN001
    seeded = set(Order.objects.values_list("pk", flat=True))
    to_payment_step(globex)
    choose_card(globex, shop, THREE_D_SECURE)
    first = globex.post("/api/v1/store/checkout/submit/", {"return_url": f"{shop}/done"}, format="json").json()
    assert first["outcome"] == "redirect"

    again = choose_card(globex, shop, VISA)
    assert again.status_code == 200, again.json()
    second = globex.post("/api/v1/store/checkout/submit/", {"return_url": f"{shop}/done"}, format="json").json()
    late = requests.post(first["redirect_url"], data={"outcome": "complete"}, allow_redirects=False, timeout=10)

    assert second["outcome"] == "completed", second
    assert late.status_code in (302, 400, 404, 409)
    new = PaymentTransaction.objects.exclude(order__in=seeded)
    assert new.filter(state__in=[State.SUCCEEDED, State.ACTION_REQUIRED, State.RESERVED]).count() == 1
    assert Order.objects.exclude(pk__in=seeded).filter(discarded_at__isnull=True).count() == 1


def test_unknown_fields_in_a_buyers_request_are_refused(shop, globex):  # noqa: ANN001
    product = Product.objects.get(sku="BOLT-M8")

    added = globex.post("/api/v1/store/cart/lines/", {"product": product.pk, "qty": 5}, format="json")
    patched = globex.patch(
        "/api/v1/store/checkout/", {"billing_address": {**US_ADDRESS, "stret": "1 Main St"}}, format="json"
    )

    assert (added.status_code, added.json()["error"]["field"]) == (400, "qty")
    assert (patched.status_code, patched.json()["error"]["field"]) == (400, "billing_address.stret")
    assert not CartLine.objects.exists()


def lose_stripes_reply(monkeypatch: pytest.MonkeyPatch) -> None:
    """Stripe carries out the next create and its answer never reaches us; its webhook is lost too, so only
    reconcile can tell (otherwise the webhook may settle the row before the timeout, depending on timing)."""
    monkeypatch.setattr(StripeAdapter, "read_timeout", 0.5)
    monkeypatch.setattr(StripeAdapter, "max_network_retries", 0)
    monkeypatch.setattr(stripe_adapter, "SEARCH_AFTER", timedelta(0))  # reconcile may look it up at once
    monkeypatch.setattr(sim_webhook_deliver_task, "delay", lambda delivery_id: None)
    sim_fault_add(provider="stripe", kind="timeout", operation="create", delay=1.5)


def test_a_submit_retried_with_its_key_after_a_lost_reply_pays_once(shop, globex, monkeypatch):  # noqa: ANN001
    """Stripe took the money but its answer was lost: the order is placed, "unconfirmed". A retry with the same key
    replays that (the order is kept: not a failure) and pays nothing again; the order shows what reconcile learnt."""
    seeded = set(PaymentTransaction.objects.values_list("pk", flat=True))
    to_payment_step(globex)
    choose_card(globex, shop)
    lose_stripes_reply(monkeypatch)
    body = {"return_url": f"{shop}/done"}

    first = globex.post("/api/v1/store/checkout/submit/", body, format="json", HTTP_IDEMPOTENCY_KEY="submit-lost")
    assert first.json()["outcome"] == "unconfirmed", first.json()
    [row] = PaymentTransaction.objects.exclude(pk__in=seeded)
    assert row.state == State.RESERVED
    time.sleep(1.5)  # the sandbox finishes the call it held back
    payment_reconcile(transaction_id=row.pk)
    retry = globex.post("/api/v1/store/checkout/submit/", body, format="json", HTTP_IDEMPOTENCY_KEY="submit-lost")

    assert retry.status_code == 200, retry.json()
    assert (retry.json()["outcome"], retry.json()["order"]) == ("unconfirmed", first.json()["order"])
    assert PaymentTransaction.objects.exclude(pk__in=seeded).count() == 1
    mine = globex.get(f"/api/v1/store/orders/{first.json()['order']}/").json()
    assert [p["state"] for p in mine["payments"]] == ["succeeded"]


def test_an_invoice_payment_retried_with_its_key_after_a_lost_reply_shows_the_settled_payment(
    shop, globex, monkeypatch
):  # noqa: ANN001
    order = factories.OrderFactory(customer=Customer.objects.get(name="Globex Trading"), number="INV-ORDER-3")
    invoice = invoice_create(order=order)
    body = {"return_url": f"{shop}/done", "payment_data": {"payment_method": stripe_token(shop, VISA)}}
    lose_stripes_reply(monkeypatch)
    path = f"/api/v1/store/invoices/{invoice.number}/pay/"

    first = globex.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-lost")
    assert first.json()["state"] == State.RESERVED, first.json()
    time.sleep(1.5)  # the sandbox finishes the call it held back
    payment_reconcile(transaction_id=first.json()["id"])
    retry = globex.post(path, body, format="json", HTTP_IDEMPOTENCY_KEY="pay-lost")

    assert retry.status_code == 201, retry.json()
    assert (retry.json()["id"], retry.json()["state"]) == (first.json()["id"], State.SUCCEEDED)
    assert PaymentTransaction.objects.filter(invoice=invoice).count() == 1


def test_a_cart_line_posted_twice_with_one_key_is_added_once(shop, globex):  # noqa: ANN001
    product = Product.objects.get(sku="BOLT-M8")

    for _ in range(2):
        response = globex.post(
            "/api/v1/store/cart/lines/",
            {"product": product.pk, "quantity": 2},
            format="json",
            HTTP_IDEMPOTENCY_KEY="l1",
        )
        assert response.status_code == 201

    assert CartLine.objects.get().quantity == 2
