"""The payment step: a PO number carried to the order, "authorize" wording for authorize-only methods, and every
method's form in the frame that expands only the chosen one."""

from __future__ import annotations

import re
from pathlib import Path

from django.contrib.staticfiles import finders
from django.test import Client

from checkout.models import Checkout
from integrations.models import Integration
from orders.models import Order
from tests.checkout.conftest import add, choose, to_payment_step


def money_order() -> str:
    return f"money_order_{Integration.objects.get(provider_key='money_order').pk}"


def submit(client: Client) -> Order:
    checkout = Checkout.objects.get(completed_at__isnull=True)
    response = client.post("/checkout/review/", {"checkout": checkout.pk, "attempt": checkout.attempt})
    assert response["Location"].startswith("/checkout/confirmation/"), response["Location"]
    return Order.objects.get(number=response["Location"].rstrip("/").rsplit("/", 1)[1])


def test_the_po_number_goes_from_the_payment_step_to_the_order_and_its_pages(acme: Client) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, money_order())
    response = acme.post("/checkout/payment/", {"payment_method": money_order(), "po_number": "  PO 4410/B  "})
    assert response["Location"] == "/checkout/review/"
    review = acme.get("/checkout/review/").content.decode()
    assert "PO 4410/B" in review
    order = submit(acme)
    assert order.po_number == "PO 4410/B"
    assert order.checkout_context().po_number == "PO 4410/B"  # what providers are handed
    for page in (f"/checkout/confirmation/{order.number}/", f"/account/orders/{order.number}/"):
        assert re.search(r"<dt>PO number</dt><dd>PO 4410/B</dd>", acme.get(page).content.decode()), page


def test_an_order_without_a_po_number_shows_none(acme: Client) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, money_order())
    order = submit(acme)
    assert order.po_number == ""
    assert "PO number" not in acme.get(f"/account/orders/{order.number}/").content.decode()


def test_a_bad_po_number_is_refused_with_a_message_and_nothing_changes(acme: Client) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    before = Checkout.objects.values("payment_method", "po_number").get(completed_at__isnull=True)
    for bad in ("PO&AMT=1", "x" * 26, "<script>"):
        response = acme.post("/checkout/payment/", {"payment_method": money_order(), "po_number": bad})
        assert response.status_code == 400
        page = response.content.decode()
        assert "Please correct the PO number." in page
        assert "Use letters, digits" in page or "at most 25 characters" in page
    assert Checkout.objects.values("payment_method", "po_number").get(completed_at__isnull=True) == before


def test_the_payment_step_has_a_labelled_po_number_field(acme: Client) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    page = acme.get("/checkout/payment/").content.decode()
    assert '<label for="id_po_number">PO number</label>' in page
    assert 'maxlength="25"' in page


def test_every_method_sits_in_the_frame_that_expands_only_the_chosen_one(acme: Client) -> None:
    """The mechanism is the stylesheet's rule on `.payment-method` (a browser test shows it at work): each
    method's widget must sit in a `.widget-frame` next to its radio button."""
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    page = acme.get("/checkout/payment/").content.decode()
    methods = re.findall(r'<input type="radio" id="pm-([a-z_0-9]+)"', page)
    assert len(methods) >= 2
    stylesheet = finders.find("storefront/storefront.css")
    assert stylesheet is not None
    stylesheet = Path(stylesheet).read_text()
    assert ".payment-method:has(> .radio > input[type=radio]:not(:checked)) > .widget-frame { display: none; }" in (
        stylesheet
    )


def test_review_says_authorize_for_an_authorize_only_method(acme: Client, card: str) -> None:
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    payment = acme.get("/checkout/payment/").content.decode()
    assert "authorized now, charged later" in payment
    choose(acme, card, token="tok_ok")
    review = acme.get("/checkout/review/").content.decode()
    assert "Total to authorize" in review
    assert "is <strong>authorized</strong> (held) on your account" in review


def test_review_does_not_say_authorize_for_a_method_that_charges(acme: Client, card: str) -> None:
    Integration.objects.filter(provider_key="fakegw").update(payment_action=Integration.PaymentAction.CHARGE)
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, card, token="tok_ok")
    review = acme.get("/checkout/review/").content.decode()
    assert "authorize" not in review.lower()


def test_review_does_not_say_authorize_for_an_offline_method(acme: Client) -> None:
    Integration.objects.filter(provider_key="money_order").update(payment_action=Integration.PaymentAction.AUTHORIZE)
    add(acme, "BOLT-M8")
    to_payment_step(acme)
    choose(acme, money_order())
    assert "authorize" not in acme.get("/checkout/review/").content.decode().lower()
