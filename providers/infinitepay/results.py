"""InfinitePay's replies in our words: genericResponse (STATUS, REF_NO, GUAR_AMT, ERROR_DATA) -> ProviderResult."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from providers.base import ErrorCode, Money, ProviderMisconfigured, ProviderResult, from_minor

#: InfinitePay's ERROR_CD -> (our code, what the buyer or staff read)
ERROR_CODES: dict[str, tuple[ErrorCode, str]] = {
    "CREDIT_CHECK_DENIED": (
        ErrorCode.CARD_DECLINED,
        "InfinitePay did not approve purchase on invoice for this company. Please choose another payment method.",
    ),
    "CREDIT_LIMIT_EXCEEDED": (
        ErrorCode.INSUFFICIENT_FUNDS,
        "This order exceeds the credit InfinitePay grants this company. Please choose another payment method.",
    ),
    "INVALID_CURRENCY": (ErrorCode.UNSUPPORTED_CURRENCY, "InfinitePay does not take this currency."),
    "INVALID_AMOUNT": (ErrorCode.INVALID_AMOUNT, "InfinitePay does not take this amount."),
    "ALREADY_CAPTURED": (ErrorCode.NOT_CAPTURED, "InfinitePay captured this order before."),
    "ORDER_CANCELED": (ErrorCode.ALREADY_VOIDED, "The order was canceled at InfinitePay."),
    "ORDER_NOT_CAPTURED": (
        ErrorCode.INVALID_STATE,
        "InfinitePay activates an order only after it was captured (shipped): capture it first.",
    ),
    "ORDER_NOT_ACTIVATED": (
        ErrorCode.INVALID_STATE,
        "InfinitePay credits only activated (invoiced) orders; cancel an order that is not activated yet.",
    ),
    "ORDER_ACTIVATED": (
        ErrorCode.NOT_CANCELED,
        "The order is activated at InfinitePay: reduce it with a credit note (refund) instead.",
    ),
    "AMOUNT_EXCEEDS_RESERVATION": (
        ErrorCode.AMOUNT_EXCEEDS_AUTHORIZED,
        "The capture is more than InfinitePay reserved for this order.",
    ),
    "AMOUNT_EXCEEDS_OPEN": (
        ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE,
        "The credit note is more than is still open on this order at InfinitePay.",
    ),
    "ORDER_NOT_FOUND": (ErrorCode.UNKNOWN_REFERENCE, "InfinitePay does not know this order."),
    "REF_NO_MISMATCH": (ErrorCode.UNKNOWN_REFERENCE, "InfinitePay's reference does not belong to this order."),
    "ORDER_ID_IN_USE": (ErrorCode.DUPLICATE_TRANSACTION, "InfinitePay has an order with this id already."),
    "DUPLICATE_REQUEST": (
        ErrorCode.DUPLICATE_TRANSACTION,
        "InfinitePay saw this operation before with other terms.",
    ),
    "DUPLICATE_DOC_ID": (ErrorCode.DUPLICATE_TRANSACTION, "InfinitePay applied this credit note before."),
    "INVALID_DATE": (ErrorCode.INVALID_REQUEST, "InfinitePay refused the invoice dates."),
    "MISSING_FIELD": (ErrorCode.INVALID_REQUEST, "InfinitePay misses a field of the request."),
    "INVALID_STATE": (ErrorCode.INVALID_STATE, "The order's state at InfinitePay does not allow this."),
}
#: codes that say our credentials or security code are wrong: a human must fix the integration
MISCONFIGURED = frozenset({"SECURITY_CD_INVALID", "AUTHENTICATION_FAILED"})
#: codes that say the order or operation was there before: the outcome is read back (a retry after a lost reply)
SEEN_BEFORE = frozenset({"ORDER_ID_IN_USE", "DUPLICATE_REQUEST"})
#: codes that say the same request is still being processed: the outcome is open
IN_PROGRESS = frozenset({"REQUEST_IN_PROGRESS"})


@dataclass(frozen=True, slots=True)
class Reply:
    """One RESPONSE, read: STATUS, RESPONSE_DATA's fields and the first error."""

    ok: bool
    data: Mapping[str, Any]
    error_code: str
    error_message: str
    raw: Mapping[str, Any]

    def cents(self, name: str) -> int | None:
        value = self.data.get(name)
        return int(value) if value not in (None, "") and str(value).isdigit() else None

    def money(self, name: str, currency: str) -> Money | None:
        cents = self.cents(name)
        return from_minor(cents, currency) if cents is not None else None


def read(response: Mapping[str, Any]) -> Reply | None:
    """The reply's parts, or None when it has no RESPONSE_DATA.STATUS (then nothing can be said)."""
    data = dict(response.get("RESPONSE_DATA") or {})
    status = str(data.get("STATUS") or "")
    if status not in ("0", "1"):
        return None
    errors = list(response.get("ERROR_DATA") or [])
    first = dict(errors[0]) if errors else {}
    return Reply(
        ok=status == "1",
        data=data,
        error_code=str(first.get("ERROR_CD") or ""),
        error_message=str(first.get("ERROR_MSG") or ""),
        raw=response,
    )


def refusal(reply: Reply, amount: Money, *, reference: str | None, raw: Mapping[str, Any]) -> ProviderResult:
    """A STATUS 0 reply: a decline in our words, `ProviderMisconfigured` for refused credentials, an open outcome
    while the same request is still processed."""
    if reply.error_code in MISCONFIGURED:
        raise ProviderMisconfigured(f"InfinitePay refused the integration's credentials ({reply.error_code})")
    if reply.error_code in IN_PROGRESS:
        return ProviderResult.error(
            ErrorCode.TOO_EARLY, "InfinitePay is still processing this request.", amount=amount, raw=raw
        )
    code, message = ERROR_CODES.get(reply.error_code, (ErrorCode.INVALID_REQUEST, "InfinitePay refused the request."))
    return ProviderResult.declined(code, message, amount=amount, reference=reference, raw=raw)
