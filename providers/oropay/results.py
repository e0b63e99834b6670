"""GP-API replies as results (providers.md §6.1–6.2): a transaction's `status` and the issuer's code in
`payment_method.result`, or an error body's `error_code` / `detailed_error_code`."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.base import ErrorCode, Money, ProviderResult, from_minor
from providers.oropay.client import Reply, error_of

#: issuer result codes (ISO 8583, as GP-API passes them in `payment_method.result`) and ACH return reasons
ISSUER_CODES: dict[str, ErrorCode] = {
    "01": ErrorCode.CALL_ISSUER,
    "02": ErrorCode.CALL_ISSUER,
    "04": ErrorCode.PICKUP_CARD,
    "05": ErrorCode.CARD_DECLINED,
    "12": ErrorCode.INVALID_REQUEST,
    "13": ErrorCode.INVALID_AMOUNT,
    "14": ErrorCode.INCORRECT_NUMBER,
    "41": ErrorCode.PICKUP_CARD,
    "43": ErrorCode.PICKUP_CARD,
    "51": ErrorCode.INSUFFICIENT_FUNDS,
    "54": ErrorCode.EXPIRED_CARD,
    "55": ErrorCode.AUTHENTICATION_FAILED,
    "57": ErrorCode.CARD_TYPE_NOT_ACCEPTED,
    "59": ErrorCode.FRAUDULENT,
    "61": ErrorCode.EXCEEDS_LIMIT,
    "62": ErrorCode.CARD_DECLINED,
    "65": ErrorCode.EXCEEDS_LIMIT,
    "82": ErrorCode.INCORRECT_CVC,
    "N7": ErrorCode.INCORRECT_CVC,
    "91": ErrorCode.PROCESSING_ERROR,
    "96": ErrorCode.PROCESSING_ERROR,
    # ACH returns (NACHA reason codes)
    "AUTHENTICATION_FAILED": ErrorCode.AUTHENTICATION_FAILED,
    "R01": ErrorCode.INSUFFICIENT_FUNDS,
    "R09": ErrorCode.INSUFFICIENT_FUNDS,
    "R02": ErrorCode.CARD_DECLINED,
    "R03": ErrorCode.INCORRECT_NUMBER,
    "R04": ErrorCode.INCORRECT_NUMBER,
}
DECLINE_MESSAGES: dict[ErrorCode, str] = {
    ErrorCode.INSUFFICIENT_FUNDS: "The payment was declined: insufficient funds.",
    ErrorCode.EXPIRED_CARD: "The card has expired.",
    ErrorCode.INCORRECT_CVC: "The card's security code is incorrect.",
    ErrorCode.PROCESSING_ERROR: "The card issuer could not be reached. Please try again later.",
}
SUCCEEDED = {"PREAUTHORIZED", "CAPTURED", "BATCHED", "FUNDED"}
OPEN = {"INITIATED", "AUTHENTICATED", "PENDING"}


def amount_of(body: Mapping[str, Any], requested: Money) -> Money:
    """The amount a transaction reports, in its currency; the requested one when a reply leaves it out."""
    value, currency = body.get("amount"), body.get("currency") or requested.currency
    if value in (None, ""):
        return requested
    return from_minor(int(str(value)), str(currency))


def raw_of(body: Mapping[str, Any], requested: Money) -> dict[str, Any]:
    """What staff may see of a transaction: no card or account number is ever in a GP-API reply, only last 4."""
    method = body.get("payment_method") or {}
    card = method.get("card") or {}
    bank = method.get("bank_transfer") or {}
    amount = body.get("amount")
    return {
        "id": body.get("id"),
        "status": body.get("status"),
        "type": body.get("type"),
        "amount": int(str(amount)) if amount not in (None, "") else None,
        "currency": body.get("currency") or requested.currency,
        "reference": body.get("reference"),
        "result": method.get("result"),
        "message": method.get("message"),
        "brand": card.get("brand"),
        "last4": (card.get("masked_number_last4") or bank.get("masked_account_number_last4") or "")[-4:],
        "parent": body.get("parent_resource_id"),
        "action": (body.get("action") or {}).get("type"),
    }


def issuer_code(body: Mapping[str, Any]) -> ErrorCode:
    result = str((body.get("payment_method") or {}).get("result") or "")
    return ISSUER_CODES.get(result, ErrorCode.CARD_DECLINED)


def transaction_result(body: Mapping[str, Any], requested: Money, operation: str) -> ProviderResult:
    """A transaction (created, captured, reversed, refunded or read back) as the result of `operation`."""
    status = str(body.get("status") or "")
    raw = raw_of(body, requested)
    reference = body.get("id") or None
    amount = amount_of(body, requested)
    if not status or not reference:
        return ProviderResult.error(
            ErrorCode.INCOMPLETE_REPLY, "OroPay's answer has no status.", amount=requested, raw=raw
        )
    if status == "REVERSED":
        if operation == "cancel":
            return ProviderResult.succeeded(amount, reference=reference, raw=raw)
        return ProviderResult.declined(
            ErrorCode.CANCELED, "The payment was reversed at OroPay.", amount=amount, reference=reference, raw=raw
        )
    if status in SUCCEEDED:
        if operation == "cancel":  # read back: the hold is still there
            return ProviderResult.declined(
                ErrorCode.NOT_CANCELED, f"OroPay reports {status}.", amount=amount, reference=reference, raw=raw
            )
        return ProviderResult.succeeded(amount, reference=reference, raw=raw)
    challenge = ((body.get("payment_method") or {}).get("authentication") or {}).get("three_ds") or {}
    if status == "INITIATED" and challenge.get("redirect_url"):
        return ProviderResult.action_required(
            amount,
            {"redirect_url": str(challenge["redirect_url"])},
            reference=reference,
            message="The card issuer asks the buyer to authenticate (3-D Secure).",
            raw=raw,
        )
    if status in OPEN:
        return ProviderResult.pending(
            amount,
            reference=reference,
            code=ErrorCode.PENDING_AT_PROVIDER,
            message="OroPay has not settled this payment yet (a bank debit takes a few days).",
            raw=raw,
        )
    if status in ("DECLINED", "REJECTED"):
        code = issuer_code(body)
        message = DECLINE_MESSAGES.get(code, "The payment was declined. Please use another payment method.")
        return ProviderResult.declined(code, message, amount=amount, reference=reference, raw=raw)
    return ProviderResult.error(
        ErrorCode.UNEXPECTED_RESPONSE, f"OroPay reports status {status}.", amount=amount, reference=reference, raw=raw
    )


def error_result(reply: Reply, requested: Money, operation: str, *, reference: str | None = None) -> ProviderResult:
    """A 4xx error body as a result: a refusal of this request (nothing moved), or an open outcome (409)."""
    code, detailed, description = error_of(reply)
    raw = {"http_status": reply.status, "error_code": code, "detailed_error_code": detailed}
    message = description or code or f"HTTP {reply.status}"
    if not code:
        return ProviderResult.error(
            ErrorCode.UNREADABLE_REPLY, f"OroPay answered HTTP {reply.status}.", amount=requested, raw=raw
        )
    if code == "DUPLICATE_ACTION":  # our key arrived before with another body: the first may have moved money
        return ProviderResult.error(
            ErrorCode.IDEMPOTENCY_ERROR, message, amount=requested, reference=reference, raw=raw
        )
    ours: ErrorCode
    if code == "RESOURCE_NOT_FOUND":
        ours = ErrorCode.INVALID_PAYMENT_DATA if operation in ("authorize", "charge") else ErrorCode.UNKNOWN_REFERENCE
    elif detailed == "40029":
        ours = ErrorCode.INVALID_PAYMENT_DATA
    elif detailed == "40087":
        ours = ErrorCode.AMOUNT_EXCEEDS_AUTHORIZED if operation == "capture" else ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE
    elif detailed == "40090":
        ours = {
            "capture": ErrorCode.NOT_CAPTURED,
            "cancel": ErrorCode.NOT_CANCELED,
        }.get(operation, ErrorCode.INVALID_STATE)
    elif detailed == "40006":
        ours = ErrorCode.INVALID_AMOUNT
    else:
        ours = ErrorCode.INVALID_REQUEST
    return ProviderResult.declined(ours, message, amount=requested, reference=reference, raw=raw)
