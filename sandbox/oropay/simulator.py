"""The OroPay sandbox: a simulator of Global Payments' GP-API ("Unified Commerce Platform"), written from
providers.md §6 (transport, access tokens, transactions, status values, notifications) and §8.

Served under `/sandbox/oropay/` (see `urls.py`); the API lives at `/sandbox/oropay/ucp/…` as the real one at
`https://apis.globalpay.com/ucp/…`:

* `POST /ucp/accesstoken` with `app_id`, `nonce`, `secret` = sha512_hex(nonce + app_key) and
  `grant_type=client_credentials` (optional `seconds_to_expire`, `interval_to_expire`, `permissions`,
  `restricted_token`). Every sandbox app id of 8 to 40 letters or digits is an app; its app key is
  `app_key_of(app_id)` (the sandbox's provisioning, as Oro provisions the real credentials). A wrong secret is a
  403 `ACTION_NOT_AUTHORIZED`. Tokens live `seconds_to_expire` (default 86399) of simulated time; a missing,
  unknown or expired bearer token is a 401 `NOT_AUTHENTICATED` (the SDK signs in again on it).
* `X-GP-Version` must be sent on every call (`2021-03-22` and later dates); `x-gp-idempotency` on a POST
  replays the first answer for 24 hours, the same key with another body is a 409 `DUPLICATE_ACTION`.
* `POST /ucp/payment-methods` (the hosted fields' call, restricted token with `PMT_POST_Create_Single` only)
  makes a single-use `PMT_…` card token; the full token may not tokenize card data through it (the shop never
  holds card data) and the restricted one may do nothing else.
* `POST /ucp/transactions`: `type` SALE with `capture_mode` AUTO, LATER or MULTIPLE, amount in minor units as a
  string, `payment_method.id` (a card token, used once) or `payment_method.bank_transfer` (ACH: AUTO and USD only).
  Declines are HTTP 200 with `status: DECLINED` and the issuer code in `payment_method.result`.
  `GET /ucp/transactions/{id}` and `GET /ucp/transactions?reference=…&from_time_created=…&page=…&page_size=…`.
* `POST /ucp/transactions/{id}/capture` (all or part; LATER once, MULTIPLE until the authorized amount is taken):
  each capture is a transaction of its own with `parent_resource_id` and the authorization's `reference`,
  `/reversal` (a hold not captured, or a capture not yet batched), `/refund` (a new REFUND transaction, partial
  and repeated up to what was captured; a refund of an ACH debit before it is FUNDED is refused).
* ACH: a SALE stays PENDING; `POST /sandbox/oropay/__sim/settle` (or a read after two simulated days) makes it
  FUNDED, or REJECTED for the returned-account trigger; `__sim/ach_return` (`id`) rejects a funded debit later
  (an R01 return). Each change is notified to the app's status URL (`__sim/status_url`: `app_id`, `url`), signed
  `X-GP-Signature` = sha512_hex(body + app_key).
* Test cards (the issuer code they play in `payment_method.result`): 4263970000005262 and any other Luhn-valid
  number approve ("00"); 4000120000001154 "05" do not honour; 4000130000001724 "51" insufficient funds;
  4000160000004147 "54" expired card; 4000140000001129 "N7" CVV mismatch; 4000150000001235 "91" issuer
  unavailable; a card number failing Luhn is refused when tokenized. ACH account 00000002 is returned (R01).
* Faults from `/sandbox/__sim/fault` (provider=oropay; operations `accesstoken`, `tokenize`, `create`, `capture`,
  `reversal`, `refund`, `retrieve`, `search`).

* 3-D Secure: card 4012001038488884 leaves the transaction INITIATED with
  `payment_method.authentication.three_ds.redirect_url`, the issuer's challenge page (`/sandbox/oropay/3ds/<id>`);
  completing it authorizes (or captures) it, failing it declines it (result AUTHENTICATION_FAILED), and the buyer
  goes back to `notifications.return_url`. This shape is the sandbox's own: GP-API's real 3-D Secure runs through
  `/ucp/authentications` before the transaction, which providers.md does not document.

Known simplifications: no `/ucp/authentications`, no stored payment methods, no reauthorization
or adjustment, no batching other than ACH funding (a capture stays CAPTURED, reversible, until refunded).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
from collections.abc import Callable, Mapping
from datetime import timedelta
from typing import Any

from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.views.decorators.http import require_http_methods, require_POST

from sandbox.models import SimFault
from sandbox.pipeline import Delivery, Idempotency, cors, fault_response, serve, webhook_endpoint_save, webhooks_send
from sandbox.services import KeyConflict, SimReply, sim_get, sim_list, sim_load, sim_now, sim_put, sim_strict
from sandbox.views import sandbox_view

PROVIDER = "oropay"
VERSIONS_FROM = "2021-03-22"
KEY_TTL = timedelta(hours=24)
DEFAULT_TOKEN_SECONDS = 86399
ACH_FUNDING_DAYS = 2
TOKENIZE_PERMISSION = "PMT_POST_Create_Single"

CARD_RESULTS: dict[str, tuple[str, str]] = {
    "4000120000001154": ("05", "DO NOT HONOR"),
    "4000130000001724": ("51", "INSUFFICIENT FUNDS"),
    "4000160000004147": ("54", "EXPIRED CARD"),
    "4000140000001129": ("N7", "CVV2 MISMATCH"),
    "4000150000001235": ("91", "ISSUER UNAVAILABLE"),
}
ACH_RETURNED_ACCOUNT = "00000002"
#: the card whose issuer asks for a 3-D Secure challenge
THREE_DS_CARD = "4012001038488884"
TRANSACTION_FIELDS = frozenset(
    {
        "account_name",
        "account_id",
        "channel",
        "country",
        "type",
        "capture_mode",
        "amount",
        "currency",
        "reference",
        "description",
        "order",
        "payment_method",
        "payer",
        "ip_address",
        "notifications",
    }
)
_current = threading.local()  # the request being served, for addresses the sandbox hands out


# --- apps and tokens ---------------------------------------------------------------------------------------


def app_key_of(app_id: str) -> str:
    """The app key the sandbox provisions for an app id (stable, so tests and the seed can compute it)."""
    return hashlib.sha256(f"oropay-sandbox-app:{app_id}".encode()).hexdigest()[:32]


def account_of(app_id: str) -> str:
    return "MER_" + hashlib.sha256(app_id.encode()).hexdigest()[:16]


def _error(status: int, code: str, detailed: str, description: str, *, store: bool = True) -> SimReply:
    body = {"error_code": code, "detailed_error_code": detailed, "detailed_error_description": description}
    return SimReply(status, json.dumps(body), store=store)


def _ok(body: Mapping[str, Any], status: int = 200) -> SimReply:
    return SimReply(status, json.dumps(body))


def _reply(reply: SimReply, *, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status, content_type="application/json")
    for name, value in reply.headers.items():
        response[name] = value
    return _cors(response)


def _cors(response: HttpResponse) -> HttpResponse:
    return cors(
        response, methods="POST, GET, OPTIONS", headers="Authorization, Content-Type, X-GP-Version, x-gp-idempotency"
    )


def _fault(fault: SimFault) -> HttpResponse | None:
    if fault.kind in (SimFault.Kind.ERROR_500, SimFault.Kind.ERROR_503):
        status = 500 if fault.kind == SimFault.Kind.ERROR_500 else 503
        return _reply(_error(status, "SYSTEM_ERROR_DOWNSTREAM", "50002", "Unable to process", store=False))
    return fault_response(fault)


def _version_refusal(request: HttpRequest) -> SimReply | None:
    version = request.headers.get("X-GP-Version", "").strip()
    if not re.fullmatch(r"\d{4}-\d{2}-\d{2}", version) or version < VERSIONS_FROM:
        return _error(400, "INVALID_REQUEST_DATA", "40001", "Missing or invalid X-GP-Version header", store=False)
    return None


def _json_body(request: HttpRequest) -> dict[str, Any] | SimReply:
    try:
        body = json.loads(request.body.decode("utf-8") or "{}")
    except (UnicodeDecodeError, ValueError):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Request body is not valid JSON", store=False)
    if not isinstance(body, dict):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Request body must be a JSON object", store=False)
    return body


def _bearer(request: HttpRequest) -> dict[str, Any] | SimReply:
    value = request.headers.get("Authorization", "")
    token = value[7:].strip() if value.startswith("Bearer ") else ""
    obj = sim_get(PROVIDER, "token", token) if token else None
    data = obj.data if obj is not None and obj.account == _token_account(token) else None
    if data is None or sim_now(PROVIDER).timestamp() >= data["expires_at"]:
        return _error(401, "NOT_AUTHENTICATED", "40001", "Invalid access token", store=False)
    return data


def _token_account(token: str) -> str:
    """Tokens carry their merchant account before the dot, so a lookup is scoped to that account."""
    return token.partition(".")[0]


def token_create(app_id: str, *, seconds: int = DEFAULT_TOKEN_SECONDS, permissions: list[str] | None = None) -> dict:
    account = account_of(app_id)
    token = f"{account}.{secrets.token_urlsafe(24)}"
    now = sim_now(PROVIDER)
    data = {
        "token": token,
        "app_id": app_id,
        "account": account,
        "permissions": permissions or [],
        "expires_at": now.timestamp() + seconds,
    }
    sim_put(PROVIDER, "token", token, data, account=account)
    return data


@sandbox_view
@require_http_methods(["POST", "OPTIONS"])
def accesstoken(request: HttpRequest) -> HttpResponse:
    """`POST /ucp/accesstoken` (providers.md §6.1)."""
    if request.method == "OPTIONS":
        return _cors(HttpResponse(status=204))

    def execute() -> SimReply:
        if (refusal := _version_refusal(request)) is not None:
            return refusal
        body = _json_body(request)
        if isinstance(body, SimReply):
            return body
        known = {"app_id", "nonce", "secret", "grant_type", "seconds_to_expire", "interval_to_expire"}
        known |= {"permissions", "restricted_token"}
        if sim_strict(PROVIDER) and (unknown := sorted(set(body) - known)):
            return _error(400, "INVALID_REQUEST_DATA", "40213", f"Unknown field {unknown[0]}", store=False)
        app_id, nonce, secret = (str(body.get(k) or "") for k in ("app_id", "nonce", "secret"))
        if body.get("grant_type") != "client_credentials" or not nonce or not app_id:
            return _error(400, "INVALID_REQUEST_DATA", "40005", "Mandatory fields missing", store=False)
        expected = hashlib.sha512((nonce + app_key_of(app_id)).encode()).hexdigest()
        if not re.fullmatch(r"[A-Za-z0-9]{8,40}", app_id) or secret.lower() != expected:
            return _error(
                403, "ACTION_NOT_AUTHORIZED", "40004", "Credentials not recognized to create access token.", store=False
            )
        seconds = body.get("seconds_to_expire") or DEFAULT_TOKEN_SECONDS
        if not isinstance(seconds, int) or not 60 <= seconds <= DEFAULT_TOKEN_SECONDS:
            return _error(400, "INVALID_REQUEST_DATA", "40213", "seconds_to_expire out of range", store=False)
        permissions = body.get("permissions") or []
        if permissions and permissions != [TOKENIZE_PERMISSION]:
            return _error(400, "INVALID_REQUEST_DATA", "40213", "Unknown permission", store=False)
        data = token_create(app_id, seconds=seconds, permissions=permissions)
        account = data["account"]
        accounts = [
            {"id": f"TKA_{account[4:]}", "name": "tokenization", "permissions": [TOKENIZE_PERMISSION]},
        ]
        if not permissions:
            accounts.insert(0, {"id": f"TRA_{account[4:]}", "name": "transaction_processing", "permissions": []})
        return _ok(
            {
                "token": data["token"],
                "type": "Bearer",
                "app_id": app_id,
                "app_name": "Paydesk sandbox app",
                "time_created": sim_now(PROVIDER).strftime("%Y-%m-%dT%H:%M:%S.000Z"),
                "seconds_to_expire": seconds,
                "email": "sandbox@oropay.test",
                "scope": {"merchant_id": account, "merchant_name": "Sandbox merchant", "accounts": accounts},
            }
        )

    return serve(provider=PROVIDER, operation="accesstoken", execute=execute, respond=_reply_plain, faults=_fault)


def _reply_plain(reply: SimReply, replayed: bool) -> HttpResponse:
    return _reply(reply, replayed=replayed)


# --- the keyed API -----------------------------------------------------------------------------------------

Handler = Callable[..., SimReply]


def api(operation: str, *, methods: tuple[str, ...] = ("POST",), tokenize: bool = False) -> Callable:
    """A GP-API endpoint: version header, bearer token, faults, `x-gp-idempotency`, the handler in a transaction."""

    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @sandbox_view
        @require_http_methods([*methods, "OPTIONS"])
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method == "OPTIONS":
                return _cors(HttpResponse(status=204))
            if (refusal := _version_refusal(request)) is not None:
                return _reply(refusal)
            token = _bearer(request)
            if isinstance(token, SimReply):
                return _reply(token)
            restricted = TOKENIZE_PERMISSION in token["permissions"]
            if restricted != tokenize:
                return _reply(
                    _error(403, "ACTION_NOT_AUTHORIZED", "40003", "Token does not permit this action", store=False)
                )
            if request.method == "GET":
                body: dict[str, Any] | SimReply = dict(request.GET.items())
            else:
                body = _json_body(request)
            if isinstance(body, SimReply):
                return _reply(body)
            account = token["account"]
            _current.request = request
            key = request.headers.get("x-gp-idempotency", "").strip() if request.method == "POST" else ""
            idempotency = None
            if key:
                digest = hashlib.sha256(json.dumps([request.path, body], sort_keys=True).encode()).hexdigest()
                idempotency = Idempotency(account=account, key=key, request_hash=digest, ttl=KEY_TTL)

            def conflict(refusal: KeyConflict) -> HttpResponse:
                return _reply(
                    _error(409, "DUPLICATE_ACTION", "40039", f"Idempotency key {key} was used for another request")
                )

            return serve(
                provider=PROVIDER,
                operation=operation,
                execute=lambda: handler(account, body, token, **kwargs),
                respond=_reply_plain,
                faults=_fault,
                idempotency=idempotency,
                conflict=conflict,
                sparse=_sparse,
            )

        return view

    return decorate


def _sparse(reply: SimReply) -> SimReply:
    if reply.status != 200:
        return reply
    body = json.loads(reply.body)
    kept = {k: body[k] for k in ("id", "status", "type") if k in body}
    return SimReply(200, json.dumps(kept), store=False)


def _luhn(number: str) -> bool:
    digits = [int(d) for d in reversed(number)]
    total = sum(d if i % 2 == 0 else (d * 2 - 9 if d > 4 else d * 2) for i, d in enumerate(digits))
    return total % 10 == 0


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "VISA"
    if number[:2] in {"51", "52", "53", "54", "55"} or "2221" <= number[:4] <= "2720":
        return "MASTERCARD"
    if number[:2] in {"34", "37"}:
        return "AMEX"
    return "DISCOVER" if number.startswith("6") else "UNKNOWN"


@api("tokenize", tokenize=True)
def payment_methods(account: str, body: dict[str, Any], token: Mapping[str, Any]) -> SimReply:
    """`POST /ucp/payment-methods` with the restricted token: card (or bank account) data in, a single-use `PMT_…`
    out. The account data stays in the simulated vault; the reply shows its last four digits only."""
    if isinstance(body.get("bank_transfer"), dict):
        return _bank_token(account, body["bank_transfer"])
    card: dict[str, Any] = body["card"] if isinstance(body.get("card"), dict) else {}
    number = re.sub(r"\D", "", str(card.get("number") or ""))
    month, year = str(card.get("expiry_month") or ""), str(card.get("expiry_year") or "")
    cvv = str(card.get("cvv") or "")
    if not 12 <= len(number) <= 19 or not _luhn(number):
        return _error(400, "INVALID_REQUEST_DATA", "40007", "Invalid card number", store=False)
    if not re.fullmatch(r"(0[1-9]|1[0-2])", month) or not re.fullmatch(r"\d{2}", year):
        return _error(400, "INVALID_REQUEST_DATA", "40008", "Invalid expiry date", store=False)
    if not re.fullmatch(r"\d{3,4}", cvv):
        return _error(400, "INVALID_REQUEST_DATA", "40009", "Invalid cvv", store=False)
    pmt = f"PMT_{secrets.token_hex(16)}"
    data = {
        "id": pmt,
        "number": number,  # the simulated vault holds it; never answered back
        "brand": _brand(number),
        "expiry_month": month,
        "expiry_year": year,
        "used": False,
    }
    sim_put(PROVIDER, "payment_method", pmt, data, account=account)
    return _ok(
        {
            "id": pmt,
            "usage_mode": "SINGLE",
            "status": "ACTIVE",
            "card": {"brand": data["brand"], "masked_number_last4": "X" * (len(number) - 4) + number[-4:]},
        },
        status=201,
    )


def _bank_token(account: str, bank: Mapping[str, Any]) -> SimReply:
    number = str(bank.get("account_number") or "")
    routing = str((bank.get("bank") or {}).get("code") or "") if isinstance(bank.get("bank"), dict) else ""
    if not re.fullmatch(r"\d{4,17}", number) or not re.fullmatch(r"\d{9}", routing):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Invalid account or routing number", store=False)
    if bank.get("account_type") not in ("CHECKING", "SAVING"):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Invalid account_type", store=False)
    pmt = f"PMT_{secrets.token_hex(16)}"
    data = {
        "id": pmt,
        "bank": {"account_number": number, "account_type": bank["account_type"], "routing": routing},
        "used": False,
    }
    sim_put(PROVIDER, "payment_method", pmt, data, account=account)
    masked = {"masked_account_number_last4": "XXXX" + number[-4:], "account_type": bank["account_type"]}
    return _ok({"id": pmt, "usage_mode": "SINGLE", "status": "ACTIVE", "bank_transfer": masked}, status=201)


# --- transactions ------------------------------------------------------------------------------------------


def _minor(value: Any) -> int | None:
    text = str(value if value is not None else "")
    return int(text) if re.fullmatch(r"\d{1,12}", text) else None


def _now_text() -> str:
    return sim_now(PROVIDER).strftime("%Y-%m-%dT%H:%M:%S.000Z")


def _show(txn: Mapping[str, Any]) -> dict[str, Any]:
    """A transaction as GP-API answers it (providers.md §6.2); internal bookkeeping is left out."""
    return {k: v for k, v in txn.items() if not k.startswith("_")}


def _save(txn: dict[str, Any], account: str) -> None:
    sim_put(PROVIDER, "transaction", txn["id"], txn, account=account)


def _load(txn_id: str, account: str) -> dict[str, Any] | None:
    return sim_load(PROVIDER, "transaction", txn_id, account)


def _action(kind: str, result: str = "SUCCESS") -> dict[str, str]:
    return {"id": f"ACT_{secrets.token_hex(10)}", "type": kind, "time_created": _now_text(), "result_code": result}


def _new_transaction(account: str, body: Mapping[str, Any], *, amount: int, status: str) -> dict[str, Any]:
    return {
        "id": f"TRN_{secrets.token_hex(12)}",
        "time_created": _now_text(),
        "type": body.get("type", "SALE"),
        "status": status,
        "channel": body.get("channel", "CNP"),
        "capture_mode": body.get("capture_mode", "AUTO"),
        "amount": str(amount),
        "currency": body.get("currency", ""),
        "country": body.get("country", "US"),
        "merchant_id": account,
        "merchant_name": "Sandbox merchant",
        "account_id": f"TRA_{account[4:]}",
        "account_name": "transaction_processing",
        "reference": body.get("reference", ""),
        "batch_id": "",
        "_captured": 0,
        "_refunded": 0,
        "_created_ts": sim_now(PROVIDER).timestamp(),
    }


@api("create")
def transactions_create(account: str, body: dict[str, Any], token: Mapping[str, Any]) -> SimReply:
    """`POST /ucp/transactions`: an authorization or a sale on a card token, or an ACH debit."""
    if sim_strict(PROVIDER) and (unknown := sorted(set(body) - TRANSACTION_FIELDS)):
        return _error(400, "INVALID_REQUEST_DATA", "40213", f"Unknown field {unknown[0]}", store=False)
    missing = [k for k in ("account_name", "type", "amount", "currency", "channel", "payment_method") if k not in body]
    if missing:
        return _error(400, "INVALID_REQUEST_DATA", "40005", f"Mandatory field {missing[0]} missing", store=False)
    if body["account_name"] != "transaction_processing":
        return _error(400, "INVALID_REQUEST_DATA", "40041", "Account name not recognised", store=False)
    amount = _minor(body["amount"])
    currency = str(body["currency"])
    if amount is None or amount <= 0:
        return _error(400, "INVALID_REQUEST_DATA", "40006", "Invalid amount", store=False)
    if not re.fullmatch(r"[A-Z]{3}", currency):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Invalid currency", store=False)
    if len(str(body.get("reference") or "")) > 50:
        return _error(400, "INVALID_REQUEST_DATA", "40213", "reference longer than 50 characters", store=False)
    if body["type"] != "SALE" or body.get("capture_mode", "AUTO") not in ("AUTO", "LATER", "MULTIPLE"):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Unsupported type or capture_mode", store=False)
    method = body["payment_method"] if isinstance(body["payment_method"], dict) else {}
    if "bank_transfer" in method:
        return _ach_create(account, body, method, amount)
    if method.get("id") and (kept := sim_get(PROVIDER, "payment_method", str(method["id"]))) is not None:
        if "bank" in kept.data:
            return _error(400, "INVALID_REQUEST_DATA", "40213", "A bank account needs bank_transfer", store=False)
    pmt_id = str(method.get("id") or "")
    pmt = sim_load(PROVIDER, "payment_method", pmt_id, account) if pmt_id else None
    if pmt is None:
        return _error(404, "RESOURCE_NOT_FOUND", "40118", f"Payment method {pmt_id} not found", store=False)
    if pmt["used"]:
        return _error(400, "INVALID_REQUEST_DATA", "40029", "Single use payment method already used", store=False)
    pmt["used"] = True
    sim_put(PROVIDER, "payment_method", pmt_id, pmt, account=account)
    number = pmt["number"]
    result, message = CARD_RESULTS.get(number, ("00", "[ test system ] Authorised"))
    capture_mode = body.get("capture_mode", "AUTO")
    approved = result == "00"
    status = "DECLINED" if not approved else ("CAPTURED" if capture_mode == "AUTO" else "PREAUTHORIZED")
    challenge = number == THREE_DS_CARD
    if challenge:
        status, result, message = "INITIATED", "", "CHALLENGE_REQUIRED"
    txn = _new_transaction(account, body, amount=amount, status=status)
    txn["payment_method"] = {
        "result": result,
        "message": message,
        "entry_mode": method.get("entry_mode", "ECOM"),
        "id": pmt_id,
        "card": {
            "funding": "CREDIT",
            "brand": pmt["brand"],
            "masked_number_last4": "X" * (len(number) - 4) + number[-4:],
            "authcode": "12345" if approved else "",
            "cvv_result": "NOT_MATCHED" if result == "N7" else "MATCHED",
            "provider": {"result": result},
        },
    }
    txn["action"] = _action("AUTHORIZE" if capture_mode != "AUTO" else "SALE", "SUCCESS" if approved else "DECLINED")
    if challenge:
        url = _current.request.build_absolute_uri(f"/sandbox/oropay/3ds/{txn['id']}")
        txn["payment_method"]["authentication"] = {"three_ds": {"status": "CHALLENGE_REQUIRED", "redirect_url": url}}
        notifications: dict[str, Any] = body["notifications"] if isinstance(body.get("notifications"), dict) else {}
        txn["_return_url"] = str(notifications.get("return_url") or "")
        txn["action"] = _action("AUTHENTICATION", "PENDING")
    elif approved and capture_mode == "AUTO":
        txn["_captured"] = amount
    _save(txn, account)
    return _ok(_show(txn))


def _ach_create(account: str, body: Mapping[str, Any], method: Mapping[str, Any], amount: int) -> SimReply:
    """An ACH debit: the account in `bank_transfer`, or a bank-account token in `id` with `bank_transfer` naming
    the SEC code; `name` is the account holder."""
    if body.get("capture_mode", "AUTO") != "AUTO":
        return _error(400, "INVALID_REQUEST_DATA", "40213", "ACH is a sale with capture_mode AUTO", store=False)
    if body.get("currency") != "USD":  # the ACH network debits US bank accounts in US dollars
        return _error(400, "INVALID_REQUEST_DATA", "40213", "ACH takes currency USD only", store=False)
    bank = method["bank_transfer"] if isinstance(method.get("bank_transfer"), dict) else {}
    if method.get("id"):
        pmt = sim_load(PROVIDER, "payment_method", str(method["id"]), account)
        if pmt is None or "bank" not in pmt:
            return _error(404, "RESOURCE_NOT_FOUND", "40118", f"Payment method {method['id']} not found", store=False)
        if pmt["used"]:
            return _error(400, "INVALID_REQUEST_DATA", "40029", "Single use payment method already used", store=False)
        pmt["used"] = True
        sim_put(PROVIDER, "payment_method", pmt["id"], pmt, account=account)
        stored = pmt["bank"]
        number, routing, account_type = stored["account_number"], stored["routing"], stored["account_type"]
    else:
        number = str(bank.get("account_number") or "")
        routing = str((bank.get("bank") or {}).get("code") or "") if isinstance(bank.get("bank"), dict) else ""
        account_type = bank.get("account_type")
    if not re.fullmatch(r"\d{4,17}", number) or not re.fullmatch(r"\d{9}", routing):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Invalid account or routing number", store=False)
    if account_type not in ("CHECKING", "SAVING") or bank.get("sec_code") not in ("WEB", "PPD", "CCD"):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Invalid account_type or sec_code", store=False)
    if not method.get("name"):
        return _error(400, "INVALID_REQUEST_DATA", "40005", "Mandatory field payment_method.name missing", store=False)
    txn = _new_transaction(account, body, amount=amount, status="PENDING")
    txn["payment_method"] = {
        "result": "00",
        "message": "PENDING",
        "entry_mode": "ECOM",
        "name": method.get("name"),
        "bank_transfer": {
            "masked_account_number_last4": "XXXX" + number[-4:],
            "account_type": account_type,
            "sec_code": bank["sec_code"],
            "bank": {"code": routing},
        },
    }
    txn["action"] = _action("SALE")
    txn["_captured"] = amount
    txn["_ach"] = {"returned": number == ACH_RETURNED_ACCOUNT, "due_ts": txn["_created_ts"] + ACH_FUNDING_DAYS * 86400}
    _save(txn, account)
    return _ok(_show(txn))


def _ach_progress(txn: dict[str, Any], account: str, *, force: bool = False) -> None:
    """Fund or reject an ACH debit once its days have passed (or at once, `force`), and notify the app."""
    ach = txn.get("_ach")
    if not ach or txn["status"] != "PENDING":
        return
    if not force and sim_now(PROVIDER).timestamp() < ach["due_ts"]:
        return
    txn["status"] = "REJECTED" if ach["returned"] else "FUNDED"
    if ach["returned"]:
        txn["payment_method"] = {**txn["payment_method"], "result": "R01", "message": "INSUFFICIENT FUNDS"}
        txn["_captured"] = 0
    txn["action"] = _action("FUNDING" if not ach["returned"] else "REJECTION")
    _save(txn, account)
    _notify(txn, account)


@api("retrieve", methods=("GET",))
def transactions_retrieve(account: str, body: dict[str, Any], token: Mapping[str, Any], txn_id: str) -> SimReply:
    txn = _load(txn_id, account)
    if txn is None:
        return _error(404, "RESOURCE_NOT_FOUND", "40008", f"Transaction {txn_id} not found", store=False)
    _ach_progress(txn, account)
    return _ok(_show(txn))


@api("search", methods=("GET",))
def transactions_list(account: str, body: dict[str, Any], token: Mapping[str, Any]) -> SimReply:
    """`GET /ucp/transactions`: by `reference`, `from_time_created` (a date), `page` and `page_size` (≤ 1000)."""
    known = {"reference", "from_time_created", "to_time_created", "page", "page_size", "order", "order_by"}
    if sim_strict(PROVIDER) and (unknown := sorted(set(body) - known)):
        return _error(400, "INVALID_REQUEST_DATA", "40213", f"Unknown parameter {unknown[0]}", store=False)
    page, size = _minor(body.get("page", "1")), _minor(body.get("page_size", "5"))
    if not page or not size or size > 1000:
        return _error(400, "INVALID_REQUEST_DATA", "40213", "Invalid page or page_size", store=False)
    since = str(body.get("from_time_created") or "")
    if since and not re.fullmatch(r"\d{4}-\d{2}-\d{2}", since):
        return _error(400, "INVALID_REQUEST_DATA", "40213", "from_time_created must be YYYY-MM-DD", store=False)
    rows = [dict(o.data) for o in sim_list(PROVIDER, "transaction", account=account)]
    rows = [r for r in rows if not body.get("reference") or r.get("reference") == body["reference"]]
    rows = [r for r in rows if not since or r["time_created"][:10] >= since]
    rows.sort(key=lambda r: r["_created_ts"], reverse=body.get("order", "DESC") == "DESC")
    chunk = rows[(page - 1) * size : page * size]
    return _ok(
        {
            "transactions": [_show(r) for r in chunk],
            "total_record_count": len(rows),
            "current_page_size": len(chunk),
            "paging": {"page": page, "page_size": size},
        }
    )


def _follow_up_amount(body: Mapping[str, Any], default: int) -> int | SimReply:
    if sim_strict(PROVIDER) and (unknown := sorted(set(body) - {"amount"})):
        return _error(400, "INVALID_REQUEST_DATA", "40213", f"Unknown field {unknown[0]}", store=False)
    if "amount" not in body:
        return default
    amount = _minor(body["amount"])
    if amount is None or amount <= 0:
        return _error(400, "INVALID_REQUEST_DATA", "40006", "Invalid amount", store=False)
    return amount


def _found(txn_id: str, account: str) -> dict[str, Any] | SimReply:
    txn = _load(txn_id, account)
    if txn is None:
        return _error(404, "RESOURCE_NOT_FOUND", "40008", f"Transaction {txn_id} not found", store=False)
    return txn


@api("capture")
def transactions_capture(account: str, body: dict[str, Any], token: Mapping[str, Any], txn_id: str) -> SimReply:
    txn = _found(txn_id, account)
    if isinstance(txn, SimReply):
        return txn
    held = int(txn["amount"]) - txn["_captured"]
    amount = _follow_up_amount(body, held)
    if isinstance(amount, SimReply):
        return amount
    multiple = txn["capture_mode"] == "MULTIPLE"
    open_ = txn["status"] == "PREAUTHORIZED" or (multiple and txn["status"] == "CAPTURED" and held > 0)
    if not open_ or txn["capture_mode"] == "AUTO":
        return _error(400, "INVALID_REQUEST_DATA", "40090", f"Status {txn['status']} does not allow capture")
    if amount > held:
        return _error(400, "INVALID_REQUEST_DATA", "40087", "Capture amount exceeds the authorized amount")
    txn["_captured"] += amount
    txn["_children"] = True  # refunds go to the captures, not to the authorization
    txn["status"] = "CAPTURED"
    if not multiple:  # LATER: one capture; what it leaves is released
        txn["amount"] = str(txn["_captured"])
    txn["action"] = _action("CAPTURE")
    _save(txn, account)
    # each capture is a transaction of its own, linked to the authorization (`parent_resource_id`), under the
    # authorization's reference; refunds act on it
    capture = _new_transaction(account, txn, amount=amount, status="CAPTURED")
    capture.update(
        {
            "parent_resource_id": txn["id"],
            "payment_method": txn["payment_method"],
            "action": _action("CAPTURE"),
            "_captured": amount,
        }
    )
    _save(capture, account)
    _notify(capture, account)
    return _ok(_show(capture))


@api("reversal")
def transactions_reversal(account: str, body: dict[str, Any], token: Mapping[str, Any], txn_id: str) -> SimReply:
    """Release a hold: a PREAUTHORIZED one becomes REVERSED; a MULTIPLE one captured in part keeps its captures
    and closes. Money captured is given back by a refund, not a reversal."""
    txn = _found(txn_id, account)
    if isinstance(txn, SimReply):
        return txn
    amount = _follow_up_amount(body, int(txn["amount"]) - txn["_captured"])
    if isinstance(amount, SimReply):
        return amount
    held = int(txn["amount"]) - txn["_captured"]
    if txn.get("_ach") or txn["status"] not in ("INITIATED", "PREAUTHORIZED", "CAPTURED") or held <= 0:
        return _error(400, "INVALID_REQUEST_DATA", "40090", f"Status {txn['status']} does not allow reversal")
    if txn["status"] in ("INITIATED", "PREAUTHORIZED"):
        txn["status"] = "REVERSED"
    else:
        txn["amount"] = str(txn["_captured"])
    txn["action"] = _action("REVERSAL")
    _save(txn, account)
    _notify(txn, account)
    return _ok(_show(txn))


@api("refund")
def transactions_refund(account: str, body: dict[str, Any], token: Mapping[str, Any], txn_id: str) -> SimReply:
    txn = _found(txn_id, account)
    if isinstance(txn, SimReply):
        return txn
    _ach_progress(txn, account)
    left = txn["_captured"] - txn["_refunded"]
    amount = _follow_up_amount(body, left)
    if isinstance(amount, SimReply):
        return amount
    if txn["type"] != "SALE" or txn["status"] not in ("CAPTURED", "BATCHED", "FUNDED") or txn.get("_children"):
        return _error(400, "INVALID_REQUEST_DATA", "40090", f"Status {txn['status']} does not allow refund")
    if amount > left:
        return _error(400, "INVALID_REQUEST_DATA", "40087", "Refund amount exceeds the captured amount")
    txn["_refunded"] += amount
    _save(txn, account)
    refund = _new_transaction(
        account, {**txn, "type": "REFUND", "capture_mode": "AUTO"}, amount=amount, status="CAPTURED"
    )
    refund.update(
        {
            "parent_resource_id": txn["id"],
            "payment_method": {"result": "00", "message": "[ test system ] Refunded"},
            "action": _action("REFUND"),
        }
    )
    _save(refund, account)
    _notify(refund, account)
    return _ok(_show(refund))


# --- notifications -------------------------------------------------------------------------------------------


def sign(body: str, secret: str, now: int) -> dict[str, str]:
    """`X-GP-Signature`: sha512_hex(raw body + app key); no HMAC (providers.md §6.2)."""
    return {"X-GP-Signature": hashlib.sha512((body + secret).encode()).hexdigest()}


def status_url_register(*, app_id: str, url: str) -> dict[str, Any]:
    """Where an app's status notifications go (the account manager sets it up at Global Payments)."""

    def make(existing: dict[str, Any] | None) -> dict[str, Any]:
        return {**(existing or {"id": f"NTF_{secrets.token_hex(8)}", "url": url}), "app_id": app_id}

    return webhook_endpoint_save(PROVIDER, account_of(app_id), url, make=make, id_field="id")


def _notify(txn: Mapping[str, Any], account: str) -> None:
    endpoints = [e.data for e in sim_list(PROVIDER, "webhook_endpoint", account=account)]
    if not endpoints:
        return
    body = json.dumps(_show(txn), separators=(",", ":"))
    webhooks_send(
        provider=PROVIDER,
        event_id=f"{txn['id']}:{txn['action']['id']}",
        signer="sandbox.oropay.simulator.sign",
        deliveries=[Delivery(url=e["url"], body=body, secret=app_key_of(e["app_id"])) for e in endpoints],
    )


# --- merchant and test hooks ---------------------------------------------------------------------------------


@sandbox_view
@require_POST
def sim_status_url(request: HttpRequest) -> JsonResponse:
    """POST app_id, url: register the app's notification URL."""
    app_id, url = request.POST.get("app_id", ""), request.POST.get("url", "")
    if not app_id or not url:
        return JsonResponse({"error": "app_id and url are required"}, status=400)
    return JsonResponse(status_url_register(app_id=app_id, url=url))


def settle(txn_id: str = "") -> int:
    """Fund (or reject) pending ACH debits now: one by id, or all of them. Returns how many changed."""
    changed = 0
    with transaction.atomic():
        for obj in sim_list(PROVIDER, "transaction"):
            if txn_id and obj.object_id != txn_id:
                continue
            txn = sim_load(PROVIDER, "transaction", obj.object_id, obj.account)
            if txn is not None and txn.get("_ach") and txn["status"] == "PENDING":
                _ach_progress(txn, obj.account, force=True)
                changed += 1
    return changed


def ach_return(txn_id: str) -> bool:
    """An ACH debit funded before comes back (an R01 return): REJECTED, notified. False if not a funded debit."""
    with transaction.atomic():
        obj = next((o for o in sim_list(PROVIDER, "transaction") if o.object_id == txn_id), None)
        txn = sim_load(PROVIDER, "transaction", txn_id, obj.account) if obj else None
        if obj is None or txn is None or not txn.get("_ach") or txn["status"] != "FUNDED":
            return False
        txn["status"] = "REJECTED"
        txn["payment_method"] = {**txn["payment_method"], "result": "R01", "message": "RETURNED AFTER FUNDING"}
        txn["action"] = _action("RETURN")
        _save(txn, obj.account)
        _notify(txn, obj.account)
    return True


@sandbox_view
@require_POST
def sim_settle(request: HttpRequest) -> JsonResponse:
    """POST id (optional): fund or reject pending ACH debits now."""
    return JsonResponse({"changed": settle(request.POST.get("id", ""))})


@sandbox_view
@require_POST
def sim_ach_return(request: HttpRequest) -> JsonResponse:
    """POST id: the funded ACH debit is returned."""
    done = ach_return(request.POST.get("id", ""))
    return JsonResponse({"returned": done}, status=200 if done else 400)


def tokenize(app_id: str, number: str, *, expiry_month: str = "12", expiry_year: str = "34", cvv: str = "123") -> str:
    """A single-use `PMT_…` as the hosted fields make it, for tests (browsers go through `/ucp/payment-methods`)."""
    if not _luhn(number) or not re.fullmatch(r"\d{3,4}", cvv):
        raise ValueError("not a card the hosted fields would take")
    pmt = f"PMT_{secrets.token_hex(16)}"
    data = {
        "id": pmt,
        "number": number,
        "brand": _brand(number),
        "expiry_month": expiry_month,
        "expiry_year": expiry_year,
        "used": False,
    }
    sim_put(PROVIDER, "payment_method", pmt, data, account=account_of(app_id))
    return pmt


@sandbox_view
def hosted_fields_js(request: HttpRequest) -> HttpResponse:
    """The stand-in for globalpayments-js (providers.md §6.3), served from the sandbox's own address."""
    from django.template.loader import render_to_string

    script = render_to_string("sandbox/oropay/globalpayments.js", {"api_base": request.build_absolute_uri("../ucp")})
    return _cors(HttpResponse(script, content_type="application/javascript"))


@sandbox_view
def transactions_root(request: HttpRequest) -> HttpResponse:
    """`/ucp/transactions`: GET searches, POST creates."""
    return transactions_list(request) if request.method == "GET" else transactions_create(request)


def tokenize_bank(app_id: str, account_number: str, routing: str = "021000021", account_type: str = "CHECKING") -> str:
    """A single-use bank-account `PMT_…` as the hosted bank fields make it, for tests."""
    reply = _bank_token(
        account_of(app_id), {"account_number": account_number, "account_type": account_type, "bank": {"code": routing}}
    )
    if reply.status != 201:
        raise ValueError(reply.body)
    return str(json.loads(reply.body)["id"])


CHALLENGE_PAGE = """<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>3-D Secure (sandbox)</title></head><body><h1>Card issuer authentication (sandbox)</h1>
<p>{status}</p>{form}</body></html>"""
CHALLENGE_FORM = """<form method="post"><button name="outcome" value="complete">Complete authentication</button>
<button name="outcome" value="fail">Fail authentication</button></form>"""


@sandbox_view
@require_http_methods(["GET", "POST"])
def three_d_secure(request: HttpRequest, txn_id: str) -> HttpResponse:
    """The issuer's challenge page: completing it authorizes (or, for AUTO, captures) the transaction; failing it
    declines it; either way the buyer is sent to the `notifications.return_url` the transaction was created with."""
    obj = sim_get(PROVIDER, "transaction", txn_id)
    if obj is None:
        return HttpResponse("No such authentication.", status=404, content_type="text/plain")
    if request.method == "GET":
        waiting = obj.data["status"] == "INITIATED"
        status = (
            "Confirm the payment."
            if waiting
            else f"No longer waiting for authentication (status: {obj.data['status']})."
        )
        return HttpResponse(CHALLENGE_PAGE.format(status=status, form=CHALLENGE_FORM if waiting else ""))
    with transaction.atomic():
        txn = sim_load(PROVIDER, "transaction", txn_id, obj.account)
        if txn is not None and txn["status"] == "INITIATED":
            passed = request.POST.get("outcome") == "complete"
            auto = txn["capture_mode"] == "AUTO"
            txn["status"] = ("CAPTURED" if auto else "PREAUTHORIZED") if passed else "DECLINED"
            txn["_captured"] = int(txn["amount"]) if passed and auto else 0
            txn["payment_method"] = {
                **txn["payment_method"],
                "result": "00" if passed else "AUTHENTICATION_FAILED",
                "message": "[ test system ] Authorised" if passed else "AUTHENTICATION FAILED",
                "authentication": {"three_ds": {"status": "SUCCESS_AUTHENTICATED" if passed else "FAILED"}},
            }
            txn["action"] = _action("AUTHORIZE" if not auto else "SALE", "SUCCESS" if passed else "DECLINED")
            _save(txn, obj.account)
            _notify(txn, obj.account)
    back = (txn or obj.data).get("_return_url") or ""
    if back:
        return HttpResponse(status=302, headers={"Location": back})
    return HttpResponse("Authentication done.", content_type="text/plain")
