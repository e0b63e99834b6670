"""Apruve's adapter on its own: the secure hash against a vector written out by hand from providers.md §4.3, the
webhook's two checks (URL token, RSA signature), and what events mean."""

from __future__ import annotations

import base64
import json
from decimal import Decimal

import pytest
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from providers.apruve.adapter import ApruveAdapter
from providers.apruve.client import secure_hash
from providers.base import URL_TOKEN_HEADER, InvalidSignature, MalformedEvent, Money, MovementAction
from sandbox.apruve.keys import PRIVATE_KEY_PEM, PUBLIC_KEY_PEM
from sandbox.apruve.simulator import order_hash

ORDER = {
    "merchant_id": "m1",
    "merchant_order_id": "PO-1",
    "amount_cents": 1300,
    "currency": "USD",
    "tax_cents": 0,
    "shipping_cents": 300,
    "finalize_on_create": True,
    "invoice_on_create": False,
    "order_items": [{"title": "Bolt", "price_total_cents": 1000, "price_ea_cents": 500, "quantity": 2, "sku": "B-1"}],
}
#: §4.3 by hand: the key, then merchant_id, merchant_order_id, amount_cents, currency, tax_cents, shipping_cents,
#: expire_at (none), accepts_payment_terms (none), finalize_on_create, invoice_on_create; then the item's title,
#: plan_code (none), price_total_cents, price_ea_cents, quantity, merchant_notes, description, variant_info (none),
#: sku, vendor, view_product_url (none) -- no delimiter
CONCATENATED = "key123" + "m1" + "PO-1" + "1300" + "USD" + "0" + "300" + "true" + "false" + "Bolt" + "1000500" + "2B-1"
#: sha256 hex of CONCATENATED, computed once outside this code (`printf '%s' … | sha256sum`)
EXPECTED = "6a630a7a63e246411332c8cd531eab2ddea548f0466d5cbe253fc63ffad74753"
TOKEN = "t0ken-of-the-webhook-url-0123456789"


def test_the_secure_hash_follows_the_documented_field_order() -> None:
    assert CONCATENATED == "key123m1PO-11300USD0300truefalseBolt10005002B-1"
    assert secure_hash("key123", ORDER) == EXPECTED


def test_the_sandbox_computes_the_same_hash_independently() -> None:
    assert order_hash("key123", ORDER) == EXPECTED


def test_a_changed_amount_changes_the_hash() -> None:
    assert secure_hash("key123", {**ORDER, "amount_cents": 1}) != EXPECTED
    assert secure_hash("other-key", ORDER) != EXPECTED


def adapter(public_key: str = PUBLIC_KEY_PEM) -> ApruveAdapter:
    return ApruveAdapter(
        {"merchant_id": "m1", "api_key": "k" * 32, "webhook_token": TOKEN, "webhook_public_key": public_key},
        base_url="http://apruve.invalid",
    )


def signed(body: bytes, private_pem: str = PRIVATE_KEY_PEM) -> str:
    key = serialization.load_pem_private_key(private_pem.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)
    return base64.b64encode(key.sign(body, padding.PKCS1v15(), hashes.SHA256())).decode()


def event_body(event: str = "invoice.closed", **entity: object) -> bytes:
    data = {
        "id": "inv1",
        "order_id": "ord1",
        "amount_cents": 3000,
        "currency": "USD",
        "status": "closed",
        "merchant_invoice_id": "backoffice:k1",
    }
    return json.dumps(
        {"uuid": "ev-1", "created_at": "2017-05-11T09:05:09-05:00", "event": event, "entity": {**data, **entity}}
    ).encode()


def test_a_signed_event_with_the_right_token_is_read() -> None:
    body = event_body()
    event = adapter().parse_webhook(body, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: TOKEN})
    assert (event.event_id, event.type, event.provider_reference) == ("ev-1", "invoice.closed", "ord1")
    assert [(m.action, m.provider_reference, m.amount, m.idempotency_key) for m in event.movements] == [
        (MovementAction.CAPTURE, "inv1", Money(Decimal("30.00"), "USD"), "backoffice:k1")
    ]


def test_a_tampered_body_is_refused() -> None:
    body = event_body()
    tampered = body.replace(b"3000", b"9000")
    with pytest.raises(InvalidSignature):
        adapter().parse_webhook(tampered, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: TOKEN})


def test_a_signature_by_another_key_is_refused() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other_pem = other.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    body = event_body()
    with pytest.raises(InvalidSignature):
        adapter().parse_webhook(body, {"X-Apruve-Signature": signed(body, other_pem), URL_TOKEN_HEADER: TOKEN})


def test_an_integration_configured_with_another_public_key_refuses_apruves_signature() -> None:
    other = rsa.generate_private_key(public_exponent=65537, key_size=2048).public_key()
    other_pem = other.public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
    body = event_body()
    with pytest.raises(InvalidSignature):
        adapter(other_pem.decode()).parse_webhook(body, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: TOKEN})


@pytest.mark.parametrize("token", ["", "wrong-token-of-the-webhook-url-000", TOKEN[:-1]])
def test_a_wrong_url_token_is_refused_even_with_a_good_signature(token: str) -> None:
    body = event_body()
    with pytest.raises(InvalidSignature):
        adapter().parse_webhook(body, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: token})


def test_a_missing_or_garbled_signature_is_refused() -> None:
    body = event_body()
    for headers in ({URL_TOKEN_HEADER: TOKEN}, {"X-Apruve-Signature": "not base64!", URL_TOKEN_HEADER: TOKEN}):
        with pytest.raises(InvalidSignature):
            adapter().parse_webhook(body, headers)


def test_a_signed_body_without_uuid_is_malformed() -> None:
    body = b'{"event": "invoice.closed"}'
    with pytest.raises(MalformedEvent):
        adapter().parse_webhook(body, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: TOKEN})


@pytest.mark.parametrize("event", ["payment_term.accepted", "shipment.created"])
def test_events_without_money_are_recorded_with_no_movement(event: str) -> None:
    body = event_body(event)
    parsed = adapter().parse_webhook(body, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: TOKEN})
    assert (parsed.type, parsed.movements) == (event, ())


def test_an_order_accepted_at_apruve_is_the_authorization_of_the_order_with_our_order_number() -> None:
    """The payment may not know the order yet (the page that would post its id back was closed): the event carries
    our order number, by which it is matched."""
    body = event_body("order.accepted", id="ord1", amount_cents=13000, status="accepted", merchant_order_id="1042")
    parsed = adapter().parse_webhook(body, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: TOKEN})
    assert (parsed.provider_reference, parsed.merchant_reference) == ("ord1", "1042")
    assert [(m.action, m.provider_reference, m.amount) for m in parsed.movements] == [
        (MovementAction.AUTHORIZE, "ord1", Money(Decimal("130.00"), "USD"))
    ]
    assert type(parsed).from_dict(parsed.as_dict()) == parsed  # kept in the inbox as it was read


def test_an_order_canceled_at_apruve_is_a_cancel_of_the_order() -> None:
    body = event_body("order.canceled", id="ord1", amount_cents=13000)
    parsed = adapter().parse_webhook(body, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: TOKEN})
    assert parsed.provider_reference == "ord1"
    assert [(m.action, m.amount) for m in parsed.movements] == [
        (MovementAction.CANCEL, Money(Decimal("130.00"), "USD"))
    ]


def test_an_invoice_canceled_at_apruve_is_a_cancel_of_that_invoice() -> None:
    body = event_body("invoice.canceled", status="canceled")
    parsed = adapter().parse_webhook(body, {"X-Apruve-Signature": signed(body), URL_TOKEN_HEADER: TOKEN})
    assert [(m.action, m.provider_reference, m.idempotency_key) for m in parsed.movements] == [
        (MovementAction.CANCEL, "inv1", "backoffice:k1")
    ]
