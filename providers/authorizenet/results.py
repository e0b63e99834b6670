"""Authorize.Net's replies as our results: its reason codes in our vocabulary, a transaction reply, and what a
transaction's details say about the operation we asked for. `scrub` masks the integration's secrets."""

from __future__ import annotations

from collections.abc import Callable
from decimal import Decimal
from typing import Any

from providers.authorizenet.client import (
    HELD,
    REFUNDS,
    SETTLED,
    UNSETTLED,
    decimal_of,
    text_of,
    wire_amount,
)
from providers.base import ErrorCode, Money, Outcome, ProviderResult, to_minor

Scrub = Callable[[Any], Any]

#: transaction reason code -> our code (providers.md §2.3); unknown refusals: CARD_DECLINED
REASON_CODES: dict[str, ErrorCode] = {
    "2": ErrorCode.CARD_DECLINED,
    "3": ErrorCode.CARD_DECLINED,
    "4": ErrorCode.PICKUP_CARD,
    "5": ErrorCode.INVALID_AMOUNT,
    "6": ErrorCode.INCORRECT_NUMBER,
    "7": ErrorCode.INVALID_EXPIRY_DATE,
    "8": ErrorCode.EXPIRED_CARD,
    "11": ErrorCode.DUPLICATE_TRANSACTION,
    "16": ErrorCode.UNKNOWN_REFERENCE,
    "17": ErrorCode.CARD_TYPE_NOT_ACCEPTED,
    "19": ErrorCode.PROCESSING_ERROR,
    "20": ErrorCode.PROCESSING_ERROR,
    "21": ErrorCode.PROCESSING_ERROR,
    "22": ErrorCode.PROCESSING_ERROR,
    "23": ErrorCode.PROCESSING_ERROR,
    "27": ErrorCode.ADDRESS_MISMATCH,
    "28": ErrorCode.CARD_TYPE_NOT_ACCEPTED,
    "33": ErrorCode.INVALID_REQUEST,
    "35": ErrorCode.PROCESSING_ERROR,
    "37": ErrorCode.INCORRECT_NUMBER,
    "44": ErrorCode.INCORRECT_CVC,
    "45": ErrorCode.INCORRECT_CVC,
    "47": ErrorCode.AMOUNT_EXCEEDS_AUTHORIZED,
    "54": ErrorCode.REFUND_FAILED,  # not creditable; the adapter says why (settled more than 180 days ago)
    "55": ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE,
    "57": ErrorCode.PROCESSING_ERROR,
    "58": ErrorCode.PROCESSING_ERROR,
    "59": ErrorCode.PROCESSING_ERROR,
    "60": ErrorCode.PROCESSING_ERROR,
    "61": ErrorCode.PROCESSING_ERROR,
    "62": ErrorCode.PROCESSING_ERROR,
    "63": ErrorCode.PROCESSING_ERROR,
    "65": ErrorCode.INCORRECT_CVC,
    "310": ErrorCode.ALREADY_VOIDED,
    "311": ErrorCode.NOT_CAPTURED,
}


def unreadable(amount: Money, operation: str) -> ProviderResult:
    """A reply that is not Authorize.Net's XML: answered, but we cannot tell what happened."""
    return ProviderResult.error(
        ErrorCode.UNREADABLE_REPLY, f"Authorize.Net's reply to {operation} could not be read.", amount=amount
    )


def not_found(amount: Money) -> ProviderResult:
    return ProviderResult.error(ErrorCode.NOT_FOUND, "Authorize.Net has no trace of this request.", amount=amount)


def transaction_result(reply: Any, requested: Money, operation: str, scrub: Scrub) -> ProviderResult:
    """A createTransaction reply as our result. A duplicate refusal (reason 11) with the original's id is
    DUPLICATE_TRANSACTION here; the adapter reads the original back and reports what became of it."""
    response = getattr(reply, "transactionResponse", None)
    top = [(str(m.code), str(m.text)) for m in getattr(reply.messages, "message", [])]
    if response is None or not text_of(response, "responseCode"):
        code, text = top[0] if top else ("", "")
        if code == "E00114":  # the opaque data was used already or expired
            return ProviderResult.declined(
                ErrorCode.INVALID_PAYMENT_DATA,
                "The payment details expired. Please enter them again.",
                amount=requested,
                raw={"result_code": "Error", "code": code},
            )
        raw = {"result_code": str(reply.messages.resultCode), "code": code}
        message = text or "Authorize.Net did not process the request."
        if code.startswith("E"):
            return ProviderResult.declined(ErrorCode.INVALID_REQUEST, message, amount=requested, raw=raw)
        return ProviderResult.error(ErrorCode.UNREADABLE_REPLY, message, amount=requested, raw=raw)
    response_code = text_of(response, "responseCode")
    errors = getattr(getattr(response, "errors", None), "error", None)
    messages = getattr(getattr(response, "messages", None), "message", None)
    if errors is not None and len(errors):
        reason, text = str(errors[0].errorCode), str(errors[0].errorText)
    elif messages is not None and len(messages):
        reason, text = str(messages[0].code), str(messages[0].description)
    else:
        reason, text = "", ""
    trans_id = text_of(response, "transId")
    reference = trans_id if trans_id and trans_id != "0" else None
    raw = scrub(
        {
            "operation": operation,
            "result_code": str(reply.messages.resultCode),
            "response_code": response_code,
            "reason_code": reason,
            "trans_id": trans_id,
            "ref_trans_id": text_of(response, "refTransID"),
            "auth_code": text_of(response, "authCode"),
            "avs_result": text_of(response, "avsResultCode"),
            "cvv_result": text_of(response, "cvvResultCode"),
            "account": text_of(response, "accountNumber"),
            "account_type": text_of(response, "accountType"),
            "amount": to_minor(requested),
            "currency": requested.currency,
            "message": text,
        }
    )
    if response_code == "1":
        return ProviderResult.succeeded(requested, reference=reference, message=text, raw=raw)
    if response_code == "4":
        return ProviderResult.pending(
            requested, reference=reference, code=ErrorCode.HELD_FOR_REVIEW, message=text, raw=raw
        )
    if reason == "11" and reference:  # our own earlier request, or a real duplicate: the adapter tells them apart
        return ProviderResult.declined(
            ErrorCode.DUPLICATE_TRANSACTION, text, amount=requested, reference=reference, raw=raw
        )
    if response_code in ("2", "3"):
        fallback = ErrorCode.CARD_DECLINED if response_code == "2" else ErrorCode.PROCESSING_ERROR
        return ProviderResult.declined(
            REASON_CODES.get(reason, fallback),
            text or "The transaction was declined.",
            amount=requested,
            reference=reference,
            raw=raw,
        )
    return ProviderResult.error(
        ErrorCode.UNEXPECTED_RESPONSE,
        f"Authorize.Net answered response code {response_code}.",
        amount=requested,
        reference=reference,
        raw=raw,
    )


def details_raw(details: Any, requested: Money, scrub: Scrub) -> dict[str, Any]:
    """What we keep of a transaction's details."""
    return scrub(
        {
            "operation": "details",
            "trans_id": text_of(details, "transId"),
            "transaction_type": text_of(details, "transactionType"),
            "status": text_of(details, "transactionStatus"),
            "response_code": text_of(details, "responseCode"),
            "reason_code": text_of(details, "responseReasonCode"),
            "auth_amount": text_of(details, "authAmount"),
            "settle_amount": text_of(details, "settleAmount"),
            "amount": to_minor(requested),
            "currency": requested.currency,
        }
    )


def details_result(details: Any, requested: Money, action: str, scrub: Scrub) -> ProviderResult:
    """What a transaction's details say about our `action` on it."""
    status = text_of(details, "transactionStatus")
    trans_id = text_of(details, "transId")
    currency = requested.currency
    auth_amount = decimal_of(text_of(details, "authAmount"))
    settle_amount = decimal_of(text_of(details, "settleAmount"))
    captured = status in (UNSETTLED, *SETTLED)

    def money(value: Decimal) -> Money:
        raw_amount = Money(value, currency)
        return Money(wire_amount(raw_amount), currency) if value else requested

    def result(outcome: Outcome, amount: Money, code: ErrorCode | None = None, message: str = "") -> ProviderResult:
        raw = details_raw(details, amount, scrub)
        return ProviderResult(outcome, trans_id or None, amount, code, message, raw=raw)

    if action == "refund":
        if status in REFUNDS:
            return result(Outcome.SUCCEEDED, money(settle_amount))
        if status == "declined":
            return result(Outcome.DECLINED, requested, ErrorCode.REFUND_FAILED, "Authorize.Net declined the refund.")
        if status == "voided" and text_of(details, "transactionType") == "refundTransaction":
            # it arrived, and was voided before it settled: nothing went back
            return result(
                Outcome.DECLINED,
                requested,
                ErrorCode.REFUND_VOIDED,
                "The refund was voided at Authorize.Net before it settled: no money went back.",
            )
        return not_found(requested)
    if status in HELD:
        return result(Outcome.PENDING, requested, ErrorCode.HELD_FOR_REVIEW, "Held for review by the fraud filters.")
    if action == "capture":
        if captured:
            return result(Outcome.SUCCEEDED, money(settle_amount))
        if status == "authorizedPendingCapture":
            return not_found(requested)  # the capture never arrived
        return result(Outcome.DECLINED, requested, ErrorCode.NOT_CAPTURED, f"The authorization is {status}.")
    if action == "cancel":
        if status == "voided":
            return result(Outcome.SUCCEEDED, requested)
        if status == "authorizedPendingCapture":
            return not_found(requested)
        return result(Outcome.DECLINED, requested, ErrorCode.NOT_CANCELED, f"The transaction is {status}.")
    # authorize / charge
    if status == "authorizedPendingCapture" or (captured and action == "authorize"):
        return result(Outcome.SUCCEEDED, money(auth_amount))
    if captured or status in ("approvedReview", "refundSettledSuccessfully", "returnedItem", "chargeback"):
        return result(Outcome.SUCCEEDED, money(settle_amount or auth_amount))
    if status == "voided" and action == "authorize":
        return result(Outcome.SUCCEEDED, money(auth_amount))  # authorized, then released
    if status in ("declined", "generalError", "failedReview", "expired", "voided", "settlementError"):
        code = REASON_CODES.get(text_of(details, "responseReasonCode"), ErrorCode.CARD_DECLINED)
        return result(Outcome.DECLINED, requested, code, text_of(details, "responseReasonDescription") or status)
    return result(Outcome.ERROR, requested, ErrorCode.UNEXPECTED_RESPONSE, f"Authorize.Net reports {status}.")
