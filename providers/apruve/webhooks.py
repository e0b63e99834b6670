"""Apruve's webhooks (providers.md §4.5): the URL token, the RSA signature, and the movements an event reports.

Two checks, both required: the secret token in the webhook URL's path (the view passes it as
`URL_TOKEN_HEADER`, never the sender), and `X-Apruve-Signature`, base64 of an RSA SHA-256 (PKCS#1 v1.5)
signature over the raw body, verified with Apruve's public key.
"""

from __future__ import annotations

import base64
import binascii
import hmac
import json
from collections.abc import Mapping
from typing import Any

from cryptography.exceptions import InvalidSignature as BadRsaSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from providers.base import (
    URL_TOKEN_HEADER,
    EventMovement,
    InvalidSignature,
    MalformedEvent,
    Money,
    MovementAction,
    WebhookEvent,
    from_minor,
    header,
)

SIGNATURE_HEADER = "X-Apruve-Signature"
#: the events this integration acts on; the others are stored and ignored
HANDLED_EVENTS = ("invoice.closed", "invoice.canceled", "order.accepted", "order.canceled")
#: what to enable at Apruve for this endpoint (the reference's set, and invoice.canceled, which we record)
EVENTS = ("invoice.closed", "invoice.canceled", "order.accepted", "order.canceled", "payment_term.accepted")


def public_key_of(pem: str) -> rsa.RSAPublicKey:
    """Apruve's public key from its PEM text; ValueError when it is not an RSA public key."""
    try:
        key = serialization.load_pem_public_key(pem.strip().encode("ascii"))
    except (ValueError, UnicodeEncodeError, TypeError) as exc:
        raise ValueError("not a PEM public key") from exc
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError("not an RSA public key")
    return key


def verify(body: bytes, headers: Mapping[str, str], *, token: str, public_key_pem: str) -> None:
    """Raise `InvalidSignature` unless the URL token matches and the body carries Apruve's signature."""
    sent_token = header(headers, URL_TOKEN_HEADER) or ""
    if not token or not hmac.compare_digest(sent_token.encode(), token.encode()):
        raise InvalidSignature("Apruve webhook with a wrong URL token")
    signature = header(headers, SIGNATURE_HEADER) or ""
    if not signature or not public_key_pem:
        raise InvalidSignature("Apruve webhook without signature, or no public key configured")
    try:
        raw_signature = base64.b64decode(signature.strip(), validate=True)
        public_key_of(public_key_pem).verify(raw_signature, body, padding.PKCS1v15(), hashes.SHA256())
    except (binascii.Error, ValueError, BadRsaSignature) as exc:
        raise InvalidSignature("Apruve webhook signature does not verify") from exc


def _cents(entity: Mapping[str, Any], currency: str) -> Money | None:
    value = entity.get("amount_cents")
    if isinstance(value, bool) or not isinstance(value, int):
        return None
    return from_minor(value, currency)


def event_of(body: bytes) -> WebhookEvent:
    """A verified body as the movements it reports: `invoice.closed` is the capture of that invoice (its id is the
    capture's reference; `merchant_invoice_id` is our key of the invoice), `invoice.canceled` its cancel (what it
    billed is the authorization's again), `order.accepted` the authorization of the order and `order.canceled` its
    release; anything else is recorded and ignored (payment_term.accepted, as the reference).

    An order event carries our order number (`merchant_order_id`) as the event's `merchant_reference`: the buyer
    may accept in a tab whose page never posts the order id back, so the payment does not know the order yet (or
    was ended meanwhile, and the order must then be canceled)."""
    try:
        data = json.loads(body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise MalformedEvent("not an Apruve event") from exc
    if not isinstance(data, dict) or not isinstance(data.get("uuid"), str) or not data["uuid"]:
        raise MalformedEvent("an Apruve event without uuid")
    type_ = str(data.get("event") or "")
    found = data.get("entity")
    entity: dict[str, Any] = found if isinstance(found, dict) else {}
    currency = str(entity.get("currency") or "USD")
    amount = _cents(entity, currency)
    movements: list[EventMovement] = []
    reference: str | None = None
    merchant_reference: str | None = None
    if type_.startswith("invoice."):
        reference = str(entity.get("order_id") or "") or None
        invoice_id = str(entity.get("id") or "")
        key = str(entity.get("merchant_invoice_id") or "") or None
        if type_ == "invoice.closed" and invoice_id and amount is not None:
            movements.append(EventMovement(MovementAction.CAPTURE, invoice_id, amount, idempotency_key=key))
        elif type_ == "invoice.canceled" and invoice_id and amount is not None:  # nothing collected on it
            movements.append(EventMovement(MovementAction.CANCEL, invoice_id, amount, idempotency_key=key))
    elif type_.startswith("order."):
        reference = str(entity.get("id") or "") or None
        merchant_reference = str(entity.get("merchant_order_id") or "") or None
        if type_ == "order.accepted" and reference and amount is not None:
            movements.append(EventMovement(MovementAction.AUTHORIZE, reference, amount))
        elif type_ == "order.canceled" and reference and amount is not None:
            movements.append(EventMovement(MovementAction.CANCEL, reference, amount))
    return WebhookEvent(
        event_id=data["uuid"],
        type=type_,
        provider_reference=reference,
        amount=amount,
        data={"created_at": data.get("created_at"), "entity": entity},
        movements=tuple(movements),
        merchant_reference=merchant_reference,
    )
