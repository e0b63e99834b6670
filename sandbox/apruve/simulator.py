"""The Apruve sandbox: REST API v4, the `apruve.js` lightbox, and RSA-signed webhooks, from providers.md §4.

Served under `/sandbox/apruve/` (see `urls.py`) when `settings.SANDBOX_ENABLED`; an integration's base URL is
`…/sandbox/apruve` (the API under `api/v4/`, the script at `js/v4/apruve.js`), as Apruve's are
`https://test.apruve.com` and `https://app.apruve.com`.

On the wire (§4.1, §4.2):

* JSON both ways, the key in `Apruve-Api-Key`; errors by HTTP status with `{"errors": [{"title": …}]}`: 401 for an
  unknown key, 404 for an object that is not the account's, 422 for what Apruve does not allow, 400 for a body it
  cannot read (or, strict, a field it does not know);
* test accounts: a merchant id of letters and digits is an account, and its API key is
  `sha256("apruve-sandbox:" + merchant id)[:32]` (`api_key_of`), so the lightbox, which sees only the order's
  merchant id, can check the secure hash as Apruve does;
* orders exist once the buyer accepts in the lightbox (status `accepted`); `GET orders/{id}`, `GET
  orders?merchant_order_id=`, `POST orders/{id}/cancel` (only while no invoice stands), `GET|POST
  orders/{id}/invoices` (accepted orders only; invoices together never above the order's amount);
* invoices: `GET invoices/{id}`, `POST invoices/{id}/invoice_returns` (credits, together never above the invoice),
  `GET invoices/{id}/invoice_returns`, `POST invoices/{id}/shipments`; an invoice is `open` until Apruve collects,
  then `closed` (`POST …/__sim/close_invoice`, the buyer's company paid) or `canceled` (`…/__sim/cancel_invoice`);
* `GET merchants/{id}`: the merchant of the key, 404 for any other id;
* no idempotency keys: Apruve has none (§8); a repeated POST makes a second object;
* webhooks to the endpoints registered with `webhook_register`, signed `X-Apruve-Signature` = base64 RSA-SHA256 over
  the body with the sandbox's key (`keys.py`, public half at `…/__sim/public_key`): `order.accepted`,
  `order.canceled`, `invoice.closed`, `invoice.canceled`;
* faults from `/sandbox/__sim/fault` (provider=apruve; operations `get_order`, `list_orders`, `cancel_order`,
  `create_invoice`, `list_invoices`, `get_invoice`, `create_invoice_return`, `list_invoice_returns`,
  `create_shipment`, `get_merchant`).

The lightbox (§4.4): `apruve.setOrder(order, secureHash)`, `apruve.startCheckout()` opens an overlay with the page
`…/lightbox/`, where the buyer "logs in" with an e-mail and accepts, or closes; the page tells the script, which calls
the COMPLETE callback with the Apruve order id, or CLOSED. A secure hash that does not match the order (its amount
changed in the browser) is refused there, and no order is made.
"""

from __future__ import annotations

import base64
import hashlib
import json
import re
import secrets
import uuid
from collections.abc import Callable, Mapping
from typing import Any

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from django.db import transaction
from django.http import HttpRequest, HttpResponse, JsonResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.views.decorators.clickjacking import xframe_options_exempt
from django.views.decorators.http import require_http_methods

from sandbox.apruve.keys import PRIVATE_KEY_PEM, PUBLIC_KEY_PEM
from sandbox.models import SimFault
from sandbox.pipeline import Delivery, fault_response, serve, sim_account_id, webhook_endpoint_save, webhooks_send
from sandbox.services import sim_get, sim_list, sim_load, sim_now, sim_put, sim_strict
from sandbox.views import sandbox_view

PROVIDER = "apruve"
SIGNER = "sandbox.apruve.simulator.sign"
ORDER_FIELDS = (
    "merchant_id",
    "merchant_order_id",
    "amount_cents",
    "currency",
    "tax_cents",
    "shipping_cents",
    "expire_at",
    "accepts_payment_terms",
    "finalize_on_create",
    "invoice_on_create",
)
ITEM_FIELDS = (
    "title",
    "plan_code",
    "price_total_cents",
    "price_ea_cents",
    "quantity",
    "merchant_notes",
    "description",
    "variant_info",
    "sku",
    "vendor",
    "view_product_url",
)
#: what a `POST orders/{id}/invoices` may carry (§4.2's invoice fields that a client sets)
INVOICE_FIELDS = {
    "amount_cents",
    "currency",
    "tax_cents",
    "shipping_cents",
    "invoice_items",
    "issue_on_create",
    "due_at",
    "merchant_invoice_id",
    "merchant_notes",
}
RETURN_FIELDS = {"amount_cents", "currency", "reason", "merchant_notes", "uuid"}
SHIPMENT_FIELDS = {
    "amount_cents",
    "currency",
    "shipper",
    "tracking_number",
    "shipped_at",
    "delivered_at",
    "status",
    "merchant_shipment_id",
    "shipment_items",
    "tax_cents",
    "shipping_cents",
    "merchant_notes",
}


# --- accounts and hashing ------------------------------------------------------------------------------------


def api_key_of(merchant_id: str) -> str:
    """The test account's API key (the sandbox's rule, as Apruve issues one key per merchant)."""
    return hashlib.sha256(f"apruve-sandbox:{merchant_id}".encode()).hexdigest()[:32]


def account_of(api_key: str) -> str:
    return sim_account_id(api_key, prefix="apruve_")


def _value(value: Any) -> str:
    if value is None:
        return ""
    if isinstance(value, bool):
        return "true" if value else "false"
    return str(value)


def order_hash(api_key: str, order: Mapping[str, Any]) -> str:
    """§4.3, as Apruve computes it: sha256 hex of the key, the order's fields and each item's, no delimiter."""
    text = api_key + "".join(_value(order.get(name)) for name in ORDER_FIELDS)
    for item in order.get("order_items") or ():
        text += "".join(_value(item.get(name)) for name in ITEM_FIELDS)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def _new_id() -> str:
    return secrets.token_hex(16)  # Apruve's ids are 32 hexadecimal digits


# --- webhooks --------------------------------------------------------------------------------------------------


def _private_key() -> rsa.RSAPrivateKey:
    key = serialization.load_pem_private_key(PRIVATE_KEY_PEM.encode(), password=None)
    assert isinstance(key, rsa.RSAPrivateKey)  # noqa: S101 - the module's own constant
    return key


def sign(body: str, secret: str, now: int) -> dict[str, str]:
    """`X-Apruve-Signature`: base64 of the RSA-SHA256 (PKCS#1 v1.5) signature of the body (`secret` unused: the
    sandbox signs with its one key, as Apruve does with its own)."""
    signature = _private_key().sign(body.encode(), padding.PKCS1v15(), hashes.SHA256())
    return {"X-Apruve-Signature": base64.b64encode(signature).decode()}


def webhook_register(*, api_key: str, url: str) -> dict[str, Any]:
    """Where an account's events go (Apruve's `merchants/{id}/webhook_endpoints`, done by the merchant once)."""

    def make(existing: dict[str, Any] | None) -> dict[str, Any]:
        return existing or {"id": _new_id(), "url": url}

    return webhook_endpoint_save(PROVIDER, account_of(api_key), url, make=make, id_field="id")


def _emit(account: str, event: str, entity: Mapping[str, Any]) -> None:
    event_id = str(uuid.uuid4())
    body = json.dumps(
        {
            "uuid": event_id,
            "created_at": sim_now(PROVIDER).isoformat(timespec="seconds"),
            "event": event,
            "entity": dict(entity),
        }
    )
    endpoints = [o.data["url"] for o in sim_list(PROVIDER, "webhook_endpoint", account=account)]
    webhooks_send(
        provider=PROVIDER,
        event_id=event_id,
        signer=SIGNER,
        deliveries=[Delivery(url=url, body=body, secret="") for url in endpoints],
    )


# --- the API ---------------------------------------------------------------------------------------------------


class ApiRefusal(Exception):
    def __init__(self, status: int, title: str) -> None:
        super().__init__(title)
        self.status = status
        self.title = title


def _error(status: int, title: str) -> JsonResponse:
    return JsonResponse({"errors": [{"title": title}]}, status=status)


def _key_account(request: HttpRequest) -> str:
    key = request.headers.get("Apruve-Api-Key", "")
    if not re.fullmatch(r"[0-9a-f]{32}", key):
        raise ApiRefusal(401, "Unauthorized: unknown API key")
    return account_of(key)


def _body(request: HttpRequest, allowed: set[str]) -> dict[str, Any]:
    if not request.body:
        return {}
    try:
        data = json.loads(request.body.decode("utf-8"))
    except (UnicodeDecodeError, ValueError) as exc:
        raise ApiRefusal(400, "The body is not JSON") from exc
    if not isinstance(data, dict):
        raise ApiRefusal(400, "The body is not a JSON object")
    unknown = sorted(set(data) - allowed)
    if unknown and sim_strict(PROVIDER):
        raise ApiRefusal(400, f"Unknown field(s): {', '.join(unknown)}")
    return data


def _cents(data: Mapping[str, Any], name: str = "amount_cents") -> int:
    value = data.get(name)
    if isinstance(value, bool) or not isinstance(value, int) or value <= 0:
        raise ApiRefusal(422, f"{name} must be a positive whole number of cents")
    return value


def _api(operation: str, request: HttpRequest, handler: Callable[[str], tuple[int, Any]]) -> HttpResponse:
    """One API call through the shared pipeline (faults, a transaction, hold-back); no idempotency at Apruve."""

    def execute() -> tuple[int, Any]:
        try:
            return handler(_key_account(request))
        except ApiRefusal as refusal:
            return refusal.status, {"errors": [{"title": refusal.title}]}

    def respond(reply: tuple[int, Any], replayed: bool) -> HttpResponse:
        status, body = reply
        return JsonResponse(body, status=status, safe=False)

    def faults(fault: SimFault) -> HttpResponse | None:
        return fault_response(fault)

    return serve(provider=PROVIDER, operation=operation, execute=execute, respond=respond, faults=faults)


def _order(account: str, order_id: str) -> dict[str, Any]:
    data = sim_load(PROVIDER, "order", order_id, account)
    if data is None:
        raise ApiRefusal(404, "Order not found")
    return data


def _invoice(account: str, invoice_id: str) -> dict[str, Any]:
    data = sim_load(PROVIDER, "invoice", invoice_id, account)
    if data is None:
        raise ApiRefusal(404, "Invoice not found")
    return data


def _invoices_of(account: str, order_id: str) -> list[dict[str, Any]]:
    return [o.data for o in sim_list(PROVIDER, "invoice", account=account) if o.data["order_id"] == order_id]


def _returns_of(account: str, invoice_id: str) -> list[dict[str, Any]]:
    return [o.data for o in sim_list(PROVIDER, "invoice_return", account=account) if o.data["invoice_id"] == invoice_id]


@sandbox_view
@require_http_methods(["GET"])
def orders(request: HttpRequest) -> HttpResponse:
    """`GET orders?merchant_order_id=`: the account's orders carrying that id."""
    wanted = request.GET.get("merchant_order_id")

    def handler(account: str) -> tuple[int, Any]:
        found = [o.data for o in sim_list(PROVIDER, "order", account=account)]
        if wanted is not None:
            found = [o for o in found if o.get("merchant_order_id") == wanted]
        return 200, found

    return _api("list_orders", request, handler)


@sandbox_view
@require_http_methods(["GET"])
def order_detail(request: HttpRequest, order_id: str) -> HttpResponse:
    return _api("get_order", request, lambda account: (200, _order(account, order_id)))


@sandbox_view
@require_http_methods(["POST"])
def order_cancel(request: HttpRequest, order_id: str) -> HttpResponse:
    def handler(account: str) -> tuple[int, Any]:
        order = _order(account, order_id)
        if order["status"] == "canceled":
            raise ApiRefusal(422, "The order is canceled already")
        if any(i["status"] != "canceled" for i in _invoices_of(account, order_id)):
            raise ApiRefusal(422, "An order with invoices cannot be canceled")
        order.update(status="canceled", final_state_at=sim_now(PROVIDER).isoformat(timespec="seconds"))
        sim_put(PROVIDER, "order", order_id, order, account=account)
        _emit(account, "order.canceled", order)
        return 200, order

    return _api("cancel_order", request, handler)


@sandbox_view
@require_http_methods(["GET", "POST"])
def order_invoices(request: HttpRequest, order_id: str) -> HttpResponse:
    if request.method == "GET":
        return _api(
            "list_invoices", request, lambda account: (200, _invoices_of(account, _order(account, order_id)["id"]))
        )

    def handler(account: str) -> tuple[int, Any]:
        order = _order(account, order_id)
        data = _body(request, INVOICE_FIELDS)
        cents = _cents(data)
        if order["status"] != "accepted":
            raise ApiRefusal(422, f"The order is {order['status']}, not accepted")
        if data.get("currency", order["currency"]) != order["currency"]:
            raise ApiRefusal(422, "The invoice's currency is not the order's")
        standing = sum(i["amount_cents"] for i in _invoices_of(account, order_id) if i["status"] != "canceled")
        if standing + cents > order["amount_cents"]:
            raise ApiRefusal(422, "The invoices would exceed the order's amount")
        now = sim_now(PROVIDER).isoformat(timespec="seconds")
        invoice = {
            "id": _new_id(),
            "order_id": order_id,
            "status": "open",
            "amount_cents": cents,
            "currency": order["currency"],
            "tax_cents": data.get("tax_cents", 0),
            "shipping_cents": data.get("shipping_cents", 0),
            "invoice_items": data.get("invoice_items") or [],
            "merchant_invoice_id": data.get("merchant_invoice_id"),
            "merchant_notes": data.get("merchant_notes"),
            "amount_due": cents,
            "payments": [],
            "created_at": now,
            "opened_at": now,
            "issued_at": now if data.get("issue_on_create") else None,
            "final_state_at": None,
        }
        sim_put(PROVIDER, "invoice", invoice["id"], invoice, account=account)
        return 201, invoice

    return _api("create_invoice", request, handler)


@sandbox_view
@require_http_methods(["GET"])
def invoice_detail(request: HttpRequest, invoice_id: str) -> HttpResponse:
    return _api("get_invoice", request, lambda account: (200, _invoice(account, invoice_id)))


@sandbox_view
@require_http_methods(["GET", "POST"])
def invoice_returns(request: HttpRequest, invoice_id: str) -> HttpResponse:
    if request.method == "GET":
        return _api(
            "list_invoice_returns",
            request,
            lambda account: (200, _returns_of(account, _invoice(account, invoice_id)["id"])),
        )

    def handler(account: str) -> tuple[int, Any]:
        invoice = _invoice(account, invoice_id)
        data = _body(request, RETURN_FIELDS)
        cents = _cents(data)
        if invoice["status"] == "canceled":
            raise ApiRefusal(422, "The invoice is canceled")
        if sum(r["amount_cents"] for r in _returns_of(account, invoice_id)) + cents > invoice["amount_cents"]:
            raise ApiRefusal(422, "The returns would exceed the invoice's amount")
        credit = {
            "id": _new_id(),
            "invoice_id": invoice_id,
            "amount_cents": cents,
            "currency": invoice["currency"],
            "reason": data.get("reason"),
            "merchant_notes": data.get("merchant_notes"),
            "created_at": sim_now(PROVIDER).isoformat(timespec="seconds"),
        }
        sim_put(PROVIDER, "invoice_return", credit["id"], credit, account=account)
        return 201, credit

    return _api("create_invoice_return", request, handler)


@sandbox_view
@require_http_methods(["POST"])
def invoice_shipments(request: HttpRequest, invoice_id: str) -> HttpResponse:
    def handler(account: str) -> tuple[int, Any]:
        invoice = _invoice(account, invoice_id)
        data = _body(request, SHIPMENT_FIELDS)
        shipment = {"id": _new_id(), "invoice_id": invoice["id"], **data}
        sim_put(PROVIDER, "shipment", shipment["id"], shipment, account=account)
        return 201, shipment

    return _api("create_shipment", request, handler)


@sandbox_view
@require_http_methods(["GET"])
def merchant_detail(request: HttpRequest, merchant_id: str) -> HttpResponse:
    def handler(account: str) -> tuple[int, Any]:
        if account != account_of(api_key_of(merchant_id)):
            raise ApiRefusal(404, "Merchant not found")
        return 200, {"id": merchant_id, "name": f"Sandbox merchant {merchant_id[:8]}", "currency": "USD"}

    return _api("get_merchant", request, handler)


# --- apruve.js and the lightbox ----------------------------------------------------------------------------------


@sandbox_view
@require_http_methods(["GET"])
def apruve_js(request: HttpRequest) -> HttpResponse:
    """The stand-in of `apruve.js` (§4.4): setOrder, startCheckout, registerApruveCallback and the three events."""
    lightbox = request.build_absolute_uri("../../lightbox/")
    body = render_to_string("sandbox/apruve/apruve.js", {"lightbox": lightbox})
    response = HttpResponse(body, content_type="application/javascript")
    response["Access-Control-Allow-Origin"] = "*"
    return response


def _offer(raw: str, given_hash: str) -> tuple[dict[str, Any], str]:
    """The order the shop's page offered, checked as Apruve checks it: its merchant, the currency, and the secure
    hash over it; returns (order, account) or raises ApiRefusal."""
    try:
        order = json.loads(raw)
    except ValueError as exc:
        raise ApiRefusal(400, "The order is not JSON") from exc
    if not isinstance(order, dict):
        raise ApiRefusal(400, "The order is not a JSON object")
    merchant_id = str(order.get("merchant_id") or "")
    if not re.fullmatch(r"[A-Za-z0-9_-]+", merchant_id):
        raise ApiRefusal(400, "The order names no merchant")
    api_key = api_key_of(merchant_id)
    if not secrets.compare_digest(order_hash(api_key, order), given_hash or ""):
        raise ApiRefusal(400, "The secure hash does not match the order")
    if order.get("currency") != "USD":
        raise ApiRefusal(422, "Apruve takes US dollars only")
    _cents(order)
    return order, account_of(api_key)


@sandbox_view
@xframe_options_exempt
@require_http_methods(["GET", "POST"])
def lightbox(request: HttpRequest) -> HttpResponse:
    """The buyer's side: log in with an e-mail and accept the order on terms, or close."""
    source = request.POST if request.method == "POST" else request.GET
    raw, given_hash = source.get("order", ""), source.get("secure_hash", "")
    try:
        order, account = _offer(raw, given_hash)
    except ApiRefusal as refusal:
        return render(request, "sandbox/apruve/lightbox.html", {"refused": refusal.title}, status=refusal.status)
    context: dict[str, Any] = {"order": order, "raw": raw, "secure_hash": given_hash}
    outcome = request.POST.get("outcome", "show") if request.method == "POST" else "show"
    if outcome == "close":
        context["closed"] = True
    elif outcome == "accept":
        if not re.fullmatch(r"[^@\s]+@[^@\s]+", request.POST.get("email", "")):
            context["error"] = "Log in with your Apruve account's e-mail address."
        else:
            with transaction.atomic():
                context["order_id"] = buyer_accepts(order, account, email=request.POST["email"])["id"]
    return render(request, "sandbox/apruve/lightbox.html", context)


def buyer_accepts(order: Mapping[str, Any], account: str, *, email: str) -> dict[str, Any]:
    """The buyer accepted the offer on the company's terms: Apruve makes the order, accepted."""
    now = sim_now(PROVIDER).isoformat(timespec="seconds")
    order_id = _new_id()
    data: dict[str, Any] = {
        **{name: order.get(name) for name in ORDER_FIELDS if name in order},
        "id": order_id,
        "status": "accepted",
        "shopper_id": hashlib.sha256(email.lower().encode()).hexdigest()[:32],
        "order_items": list(order.get("order_items") or []),
        "payment_term": {"type": "Net30"},
        "created_at": now,
        "updated_at": now,
        "final_state_at": None,
    }
    sim_put(PROVIDER, "order", order_id, data, account=account)
    _emit(account, "order.accepted", data)
    return data


# --- simulator hooks ---------------------------------------------------------------------------------------------


def invoice_close(invoice_id: str) -> dict[str, Any]:
    """The buyer's company paid: the invoice closes, with its payment, and `invoice.closed` goes out."""
    with transaction.atomic():
        obj = sim_list_one("invoice", invoice_id)
        data = dict(obj["data"])
        if data["status"] == "closed":
            return data
        if data["status"] != "open":
            raise ApiRefusal(422, f"The invoice is {data['status']}")
        now = sim_now(PROVIDER).isoformat(timespec="seconds")
        payment = {"id": _new_id(), "amount_cents": data["amount_cents"], "status": "captured"}
        payment["payment_method"] = {"type": "bank_account", "last4": "6789"}
        data.update(status="closed", amount_due=0, payments=[payment], final_state_at=now)
        sim_put(PROVIDER, "invoice", invoice_id, data, account=obj["account"])
        _emit(obj["account"], "invoice.closed", data)
        return data


def invoice_cancel(invoice_id: str) -> dict[str, Any]:
    with transaction.atomic():
        obj = sim_list_one("invoice", invoice_id)
        data = dict(obj["data"])
        if data["status"] != "open":
            raise ApiRefusal(422, f"The invoice is {data['status']}")
        data.update(status="canceled", final_state_at=sim_now(PROVIDER).isoformat(timespec="seconds"))
        sim_put(PROVIDER, "invoice", invoice_id, data, account=obj["account"])
        _emit(obj["account"], "invoice.canceled", data)
        return data


def sim_list_one(kind: str, object_id: str) -> dict[str, Any]:
    obj = sim_get(PROVIDER, kind, object_id, lock=True)
    if obj is None:
        raise ApiRefusal(404, f"No {kind} {object_id}")
    return {"data": obj.data, "account": obj.account}


@sandbox_view
@require_http_methods(["POST"])
def sim_close_invoice(request: HttpRequest) -> HttpResponse:
    try:
        return JsonResponse(invoice_close(request.POST.get("invoice_id", "")))
    except ApiRefusal as refusal:
        return _error(refusal.status, refusal.title)


@sandbox_view
@require_http_methods(["POST"])
def sim_cancel_invoice(request: HttpRequest) -> HttpResponse:
    try:
        return JsonResponse(invoice_cancel(request.POST.get("invoice_id", "")))
    except ApiRefusal as refusal:
        return _error(refusal.status, refusal.title)


@sandbox_view
@require_http_methods(["GET"])
def sim_public_key(request: HttpRequest) -> HttpResponse:
    return HttpResponse(PUBLIC_KEY_PEM, content_type="text/plain")
