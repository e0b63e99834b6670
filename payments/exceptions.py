"""The one error type a user sees when a payment operation is refused. Rendered alike everywhere."""

from __future__ import annotations

import enum


class RefusalCode(enum.StrEnum):
    """Why we refused a payment operation before anything was sent (`PaymentRefused.code`), one meaning each.

    The provider's own refusals are `providers.base.ErrorCode`; these are our rules'.
    """

    #: the order or invoice is paid, or being paid, already
    ALREADY_PAID = "already_paid"
    #: the amount is zero or less
    AMOUNT_NOT_POSITIVE = "amount_not_positive"
    #: the amount has more places than its currency allows
    AMOUNT_PRECISION = "amount_precision"
    #: the amount is more than what is left to capture, cancel or refund (pending rows counted)
    AMOUNT_EXCEEDS_AVAILABLE = "amount_exceeds_available"
    #: the amount is in another currency than the payment
    CURRENCY_MISMATCH = "currency_mismatch"
    #: the request's idempotency key was used for a different operation
    IDEMPOTENCY_KEY_REUSED = "idempotency_key_reused"
    #: an earlier payment of the order or invoice is still waiting for its outcome
    PAYMENT_IN_PROGRESS = "payment_in_progress"
    #: the order (or invoice) is settled: nothing is left to pay, capture or re-authorize
    ORDER_SETTLED = "order_settled"
    #: the invoice is not open for payment (paid, void)
    INVOICE_NOT_OPEN = "invoice_not_open"
    #: the invoice already has a payment, so it cannot be changed
    INVOICE_HAS_PAYMENT = "invoice_has_payment"
    #: the payment method does not exist or is switched off
    METHOD_UNAVAILABLE = "method_unavailable"
    #: the payment method's rules or provider do not allow it for this order
    METHOD_NOT_APPLICABLE = "method_not_applicable"
    #: the transaction named does not exist
    UNKNOWN_TRANSACTION = "unknown_transaction"
    #: the transaction cannot be captured (its kind, its state, its provider)
    NOT_CAPTURABLE = "not_capturable"
    NOTHING_TO_CAPTURE = "nothing_to_capture"
    #: the provider captures only the whole authorization
    PARTIAL_CAPTURE_UNSUPPORTED = "partial_capture_unsupported"
    #: the transaction cannot be canceled (its kind, its state, its provider)
    NOT_CANCELABLE = "not_cancelable"
    NOTHING_TO_CANCEL = "nothing_to_cancel"
    #: an invoice was sent against the authorization, which the provider then no longer cancels (Apruve)
    INVOICED = "invoiced"
    #: no invoice can be sent for the transaction (its kind, its state, its provider)
    NOT_INVOICEABLE = "not_invoiceable"
    #: everything authorized was invoiced or released already
    NOTHING_TO_INVOICE = "nothing_to_invoice"
    #: the transaction cannot be refunded (its kind, its state, its provider)
    NOT_REFUNDABLE = "not_refundable"
    NOTHING_TO_REFUND = "nothing_to_refund"
    #: the provider refunds only the whole payment
    PARTIAL_REFUND_UNSUPPORTED = "partial_refund_unsupported"
    #: the authorization cannot be renewed (its provider, its state)
    NOT_REAUTHORIZABLE = "not_reauthorizable"
    NOTHING_TO_REAUTHORIZE = "nothing_to_reauthorize"
    #: staff must give the provider's reference of the payment that went through
    REFERENCE_REQUIRED = "reference_required"
    #: a payment waiting for staff cannot be released from here (no reference, or the provider cannot cancel)
    NOT_RELEASABLE = "not_releasable"
    #: the provider did not cancel the payment staff asked to release
    NOT_CANCELED = "not_canceled"
    #: the payment is not waiting for staff
    NOT_FLAGGED = "not_flagged"
    #: the provider cannot be reached now; nothing was changed, try again
    PROVIDER_UNAVAILABLE = "provider_unavailable"
    #: the transaction cannot be activated (its kind, its state, its provider)
    NOT_ACTIVATABLE = "not_activatable"
    #: an invoice payment is activated only once it was captured (the goods shipped)
    NOT_CAPTURED = "not_captured"
    ALREADY_ACTIVATED = "already_activated"
    #: the provider refunds (credits) an invoice payment only once it was activated (the invoice issued)
    NOT_ACTIVATED = "not_activated"
    #: the activation names no invoice number, or one too long for the provider
    INVALID_INVOICE_NUMBER = "invalid_invoice_number"


class PaymentRefused(Exception):
    """A refusal the user can act on (amount too high, nothing left to capture, wrong currency…).

    Nothing was changed when this is raised. `code` is always a `RefusalCode` member: a string is taken as the
    member of that value, so a code outside the vocabulary fails where it is raised.
    """

    def __init__(self, code: RefusalCode | str, message: str) -> None:
        super().__init__(message)
        self.code = RefusalCode(code)
        self.message = message

    def __str__(self) -> str:
        return self.message
