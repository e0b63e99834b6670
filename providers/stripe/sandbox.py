"""The Stripe sandbox: a stateful simulator of the parts of Stripe's v1 API the adapter uses.

Served under `/sandbox/stripe/` (see `urls.py`) when `settings.SANDBOX_ENABLED`. It speaks the real wire format, so
the official SDK runs against it unchanged (only the base address differs):

* form-encoded bodies with bracket notation (`metadata[order]=…`, `expand[0]=…`), JSON replies, Stripe's error
  bodies and HTTP codes (400, 401, 402 for card errors, 404, 409, 5xx);
* bearer secret keys: any `sk_test_…` / `rk_test_…` key of at least 8 characters after the prefix is a valid
  account, `sk_test_invalid` (and anything else) gets 401. The account is derived from the part after the prefix,
  so `pk_test_X` and `sk_test_X` belong together; objects and keys are scoped per account;
* PaymentIntents (create, confirm, capture with `amount_to_capture` releasing the rest, cancel with
  `cancellation_reason`, retrieve), refunds (partial, repeated, refusing more than is left), PaymentMethods made by
  the tokenization script (`/sandbox/stripe/js/v3.js`, with a publishable key) and the `pm_card_*` test methods;
* the test cards of providers.md §1.8 (success, declines, 3-D Secure), zero-decimal (JPY) and three-decimal
  (KWD: the last digit must be 0, as at Stripe) currencies;
* idempotency as Stripe defines it: the first reply to a key is stored and replayed (`Idempotent-Replayed: true`),
  the same key with other parameters is a 400 `idempotency_error`, a concurrent duplicate a 409; keys are
  forgotten after 24 hours of simulated time;
* signed webhooks (`Stripe-Signature: t=…,v1=…`) for `payment_intent.succeeded`, `.canceled`, `.payment_failed`,
  `.amount_capturable_updated`, `.requires_action` and `charge.refunded`, sent to the account's webhook endpoints
  (`POST /v1/webhook_endpoints`, or `webhook_endpoint_register` from Python) by a Celery task with retries;
* a 3-D Secure challenge page that completes or fails the PaymentIntent and returns to the `return_url`;
* faults from `/sandbox/__sim/fault` (provider=stripe; operations `create`, `confirm`, `capture`, `cancel`,
  `refund`, `retrieve`, `payment_method`…).

Known simplifications: no customers, no `automatic_payment_methods`, no multicapture (`final_capture` is ignored:
a capture always releases the rest), `charge.refunded` carries the charge's `refunds` list (as API versions before
2022-11-15 did), and a three-decimal amount not ending in 0 is refused with code `invalid_amount`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from datetime import timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from sandbox.models import SimFault
from sandbox.services import (
    SimReply,
    luhn_valid,
    sim_fault_take,
    sim_get,
    sim_hold_back,
    sim_id,
    sim_idempotent,
    sim_list,
    sim_put,
    sim_timestamp,
    sim_webhook_send,
)
from sandbox.views import sandbox_view

PROVIDER = "stripe"
API_VERSION = "2026-06-24.dahlia"
KEY_TTL = timedelta(hours=24)
ZERO_DECIMAL = {
    "bif",
    "clp",
    "djf",
    "gnf",
    "jpy",
    "kmf",
    "krw",
    "mga",
    "pyg",
    "rwf",
    "ugx",
    "vnd",
    "vuv",
    "xaf",
    "xof",
    "xpf",
}
THREE_DECIMAL = {"bhd", "jod", "kwd", "omr", "tnd"}
MINIMUM = {"usd": 50, "eur": 50, "gbp": 30, "chf": 50, "cad": 50, "aud": 50, "jpy": 50}
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")

# --- test cards and payment methods (providers.md §1.8) ---------------------------------------------------

#: behaviour -> (code, decline_code, message) of the card error it produces on confirm
DECLINES: dict[str, tuple[str, str | None, str]] = {
    "card_declined": ("card_declined", "generic_decline", "Your card was declined."),
    "insufficient_funds": ("card_declined", "insufficient_funds", "Your card has insufficient funds."),
    "lost_card": ("card_declined", "lost_card", "Your card was declined."),
    "stolen_card": ("card_declined", "stolen_card", "Your card was declined."),
    "expired_card": ("expired_card", "expired_card", "Your card has expired."),
    "incorrect_cvc": ("incorrect_cvc", "incorrect_cvc", "Your card's security code is incorrect."),
    "processing_error": (
        "processing_error",
        "processing_error",
        "An error occurred while processing your card. Try again in a little bit.",
    ),
    "charge_customer_fail": ("card_declined", "generic_decline", "Your card was declined."),
}
AUTHENTICATION_FAILED = (
    "payment_intent_authentication_failure",
    None,
    "We are unable to authenticate your payment method. Please choose a different payment method and try again.",
)

#: card number -> (brand, behaviour)
CARDS: dict[str, tuple[str, str]] = {
    "4242424242424242": ("visa", "success"),
    "4000056655665556": ("visa", "success"),
    "5555555555554444": ("mastercard", "success"),
    "378282246310005": ("amex", "success"),
    "6011111111111117": ("discover", "success"),
    "3566002020360505": ("jcb", "success"),
    "6200000000000005": ("unionpay", "success"),
    "4000000000000002": ("visa", "card_declined"),
    "4000000000009995": ("visa", "insufficient_funds"),
    "4000000000009987": ("visa", "lost_card"),
    "4000000000009979": ("visa", "stolen_card"),
    "4000000000000069": ("visa", "expired_card"),
    "4000000000000127": ("visa", "incorrect_cvc"),
    "4000000000000119": ("visa", "processing_error"),
    "4000000000000341": ("visa", "charge_customer_fail"),
    "4000002500003155": ("visa", "authentication_required"),
    "4000000000003220": ("visa", "authentication_required"),
    "4000002760003184": ("visa", "authentication_required"),
}

#: test PaymentMethod id -> card number it stands for
TEST_PAYMENT_METHODS: dict[str, str] = {
    "pm_card_visa": "4242424242424242",
    "pm_card_visa_debit": "4000056655665556",
    "pm_card_mastercard": "5555555555554444",
    "pm_card_amex": "378282246310005",
    "pm_card_discover": "6011111111111117",
    "pm_card_jcb": "3566002020360505",
    "pm_card_unionpay": "6200000000000005",
    "pm_card_chargeDeclined": "4000000000000002",
    "pm_card_visa_chargeDeclined": "4000000000000002",
    "pm_card_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_visa_chargeDeclinedInsufficientFunds": "4000000000009995",
    "pm_card_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_visa_chargeDeclinedLostCard": "4000000000009987",
    "pm_card_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_visa_chargeDeclinedStolenCard": "4000000000009979",
    "pm_card_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_visa_chargeDeclinedExpiredCard": "4000000000000069",
    "pm_card_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_visa_chargeDeclinedIncorrectCvc": "4000000000000127",
    "pm_card_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_visa_chargeDeclinedProcessingError": "4000000000000119",
    "pm_card_chargeCustomerFail": "4000000000000341",
    "pm_card_authenticationRequired": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
}


def _brand(number: str) -> str:
    if number.startswith("4"):
        return "visa"
    if number[:2] in {"51", "52", "53", "54", "55"} or number[:1] == "2":
        return "mastercard"
    if number[:2] in {"34", "37"}:
        return "amex"
    return "unknown"


# --- wire helpers ---------------------------------------------------------------------------------------------


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into nested values: `a[b][c]=v`, indexed lists `l[0]=x`; lists of digits only."""
    root: dict[str, Any] = {}
    for name, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", name)
        if match is None:
            continue
        keys = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        node = root
        for key in keys[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                break
        else:
            node[keys[-1]] = value
    return _lists(root)


def _lists(value: Any) -> Any:
    if isinstance(value, dict):
        value = {k: _lists(v) for k, v in value.items()}
        if value and all(k.isdigit() for k in value):
            return [value[k] for k in sorted(value, key=int)]
    return value


def _public(obj: Mapping[str, Any]) -> dict[str, Any]:
    """An object as Stripe shows it: without the sandbox's own `_` fields."""
    return {k: _public(v) if isinstance(v, Mapping) else v for k, v in obj.items() if not k.startswith("_")}


def _reply(status: int, body: Mapping[str, Any], *, store: bool = True) -> SimReply:
    return SimReply(status, json.dumps(body, sort_keys=False), {"Request-Id": sim_id("req")}, store=store)


def _error(
    status: int,
    type_: str,
    message: str,
    *,
    code: str | None = None,
    decline_code: str | None = None,
    param: str | None = None,
    store: bool = True,
    **extra: Any,
) -> SimReply:
    error: dict[str, Any] = {"type": type_, "message": message}
    if code:
        error["code"] = code
        error["doc_url"] = f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}"
    if decline_code:
        error["decline_code"] = decline_code
    if param:
        error["param"] = param
    error.update(extra)
    error["request_log_url"] = "https://dashboard.stripe.com/test/logs"
    return _reply(status, {"error": error}, store=store)


def _invalid(message: str, *, code: str | None = None, param: str | None = None, store: bool = True) -> SimReply:
    return _error(400, "invalid_request_error", message, code=code, param=param, store=store)


def _missing(kind: str, object_id: str) -> SimReply:
    return _error(404, "invalid_request_error", f"No such {kind}: '{object_id}'", code="resource_missing", param="id")


def _as_int(value: Any) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def _as_bool(value: Any) -> bool:
    return str(value).lower() == "true"


@dataclass
class Ctx:
    """One API call: who makes it, with which key, from which address (for links it hands out)."""

    account: str
    idempotency_key: str | None
    request: HttpRequest

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path)


def account_of(api_key: str, *, publishable: bool = False) -> str | None:
    """The simulated account a key belongs to, or None when the key is not accepted."""
    prefixes = ("sk_test_", "rk_test_") + (("pk_test_",) if publishable else ())
    for prefix in prefixes:
        rest = api_key[len(prefix) :] if api_key.startswith(prefix) else ""
        if rest and len(rest) >= 8 and rest != "invalid" and re.fullmatch(r"[A-Za-z0-9_]+", rest):
            return "acct_" + hashlib.sha256(rest.encode()).hexdigest()[:16]
    return None


def _authenticate(request: HttpRequest, *, publishable: bool) -> str | SimReply:
    header = request.headers.get("Authorization", "")
    if not header.startswith("Bearer ") or not header[7:].strip():
        return _error(
            401,
            "invalid_request_error",
            "You did not provide an API key. You need to provide your API key in the Authorization header, "
            "using Bearer auth (e.g. 'Authorization: Bearer YOUR_SECRET_KEY').",
            store=False,
        )
    key = header[7:].strip()
    account = account_of(key, publishable=publishable)
    if account is None:
        shown = key[:8] + "*" * max(len(key) - 12, 0) + key[-4:] if len(key) > 12 else key[:4] + "****"
        return _error(
            401,
            "invalid_request_error",
            f"Invalid API Key provided: {shown}",
            code="api_key_invalid" if not key.startswith("pk_") else "secret_key_required",
            store=False,
        )
    return account


def _response(reply: SimReply, *, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status, content_type="application/json")
    for name, value in reply.headers.items():
        response[name] = value
    response["Stripe-Version"] = API_VERSION
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _fault_reply(fault: SimFault) -> HttpResponse | None:
    if fault.kind == SimFault.Kind.ERROR_500:
        return _response(_error(500, "api_error", "An unknown error occurred", store=False))
    if fault.kind == SimFault.Kind.ERROR_503:
        return _response(_error(503, "api_error", "Stripe is temporarily unavailable.", store=False))
    if fault.kind == SimFault.Kind.MALFORMED:
        return HttpResponse("<html><body>Bad gateway</body></html>", status=200, content_type="text/html")
    return None


Handler = Callable[..., SimReply]


def api(operation: str, *, methods: tuple[str, ...] = ("POST",), publishable: bool = False) -> Callable:
    """Wrap a handler as a Stripe endpoint: auth, faults, idempotency, then the handler in a transaction."""

    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @sandbox_view
        @require_http_methods([*methods, "OPTIONS"])
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method == "OPTIONS":  # the tokenization script may run on another origin
                return _cors(HttpResponse(status=204))
            account = _authenticate(request, publishable=publishable)
            if isinstance(account, SimReply):
                return _cors(_response(account)) if publishable else _response(account)
            fault = sim_fault_take(PROVIDER, operation)
            if fault is not None and (faulty := _fault_reply(fault)) is not None:
                return faulty
            if request.method == "GET":
                params = parse_form([(k, str(v)) for k, v in request.GET.items()])
            else:
                params = parse_form(parse_qsl(request.body.decode(), keep_blank_values=True))
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            ctx = Ctx(account=account, idempotency_key=key, request=request)

            def execute() -> SimReply:
                with transaction.atomic():
                    return handler(ctx, params, **kwargs)

            if key:
                if len(key) > 255:
                    return _response(_invalid("Idempotency-Key is too long (255 characters at most).", store=False))
                request_hash = hashlib.sha256(json.dumps([request.path, params], sort_keys=True).encode()).hexdigest()
                outcome = sim_idempotent(
                    provider=PROVIDER,
                    account=account,
                    key=key,
                    request_hash=request_hash,
                    ttl=KEY_TTL,
                    execute=execute,
                )
                if not isinstance(outcome, tuple):
                    if outcome.reason == "in_flight":
                        return _response(
                            _error(
                                409,
                                "idempotency_error",
                                "There is currently another in-progress request using this Idempotent Key (that "
                                "probably means you submitted twice, and the other request is still going through): "
                                f"{key}. Please try again later.",
                                store=False,
                            )
                        )
                    return _response(
                        _error(
                            400,
                            "idempotency_error",
                            "Keys for idempotent requests can only be used with the same parameters they were first "
                            f"used with. Try using a key other than '{key}' if you meant to execute a different "
                            "request.",
                            store=False,
                        )
                    )
                reply, replayed = outcome
            else:
                reply, replayed = execute(), False
            sim_hold_back(fault)
            response = _response(reply, replayed=replayed)
            return _cors(response) if publishable else response

        return view

    return decorate


def _cors(response: HttpResponse) -> HttpResponse:
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Headers"] = "Authorization, Content-Type, Idempotency-Key"
    response["Access-Control-Allow-Methods"] = "POST, GET, OPTIONS"
    return response


# --- payment methods ----------------------------------------------------------------------------------------


def _card_object(pm_id: str, number: str, exp_month: int, exp_year: int, created: int) -> dict[str, Any]:
    brand, behaviour = CARDS.get(number, (_brand(number), "success"))
    return {
        "id": pm_id,
        "object": "payment_method",
        "type": "card",
        "billing_details": {"address": None, "email": None, "name": None, "phone": None},
        "card": {
            "brand": brand,
            "country": "US",
            "exp_month": exp_month,
            "exp_year": exp_year,
            "fingerprint": hashlib.sha256(number.encode()).hexdigest()[:16],
            "funding": "credit",
            "last4": number[-4:],
            "checks": {"cvc_check": "unchecked"},
        },
        "created": created,
        "customer": None,
        "livemode": False,
        "metadata": {},
        "_behavior": behaviour,
    }


def _payment_method(pm_id: str) -> dict[str, Any] | None:
    if pm_id in TEST_PAYMENT_METHODS:
        return _card_object(pm_id, TEST_PAYMENT_METHODS[pm_id], 12, 2034, 1_700_000_000)
    obj = sim_get(PROVIDER, "payment_method", pm_id)
    return dict(obj.data) if obj else None


@api("payment_method", publishable=True)
def payment_methods_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    """`POST /v1/payment_methods` with `type=card` and `card[number|exp_month|exp_year|cvc]` (Stripe.js does this)."""
    if params.get("type") != "card":
        return _invalid("Only type=card is supported by this sandbox.", param="type", store=False)
    card: dict[str, Any] = params["card"] if isinstance(params.get("card"), dict) else {}
    number = re.sub(r"[\s-]", "", str(card.get("number", "")))
    exp_month, exp_year = _as_int(card.get("exp_month")), _as_int(card.get("exp_year"))
    cvc = str(card.get("cvc", ""))

    def card_error(code: str, message: str, param: str) -> SimReply:
        return _error(402, "card_error", message, code=code, param=f"card[{param}]")

    if not luhn_valid(number):
        return card_error("incorrect_number", "Your card number is incorrect.", "number")
    if exp_month is None or not 1 <= exp_month <= 12:
        return card_error("invalid_expiry_month", "Your card's expiration month is invalid.", "exp_month")
    if exp_year is not None and exp_year < 100:
        exp_year += 2000
    now = sim_timestamp(PROVIDER)
    from datetime import UTC, datetime  # noqa: PLC0415 - only here

    today = datetime.fromtimestamp(now, tz=UTC)
    if exp_year is None or (exp_year, exp_month) < (today.year, today.month):
        return card_error("invalid_expiry_year", "Your card's expiration year is invalid.", "exp_year")
    if cvc and not re.fullmatch(r"\d{3,4}", cvc):
        return card_error("invalid_cvc", "Your card's security code is invalid.", "cvc")
    pm_id = sim_id("pm")
    obj = _card_object(pm_id, number, exp_month, exp_year, now)
    sim_put(PROVIDER, "payment_method", pm_id, obj)  # shared: any account may use a tokenized card
    return _reply(200, _public(obj))


@api("retrieve", methods=("GET",), publishable=True)
def payment_methods_retrieve(ctx: Ctx, params: dict[str, Any], pm_id: str) -> SimReply:
    obj = _payment_method(pm_id)
    return _reply(200, _public(obj)) if obj else _missing("payment_method", pm_id)


# --- payment intents ---------------------------------------------------------------------------------------


def _load(kind: str, object_id: str, account: str) -> dict[str, Any] | None:
    obj = sim_get(PROVIDER, kind, object_id, lock=True)
    if obj is None or obj.account != account:
        return None
    return dict(obj.data)


def _save(kind: str, data: dict[str, Any], account: str) -> None:
    sim_put(PROVIDER, kind, data["id"], data, account=account)


def _check_amount(amount: int | None, currency: str, param: str = "amount") -> SimReply | None:
    if amount is None:
        return _invalid(f"Missing required param: {param}.", code="parameter_missing", param=param)
    if amount < 1:
        return _invalid("This value must be greater than or equal to 1.", code="parameter_invalid_integer", param=param)
    if currency in THREE_DECIMAL and amount % 10:
        return _invalid(
            f"Amounts in {currency.upper()} must be a multiple of 10 minor units (the last of the three decimals "
            "must be 0).",
            code="invalid_amount",
            param=param,
        )
    if amount < MINIMUM.get(currency, 1):
        return _invalid(
            f"Amount must be at least {MINIMUM[currency]} {currency} minor units.", code="amount_too_small", param=param
        )
    if amount > 99_999_999:
        return _invalid("Amount must be no more than 999,999.99.", code="amount_too_large", param=param)
    return None


def _unexpected_state(pi: Mapping[str, Any], verb: str, allowed: tuple[str, ...]) -> SimReply:
    return _error(
        400,
        "invalid_request_error",
        f"This PaymentIntent could not be {verb} because it has a status of {pi['status']}. Only a PaymentIntent "
        f"with one of the following statuses may be {verb}: {', '.join(allowed)}.",
        code="payment_intent_unexpected_state",
        payment_intent=_public(pi),
    )


@api("create")
def payment_intents_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    currency = str(params.get("currency", "")).lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        return _invalid("Missing required param: currency.", code="parameter_missing", param="currency", store=False)
    amount = _as_int(params.get("amount"))
    if (problem := _check_amount(amount, currency)) is not None:
        return problem
    capture_method = params.get("capture_method", "automatic")
    if capture_method not in ("automatic", "automatic_async", "manual"):
        return _invalid(f"Invalid capture_method: {capture_method}", param="capture_method")
    pi_id = sim_id("pi")
    pi: dict[str, Any] = {
        "id": pi_id,
        "object": "payment_intent",
        "amount": amount,
        "amount_capturable": 0,
        "amount_received": 0,
        "capture_method": capture_method,
        "client_secret": f"{pi_id}_secret_{secrets.token_hex(12)}",
        "confirmation_method": "automatic",
        "created": sim_timestamp(PROVIDER),
        "currency": currency,
        "customer": None,
        "description": params.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": params.get("metadata") if isinstance(params.get("metadata"), dict) else {},
        "next_action": None,
        "payment_method": None,
        "payment_method_types": ["card"],
        "status": "requires_payment_method",
        "canceled_at": None,
        "cancellation_reason": None,
        "_return_url": params.get("return_url") or "",
    }
    if params.get("payment_method"):
        if _payment_method(params["payment_method"]) is None:
            return _missing("payment_method", params["payment_method"])
        pi["payment_method"] = params["payment_method"]
        pi["status"] = "requires_confirmation"
    if _as_bool(params.get("confirm")):
        if not pi["payment_method"]:
            return _invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
            )
        return _confirm(ctx, pi)
    _save("payment_intent", pi, ctx.account)
    return _reply(200, _public(pi))


@api("confirm")
def payment_intents_confirm(ctx: Ctx, params: dict[str, Any], pi_id: str) -> SimReply:
    pi = _load("payment_intent", pi_id, ctx.account)
    if pi is None:
        return _missing("payment_intent", pi_id)
    if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
        return _unexpected_state(pi, "confirmed", ("requires_payment_method", "requires_confirmation"))
    if params.get("payment_method"):
        if _payment_method(params["payment_method"]) is None:
            return _missing("payment_method", params["payment_method"])
        pi["payment_method"] = params["payment_method"]
    if params.get("return_url"):
        pi["_return_url"] = params["return_url"]
    if not pi["payment_method"]:
        return _invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    return _confirm(ctx, pi)


def _confirm(ctx: Ctx, pi: dict[str, Any]) -> SimReply:
    behaviour = (_payment_method(pi["payment_method"]) or {}).get("_behavior", "success")
    pi["last_payment_error"] = None
    if behaviour == "authentication_required":
        pi["status"] = "requires_action"
        query = urlencode({"client_secret": pi["client_secret"]})
        pi["next_action"] = {
            "type": "redirect_to_url",
            "redirect_to_url": {
                "url": ctx.absolute(reverse("stripe-sandbox-3ds", args=[pi["id"]])) + "?" + query,
                "return_url": pi["_return_url"] or None,
            },
        }
        _save("payment_intent", pi, ctx.account)
        _emit(ctx, "payment_intent.requires_action", pi)
        return _reply(200, _public(pi))
    if behaviour in DECLINES:
        return _decline(ctx, pi, DECLINES[behaviour])
    _approve(ctx, pi)
    return _reply(200, _public(pi))


def _new_charge(ctx: Ctx, pi: Mapping[str, Any], *, paid: bool, captured: bool, failure: tuple | None) -> dict:
    charge = {
        "id": sim_id("ch"),
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": pi["amount"] if captured else 0,
        "amount_refunded": 0,
        "captured": captured,
        "created": sim_timestamp(PROVIDER),
        "currency": pi["currency"],
        "failure_code": failure[0] if failure else None,
        "failure_message": failure[2] if failure else None,
        "livemode": False,
        "metadata": dict(pi.get("metadata") or {}),
        "outcome": {"type": "authorized" if paid else "issuer_declined", "seller_message": "Payment complete."}
        if paid
        else {"type": "issuer_declined", "reason": failure[1] if failure else None},
        "paid": paid,
        "payment_intent": pi["id"],
        "payment_method": pi["payment_method"],
        "refunded": False,
        "refunds": {"object": "list", "data": [], "has_more": False, "total_count": 0, "url": ""},
        "status": "succeeded" if paid else "failed",
    }
    charge["refunds"]["url"] = f"/v1/charges/{charge['id']}/refunds"
    _save("charge", charge, ctx.account)
    return charge


def _approve(ctx: Ctx, pi: dict[str, Any]) -> None:
    manual = pi["capture_method"] == "manual"
    charge = _new_charge(ctx, pi, paid=True, captured=not manual, failure=None)
    pi.update(latest_charge=charge["id"], next_action=None)
    if manual:
        pi.update(status="requires_capture", amount_capturable=pi["amount"])
        _save("payment_intent", pi, ctx.account)
        _emit(ctx, "payment_intent.amount_capturable_updated", pi)
    else:
        pi.update(status="succeeded", amount_received=pi["amount"])
        _save("payment_intent", pi, ctx.account)
        _emit(ctx, "payment_intent.succeeded", pi)


def _decline(ctx: Ctx, pi: dict[str, Any], failure: tuple[str, str | None, str]) -> SimReply:
    code, decline_code, message = failure
    charge = _new_charge(ctx, pi, paid=False, captured=False, failure=failure)
    error: dict[str, Any] = {
        "type": "card_error" if code != AUTHENTICATION_FAILED[0] else "invalid_request_error",
        "code": code,
        "message": message,
        "charge": charge["id"],
        "doc_url": f"https://stripe.com/docs/error-codes/{code.replace('_', '-')}",
    }
    if decline_code:
        error["decline_code"] = decline_code
    pi.update(
        status="requires_payment_method",
        latest_charge=charge["id"],
        next_action=None,
        last_payment_error={**error, "payment_method": _public(_payment_method(pi["payment_method"]) or {})},
    )
    _save("payment_intent", pi, ctx.account)
    _emit(ctx, "payment_intent.payment_failed", pi)
    extra = {k: v for k, v in error.items() if k not in ("type", "code", "message", "decline_code", "doc_url")}
    return _error(
        402, error["type"], message, code=code, decline_code=decline_code, payment_intent=_public(pi), **extra
    )


@api("retrieve", methods=("GET",))
def payment_intents_retrieve(ctx: Ctx, params: dict[str, Any], pi_id: str) -> SimReply:
    pi = _load("payment_intent", pi_id, ctx.account)
    return _reply(200, _public(pi)) if pi else _missing("payment_intent", pi_id)


@api("capture")
def payment_intents_capture(ctx: Ctx, params: dict[str, Any], pi_id: str) -> SimReply:
    pi = _load("payment_intent", pi_id, ctx.account)
    if pi is None:
        return _missing("payment_intent", pi_id)
    if pi["status"] != "requires_capture":
        return _unexpected_state(pi, "captured", ("requires_capture",))
    amount = pi["amount_capturable"]
    if "amount_to_capture" in params:
        amount = _as_int(params["amount_to_capture"])
        if (problem := _check_amount(amount, pi["currency"], "amount_to_capture")) is not None:
            return problem
        if amount > pi["amount_capturable"]:
            return _invalid(
                f"The amount_to_capture ({amount}) cannot be greater than the amount_capturable "
                f"({pi['amount_capturable']}) of this PaymentIntent.",
                code="amount_too_large",
                param="amount_to_capture",
            )
    charge = _load("charge", pi["latest_charge"], ctx.account) or {}
    charge.update(captured=True, amount_captured=amount)
    _save("charge", charge, ctx.account)
    pi.update(status="succeeded", amount_received=amount, amount_capturable=0)  # the rest is released
    _save("payment_intent", pi, ctx.account)
    _emit(ctx, "payment_intent.succeeded", pi)
    return _reply(200, _public(pi))


@api("cancel")
def payment_intents_cancel(ctx: Ctx, params: dict[str, Any], pi_id: str) -> SimReply:
    pi = _load("payment_intent", pi_id, ctx.account)
    if pi is None:
        return _missing("payment_intent", pi_id)
    reason = params.get("cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        return _invalid(
            f"Invalid cancellation_reason: must be one of {', '.join(CANCELLATION_REASONS)}",
            param="cancellation_reason",
        )
    if pi["status"] not in CANCELABLE:
        return _unexpected_state(pi, "canceled", CANCELABLE)
    pi.update(
        status="canceled",
        cancellation_reason=reason,
        canceled_at=sim_timestamp(PROVIDER),
        amount_capturable=0,
        next_action=None,
    )
    _save("payment_intent", pi, ctx.account)
    _emit(ctx, "payment_intent.canceled", pi)
    return _reply(200, _public(pi))


# --- refunds -------------------------------------------------------------------------------------------------


@api("refund")
def refunds_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    if params.get("charge"):
        charge = _load("charge", params["charge"], ctx.account)
        if charge is None:
            return _missing("charge", params["charge"])
        pi = _load("payment_intent", charge["payment_intent"], ctx.account)
    elif params.get("payment_intent"):
        pi = _load("payment_intent", params["payment_intent"], ctx.account)
        if pi is None:
            return _missing("payment_intent", params["payment_intent"])
        charge = _load("charge", pi["latest_charge"], ctx.account) if pi["latest_charge"] else None
    else:
        return _invalid("One of the following params should be provided for this request: payment_intent or charge.")
    if pi is None or pi["status"] != "succeeded" or charge is None or not charge.get("captured"):
        return _invalid(
            "This PaymentIntent does not have a successful, captured charge to refund"
            + (f" (its status is {pi['status']})" if pi else "")
            + ". An uncaptured PaymentIntent must be canceled instead.",
            code="charge_not_refundable" if pi and pi["status"] != "requires_capture" else "charge_not_captured",
        )
    reason = params.get("reason")
    if reason is not None and reason not in REFUND_REASONS:
        return _invalid(f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason")
    remaining = charge["amount_captured"] - charge["amount_refunded"]
    if remaining <= 0:
        return _invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
    amount = remaining
    if "amount" in params:
        amount = _as_int(params["amount"])
        if amount is None or amount < 1:
            return _invalid("Invalid positive integer", code="parameter_invalid_integer", param="amount")
        if amount > remaining:
            return _invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                code="amount_too_large",
                param="amount",
            )
    refund = {
        "id": sim_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": sim_id("txn"),
        "charge": charge["id"],
        "created": sim_timestamp(PROVIDER),
        "currency": charge["currency"],
        "metadata": params.get("metadata") if isinstance(params.get("metadata"), dict) else {},
        "payment_intent": pi["id"],
        "reason": reason,
        "status": "succeeded",
    }
    _save("refund", refund, ctx.account)
    previous = charge["amount_refunded"]
    charge["amount_refunded"] = previous + amount
    charge["refunded"] = charge["amount_refunded"] >= charge["amount_captured"]
    refunds = charge["refunds"]
    refunds["data"] = [refund, *refunds["data"]]
    refunds["total_count"] = len(refunds["data"])
    _save("charge", charge, ctx.account)
    _emit(ctx, "charge.refunded", charge, previous={"amount_refunded": previous, "refunded": False})
    return _reply(200, refund)


@api("retrieve", methods=("GET",))
def refunds_list(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    """`GET /v1/refunds?payment_intent=…` (or `charge=…`), newest first."""
    rows = [o.data for o in sim_list(PROVIDER, "refund", account=ctx.account)]
    for name in ("payment_intent", "charge"):
        if params.get(name):
            rows = [r for r in rows if r.get(name) == params[name]]
    rows.sort(key=lambda r: r["created"])
    rows.reverse()  # newest first; objects made in the same second keep their order
    return _reply(200, {"object": "list", "data": rows, "has_more": False, "url": "/v1/refunds"})


@api("retrieve", methods=("GET",))
def refunds_retrieve(ctx: Ctx, params: dict[str, Any], re_id: str) -> SimReply:
    refund = _load("refund", re_id, ctx.account)
    return _reply(200, refund) if refund else _missing("refund", re_id)


@api("retrieve", methods=("GET",))
def charges_retrieve(ctx: Ctx, params: dict[str, Any], ch_id: str) -> SimReply:
    charge = _load("charge", ch_id, ctx.account)
    return _reply(200, _public(charge)) if charge else _missing("charge", ch_id)


# --- webhooks ------------------------------------------------------------------------------------------------


def sign(body: str, secret: str, now: int) -> dict[str, str]:
    """The `Stripe-Signature` header: HMAC-SHA256 over `t.body` with the endpoint secret (providers.md §1.7)."""
    signature = hmac.new(secret.encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={now},v1={signature}"}


def webhook_endpoint_register(
    *, secret_key: str, url: str, secret: str = "", enabled_events: tuple[str, ...] = ("*",)
) -> dict[str, Any]:
    """Register (or update, by URL) where an account's events go; for seeds and tests. Returns the endpoint."""
    account = account_of(secret_key)
    if account is None:
        raise ValueError("not a valid sandbox secret key")
    return _register(account, url=url, secret=secret, enabled_events=enabled_events)


def _register(account: str, *, url: str, secret: str, enabled_events: tuple[str, ...]) -> dict[str, Any]:
    for existing in sim_list(PROVIDER, "webhook_endpoint", account=account):
        if existing.data["url"] == url:
            data = {
                **existing.data,
                "secret": secret or existing.data["secret"],
                "enabled_events": list(enabled_events),
            }
            _save("webhook_endpoint", data, account)
            return data
    data = {
        "id": sim_id("we"),
        "object": "webhook_endpoint",
        "api_version": API_VERSION,
        "created": sim_timestamp(PROVIDER),
        "enabled_events": list(enabled_events),
        "livemode": False,
        "secret": secret or f"whsec_{secrets.token_hex(16)}",
        "status": "enabled",
        "url": url,
    }
    _save("webhook_endpoint", data, account)
    return data


@api("webhook_endpoint")
def webhook_endpoints_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    if not params.get("url"):
        return _invalid("Missing required param: url.", code="parameter_missing", param="url")
    events = params.get("enabled_events") or ["*"]
    endpoint = _register(ctx.account, url=params["url"], secret="", enabled_events=tuple(events))
    return _reply(200, endpoint)


def _emit(
    ctx: Ctx | None, type_: str, obj: Mapping[str, Any], *, account: str = "", previous: dict | None = None
) -> dict:
    """Record an event and send it to the account's endpoints that want it."""
    account = ctx.account if ctx else account
    event: dict[str, Any] = {
        "id": sim_id("evt"),
        "object": "event",
        "api_version": API_VERSION,
        "created": sim_timestamp(PROVIDER),
        "data": {"object": _public(obj)},
        "livemode": False,
        "pending_webhooks": 0,
        "request": {
            "id": sim_id("req") if ctx and ctx.idempotency_key is not None else None,
            "idempotency_key": ctx.idempotency_key if ctx else None,
        },
        "type": type_,
    }
    if previous:
        event["data"]["previous_attributes"] = previous
    endpoints = [
        e.data
        for e in sim_list(PROVIDER, "webhook_endpoint", account=account)
        if e.data.get("status") == "enabled" and ({"*", type_} & set(e.data.get("enabled_events", [])))
    ]
    event["pending_webhooks"] = len(endpoints)
    _save("event", event, account)
    body = json.dumps(event, indent=2)
    for endpoint in endpoints:
        sim_webhook_send(
            provider=PROVIDER,
            event_id=event["id"],
            url=endpoint["url"],
            body=body,
            signer="providers.stripe.sandbox.sign",
            secret=endpoint["secret"],
        )
    return event


# --- the browser side: tokenization script and 3-D Secure page -------------------------------------------------


@sandbox_view
@require_http_methods(["GET"])
def stripe_js(request: HttpRequest) -> HttpResponse:
    """A stand-in for `https://js.stripe.com/v3/`: card fields whose number goes to this sandbox, never to the shop."""
    api_base = request.build_absolute_uri(reverse("stripe-sandbox-root")).rstrip("/")
    body = render_to_string("stripe/sandbox_v3.js", {"api_base": api_base})
    response = HttpResponse(body, content_type="application/javascript")
    response["Access-Control-Allow-Origin"] = "*"
    return response


@sandbox_view
@require_http_methods(["GET", "POST"])
def three_d_secure(request: HttpRequest, pi_id: str) -> HttpResponse:
    """The issuer's challenge: Complete or Fail, then back to the shop's `return_url` as Stripe redirects."""
    obj = sim_get(PROVIDER, "payment_intent", pi_id)
    secret = request.GET.get("client_secret", "")
    if obj is None or not hmac.compare_digest(secret, obj.data["client_secret"]):
        return HttpResponse("Unknown payment", status=404, content_type="text/plain")
    if request.method == "GET":
        pi = obj.data
        amount = pi["amount"] / 10 ** (
            0 if pi["currency"] in ZERO_DECIMAL else 3 if pi["currency"] in THREE_DECIMAL else 2
        )
        context = {
            "pi": _public(pi),
            "amount": amount,
            "currency": pi["currency"].upper(),
            "pending": pi["status"] == "requires_action",
        }
        return HttpResponse(render_to_string("stripe/sandbox_3ds.html", context, request=request))
    with transaction.atomic():
        pi = _load("payment_intent", pi_id, obj.account)
        if pi is not None and pi["status"] == "requires_action":
            ctx = Ctx(account=obj.account, idempotency_key=None, request=request)
            if request.POST.get("outcome") == "complete":
                _approve(ctx, pi)
            else:
                _decline(ctx, pi, AUTHENTICATION_FAILED)
    pi = obj.data if (obj := sim_get(PROVIDER, "payment_intent", pi_id)) else {}
    status = "succeeded" if pi["status"] in ("succeeded", "requires_capture") else "failed"
    if not pi.get("_return_url"):
        return HttpResponse(f"Authentication {status}. You may close this window.", content_type="text/plain")
    query = urlencode(
        {"payment_intent": pi_id, "payment_intent_client_secret": pi["client_secret"], "redirect_status": status}
    )
    separator = "&" if "?" in pi["_return_url"] else "?"
    return HttpResponseRedirect(f"{pi['_return_url']}{separator}{query}")


# --- admin hooks ---------------------------------------------------------------------------------------------


@sandbox_view
@require_http_methods(["POST"])
def sim_webhook_endpoint(request: HttpRequest) -> HttpResponse:
    """POST secret_key, url, secret: where the account's events go (what the dashboard would set up)."""
    try:
        endpoint = webhook_endpoint_register(
            secret_key=request.POST.get("secret_key", ""),
            url=request.POST.get("url", ""),
            secret=request.POST.get("secret", ""),
        )
    except ValueError as exc:
        return HttpResponse(json.dumps({"error": str(exc)}), status=400, content_type="application/json")
    return HttpResponse(
        json.dumps({k: v for k, v in endpoint.items() if k != "secret"}), content_type="application/json"
    )


@sandbox_view
@require_http_methods(["POST"])
def sim_emit_webhook(request: HttpRequest) -> HttpResponse:
    """POST event_id: send a stored event again to the account's endpoints (a redelivery)."""
    obj = sim_get(PROVIDER, "event", request.POST.get("event_id", ""))
    if obj is None:
        return HttpResponse(json.dumps({"error": "no such event"}), status=404, content_type="application/json")
    with transaction.atomic():
        redeliver(obj.data["id"])
    return HttpResponse(json.dumps({"sent": obj.data["id"]}), content_type="application/json")


def redeliver(event_id: str) -> None:
    obj = sim_get(PROVIDER, "event", event_id)
    if obj is None:
        raise LookupError(event_id)
    body = json.dumps(obj.data, indent=2)
    for endpoint in sim_list(PROVIDER, "webhook_endpoint", account=obj.account):
        sim_webhook_send(
            provider=PROVIDER,
            event_id=event_id,
            url=endpoint.data["url"],
            body=body,
            signer="providers.stripe.sandbox.sign",
            secret=endpoint.data["secret"],
        )


@sandbox_view
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    reply = _error(
        404, "invalid_request_error", f"Unrecognized request URL ({request.method}: /v1/{rest}).", store=False
    )
    return _response(reply)


@csrf_exempt
def refunds_list_or_create(request: HttpRequest) -> HttpResponse:
    """`/v1/refunds`: GET lists, POST creates (one address, two endpoints)."""
    if request.method == "GET":
        return refunds_list(request)
    return refunds_create(request)
