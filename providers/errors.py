"""The one vocabulary of error codes an adapter reports (`ProviderResult.error_code`, `EventMovement.error_code`).

Modelled on ActiveMerchant's standard error codes: each provider's own codes (reason codes, RESULT values, decline
codes) are mapped onto these inside its adapter, so the ledger, the back-office and the storefront read one code
whatever the provider. Each member has one meaning; the provider's own code stays in `raw` for staff. Re-exported
by `providers.base`. The contract suite checks that every adapter's codes are members.
"""

from __future__ import annotations

import enum


class ErrorCode(enum.StrEnum):
    """Why a provider did not do what we asked, or why its answer leaves the outcome open."""

    # --- the card or account was refused (DECLINED) ---------------------------------------------------------------
    #: refused by the issuer or the provider with no more specific reason we map
    CARD_DECLINED = "card_declined"
    INSUFFICIENT_FUNDS = "insufficient_funds"
    #: the amount is over the card's per-transaction limit
    EXCEEDS_LIMIT = "exceeds_limit"
    #: the card number is wrong or does not exist
    INCORRECT_NUMBER = "incorrect_number"
    #: the expiry date given is not valid
    INVALID_EXPIRY_DATE = "invalid_expiry_date"
    EXPIRED_CARD = "expired_card"
    #: the security code (CVC, CVV2) is malformed or does not match
    INCORRECT_CVC = "incorrect_cvc"
    #: the billing address or ZIP does not match the card (AVS)
    ADDRESS_MISMATCH = "address_mismatch"
    #: the issuer asks the buyer to call them (a referral)
    CALL_ISSUER = "call_issuer"
    #: the issuer asks to keep the card: lost or stolen
    PICKUP_CARD = "pickup_card"
    #: the issuer or processor failed to process it; trying again later may work
    PROCESSING_ERROR = "processing_error"
    #: refused by fraud filters
    FRAUDULENT = "fraudulent"
    #: the buyer must authenticate (3-D Secure), which an off-session payment cannot ask for
    AUTHENTICATION_REQUIRED = "authentication_required"
    #: the buyer's authentication step (3-D Secure) failed
    AUTHENTICATION_FAILED = "authentication_failed"
    #: the card's brand is one the integration or the merchant account does not take
    CARD_TYPE_NOT_ACCEPTED = "card_type_not_accepted"
    #: the amount cannot be taken: too small, too large, or finer than the currency allows at this provider
    INVALID_AMOUNT = "invalid_amount"
    #: the merchant account does not take this currency
    UNSUPPORTED_CURRENCY = "unsupported_currency"

    # --- what the browser produced ------------------------------------------------------------------------------
    #: no token or opaque data came with the payment
    MISSING_PAYMENT_DATA = "missing_payment_data"
    #: the token or opaque data was used already or expired
    INVALID_PAYMENT_DATA = "invalid_payment_data"
    #: the buyer's payment page (a secure token, an approval token) expired before the buyer paid
    TOKEN_EXPIRED = "token_expired"  # noqa: S105 - a code, not a secret

    # --- the request or the account ------------------------------------------------------------------------------
    #: the provider refused a field of the request
    INVALID_REQUEST = "invalid_request"
    #: the merchant account is not set up for this (a payment type not enabled, a check that failed)
    CONFIG_ERROR = "config_error"
    #: the provider refused our credentials; a human must fix the integration
    PROVIDER_MISCONFIGURED = "provider_misconfigured"
    #: the provider refused a request identical to one it has seen (and we could not read back the first)
    DUPLICATE_TRANSACTION = "duplicate_transaction"
    #: our idempotency key reached the provider before with other terms; the first request may have moved money
    IDEMPOTENCY_ERROR = "idempotency_error"
    #: the provider refused the request for its rate limit (HTTP 429) before doing anything: try again later
    RATE_LIMITED = "rate_limited"

    # --- follow-ups on a transaction ------------------------------------------------------------------------------
    #: the provider does not know the transaction this operation refers to (or its reference is not known to us)
    UNKNOWN_REFERENCE = "unknown_reference"
    #: the transaction is not in a state that allows this operation
    INVALID_STATE = "invalid_state"
    #: the provider did not capture (already captured, voided or expired)
    NOT_CAPTURED = "not_captured"
    #: the provider did not cancel (void) the transaction (settled, or in another state)
    NOT_CANCELED = "not_canceled"
    #: the transaction was voided before: nothing is held any more
    ALREADY_VOIDED = "already_voided"
    #: the capture asks for more than the authorization holds
    AMOUNT_EXCEEDS_AUTHORIZED = "amount_exceeds_authorized"
    #: the refund asks for more than is left to refund
    AMOUNT_EXCEEDS_REFUNDABLE = "amount_exceeds_refundable"
    #: the provider did not refund (or the refund failed after it was accepted)
    REFUND_FAILED = "refund_failed"
    #: the payment is not settled yet, and before settlement only a void of the whole is possible
    PARTIAL_REFUND_BEFORE_SETTLEMENT = "partial_refund_before_settlement"
    #: too long after settlement for the provider to refund
    REFUND_PERIOD_OVER = "refund_period_over"
    #: a refund was voided at the provider before it settled: no money went back
    REFUND_VOIDED = "refund_voided"
    #: the buyer's bank disputes the payment (a chargeback): no refund while the dispute is open
    CHARGE_DISPUTED = "charge_disputed"
    #: the payment was canceled (at the provider, or by us) before it completed
    CANCELED = "canceled"

    # --- the outcome is open (PENDING or ERROR): the row stays for reconcile -----------------------------------
    #: held for the merchant's review by fraud filters; the review's decision settles it
    HELD_FOR_REVIEW = "held_for_review"
    #: the provider holds the payment for another reason (an eCheck clearing, a currency to accept)
    PENDING_AT_PROVIDER = "pending_at_provider"
    #: we refused what the provider approved and voiding it was not confirmed: money may still be held
    VOID_FAILED = "void_failed"
    #: the reply could not be read at all
    UNREADABLE_REPLY = "unreadable_reply"
    #: the reply left out what we need to record it (amount, status)
    INCOMPLETE_REPLY = "incomplete_reply"
    #: the reply says something we do not map (a status, a response code)
    UNEXPECTED_RESPONSE = "unexpected_response"
    #: the operation may still be on its way to the provider; ask again later
    TOO_EARLY = "too_early"
    #: fetch_status: the provider has no trace of the operation; it never arrived and no money moved
    NOT_FOUND = "not_found"

    # --- offline methods ------------------------------------------------------------------------------------------
    #: Payment Terms: the customer resolves to no payment term
    NO_PAYMENT_TERM = "no_payment_term"

    # --- recorded by the ledger, not by an adapter ------------------------------------------------------------------
    #: the buyer left this payment to pay another way, and it was ended at the provider
    ABANDONED = "abandoned"
    #: staff checked at the provider and found that no money moved
    RESOLVED_NO_MONEY_MOVED = "resolved_no_money_moved"

    @classmethod
    def read(cls, value: str | None) -> ErrorCode | None:
        """A code as stored before (an event in the inbox, a row's `error_code`): its member, or the member that
        replaced a provider's own code when the vocabulary was introduced; CARD_DECLINED for any other code, which
        only ever named a refusal."""
        if not value:
            return None
        try:
            return cls(value)
        except ValueError:
            return _REPLACED.get(value, cls.CARD_DECLINED)


#: codes adapters reported before this vocabulary, and the member each became
_REPLACED: dict[str, ErrorCode] = {
    "fraud_review": ErrorCode.HELD_FOR_REVIEW,
    "missing_payment_method": ErrorCode.MISSING_PAYMENT_DATA,
    "transaction_not_found": ErrorCode.UNKNOWN_REFERENCE,
    "capture_failed": ErrorCode.NOT_CAPTURED,
    "not_cancelable": ErrorCode.NOT_CANCELED,
    "incomplete_inquiry": ErrorCode.INCOMPLETE_REPLY,
    "unexpected_status": ErrorCode.UNEXPECTED_RESPONSE,
    "lost_card": ErrorCode.PICKUP_CARD,
    "stolen_card": ErrorCode.PICKUP_CARD,
    "invalid_cvc": ErrorCode.INCORRECT_CVC,
    "invalid_expiry_month": ErrorCode.INVALID_EXPIRY_DATE,
    "invalid_expiry_year": ErrorCode.INVALID_EXPIRY_DATE,
    "not_processed": ErrorCode.REFUND_FAILED,
    "not_refundable": ErrorCode.INVALID_STATE,
    "check_failed": ErrorCode.CONFIG_ERROR,
    "tender_not_enabled": ErrorCode.CONFIG_ERROR,
    "invalid_transaction": ErrorCode.INVALID_STATE,
    "missing_field": ErrorCode.INVALID_REQUEST,
    "not_settled": ErrorCode.REFUND_FAILED,
    "payment_intent_unexpected_state": ErrorCode.INVALID_STATE,
    "resource_missing": ErrorCode.UNKNOWN_REFERENCE,
    "stripe_error": ErrorCode.UNEXPECTED_RESPONSE,
}
