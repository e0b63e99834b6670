"""The Stripe sandbox: a stateful simulator of the parts of Stripe's v1 API the adapter uses.

Served under `/sandbox/stripe/` (see `urls.py`) when `settings.SANDBOX_ENABLED`. It speaks the real wire format, so
the official SDK runs against it unchanged (only the base address differs):

* form-encoded bodies with bracket notation (`metadata[order]=…`, `expand[0]=…`), JSON replies, Stripe's error
  bodies and HTTP codes (400, 401, 402 for card errors, 404, 409, 5xx);
* API versions (`versions.py`): each request is played in its `Stripe-Version` (or the account's default,
  `__sim/account`), each event is rendered in the version of the endpoint that receives it; a version Stripe does
  not know is a 400, and what a version removed is refused as Stripe refuses it (`payment_method_types` from
  endive on: `payment_method_types_no_longer_supported`);
* strict mode (`SANDBOX_STRICT`, on by default): a parameter this sandbox does not model is refused with
  Stripe's `parameter_unknown`, so nothing the adapter sends is silently ignored;
* bearer secret keys: any `sk_test_…` / `rk_test_…` key of at least 8 characters after the prefix is a valid
  account, `sk_test_invalid` (and anything else) gets 401. The account is derived from the part after the prefix,
  so `pk_test_X` and `sk_test_X` belong together; objects and keys are scoped per account;
* PaymentIntents (create, confirm, capture with `amount_to_capture` releasing the rest, cancel with
  `cancellation_reason`, retrieve, list by `created` and `customer`), refunds (partial, repeated, refusing more than
  is left; list with paging), Charges (retrieve honouring `expand[]=refunds` in every version, and a path that
  cannot be expanded refused as Stripe does; their `refunds` list paged at `/v1/charges/{id}/refunds`),
  Customers, and PaymentMethods made by the tokenization script (`/sandbox/stripe/js/v3.js`, with a publishable
  key) or named by the `pm_card_*` test ids (each use makes a new PaymentMethod, as at Stripe);
* reuse rules: a PaymentMethod used without being attached to a Customer cannot be used again (Stripe's 400), and
  one attached to a Customer is refused for another Customer or without one;
  `customer` with `setup_future_usage` attaches it once the payment succeeds, so it can be charged off session;
  off session, a card that asks for 3-D Secure is declined with `authentication_required`;
* the test cards of providers.md §1.8 (success, declines, 3-D Secure) and Stripe's own minor units per currency
  (zero-decimal, three-decimal with a last digit of 0, ISK two-decimal in whole krónur), not ISO 4217's;
* idempotency as Stripe defines it: the first reply to a key is stored and replayed (`Idempotent-Replayed: true`),
  the same key with other parameters is a 400 `idempotency_error`, a concurrent duplicate a 409; keys are
  forgotten after 24 hours of simulated time; replies to parameters that fail validation are not stored;
* signed webhooks (`Stripe-Signature: t=…,v1=…`) for `payment_intent.succeeded`, `.canceled`, `.payment_failed`,
  `.amount_capturable_updated`, `.requires_action`, `charge.refunded`, `refund.created` and, for a refund that
  fails, `charge.refund.updated`, `refund.updated` and `refund.failed`, and for the dispute test card
  `charge.dispute.created` and `.funds_withdrawn` (its charge then refuses refunds), each sent to the
  account's endpoints (`POST /v1/webhook_endpoints` with `api_version`, or `webhook_endpoint_register`) whose
  version sends it, rendered in that version, by a Celery task with retries;
* a 3-D Secure challenge page that completes or fails the PaymentIntent and returns to the `return_url`;
* faults from `/sandbox/__sim/fault` (provider=stripe; operations `create`, `confirm`, `capture`, `cancel`,
  `refund`, `retrieve`, `customer`, `payment_method`…), including `sparse`: the call is carried out and the
  answer leaves out every field but `id`, `object` and `status`.

Known simplifications: no `automatic_payment_methods` other than cards, no multicapture (`final_capture` is not
modelled: a capture always releases the rest), refunds succeed at once (but for `pm_card_refundFail`, whose
refunds turn `failed` right after the answer), no Search API.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any
from urllib.parse import parse_qsl, urlencode

from django.db import transaction
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_http_methods

from core.cards import card_brand, luhn_valid
from sandbox.models import SimFault
from sandbox.pipeline import (
    Delivery,
    Idempotency,
    cors,
    fault_response,
    serve,
    sim_account_id,
    webhook_endpoint_save,
    webhooks_send,
)
from sandbox.services import (
    KeyConflict,
    SimReply,
    sim_get,
    sim_id,
    sim_list,
    sim_load,
    sim_put,
    sim_strict,
    sim_timestamp,
)
from sandbox.stripe.versions import (
    LATEST,
    ApiVersion,
    public,
    receives,
    render_charge,
    render_payment_intent,
    render_refund,
    version_of,
    visible_refunds,
)
from sandbox.views import sandbox_view

PROVIDER = "stripe"
KEY_TTL = timedelta(hours=24)

# --- Stripe's minor units (docs.stripe.com/currencies), which are not ISO 4217's --------------------------------

#: "zero-decimal currencies": amounts in whole units
ZERO_DECIMAL = frozenset(
    {"bif", "clp", "djf", "gnf", "jpy", "kmf", "krw", "mga", "pyg", "rwf", "ugx", "vnd", "vuv", "xaf", "xof", "xpf"}
)
#: three-decimal currencies: the last of the three digits must be 0
THREE_DECIMAL = frozenset({"bhd", "jod", "kwd", "omr", "tnd"})
#: "special cases": two decimals on the wire, but only whole units (ISK since April 2023)
WHOLE_UNITS_ONLY = frozenset({"isk"})
#: minimum charge amounts, in Stripe's minor units
MINIMUM = {
    "usd": 50,
    "eur": 50,
    "gbp": 30,
    "chf": 50,
    "cad": 50,
    "aud": 50,
    "jpy": 50,
    "huf": 17500,
}
MAXIMUM = 99_999_999
CANCELABLE = ("requires_payment_method", "requires_capture", "requires_confirmation", "requires_action")
CANCELLATION_REASONS = ("duplicate", "fraudulent", "requested_by_customer", "abandoned")
REFUND_REASONS = ("duplicate", "fraudulent", "requested_by_customer")


def decimals(currency: str) -> int:
    """How many decimals Stripe's `amount` carries for this currency."""
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


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
    "4000000000005126": ("visa", "refund_fail"),  # the charge succeeds; a refund of it fails afterwards
    "4000000000000259": ("visa", "dispute"),  # the charge succeeds, then the buyer's bank disputes it
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
    "pm_card_refundFail": "4000000000005126",
    "pm_card_createDispute": "4000000000000259",
    "pm_card_authenticationRequired": "4000002500003155",
    "pm_card_threeDSecure2Required": "4000000000003220",
}


#: our brand names (core.cards) -> Stripe's `card.brand`
BRANDS = {"american_express": "amex", "diners_club": "diners", "china_union_pay": "unionpay"}


def _brand(number: str) -> str:
    brand = card_brand(number)
    return BRANDS.get(brand, brand)


# --- wire helpers ---------------------------------------------------------------------------------------------


def parse_form(pairs: list[tuple[str, str]]) -> dict[str, Any]:
    """Stripe's form encoding back into nested values: `a[b][c]=v`, indexed lists `l[0]=x` (what the SDKs send)
    and appended ones `l[]=x&l[]=y` (what curl examples send); lists of digits only."""
    root: dict[str, Any] = {}
    appended: dict[str, int] = {}
    for name, value in pairs:
        match = re.fullmatch(r"([^\[\]]+)((?:\[[^\[\]]*\])*)", name)
        if match is None:
            continue
        keys = [match[1], *re.findall(r"\[([^\[\]]*)\]", match[2])]
        if len(keys) > 1 and keys[-1] == "":  # `l[]`: the next index of that list
            prefix = name[:-2]
            keys[-1] = str(appended.get(prefix, 0))
            appended[prefix] = int(keys[-1]) + 1
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


_public = public  # objects as Stripe shows them, without the sandbox's own `_` fields


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


def _no_such(label: str, object_id: str, param: str) -> SimReply:
    """A parameter naming an object the account does not have: a validation error, not stored."""
    return _invalid(f"No such {label}: '{object_id}'", code="resource_missing", param=param, store=False)


def _as_int(value: Any) -> int | None:
    if isinstance(value, str) and re.fullmatch(r"-?\d+", value):
        return int(value)
    return None


def _as_bool(value: Any) -> bool:
    return str(value).lower() == "true"


def _unmodelled(params: Mapping[str, Any], known: frozenset[str]) -> SimReply | None:
    """Strict mode: a parameter this sandbox does not model is refused as Stripe refuses one it does not know."""
    if not sim_strict(PROVIDER):
        return None
    for name in params:
        if name not in known:
            return _invalid(f"Received unknown parameter: {name}", code="parameter_unknown", param=name, store=False)
    return None


@dataclass
class Ctx:
    """One API call: who makes it, in which API version, with which key, from which address."""

    account: str
    idempotency_key: str | None
    request: HttpRequest | None
    version: ApiVersion = field(default_factory=lambda: version_of(LATEST))

    def absolute(self, path: str) -> str:
        return self.request.build_absolute_uri(path) if self.request is not None else path


def account_of(api_key: str, *, publishable: bool = False) -> str | None:
    """The simulated account a key belongs to, or None when the key is not accepted."""
    prefixes = ("sk_test_", "rk_test_") + (("pk_test_",) if publishable else ())
    for prefix in prefixes:
        rest = api_key[len(prefix) :] if api_key.startswith(prefix) else ""
        if rest and len(rest) >= 8 and rest != "invalid" and re.fullmatch(r"[A-Za-z0-9_]+", rest):
            return sim_account_id(rest, prefix="acct_")
    return None


def account_default_version(account: str) -> str:
    """The version of requests without `Stripe-Version` and of endpoints created without one."""
    obj = sim_get(PROVIDER, "account", account)
    return str(obj.data.get("default_api_version") or LATEST) if obj else LATEST


def account_configure(*, secret_key: str, default_api_version: str) -> str:
    """Set an account's default API version (what the dashboard's "Upgrade" changes). Returns the account."""
    account = account_of(secret_key)
    if account is None:
        raise ValueError("not a valid sandbox secret key")
    version_of(default_api_version)  # ValueError for a version Stripe does not know
    sim_put(PROVIDER, "account", account, {"id": account, "default_api_version": default_api_version}, account=account)
    return account


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


def _response(reply: SimReply, *, version: str, replayed: bool = False) -> HttpResponse:
    response = HttpResponse(reply.body, status=reply.status, content_type="application/json")
    for name, value in reply.headers.items():
        response[name] = value
    response["Stripe-Version"] = version
    if replayed:
        response["Idempotent-Replayed"] = "true"
    return response


def _fault_reply(fault: SimFault, version: str) -> HttpResponse | None:
    """Stripe answers its own 5xx in its error format; the rest as every sandbox does."""
    if fault.kind == SimFault.Kind.ERROR_500:
        return _response(_error(500, "api_error", "An unknown error occurred", store=False), version=version)
    if fault.kind == SimFault.Kind.ERROR_503:
        return _response(_error(503, "api_error", "Stripe is temporarily unavailable.", store=False), version=version)
    return fault_response(fault)


def _key_conflict(refusal: KeyConflict, key: str) -> SimReply:
    if refusal.reason == "in_flight":
        return _error(
            409,
            "idempotency_error",
            "There is currently another in-progress request using this Idempotent Key (that probably means you "
            f"submitted twice, and the other request is still going through): {key}. Please try again later.",
            store=False,
        )
    return _error(
        400,
        "idempotency_error",
        "Keys for idempotent requests can only be used with the same parameters they were first used with. Try "
        f"using a key other than '{key}' if you meant to execute a different request.",
        store=False,
    )


def _sparse(reply: SimReply) -> SimReply:
    """The `sparse` fault: the call was carried out, the answer keeps only `id`, `object` and `status`."""
    if reply.status != 200:
        return reply
    body = json.loads(reply.body)
    kept = {k: body[k] for k in ("id", "object", "status") if k in body}
    return SimReply(reply.status, json.dumps(kept), reply.headers, store=False)


Handler = Callable[..., SimReply]


def api(operation: str, *, methods: tuple[str, ...] = ("POST",), publishable: bool = False) -> Callable:
    """Wrap a handler as a Stripe endpoint: auth, API version, faults, idempotency, then the handler in a
    transaction."""

    def decorate(handler: Handler) -> Callable[..., HttpResponse]:
        @sandbox_view
        @require_http_methods([*methods, "OPTIONS"])
        def view(request: HttpRequest, **kwargs: Any) -> HttpResponse:
            if request.method == "OPTIONS":  # the tokenization script may run on another origin
                return _cors(HttpResponse(status=204))
            account = _authenticate(request, publishable=publishable)
            if isinstance(account, SimReply):
                response = _response(account, version=LATEST)
                return _cors(response) if publishable else response
            asked = request.headers.get("Stripe-Version", "").strip()
            try:
                version = version_of(asked or account_default_version(account))
            except ValueError:
                refused = _invalid(f"Invalid Stripe API version: {asked}", param="Stripe-Version", store=False)
                return _response(refused, version=LATEST)
            if request.method in ("GET", "DELETE"):
                params = parse_form([(k, v) for k, values in request.GET.lists() for v in values])
            else:
                params = parse_form(parse_qsl(request.body.decode(), keep_blank_values=True))
            key = request.headers.get("Idempotency-Key") if request.method == "POST" else None
            ctx = Ctx(account=account, idempotency_key=key, request=request, version=version)
            idempotency = None
            if key:
                if len(key) > 255:
                    refused = _invalid("Idempotency-Key is too long (255 characters at most).", store=False)
                    return _response(refused, version=version.raw)
                request_hash = hashlib.sha256(json.dumps([request.path, params], sort_keys=True).encode()).hexdigest()
                idempotency = Idempotency(account=account, key=key, request_hash=request_hash, ttl=KEY_TTL)

            def respond(reply: SimReply, replayed: bool) -> HttpResponse:
                response = _response(reply, version=version.raw, replayed=replayed)
                return _cors(response) if publishable else response

            def conflict(refusal: KeyConflict) -> HttpResponse:
                return _response(_key_conflict(refusal, key or ""), version=version.raw)

            return serve(
                provider=PROVIDER,
                operation=operation,
                execute=lambda: handler(ctx, params, **kwargs),
                respond=respond,
                faults=lambda fault: _fault_reply(fault, version.raw),
                idempotency=idempotency,
                conflict=conflict,
                sparse=_sparse,
            )

        return view

    return decorate


def _cors(response: HttpResponse) -> HttpResponse:
    return cors(
        response, methods="POST, GET, OPTIONS", headers="Authorization, Content-Type, Idempotency-Key, Stripe-Version"
    )


# --- objects ------------------------------------------------------------------------------------------------


def _load(kind: str, object_id: str, account: str) -> dict[str, Any] | None:
    return sim_load(PROVIDER, kind, object_id, account)


def _save(kind: str, data: dict[str, Any], account: str) -> None:
    sim_put(PROVIDER, kind, data["id"], data, account=account)


def _refunds_of(charge: Mapping[str, Any], account: str) -> list[dict[str, Any]]:
    """All refunds of a charge (releases too), newest first as `GET /v1/refunds` lists them (by creation, the
    newer of one second first), so a page of the Charge's own list goes on with `starting_after` there."""
    found = (sim_get(PROVIDER, "refund", rid) for rid in charge.get("_refund_ids", ()))
    refunds = [dict(obj.data) for obj in found if obj is not None and obj.account == account]
    return sorted(refunds, key=lambda r: r["created"], reverse=True)  # stable: `_refund_ids` is newest first


def _charges_of(pi: Mapping[str, Any], account: str) -> list[tuple[dict[str, Any], list[dict[str, Any]]]]:
    found = (sim_get(PROVIDER, "charge", cid) for cid in pi.get("_charge_ids", ()))
    charges = [dict(obj.data) for obj in found if obj is not None and obj.account == account]
    return [(charge, _refunds_of(charge, account)) for charge in charges]


def _show_pi(pi: Mapping[str, Any], account: str, version: ApiVersion) -> dict[str, Any]:
    return render_payment_intent(pi, _charges_of(pi, account), version)


def _show_charge(
    charge: Mapping[str, Any], account: str, version: ApiVersion, *, expand_refunds: bool = False
) -> dict[str, Any]:
    return render_charge(charge, _refunds_of(charge, account), version, expand_refunds=expand_refunds)


# --- payment methods ----------------------------------------------------------------------------------------

PAYMENT_METHOD_PARAMS = frozenset({"type", "card", "billing_details", "metadata"})


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
        "_used": False,  # used once without being attached to a Customer: it cannot be used again
    }


def _payment_method(pm_id: str) -> dict[str, Any] | None:
    """A stored PaymentMethod, or a fresh one for a `pm_card_*` test id (each use makes a new one, as at Stripe)."""
    if pm_id in TEST_PAYMENT_METHODS:
        return _card_object(sim_id("pm"), TEST_PAYMENT_METHODS[pm_id], 12, 2034, sim_timestamp(PROVIDER))
    obj = sim_get(PROVIDER, "payment_method", pm_id)
    return dict(obj.data) if obj else None


def _reuse_refused(pm: Mapping[str, Any], customer: str | None) -> SimReply | None:
    """Stripe's rules for using a PaymentMethod again (docs: save and reuse payment methods): one attached to a
    Customer is that Customer's only, and one used without a Customer is spent."""
    owner = pm.get("customer")
    if owner and customer != owner:
        if customer is None:
            return _invalid(
                f"The provided PaymentMethod {pm['id']} belongs to a Customer. Please include the Customer in the "
                "`customer` parameter on the PaymentIntent.",
                param="customer",
                store=False,
            )
        return _invalid(
            f"The customer does not have a payment method with the ID {pm['id']}. The payment method must be "
            "attached to the customer.",
            param="payment_method",
            store=False,
        )
    if pm.get("_used") and not owner:
        return _invalid(
            "The provided PaymentMethod was previously used with a PaymentIntent without Customer attachment, "
            "shared with a connected account without Customer attachment, or was detached from a Customer. It may "
            "not be used again. To use a PaymentMethod multiple times, you must attach it to a Customer first.",
            param="payment_method",
            store=False,
        )
    return None


@api("payment_method", publishable=True)
def payment_methods_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    """`POST /v1/payment_methods` with `type=card` and `card[number|exp_month|exp_year|cvc]` (Stripe.js does this)."""
    if (refused := _unmodelled(params, PAYMENT_METHOD_PARAMS)) is not None:
        return refused
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


# --- customers ----------------------------------------------------------------------------------------------

CUSTOMER_PARAMS = frozenset({"name", "email", "description", "metadata"})


@api("customer")
def customers_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    if (refused := _unmodelled(params, CUSTOMER_PARAMS)) is not None:
        return refused
    customer: dict[str, Any] = {
        "id": sim_id("cus"),
        "object": "customer",
        "created": sim_timestamp(PROVIDER),
        "description": params.get("description"),
        "email": params.get("email"),
        "livemode": False,
        "metadata": params.get("metadata") if isinstance(params.get("metadata"), dict) else {},
        "name": params.get("name"),
    }
    _save("customer", customer, ctx.account)
    return _reply(200, customer)


@api("retrieve", methods=("GET", "DELETE"))
def customers_retrieve(ctx: Ctx, params: dict[str, Any], cus_id: str) -> SimReply:
    """`GET` a customer; `DELETE` one (as in the dashboard): it can no longer be used for payments."""
    customer = _load("customer", cus_id, ctx.account)
    if customer is None:
        return _missing("customer", cus_id)
    if ctx.request is not None and ctx.request.method == "DELETE" and not customer.get("deleted"):
        customer = {"id": cus_id, "object": "customer", "deleted": True}
        _save("customer", customer, ctx.account)
    return _reply(200, customer)


def _live_customer(customer_id: str, account: str) -> dict[str, Any] | None:
    customer = _load("customer", customer_id, account)
    return None if customer is None or customer.get("deleted") else customer


# --- amounts --------------------------------------------------------------------------------------------------


def _check_amount(amount: int | None, currency: str, param: str = "amount") -> SimReply | None:
    if amount is None:
        return _invalid(f"Missing required param: {param}.", code="parameter_missing", param=param, store=False)
    if amount < 1:
        return _invalid(
            "This value must be greater than or equal to 1.",
            code="parameter_invalid_integer",
            param=param,
            store=False,
        )
    if currency in THREE_DECIMAL and amount % 10:
        return _invalid(
            f"Amounts in {currency.upper()} must be a multiple of 10 minor units (the last of the three decimals "
            "must be 0).",
            code="invalid_amount",
            param=param,
            store=False,
        )
    if currency in WHOLE_UNITS_ONLY and amount % 100:
        return _invalid(
            f"Invalid amount. Currency {currency.upper()} has become effectively zero-decimal and charged amounts "
            "must be evenly divisible by 100. See https://stripe.com/docs/currencies#special-cases for more "
            "information.",
            code="invalid_charge_amount_no_decimal_compatible",
            param=param,
            store=False,
        )
    if amount < MINIMUM.get(currency, 1):
        return _invalid(
            f"Amount must be at least {MINIMUM[currency]} {currency} minor units.",
            code="amount_too_small",
            param=param,
            store=False,
        )
    if amount > MAXIMUM:
        return _invalid("Amount must be no more than 999,999.99.", code="amount_too_large", param=param, store=False)
    return None


# --- payment intents ---------------------------------------------------------------------------------------

CREATE_PARAMS = frozenset(
    {
        "amount",
        "currency",
        "capture_method",
        "confirm",
        "customer",
        "description",
        "metadata",
        "off_session",
        "payment_method",
        "payment_method_types",
        "allowed_payment_method_types",
        "automatic_payment_methods",
        "return_url",
        "setup_future_usage",
    }
)
CONFIRM_PARAMS = frozenset({"payment_method", "return_url", "off_session", "setup_future_usage"})
CAPTURE_PARAMS = frozenset({"amount_to_capture", "metadata"})
CANCEL_PARAMS = frozenset({"cancellation_reason"})
LIST_PARAMS = frozenset({"created", "customer", "limit", "starting_after", "ending_before"})


def _unexpected_state(pi: Mapping[str, Any], verb: str, allowed: tuple[str, ...], ctx: Ctx) -> SimReply:
    return _error(
        400,
        "invalid_request_error",
        f"This PaymentIntent could not be {verb} because it has a status of {pi['status']}. Only a PaymentIntent "
        f"with one of the following statuses may be {verb}: {', '.join(allowed)}.",
        code="payment_intent_unexpected_state",
        payment_intent=_show_pi(pi, ctx.account, ctx.version),
    )


def _method_types(params: Mapping[str, Any], version: ApiVersion) -> tuple[list[str], bool] | SimReply:
    """The payment method types a new PaymentIntent takes, and whether they are dynamic (may redirect), or the
    refusal of the version for what was asked."""
    explicit = params.get("payment_method_types")
    allowed = params.get("allowed_payment_method_types")
    automatic = params.get("automatic_payment_methods")
    if explicit is not None and version.refuses_payment_method_types:
        return _invalid(
            "The `payment_method_types` parameter is no longer supported in this API version. Use dynamic payment "
            "methods, `allowed_payment_method_types` or `excluded_payment_method_types` instead.",
            code="payment_method_types_no_longer_supported",
            param="payment_method_types",
            store=False,
        )
    if allowed is not None and not version.knows_allowed_payment_method_types:
        return _invalid(
            "Received unknown parameter: allowed_payment_method_types",
            code="parameter_unknown",
            param="allowed_payment_method_types",
            store=False,
        )
    given = [
        name
        for name, value in (
            ("allowed_payment_method_types", allowed),
            ("automatic_payment_methods", automatic),
            ("payment_method_types", explicit),
        )
        if value is not None
    ]
    if allowed is not None and len(given) > 1:
        return _invalid(f"You may only specify one of these parameters: {', '.join(given)}.", store=False)
    for name, value in (("payment_method_types", explicit), ("allowed_payment_method_types", allowed)):
        if value is not None:
            if not isinstance(value, list) or not value:
                return _invalid(f"Invalid array: {name}", param=name, store=False)
            if name == "payment_method_types" and "card" not in value:
                return _invalid("This sandbox takes card payment methods only.", param=name, store=False)
            return ["card"], False
    if isinstance(automatic, dict):
        if not _as_bool(automatic.get("enabled")):
            return ["card"], False
        return ["card"], automatic.get("allow_redirects") != "never"
    if version.dynamic_payment_methods_by_default:
        return ["card"], True
    return ["card"], False


@api("create")
def payment_intents_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    if (refused := _unmodelled(params, CREATE_PARAMS)) is not None:
        return refused
    currency = str(params.get("currency", "")).lower()
    if not re.fullmatch(r"[a-z]{3}", currency):
        return _invalid("Missing required param: currency.", code="parameter_missing", param="currency", store=False)
    amount = _as_int(params.get("amount"))
    if (problem := _check_amount(amount, currency)) is not None:
        return problem
    capture_method = params.get("capture_method", "automatic")
    if capture_method not in ("automatic", "automatic_async", "manual"):
        return _invalid(f"Invalid capture_method: {capture_method}", param="capture_method", store=False)
    types = _method_types(params, ctx.version)
    if isinstance(types, SimReply):
        return types
    future = params.get("setup_future_usage")
    if future is not None and future not in ("on_session", "off_session"):
        return _invalid(f"Invalid setup_future_usage: {future}", param="setup_future_usage", store=False)
    customer = params.get("customer") or None
    if customer is not None and _live_customer(customer, ctx.account) is None:
        return _no_such("customer", customer, "customer")
    confirm = _as_bool(params.get("confirm"))
    if params.get("off_session") is not None and not confirm:
        return _invalid("You can only set `off_session` when `confirm` is true.", param="off_session", store=False)
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
        "customer": customer,
        "description": params.get("description"),
        "last_payment_error": None,
        "latest_charge": None,
        "livemode": False,
        "metadata": params.get("metadata") if isinstance(params.get("metadata"), dict) else {},
        "next_action": None,
        "payment_method": None,
        "payment_method_types": types[0],
        "setup_future_usage": future,
        "status": "requires_payment_method",
        "canceled_at": None,
        "cancellation_reason": None,
        "_dynamic": types[1],
        "_return_url": params.get("return_url") or "",
        "_charge_ids": [],
    }
    if params.get("payment_method"):
        pm = _payment_method(params["payment_method"])
        if pm is None:
            return _no_such("PaymentMethod", params["payment_method"], "payment_method")
        pi["payment_method"] = pm["id"]
        pi["status"] = "requires_confirmation"
        if confirm and (refused := _reuse_refused(pm, customer)) is not None:
            return refused
        sim_put(PROVIDER, "payment_method", pm["id"], pm)
    if confirm:
        if not pi["payment_method"]:
            return _invalid(
                "You cannot confirm this PaymentIntent because it's missing a payment method.",
                code="payment_intent_unexpected_state",
                store=False,
            )
        if pi["_dynamic"] and not pi["_return_url"]:
            return _return_url_needed()
        return _confirm(ctx, pi, off_session=_off_session(params))
    _save("payment_intent", pi, ctx.account)
    return _reply(200, _show_pi(pi, ctx.account, ctx.version))


def _return_url_needed() -> SimReply:
    return _invalid(
        "This PaymentIntent is configured to accept payment methods enabled in your Dashboard. Because some of "
        "these payment methods might redirect your customer off of your page, you must provide a `return_url`. If "
        "you don't want to accept redirect-based payment methods, set `automatic_payment_methods[enabled]` to "
        "`true` and `automatic_payment_methods[allow_redirects]` to `never` when creating Setup Intents and "
        "Payment Intents.",
        store=False,
    )


def _off_session(params: Mapping[str, Any]) -> bool:
    value = params.get("off_session")
    return value is not None and str(value).lower() in ("true", "one_off", "recurring")


@api("confirm")
def payment_intents_confirm(ctx: Ctx, params: dict[str, Any], pi_id: str) -> SimReply:
    if (refused := _unmodelled(params, CONFIRM_PARAMS)) is not None:
        return refused
    pi = _load("payment_intent", pi_id, ctx.account)
    if pi is None:
        return _missing("payment_intent", pi_id)
    if pi["status"] not in ("requires_payment_method", "requires_confirmation"):
        return _unexpected_state(pi, "confirmed", ("requires_payment_method", "requires_confirmation"), ctx)
    if params.get("setup_future_usage") in ("on_session", "off_session"):
        pi["setup_future_usage"] = params["setup_future_usage"]
    if params.get("payment_method"):
        pm = _payment_method(params["payment_method"])
        if pm is None:
            return _no_such("PaymentMethod", params["payment_method"], "payment_method")
        sim_put(PROVIDER, "payment_method", pm["id"], pm)
        pi["payment_method"] = pm["id"]
    if params.get("return_url"):
        pi["_return_url"] = params["return_url"]
    if not pi["payment_method"]:
        return _invalid(
            "You cannot confirm this PaymentIntent because it's missing a payment method.",
            code="payment_intent_unexpected_state",
        )
    pm = _payment_method(pi["payment_method"]) or {}
    if (refused := _reuse_refused(pm, pi.get("customer"))) is not None:
        return refused
    if pi.get("_dynamic") and not pi["_return_url"]:
        return _return_url_needed()
    return _confirm(ctx, pi, off_session=_off_session(params))


def _confirm(ctx: Ctx, pi: dict[str, Any], *, off_session: bool = False) -> SimReply:
    behaviour = (_payment_method(pi["payment_method"]) or {}).get("_behavior", "success")
    pi["last_payment_error"] = None
    if behaviour == "authentication_required":
        if off_session:  # nobody can answer the challenge: Stripe declines (docs: off-session payments)
            return _decline(
                ctx,
                pi,
                (
                    "authentication_required",
                    "authentication_required",
                    "Your card was declined. This transaction requires authentication.",
                ),
            )
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
        return _reply(200, _show_pi(pi, ctx.account, ctx.version))
    if behaviour in DECLINES:
        return _decline(ctx, pi, DECLINES[behaviour])
    _approve(ctx, pi)
    return _reply(200, _show_pi(pi, ctx.account, ctx.version))


def _use_payment_method(pi: Mapping[str, Any], *, succeeded: bool) -> None:
    """After a payment attempt: attach the method to the PaymentIntent's Customer when it is to be reused
    (`setup_future_usage`) and the payment succeeded; otherwise it has been used once."""
    obj = sim_get(PROVIDER, "payment_method", pi["payment_method"], lock=True)
    if obj is None:
        return
    pm = dict(obj.data)
    if pm.get("customer"):
        return
    if succeeded and pi.get("customer") and pi.get("setup_future_usage"):
        pm["customer"] = pi["customer"]
    else:
        pm["_used"] = True
    sim_put(PROVIDER, "payment_method", pm["id"], pm, account=obj.account)


def _new_charge(ctx: Ctx, pi: dict[str, Any], *, paid: bool, captured: bool, failure: tuple | None) -> dict:
    charge = {
        "id": sim_id("ch"),
        "object": "charge",
        "amount": pi["amount"],
        "amount_captured": pi["amount"] if captured else 0,
        "amount_refunded": 0,
        "captured": captured,
        "created": sim_timestamp(PROVIDER),
        "currency": pi["currency"],
        "customer": pi.get("customer"),
        "disputed": False,
        "failure_code": failure[0] if failure else None,
        "failure_message": failure[2] if failure else None,
        "livemode": False,
        "metadata": dict(pi.get("metadata") or {}),
        "outcome": {"type": "authorized", "seller_message": "Payment complete."}
        if paid
        else {"type": "issuer_declined", "reason": failure[1] if failure else None},
        "paid": paid,
        "payment_intent": pi["id"],
        "payment_method": pi["payment_method"],
        "refunded": False,
        "status": "succeeded" if paid else "failed",
        "_refund_ids": [],
    }
    _save("charge", charge, ctx.account)
    pi["_charge_ids"] = [charge["id"], *pi.get("_charge_ids", [])]
    return charge


def _approve(ctx: Ctx, pi: dict[str, Any]) -> None:
    manual = pi["capture_method"] == "manual"
    charge = _new_charge(ctx, pi, paid=True, captured=not manual, failure=None)
    pi.update(latest_charge=charge["id"], next_action=None)
    _use_payment_method(pi, succeeded=True)
    if manual:
        pi.update(status="requires_capture", amount_capturable=pi["amount"])
        _save("payment_intent", pi, ctx.account)
        _emit(ctx, "payment_intent.amount_capturable_updated", pi)
    else:
        pi.update(status="succeeded", amount_received=pi["amount"])
        _save("payment_intent", pi, ctx.account)
        _emit(ctx, "payment_intent.succeeded", pi)
        _dispute_if_asked(ctx, pi, charge)


def _decline(ctx: Ctx, pi: dict[str, Any], failure: tuple[str, str | None, str]) -> SimReply:
    code, decline_code, message = failure
    charge = _new_charge(ctx, pi, paid=False, captured=False, failure=failure)
    _use_payment_method(pi, succeeded=False)
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
        402,
        error["type"],
        message,
        code=code,
        decline_code=decline_code,
        payment_intent=_show_pi(pi, ctx.account, ctx.version),
        **extra,
    )


@api("retrieve", methods=("GET",))
def payment_intents_retrieve(ctx: Ctx, params: dict[str, Any], pi_id: str) -> SimReply:
    pi = _load("payment_intent", pi_id, ctx.account)
    return _reply(200, _show_pi(pi, ctx.account, ctx.version)) if pi else _missing("payment_intent", pi_id)


def _page(
    rows: list[dict[str, Any]], params: Mapping[str, Any], url: str, render: Callable[[dict[str, Any]], dict]
) -> SimReply:
    """One page of a newest-first list (`limit` 1–100, default 10; `starting_after` / `ending_before`)."""
    limit = _as_int(params.get("limit", "10"))
    if limit is None or not 1 <= limit <= 100:
        return _invalid("Invalid integer: limit must be between 1 and 100.", param="limit", store=False)
    ids = [row["id"] for row in rows]
    for name in ("starting_after", "ending_before"):
        if params.get(name) and params[name] not in ids:
            return _no_such("object", params[name], name)
    if params.get("starting_after"):
        rows = rows[ids.index(params["starting_after"]) + 1 :]
    elif params.get("ending_before"):
        rows = rows[: ids.index(params["ending_before"])][-limit:]
    page = rows[:limit]
    return _reply(
        200,
        {"object": "list", "data": [render(r) for r in page], "has_more": len(rows) > limit, "url": url},
    )


def _created_filter(value: Any) -> Callable[[int], bool] | SimReply:
    """`created=<ts>` or `created[gte|gt|lte|lt]=<ts>`."""
    if value is None:
        return lambda ts: True
    if isinstance(value, str):
        exact = _as_int(value)
        if exact is None:
            return _invalid("Invalid integer: created", param="created", store=False)
        return lambda ts: ts == exact
    if not isinstance(value, dict):
        return _invalid("Invalid created filter", param="created", store=False)
    bounds: dict[str, int] = {}
    for op, raw in value.items():
        number = _as_int(raw)
        if op not in ("gt", "gte", "lt", "lte") or number is None:
            return _invalid(f"Invalid created[{op}]", param=f"created[{op}]", store=False)
        bounds[op] = number
    checks = {
        "gt": lambda ts, b: ts > b,
        "gte": lambda ts, b: ts >= b,
        "lt": lambda ts, b: ts < b,
        "lte": lambda ts, b: ts <= b,
    }
    return lambda ts: all(checks[op](ts, bound) for op, bound in bounds.items())


def _newest_first(rows: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Newest first; objects made in the same second keep the reverse of the order they were made in."""
    ordered = list(rows)
    ordered.reverse()
    ordered.sort(key=lambda r: r["created"], reverse=True)
    return ordered


@api("retrieve", methods=("GET",))
def payment_intents_list(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    """`GET /v1/payment_intents` (`created`, `customer`, paging), newest first."""
    if (refused := _unmodelled(params, LIST_PARAMS)) is not None:
        return refused
    created = _created_filter(params.get("created"))
    if isinstance(created, SimReply):
        return created
    rows = [o.data for o in sim_list(PROVIDER, "payment_intent", account=ctx.account)]
    rows = [r for r in rows if created(r["created"])]
    if params.get("customer"):
        rows = [r for r in rows if r.get("customer") == params["customer"]]
    return _page(_newest_first(rows), params, "/v1/payment_intents", lambda r: _show_pi(r, ctx.account, ctx.version))


@api("capture")
def payment_intents_capture(ctx: Ctx, params: dict[str, Any], pi_id: str) -> SimReply:
    if (refused := _unmodelled(params, CAPTURE_PARAMS)) is not None:
        return refused
    pi = _load("payment_intent", pi_id, ctx.account)
    if pi is None:
        return _missing("payment_intent", pi_id)
    if pi["status"] != "requires_capture":
        return _unexpected_state(pi, "captured", ("requires_capture",), ctx)
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
    if amount < pi["amount"]:
        _release(ctx, pi, charge, pi["amount"] - amount)
    _dispute_if_asked(ctx, pi, charge)
    return _reply(200, _show_pi(pi, ctx.account, ctx.version))


def _dispute_if_asked(ctx: Ctx, pi: Mapping[str, Any], charge: dict[str, Any]) -> None:
    """Stripe's dispute test card: once the money is taken, the buyer's bank disputes all of it and the amount is
    withdrawn from the balance (`charge.dispute.created`, `charge.dispute.funds_withdrawn`)."""
    if (_payment_method(str(pi.get("payment_method") or "")) or {}).get("_behavior") != "dispute":
        return
    now = sim_timestamp(PROVIDER)
    dispute = {
        "id": sim_id("dp"),
        "object": "dispute",
        "amount": charge["amount_captured"],
        "charge": charge["id"],
        "created": now,
        "currency": charge["currency"],
        "evidence_details": {"due_by": now + 7 * 86400, "has_evidence": False, "past_due": False},
        "is_charge_refundable": False,
        "livemode": False,
        "metadata": {},
        "payment_intent": pi["id"],
        "reason": "fraudulent",
        "status": "needs_response",
    }
    _save("dispute", dispute, ctx.account)
    charge["disputed"] = True
    _save("charge", charge, ctx.account)
    _emit(ctx, "charge.dispute.created", dispute)
    _emit(ctx, "charge.dispute.funds_withdrawn", dispute)


def _new_refund(
    pi: Mapping[str, Any], charge: Mapping[str, Any], amount: int, *, reason: str | None, metadata: dict
) -> dict[str, Any]:
    return {
        "id": sim_id("re"),
        "object": "refund",
        "amount": amount,
        "balance_transaction": sim_id("txn"),
        "charge": charge["id"],
        "created": sim_timestamp(PROVIDER),
        "currency": charge["currency"],
        "metadata": metadata,
        "payment_intent": pi["id"],
        "reason": reason,
        "status": "succeeded",  # card refunds in this sandbox succeed at once
    }


def _release(ctx: Ctx, pi: Mapping[str, Any], charge: dict[str, Any], amount: int) -> None:
    """What a partial capture or a cancel released. Before API 2025-03-31 Stripe showed it as a Refund of the
    charge (with `charge.refunded`, and `refund.created` from 2024-10-28); from basil on there is no such Refund."""
    release = _new_refund(pi, charge, amount, reason=None, metadata={})
    release["_release"] = True
    _save("refund", release, ctx.account)
    charge["_refund_ids"] = [release["id"], *charge.get("_refund_ids", [])]
    _save("charge", charge, ctx.account)
    _emit(ctx, "charge.refunded", charge, audience="releases_are_refunds")
    _emit(ctx, "refund.created", release, audience="release_refund_events")


@api("cancel")
def payment_intents_cancel(ctx: Ctx, params: dict[str, Any], pi_id: str) -> SimReply:
    if (refused := _unmodelled(params, CANCEL_PARAMS)) is not None:
        return refused
    pi = _load("payment_intent", pi_id, ctx.account)
    if pi is None:
        return _missing("payment_intent", pi_id)
    reason = params.get("cancellation_reason")
    if reason is not None and reason not in CANCELLATION_REASONS:
        return _invalid(
            f"Invalid cancellation_reason: must be one of {', '.join(CANCELLATION_REASONS)}",
            param="cancellation_reason",
            store=False,
        )
    if pi["status"] not in CANCELABLE:
        return _unexpected_state(pi, "canceled", CANCELABLE, ctx)
    held = pi["amount_capturable"] if pi["status"] == "requires_capture" else 0
    pi.update(
        status="canceled",
        cancellation_reason=reason,
        canceled_at=sim_timestamp(PROVIDER),
        amount_capturable=0,
        next_action=None,
    )
    _save("payment_intent", pi, ctx.account)
    _emit(ctx, "payment_intent.canceled", pi)
    if held:
        charge = _load("charge", pi["latest_charge"], ctx.account) or {}
        charge["_canceled"] = True
        _release(ctx, pi, charge, held)
    return _reply(200, _show_pi(pi, ctx.account, ctx.version))


# --- refunds and charges --------------------------------------------------------------------------------------

REFUND_PARAMS = frozenset({"payment_intent", "charge", "amount", "reason", "metadata"})
REFUND_LIST_PARAMS = frozenset({"payment_intent", "charge", "limit", "starting_after", "ending_before", "created"})


@api("refund")
def refunds_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    if (refused := _unmodelled(params, REFUND_PARAMS)) is not None:
        return refused
    if params.get("charge"):
        charge = _load("charge", params["charge"], ctx.account)
        if charge is None:
            return _no_such("charge", params["charge"], "charge")
        pi = _load("payment_intent", charge["payment_intent"], ctx.account)
    elif params.get("payment_intent"):
        pi = _load("payment_intent", params["payment_intent"], ctx.account)
        if pi is None:
            return _no_such("payment_intent", params["payment_intent"], "payment_intent")
        charge = _load("charge", pi["latest_charge"], ctx.account) if pi["latest_charge"] else None
    else:
        return _invalid(
            "One of the following params should be provided for this request: payment_intent or charge.",
            store=False,
        )
    if pi is None or pi["status"] != "succeeded" or charge is None or not charge.get("captured"):
        return _invalid(
            "This PaymentIntent does not have a successful, captured charge to refund"
            + (f" (its status is {pi['status']})" if pi else "")
            + ". An uncaptured PaymentIntent must be canceled instead.",
            code="charge_not_refundable" if pi and pi["status"] != "requires_capture" else "charge_not_captured",
        )
    if charge.get("disputed"):
        return _invalid(f"Charge {charge['id']} has been charged back; cannot issue a refund.", code="charge_disputed")
    reason = params.get("reason")
    if reason is not None and reason not in REFUND_REASONS:
        return _invalid(f"Invalid reason: must be one of {', '.join(REFUND_REASONS)}", param="reason", store=False)
    refunded = sum(
        r["amount"]
        for r in _refunds_of(charge, ctx.account)
        if not r.get("_release") and r.get("status") in ("succeeded", "pending")
    )
    remaining = charge["amount_captured"] - refunded
    if remaining <= 0:
        return _invalid(f"Charge {charge['id']} has already been refunded.", code="charge_already_refunded")
    amount = remaining
    if "amount" in params:
        amount = _as_int(params["amount"])
        if amount is None or amount < 1:
            return _invalid("Invalid positive integer", code="parameter_invalid_integer", param="amount", store=False)
        if charge["currency"] in WHOLE_UNITS_ONLY and amount % 100:  # Stripe refuses fractional króna refunds too
            return _check_amount(amount, charge["currency"]) or _invalid("Invalid amount.", param="amount")
        if amount > remaining:
            return _invalid(
                f"Refund amount ({amount}) is greater than unrefunded amount on charge ({remaining})",
                code="amount_too_large",
                param="amount",
            )
    metadata = params["metadata"] if isinstance(params.get("metadata"), dict) else {}
    refund = _new_refund(pi, charge, amount, reason=reason, metadata=metadata)
    _save("refund", refund, ctx.account)
    charge["_refund_ids"] = [refund["id"], *charge.get("_refund_ids", [])]
    _save("charge", charge, ctx.account)
    _emit(ctx, "charge.refunded", charge)
    _emit(ctx, "refund.created", refund, audience="refund_events_for_charges")
    reply = _reply(200, render_refund(refund, ctx.version))
    if (_payment_method(str(charge.get("payment_method") or "")) or {}).get("_behavior") == "refund_fail":
        _fail_refund(ctx, refund)
    return reply


def _fail_refund(ctx: Ctx, refund: dict[str, Any]) -> None:
    """Stripe's refund-failure test card: the refund answers `succeeded`, then turns `failed` and the money stays
    with the merchant (docs: refunds, "Failed refunds"). Since 2024-10-28 `refund.updated` and `refund.failed` are
    sent for it; `charge.refund.updated` on every version."""
    refund.update(status="failed", failure_reason="expired_or_canceled_card", failure_balance_transaction=sim_id("txn"))
    _save("refund", refund, ctx.account)
    _emit(ctx, "charge.refund.updated", refund)
    _emit(ctx, "refund.updated", refund, audience="refund_events_for_charges")
    _emit(ctx, "refund.failed", refund, audience="refund_events_for_charges")


@api("retrieve", methods=("GET",))
def refunds_list(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    """`GET /v1/refunds?payment_intent=…` (or `charge=…`), newest first, with paging; a version before basil
    lists what a partial capture or a cancel released too."""
    if (refused := _unmodelled(params, REFUND_LIST_PARAMS)) is not None:
        return refused
    created = _created_filter(params.get("created"))
    if isinstance(created, SimReply):
        return created
    rows = [o.data for o in sim_list(PROVIDER, "refund", account=ctx.account)]
    for name in ("payment_intent", "charge"):
        if params.get(name):
            rows = [r for r in rows if r.get(name) == params[name]]
    rows = [r for r in visible_refunds(rows, ctx.version) if created(r["created"])]
    return _page(_newest_first(rows), params, "/v1/refunds", lambda r: render_refund(r, ctx.version))


@api("retrieve", methods=("GET",))
def refunds_retrieve(ctx: Ctx, params: dict[str, Any], re_id: str) -> SimReply:
    refund = _load("refund", re_id, ctx.account)
    if refund is None or not visible_refunds([refund], ctx.version):
        return _missing("refund", re_id)
    return _reply(200, render_refund(refund, ctx.version))


#: what `expand` may name on a Charge (docs.stripe.com/api/charges/object, "expandable"): `refunds` is modelled;
#: the others are ids Stripe would expand into objects this sandbox does not keep
CHARGE_EXPANDABLE = frozenset(
    {
        "refunds",
        "application",
        "application_fee",
        "balance_transaction",
        "customer",
        "failure_balance_transaction",
        "invoice",
        "on_behalf_of",
        "payment_intent",
        "review",
        "source_transfer",
        "transfer",
    }
)
CHARGE_EXPANDS_MODELLED = frozenset({"refunds"})


def _expanded(params: Mapping[str, Any], expandable: frozenset[str], modelled: frozenset[str]) -> set[str] | SimReply:
    """The paths of `expand` (`expand[0]=…` or `expand[]=…`) this sandbox expands; Stripe's 400 for a path the
    object cannot expand; in strict mode a 400 for one Stripe would expand and this sandbox does not model
    (lenient: left as the id, unexpanded)."""
    asked = params.get("expand", [])
    if not isinstance(asked, list) or not all(isinstance(path, str) for path in asked):
        return _invalid("Invalid array", param="expand", store=False)
    paths: set[str] = set()
    for path in asked:
        if path.split(".")[0] not in expandable:
            return _invalid(f"This property cannot be expanded ({path}).", store=False)
        if path in modelled:
            paths.add(path)
        elif sim_strict(PROVIDER):
            return _invalid(f"This sandbox does not model expanding {path}.", param="expand", store=False)
    return paths


@api("retrieve", methods=("GET",))
def charges_retrieve(ctx: Ctx, params: dict[str, Any], ch_id: str) -> SimReply:
    """`GET /v1/charges/{id}`; since 2022-11-15 its `refunds` only with `expand[]=refunds`: the 10 newest the
    version shows, `has_more` and the list's own `url` (the rest is paged there or at `/v1/refunds?charge=`)."""
    if (refused := _unmodelled(params, frozenset({"expand"}))) is not None:
        return refused
    expand = _expanded(params, CHARGE_EXPANDABLE, CHARGE_EXPANDS_MODELLED)
    if isinstance(expand, SimReply):
        return expand
    charge = _load("charge", ch_id, ctx.account)
    if charge is None:
        return _missing("charge", ch_id)
    return _reply(200, _show_charge(charge, ctx.account, ctx.version, expand_refunds="refunds" in expand))


@api("retrieve", methods=("GET",))
def charges_refunds_list(ctx: Ctx, params: dict[str, Any], ch_id: str) -> SimReply:
    """`GET /v1/charges/{id}/refunds`, the `url` of a Charge's `refunds` list: the charge's refunds the version
    shows, newest first, paged as `GET /v1/refunds?charge=…` pages them."""
    if (refused := _unmodelled(params, frozenset({"limit", "starting_after", "ending_before"}))) is not None:
        return refused
    charge = _load("charge", ch_id, ctx.account)
    if charge is None:
        return _missing("charge", ch_id)
    rows = visible_refunds(_refunds_of(charge, ctx.account), ctx.version)
    url = f"/v1/charges/{ch_id}/refunds"
    return _page([dict(r) for r in rows], params, url, lambda r: render_refund(r, ctx.version))


# --- webhooks ------------------------------------------------------------------------------------------------

ENDPOINT_PARAMS = frozenset({"url", "enabled_events", "api_version", "description", "metadata"})


def sign(body: str, secret: str, now: int) -> dict[str, str]:
    """The `Stripe-Signature` header: HMAC-SHA256 over `t.body` with the endpoint secret (providers.md §1.7)."""
    signature = hmac.new(secret.encode(), f"{now}.{body}".encode(), hashlib.sha256).hexdigest()
    return {"Stripe-Signature": f"t={now},v1={signature}"}


def webhook_endpoint_register(
    *,
    secret_key: str,
    url: str,
    secret: str = "",
    enabled_events: tuple[str, ...] | list[str] = ("*",),
    api_version: str = "",
) -> dict[str, Any]:
    """Register (or update, by URL) where an account's events go, in which API version; for seeds and tests.

    Without `api_version` the endpoint takes the account's default version, as at Stripe. Returns the endpoint.
    """
    account = account_of(secret_key)
    if account is None:
        raise ValueError("not a valid sandbox secret key")
    if api_version:
        version_of(api_version)  # ValueError for a version Stripe does not know
    return _register(account, url=url, secret=secret, enabled_events=tuple(enabled_events), api_version=api_version)


def _register(
    account: str, *, url: str, secret: str, enabled_events: tuple[str, ...], api_version: str
) -> dict[str, Any]:

    def make(existing: dict[str, Any] | None) -> dict[str, Any]:
        if existing is not None:
            return {
                **existing,
                "secret": secret or existing["secret"],
                "enabled_events": list(enabled_events),
                "api_version": api_version or existing.get("api_version") or account_default_version(account),
            }
        return {
            "id": sim_id("we"),
            "object": "webhook_endpoint",
            "api_version": api_version or account_default_version(account),
            "created": sim_timestamp(PROVIDER),
            "enabled_events": list(enabled_events),
            "livemode": False,
            "secret": secret or f"whsec_{secrets.token_hex(16)}",
            "status": "enabled",
            "url": url,
        }

    return webhook_endpoint_save(PROVIDER, account, url, make=make, id_field="id")


@api("webhook_endpoint")
def webhook_endpoints_create(ctx: Ctx, params: dict[str, Any]) -> SimReply:
    if (refused := _unmodelled(params, ENDPOINT_PARAMS)) is not None:
        return refused
    if not params.get("url"):
        return _invalid("Missing required param: url.", code="parameter_missing", param="url", store=False)
    if params.get("api_version"):
        try:
            version_of(params["api_version"])
        except ValueError:
            return _invalid(f"Invalid API version: {params['api_version']}", param="api_version", store=False)
    events = params.get("enabled_events") or ["*"]
    endpoint = _register(
        ctx.account,
        url=params["url"],
        secret="",
        enabled_events=tuple(events),
        api_version=str(params.get("api_version") or ""),
    )
    return _reply(200, endpoint)


def _snapshot(kind: str, obj: Mapping[str, Any], account: str) -> dict[str, Any]:
    """What an event needs to be rendered later in any version: the object and, canonically, its relatives."""
    if kind == "payment_intent":
        return {"object": dict(obj), "charges": _charges_of(obj, account)}
    if kind == "charge":
        return {"object": dict(obj), "refunds": _refunds_of(obj, account)}
    return {"object": dict(obj)}


def render_event(event: Mapping[str, Any], version: ApiVersion) -> dict[str, Any]:
    """An event as an endpoint of `version` receives it."""
    snapshot = event["_snapshot"]
    kind = snapshot["object"].get("object")
    if kind == "payment_intent":
        charges = [(charge, refunds) for charge, refunds in snapshot.get("charges", [])]
        obj = render_payment_intent(snapshot["object"], charges, version)
    elif kind == "charge":
        obj = render_charge(snapshot["object"], snapshot.get("refunds", []), version)
    else:
        obj = render_refund(snapshot["object"], version)
    out = {k: v for k, v in event.items() if not k.startswith("_")}
    out["api_version"] = version.raw
    out["data"] = {"object": obj}
    return out


def _endpoints_for(event: Mapping[str, Any], account: str) -> list[tuple[dict[str, Any], ApiVersion]]:
    found = []
    for obj in sim_list(PROVIDER, "webhook_endpoint", account=account):
        endpoint = obj.data
        if endpoint.get("status") != "enabled":
            continue
        if not {"*", event["type"]} & set(endpoint.get("enabled_events", [])):
            continue
        version = version_of(endpoint.get("api_version") or account_default_version(account))
        if receives(version, event["_audience"]):
            found.append((endpoint, version))
    return found


def _emit(ctx: Ctx, type_: str, obj: Mapping[str, Any], *, audience: str = "all") -> dict:
    """Record an event and send it, rendered in each one's version, to the account's endpoints that want it.

    `audience` says which versions send it at all (see `versions.AUDIENCES`).
    """
    event: dict[str, Any] = {
        "id": sim_id("evt"),
        "object": "event",
        "api_version": None,
        "created": sim_timestamp(PROVIDER),
        "data": {},
        "livemode": False,
        "pending_webhooks": 0,
        "request": {
            "id": sim_id("req") if ctx.idempotency_key is not None else None,
            "idempotency_key": ctx.idempotency_key,
        },
        "type": type_,
        "_audience": audience,
        "_snapshot": _snapshot(str(obj.get("object")), obj, ctx.account),
        "_about": obj.get("payment_intent") or obj.get("id"),
    }
    endpoints = _endpoints_for(event, ctx.account)
    event["pending_webhooks"] = len(endpoints)
    _save("event", event, ctx.account)
    _send(event, endpoints)
    return event


def _send(event: Mapping[str, Any], endpoints: list[tuple[dict[str, Any], ApiVersion]]) -> None:
    """Each endpoint gets the event rendered in its own API version."""
    webhooks_send(
        provider=PROVIDER,
        event_id=event["id"],
        signer="sandbox.stripe.simulator.sign",
        deliveries=[
            Delivery(
                url=endpoint["url"], body=json.dumps(render_event(event, version), indent=2), secret=endpoint["secret"]
            )
            for endpoint, version in endpoints
        ],
    )


def events_about(payment_intent: str, *, api_version: str = LATEST) -> list[dict[str, Any]]:
    """The events the sandbox made about one PaymentIntent that an endpoint of `api_version` receives, oldest
    first, as that endpoint receives them (for tests and demos that deliver events themselves)."""
    version = version_of(api_version)
    events = sim_list(PROVIDER, "event")
    return [
        render_event(e.data, version)
        for e in events
        if e.data.get("_about") == payment_intent and receives(version, e.data["_audience"])
    ]


def redeliver(event_id: str) -> None:
    """Send a stored event again to the account's endpoints that receive it (Stripe's "Resend")."""
    obj = sim_get(PROVIDER, "event", event_id)
    if obj is None:
        raise LookupError(event_id)
    _send(obj.data, _endpoints_for(obj.data, obj.account))


# --- the browser side: tokenization script and 3-D Secure page -------------------------------------------------


@sandbox_view
@require_http_methods(["GET"])
def stripe_js(request: HttpRequest) -> HttpResponse:
    """A stand-in for `https://js.stripe.com/v3/`: card fields whose number goes to this sandbox, never to the shop."""
    api_base = request.build_absolute_uri(reverse("stripe-sandbox-root")).rstrip("/")
    body = render_to_string("sandbox/stripe/v3.js", {"api_base": api_base})
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
        context = {
            "pi": _public(pi),
            "amount": pi["amount"] / 10 ** decimals(pi["currency"]),
            "currency": pi["currency"].upper(),
            "pending": pi["status"] == "requires_action",
        }
        return HttpResponse(render_to_string("sandbox/stripe/3ds.html", context, request=request))
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


def _json(body: Mapping[str, Any], status: int = 200) -> HttpResponse:
    return HttpResponse(json.dumps(body), status=status, content_type="application/json")


@sandbox_view
@require_http_methods(["POST"])
def sim_webhook_endpoint(request: HttpRequest) -> HttpResponse:
    """POST secret_key, url, secret, api_version (optional), enabled_events (comma-separated, optional): where
    the account's events go and in which version (what the dashboard would set up)."""
    events = [e.strip() for e in request.POST.get("enabled_events", "*").split(",") if e.strip()]
    try:
        endpoint = webhook_endpoint_register(
            secret_key=request.POST.get("secret_key", ""),
            url=request.POST.get("url", ""),
            secret=request.POST.get("secret", ""),
            enabled_events=events or ["*"],
            api_version=request.POST.get("api_version", ""),
        )
    except ValueError as exc:
        return _json({"error": f"refused: {exc}"}, status=400)
    return _json({k: v for k, v in endpoint.items() if k != "secret"})


@sandbox_view
@require_http_methods(["POST"])
def sim_account(request: HttpRequest) -> HttpResponse:
    """POST secret_key, api_version: the account's default API version (requests without `Stripe-Version`,
    endpoints created without one)."""
    version = request.POST.get("api_version", "")
    try:
        account = account_configure(secret_key=request.POST.get("secret_key", ""), default_api_version=version)
    except ValueError as exc:
        return _json({"error": f"refused: {exc}"}, status=400)
    return _json({"account": account, "default_api_version": version})


@sandbox_view
@require_http_methods(["POST"])
def sim_emit_webhook(request: HttpRequest) -> HttpResponse:
    """POST event_id: send a stored event again to the account's endpoints (a redelivery)."""
    obj = sim_get(PROVIDER, "event", request.POST.get("event_id", ""))
    if obj is None:
        return _json({"error": "no such event"}, status=404)
    with transaction.atomic():
        redeliver(obj.data["id"])
    return _json({"sent": obj.data["id"]})


@sandbox_view
def not_found(request: HttpRequest, rest: str) -> HttpResponse:
    reply = _error(
        404, "invalid_request_error", f"Unrecognized request URL ({request.method}: /v1/{rest}).", store=False
    )
    return _response(reply, version=LATEST)


@csrf_exempt
def refunds_list_or_create(request: HttpRequest) -> HttpResponse:
    """`/v1/refunds`: GET lists, POST creates (one address, two endpoints)."""
    if request.method == "GET":
        return refunds_list(request)
    return refunds_create(request)


@csrf_exempt
def payment_intents_list_or_create(request: HttpRequest) -> HttpResponse:
    """`/v1/payment_intents`: GET lists, POST creates."""
    if request.method == "GET":
        return payment_intents_list(request)
    return payment_intents_create(request)
