"""Authorize.Net's wire through its SDK: the shims it needs (a timeout, a per-call endpoint, lxml for long
lists, a silenced logger; see the adapter's docstring for why), the request documents we build, and the
reporting lists a lost answer is searched in."""

from __future__ import annotations

import base64
import contextvars
import hashlib
import logging
import re
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from functools import partial
from typing import Any

import requests
from authorizenet import apicontractsv1 as contracts
from authorizenet import apicontrollers, apicontrollersbase
from authorizenet.constants import constants as sdk_constants
from lxml import etree, objectify

from providers.base import (
    CheckoutContext,
    Money,
    ProviderMisconfigured,
    ProviderUnavailable,
    currency_exponent,
    street_lines,
    subdivision,
    to_minor,
)
from providers.sessions import shared_session

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
        # one pooled session per endpoint and process: the SDK posts through this module-level hook, which has no
        # way to know the account; the connection carries no state of the account (cookies are refused)
        return shared_session("authorizenet", url).post(url, **kwargs)


apicontrollersbase.requests = _TimedRequests()  # type: ignore[assignment]

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


def key_reference(key: str) -> str:
    """Our idempotency key as Authorize.Net can hold it: 20 characters (invoiceNumber and refId are ≤ 20)."""
    return base64.b32encode(hashlib.sha256(key.encode()).digest()).decode()[:20]


def text_of(node: Any, *path: str) -> str:
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


def wire_amount(money: Money) -> Decimal:
    """An amount as Authorize.Net takes it: at the currency's places; ValueError for one finer than that."""
    to_minor(money)  # refuses amounts finer than the currency
    return money.amount.quantize(Decimal(1).scaleb(-currency_exponent(money.currency)))


def transaction(type_: str, key: str, *, amount: Money | None = None, description: str = "") -> Any:
    txn = contracts.transactionRequestType()
    txn.transactionType = type_
    if amount is not None:
        txn.amount = wire_amount(amount)
        txn.currencyCode = amount.currency
    order = contracts.orderType()
    order.invoiceNumber = key_reference(key)
    if description:
        order.description = xml_text(description)[:255]
    txn.order = order
    return txn


def with_duplicate_window(txn: Any) -> Any:
    """Ask for the longest duplicate window, so a retry with the same invoice number is recognised."""
    setting = contracts.settingType()
    setting.settingName = "duplicateWindow"
    setting.settingValue = str(DUPLICATE_WINDOW)
    settings = contracts.ArrayOfSetting()
    settings.setting.append(setting)
    txn.transactionSettings = settings
    return txn


def bill_to(context: CheckoutContext) -> Any:
    """The billing address as `billTo`: each field cut to its documented length, the state as its code."""
    address = context.billing_address
    document = contracts.customerAddressType()
    if address is None:
        return document
    user = context.customer_user
    first = address.first_name or (user.first_name if user else "")
    last = address.last_name or (user.last_name if user else "")
    fields = {
        "firstName": (first, 50),
        "lastName": (last, 50),
        "company": (address.organization, 50),
        "address": (street_lines(address), 60),
        "city": (address.city, 40),
        "state": (subdivision(address, form="code"), 40),
        "zip": (address.postal_code, 20),
        "country": (address.country_iso2, 60),
    }
    for name, (value, limit) in fields.items():
        if value := xml_text(value)[:limit].strip():
            setattr(document, name, value)
    return document


#: characters XML 1.0 cannot hold (C0 controls but tab, line feed and carriage return; U+FFFE, U+FFFF)
_NOT_XML = re.compile("[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")


def xml_text(value: str) -> str:
    """A buyer's text as an XML document can hold it: the SDK writes control characters (a vertical tab pasted
    from a word processor) as they are, and Authorize.Net cannot parse the request (E00003)."""
    return " ".join(_NOT_XML.sub(" ", value).split())


def refund_payment(details: Any) -> Any:
    """What refundTransaction needs of the original payment: the card's last four, or the bank account."""
    payment = contracts.paymentType()
    bank = getattr(getattr(details, "payment", None), "bankAccount", None)
    if bank is not None:
        account = contracts.bankAccountType()
        account.accountType = text_of(bank, "accountType") or "checking"
        account.routingNumber = text_of(bank, "routingNumber")
        account.accountNumber = text_of(bank, "accountNumber")
        account.nameOnAccount = text_of(bank, "nameOnAccount")[:22]
        payment.bankAccount = account
        return payment
    card = contracts.creditCardType()
    card.cardNumber = text_of(details, "payment", "creditCard", "cardNumber")[-4:]
    card.expirationDate = "XXXX"
    payment.creditCard = card
    return payment


def decimal_of(text: str) -> Decimal:
    """A decimal field of a reply; 0 when it is empty or not a number."""
    try:
        return Decimal(text) if text else Decimal("0")
    except InvalidOperation:
        return Decimal("0")


class AuthorizeNetClient:
    """One integration's calls: `auth` builds the merchant authentication (raising `ProviderMisconfigured`
    without credentials), `endpoint` is the XML API address, `page_size` the transactions per reporting page."""

    def __init__(
        self,
        *,
        auth: Callable[[], Any],
        endpoint: str,
        timeouts: tuple[float, float],
        page_size: int,
    ) -> None:
        self._auth = auth
        self._endpoint = endpoint
        self._timeouts = timeouts
        self._page_size = page_size

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

    def execute(self, controller_class: type, request: Any, operation: str, *, listing: bool = False) -> Any:
        """Run one SDK controller against our endpoint; the objectify reply, or raise ProviderUnavailable.

        `listing`: a reporting list, read with lxml straight from the reply (see the module docstring).
        """
        request.merchantAuthentication = self._auth()
        token = _TIMEOUTS.set(self._timeouts)
        listed: Any = None
        try:
            with self._endpoint_held() as release:
                controller = controller_class(request)
                controller.setenvironment(self._endpoint)  # after construction: __init__ resets it to the SDK's
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

    def create(self, txn: Any, key: str, operation: str) -> Any:
        request = contracts.createTransactionRequest()
        request.refId = key_reference(key)
        request.transactionRequest = with_duplicate_window(txn)
        return self.execute(apicontrollers.createTransactionController, request, operation)

    def details(self, trans_id: str, operation: str) -> Any:
        request = contracts.getTransactionDetailsRequest()
        request.transId = trans_id
        reply = self.execute(apicontrollers.getTransactionDetailsController, request, operation)
        if reply is None or str(reply.messages.resultCode) != "Ok":
            return reply
        return reply.transaction

    def find_by_key(
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
            if text_of(summary, "invoiceNumber") != reference:
                continue
            details = self.details(text_of(summary, "transId"), operation)
            if details is None or getattr(details, "transId", None) is None:
                raise ProviderUnavailable(
                    f"Authorize.Net {operation}: transaction {text_of(summary, 'transId')} unreadable"
                )
            if text_of(details, "transactionType") not in types:
                continue
            if ref_trans_id is not None and text_of(details, "refTransId") != ref_trans_id:
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
            reply = self.execute(apicontrollers.getSettledBatchListController, request, operation, listing=True)
            self._check_list(reply, operation, "settled batches")
            for batch in getattr(getattr(reply, "batchList", None), "batch", []):
                batch_id = text_of(batch, "batchId")

                def for_batch(batch_id: str = batch_id) -> Any:
                    listing = contracts.getTransactionListRequest()
                    listing.batchId = batch_id
                    return listing

                yield from self._pages(apicontrollers.getTransactionListController, for_batch, operation)
            start = end

    def _pages(self, controller_class: type, make_request: Callable[[], Any], operation: str) -> Iterator[Any]:
        """All transactions of a reporting list, page after page (sorted by id, so pages do not overlap)."""
        page_size = self._page_size
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
            reply = self.execute(controller_class, request, operation, listing=True)
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
