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

SDK quirks handled here, each with the reason:

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

import base64
import contextvars
import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable, Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any, ClassVar

import requests
from authorizenet import apicontractsv1 as contracts
from authorizenet import apicontrollers, apicontrollersbase
from authorizenet.constants import constants as sdk_constants
from lxml import etree, objectify

from providers.base import (
    NOT_FOUND,
    Adapter,
    Capability,
    CheckoutContext,
    EventMovement,
    FollowUpRequest,
    IntegrationInfo,
    InvalidSignature,
    MethodInfo,
    Money,
    MovementAction,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    UnreadableEvent,
    WebhookEvent,
    currency_exponent,
    scrub,
    to_minor,
)

logger = logging.getLogger(__name__)

# The SDK logs whole request documents (with the transaction key) when a call fails: never let them out.
logging.getLogger(sdk_constants.defaultLoggerName).disabled = True

_TIMEOUTS: contextvars.ContextVar[tuple[float, float]] = contextvars.ContextVar(
    "authorizenet_timeouts", default=(5.0, 30.0)
)
_ENDPOINT_LOCK = threading.Lock()


class _TimedRequests:
    """What `authorizenet.apicontrollersbase` sees as `requests`: the real module, with a timeout on `post`."""

    def __getattr__(self, name: str) -> Any:
        return getattr(requests, name)

    @staticmethod
    def post(url: str, **kwargs: Any) -> requests.Response:
        kwargs.setdefault("timeout", _TIMEOUTS.get())
        return requests.post(url, **kwargs)  # noqa: S113 - the timeout is set on the line above


apicontrollersbase.requests = _TimedRequests()  # type: ignore[assignment]

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
DUPLICATE_WINDOW = 28800  # seconds, the maximum: a retry within 8 hours is recognised
MISCONFIGURED = {"E00007", "E00008", "E00124", "E00059"}  # bad login/key, inactive account, bad token
UNSETTLED = "capturedPendingSettlement"
SETTLED = ("settledSuccessfully",)
HELD = ("FDSPendingReview", "FDSAuthorizedPendingReview", "underReview")
REFUNDS = ("refundPendingSettlement", "refundSettledSuccessfully")
#: getSettledBatchList takes at most 31 days between firstSettlementDate and lastSettlementDate
BATCH_WINDOW = timedelta(days=31)
#: searched when we do not know when the request was sent
DEFAULT_SEARCH = timedelta(days=31)
#: before the request (clocks differ) and after now (the batch of today; dates read in the account's time zone)
SEARCH_MARGIN = timedelta(days=1)
#: reporting pages hold at most 1000 transactions (the XSD's Paging.limit), numbered from 1 up to 100000
MAX_PAGE = 1000
LAST_PAGE = 100_000

#: transaction reason code -> our normalised error code (providers.md §2.3); unknown refusals: "card_declined"
REASON_CODES: dict[str, str] = {
    "2": "card_declined",
    "3": "card_declined",
    "4": "pickup_card",
    "5": "invalid_amount",
    "6": "incorrect_number",
    "7": "invalid_expiry_date",
    "8": "expired_card",
    "11": "duplicate_transaction",
    "16": "transaction_not_found",
    "17": "card_type_not_accepted",
    "19": "processing_error",
    "20": "processing_error",
    "21": "processing_error",
    "22": "processing_error",
    "23": "processing_error",
    "27": "address_mismatch",
    "28": "card_type_not_accepted",
    "33": "missing_field",
    "35": "processing_error",
    "37": "incorrect_number",
    "44": "incorrect_cvc",
    "45": "incorrect_cvc",
    "47": "amount_exceeds_authorized",
    "54": "not_settled",
    "55": "amount_exceeds_refundable",
    "57": "processing_error",
    "58": "processing_error",
    "59": "processing_error",
    "60": "processing_error",
    "61": "processing_error",
    "62": "processing_error",
    "63": "processing_error",
    "65": "incorrect_cvc",
    "310": "already_voided",
    "311": "already_captured",
}


def key_reference(key: str) -> str:
    """Our idempotency key as Authorize.Net can hold it: 20 characters (invoiceNumber and refId are ≤ 20)."""
    return base64.b32encode(hashlib.sha256(key.encode()).digest()).decode()[:20]


def _truthy(value: Any, default: bool) -> bool:
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.lower() in ("1", "true", "on", "yes")
    return bool(value)


def _text(node: Any, *path: str) -> str:
    """A child's text in an objectify tree, "" when any step is missing."""
    for name in path:
        node = getattr(node, name, None)
        if node is None:
            return ""
    return str(node.text or "") if hasattr(node, "text") else str(node)


class _Listing(Exception):  # noqa: N818 - not an error: carries a reporting list out of the SDK's execute()
    def __init__(self, tree: Any) -> None:
        super().__init__("listing read")
        self.tree = tree


def _read_listing(controller: Any) -> None:
    """`afterexecute` of a reporting call: parse the reply with lxml and leave execute() before PyXB does."""
    text = controller._httpResponse  # noqa: SLF001 - the SDK's reply, BOM stripped, decoded as ISO-8859-1
    try:
        tree = objectify.fromstring(text.encode("latin-1"), parser=_LISTING_PARSER)
    except (etree.XMLSyntaxError, UnicodeEncodeError):
        tree = None
    raise _Listing(tree)


_LISTING_PARSER = objectify.makeparser(resolve_entities=False, no_network=True, huge_tree=False)


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
        return str(self.settings.get("account_currency") or "USD")

    @property
    def allow_held(self) -> bool:
        return _truthy(self.settings.get("allow_held_transactions"), True)

    def _setting_list(self, name: str, default: list[str]) -> list[str]:
        value = self.settings.get(name)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        return list(value) if value else default

    def _auth(self) -> Any:
        login = str(self.settings.get("api_login_id") or "")
        transaction_key = str(self.settings.get("transaction_key") or "")
        if not login or not transaction_key:
            raise ProviderMisconfigured("The Authorize.Net integration has no API login ID or transaction key.")
        auth = contracts.merchantAuthenticationType()
        auth.name = login
        auth.transactionKey = transaction_key
        return auth

    def _secrets(self) -> list[str]:
        return [str(self.settings.get(n) or "") for n in ("transaction_key", "signature_key")]

    # --- methods and the storefront -------------------------------------------------------------------------------

    def methods(self, integration: IntegrationInfo) -> list[MethodInfo]:
        card = MethodInfo(
            identifier=f"{self.key}_{integration.id}",
            integration_id=integration.id,
            provider_key=self.key,
            labels=integration.labels,
            short_labels=integration.short_labels,
            widget=f"{self.key}/widget.html",
        )
        if not _truthy(self.settings.get("echeck_enabled"), False):
            return [card]
        label = str(self.settings.get("echeck_label") or "eCheck")
        echeck = MethodInfo(
            identifier=f"{self.key}_{integration.id}_{ECHECK_VARIANT}",
            integration_id=integration.id,
            provider_key=self.key,
            variant=ECHECK_VARIANT,
            labels={"en": label},
            short_labels={"en": str(self.settings.get("echeck_short_label") or label)},
            widget=f"{self.key}/echeck_widget.html",
            payment_action=PaymentAction.CHARGE,  # an eCheck is always debited in one step
        )
        return [card, echeck]

    def widget_context(self, method: MethodInfo, context: CheckoutContext | None = None) -> dict[str, Any]:
        """What the widget templates need: public values only (the client key is meant for browsers)."""
        return {
            "method": method,
            "accept_js_url": self.js_url,
            "api_login_id": str(self.settings.get("api_login_id") or ""),
            "client_key": str(self.settings.get("client_key") or ""),
            "require_cvv": _truthy(self.settings.get("require_cvv"), True),
            "card_types": self._setting_list("allowed_card_types", list(CARD_TYPES)),
            "account_types": [
                (t, ECHECK_ACCOUNT_TYPES[t])
                for t in self._setting_list("echeck_account_types", list(ECHECK_ACCOUNT_TYPES))
                if t in ECHECK_ACCOUNT_TYPES
            ],
            "confirmation_text": str(self.settings.get("echeck_confirmation_text") or ""),
        }

    def is_applicable(self, context: CheckoutContext) -> bool:
        """The account's currency only, and amounts with at most two decimals (Authorize.Net's amount format)."""
        if context.total.currency != self.account_currency or context.total.amount <= 0:
            return False
        return context.total.amount == context.total.amount.quantize(Decimal("0.01"))

    # --- the SDK call -------------------------------------------------------------------------------------------

    @contextmanager
    def _endpoint_held(self) -> Iterator[Callable[[], None]]:
        """Hold the SDK's class-global endpoint until `execute()` has read it; yields the release function."""
        released = False

        def release() -> None:
            nonlocal released
            if not released:
                released = True
                _ENDPOINT_LOCK.release()

        _ENDPOINT_LOCK.acquire()
        try:
            yield release
        finally:
            release()

    def _execute(self, controller_class: type, request: Any, operation: str, *, listing: bool = False) -> Any:
        """Run one SDK controller against our endpoint; the objectify reply, or raise ProviderUnavailable.

        `listing`: a reporting list, read with lxml straight from the reply (see the module docstring).
        """
        request.merchantAuthentication = self._auth()
        token = _TIMEOUTS.set((self.connect_timeout, self.read_timeout))
        listed: Any = None
        try:
            with self._endpoint_held() as release:
                controller = controller_class(request)
                controller.setenvironment(self.endpoint)  # after construction: __init__ resets it to the SDK's
                controller.beforeexecute = release  # execute() calls this right after reading the endpoint
                if listing:
                    controller.afterexecute = partial(_read_listing, controller)
                try:
                    controller.execute()
                except _Listing as read:
                    listed = read.tree
                except (etree.XMLSyntaxError, ValueError):
                    return None  # answered 200 with something that is not Authorize.Net's XML
        finally:
            _TIMEOUTS.reset(token)
        http = getattr(controller, "_httpResponse", None)
        if http is None:
            raise ProviderUnavailable(f"Authorize.Net {operation}: no answer (timeout or connection error)")
        if isinstance(http, requests.Response):  # the SDK leaves a reply it did not read: HTTP 4xx/5xx
            raise ProviderUnavailable(f"Authorize.Net {operation} answered HTTP {http.status_code}")
        reply = listed if listing else controller.getresponse()
        if reply is None or getattr(reply, "messages", None) is None:
            return None
        codes = [str(m.code) for m in getattr(reply.messages, "message", [])]
        if str(reply.messages.resultCode) == "Error" and MISCONFIGURED & set(codes):
            raise ProviderMisconfigured(f"Authorize.Net refused the credentials ({operation}): {', '.join(codes)}")
        return reply

    @staticmethod
    def _unreadable(amount: Money, operation: str) -> ProviderResult:
        return ProviderResult(
            Outcome.ERROR,
            None,
            amount,
            error_code="unreadable_reply",
            message=f"Authorize.Net's reply to {operation} could not be read.",
        )

    # --- requests -----------------------------------------------------------------------------------------------

    def _amount(self, money: Money) -> Decimal:
        to_minor(money)  # refuses amounts finer than the currency
        return money.amount.quantize(Decimal(1).scaleb(-currency_exponent(money.currency)))

    def _transaction(self, type_: str, key: str, *, amount: Money | None = None, description: str = "") -> Any:
        txn = contracts.transactionRequestType()
        txn.transactionType = type_
        if amount is not None:
            txn.amount = self._amount(amount)
            txn.currencyCode = amount.currency
        order = contracts.orderType()
        order.invoiceNumber = key_reference(key)
        if description:
            order.description = _xml_text(description)[:255]
        txn.order = order
        return txn

    @staticmethod
    def _with_settings(txn: Any) -> Any:
        setting = contracts.settingType()
        setting.settingName = "duplicateWindow"
        setting.settingValue = str(DUPLICATE_WINDOW)
        settings = contracts.ArrayOfSetting()
        settings.setting.append(setting)
        txn.transactionSettings = settings
        return txn

    def _create(self, txn: Any, key: str, operation: str) -> Any:
        request = contracts.createTransactionRequest()
        request.refId = key_reference(key)
        request.transactionRequest = self._with_settings(txn)
        return self._execute(apicontrollers.createTransactionController, request, operation)

    def _details(self, trans_id: str, operation: str) -> Any:
        request = contracts.getTransactionDetailsRequest()
        request.transId = trans_id
        reply = self._execute(apicontrollers.getTransactionDetailsController, request, operation)
        if reply is None or str(reply.messages.resultCode) != "Ok":
            return reply
        return reply.transaction

    def _find_by_key(
        self,
        key: str,
        operation: str,
        types: tuple[str, ...],
        *,
        since: datetime | None,
        ref_trans_id: str | None = None,
    ) -> Any:
        """The transaction made by the request keyed `key` (our invoice number), or None once every place it could
        be was searched: the unsettled transactions, then every batch settled since the request was sent, page by
        page. A list that cannot be read raises ProviderUnavailable: "not found" is never concluded from half a
        search (a charge that settled overnight is in a batch, no longer among the unsettled)."""
        reference = key_reference(key)
        for summary in self._summaries(operation, since):
            if _text(summary, "invoiceNumber") != reference:
                continue
            details = self._details(_text(summary, "transId"), operation)
            if details is None or getattr(details, "transId", None) is None:
                raise ProviderUnavailable(
                    f"Authorize.Net {operation}: transaction {_text(summary, 'transId')} unreadable"
                )
            if _text(details, "transactionType") not in types:
                continue
            if ref_trans_id is not None and _text(details, "refTransId") != ref_trans_id:
                continue
            return details
        return None

    def _summaries(self, operation: str, since: datetime | None) -> Iterator[Any]:
        """Every transaction that may be ours: unsettled first, then the settled batches from `since` on, each
        batch list at most 31 days long, each list read page by page, then the unsettled ones again.

        A settlement while the unsettled list is paged takes transactions out of pages already read, so one of a
        later page slides into them unseen. It only moves one way: settled in that run, it is in a batch read
        after it; still unsettled (an authorization), it is there when the list is read again."""
        yield from self._unsettled(operation)
        yield from self._settled(operation, since)
        yield from self._unsettled(operation)

    def _unsettled(self, operation: str) -> Iterator[Any]:
        yield from self._pages(
            apicontrollers.getUnsettledTransactionListController,
            contracts.getUnsettledTransactionListRequest,
            operation,
        )

    def _settled(self, operation: str, since: datetime | None) -> Iterator[Any]:
        now = datetime.now(UTC)
        start = (since or now - DEFAULT_SEARCH) - SEARCH_MARGIN
        end_of_search = now + SEARCH_MARGIN
        while start < end_of_search:
            end = min(start + BATCH_WINDOW, end_of_search)
            request = contracts.getSettledBatchListRequest()
            request.firstSettlementDate = start
            request.lastSettlementDate = end
            reply = self._execute(apicontrollers.getSettledBatchListController, request, operation, listing=True)
            self._check_list(reply, operation, "settled batches")
            for batch in getattr(getattr(reply, "batchList", None), "batch", []):
                batch_id = _text(batch, "batchId")

                def for_batch(batch_id: str = batch_id) -> Any:
                    listing = contracts.getTransactionListRequest()
                    listing.batchId = batch_id
                    return listing

                yield from self._pages(apicontrollers.getTransactionListController, for_batch, operation)
            start = end

    def _pages(self, controller_class: type, make_request: Callable[[], Any], operation: str) -> Iterator[Any]:
        """All transactions of a reporting list, page after page (sorted by id, so pages do not overlap)."""
        page_size = self.search_page_size
        for page in range(1, LAST_PAGE + 1):
            request = make_request()
            sorting = contracts.TransactionListSorting()
            sorting.orderBy = "id"
            sorting.orderDescending = False
            paging = contracts.Paging()
            paging.limit = page_size
            paging.offset = page
            request.sorting = sorting
            request.paging = paging
            reply = self._execute(controller_class, request, operation, listing=True)
            self._check_list(reply, operation, "transactions")
            rows = list(getattr(getattr(reply, "transactions", None), "transaction", []))
            yield from rows
            if len(rows) < page_size:
                return
        raise ProviderUnavailable(f"Authorize.Net {operation}: more than {LAST_PAGE} pages of transactions")

    @staticmethod
    def _check_list(reply: Any, operation: str, what: str) -> None:
        """A list that was not read is not an empty list."""
        if reply is None:
            raise ProviderUnavailable(f"Authorize.Net {operation}: the list of {what} could not be read")
        if str(reply.messages.resultCode) != "Ok":
            codes = ", ".join(str(m.code) for m in getattr(reply.messages, "message", []))
            raise ProviderUnavailable(f"Authorize.Net {operation}: the list of {what} was refused ({codes})")

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
            return ProviderResult(
                Outcome.DECLINED,
                None,
                request.amount,
                error_code="missing_payment_data",
                message="No payment details were given. Please enter them again.",
            )
        txn = self._transaction(
            type_, request.idempotency_key, amount=request.amount, description=f"Order {request.reference}"
        )
        opaque = contracts.opaqueDataType()
        opaque.dataDescriptor = descriptor
        opaque.dataValue = value
        payment = contracts.paymentType()
        payment.opaqueData = opaque
        txn.payment = payment
        context = request.context
        if context is not None and context.customer_user is not None and context.customer_user.email:
            customer = contracts.customerDataType()
            customer.email = _xml_text(context.customer_user.email)[:255]
            txn.customer = customer
        if context is not None and context.billing_address is not None:
            txn.billTo = _bill_to(context)
        operation = "authorize" if type_ == "authOnlyTransaction" else "charge"
        reply = self._create(txn, request.idempotency_key, operation)
        if reply is None:
            return self._unreadable(request.amount, operation)
        result = self._transaction_result(reply, request.amount, operation)
        if result.outcome not in (Outcome.SUCCEEDED, Outcome.PENDING) or not result.provider_reference:
            return result
        refusal = self._refusal(str(result.raw.get("account_type") or ""), held=result.error_code == "held_for_review")
        if refusal is not None:
            return self._refuse(result, request.idempotency_key, *refusal)
        if result.error_code == "held_for_review":
            return ProviderResult(
                Outcome.PENDING,
                result.provider_reference,
                request.amount,
                error_code="held_for_review",
                message="The payment is held for review by the fraud filters; the order waits for the decision.",
                raw=result.raw,
            )
        return result

    def _refusal(self, card_type: str, *, held: bool) -> tuple[str, str] | None:
        """Why we cannot keep a transaction Authorize.Net approved or held: a card type the integration does not
        accept (the widget refuses it first), or a fraud hold the integration does not allow; None: we keep it."""
        allowed = {CARD_TYPES[t] for t in self._setting_list("allowed_card_types", list(CARD_TYPES)) if t in CARD_TYPES}
        if card_type and card_type != "eCheck" and card_type not in allowed:
            return "card_type_not_accepted", f"{card_type} cards are not accepted. Please use another card."
        if held and not self.allow_held:
            return (
                "held_for_review",
                "The payment could not be approved right away. Please use another payment method.",
            )
        return None

    def _refuse(self, result: ProviderResult, key: str, code: str, message: str) -> ProviderResult:
        """Void what we cannot keep. A decline only once the void is confirmed: until then money may be held, so
        the result is an ERROR that keeps the row open (reconcile voids again, a notification may settle it)."""
        reference = result.provider_reference or ""
        if reference and self._void_confirmed(reference, key, result.amount):
            return ProviderResult(
                Outcome.DECLINED,
                result.provider_reference,
                result.amount,
                error_code=code,
                message=message,
                raw={**result.raw, "voided": True},
            )
        logger.warning("Authorize.Net: could not void refused transaction %s (%s)", result.provider_reference, code)
        return ProviderResult(
            Outcome.ERROR,
            result.provider_reference,
            result.amount,
            error_code="void_failed",
            message=(
                f"Refused ({code}), but voiding transaction {result.provider_reference} was not confirmed: the money "
                "may still be held. It is voided again automatically; check it in the Merchant Interface."
            ),
            raw={**result.raw, "voided": False, "refused": code},
        )

    def _void_confirmed(self, reference: str, key: str, amount: Money) -> bool:
        """Void `reference` with its own key (`<key>:void`); True only when Authorize.Net says it is voided."""
        void_key = f"{key}:void"
        txn = self._transaction("voidTransaction", void_key)
        txn.refTransId = reference
        try:
            reply = self._create(txn, void_key, "void")
        except ProviderUnavailable:
            return False
        if reply is None:
            return False
        result = self._transaction_result(reply, amount, "cancel")
        return result.outcome == Outcome.SUCCEEDED or result.error_code == "already_voided"

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """priorAuthCapture of `amount` (all or part; Authorize.Net releases the rest)."""
        txn = self._transaction("priorAuthCaptureTransaction", request.idempotency_key, amount=request.amount)
        txn.refTransId = request.provider_reference
        reply = self._create(txn, request.idempotency_key, "capture")
        if reply is None:
            return self._unreadable(request.amount, "capture")
        return self._transaction_result(reply, request.amount, "capture")

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        return self._void(request, "cancel")

    def _void(self, request: FollowUpRequest, operation: str) -> ProviderResult:
        txn = self._transaction("voidTransaction", request.idempotency_key)
        txn.refTransId = request.provider_reference
        reply = self._create(txn, request.idempotency_key, operation)
        if reply is None:
            return self._unreadable(request.amount, operation)
        return self._transaction_result(reply, request.amount, operation)

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """A settled payment is refunded (all or part); an unsettled one can only be voided, and only in full."""
        details = self._details(request.provider_reference, "refund")
        if details is None or getattr(details, "transId", None) is None:
            return ProviderResult(
                Outcome.DECLINED,
                None,
                request.amount,
                error_code="transaction_not_found",
                message="Authorize.Net does not know the payment to refund.",
            )
        status = _text(details, "transactionStatus")
        settled = self._amount(Money(_decimal(_text(details, "settleAmount")), request.amount.currency))
        if status in (UNSETTLED, "voided"):
            if request.amount.amount != settled:
                return ProviderResult(
                    Outcome.DECLINED,
                    request.provider_reference,
                    request.amount,
                    error_code="partial_refund_before_settlement",
                    message=(
                        f"Authorize.Net has not settled this payment yet, so it can only be voided in full "
                        f"({settled} {request.amount.currency}). Refund part of it after settlement (usually the "
                        "next day)."
                    ),
                    raw={"status": status, "settle_amount": str(settled)},
                )
            if status == "voided":  # our own void, answered before (a retry of this refund)
                return ProviderResult(
                    Outcome.SUCCEEDED,
                    request.provider_reference,
                    request.amount,
                    message="Not settled yet: the payment was voided instead of refunded.",
                    raw={"status": status, "converted_to_void": True, "amount": to_minor(request.amount)},
                )
            result = self._void(request, "refund")
            if result.outcome == Outcome.SUCCEEDED:
                return ProviderResult(
                    Outcome.SUCCEEDED,
                    result.provider_reference,
                    request.amount,
                    message="Not settled yet: the payment was voided instead of refunded.",
                    raw={**result.raw, "converted_to_void": True},
                )
            return result
        if status not in SETTLED:
            return ProviderResult(
                Outcome.DECLINED,
                request.provider_reference,
                request.amount,
                error_code="not_refundable",
                message=f"Authorize.Net cannot refund a payment in status {status}.",
                raw={"status": status},
            )
        txn = self._transaction("refundTransaction", request.idempotency_key, amount=request.amount)
        txn.payment = _refund_payment(details)
        txn.refTransId = request.provider_reference
        reply = self._create(txn, request.idempotency_key, "refund")
        if reply is None:
            return self._unreadable(request.amount, "refund")
        result = self._transaction_result(reply, request.amount, "refund")
        if result.outcome == Outcome.DECLINED and result.raw.get("reason_code") == "54":
            # settled, yet not creditable: past the 180 days after settlement, its card data is archived
            settled_at = _text(details, "batch", "settlementTimeUTC")[:10] or "more than 180 days ago"
            return replace(
                result,
                error_code="refund_period_over",
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
                details = self._find_by_key(
                    request.idempotency_key, "retrieve", ("authOnlyTransaction", "authCaptureTransaction"), since=since
                )
            if details is None:
                return _not_found(amount)
            return self._purchase_status(details, request)
        if request.action == "refund":
            found = self._find_by_key(
                request.idempotency_key,
                "retrieve",
                ("refundTransaction",),
                since=since,
                ref_trans_id=request.provider_reference or None,
            )
            if found is not None:
                return self._details_result(found, amount, "refund")
            if not request.provider_reference:
                return _not_found(amount)
            details = self._details(request.provider_reference, "retrieve")
            if details is None or getattr(details, "transId", None) is None:
                return _not_found(amount)
            if _text(details, "transactionStatus") == "voided":  # a refund before settlement became a void
                return ProviderResult(
                    Outcome.SUCCEEDED,
                    request.provider_reference,
                    amount,
                    raw=self._details_raw(details, amount) | {"converted_to_void": True},
                )
            return _not_found(amount)
        if not request.provider_reference:
            return _not_found(amount)
        details = self._details(request.provider_reference, "retrieve")
        if details is None or getattr(details, "transId", None) is None:
            return _not_found(amount)
        return self._details_result(details, amount, request.action)

    def _purchase_status(self, details: Any, request: StatusRequest) -> ProviderResult:
        """What became of a purchase, refusing (voiding) again what the purchase had to refuse: a card type the
        integration does not take, a fraud hold it does not allow. A void that went through is a decline."""
        result = self._details_result(details, request.amount, request.action)
        status = _text(details, "transactionStatus")
        if status in ("declined", "generalError", "failedReview", "expired", "settlementError"):
            return result
        # a hold the merchant approved is the merchant's decision; one still held, or voided by us, is not
        held = status in HELD or (status == "voided" and _text(details, "responseCode") == "4")
        refusal = self._refusal(_text(details, "payment", "creditCard", "cardType"), held=held)
        if refusal is None:
            return result
        reference = _text(details, "transId")
        kept = ProviderResult(result.outcome, reference, request.amount, raw=self._details_raw(details, request.amount))
        return self._refuse(kept, request.idempotency_key, *refusal)

    # --- replies -> results -------------------------------------------------------------------------------------

    def _transaction_result(self, reply: Any, requested: Money, operation: str) -> ProviderResult:
        response = getattr(reply, "transactionResponse", None)
        top = [(str(m.code), str(m.text)) for m in getattr(reply.messages, "message", [])]
        if response is None or not _text(response, "responseCode"):
            code, text = top[0] if top else ("", "")
            if code == "E00114":  # the opaque data was used already or expired
                return ProviderResult(
                    Outcome.DECLINED,
                    None,
                    requested,
                    error_code="invalid_payment_data",
                    message="The payment details expired. Please enter them again.",
                    raw={"result_code": "Error", "code": code},
                )
            return ProviderResult(
                Outcome.DECLINED if code.startswith("E") else Outcome.ERROR,
                None,
                requested,
                error_code="invalid_request" if code.startswith("E") else "unreadable_reply",
                message=text or "Authorize.Net did not process the request.",
                raw={"result_code": str(reply.messages.resultCode), "code": code},
            )
        response_code = _text(response, "responseCode")
        errors = getattr(getattr(response, "errors", None), "error", None)
        messages = getattr(getattr(response, "messages", None), "message", None)
        if errors is not None and len(errors):
            reason, text = str(errors[0].errorCode), str(errors[0].errorText)
        elif messages is not None and len(messages):
            reason, text = str(messages[0].code), str(messages[0].description)
        else:
            reason, text = "", ""
        trans_id = _text(response, "transId")
        reference = trans_id if trans_id and trans_id != "0" else None
        raw = self._scrub(
            {
                "operation": operation,
                "result_code": str(reply.messages.resultCode),
                "response_code": response_code,
                "reason_code": reason,
                "trans_id": trans_id,
                "ref_trans_id": _text(response, "refTransID"),
                "auth_code": _text(response, "authCode"),
                "avs_result": _text(response, "avsResultCode"),
                "cvv_result": _text(response, "cvvResultCode"),
                "account": _text(response, "accountNumber"),
                "account_type": _text(response, "accountType"),
                "amount": to_minor(requested),
                "currency": requested.currency,
                "message": text,
            }
        )
        if response_code == "1":
            return ProviderResult(Outcome.SUCCEEDED, reference, requested, message=text, raw=raw)
        if response_code == "4":
            return ProviderResult(
                Outcome.PENDING, reference, requested, error_code="held_for_review", message=text, raw=raw
            )
        if reason == "11" and reference:  # our own earlier request: report what became of it
            return self._duplicate(reference, requested, operation, raw)
        if response_code in ("2", "3"):
            return ProviderResult(
                Outcome.DECLINED,
                reference,
                requested,
                error_code=REASON_CODES.get(reason, "card_declined" if response_code == "2" else "processing_error"),
                message=text or "The transaction was declined.",
                raw=raw,
            )
        return ProviderResult(
            Outcome.ERROR,
            reference,
            requested,
            error_code="unexpected_response",
            message=f"Authorize.Net answered response code {response_code}.",
            raw=raw,
        )

    def _duplicate(self, reference: str, requested: Money, operation: str, raw: Mapping[str, Any]) -> ProviderResult:
        details = self._details(reference, operation)
        if details is None or getattr(details, "transId", None) is None:
            return ProviderResult(
                Outcome.ERROR,
                reference,
                requested,
                error_code="duplicate_transaction",
                message="Authorize.Net reports a duplicate whose original could not be read back.",
                raw=raw,
            )
        action = {"authorize": "authorize", "charge": "charge", "capture": "capture", "refund": "refund"}.get(
            operation, "cancel"
        )
        result = self._details_result(details, requested, action)
        if result.error_code == NOT_FOUND:  # the original did something else: a real duplicate refusal
            return ProviderResult(
                Outcome.DECLINED,
                reference,
                requested,
                error_code="duplicate_transaction",
                message="A duplicate transaction has been submitted.",
                raw=raw,
            )
        return ProviderResult(
            result.outcome,
            result.provider_reference,
            result.amount,
            result.error_code,
            result.message,
            raw={**result.raw, "duplicate_of": reference},
        )

    def _details_raw(self, details: Any, requested: Money) -> dict[str, Any]:
        return self._scrub(
            {
                "operation": "details",
                "trans_id": _text(details, "transId"),
                "transaction_type": _text(details, "transactionType"),
                "status": _text(details, "transactionStatus"),
                "response_code": _text(details, "responseCode"),
                "reason_code": _text(details, "responseReasonCode"),
                "auth_amount": _text(details, "authAmount"),
                "settle_amount": _text(details, "settleAmount"),
                "amount": to_minor(requested),
                "currency": requested.currency,
            }
        )

    def _details_result(self, details: Any, requested: Money, action: str) -> ProviderResult:
        """What a transaction's details say about our `action` on it."""
        status = _text(details, "transactionStatus")
        trans_id = _text(details, "transId")
        currency = requested.currency
        auth_amount = _decimal(_text(details, "authAmount"))
        settle_amount = _decimal(_text(details, "settleAmount"))
        captured = status in (UNSETTLED, *SETTLED)

        def money(value: Decimal) -> Money:
            raw_amount = Money(value, currency)
            return Money(self._amount(raw_amount), currency) if value else requested

        def result(outcome: Outcome, amount: Money, code: str | None = None, message: str = "") -> ProviderResult:
            raw = self._details_raw(details, amount)
            return ProviderResult(outcome, trans_id or None, amount, code, message, raw=raw)

        if action == "refund":
            if status in REFUNDS:
                return result(Outcome.SUCCEEDED, money(settle_amount))
            if status == "declined":
                return result(Outcome.DECLINED, requested, "refund_failed", "Authorize.Net declined the refund.")
            if status == "voided" and _text(details, "transactionType") == "refundTransaction":
                # it arrived, and was voided before it settled: nothing went back
                return result(
                    Outcome.DECLINED,
                    requested,
                    "refund_voided",
                    "The refund was voided at Authorize.Net before it settled: no money went back.",
                )
            return _not_found(requested)
        if status in HELD:
            return result(Outcome.PENDING, requested, "held_for_review", "Held for review by the fraud filters.")
        if action == "capture":
            if captured:
                return result(Outcome.SUCCEEDED, money(settle_amount))
            if status == "authorizedPendingCapture":
                return _not_found(requested)  # the capture never arrived
            return result(Outcome.DECLINED, requested, "not_captured", f"The authorization is {status}.")
        if action == "cancel":
            if status == "voided":
                return result(Outcome.SUCCEEDED, requested)
            if status == "authorizedPendingCapture":
                return _not_found(requested)
            return result(Outcome.DECLINED, requested, "not_canceled", f"The transaction is {status}.")
        # authorize / charge
        if status == "authorizedPendingCapture" or (captured and action == "authorize"):
            return result(Outcome.SUCCEEDED, money(auth_amount))
        if captured or status in ("approvedReview", "refundSettledSuccessfully", "returnedItem", "chargeback"):
            return result(Outcome.SUCCEEDED, money(settle_amount or auth_amount))
        if status == "voided" and action == "authorize":
            return result(Outcome.SUCCEEDED, money(auth_amount))  # authorized, then released
        if status in ("declined", "generalError", "failedReview", "expired", "voided", "settlementError"):
            code = REASON_CODES.get(_text(details, "responseReasonCode"), "card_declined")
            return result(Outcome.DECLINED, requested, code, _text(details, "responseReasonDescription") or status)
        return result(Outcome.ERROR, requested, "unexpected_status", f"Authorize.Net reports {status}.")

    def _scrub(self, data: Any) -> Any:
        return scrub(data, secrets=self._secrets())

    # --- connection and webhooks ----------------------------------------------------------------------------------

    def check_connection(self) -> ProviderResult:
        """authenticateTestRequest: proves the login ID and transaction key without moving anything."""
        nothing = Money(Decimal("0"), self.account_currency)
        reply = self._execute(
            apicontrollers.authenticateTestController, contracts.authenticateTestRequest(), "check connection"
        )
        if reply is None:
            return self._unreadable(nothing, "check connection")
        if str(reply.messages.resultCode) != "Ok":
            message = str(reply.messages.message[0].text) if len(reply.messages.message) else ""
            return ProviderResult(Outcome.DECLINED, None, nothing, error_code="check_failed", message=message)
        return ProviderResult(
            Outcome.SUCCEEDED, None, nothing, message="Authorize.Net accepted the API login ID and transaction key."
        )

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify `X-ANET-Signature: sha512=HEX` (HMAC-SHA512 of the raw body with the signature key as text)."""
        key = str(self.settings.get("signature_key") or "")
        header = next((v for k, v in headers.items() if k.lower() == "x-anet-signature"), "") or ""
        if not key or not header.lower().startswith("sha512="):
            raise InvalidSignature("Authorize.Net webhook without signature or signature key")
        expected = hmac.new(key.encode(), body, hashlib.sha512).hexdigest().upper()
        if not hmac.compare_digest(expected, header[7:].strip().upper()):
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
        """A refund or void notification names the transaction it is about, and a refund has its own id: read the
        transaction's details to find the payment it belongs to (`refTransId`) and what the void undid.

        * refund: a refund (movement, by the refund's id) of the original payment, unless the refund was voided
          since (read after the void, it gave nothing back);
        * void of a refund (possible until it settles): the refund is undone, no money went back;
        * void of a charge (authCapture), or of an authorization that was captured: the money never settles and
          goes back, a refund of what was taken; void of an uncaptured authorization: a cancel (as parsed).
        """
        kind = event.type.removeprefix("net.authorize.payment.")
        if kind not in ("refund.created", "void.created") or not event.provider_reference or not event.movements:
            return event
        details = self._details(event.provider_reference, "details")
        if details is None:
            raise ProviderUnavailable(f"Authorize.Net: details of transaction {event.provider_reference} unreadable")
        if getattr(details, "transId", None) is None:  # unknown here (another account's): leave it as it came
            return event
        currency = self.account_currency
        type_ = _text(details, "transactionType")
        settled = Money(_decimal(_text(details, "settleAmount")).quantize(Decimal("0.01")), currency)
        authorized = Money(_decimal(_text(details, "authAmount")).quantize(Decimal("0.01")), currency)
        reference = event.provider_reference
        refunded = settled if settled.amount else authorized if authorized.amount else event.movements[0].amount
        if type_ == "refundTransaction":
            original = _text(details, "refTransId")
            if not original:
                return event
            if kind == "void.created":
                movement = EventMovement(
                    MovementAction.REFUND_REVERSED,
                    reference,
                    refunded,
                    error_code="refund_voided",
                    message=f"Refund {reference} was voided at Authorize.Net before it settled: no money went back.",
                )
            elif _text(details, "transactionStatus") == "voided":
                return replace(event, provider_reference=original, movements=(), data={**event.data, "voided": True})
            else:  # our own refund carries our key as its invoice number: it tells two of one amount apart
                key = _text(details, "order", "invoiceNumber") or None
                movement = EventMovement(MovementAction.REFUND, reference, refunded, idempotency_key=key)
                # a refund of an authorization implies its capture, whose notification may come later
                return replace(event, provider_reference=original, movements=(*self._capture_of(original), movement))
            return replace(event, provider_reference=original, movements=(movement,))
        if kind == "refund.created":
            return event
        if type_ == "authCaptureTransaction":
            movements: tuple[EventMovement, ...] = (EventMovement(MovementAction.REFUND, reference, authorized),)
        elif type_ == "authOnlyTransaction" and settled.amount > 0:  # the capture it undoes may be notified later
            movements = (
                EventMovement(MovementAction.CAPTURE, reference, settled),
                EventMovement(MovementAction.REFUND, reference, settled),
            )
        else:
            return event
        return replace(event, movements=movements, data={**event.data, "voided_transaction_type": type_})

    def _capture_of(self, trans_id: str) -> tuple[EventMovement, ...]:
        """The capture of an authorization (priorAuthCapture keeps its id), as its details say; () for a charge."""
        details = self._details(trans_id, "details")
        if details is None:
            raise ProviderUnavailable(f"Authorize.Net: details of transaction {trans_id} unreadable")
        if _text(details, "transactionType") != "authOnlyTransaction":
            return ()
        captured = _decimal(_text(details, "settleAmount")).quantize(Decimal("0.01"))
        if not captured:
            return ()
        return (EventMovement(MovementAction.CAPTURE, trans_id, Money(captured, self.account_currency)),)


def event_from_notification(event: Mapping[str, Any], currency: str) -> WebhookEvent:
    """An Authorize.Net notification as the movements it reports (the payload carries no currency: the
    account's)."""
    type_ = str(event["eventType"])
    payload = event.get("payload") or {}
    reference = str(payload.get("id") or "")
    try:
        amount = Money(Decimal(str(payload.get("authAmount") or "0")).quantize(Decimal("0.01")), currency)
    except InvalidOperation:
        amount = Money(Decimal("0"), currency)
    approved = str(payload.get("responseCode")) == "1"
    kind = type_.removeprefix("net.authorize.payment.")
    movements: list[EventMovement] = []
    if payload.get("entityName") == "transaction" and reference:
        if kind in ("authorization.created", "authcapture.created"):
            action = MovementAction.AUTHORIZE if kind == "authorization.created" else MovementAction.CHARGE
            if approved:
                movements.append(EventMovement(action, reference, amount))
            elif str(payload.get("responseCode")) in ("2", "3"):
                movements.append(EventMovement(MovementAction.DECLINE, reference, amount, error_code="card_declined"))
        elif kind in ("capture.created", "priorAuthCapture.created") and approved:
            movements.append(EventMovement(MovementAction.CAPTURE, reference, amount))
        elif kind == "void.created" and approved:
            movements.append(EventMovement(MovementAction.CANCEL, reference, amount))
        elif kind == "refund.created" and approved:
            movements.append(EventMovement(MovementAction.REFUND, reference, amount))
        elif kind == "fraud.approved":
            movements.append(EventMovement(MovementAction.AUTHORIZE, reference, amount))
        elif kind == "fraud.declined":
            movements.append(
                EventMovement(
                    MovementAction.DECLINE,
                    reference,
                    amount,
                    error_code="held_for_review",
                    message="The fraud review declined the payment.",
                )
            )
    return WebhookEvent(
        event_id=str(event["notificationId"]),
        type=type_,
        provider_reference=reference or None,
        amount=amount,
        data={"webhook_id": event.get("webhookId"), "event_date": event.get("eventDate"), "payload": dict(payload)},
        movements=tuple(movements),
        # a refund names only its own id, and a void not what it undid: the details say (webhook_event_complete)
        needs_details=bool(movements) and kind in ("refund.created", "void.created"),
    )


def _bill_to(context: CheckoutContext) -> Any:
    address = context.billing_address
    bill_to = contracts.customerAddressType()
    if address is None:
        return bill_to
    user = context.customer_user
    first = address.first_name or (user.first_name if user else "")
    last = address.last_name or (user.last_name if user else "")
    fields = {
        "firstName": (first, 50),
        "lastName": (last, 50),
        "company": (address.organization, 50),
        "address": (" ".join(p for p in (address.street, address.street2) if p), 60),
        "city": (address.city, 40),
        "state": (address.region_code.split("-")[-1] if address.region_code else address.region_name, 40),
        "zip": (address.postal_code, 20),
        "country": (address.country_iso2, 60),
    }
    for name, (value, limit) in fields.items():
        if value := _xml_text(value)[:limit].strip():
            setattr(bill_to, name, value)
    return bill_to


#: characters XML 1.0 cannot hold (C0 controls but tab, line feed and carriage return; U+FFFE, U+FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def _xml_text(value: str) -> str:
    """A buyer's text as an XML document can hold it: the SDK writes control characters (a vertical tab pasted
    from a word processor) as they are, and Authorize.Net cannot parse the request (E00003)."""
    return " ".join(_NOT_XML.sub(" ", value).split())


def _refund_payment(details: Any) -> Any:
    """What refundTransaction needs of the original payment: the card's last four, or the bank account."""
    payment = contracts.paymentType()
    bank = getattr(getattr(details, "payment", None), "bankAccount", None)
    if bank is not None:
        account = contracts.bankAccountType()
        account.accountType = _text(bank, "accountType") or "checking"
        account.routingNumber = _text(bank, "routingNumber")
        account.accountNumber = _text(bank, "accountNumber")
        account.nameOnAccount = _text(bank, "nameOnAccount")[:22]
        payment.bankAccount = account
        return payment
    card = contracts.creditCardType()
    card.cardNumber = _text(details, "payment", "creditCard", "cardNumber")[-4:]
    card.expirationDate = "XXXX"
    payment.creditCard = card
    return payment


def _decimal(text: str) -> Decimal:
    try:
        return Decimal(text) if text else Decimal("0")
    except InvalidOperation:
        return Decimal("0")


def _not_found(amount: Money) -> ProviderResult:
    return ProviderResult(
        Outcome.ERROR,
        None,
        amount,
        error_code=NOT_FOUND,
        message="Authorize.Net has no trace of this request.",
    )
