"""Payflow's replies as our results: RESULT values in our vocabulary, a transaction reply (or an inquiry's ORIG*
fields), and PayPal's pending reasons. `raw` comes scrubbed from the adapter."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from providers.base import ErrorCode, Money, Outcome, ProviderResult

#: RESULT -> (our code, buyer-facing message) for answers that mean "not done" (providers.md §3.3)
DECLINES: dict[int, tuple[ErrorCode, str]] = {
    2: (ErrorCode.CONFIG_ERROR, "This payment type is not enabled for the merchant account."),
    3: (ErrorCode.INVALID_STATE, "Payflow refused the operation for this transaction."),
    4: (ErrorCode.INVALID_AMOUNT, "Payflow refused the amount."),
    6: (ErrorCode.UNSUPPORTED_CURRENCY, "Payflow does not take this currency for the merchant account."),
    7: (ErrorCode.INVALID_REQUEST, "Payflow refused a field of the request."),
    12: (ErrorCode.CARD_DECLINED, "Your card was declined."),
    13: (ErrorCode.CALL_ISSUER, "Your card issuer asks you to call them (referral)."),
    19: (ErrorCode.UNKNOWN_REFERENCE, "Payflow does not know the original transaction."),
    23: (ErrorCode.INCORRECT_NUMBER, "Your card number is invalid."),
    24: (ErrorCode.EXPIRED_CARD, "Your card's expiration date is invalid."),
    30: (ErrorCode.DUPLICATE_TRANSACTION, "Payflow declined a duplicate transaction."),
    50: (ErrorCode.INSUFFICIENT_FUNDS, "Your card has insufficient funds."),
    51: (ErrorCode.EXCEEDS_LIMIT, "The amount exceeds the card's per-transaction limit."),
    104: (ErrorCode.PROCESSING_ERROR, "The card processor did not answer. Please try again."),
    105: (ErrorCode.REFUND_FAILED, "Payflow could not credit this amount (more than is left, or not creditable)."),
    108: (ErrorCode.NOT_CANCELED, "Payflow could not void this transaction (settled or already voided)."),
    111: (ErrorCode.NOT_CAPTURED, "Payflow could not capture (already captured, voided or expired)."),
    112: (ErrorCode.ADDRESS_MISMATCH, "The billing address did not match the card."),
    114: (ErrorCode.INCORRECT_CVC, "Your card's security code is incorrect."),
    125: (ErrorCode.FRAUDULENT, "The payment was declined by fraud filters."),
    128: (ErrorCode.FRAUDULENT, "The payment was declined after fraud review."),
}
FRAUD_REVIEW = 126  # authorized, held for the merchant's review in PayPal Manager: pending
#: general error, not screened: we cannot tell what happened; reconcile asks
UNCLEAR = frozenset({99, 127})
#: PayPal's pending reasons that are a review; any other that is not money yet is PENDING_AT_PROVIDER
REVIEW_REASONS = frozenset({"paymentreview", "regulatoryreview"})


def transaction_result(
    pairs: Mapping[str, str], amount: Money, raw: Mapping[str, Any], *, reference: str | None = None
) -> ProviderResult:
    """A transaction reply (or an inquiry's ORIG* fields) as our result."""
    result = int(pairs.get("ORIGRESULT", pairs["RESULT"]))
    pnref = pairs.get("ORIGPNREF") or pairs.get("PNREF") or reference
    message = pairs.get("RESPMSG", "")
    if result == 0:
        return ProviderResult.succeeded(amount, reference=pnref, message=message, raw=raw)
    if result == FRAUD_REVIEW:
        return ProviderResult.pending(
            amount,
            reference=pnref,
            code=ErrorCode.HELD_FOR_REVIEW,
            message="The payment is held for review by the merchant's fraud filters.",
            raw=raw,
        )
    if result in DECLINES:
        code, text = DECLINES[result]
        if result == 7 and "expired" in message.lower():
            code, text = ErrorCode.TOKEN_EXPIRED, "The payment page expired. Please start the payment again."
        return ProviderResult.declined(code, message or text, amount=amount, reference=pnref, raw=raw)
    if result in UNCLEAR:
        return ProviderResult.error(ErrorCode.UNEXPECTED_RESPONSE, message, amount=amount, reference=pnref, raw=raw)
    # any other RESULT means "not approved"; the RESULT itself stays in raw
    return ProviderResult.declined(
        ErrorCode.CARD_DECLINED, message or "Declined.", amount=amount, reference=pnref, raw=raw
    )


def unreadable(operation: str, amount: Money) -> ProviderResult:
    return ProviderResult.error(
        ErrorCode.UNREADABLE_REPLY, f"Payflow's reply to {operation} could not be read.", amount=amount
    )


def incomplete(pairs: Mapping[str, str], amount: Money, raw: Mapping[str, Any]) -> ProviderResult:
    """An inquiry reply without the transaction's amount: it proves nothing, the row stays open."""
    return ProviderResult.error(
        ErrorCode.INCOMPLETE_REPLY,
        "Payflow's inquiry reply did not say the transaction's amount.",
        amount=amount,
        reference=pairs.get("ORIGPNREF") or None,
        raw=raw,
    )


def express_pending(result: ProviderResult, reason: str) -> ProviderResult:
    """As in the reference: a payment PayPal holds for any reason but an authorization or order (an eCheck
    clearing, a review…) is not money yet. PayPal's reason stays in `raw` (PENDINGREASON)."""
    reason = reason.lower()
    if result.outcome == Outcome.SUCCEEDED and reason not in ("none", "completed", "authorization", "order"):
        return ProviderResult.pending(
            result.amount,
            reference=result.provider_reference,
            code=ErrorCode.HELD_FOR_REVIEW if reason in REVIEW_REASONS else ErrorCode.PENDING_AT_PROVIDER,
            message=f"PayPal holds the payment ({reason}).",
            raw=result.raw,
        )
    return result
