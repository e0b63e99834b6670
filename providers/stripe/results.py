"""Stripe's replies as our results: its error codes in our vocabulary, and each object (PaymentIntent, refund)
as what it says about the operation we asked for. `scrub` masks the integration's secrets in what is kept."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from providers.base import ErrorCode, Money, ProviderResult
from providers.stripe.client import from_stripe, id_of, is_int

Scrub = Callable[[Any], Any]

#: Stripe's decline reasons (`code` or `decline_code` of a card error) we can name; any other is CARD_DECLINED
DECLINE_CODES: dict[str, ErrorCode] = {
    "card_declined": ErrorCode.CARD_DECLINED,
    "do_not_honor": ErrorCode.CARD_DECLINED,
    "insufficient_funds": ErrorCode.INSUFFICIENT_FUNDS,
    "lost_card": ErrorCode.PICKUP_CARD,
    "stolen_card": ErrorCode.PICKUP_CARD,
    "pickup_card": ErrorCode.PICKUP_CARD,
    "call_issuer": ErrorCode.CALL_ISSUER,
    "expired_card": ErrorCode.EXPIRED_CARD,
    "incorrect_cvc": ErrorCode.INCORRECT_CVC,
    "invalid_cvc": ErrorCode.INCORRECT_CVC,
    "incorrect_number": ErrorCode.INCORRECT_NUMBER,
    "invalid_number": ErrorCode.INCORRECT_NUMBER,
    "invalid_expiry_month": ErrorCode.INVALID_EXPIRY_DATE,
    "invalid_expiry_year": ErrorCode.INVALID_EXPIRY_DATE,
    "processing_error": ErrorCode.PROCESSING_ERROR,
    "fraudulent": ErrorCode.FRAUDULENT,
    "authentication_required": ErrorCode.AUTHENTICATION_REQUIRED,
}
#: codes of Stripe's invalid-request errors (400/404) we can name; any other is INVALID_REQUEST
REQUEST_CODES: dict[str, ErrorCode] = {
    "payment_intent_unexpected_state": ErrorCode.INVALID_STATE,
    "charge_not_captured": ErrorCode.INVALID_STATE,
    "charge_already_captured": ErrorCode.NOT_CAPTURED,
    "charge_already_refunded": ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE,
    "charge_disputed": ErrorCode.CHARGE_DISPUTED,
    "resource_missing": ErrorCode.UNKNOWN_REFERENCE,
    "amount_too_large": ErrorCode.INVALID_AMOUNT,
    "amount_too_small": ErrorCode.INVALID_AMOUNT,
    "payment_intent_authentication_failure": ErrorCode.AUTHENTICATION_FAILED,
    "authentication_required": ErrorCode.AUTHENTICATION_REQUIRED,
}


def normalise_decline(code: str | None, decline_code: str | None) -> ErrorCode:
    """Stripe's (code, decline_code) as one of our codes: the specific reason when there is one."""
    if decline_code in DECLINE_CODES and decline_code != "card_declined":
        return DECLINE_CODES[decline_code]
    if code in DECLINE_CODES:
        return DECLINE_CODES[code]
    return ErrorCode.CARD_DECLINED


def payment_error_code(error: Mapping[str, Any]) -> ErrorCode:
    """A PaymentIntent's `last_payment_error` as our code: a failed 3-D Secure step, or the card's decline."""
    code = error.get("code")
    if code == "payment_intent_authentication_failure":
        return ErrorCode.AUTHENTICATION_FAILED
    return normalise_decline(code, error.get("decline_code"))


def declined_by_card(body: Mapping[str, Any], user_message: str | None, amount: Money, scrub: Scrub) -> ProviderResult:
    """A card error (402): the issuer's decline."""
    error = body.get("error", {})
    return ProviderResult.declined(
        normalise_decline(error.get("code"), error.get("decline_code")),
        error.get("message") or user_message or "Your card was declined.",
        amount=amount,
        reference=id_of(error.get("payment_intent")),
        raw=scrub({"error": error_summary(error)}),
    )


def refused_request(
    code: str | None, body: Mapping[str, Any], user_message: str | None, amount: Money, scrub: Scrub
) -> ProviderResult:
    """An invalid-request error: refused before anything moved (a bad state, an amount too large, no such
    object). Stripe's own code stays in `raw`."""
    error = body.get("error", {})
    return ProviderResult.declined(
        REQUEST_CODES.get(code or "", ErrorCode.INVALID_REQUEST),
        user_message or "",
        amount=amount,
        reference=id_of(error.get("payment_intent")),
        raw=scrub(body),
    )


def names_missing_customer(result: ProviderResult) -> bool:
    """Whether Stripe refused because the Customer we named no longer exists."""
    error = (result.raw or {}).get("error") or {}
    return result.error_code == ErrorCode.UNKNOWN_REFERENCE and error.get("param") == "customer"


def not_expressible(amount: Money) -> ProviderResult:
    return ProviderResult.declined(
        ErrorCode.INVALID_AMOUNT, f"Stripe cannot take {amount} in this currency.", amount=amount
    )


def incomplete(reference: str | None, requested: Money, raw: Any) -> ProviderResult:
    """An answer that leaves out what we need to record it: keep the row open (with the reference, when there
    is one) and read it back later. Money may have moved."""
    return ProviderResult.error(
        ErrorCode.INCOMPLETE_REPLY,
        "Stripe's answer left out the amount or status; the payment is read back from Stripe later.",
        amount=requested,
        reference=reference,
        raw=raw,
    )


def unexpected_status(reference: str | None, requested: Money, status: Any, raw: Any) -> ProviderResult:
    return ProviderResult.error(
        ErrorCode.UNEXPECTED_RESPONSE,
        f"Stripe reports the payment as {status}.",
        amount=requested,
        reference=reference,
        raw=raw,
    )


def payment_result(pi: Mapping[str, Any], requested: Money, scrub: Scrub) -> ProviderResult:
    """A PaymentIntent after create/confirm (or read back): authorized, charged, waiting or failed."""
    status = pi.get("status")
    raw = scrub(pi_summary(pi))
    reference = id_of(pi.get("id"))
    customer = id_of(pi.get("customer"))
    if reference is None:
        return incomplete(None, requested, raw)
    currency = str(pi.get("currency") or requested.currency).upper()
    if status in ("requires_capture", "succeeded"):
        field = "amount_capturable" if status == "requires_capture" else "amount_received"
        amount = pi.get(field)
        if not is_int(amount):
            return incomplete(reference, requested, raw)
        return ProviderResult.succeeded(
            from_stripe(amount, currency), reference=reference, raw=raw, customer_reference=customer
        )
    if status == "processing":
        return ProviderResult.pending(requested, reference=reference, raw=raw, customer_reference=customer)
    if status == "requires_action":
        next_action = pi.get("next_action") or {}
        redirect = (next_action.get("redirect_to_url") or {}).get("url", "")
        return ProviderResult.action_required(
            requested,
            {"type": "redirect", "redirect_url": redirect} if redirect else {"type": "use_stripe_sdk"},
            reference=reference,
            message="The card issuer asks the buyer to confirm the payment (3-D Secure).",
            raw=raw,
            customer_reference=customer,
        )
    error = pi.get("last_payment_error") or {}
    if status == "requires_payment_method" and error:
        return ProviderResult.declined(
            payment_error_code(error), error.get("message", ""), amount=requested, reference=reference, raw=raw
        )
    if status == "canceled":
        return ProviderResult.declined(
            ErrorCode.CANCELED,
            "The payment was canceled before it completed.",
            amount=requested,
            reference=reference,
            raw=raw,
        )
    if status is None:
        return incomplete(reference, requested, raw)
    return unexpected_status(reference, requested, status, raw)


def capture_result(pi: Mapping[str, Any], requested: Money, scrub: Scrub) -> ProviderResult:
    """A PaymentIntent after a capture (or read back for one)."""
    status = pi.get("status")
    raw = scrub(pi_summary(pi))
    reference = id_of(pi.get("id"))
    if status == "succeeded":
        amount = pi.get("amount_received")
        charge = id_of(pi.get("latest_charge"))
        if not is_int(amount) or not pi.get("currency") or charge is None:
            return incomplete(reference, requested, raw)
        # the capture is known by its charge, which later refunds act on
        return ProviderResult.succeeded(from_stripe(amount, str(pi["currency"]).upper()), reference=charge, raw=raw)
    if status == "processing":
        return ProviderResult.pending(requested, reference=reference, raw=raw)
    if status in ("requires_capture", "canceled"):
        return ProviderResult.declined(
            ErrorCode.NOT_CAPTURED,
            f"Stripe did not capture the payment (status {status}).",
            amount=requested,
            reference=reference,
            raw=raw,
        )
    if status is None:
        return incomplete(reference, requested, raw)
    return unexpected_status(reference, requested, status, raw)


def cancel_result(pi: Mapping[str, Any], requested: Money, scrub: Scrub) -> ProviderResult:
    """A PaymentIntent after a cancel (or read back for one)."""
    raw = scrub(pi_summary(pi))
    reference = id_of(pi.get("id"))
    status = pi.get("status")
    if status == "canceled":
        return ProviderResult.succeeded(requested, reference=reference, raw=raw)
    if status is None:
        return incomplete(reference, requested, raw)
    return ProviderResult.declined(
        ErrorCode.NOT_CANCELED,
        f"Stripe did not cancel the payment (status {status}).",
        amount=requested,
        reference=reference,
        raw=raw,
    )


def refund_result(refund: Mapping[str, Any], requested: Money, scrub: Scrub) -> ProviderResult:
    """A Refund object: done, on its way, or failed (Stripe's `failure_reason` stays in `raw`)."""
    status = refund.get("status")
    raw = scrub(refund_summary(refund))
    reference = id_of(refund.get("id"))
    value = refund.get("amount")
    if reference is None or status is None or not is_int(value):
        return incomplete(reference, requested, raw)
    amount = from_stripe(value, str(refund.get("currency") or requested.currency).upper())
    if status == "succeeded":
        return ProviderResult.succeeded(amount, reference=reference, raw=raw)
    if status in ("pending", "requires_action"):
        return ProviderResult.pending(amount, reference=reference, raw=raw)
    return ProviderResult.declined(
        ErrorCode.REFUND_FAILED, f"Stripe could not refund ({status}).", amount=amount, reference=reference, raw=raw
    )


def error_summary(error: Mapping[str, Any]) -> dict[str, Any]:
    """What we keep of a Stripe error: its kind and codes, never the payment method."""
    return {k: error.get(k) for k in ("type", "code", "decline_code", "message", "charge") if error.get(k)} | {
        "payment_intent": id_of(error.get("payment_intent"))
    }


def pi_summary(pi: Mapping[str, Any]) -> dict[str, Any]:
    """What we keep of a PaymentIntent: no client secret, no payment method details."""
    error = pi.get("last_payment_error") or {}
    return {
        "id": pi.get("id"),
        "object": pi.get("object"),
        "status": pi.get("status"),
        "amount": pi.get("amount"),
        "amount_capturable": pi.get("amount_capturable"),
        "amount_received": pi.get("amount_received"),
        "currency": pi.get("currency"),
        "capture_method": pi.get("capture_method"),
        "customer": id_of(pi.get("customer")),
        "latest_charge": id_of(pi.get("latest_charge")),
        "cancellation_reason": pi.get("cancellation_reason"),
        "next_action": (pi.get("next_action") or {}).get("type"),
        "last_payment_error": error_summary(error) if error else None,
        "livemode": pi.get("livemode"),
    }


def refund_summary(refund: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "object", "status", "amount", "currency", "charge", "payment_intent", "reason", "failure_reason")
    return {k: refund.get(k) for k in keys}
