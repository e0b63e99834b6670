"""The Authorize.Net sandbox: a stateful simulator of the XML API (and Accept.js) the adapter uses.

Served under `/sandbox/authorizenet/` (see `urls.py`) when `settings.SANDBOX_ENABLED`. The official SDK runs
against it unchanged; only the endpoint differs (`…/sandbox/authorizenet/xml/v1/request.api`).

On the wire, as providers.md §2.1–2.4 describe the real API:

* one URL for every operation, the root element naming it; XML replies in the AnetApi namespace, in the XSD's
  element order, **starting with the UTF-8 byte-order mark** and **always HTTP 200**, errors in the body
  (`resultCode=Error`). Requests are checked against the official schema (the SDK's own PyXB bindings): an
  element out of order is refused with E00003, as the real API does. Every request document received is recorded
  (`received_documents()`, the transaction key masked) so tests can check its element order;
* credentials: any API login ID (≤ 25 characters) with a 16-character alphanumeric transaction key is an
  account (derived from the login ID); a key starting `invalid` gets E00007;
* Accept.js: `POST` the same URL with JSON `securePaymentContainerRequest` (what Accept.js sends; the stand-in
  script `/sandbox/authorizenet/v1/Accept.js` does it from the browser) turns card or bank fields into opaque
  data (`COMMON.ACCEPT.INAPP.PAYMENT`), single use, valid for 15 minutes (E00114 after);
* transactions: authOnly, authCapture, priorAuthCapture (≤ the authorized amount, once: 311 after, 47 above),
  void (310 when voided already), refund (settled transactions only, 54 otherwise; the card's last four must
  match; 55 beyond what is left; 54 too when it settled more than 180 days ago), getTransactionDetails (with the
  batch a settled transaction is in), authenticateTest;
* reporting as the Transaction Details API documents it: getUnsettledTransactionList (everything not in a settled
  batch yet, declined and voided ones too; `status=pendingApproval` for held ones only), getSettledBatchList
  (batches settled between `firstSettlementDate` and `lastSettlementDate`, both or neither, at most 31 days apart,
  E00013 otherwise; the last 24 hours without dates) and getTransactionList (one batch). Lists take `sorting`
  (orderBy `id` or `submitTimeUTC`, orderDescending) and `paging` (limit 1–1000, offset = the page from 1); without
  paging a list holds at most 1000 transactions (the newest unsettled, the oldest of a batch), so a search must
  page through them;
* settlement in batches, one per payment method (credit card, eCheck) and run: captured transactions and refunds
  settle `SANDBOX_AUTHORIZENET_SETTLEMENT_SECONDS` (default one day) of simulated time after capture, or at once
  with `POST /sandbox/authorizenet/__sim/settle` (optional `trans_id`); declined and voided transactions are
  reported in the batch that follows them; unsettled authorizations expire after 30 days.
  `/sandbox/__sim/advance_time` moves the clock;
* duplicate detection: the same type, amount, payment, invoice number and billing fields within the window
  (`duplicateWindow` setting, default 120 s) answer reason 11; with `duplicateWindow` sent, the reply carries the
  original transaction's id, auth code and AVS/CVV results. Declined transactions count too, as at Authorize.Net;
* signed webhooks (`X-ANET-Signature: sha512=HEX`, HMAC-SHA512 of the body keyed with the signature key as text)
  for `net.authorize.payment.authorization.created`, `.authcapture.created`, `.priorAuthCapture.created`,
  `.void.created`, `.refund.created`, `.fraud.held|approved|declined`, sent through the shared delivery task to
  the endpoints registered with `webhook_register` (or `POST …/__sim/webhook_endpoint`);
* faults from `/sandbox/__sim/fault` (provider=authorizenet; operations `authorize`, `charge`, `capture`, `void`,
  `refund`, `details`, `list` (unsettled), `batches`, `batch_transactions`, `authenticate`, `tokenize`).

Triggers (Authorize.Net's test-environment conventions, providers.md §2.3):

* billing ZIP 46282 (billTo, or the ZIP given to Accept.js): declined, reason 2;
* AVS ZIPs 46201 A, 46203 E, 46204 G, 46205 N, 46206 P, 46207 R, 46208 S, 46209 U, 46211 W, 46214 X, 46217 Z:
  that AVS code; N is declined (reason 27, as the sandbox account's AVS filter rejects N);
* card codes 900 M, 901 N, 902 S, 903 U, 904 P: that CVV code; N is declined (reason 44, the card-code filter);
* card 4222222222222 with a whole-dollar amount equal to a reason code: that reason (2/3/4 declined, 6 invalid
  number, 7 bad expiry, 8 expired, 19–23 processing error, 27 AVS, 44/45 card code, 252/253 held for review);
* an eCheck above 100.00: declined, reason 2;
* a currency other than USD, CAD, EUR, GBP, AUD, NZD, CHF, DKK, NOK, PLN, SEK: reason 39.

Held transactions (252: FDSPendingReview, 253: FDSAuthorizedPendingReview) wait for
`POST …/__sim/review` with `trans_id` and `decision=approve|decline`.

Simplifications: no customer profiles (CIM), no batch statistics, no partial authorizations, the webhooks REST
API is replaced by `webhook_register`, and a void of a settled transaction is refused with reason 16.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any

from authorizenet import apicontractsv1
from django.conf import settings
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from lxml import etree
from pyxb.binding.content import AutomatonConfiguration

from core.cards import card_brand, luhn_valid
from sandbox.models import SimObject
from sandbox.pipeline import Delivery, cors, serve, sim_account_id, webhook_endpoint_save, webhooks_send
from sandbox.services import (
    sim_get,
    sim_list,
    sim_load,
    sim_now,
    sim_put,
)
from sandbox.views import sandbox_view

PROVIDER = "authorizenet"
# PyXB gives up on documents its automaton cannot decide within 20 alternatives; a billTo with most of its optional
# fields (customerAddressType) needs more. The limit is PyXB's guard against runaway parsing, not a schema rule.
AutomatonConfiguration.PermittedNondeterminism = max(AutomatonConfiguration.PermittedNondeterminism, 4096)
NS = "AnetApi/xml/v1/schema/AnetApiSchema.xsd"
BOM = b"\xef\xbb\xbf"
DESCRIPTOR = "COMMON.ACCEPT.INAPP.PAYMENT"
NONCE_TTL = timedelta(minutes=15)
DEFAULT_DUPLICATE_WINDOW = 120
MAX_DUPLICATE_WINDOW = 28800
AUTHORIZATION_TTL = timedelta(days=30)
#: "Only transactions that have been settled within the past 180 days can be refunded"
REFUND_PERIOD = timedelta(days=180)
CURRENCIES = {"USD", "CAD", "EUR", "GBP", "AUD", "NZD", "CHF", "DKK", "NOK", "PLN", "SEK"}
REASON_CARD = "4222222222222"
APPROVED = "This transaction has been approved."
DECLINED = "This transaction has been declined."
PROCESSING = "An error occurred during processing. Please try again in 5 minutes."
HELD_TEXT = "Your order has been received. Thank you for your business!"
#: reason code -> (response code, text)
REASONS: dict[int, tuple[str, str]] = {
    1: ("1", APPROVED),
    2: ("2", DECLINED),
    3: ("2", DECLINED),
    4: ("2", DECLINED),
    5: ("3", "A valid amount is required."),
    6: ("3", "The credit card number is invalid."),
    7: ("3", "Credit card expiration date is invalid."),
    8: ("3", "The credit card has expired."),
    11: ("3", "A duplicate transaction has been submitted."),
    16: ("3", "The transaction cannot be found."),
    19: ("3", PROCESSING),
    20: ("3", PROCESSING),
    21: ("3", PROCESSING),
    22: ("3", PROCESSING),
    23: ("3", PROCESSING),
    27: (
        "2",
        "The transaction has been declined because of an AVS mismatch. The address provided does not match "
        "billing address of cardholder.",
    ),
    33: ("3", "A required field cannot be left blank."),
    39: (
        "3",
        "The supplied currency code is either invalid, not supported, not allowed for this merchant or doesn't "
        "have an exchange rate.",
    ),
    44: ("2", DECLINED),
    45: ("2", DECLINED),
    47: ("3", "The amount requested for settlement cannot be greater than the original amount authorized."),
    54: ("3", "The referenced transaction does not meet the criteria for issuing a credit."),
    55: ("3", "The sum of credits against the referenced transaction would exceed original debit amount."),
    252: ("4", HELD_TEXT),
    253: ("4", HELD_TEXT),
    310: ("3", "This transaction has already been voided."),
    311: ("3", "This transaction has already been captured."),
}
AVS_ZIPS = {
    "46201": "A",
    "46203": "E",
    "46204": "G",
    "46205": "N",
    "46206": "P",
    "46207": "R",
    "46208": "S",
    "46209": "U",
    "46211": "W",
    "46214": "X",
    "46217": "Z",
}
CVV_CODES = {"900": "M", "901": "N", "902": "S", "903": "U", "904": "P"}
ECHECK_ACCOUNT_TYPES = ("checking", "savings", "businessChecking")
UNSETTLED = ("authorizedPendingCapture", "capturedPendingSettlement", "refundPendingSettlement")
HELD = ("FDSPendingReview", "FDSAuthorizedPendingReview")
#: status before settlement -> status after
SETTLING = {"capturedPendingSettlement": "settledSuccessfully", "refundPendingSettlement": "refundSettledSuccessfully"}
#: final before any batch: listed among the unsettled transactions until the next settlement reports them
FINAL_UNSETTLED = ("declined", "voided", "generalError")
#: paging of the reporting calls (the XSD's Paging type): at most 1000 per page, pages numbered from 1
PAGE_LIMIT = 1000
BATCH_LIST_MAX_DAYS = 31


def settlement_delay() -> timedelta:
    return timedelta(seconds=float(getattr(settings, "SANDBOX_AUTHORIZENET_SETTLEMENT_SECONDS", 24 * 3600)))


# --- accounts and credentials -----------------------------------------------------------------------------------


def account_of(login: str) -> str:
    return sim_account_id(login, prefix="anet_")


def credentials_valid(login: str, transaction_key: str) -> bool:
    return (
        0 < len(login) <= 25
        and re.fullmatch(r"[A-Za-z0-9]{16}", transaction_key or "") is not None
        and not transaction_key.lower().startswith("invalid")
    )


# --- XML -----------------------------------------------------------------------------------------------------------

Node = tuple[str, Any]  # (name, text | list of Node | None)


def _build(name: str, value: Any) -> etree._Element:
    element = etree.Element(f"{{{NS}}}{name}", nsmap={None: NS})
    _fill(element, value)
    return element


def _fill(element: etree._Element, value: Any) -> None:
    if isinstance(value, list):
        for item in value:
            if item is None or item[1] is None:
                continue
            child_name, child_value = item
            child = etree.SubElement(element, f"{{{NS}}}{child_name}")
            _fill(child, child_value)
    elif value is not None:
        element.text = str(value)


def xml_reply(name: str, children: list[Node]) -> HttpResponse:
    """An API reply: BOM, declaration (double quotes, as the SDK's fallback parser expects), HTTP 200."""
    text = '<?xml version="1.0" encoding="utf-8"?>' + etree.tostring(_build(name, children), encoding="unicode")
    return HttpResponse(BOM + text.encode(), status=200, content_type="application/xml; charset=utf-8")


def _messages(ok: bool, code: str, text: str) -> Node:
    return ("messages", [("resultCode", "Ok" if ok else "Error"), ("message", [("code", code), ("text", text)])])


def error_reply(root: str, code: str, text: str, ref_id: str | None = None) -> HttpResponse:
    response = root.removesuffix("Request") + "Response" if root.endswith("Request") else "ErrorResponse"
    return xml_reply(response, [("refId", ref_id), _messages(False, code, text)])


def _local(element: etree._Element) -> str:
    return etree.QName(element).localname


def _child(element: etree._Element | None, *path: str) -> etree._Element | None:
    for name in path:
        if element is None:
            return None
        element = element.find(f"{{{NS}}}{name}")
    return element


def _value(element: etree._Element | None, *path: str) -> str:
    found = _child(element, *path)
    return (found.text or "").strip() if found is not None else ""


def _mask(body: str) -> str:
    return re.sub(r"(<transactionKey>)[^<]*(</transactionKey>)", r"\1••••\2", body)


def received_documents(root: str | None = None) -> list[str]:
    """The request documents the sandbox received, oldest first (transaction keys masked)."""
    rows = [o.data for o in sim_list(PROVIDER, "request")]
    return [r["xml"] for r in rows if root is None or r["root"] == root]


# --- state ---------------------------------------------------------------------------------------------------------


def _now() -> datetime:
    return sim_now(PROVIDER)


def _iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"


def _load(kind: str, object_id: str, account: str) -> dict[str, Any] | None:
    return sim_load(PROVIDER, kind, object_id, account)


def _save(kind: str, object_id: str, data: dict[str, Any], account: str) -> None:
    sim_put(PROVIDER, kind, object_id, data, account=account)


def _new_trans_id() -> str:
    return str(60_000_000_000 + secrets.randbelow(9_999_999_999))


def _amount(text: str) -> Decimal | None:
    try:
        value = Decimal(text)
    except InvalidOperation:
        return None
    if value <= 0 or value != value.quantize(Decimal("0.01")) or value > Decimal("99999999.99"):
        return None
    return value.quantize(Decimal("0.01"))


def settle(trans_id: str | None = None) -> int:
    """Run a settlement now (for one transaction, or all); returns how many captured payments and refunds settled.

    Everything the run picks up goes into a settled batch, one per payment method (credit card, eCheck), as at
    Authorize.Net: captured payments and refunds settle; declined, voided and failed transactions are reported in
    the batch too and leave the unsettled list. Authorizations not captured yet stay unsettled.
    """
    with transaction.atomic():
        objects = sim_list(PROVIDER, "transaction")
        if trans_id:
            objects = [o for o in objects if o.data["transId"] == trans_id]
        return _settle_run(objects, force=True)


def _settle_due(account: str) -> None:
    """What the daily settlement would have done by now on the simulated clock (run before every API call)."""
    _settle_run(sim_list(PROVIDER, "transaction", account=account), force=False)


def _settle_run(objects: list[SimObject], *, force: bool) -> int:
    now = _now()
    batches: dict[tuple[str, str], list[dict[str, Any]]] = {}
    settled = 0
    for obj in objects:
        data = dict(obj.data)
        if data.get("batchId"):
            continue
        status = data["status"]
        submitted = datetime.fromisoformat(data.get("capturedAt") or data["submitted"])
        due = force or now - submitted >= settlement_delay()
        if status == "authorizedPendingCapture":
            if not force and now - datetime.fromisoformat(data["submitted"]) >= AUTHORIZATION_TTL:
                data["status"] = "expired"
                _save("transaction", data["transId"], data, obj.account)
            continue
        if status not in (*SETTLING, *FINAL_UNSETTLED) or not due:
            continue
        if status in SETTLING:
            data["status"] = SETTLING[status]
            data["settledAt"] = now.isoformat()
            settled += 1
        method = "eCheck" if data["payment"]["kind"] == "bank" else "creditCard"
        batches.setdefault((obj.account, method), []).append(data)
    for (account, method), members in batches.items():
        batch_id = str(10_000_000 + secrets.randbelow(89_999_999))
        for data in members:
            data["batchId"] = batch_id
            _save("transaction", data["transId"], data, account)
        _save(
            "batch",
            batch_id,
            {
                "batchId": batch_id,
                "settlementTime": now.isoformat(),
                "paymentMethod": method,
                "transIds": [d["transId"] for d in members],
            },
            account,
        )
    return settled


# --- Accept.js: opaque data -------------------------------------------------------------------------------------------


#: our brand names (core.cards) -> Authorize.Net's `accountType` / `cardType`, from its documentation: the adapter
#: keeps its own table, as an oracle shares nothing with what it checks
CARD_TYPES = {
    "visa": "Visa",
    "mastercard": "MasterCard",
    "american_express": "AmericanExpress",
    "discover": "Discover",
    "jcb": "JCB",
    "diners_club": "DinersClub",
    "china_union_pay": "ChinaUnionPay",
}


def card_type(number: str) -> str:
    return CARD_TYPES.get(card_brand(number), "Unknown")


def _expiry(text: str) -> tuple[int, int] | None:
    """(year, month) from "MMYY", "MMYYYY", "MM/YY" or "YYYY-MM"."""
    text = text.strip()
    if match := re.fullmatch(r"(\d{4})-(\d{1,2})", text):
        year, month = int(match[1]), int(match[2])
    elif match := re.fullmatch(r"(\d{1,2})\s*/?\s*(\d{2}|\d{4})", text):
        month, year = int(match[1]), int(match[2])
    else:
        return None
    year += 2000 if year < 100 else 0
    return (year, month) if 1 <= month <= 12 else None


def tokenize(login: str, client_key: str, token: Mapping[str, Any]) -> dict[str, Any]:
    """What Accept.js gets back for card or bank fields: opaque data, or `messages` with an E_WC_ error."""

    def error(code: str, text: str) -> dict[str, Any]:
        return {"messages": {"resultCode": "Error", "message": [{"code": code, "text": text}]}}

    if not login or not client_key or client_key.lower().startswith("invalid"):
        return error("E_WC_21", "User authentication failed due to invalid authentication values.")
    now = _now()
    data: dict[str, Any]
    if token.get("accountNumber") or token.get("routingNumber"):
        routing = re.sub(r"\D", "", str(token.get("routingNumber", "")))
        account_number = re.sub(r"\D", "", str(token.get("accountNumber", "")))
        account_type = str(token.get("accountType") or "checking")
        if len(routing) != 9:
            return error("E_WC_23", "Please provide valid routing number.")
        if not 4 <= len(account_number) <= 17:
            return error("E_WC_22", "Please provide valid account number.")
        if account_type not in ECHECK_ACCOUNT_TYPES:
            return error("E_WC_24", "Please provide valid account type.")
        name = str(token.get("nameOnAccount") or "").strip()
        if not name:
            return error("E_WC_25", "Please provide valid name on account.")
        data = {"kind": "bank", "routing": routing, "number": account_number, "type": account_type, "name": name[:22]}
    else:
        number = re.sub(r"[\s-]", "", str(token.get("cardNumber", "")))
        if not luhn_valid(number):
            return error("E_WC_05", "Please provide valid credit card number.")
        expiry = _expiry(str(token.get("expirationDate", "")))
        if expiry is None:
            return error("E_WC_06", "Please provide valid expiration month.")
        if expiry < (now.year, now.month):
            return error("E_WC_08", "Expiration date must be in the future.")
        code = str(token.get("cardCode") or "")
        if code and not re.fullmatch(r"\d{3,4}", code):
            return error("E_WC_15", "Please provide valid CVV.")
        data = {
            "kind": "card",
            "number": number,
            "expiry": f"{expiry[0]:04d}-{expiry[1]:02d}",
            "code": code,
            "zip": str(token.get("zip") or "")[:20],
            "name": str(token.get("fullName") or "")[:64],
        }
    value = secrets.token_urlsafe(48)
    data.update(created=now.isoformat(), used=False)
    _save("nonce", value, data, account_of(login))
    return {
        "opaqueData": {"dataDescriptor": DESCRIPTOR, "dataValue": value},
        "messages": {"resultCode": "Ok", "message": [{"code": "I_WC_01", "text": "Successful."}]},
    }


def accept_tokenize(login: str, **token: Any) -> dict[str, str]:
    """For tests and seeds: opaque data as the widgets post it (`data_descriptor`, `data_value`)."""
    reply = tokenize(login, "sandbox-client-key", token)
    if "opaqueData" not in reply:
        raise ValueError(reply["messages"]["message"][0]["text"])
    return {"data_descriptor": reply["opaqueData"]["dataDescriptor"], "data_value": reply["opaqueData"]["dataValue"]}


# --- the API endpoint ------------------------------------------------------------------------------------------------


OPERATIONS = {
    "authOnlyTransaction": "authorize",
    "authCaptureTransaction": "charge",
    "priorAuthCaptureTransaction": "capture",
    "voidTransaction": "void",
    "refundTransaction": "refund",
}


@sandbox_view
@require_http_methods(["POST", "OPTIONS"])
def request_api(request: HttpRequest) -> HttpResponse:
    """`/xml/v1/request.api`: every operation, XML (the SDK) or JSON (Accept.js)."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))
    body = request.body.removeprefix(BOM)
    if body.lstrip().startswith(b"{"):
        return _cors(_json_api(body))
    try:
        root = etree.fromstring(body, parser=etree.XMLParser(resolve_entities=False, no_network=True))
    except etree.XMLSyntaxError as exc:
        return error_reply("ErrorResponse", "E00003", f"An error occurred while parsing the XML: {exc}")
    name = _local(root)
    operation = _operation(root)
    sim_put(
        PROVIDER,
        "request",
        f"req_{uuid.uuid4().hex}",
        {"root": name, "operation": operation, "xml": _mask(body.decode("utf-8", "replace"))},
    )
    return serve(
        provider=PROVIDER,
        operation=operation,
        execute=lambda: _xml_api(root, body, request),
        respond=lambda reply, replayed: reply,  # no idempotency keys: the duplicate window recognises a retry
    )


def _xml_api(root: etree._Element, body: bytes, request: HttpRequest) -> HttpResponse:
    """One XML request, once the pipeline let it through: namespace, schema, credentials, then its handler."""
    name = _local(root)
    ref_id = _value(root, "refId") or None
    if etree.QName(root).namespace != NS:
        return error_reply(name, "E00045", "The root node does not reference a valid XML namespace.", ref_id)
    try:
        apicontractsv1.CreateFromDocument(body)  # the official schema: element order, types, lengths
    except Exception as exc:  # noqa: BLE001 - PyXB raises many kinds; each is a schema violation
        return error_reply(name, "E00003", f"The request does not follow the schema: {type(exc).__name__}", ref_id)
    login = _value(root, "merchantAuthentication", "name")
    if not credentials_valid(login, _value(root, "merchantAuthentication", "transactionKey")):
        return error_reply(name, "E00007", "User authentication failed due to invalid authentication values.", ref_id)
    account = account_of(login)
    handler = HANDLERS.get(name)
    if handler is None:
        return error_reply(name, "E00044", "Customer Information Manager is not enabled.", ref_id)
    _settle_due(account)
    return handler(root, account, ref_id, request)


def _operation(root: etree._Element) -> str:
    name = _local(root)
    if name == "createTransactionRequest":
        return OPERATIONS.get(_value(root, "transactionRequest", "transactionType"), "create")
    return {
        "getTransactionDetailsRequest": "details",
        "getUnsettledTransactionListRequest": "list",
        "getSettledBatchListRequest": "batches",
        "getTransactionListRequest": "batch_transactions",
        "authenticateTestRequest": "authenticate",
    }.get(name, name)


def _json_api(body: bytes) -> HttpResponse:
    """Accept.js's `securePaymentContainerRequest` (JSON; the reply starts with a BOM too)."""
    try:
        document = json.loads(body)
        container = document["securePaymentContainerRequest"]
        auth = container["merchantAuthentication"]
        token = container["data"]["token"]
    except (ValueError, KeyError, TypeError):
        reply: dict[str, Any] = {
            "messages": {"resultCode": "Error", "message": [{"code": "E00003", "text": "Invalid request."}]}
        }
    else:
        ref_id = {"refId": container["refId"]} if container.get("refId") else {}
        return serve(
            provider=PROVIDER,
            operation="tokenize",
            execute=lambda: tokenize(str(auth.get("name", "")), str(auth.get("clientKey", "")), token),
            respond=lambda reply, replayed: _json_reply({**ref_id, **reply}),
        )
    return _json_reply(reply)


def _json_reply(reply: Mapping[str, Any]) -> HttpResponse:
    return HttpResponse(BOM + json.dumps(reply).encode(), content_type="application/json; charset=utf-8")


def _cors(response: HttpResponse) -> HttpResponse:
    return cors(response, methods="POST, OPTIONS", headers="Content-Type")


# --- operations -------------------------------------------------------------------------------------------------------


def _authenticate_test(root: etree._Element, account: str, ref_id: str | None, request: HttpRequest) -> HttpResponse:
    return xml_reply("authenticateTestResponse", [("refId", ref_id), _messages(True, "I00001", "Successful.")])


def _transaction_response(
    reason: int,
    *,
    trans_id: str = "0",
    ref_trans_id: str = "",
    auth_code: str = "",
    avs: str = "P",
    cvv: str = "",
    account_number: str = "",
    account_type: str = "",
    text: str | None = None,
) -> Node:
    response_code, default_text = REASONS.get(reason, ("3", PROCESSING))
    message = text or default_text
    ok = response_code in ("1", "4")
    return (
        "transactionResponse",
        [
            ("responseCode", response_code),
            ("authCode", auth_code),
            ("avsResultCode", avs),
            ("cvvResultCode", cvv),
            ("cavvResultCode", ""),
            ("transId", trans_id),
            ("refTransID", ref_trans_id),
            ("transHash", ""),
            ("testRequest", "0"),
            ("accountNumber", account_number),
            ("accountType", account_type),
            ("messages", [("message", [("code", str(reason)), ("description", message)])]) if ok else None,
            ("errors", [("error", [("errorCode", str(reason)), ("errorText", message)])]) if not ok else None,
            ("transHashSha2", ""),
        ],
    )


def _create_reply(ref_id: str | None, response: Node) -> HttpResponse:
    code = dict(item for item in response[1] if item is not None)["responseCode"]
    ok = code in ("1", "4")
    messages = (
        _messages(True, "I00001", "Successful.")
        if ok
        else _messages(False, "E00027", "The transaction was unsuccessful.")
    )
    return xml_reply("createTransactionResponse", [("refId", ref_id), messages, response])


_INVALID_TOKEN = _messages(False, "E00114", "Invalid OTS Token.")


def _masked(payment: Mapping[str, Any]) -> str:
    return "XXXX" + payment["number"][-4:]


def _fingerprint(type_: str, txn: etree._Element, payment_key: str) -> str:
    fields = [
        type_,
        _value(txn, "amount"),
        _value(txn, "currencyCode"),
        payment_key,
        _value(txn, "refTransId"),
        _value(txn, "order", "invoiceNumber"),
        _value(txn, "customer", "id"),
        _value(txn, "poNumber"),
        *(_value(txn, "billTo", f) for f in ("firstName", "lastName", "company", "address", "city", "state", "zip")),
    ]
    return hashlib.sha256("|".join(fields).encode()).hexdigest()


def _duplicate_window(txn: etree._Element) -> tuple[int, bool]:
    settings_node = _child(txn, "transactionSettings")
    if settings_node is not None:
        for setting in settings_node.findall(f"{{{NS}}}setting"):
            if _value(setting, "settingName") == "duplicateWindow":
                try:
                    return max(0, min(int(_value(setting, "settingValue")), MAX_DUPLICATE_WINDOW)), True
                except ValueError:
                    break
    return DEFAULT_DUPLICATE_WINDOW, False


def _find_duplicate(account: str, fingerprint: str, window: int) -> dict[str, Any] | None:
    since = _now() - timedelta(seconds=window)
    for obj in reversed(sim_list(PROVIDER, "transaction", account=account)):
        data = obj.data
        for attempt in data.get("attempts", []):
            if attempt["fingerprint"] == fingerprint and datetime.fromisoformat(attempt["at"]) >= since:
                return data
    return None


def _duplicate_reply(ref_id: str | None, original: Mapping[str, Any] | None, *, echo: bool) -> HttpResponse:
    if original is None or not echo:
        return _create_reply(ref_id, _transaction_response(11))
    return _create_reply(
        ref_id,
        _transaction_response(
            11,
            trans_id=original["transId"],
            ref_trans_id=original.get("refTransId", ""),
            auth_code=original.get("authCode", ""),
            avs=original.get("avs", "P"),
            cvv=original.get("cvv", ""),
            account_number=_masked(original["payment"]),
            account_type=original["payment"].get("cardType", "eCheck"),
        ),
    )


def _note_attempt(data: dict[str, Any], fingerprint: str) -> None:
    data.setdefault("attempts", []).append({"fingerprint": fingerprint, "at": _now().isoformat()})


def _create_transaction(root: etree._Element, account: str, ref_id: str | None, request: HttpRequest) -> HttpResponse:
    txn = _child(root, "transactionRequest")
    type_ = _value(txn, "transactionType")
    window, echo = _duplicate_window(txn)
    if type_ in ("authOnlyTransaction", "authCaptureTransaction"):
        return _purchase(txn, type_, account, ref_id, window, echo, request)
    if type_ in ("priorAuthCaptureTransaction", "voidTransaction", "refundTransaction"):
        original = _load("transaction", _value(txn, "refTransId"), account)
        fingerprint = _fingerprint(type_, txn, _value(txn, "refTransId"))
        if (duplicate := _find_duplicate(account, fingerprint, window)) is not None:
            return _duplicate_reply(ref_id, duplicate, echo=echo)
        if original is None:
            return _create_reply(ref_id, _transaction_response(16))
        if type_ == "priorAuthCaptureTransaction":
            return _capture(txn, original, account, ref_id, fingerprint, request)
        if type_ == "voidTransaction":
            return _void(txn, original, account, ref_id, fingerprint, request)
        return _refund(txn, original, account, ref_id, fingerprint, request)
    return error_reply(_local(root), "E00003", f"The transaction type {type_} is not supported.", ref_id)


def _card_decision(payment: Mapping[str, Any], amount: Decimal, zip_code: str) -> tuple[int, str, str]:
    """(reason code, AVS code, CVV code) for a card transaction, by the test-environment triggers."""
    cvv = CVV_CODES.get(payment.get("code", ""), "M" if payment.get("code") else "P")
    avs = AVS_ZIPS.get(zip_code, "Y")
    if payment["number"] == REASON_CARD and amount == amount.to_integral_value() and int(amount) in REASONS:
        return int(amount), avs, cvv
    if zip_code == "46282":
        return 2, avs, cvv
    if avs == "N":
        return 27, avs, cvv
    if cvv == "N":
        return 44, avs, cvv
    return 1, avs, cvv


def _purchase(
    txn: etree._Element,
    type_: str,
    account: str,
    ref_id: str | None,
    window: int,
    echo: bool,
    request: HttpRequest,
) -> HttpResponse:
    amount = _amount(_value(txn, "amount"))
    currency = _value(txn, "currencyCode") or "USD"
    opaque = _child(txn, "payment", "opaqueData")
    if opaque is None:
        return _create_reply(ref_id, _transaction_response(33, text="Payment data (opaqueData) is required."))
    value = _value(opaque, "dataValue")
    nonce = _load("nonce", value, account) if _value(opaque, "dataDescriptor") == DESCRIPTOR else None
    if nonce is None:
        return xml_reply("createTransactionResponse", [("refId", ref_id), _INVALID_TOKEN])
    payment_key = f"{nonce['kind']}:{nonce.get('routing', '')}:{nonce['number']}:{nonce.get('expiry', '')}"
    fingerprint = _fingerprint(type_, txn, payment_key)
    if (duplicate := _find_duplicate(account, fingerprint, window)) is not None:
        return _duplicate_reply(ref_id, duplicate, echo=echo)
    if nonce["used"] or _now() - datetime.fromisoformat(nonce["created"]) > NONCE_TTL:
        return xml_reply("createTransactionResponse", [("refId", ref_id), _INVALID_TOKEN])
    nonce["used"] = True
    _save("nonce", value, nonce, account)
    if amount is None:
        return _create_reply(ref_id, _transaction_response(5))
    if currency not in CURRENCIES:
        return _create_reply(ref_id, _transaction_response(39))
    bank = nonce["kind"] == "bank"
    if bank:
        reason, avs, cvv = (2 if amount > 100 else 1), "P", ""
        payment = {"kind": "bank", "number": nonce["number"], "routing": nonce["routing"], "type": nonce["type"]}
        payment["name"] = nonce["name"]
    else:
        zip_code = _value(txn, "billTo", "zip") or nonce.get("zip", "")
        reason, avs, cvv = _card_decision(nonce, amount, zip_code)
        payment = {"kind": "card", "number": nonce["number"][-4:], "cardType": card_type(nonce["number"])}
    response_code = REASONS[reason][0]
    trans_id = _new_trans_id()
    now = _now()
    status = {
        "1": "authorizedPendingCapture" if type_ == "authOnlyTransaction" else "capturedPendingSettlement",
        "2": "declined",
        "3": "generalError",
        "4": "FDSPendingReview" if reason == 252 else "FDSAuthorizedPendingReview",
    }[response_code]
    data: dict[str, Any] = {
        "transId": trans_id,
        "type": type_,
        "status": status,
        "responseCode": response_code,
        "reasonCode": reason,
        "reasonText": REASONS[reason][1],
        "authCode": secrets.token_hex(3).upper() if response_code in ("1", "4") else "",
        "avs": avs,
        "cvv": cvv,
        "authAmount": str(amount),
        "settleAmount": str(amount) if status == "capturedPendingSettlement" else "0.00",
        "refunded": "0.00",
        "currency": currency,
        "invoiceNumber": _value(txn, "order", "invoiceNumber"),
        "description": _value(txn, "order", "description"),
        "email": _value(txn, "customer", "email"),
        "billTo": {f: _value(txn, "billTo", f) for f in ("firstName", "lastName", "company", "zip", "country")},
        "payment": payment,
        "submitted": now.isoformat(),
        "capturedAt": now.isoformat() if status == "capturedPendingSettlement" else None,
    }
    _note_attempt(data, fingerprint)
    _save("transaction", trans_id, data, account)
    if response_code == "4":
        _emit(account, "net.authorize.payment.fraud.held", data)
    else:
        kind = "authorization" if type_ == "authOnlyTransaction" else "authcapture"
        _emit(account, f"net.authorize.payment.{kind}.created", data)
    return _create_reply(
        ref_id,
        _transaction_response(
            reason,
            trans_id=trans_id,
            auth_code=data["authCode"],
            avs=avs,
            cvv=cvv,
            account_number=_masked(payment),
            account_type="eCheck" if bank else payment["cardType"],
        ),
    )


def _follow_up_response(reason: int, original: Mapping[str, Any], trans_id: str | None = None) -> Node:
    return _transaction_response(
        reason,
        trans_id=trans_id or original["transId"],
        ref_trans_id=original["transId"],
        auth_code=original.get("authCode", ""),
        avs="P",
        account_number=_masked(original["payment"]),
        account_type=original["payment"].get("cardType", "eCheck"),
    )


def _capture(
    txn: etree._Element,
    original: dict[str, Any],
    account: str,
    ref_id: str | None,
    fingerprint: str,
    request: HttpRequest,
) -> HttpResponse:
    status = original["status"]
    if status == "voided":
        return _create_reply(ref_id, _follow_up_response(310, original))
    if status in ("capturedPendingSettlement", "settledSuccessfully") and original["type"] == "authOnlyTransaction":
        return _create_reply(ref_id, _follow_up_response(311, original))
    if status != "authorizedPendingCapture":
        return _create_reply(ref_id, _transaction_response(16))
    authorized = Decimal(original["authAmount"])
    amount = _amount(_value(txn, "amount")) if _value(txn, "amount") else authorized
    if amount is None:
        return _create_reply(ref_id, _transaction_response(5))
    if amount > authorized:
        return _create_reply(ref_id, _follow_up_response(47, original))
    now = _now()
    original.update(status="capturedPendingSettlement", settleAmount=str(amount), capturedAt=now.isoformat())
    original["captureInvoiceNumber"] = _value(txn, "order", "invoiceNumber")
    _note_attempt(original, fingerprint)
    _save("transaction", original["transId"], original, account)
    _emit(account, "net.authorize.payment.priorAuthCapture.created", original, amount=amount)
    return _create_reply(ref_id, _follow_up_response(1, original))


def _void(
    txn: etree._Element,
    original: dict[str, Any],
    account: str,
    ref_id: str | None,
    fingerprint: str,
    request: HttpRequest,
) -> HttpResponse:
    status = original["status"]
    if status == "voided":
        return _create_reply(ref_id, _follow_up_response(310, original))
    if status not in (*UNSETTLED, *HELD):
        return _create_reply(ref_id, _transaction_response(16))
    original.update(status="voided", voidedAt=_now().isoformat())
    _note_attempt(original, fingerprint)
    _save("transaction", original["transId"], original, account)
    if original["type"] == "refundTransaction" and original.get("refTransId"):
        source = _load("transaction", original["refTransId"], account)
        if source is not None:
            source["refunded"] = str(Decimal(source["refunded"]) - Decimal(original["settleAmount"]))
            _save("transaction", source["transId"], source, account)
    _emit(account, "net.authorize.payment.void.created", original)
    return _create_reply(ref_id, _follow_up_response(1, original))


def _refund(
    txn: etree._Element,
    original: dict[str, Any],
    account: str,
    ref_id: str | None,
    fingerprint: str,
    request: HttpRequest,
) -> HttpResponse:
    if original["status"] != "settledSuccessfully":
        return _create_reply(ref_id, _follow_up_response(54, original))
    if _now() - datetime.fromisoformat(original["settledAt"]) > REFUND_PERIOD:  # its card data is archived
        return _create_reply(ref_id, _follow_up_response(54, original))
    given = _value(txn, "payment", "creditCard", "cardNumber") or _value(txn, "payment", "bankAccount", "accountNumber")
    if not given or given[-4:] != original["payment"]["number"][-4:]:
        return _create_reply(ref_id, _follow_up_response(54, original))
    amount = _amount(_value(txn, "amount"))
    if amount is None:
        return _create_reply(ref_id, _transaction_response(5))
    left = Decimal(original["settleAmount"]) - Decimal(original["refunded"])
    if amount > left:
        return _create_reply(ref_id, _follow_up_response(55, original))
    trans_id = _new_trans_id()
    now = _now()
    refund = {
        "transId": trans_id,
        "refTransId": original["transId"],
        "type": "refundTransaction",
        "status": "refundPendingSettlement",
        "responseCode": "1",
        "reasonCode": 1,
        "reasonText": APPROVED,
        "authCode": "",
        "avs": "P",
        "cvv": "",
        "authAmount": str(amount),
        "settleAmount": str(amount),
        "refunded": "0.00",
        "currency": original["currency"],
        "invoiceNumber": _value(txn, "order", "invoiceNumber"),
        "description": _value(txn, "order", "description"),
        "email": "",
        "billTo": {},
        "payment": original["payment"],
        "submitted": now.isoformat(),
        "capturedAt": now.isoformat(),
    }
    _note_attempt(refund, fingerprint)
    _save("transaction", trans_id, refund, account)
    original["refunded"] = str(Decimal(original["refunded"]) + amount)
    _save("transaction", original["transId"], original, account)
    _emit(account, "net.authorize.payment.refund.created", refund)
    return _create_reply(ref_id, _follow_up_response(1, original, trans_id=trans_id))


def _batch_node(batch: Mapping[str, Any] | None) -> Node | None:
    """The settled batch a transaction is in (batchDetailsType, in the XSD's order), or None before settlement."""
    if batch is None:
        return None
    settled = datetime.fromisoformat(batch["settlementTime"])
    return (
        "batch",
        [
            ("batchId", batch["batchId"]),
            ("settlementTimeUTC", _iso(settled)),
            ("settlementTimeLocal", settled.strftime("%Y-%m-%dT%H:%M:%S")),
            ("settlementState", "settledSuccessfully"),
            ("paymentMethod", batch["paymentMethod"]),
            ("marketType", "eCommerce"),
            ("product", "Card Not Present"),
        ],
    )


def _details_node(data: Mapping[str, Any], batch: Mapping[str, Any] | None = None) -> Node:
    payment = data["payment"]
    if payment["kind"] == "bank":
        payment_node: Node = (
            "payment",
            [
                (
                    "bankAccount",
                    [
                        ("accountType", payment["type"]),
                        ("routingNumber", "XXXX" + payment["routing"][-4:]),
                        ("accountNumber", _masked(payment)),
                        ("nameOnAccount", payment["name"]),
                        ("echeckType", "WEB"),
                    ],
                )
            ],
        )
    else:
        payment_node = (
            "payment",
            [
                (
                    "creditCard",
                    [("cardNumber", _masked(payment)), ("expirationDate", "XXXX"), ("cardType", payment["cardType"])],
                )
            ],
        )
    submitted = datetime.fromisoformat(data["submitted"])
    return (
        "transaction",
        [
            ("transId", data["transId"]),
            ("refTransId", data.get("refTransId") or None),
            ("submitTimeUTC", _iso(submitted)),
            ("submitTimeLocal", submitted.strftime("%Y-%m-%dT%H:%M:%S")),
            ("transactionType", data["type"]),
            ("transactionStatus", data["status"]),
            ("responseCode", data["responseCode"]),
            ("responseReasonCode", str(data["reasonCode"])),
            ("responseReasonDescription", data["reasonText"]),
            ("authCode", data.get("authCode") or None),
            ("AVSResponse", data.get("avs") or None),
            ("cardCodeResponse", data.get("cvv") or None),
            _batch_node(batch),
            (
                "order",
                [
                    ("invoiceNumber", data.get("invoiceNumber") or None),
                    ("description", data.get("description") or None),
                ],
            ),
            ("authAmount", data["authAmount"]),
            ("settleAmount", data["settleAmount"]),
            ("taxExempt", "false"),
            payment_node,
            ("recurringBilling", "false"),
            ("product", "Card Not Present"),
            ("marketType", "eCommerce"),
        ],
    )


def _transaction_details(root: etree._Element, account: str, ref_id: str | None, request: HttpRequest) -> HttpResponse:
    data = _load("transaction", _value(root, "transId"), account)
    if data is None:
        return error_reply("getTransactionDetailsRequest", "E00040", "The record cannot be found.", ref_id)
    return xml_reply(
        "getTransactionDetailsResponse",
        [
            ("refId", ref_id),
            _messages(True, "I00001", "Successful."),
            _details_node(data, _load("batch", data["batchId"], account) if data.get("batchId") else None),
        ],
    )


def _summary(data: Mapping[str, Any]) -> Node:
    """A transaction as the reporting lists show it (transactionSummaryType, in the XSD's order)."""
    submitted = datetime.fromisoformat(data["submitted"])
    bill_to = data.get("billTo") or {}
    return (
        "transaction",
        [
            ("transId", data["transId"]),
            ("submitTimeUTC", _iso(submitted)),
            ("submitTimeLocal", submitted.strftime("%Y-%m-%dT%H:%M:%S")),
            ("transactionStatus", data["status"]),
            ("invoiceNumber", data.get("invoiceNumber") or None),
            ("firstName", bill_to.get("firstName") or None),
            ("lastName", bill_to.get("lastName") or None),
            ("accountType", data["payment"].get("cardType", "eCheck")),
            ("accountNumber", _masked(data["payment"])),
            ("settleAmount", data["settleAmount"]),
            ("marketType", "eCommerce"),
            ("product", "Card Not Present"),
            ("hasReturnedItems", "false"),
        ],
    )


def _page(root: etree._Element, rows: list[dict[str, Any]], default_descending: bool) -> list[dict[str, Any]]:
    """Sort and cut a result set as the reporting calls do: `sorting` (orderBy id or submitTimeUTC, orderDescending)
    and `paging` (limit ≤ 1000 per page, offset = the page number from 1; the schema check refuses other values).
    Without paging, the first 1000 of the sorted set."""
    order_by = _value(root, "sorting", "orderBy") or "submitTimeUTC"
    descending = (
        _value(root, "sorting", "orderDescending").lower() in ("true", "1")
        if _child(root, "sorting") is not None
        else default_descending
    )

    def key(data: Mapping[str, Any]) -> tuple[Any, ...]:
        if order_by == "id":
            return (int(data["transId"]),)
        return (data["submitted"], int(data["transId"]))

    ordered = sorted(rows, key=key, reverse=descending)
    limit = int(_value(root, "paging", "limit") or PAGE_LIMIT)
    page = int(_value(root, "paging", "offset") or 1)
    return ordered[(page - 1) * limit : page * limit]


def _list_reply(name: str, ref_id: str | None, rows: list[dict[str, Any]], total: int) -> HttpResponse:
    if not rows:
        return xml_reply(
            name,
            [("refId", ref_id), _messages(True, "I00004", "No records found."), ("totalNumInResultSet", str(total))],
        )
    return xml_reply(
        name,
        [
            ("refId", ref_id),
            _messages(True, "I00001", "Successful."),
            ("transactions", [_summary(d) for d in rows]),
            ("totalNumInResultSet", str(total)),
        ],
    )


def _unsettled_list(root: etree._Element, account: str, ref_id: str | None, request: HttpRequest) -> HttpResponse:
    """Transactions not in a settled batch yet (held ones only with `status=pendingApproval`), newest first."""
    wanted = HELD if _value(root, "status") == "pendingApproval" else (*UNSETTLED, *HELD, *FINAL_UNSETTLED)
    rows = [
        o.data
        for o in sim_list(PROVIDER, "transaction", account=account)
        if o.data["status"] in wanted and not o.data.get("batchId")
    ]
    return _list_reply("getUnsettledTransactionListResponse", ref_id, _page(root, rows, True), len(rows))


def _settlement_date(text: str) -> datetime | None:
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _settled_batch_list(root: etree._Element, account: str, ref_id: str | None, request: HttpRequest) -> HttpResponse:
    """Batches settled between firstSettlementDate and lastSettlementDate (both or neither; at most 31 days
    apart); without dates, the last 24 hours."""
    first_text, last_text = _value(root, "firstSettlementDate"), _value(root, "lastSettlementDate")
    if bool(first_text) != bool(last_text):
        return error_reply(
            "getSettledBatchListRequest",
            "E00013",
            "firstSettlementDate and lastSettlementDate must be given together.",
            ref_id,
        )
    if first_text:
        first, last = _settlement_date(first_text), _settlement_date(last_text)
        if first is None or last is None or last < first:
            return error_reply("getSettledBatchListRequest", "E00013", "The settlement dates are invalid.", ref_id)
        if last - first > timedelta(days=BATCH_LIST_MAX_DAYS):
            return error_reply(
                "getSettledBatchListRequest",
                "E00013",
                f"The date range cannot exceed {BATCH_LIST_MAX_DAYS} days.",
                ref_id,
            )
    else:
        last = _now()
        first = last - timedelta(hours=24)
    batches = sorted(
        (o.data for o in sim_list(PROVIDER, "batch", account=account)),
        key=lambda b: b["settlementTime"],
    )
    found = [b for b in batches if first <= datetime.fromisoformat(b["settlementTime"]) <= last]
    children: list[Node] = [("refId", ref_id)]
    if not found:
        children.append(_messages(True, "I00004", "No records found."))
        return xml_reply("getSettledBatchListResponse", children)
    children.append(_messages(True, "I00001", "Successful."))
    children.append(
        (
            "batchList",
            [
                (
                    "batch",
                    [
                        ("batchId", b["batchId"]),
                        ("settlementTimeUTC", _iso(datetime.fromisoformat(b["settlementTime"]))),
                        (
                            "settlementTimeLocal",
                            datetime.fromisoformat(b["settlementTime"]).strftime("%Y-%m-%dT%H:%M:%S"),
                        ),
                        ("settlementState", "settledSuccessfully"),
                        ("paymentMethod", b["paymentMethod"]),
                        ("marketType", "eCommerce"),
                        ("product", "Card Not Present"),
                    ],
                )
                for b in found
            ],
        )
    )
    return xml_reply("getSettledBatchListResponse", children)


def _transaction_list(root: etree._Element, account: str, ref_id: str | None, request: HttpRequest) -> HttpResponse:
    """The transactions of one settled batch, oldest first unless sorted otherwise, paged."""
    batch = _load("batch", _value(root, "batchId"), account)
    if batch is None:
        return error_reply("getTransactionListRequest", "E00040", "The record cannot be found.", ref_id)
    rows = [
        o.data for o in sim_list(PROVIDER, "transaction", account=account) if o.data.get("batchId") == batch["batchId"]
    ]
    return _list_reply("getTransactionListResponse", ref_id, _page(root, rows, False), len(rows))


HANDLERS: dict[str, Callable[[etree._Element, str, str | None, HttpRequest], HttpResponse]] = {
    "authenticateTestRequest": _authenticate_test,
    "createTransactionRequest": _create_transaction,
    "getTransactionDetailsRequest": _transaction_details,
    "getUnsettledTransactionListRequest": _unsettled_list,
    "getSettledBatchListRequest": _settled_batch_list,
    "getTransactionListRequest": _transaction_list,
}


# --- webhooks -------------------------------------------------------------------------------------------------------


def sign(body: str, secret: str, now: int) -> dict[str, str]:
    """`X-ANET-Signature: sha512=HEX`: HMAC-SHA512 of the body, keyed with the signature key's text."""
    digest = hmac.new(secret.encode(), body.encode(), hashlib.sha512).hexdigest().upper()
    return {"X-ANET-Signature": f"sha512={digest}"}


def webhook_register(*, api_login_id: str, url: str, signature_key: str) -> dict[str, Any]:
    """Where an account's notifications go, signed with its signature key (the merchant interface's job)."""

    def make(existing: dict[str, Any] | None) -> dict[str, Any]:
        known = existing or {"webhookId": str(uuid.uuid4()), "url": url}
        return {**known, "signatureKey": signature_key, "status": "active"}

    return webhook_endpoint_save(PROVIDER, account_of(api_login_id), url, make=make, id_field="webhookId")


def _emit(account: str, event_type: str, data: Mapping[str, Any], *, amount: Decimal | None = None) -> dict[str, Any]:
    payload = {
        "responseCode": int(data["responseCode"]),
        "authCode": data.get("authCode", ""),
        "avsResponse": data.get("avs", "P"),
        "authAmount": float(amount if amount is not None else Decimal(data["authAmount"])),
        "invoiceNumber": data.get("invoiceNumber", ""),
        "entityName": "transaction",
        "id": data["transId"],
    }
    endpoints = [
        e.data for e in sim_list(PROVIDER, "webhook_endpoint", account=account) if e.data["status"] == "active"
    ]
    event: dict[str, Any] = {
        "notificationId": str(uuid.uuid4()),
        "eventType": event_type,
        "eventDate": _iso(_now()),
        "webhookId": endpoints[0]["webhookId"] if endpoints else "",
        "payload": payload,
    }
    _save("event", event["notificationId"], event, account)
    webhooks_send(
        provider=PROVIDER,
        event_id=event["notificationId"],
        signer="sandbox.authorizenet.simulator.sign",
        deliveries=[
            Delivery(url=e["url"], body=json.dumps({**event, "webhookId": e["webhookId"]}), secret=e["signatureKey"])
            for e in endpoints
        ],
    )
    return event


def events_for(trans_id: str) -> list[dict[str, Any]]:
    """The notifications the sandbox made about a transaction, oldest first."""
    events = [o.data for o in SimObject.objects.filter(provider=PROVIDER, kind="event").order_by("created_at", "id")]
    return [e for e in events if e["payload"]["id"] == trans_id]


# --- admin hooks and the browser script -----------------------------------------------------------------------------


def review(trans_id: str, decision: str) -> dict[str, Any]:
    """Decide a transaction held for review: approve (authorized or captured as asked) or decline."""
    with transaction.atomic():
        obj = sim_get(PROVIDER, "transaction", trans_id, lock=True)
        if obj is None or obj.data["status"] not in HELD:
            raise LookupError(f"no transaction held for review with id {trans_id}")
        data = dict(obj.data)
        if decision == "approve":
            captured = data["type"] == "authCaptureTransaction"
            data.update(
                status="capturedPendingSettlement" if captured else "authorizedPendingCapture",
                responseCode="1",
                reasonCode=1,
                reasonText=APPROVED,
            )
            if captured:
                data.update(settleAmount=data["authAmount"], capturedAt=_now().isoformat())
            _save("transaction", trans_id, data, obj.account)
            _emit(obj.account, "net.authorize.payment.fraud.approved", data)
        else:
            data.update(status="declined", responseCode="2", reasonCode=2, reasonText=DECLINED)
            _save("transaction", trans_id, data, obj.account)
            _emit(obj.account, "net.authorize.payment.fraud.declined", data)
        return data


def _json(data: Any, status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(data), status=status, content_type="application/json")


@sandbox_view
@require_http_methods(["POST"])
def sim_settle(request: HttpRequest) -> HttpResponse:
    """POST [trans_id]: settle now what is captured (all, or one transaction)."""
    return _json({"settled": settle(request.POST.get("trans_id") or None)})


@sandbox_view
@require_http_methods(["POST"])
def sim_review(request: HttpRequest) -> HttpResponse:
    """POST trans_id, decision=approve|decline."""
    decision = request.POST.get("decision", "")
    if decision not in ("approve", "decline"):
        return _json({"error": "decision must be approve or decline"}, 400)
    try:
        data = review(request.POST.get("trans_id", ""), decision)
    except LookupError as exc:
        return _json({"error": str(exc)}, 404)
    return _json({"transId": data["transId"], "status": data["status"]})


@sandbox_view
@require_http_methods(["POST"])
def sim_webhook_endpoint(request: HttpRequest) -> HttpResponse:
    """POST api_login_id, url, signature_key: where the account's notifications go."""
    login, url = request.POST.get("api_login_id", ""), request.POST.get("url", "")
    if not login or not url or not request.POST.get("signature_key"):
        return _json({"error": "api_login_id, url and signature_key are required"}, 400)
    with transaction.atomic():
        data = webhook_register(api_login_id=login, url=url, signature_key=request.POST["signature_key"])
    return _json({"webhookId": data["webhookId"], "url": data["url"], "status": data["status"]})


@sandbox_view
@require_http_methods(["GET"])
def accept_js(request: HttpRequest) -> HttpResponse:
    """A stand-in for Accept.js: card or bank fields go from the browser to this sandbox, never to the shop."""
    endpoint = request.build_absolute_uri(reverse("authorizenet-sandbox-api"))
    body = render_to_string("sandbox/authorizenet/accept.js", {"endpoint": endpoint})
    response = HttpResponse(body, content_type="application/javascript")
    response["Access-Control-Allow-Origin"] = "*"
    return response
