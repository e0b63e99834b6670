"""Authorize.Net on the official SDK (`authorizenet`): card and eCheck through Accept.js opaque data.

Operations (providers.md §2): authOnlyTransaction (authorize), authCaptureTransaction (charge, and every eCheck),
priorAuthCaptureTransaction (capture, once, all or part of the authorization), voidTransaction (cancel),
refundTransaction (refund of a settled payment; before settlement a full refund becomes a void and a partial one
is refused), getTransactionDetailsRequest (fetch_status, held-for-review, what a refund needs, which payment a
notification's refund or void belongs to) and, to find a request whose answer was lost, by our invoice number:
getUnsettledTransactionListRequest, then getSettledBatchListRequest (31 days at a time, back to when the request
was sent) and getTransactionListRequest for each batch, every list page by page, then the unsettled list once
more (a settlement while it was paged may have slid one past us); "not found" only after all of them were
read. Sandbox and live differ only in the endpoint, set on each controller after it is built (its constructor
resets the class-global environment).

A transaction Authorize.Net approved but we cannot keep (a card type the integration does not accept, a fraud
hold it does not allow) is voided; it is a decline only once the void is confirmed. Until then the result is an
ERROR with the transaction id, so the row stays open: reconcile voids again, and a later notification (a void in
the Merchant Interface, the review's decision) is applied to it.

The SDK shims, the request documents and the reporting lists are in `client.py`; replies become results in
`results.py` and notifications movements in `webhooks.py`. SDK quirks handled there, each with the reason:

* **No timeout hook.** `APIOperationBase.execute()` calls the module-level `requests.post(...)` with no timeout.
  We replace the `requests` name inside `authorizenet.apicontrollersbase` with `_TimedRequests`, which passes
  every call through to `requests` and adds the calling adapter's `(connect_timeout, read_timeout)` (held in a
  context variable, so threads do not mix them up). Nothing else in the SDK changes.
* **Errors swallowed.** `execute()` catches every exception, and ignores any 4xx/5xx reply: we tell them apart
  by what it left in `_httpResponse` (None: no answer; a `requests.Response`: an HTTP error), both
  `ProviderUnavailable`. A 200 that is not XML makes its fallback parser raise: an `ERROR` result.
* **Class-global endpoint.** `setenvironment` sets a class attribute that `execute()` reads first thing. A lock
  is held from constructing the controller until `execute()` has read it (released in `beforeexecute`, which
  `execute()` calls right after), so concurrent calls to different endpoints cannot swap addresses.
* **Slow lists.** PyXB validates a reporting list in more than linear time (it gives up on a page of 1000
  transactions after about a second, and the SDK then reads it with lxml; with a looser PyXB limit, as the
  sandbox's schema check sets in-process, a page takes tens of seconds). Reporting calls hook `afterexecute`
  (called with the reply text, before parsing) to read it with lxml directly and leave `execute()` early.
* **Secrets in logs.** On a network error the SDK logs the whole request XML (transaction key, opaque data) at
  ERROR level on the `authorizenet.sdk` logger; that logger is switched off here.

Idempotency: Authorize.Net has no idempotency header. Our key goes into `order.invoiceNumber` as a 20-character
digest (`key_reference`), with `refId` the same digest, and every money request sets `duplicateWindow` to the
maximum (8 hours). The gateway's duplicate check compares the invoice number with amount, payment and the other
fields, so a retried request (same key, same terms) is answered with reason 11 and the original transaction's id,
which we read back and report as the first answer; two different requests never share an invoice number, so they
are never mistaken for duplicates. The order number travels in `order.description`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
from collections.abc import Mapping
from dataclasses import replace
from decimal import Decimal
from functools import partial
from typing import Any, ClassVar

from authorizenet import apicontractsv1 as contracts
from authorizenet import apicontrollers

from providers.authorizenet.client import (
    HELD,
    MAX_PAGE,
    SETTLED,
    UNSETTLED,
    AuthorizeNetClient,
    bill_to,
    decimal_of,
    key_reference,
    refund_payment,
    text_of,
    transaction,
    wire_amount,
    xml_text,
)
from providers.authorizenet.results import details_raw, details_result, not_found, transaction_result, unreadable
from providers.authorizenet.webhooks import complete_notification, event_from_notification
from providers.base import (
    NOT_FOUND,
    Adapter,
    Capability,
    CheckoutContext,
    ErrorCode,
    FollowUpRequest,
    IntegrationInfo,
    InvalidSignature,
    MethodInfo,
    Money,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    UnreadableEvent,
    WebhookEvent,
    header,
    scrub,
    to_minor,
)

#: what tests and the settings form import from here, as before the adapter was split
__all__ = ["CARD_TYPES", "CURRENCIES", "ECHECK_ACCOUNT_TYPES", "AuthorizeNetAdapter", "key_reference"]

logger = logging.getLogger(__name__)

#: currencies Authorize.Net settles in; a merchant account takes one of them (the integration's account currency)
CURRENCIES = ("USD", "CAD", "EUR", "GBP", "AUD", "NZD", "CHF", "DKK", "NOK", "PLN", "SEK")
CARD_TYPES = {
    "visa": "Visa",
    "mastercard": "MasterCard",
    "american_express": "AmericanExpress",
    "discover": "Discover",
    "jcb": "JCB",
    "diners_club": "DinersClub",
    "china_union_pay": "ChinaUnionPay",
}
ECHECK_ACCOUNT_TYPES = {"checking": "Checking", "savings": "Savings", "businessChecking": "Business checking"}
ECHECK_VARIANT = "echeck"


class AuthorizeNetAdapter(Adapter):
    key = "authorizenet"
    label = "Authorize.Net"
    capabilities: ClassVar = frozenset(
        {
            Capability.AUTHORIZE,
            Capability.CHARGE,
            Capability.CAPTURE,
            # priorAuthCapture may take less than authorized, once: the rest is released (no MULTIPLE_CAPTURE)
            Capability.PARTIAL_CAPTURE,
            Capability.CANCEL,
            Capability.REFUND,
            Capability.PARTIAL_REFUND,  # after settlement; before it, only a void of the whole
            Capability.WEBHOOKS,
            Capability.FETCH_STATUS,
        }
    )
    authorization_ttl_hours = 30 * 24
    refund_reasons: ClassVar = ()  # refundTransaction takes no reason
    test_base_url = "https://apitest.authorize.net"
    live_base_url = "https://api2.authorize.net"
    test_js_url = "https://jstest.authorize.net/v1/Accept.js"
    live_js_url = "https://js.authorize.net/v1/Accept.js"
    #: what `webhooks.event_from_notification` reads; refunds and voids made in the Merchant Interface come this way
    webhook_events: ClassVar = tuple(
        f"net.authorize.payment.{kind}"
        for kind in (
            "authorization.created",
            "authcapture.created",
            "capture.created",
            "priorAuthCapture.created",
            "refund.created",
            "void.created",
            "fraud.held",
            "fraud.approved",
            "fraud.declined",
        )
    )
    webhook_signing_field = "signature_key"
    webhook_where = "Merchant Interface › Account › Webhooks › Add Endpoint (status Active)"

    connect_timeout: ClassVar[float] = 5.0
    read_timeout: ClassVar[float] = 30.0
    #: transactions per reporting page when searching (Authorize.Net's maximum)
    search_page_size: ClassVar[int] = MAX_PAGE

    # --- settings -------------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        return f"{self.base_url or self.live_base_url}/xml/v1/request.api"

    @property
    def js_url(self) -> str:
        """The Accept.js the storefront widgets load (the sandbox serves a stand-in)."""
        if self.base_url in ("", self.live_base_url):
            return self.live_js_url
        if self.base_url == self.test_base_url:
            return self.test_js_url
        return f"{self.base_url}/v1/Accept.js"

    @property
    def account_currency(self) -> str:
        return self.options.text("account_currency", "USD")

    @property
    def allow_held(self) -> bool:
        return self.options.flag("allow_held_transactions", True)

    def _auth(self) -> Any:
        login = self.options.text("api_login_id")
        transaction_key = self.options.text("transaction_key")
        if not login or not transaction_key:
            raise ProviderMisconfigured("The Authorize.Net integration has no API login ID or transaction key.")
        auth = contracts.merchantAuthenticationType()
        auth.name = login
        auth.transactionKey = transaction_key
        return auth

    def _secrets(self) -> list[str]:
        return [self.options.text(n) for n in ("transaction_key", "signature_key")]

    # --- methods and the storefront -------------------------------------------------------------------------------

    def methods(self, integration: IntegrationInfo) -> list[MethodInfo]:
        """The card and, when enabled, eCheck (always a charge), each with its own widget."""
        card = self.card_method(integration)
        if not self.options.flag("echeck_enabled", False):
            return [card]
        label = self.options.text("echeck_label", "eCheck")
        echeck = MethodInfo(
            identifier=f"{self.key}_{integration.id}_{ECHECK_VARIANT}",
            integration_id=integration.id,
            provider_key=self.key,
            variant=ECHECK_VARIANT,
            labels={"en": label},
            short_labels={"en": self.options.text("echeck_short_label", label)},
            widget=f"{self.key}/echeck_widget.html",
            payment_action=PaymentAction.CHARGE,  # an eCheck is always debited in one step
        )
        return [card, echeck]

    def widget_context(self, method: MethodInfo, context: CheckoutContext | None = None) -> dict[str, Any]:
        """What the widget templates need: public values only (the client key is meant for browsers)."""
        return {
            "method": method,
            "accept_js_url": self.js_url,
            "api_login_id": self.options.text("api_login_id"),
            "client_key": self.options.text("client_key"),
            "require_cvv": self.options.flag("require_cvv", True),
            "card_types": self.options.choices("allowed_card_types", list(CARD_TYPES)),
            "account_types": [
                (t, ECHECK_ACCOUNT_TYPES[t])
                for t in self.options.choices("echeck_account_types", list(ECHECK_ACCOUNT_TYPES))
                if t in ECHECK_ACCOUNT_TYPES
            ],
            "confirmation_text": self.options.text("echeck_confirmation_text"),
        }

    def is_applicable(self, context: CheckoutContext) -> bool:
        """The account's currency only, and amounts with at most two decimals (Authorize.Net's amount format)."""
        if context.total.currency != self.account_currency or context.total.amount <= 0:
            return False
        return context.total.amount == context.total.amount.quantize(Decimal("0.01"))

    # --- the SDK call (client.py) ------------------------------------------------------------------------------

    @property
    def _client(self) -> AuthorizeNetClient:
        """Built per call from the class's timeouts and page size, so a test may change them on the class."""
        return AuthorizeNetClient(
            auth=self._auth,
            endpoint=self.endpoint,
            timeouts=(self.connect_timeout, self.read_timeout),
            page_size=self.search_page_size,
        )

    def _details(self, trans_id: str, operation: str) -> Any:
        """A transaction's details (getTransactionDetails); None when the reply cannot be read."""
        return self._client.details(trans_id, operation)

    # --- the contract -------------------------------------------------------------------------------------------

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        if request.method.variant == ECHECK_VARIANT:
            return self.charge(request)  # eCheck debits in one step; the method asks for a charge anyway
        return self._purchase(request, "authOnlyTransaction")

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, "authCaptureTransaction")

    def _purchase(self, request: PaymentRequest, type_: str) -> ProviderResult:
        descriptor = request.payment_data.get("data_descriptor", "")
        value = request.payment_data.get("data_value", "")
        if not descriptor or not value:
            return ProviderResult.declined(
                ErrorCode.MISSING_PAYMENT_DATA,
                "No payment details were given. Please enter them again.",
                amount=request.amount,
            )
        txn = transaction(
            type_, request.idempotency_key, amount=request.amount, description=f"Order {request.reference}"
        )
        opaque = contracts.opaqueDataType()
        opaque.dataDescriptor = descriptor
        opaque.dataValue = value
        payment = contracts.paymentType()
        payment.opaqueData = opaque
        txn.payment = payment
        context = request.context
        if context is not None and context.po_number:
            txn.poNumber = xml_text(context.po_number)[:25]  # the XSD's limit; the SDK writes it after taxExempt
        if context is not None and context.customer_user is not None and context.customer_user.email:
            customer = contracts.customerDataType()
            customer.email = xml_text(context.customer_user.email)[:255]
            txn.customer = customer
        if context is not None and context.billing_address is not None:
            txn.billTo = bill_to(context)
        operation = "authorize" if type_ == "authOnlyTransaction" else "charge"
        reply = self._client.create(txn, request.idempotency_key, operation)
        if reply is None:
            return unreadable(request.amount, operation)
        result = self._transaction_result(reply, request.amount, operation)
        if result.outcome not in (Outcome.SUCCEEDED, Outcome.PENDING) or not result.provider_reference:
            return result
        held = result.error_code == ErrorCode.HELD_FOR_REVIEW
        refusal = self._refusal(str(result.raw.get("account_type") or ""), held=held)
        if refusal is not None:
            return self._refuse(result, request.idempotency_key, *refusal)
        if held:
            return ProviderResult.pending(
                request.amount,
                reference=result.provider_reference,
                code=ErrorCode.HELD_FOR_REVIEW,
                message="The payment is held for review by the fraud filters; the order waits for the decision.",
                raw=result.raw,
            )
        return result

    def _refusal(self, card_type: str, *, held: bool) -> tuple[ErrorCode, str] | None:
        """Why we cannot keep a transaction Authorize.Net approved or held: a card type the integration does not
        accept (the widget refuses it first), or a fraud hold the integration does not allow; None: we keep it."""
        allowed = {
            CARD_TYPES[t] for t in self.options.choices("allowed_card_types", list(CARD_TYPES)) if t in CARD_TYPES
        }
        if card_type and card_type != "eCheck" and card_type not in allowed:
            return ErrorCode.CARD_TYPE_NOT_ACCEPTED, f"{card_type} cards are not accepted. Please use another card."
        if held and not self.allow_held:
            return (
                ErrorCode.HELD_FOR_REVIEW,
                "The payment could not be approved right away. Please use another payment method.",
            )
        return None

    def _refuse(self, result: ProviderResult, key: str, code: ErrorCode, message: str) -> ProviderResult:
        """Void what we cannot keep. A decline only once the void is confirmed: until then money may be held, so
        the result is an ERROR that keeps the row open (reconcile voids again, a notification may settle it)."""
        reference = result.provider_reference or ""
        if reference and self._void_confirmed(reference, key, result.amount):
            return ProviderResult.declined(
                code,
                message,
                amount=result.amount,
                reference=result.provider_reference,
                raw={**result.raw, "voided": True},
            )
        logger.warning("Authorize.Net: could not void refused transaction %s (%s)", result.provider_reference, code)
        return ProviderResult.error(
            ErrorCode.VOID_FAILED,
            (
                f"Refused ({code}), but voiding transaction {result.provider_reference} was not confirmed: the money "
                "may still be held. It is voided again automatically; check it in the Merchant Interface."
            ),
            amount=result.amount,
            reference=result.provider_reference,
            raw={**result.raw, "voided": False, "refused": code},
        )

    def _void_confirmed(self, reference: str, key: str, amount: Money) -> bool:
        """Void `reference` with its own key (`<key>:void`); True only when Authorize.Net says it is voided."""
        void_key = f"{key}:void"
        txn = transaction("voidTransaction", void_key)
        txn.refTransId = reference
        try:
            reply = self._client.create(txn, void_key, "void")
        except ProviderUnavailable:
            return False
        if reply is None:
            return False
        result = self._transaction_result(reply, amount, "cancel")
        return result.outcome == Outcome.SUCCEEDED or result.error_code == ErrorCode.ALREADY_VOIDED

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """priorAuthCapture of `amount` (all or part; Authorize.Net releases the rest)."""
        txn = transaction("priorAuthCaptureTransaction", request.idempotency_key, amount=request.amount)
        txn.refTransId = request.provider_reference
        reply = self._client.create(txn, request.idempotency_key, "capture")
        if reply is None:
            return unreadable(request.amount, "capture")
        return self._transaction_result(reply, request.amount, "capture")

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        return self._void(request, "cancel")

    def _void(self, request: FollowUpRequest, operation: str) -> ProviderResult:
        txn = transaction("voidTransaction", request.idempotency_key)
        txn.refTransId = request.provider_reference
        reply = self._client.create(txn, request.idempotency_key, operation)
        if reply is None:
            return unreadable(request.amount, operation)
        return self._transaction_result(reply, request.amount, operation)

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """A settled payment is refunded (all or part); an unsettled one can only be voided, and only in full."""
        details = self._details(request.provider_reference, "refund")
        if details is None or getattr(details, "transId", None) is None:
            return ProviderResult.declined(
                ErrorCode.UNKNOWN_REFERENCE, "Authorize.Net does not know the payment to refund.", amount=request.amount
            )
        status = text_of(details, "transactionStatus")
        settled = wire_amount(Money(decimal_of(text_of(details, "settleAmount")), request.amount.currency))
        if status in (UNSETTLED, "voided"):
            if request.amount.amount != settled:
                return ProviderResult.declined(
                    ErrorCode.PARTIAL_REFUND_BEFORE_SETTLEMENT,
                    (
                        f"Authorize.Net has not settled this payment yet, so it can only be voided in full "
                        f"({settled} {request.amount.currency}). Refund part of it after settlement (usually the "
                        "next day)."
                    ),
                    amount=request.amount,
                    reference=request.provider_reference,
                    raw={"status": status, "settle_amount": str(settled)},
                )
            if status == "voided":  # our own void, answered before (a retry of this refund)
                return ProviderResult.succeeded(
                    request.amount,
                    reference=request.provider_reference,
                    message="Not settled yet: the payment was voided instead of refunded.",
                    raw={"status": status, "converted_to_void": True, "amount": to_minor(request.amount)},
                )
            result = self._void(request, "refund")
            if result.outcome == Outcome.SUCCEEDED:
                return ProviderResult.succeeded(
                    request.amount,
                    reference=result.provider_reference,
                    message="Not settled yet: the payment was voided instead of refunded.",
                    raw={**result.raw, "converted_to_void": True},
                )
            return result
        if status not in SETTLED:
            return ProviderResult.declined(
                ErrorCode.INVALID_STATE,
                f"Authorize.Net cannot refund a payment in status {status}.",
                amount=request.amount,
                reference=request.provider_reference,
                raw={"status": status},
            )
        txn = transaction("refundTransaction", request.idempotency_key, amount=request.amount)
        txn.payment = refund_payment(details)
        txn.refTransId = request.provider_reference
        reply = self._client.create(txn, request.idempotency_key, "refund")
        if reply is None:
            return unreadable(request.amount, "refund")
        result = self._transaction_result(reply, request.amount, "refund")
        if result.outcome == Outcome.DECLINED and result.raw.get("reason_code") == "54":
            # settled, yet not creditable: past the 180 days after settlement, its card data is archived
            settled_at = text_of(details, "batch", "settlementTimeUTC")[:10] or "more than 180 days ago"
            return replace(
                result,
                error_code=ErrorCode.REFUND_PERIOD_OVER,
                message=(
                    f"Authorize.Net refunds a payment only within 180 days of its settlement ({settled_at}); "
                    "refund the buyer another way."
                ),
            )
        return result

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        """Read the transaction back: by its id when known, else by our key (the invoice number) among the unsettled
        transactions and every batch settled since the request was sent. NOT_FOUND only after all of that."""
        amount = request.amount
        since = request.requested_at
        if request.action in ("authorize", "charge"):
            details = None
            if request.provider_reference:
                details = self._details(request.provider_reference, "retrieve")
            if details is None or getattr(details, "transId", None) is None:
                details = self._client.find_by_key(
                    request.idempotency_key, "retrieve", ("authOnlyTransaction", "authCaptureTransaction"), since=since
                )
            if details is None:
                return not_found(amount)
            return self._purchase_status(details, request)
        if request.action == "refund":
            found = self._client.find_by_key(
                request.idempotency_key,
                "retrieve",
                ("refundTransaction",),
                since=since,
                ref_trans_id=request.provider_reference or None,
            )
            if found is not None:
                return details_result(found, amount, "refund", self._scrub)
            if not request.provider_reference:
                return not_found(amount)
            details = self._details(request.provider_reference, "retrieve")
            if details is None or getattr(details, "transId", None) is None:
                return not_found(amount)
            if text_of(details, "transactionStatus") == "voided":  # a refund before settlement became a void
                return ProviderResult.succeeded(
                    amount,
                    reference=request.provider_reference,
                    raw=details_raw(details, amount, self._scrub) | {"converted_to_void": True},
                )
            return not_found(amount)
        if not request.provider_reference:
            return not_found(amount)
        details = self._details(request.provider_reference, "retrieve")
        if details is None or getattr(details, "transId", None) is None:
            return not_found(amount)
        return details_result(details, amount, request.action, self._scrub)

    def _purchase_status(self, details: Any, request: StatusRequest) -> ProviderResult:
        """What became of a purchase, refusing (voiding) again what the purchase had to refuse: a card type the
        integration does not take, a fraud hold it does not allow. A void that went through is a decline."""
        result = details_result(details, request.amount, request.action, self._scrub)
        status = text_of(details, "transactionStatus")
        if status in ("declined", "generalError", "failedReview", "expired", "settlementError"):
            return result
        # a hold the merchant approved is the merchant's decision; one still held, or voided by us, is not
        held = status in HELD or (status == "voided" and text_of(details, "responseCode") == "4")
        refusal = self._refusal(text_of(details, "payment", "creditCard", "cardType"), held=held)
        if refusal is None:
            return result
        reference = text_of(details, "transId")
        raw = details_raw(details, request.amount, self._scrub)
        kept = replace(result, provider_reference=reference, amount=request.amount, message="", raw=raw)
        return self._refuse(kept, request.idempotency_key, *refusal)

    # --- replies -> results (results.py) ---------------------------------------------------------------------------

    def _transaction_result(self, reply: Any, requested: Money, operation: str) -> ProviderResult:
        """A transaction reply as our result; a duplicate of our own earlier request reports what became of it."""
        result = transaction_result(reply, requested, operation, self._scrub)
        if (
            result.error_code == ErrorCode.DUPLICATE_TRANSACTION
            and result.provider_reference
            and result.raw.get("reason_code") == "11"
        ):
            return self._duplicate(result.provider_reference, requested, operation, result.raw)
        return result

    def _duplicate(self, reference: str, requested: Money, operation: str, raw: Mapping[str, Any]) -> ProviderResult:
        details = self._details(reference, operation)
        if details is None or getattr(details, "transId", None) is None:
            return ProviderResult.error(
                ErrorCode.DUPLICATE_TRANSACTION,
                "Authorize.Net reports a duplicate whose original could not be read back.",
                amount=requested,
                reference=reference,
                raw=raw,
            )
        action = {"authorize": "authorize", "charge": "charge", "capture": "capture", "refund": "refund"}.get(
            operation, "cancel"
        )
        result = details_result(details, requested, action, self._scrub)
        if result.error_code == NOT_FOUND:  # the original did something else: a real duplicate refusal
            return ProviderResult.declined(
                ErrorCode.DUPLICATE_TRANSACTION,
                "A duplicate transaction has been submitted.",
                amount=requested,
                reference=reference,
                raw=raw,
            )
        return replace(result, raw={**result.raw, "duplicate_of": reference})

    def _scrub(self, data: Any) -> Any:
        return scrub(data, secrets=self._secrets())

    # --- connection and webhooks ----------------------------------------------------------------------------------

    def check_connection(self) -> ProviderResult:
        """authenticateTestRequest: proves the login ID and transaction key without moving anything."""
        nothing = Money(Decimal("0"), self.account_currency)
        reply = self._client.execute(
            apicontrollers.authenticateTestController, contracts.authenticateTestRequest(), "check connection"
        )
        if reply is None:
            return unreadable(nothing, "check connection")
        if str(reply.messages.resultCode) != "Ok":
            message = str(reply.messages.message[0].text) if len(reply.messages.message) else ""
            return ProviderResult.declined(ErrorCode.CONFIG_ERROR, message, amount=nothing)
        return ProviderResult.succeeded(nothing, message="Authorize.Net accepted the API login ID and transaction key.")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify `X-ANET-Signature: sha512=HEX` (HMAC-SHA512 of the raw body with the signature key as text)."""
        key = self.options.text("signature_key")
        signature = header(headers, "X-ANET-Signature") or ""
        if not key or not signature.lower().startswith("sha512="):
            raise InvalidSignature("Authorize.Net webhook without signature or signature key")
        expected = hmac.new(key.encode(), body, hashlib.sha512).hexdigest().upper()
        if not hmac.compare_digest(expected, signature[7:].strip().upper()):
            raise InvalidSignature("Authorize.Net webhook signature does not verify")
        try:
            event = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidSignature("not an Authorize.Net notification") from exc
        if not isinstance(event, dict) or not event.get("notificationId") or not event.get("eventType"):
            raise InvalidSignature("not an Authorize.Net notification")
        try:
            return event_from_notification(event, self.account_currency)
        except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise UnreadableEvent(
                f"{type(exc).__name__}: {exc}",
                event_id=str(event["notificationId"]),
                event_type=str(event["eventType"]),
                payload=self._scrub(event),
            ) from exc

    def echoed_key(self, idempotency_key: str) -> str:
        """Our key travels as the invoice number, a digest of it (`key_reference`)."""
        return key_reference(idempotency_key)

    def webhook_event_complete(self, event: WebhookEvent) -> WebhookEvent:
        """A refund or void notification, completed from the transaction's details (`complete_notification`)."""
        return complete_notification(event, partial(self._details, operation="details"), self.account_currency)
