"""Wirecard Checkout Seamless (QENTA) simulated from providers.md §9, never from the adapter.

URL-encoded requests and replies, always HTTP 200 with `errors=N` / `status` (§9.1); HMAC-SHA-512 fingerprints over
ordered fields with the secret inside, checked here by this module's own code (§9.2); a data storage with a 30-minute
sliding lifetime and a stand-in for its browser script (§9.3, §9.4); frontend/init that sends the buyer to a pay page,
which POSTs the confirm first and then redirects (§9.7.5); back-end operations with per-order state and status codes
0-4 (§9.5, §9.7.6).

Where providers.md stops short, this sandbox decides and says so: getOrderDetails of an order whose payment failed
answers the order with `state=REJECTED` (§9.5 lists a `state` without its values), and one of a number reserved by
generateOrderNumber that no payment used yet answers "order does not exist" (status 1).
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any
from urllib.parse import parse_qsl, urlencode

import requests
from babel.numbers import get_currency_precision
from django.db import transaction
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_http_methods

from core.cards import luhn_valid
from sandbox.pipeline import cors, serve
from sandbox.services import sim_count, sim_get, sim_list, sim_load, sim_now, sim_put
from sandbox.views import sandbox_view

PROVIDER = "wirecard"
logger = logging.getLogger(__name__)

#: the documented demo merchant (§9.6): customerId, shop ids, secret and back-end password
DEMO_CUSTOMER = "D200001"
DEMO_SECRET = "B8AKTPWBRMNBV455FG6M2DANE99WU2"  # noqa: S105 - Wirecard's published demo secret
DEMO_PASSWORD = "jcv45z"  # noqa: S105 - Wirecard's published demo back-end password
MERCHANTS: dict[str, dict[str, Any]] = {
    DEMO_CUSTOMER: {"shops": ("", "seamless", "qmore"), "secret": DEMO_SECRET, "password": DEMO_PASSWORD},
}
#: a storage lives 30 minutes after its last access (§9.3)
STORAGE_TTL = timedelta(minutes=30)
#: demo card numbers (§9.6) and the sandbox's own triggers: the number decides what the pay page does
CARD_OUTCOMES = {
    "9500000000000001": "SUCCESS",
    "9500000000000002": "SUCCESS",
    "9500000000000010": "FAILURE",  # the sandbox's decline trigger
    "9500000000000028": "PENDING",  # the sandbox's pending trigger (settled later by __sim/settle)
}
FRONTEND_REQUIRED = (
    "customerId",
    "language",
    "paymentType",
    "amount",
    "currency",
    "orderDescription",
    "successUrl",
    "cancelUrl",
    "failureUrl",
    "serviceUrl",
    "confirmUrl",
    "consumerIpAddress",
    "consumerUserAgent",
    "requestFingerprintOrder",
    "requestFingerprint",
)
#: the documented frontend/init parameters (§9.3); any other name is a custom parameter, echoed to the confirm
FRONTEND_KNOWN = {
    *FRONTEND_REQUIRED,
    "shopId",
    "pendingUrl",
    "orderNumber",
    "autoDeposit",
    "duplicateRequestCheck",
    "customerStatement",
    "orderReference",
    "transactionIdentifier",
    "financialInstitution",
    "windowName",
    "confirmMail",
    "storageId",
    "orderIdent",
    "consumerEmail",
    "consumerBirthDate",
    "basketItems",
    *(
        f"consumer{kind}{part}"
        for kind in ("Billing", "Shipping")
        for part in (
            "Firstname",
            "Lastname",
            "Address1",
            "Address2",
            "City",
            "State",
            "Country",
            "ZipCode",
            "Phone",
            "Fax",
        )
    ),
}
PAYMENT_TYPES = {"CCARD", "SEPA-DD", "PAYPAL"}  # what this sandbox plays of §9.3's list
BACKEND_FIELDS: dict[str, tuple[str, ...]] = {
    "approveReversal": ("orderNumber",),
    "deposit": ("orderNumber", "amount", "currency"),
    "depositReversal": ("orderNumber", "paymentNumber"),
    "refund": ("orderNumber", "amount", "currency"),
    "refundReversal": ("orderNumber", "creditNumber"),
    "getOrderDetails": ("orderNumber",),
    "generateOrderNumber": (),
}
BACKEND_PREFIX = ("customerId", "shopId", "password", "secret", "language")


# --- wire helpers ------------------------------------------------------------------------------------------------


def fingerprint(names: list[str], values: Mapping[str, str], secret: str, *, plain_sha: bool = False) -> str:
    """§9.2: concatenate the values in the listed order (the secret for `secret`, "" for a missing name), then
    HMAC-SHA-512 keyed with the secret (or plain SHA-512 for merchants on the old mode), lowercase hex."""
    message = "".join(secret if name == "secret" else values.get(name, "") for name in names).encode()
    if plain_sha:
        return hashlib.sha512(message).hexdigest()
    return hmac.new(secret.encode(), message, hashlib.sha512).hexdigest()


def _reply(fields: Mapping[str, Any]) -> HttpResponse:
    return HttpResponse(
        urlencode({k: str(v) for k, v in fields.items()}), content_type="application/x-www-form-urlencoded"
    )


def _errors(code: str, text: str, **extra: Any) -> dict[str, Any]:
    return {
        **extra,
        "errors": "1",
        "error.1.errorCode": code,
        "error.1.message": text,
        "error.1.consumerMessage": text,
    }


def _params(request: HttpRequest) -> dict[str, str]:
    return dict(parse_qsl(request.body.decode("utf-8", "replace"), keep_blank_values=True))


def _merchant(params: Mapping[str, str]) -> dict[str, Any] | None:
    merchant = MERCHANTS.get(params.get("customerId", ""))
    if merchant is None or params.get("shopId", "") not in merchant["shops"]:
        return None
    return merchant


def _plain_sha(customer_id: str) -> bool:
    obj = sim_get(PROVIDER, "merchant_mode", customer_id)
    return bool(obj and obj.data.get("plain_sha"))


def _verify(params: Mapping[str, str], names: list[str], merchant: Mapping[str, Any]) -> bool:
    expected = fingerprint(names, params, merchant["secret"], plain_sha=_plain_sha(params.get("customerId", "")))
    return hmac.compare_digest(expected.lower(), params.get("requestFingerprint", "").lower())


def _amount(value: str, currency: str) -> Decimal | None:
    """§9.3: `.` or `,` as decimal separator, no thousands separator, the currency's number of decimals at most."""
    try:
        amount = Decimal(value.replace(",", "."))
        places = int(get_currency_precision(currency))
    except (InvalidOperation, ValueError):
        return None
    if not amount.is_finite() or amount <= 0 or amount != amount.quantize(Decimal(1).scaleb(-places)):
        return None
    return amount


def _authenticated(request: HttpRequest, names: list[str]) -> tuple[dict[str, str], dict[str, Any] | HttpResponse]:
    params = _params(request)
    merchant = _merchant(params)
    if merchant is None:
        return params, _reply(_errors("11500", "CUSTOMERID or SHOPID is invalid.", status="1"))
    if not _verify(params, names, merchant):
        return params, _reply(_errors("15001", "Request fingerprint is invalid.", status="1"))
    return params, merchant


# --- data storage ------------------------------------------------------------------------------------------------


@sandbox_view
@require_http_methods(["POST"])
def storage_init(request: HttpRequest) -> HttpResponse:
    """`dataStorage/init`: fixed fingerprint order, a storage bound to customer, shop and orderIdent."""
    names = ["customerId", "shopId", "orderIdent", "returnUrl", "language", "javascriptScriptVersion", "secret"]

    def execute() -> dict[str, Any]:
        params, merchant = _authenticated(request, names)
        if isinstance(merchant, HttpResponse):
            return {"response": merchant}
        for name in ("orderIdent", "language"):
            if not params.get(name):
                return {"reply": _errors("11000", f"{name.upper()} is missing.")}
        storage_id = secrets.token_hex(16)
        sim_put(
            PROVIDER,
            "storage",
            storage_id,
            {
                "customerId": params["customerId"],
                "shopId": params.get("shopId", ""),
                "orderIdent": params["orderIdent"],
                "touched": sim_now(PROVIDER).isoformat(),
                "used": False,
                "payment": None,
            },
            account=params["customerId"],
        )
        url = request.build_absolute_uri(reverse("wirecard-sandbox-storage-js", args=[storage_id]))
        return {"reply": {"storageId": storage_id, "javascriptUrl": url}}

    return _served("dataStorage_init", execute)


def _served(operation: str, execute: Any) -> HttpResponse:
    def respond(result: dict[str, Any], replayed: bool) -> HttpResponse:
        return result.get("response") or _reply(result["reply"])

    return serve(provider=PROVIDER, operation=operation, execute=execute, respond=respond)


def _live_storage(storage_id: str, customer_id: str) -> dict[str, Any] | None:
    """The storage, if it is this merchant's and was touched in the last 30 minutes (then touched again)."""
    data = sim_load(PROVIDER, "storage", storage_id, customer_id)
    if data is None or data["used"]:
        return None
    if sim_now(PROVIDER) - datetime.fromisoformat(data["touched"]) > STORAGE_TTL:
        return None
    data["touched"] = sim_now(PROVIDER).isoformat()
    sim_put(PROVIDER, "storage", storage_id, data, account=customer_id)
    return data


@sandbox_view
@require_http_methods(["POST"])
def storage_read(request: HttpRequest) -> HttpResponse:
    """`dataStorage/read`: what was stored, anonymized."""

    def execute() -> dict[str, Any]:
        params, merchant = _authenticated(request, ["customerId", "shopId", "storageId", "secret"])
        if isinstance(merchant, HttpResponse):
            return {"response": merchant}
        data = _live_storage(params.get("storageId", ""), params["customerId"])
        if data is None:
            return {"reply": _errors("99996", "Storage is invalid or timed out after 30 minutes without activity.")}
        reply: dict[str, Any] = {"storageId": params["storageId"], "paymentInformations": "0"}
        if data["payment"]:
            reply["paymentInformations"] = "1"
            shown = {k: v for k, v in data["payment"].items() if k != "outcome"}
            reply.update({f"paymentInformation.1.{k}": v for k, v in shown.items()})
        return {"reply": reply}

    return _served("dataStorage_read", execute)


STORAGE_JS = """(function () {
  var storeUrl = %(store_url)s;
  function Response(data) {
    this.getStatus = function () { return data.status; };
    this.getErrors = function () { return data.errors || []; };
    this.getAnonymizedPaymentInformation = function () { return data.paymentInformation || {}; };
  }
  function store(kind, fields, callback) {
    var body = new URLSearchParams();
    body.append("paymentType", kind);
    Object.keys(fields || {}).forEach(function (k) { body.append(k, fields[k] == null ? "" : fields[k]); });
    fetch(storeUrl, {method: "POST", body: body}).then(function (r) { return r.json(); })
      .then(function (data) { callback(new Response(data)); })
      .catch(function () {
        var failed = {errorCode: "0", message: "network", consumerMessage: "The payment data could not be stored."};
        callback(new Response({status: 1, errors: [failed]}));
      });
  }
  window.WirecardCEE_DataStorage = function () {
    this.storeCreditCardInformation = function (f, cb) { store("CCARD", f, cb); };
    this.storeSepaDdInformation = function (f, cb) { store("SEPA-DD", f, cb); };
  };
})();
"""


@sandbox_view
@require_http_methods(["GET"])
def storage_js(request: HttpRequest, storage_id: str) -> HttpResponse:
    """The data-storage script stand-in (§9.7.3): its store* methods post to the sandbox, never to the shop."""
    url = request.build_absolute_uri(reverse("wirecard-sandbox-storage-store", args=[storage_id]))
    return HttpResponse(STORAGE_JS % {"store_url": json.dumps(url)}, content_type="application/javascript")


def _store_card(fields: Mapping[str, str], now_year: int, now_month: int) -> tuple[dict[str, str] | None, str]:
    pan = fields.get("pan", "").replace(" ", "")
    if not (pan.isdigit() and 12 <= len(pan) <= 19) or (pan not in CARD_OUTCOMES and not luhn_valid(pan)):
        return None, "The card number is not valid."
    try:
        month, year = int(fields.get("expirationMonth", "")), int(fields.get("expirationYear", ""))
    except ValueError:
        return None, "The expiry date is not valid."
    if not 1 <= month <= 12 or (year, month) < (now_year, now_month):
        return None, "The card has expired."
    cvc = fields.get("cardverifycode", "")
    if not (cvc.isdigit() and 3 <= len(cvc) <= 4):
        return None, "The card verification code is not valid."
    return {
        "paymentType": "CCARD",
        "anonymousPan": pan[-4:],
        "maskedPan": f"{pan[:6]}{'*' * (len(pan) - 10)}{pan[-4:]}",
        "financialInstitution": "Visa" if pan.startswith("4") else "MC",
        "brand": "Visa" if pan.startswith("4") else "MasterCard",
        "cardholdername": fields.get("cardholdername", "")[:256],
        "expiry": f"{month:02d}/{year}",
        "outcome": CARD_OUTCOMES.get(pan, "SUCCESS"),
    }, ""


def _store_sepa(fields: Mapping[str, str]) -> tuple[dict[str, str] | None, str]:
    iban = fields.get("bankAccountIban", "").replace(" ", "").upper()
    owner = fields.get("accountOwner", "").strip()
    if not owner:
        return None, "The account owner is missing."
    if not (iban.isalnum() and 12 <= len(iban) <= 34):
        return None, "The IBAN is not valid."
    return {
        "paymentType": "SEPA-DD",
        "accountOwner": owner[:256],
        "bankAccountIban": f"{iban[:4]}{'*' * (len(iban) - 8)}{iban[-4:]}",
        "bankBic": fields.get("bankBic", "")[:11],
        "bankName": "Demo Bank",
        "bankCountry": iban[:2] if iban[:2].isalpha() else "AT",
        "outcome": "SUCCESS",
    }, ""


@sandbox_view
@require_http_methods(["POST", "OPTIONS"])
def storage_store(request: HttpRequest, storage_id: str) -> HttpResponse:
    """Sandbox-only: what the script posts. Checks the card or account, keeps only the anonymized data."""
    if request.method == "OPTIONS":
        return cors(HttpResponse(status=204))
    fields = request.POST
    with transaction.atomic():
        obj = sim_get(PROVIDER, "storage", storage_id, lock=True)
        data = _live_storage(storage_id, obj.account) if obj is not None else None
        if data is None:
            payment, error = None, "The payment data storage has expired; reload the page."
        elif fields.get("paymentType") == "SEPA-DD":
            payment, error = _store_sepa(fields)
        else:
            now = sim_now(PROVIDER)
            payment, error = _store_card(fields, now.year, now.month)
        if payment is not None and obj is not None and data is not None:
            data["payment"] = payment
            sim_put(PROVIDER, "storage", storage_id, data, account=obj.account)
    if payment is None:
        body = {"status": 1, "errors": [{"errorCode": "14000", "message": error, "consumerMessage": error}]}
    else:
        body = {"status": 0, "paymentInformation": {k: v for k, v in payment.items() if k != "outcome"}}
    return cors(HttpResponse(json.dumps(body), content_type="application/json"))


# --- frontend ------------------------------------------------------------------------------------------------------


def _order_number() -> str:
    """A free 7-9 digit order number (§9.7.4)."""
    while True:
        number = str(secrets.randbelow(90_000_000) + 10_000_000)
        if sim_get(PROVIDER, "order", number) is None:
            return number


@sandbox_view
@require_http_methods(["POST"])
def frontend_init(request: HttpRequest) -> HttpResponse:
    """`frontend/init`: dynamic fingerprint order, required fields, storage checks, a pay page to redirect to."""

    def execute() -> dict[str, Any]:
        params = _params(request)
        merchant = _merchant(params)
        if merchant is None:
            return {"reply": _errors("11500", "CUSTOMERID is missing or invalid.")}
        names = [n for n in params.get("requestFingerprintOrder", "").split(",") if n]
        if "secret" not in names or "requestFingerprintOrder" not in names:
            return {"reply": _errors("15002", "requestFingerprintOrder must contain secret and itself.")}
        if "secret" in params:
            return {"reply": _errors("15003", "The secret must never be sent.")}
        if not _verify(params, names, merchant):
            return {"reply": _errors("15001", "Request fingerprint is invalid.")}
        missing = [name for name in FRONTEND_REQUIRED if not params.get(name)]
        if missing:
            return {"reply": _errors("11000", f"{missing[0].upper()} is missing.")}
        if params["paymentType"] not in PAYMENT_TYPES:
            return {"reply": _errors("11014", "PAYMENTTYPE is invalid.")}
        amount = _amount(params["amount"], params["currency"])
        if amount is None:
            return {"reply": _errors("11011", "AMOUNT is invalid.")}
        if params["paymentType"] == "SEPA-DD" and params["currency"] != "EUR":
            return {"reply": _errors("11012", "CURRENCY is not accepted for SEPA-DD.")}
        payment = None
        if params["paymentType"] in ("CCARD", "SEPA-DD"):
            storage = _live_storage(params.get("storageId", ""), params["customerId"])  # unused, not timed out
            if storage is None or storage["orderIdent"] != params.get("orderIdent"):
                return {"reply": _errors("11020", "STORAGEID or ORDERIDENT is invalid.")}
            payment = storage["payment"]
            if not payment or payment["paymentType"] != params["paymentType"]:
                return {"reply": _errors("11021", "No payment data of this type was stored.")}
            storage["used"] = True  # a storage is invalid once a payment was started with it
            sim_put(PROVIDER, "storage", params["storageId"], storage, account=params["customerId"])
        number = params.get("orderNumber") or _order_number()
        reserved = sim_load(PROVIDER, "order", number, params["customerId"])
        if params.get("orderNumber") and (reserved is None or reserved.get("state") != "RESERVED"):
            return {"reply": _errors("11016", "ORDERNUMBER is invalid or was used.")}
        token = secrets.token_urlsafe(16)
        custom = {k: v for k, v in params.items() if k not in FRONTEND_KNOWN}
        sim_put(
            PROVIDER,
            "order",
            number,
            {"state": "INITIATED", "customerId": params["customerId"], "token": token},
            account=params["customerId"],
        )
        sim_put(
            PROVIDER,
            "pay",
            token,
            {
                "orderNumber": number,
                "customerId": params["customerId"],
                "params": {k: v for k, v in params.items() if k in FRONTEND_KNOWN and k != "requestFingerprint"},
                "custom": custom,
                "amount": str(amount),
                "payment": payment,
                "done": False,
            },
            account=params["customerId"],
        )
        url = request.build_absolute_uri(reverse("wirecard-sandbox-pay", args=[token]))
        return {"reply": {"redirectUrl": url}}

    return _served("frontend_init", execute)


def _confirm_fields(pay: Mapping[str, Any], state: str, merchant: Mapping[str, Any]) -> dict[str, str]:
    params, number = pay["params"], pay["orderNumber"]
    fields: dict[str, str] = {"paymentState": state, **pay["custom"]}
    if state in ("SUCCESS", "PENDING"):
        payment = pay["payment"] or {}
        ordered: dict[str, str] = {
            "amount": pay["amount"],
            "currency": params["currency"],
            "paymentType": params["paymentType"],
            "financialInstitution": payment.get("financialInstitution", params["paymentType"]),
            "language": params["language"],
            "orderNumber": number,
            "paymentState": state,
            "gatewayReferenceNumber": f"DGW_{number}_RN",
            "gatewayContractNumber": "DemoContractNumber123",
            "avsResponseCode": "X",
            "avsResponseMessage": "Demo AVS ResultMessage",
        }
        if params["paymentType"] == "CCARD":
            ordered.update(
                authenticated="Yes",
                anonymousPan=payment.get("anonymousPan", ""),
                maskedPan=payment.get("maskedPan", ""),
                expiry=payment.get("expiry", ""),
                cardholder=payment.get("cardholdername", ""),
            )
        elif params["paymentType"] == "SEPA-DD":
            ordered.update(mandateId=f"M{number}", creditorId="AT00ZZZ00000000001")
        else:
            ordered.update(paypalPayerID=f"PP{number}", paypalPayerEmail="buyer@example.com")
        names = [*ordered, "secret", "responseFingerprintOrder"]
        ordered["responseFingerprintOrder"] = ",".join(names)
        plain = _plain_sha(pay["customerId"])
        ordered["responseFingerprint"] = fingerprint(names, ordered, merchant["secret"], plain_sha=plain)
        fields.update(ordered)
    elif state == "FAILURE":
        fields.update(
            _errors("24997", "Card declined by the demo acquirer.", message="Card declined by the demo acquirer.")
        )
    return fields


def _post_confirm(url: str, fields: Mapping[str, str]) -> int | None:
    """The server-to-server confirm; the merchant's HTTP status is logged, a failure never breaks the pay page."""
    try:
        reply = requests.post(url, data=dict(fields), timeout=10)
    except requests.RequestException as exc:
        logger.info("wirecard sandbox: confirm to %s failed: %s", url, exc)
        return None
    return reply.status_code


def _settle_payment(pay: dict[str, Any], state: str) -> None:
    """What the provider's books hold after the buyer's step: an approved (or deposited) order, or a rejected one."""
    params, number = pay["params"], pay["orderNumber"]
    amount = pay["amount"]
    order: dict[str, Any] = {
        "customerId": pay["customerId"],
        "state": {"SUCCESS": "APPROVED", "PENDING": "PENDING", "CANCEL": "CANCELED"}.get(state, "REJECTED"),
        "paymentType": params["paymentType"],
        "currency": params["currency"],
        "amount": amount,
        "approved": amount if state == "SUCCESS" else "0",
        "payments": [],
        "credits": [],
        "token": pay.get("token", ""),
    }
    if state == "SUCCESS" and params.get("autoDeposit") == "yes":
        order["payments"].append({"paymentNumber": _next_number(order), "amount": amount, "state": "DEPOSITED"})
    sim_put(PROVIDER, "order", number, order, account=pay["customerId"])


def _next_number(order: Mapping[str, Any]) -> str:
    return str(len(order["payments"]) + len(order["credits"]) + 1)


@sandbox_view
@require_http_methods(["GET", "POST"])
def pay_page(request: HttpRequest, token: str) -> HttpResponse:
    """The buyer's step at the provider (3-D Secure, PayPal approval): POST `action=pay|cancel`. The confirm is
    posted first, then the browser goes to the success, pending, cancel or failure URL without parameters."""
    obj = sim_get(PROVIDER, "pay", token)
    if obj is None:
        return HttpResponse("This payment page is no longer valid.", status=404, content_type="text/plain")
    pay = dict(obj.data)
    if request.method == "GET":
        return render(request, "sandbox/wirecard/pay.html", {"pay": pay, "token": token})
    with transaction.atomic():
        pay = sim_load(PROVIDER, "pay", token, obj.account) or pay
        if pay["done"]:
            return HttpResponse("This payment was finished already.", status=409, content_type="text/plain")
        if request.POST.get("action") == "cancel":
            state = "CANCEL"
        elif pay["payment"]:
            state = pay["payment"]["outcome"]
        else:  # PayPal: the buyer approves
            state = "FAILURE" if request.POST.get("action") == "decline" else "SUCCESS"
        pay["done"], pay["state"], pay["token"] = True, state, token
        sim_put(PROVIDER, "pay", token, pay, account=obj.account)
        _settle_payment(pay, state)
    merchant = MERCHANTS[pay["customerId"]]
    status = _post_confirm(pay["params"]["confirmUrl"], _confirm_fields(pay, state, merchant))
    with transaction.atomic():
        stored = sim_load(PROVIDER, "pay", token, obj.account) or pay
        stored.setdefault("confirms", []).append({"state": state, "status": status})
        sim_put(PROVIDER, "pay", token, stored, account=obj.account)
    params = pay["params"]
    target = {
        "SUCCESS": params["successUrl"],
        "PENDING": params.get("pendingUrl") or params["successUrl"],
        "CANCEL": params["cancelUrl"],
    }.get(state, params["failureUrl"])
    response = HttpResponse(status=302)
    response["Location"] = target
    return response


@sandbox_view
@require_http_methods(["POST"])
def sim_settle(request: HttpRequest) -> HttpResponse:
    """POST orderNumber, outcome=SUCCESS|FAILURE: the final confirm of a PENDING payment (§9.4)."""
    number, outcome = request.POST.get("orderNumber", ""), request.POST.get("outcome", "SUCCESS")
    obj = sim_get(PROVIDER, "order", number)
    if obj is None or obj.data.get("state") != "PENDING" or outcome not in ("SUCCESS", "FAILURE"):
        return _reply({"settled": "0"})
    pay = dict(sim_get(PROVIDER, "pay", obj.data["token"]).data)  # type: ignore[union-attr]
    with transaction.atomic():
        _settle_payment(pay, outcome)
    status = _post_confirm(pay["params"]["confirmUrl"], _confirm_fields(pay, outcome, MERCHANTS[pay["customerId"]]))
    return _reply({"settled": "1", "confirmStatus": status or ""})


@sandbox_view
@require_http_methods(["POST"])
def sim_closing(request: HttpRequest) -> HttpResponse:
    """POST: day-end closing; deposits and refunds made before it can no longer be reversed."""
    closed = 0
    with transaction.atomic():
        for number in [o.object_id for o in _orders()]:
            obj = sim_get(PROVIDER, "order", number, lock=True)
            if obj is None:
                continue
            data = dict(obj.data)
            for item in [*data.get("payments", []), *data.get("credits", [])]:
                if not item.get("closed"):
                    item["closed"] = True
                    closed += 1
            sim_put(PROVIDER, "order", number, data, account=obj.account)
    return _reply({"closed": closed})


@sandbox_view
@require_http_methods(["POST"])
def sim_plain_sha(request: HttpRequest) -> HttpResponse:
    """POST customerId, on=1|0: the merchant uses the old plain SHA-512 fingerprints (§9.7.7)."""
    customer = request.POST.get("customerId", DEMO_CUSTOMER)
    sim_put(PROVIDER, "merchant_mode", customer, {"plain_sha": request.POST.get("on") == "1"})
    return _reply({"customerId": customer})


def _orders() -> list[Any]:
    return sim_list(PROVIDER, "order")


# --- back-end operations ---------------------------------------------------------------------------------------------


def _operations_allowed(order: Mapping[str, Any]) -> str:
    allowed = []
    deposited = sum(Decimal(p["amount"]) for p in order["payments"] if p["state"] == "DEPOSITED")
    if order["state"] == "APPROVED" and Decimal(order["approved"]) > deposited:
        allowed.append("DEPOSIT")
        if not order["payments"]:
            allowed.append("APPROVEREVERSAL")
    if deposited > sum(Decimal(c["amount"]) for c in order["credits"] if c["state"] == "CREDITED"):
        allowed.append("REFUND")
    return ",".join(allowed)


def _order_details(number: str, order: Mapping[str, Any]) -> dict[str, str]:
    reply = {
        "status": "0",
        "order.1.orderNumber": number,
        "order.1.merchantNumber": "1",
        "order.1.paymentType": order["paymentType"],
        "order.1.amount": order["amount"],
        "order.1.currency": order["currency"],
        "order.1.state": order["state"],
        "order.1.operationsAllowed": _operations_allowed(order),
        "order.1.approveAmount": order["approved"],
    }
    for index, payment in enumerate(order["payments"], start=1):
        reply.update(
            {
                f"payment.1.{index}.paymentNumber": payment["paymentNumber"],
                f"payment.1.{index}.approveAmount": order["approved"],
                f"payment.1.{index}.depositAmount": payment["amount"] if payment["state"] == "DEPOSITED" else "0",
                f"payment.1.{index}.currency": order["currency"],
                f"payment.1.{index}.state": payment["state"],
                f"payment.1.{index}.paymentType": order["paymentType"],
                f"payment.1.{index}.operationsAllowed": "" if payment.get("closed") else "DEPOSITREVERSAL",
            }
        )
    for index, credit in enumerate(order["credits"], start=1):
        reply.update(
            {
                f"credit.1.{index}.creditNumber": credit["creditNumber"],
                f"credit.1.{index}.amount": credit["amount"],
                f"credit.1.{index}.currency": order["currency"],
                f"credit.1.{index}.state": credit["state"],
                f"credit.1.{index}.operationsAllowed": "" if credit.get("closed") else "REFUNDREVERSAL",
            }
        )
    return reply


def _denied(message: str) -> dict[str, str]:
    return _errors("30000", message, status="2")


def _backend_execute(op: str, params: Mapping[str, str]) -> dict[str, str]:  # noqa: C901 - one branch per operation
    customer = params["customerId"]
    if op == "generateOrderNumber":
        number = _order_number()
        sim_put(PROVIDER, "order", number, {"state": "RESERVED", "customerId": customer}, account=customer)
        return {"status": "0", "orderNumber": number}
    number = params.get("orderNumber", "")
    order = sim_load(PROVIDER, "order", number, customer)
    if order is None or order.get("state") in ("RESERVED", "INITIATED"):
        return _errors("30100", "Order does not exist.", status="1")
    if op == "getOrderDetails":
        return _order_details(number, order)
    deposited = sum(Decimal(p["amount"]) for p in order["payments"] if p["state"] == "DEPOSITED")
    credited = sum(Decimal(c["amount"]) for c in order["credits"] if c["state"] == "CREDITED")
    if op in ("deposit", "refund"):
        if params.get("currency") != order["currency"]:
            return _errors("11012", "CURRENCY does not match the order.", status="1")
        amount = _amount(params.get("amount", ""), order["currency"])
        if amount is None:
            return _errors("11011", "AMOUNT is invalid.", status="1")
        if op == "deposit":
            if order["state"] != "APPROVED" or deposited + amount > Decimal(order["approved"]):
                return _denied("Deposit exceeds the approved amount or the order cannot be deposited.")
            entry = {"paymentNumber": _next_number(order), "amount": str(amount), "state": "DEPOSITED"}
            order["payments"].append(entry)
            sim_put(PROVIDER, "order", number, order, account=customer)
            return {"status": "0", "paymentNumber": entry["paymentNumber"]}
        if credited + amount > deposited:
            return _denied("Refund exceeds the deposited amount.")
        credit = {"creditNumber": _next_number(order), "amount": str(amount), "state": "CREDITED"}
        order["credits"].append(credit)
        sim_put(PROVIDER, "order", number, order, account=customer)
        return {"status": "0", "creditNumber": credit["creditNumber"]}
    if op == "approveReversal":
        if order["state"] != "APPROVED" or order["payments"]:
            return _denied("Only an approved order without deposits can be reversed.")
        order["state"] = "APPROVALREVERSED"
        sim_put(PROVIDER, "order", number, order, account=customer)
        return {"status": "0"}
    if op == "depositReversal":
        found = next((p for p in order["payments"] if p["paymentNumber"] == params.get("paymentNumber")), None)
        if found is None or found["state"] != "DEPOSITED" or found.get("closed"):
            return _denied("The deposit cannot be reversed (unknown, reversed, or after day-end closing).")
        if credited > deposited - Decimal(found["amount"]):
            return _denied("The deposit was refunded.")
        found["state"] = "REVERSED"
        sim_put(PROVIDER, "order", number, order, account=customer)
        return {"status": "0"}
    found = next((c for c in order["credits"] if c["creditNumber"] == params.get("creditNumber")), None)
    if found is None or found["state"] != "CREDITED" or found.get("closed"):
        return _denied("The refund cannot be reversed (unknown, reversed, or after day-end closing).")
    found["state"] = "REVERSED"
    sim_put(PROVIDER, "order", number, order, account=customer)
    return {"status": "0"}


@sandbox_view
@require_http_methods(["POST"])
def backend(request: HttpRequest, operation: str) -> HttpResponse:
    """`backend/<op>` (§9.5): fixed fingerprint prefix + the operation's fields; status 0-4 in every reply."""
    if operation not in BACKEND_FIELDS:
        return _reply(_errors("11001", "Unknown operation.", status="1"))

    def execute() -> dict[str, Any]:
        params, merchant = _authenticated(request, [*BACKEND_PREFIX, *BACKEND_FIELDS[operation]])
        if isinstance(merchant, HttpResponse):
            return {"response": merchant}
        if params.get("password") != merchant["password"]:
            return {"reply": _errors("15000", "PASSWORD is invalid.", status="1")}
        return {"reply": _backend_execute(operation, params)}

    return _served(operation, execute)


def count(kind: str, **data: Any) -> int:
    """How many simulated objects of a kind have these values (tests count deposits)."""
    return sim_count(PROVIDER, kind, **data)
