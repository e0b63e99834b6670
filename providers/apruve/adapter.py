"""Apruve: B2B trade credit for the buyer's company (domain.md §3.8), on Apruve's REST API v4 (providers.md §4).

The lifecycle, in our words:

* purchase = `authorize`: the checkout offer (the Apruve order and its secure hash) goes to the buyer's browser,
  which opens Apruve's lightbox (`apruve.js`); ACTION_REQUIRED. Nothing exists at Apruve until the buyer accepts.
* the lightbox's COMPLETE gives the browser an Apruve order id, which the return page posts back: it counts only
  once `GET orders/{id}` shows our merchant, our order number as `merchant_order_id`, the amount and the currency
  (`fetch_status` with `returned_reference`). Lost in between, reconcile finds the order by `merchant_order_id`.
* "Send invoice" = `invoice`: `POST orders/{id}/invoices` for all or part of what is authorized, several per order;
  our key travels as `merchant_invoice_id`, so a retry finds the first invoice instead of making a second one.
* the money: the `invoice.closed` webhook is the capture of that invoice (webhooks.py).
* beyond the reference: `cancel` (`POST orders/{id}/cancel`, while nothing is invoiced; Apruve refuses after)
  and `refund` (`POST invoices/{id}/invoice_returns`, a credit on a paid invoice).

Apruve bills in US dollars only (`is_applicable`), and has no idempotency header (providers.md §8).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from decimal import Decimal
from functools import cached_property
from typing import Any

from providers.apruve import webhooks
from providers.apruve.client import ApruveClient, ApruveReply, secure_hash
from providers.base import (
    Adapter,
    Capability,
    CheckoutContext,
    ErrorCode,
    FollowUpRequest,
    MethodInfo,
    Money,
    Outcome,
    PaymentRequest,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    WebhookEvent,
    from_minor,
    scrub,
    to_minor,
)

CURRENCY = "USD"
#: Apruve order statuses (§4.2) and what they mean for the authorization
ORDER_ACCEPTED = "accepted"
ORDER_PENDING = "pending"  # waiting for the buyer's company to approve the purchase
ORDER_NEW = "new"
ORDER_CANCELED = "canceled"


class ApruveAdapter(Adapter):
    key = "apruve"
    label = "Apruve"
    capabilities = frozenset(
        {
            Capability.AUTHORIZE,
            Capability.INVOICE,
            Capability.CANCEL,
            Capability.REFUND,
            Capability.PARTIAL_REFUND,
            Capability.WEBHOOKS,
            Capability.FETCH_STATUS,
        }
    )
    test_base_url = "https://test.apruve.com"
    live_base_url = "https://app.apruve.com"
    webhook_events = webhooks.EVENTS
    webhook_url_token_setting = "webhook_token"  # noqa: S105 - the name of the setting, not its value
    webhook_signing_field = "webhook_public_key"  # with the URL token: without both every delivery is refused
    webhook_where = "Apruve › Merchant settings › Webhooks: the URL below, token included"
    connect_timeout: float = 5.0
    read_timeout: float = 30.0

    @cached_property
    def client(self) -> ApruveClient:
        return ApruveClient(
            self.base_url, self.options.text("api_key"), timeouts=(self.connect_timeout, self.read_timeout)
        )

    @property
    def merchant_id(self) -> str:
        return self.options.text("merchant_id")

    def _secrets(self) -> list[str]:
        return [self.options.text("api_key"), self.options.text("webhook_token")]

    def _raw(self, data: Any) -> dict[str, Any]:
        cleaned = scrub(data, secrets=self._secrets(), keys=("secure_hash",))
        return dict(cleaned) if isinstance(cleaned, Mapping) else {"body": cleaned}

    # --- storefront ------------------------------------------------------------------------------------------

    def is_applicable(self, context: CheckoutContext) -> bool:
        """Apruve extends credit in US dollars only (the reference's SupportedCurrenciesProvider)."""
        return context.currency == CURRENCY and context.total.currency == CURRENCY

    def widget_context(self, method: MethodInfo, context: CheckoutContext) -> dict[str, Any]:
        return {"script_url": f"{self.base_url}/js/v4/apruve.js"}

    def order_offer(self, request: PaymentRequest) -> dict[str, Any]:
        """The Apruve order the lightbox shows: our order number as `merchant_order_id`, the lines, and what the
        lines do not cover (shipping, tax, discounts spread) as shipping, so the items and charges add up."""
        total = to_minor(request.amount)
        items: list[dict[str, Any]] = []
        context = request.context
        for line in context.line_items if context is not None else ():
            quantity = line.quantity
            if quantity != quantity.to_integral_value() or quantity <= 0:
                items = []  # Apruve counts whole items: a fractional quantity goes as one line of its total
                break
            try:
                each = to_minor(line.unit_price)
            except ValueError:  # a price in fractions of a cent (B2B): no line of whole cents shows it
                items = []
                break
            items.append(
                {
                    "title": line.name[:255],
                    "sku": line.sku,
                    "price_ea_cents": each,
                    "quantity": int(quantity),
                    "price_total_cents": each * int(quantity),
                    "currency": request.amount.currency,
                }
            )
        if not items or sum(item["price_total_cents"] for item in items) > total:
            items = [
                {
                    "title": f"Order {request.reference}",
                    "price_ea_cents": total,
                    "quantity": 1,
                    "price_total_cents": total,
                    "currency": request.amount.currency,
                }
            ]
        lines_total = sum(item["price_total_cents"] for item in items)
        return {
            "merchant_id": self.merchant_id,
            "merchant_order_id": request.reference,
            "amount_cents": total,
            "currency": request.amount.currency,
            "tax_cents": 0,
            "shipping_cents": total - lines_total,
            "finalize_on_create": True,
            "invoice_on_create": False,
            "order_items": items,
        }

    # --- purchase ----------------------------------------------------------------------------------------------

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        """Without an Apruve order id: the offer for the lightbox (ACTION_REQUIRED, nothing called). With one
        (a headless client that ran the lightbox itself): that order, verified like the return page's."""
        if request.amount.currency != CURRENCY:
            return ProviderResult.declined(
                ErrorCode.UNSUPPORTED_CURRENCY, "Apruve takes US dollars only.", amount=request.amount
            )
        order_id = str(request.payment_data.get("apruve_order_id") or "").strip()
        if order_id:
            return self._order_verified(order_id, request.amount, request.reference)
        order = self.order_offer(request)
        next_action = {
            "type": "lightbox",
            "template": "apruve/lightbox.html",
            "script_url": f"{self.base_url}/js/v4/apruve.js",
            "order": json.dumps(order, separators=(",", ":")),
            "secure_hash": secure_hash(self.options.text("api_key"), order),
            "redirect_url": request.return_url,
        }
        return ProviderResult.action_required(
            request.amount,
            next_action,
            message="The buyer accepts the purchase in Apruve's window, with their company's Apruve account.",
            raw={"order": order},
        )

    def _order_read(self, order_id: str) -> ApruveReply:
        return self.client.call("GET", f"orders/{_path(order_id)}")

    def _order_verified(self, order_id: str, amount: Money, reference: str) -> ProviderResult:
        """The Apruve order `order_id` as an authorization of `amount` for our order `reference`; DECLINED when it
        is not that order (another merchant's, another order's, another amount), whatever the browser said."""
        reply = self._order_read(order_id)
        if reply.status == 404:
            return ProviderResult.declined(
                ErrorCode.UNKNOWN_REFERENCE, "Apruve knows no such order.", amount=amount, raw={"id": order_id}
            )
        if not reply.ok or not reply.data.get("id"):
            return _unreadable(reply, amount, "order")
        order = reply.data
        mismatch = _order_mismatch(order, merchant_id=self.merchant_id, amount=amount, reference=reference)
        if mismatch:
            return ProviderResult.declined(
                ErrorCode.INVALID_PAYMENT_DATA,
                f"The Apruve order does not match this purchase ({mismatch}).",
                amount=amount,
                raw=self._raw(order),
            )
        return self._order_result(order, amount)

    def _order_result(self, order: Mapping[str, Any], amount: Money) -> ProviderResult:
        order_id = str(order["id"])
        status = str(order.get("status") or "")
        raw = self._raw(order)
        if status == ORDER_ACCEPTED:
            return ProviderResult.succeeded(amount, reference=order_id, raw=raw)
        if status == ORDER_PENDING:
            return ProviderResult.pending(
                amount,
                reference=order_id,
                code=ErrorCode.PENDING_AT_PROVIDER,
                message="Apruve waits for the buyer's company to approve the purchase.",
                raw=raw,
            )
        if status == ORDER_CANCELED:
            return ProviderResult.declined(
                ErrorCode.CANCELED, "The Apruve order was canceled.", amount=amount, reference=order_id, raw=raw
            )
        if status == ORDER_NEW:
            return ProviderResult.action_required(
                amount, {}, reference=order_id, message="The buyer has not accepted the Apruve order yet.", raw=raw
            )
        return ProviderResult.error(
            ErrorCode.UNEXPECTED_RESPONSE, f"Apruve order status {status!r}", amount=amount, raw=raw
        )

    # --- invoices ---------------------------------------------------------------------------------------------

    def _invoices_of(self, order_id: str) -> list[dict[str, Any]] | None:
        """The order's invoices; None when Apruve does not know the order."""
        reply = self.client.call("GET", f"orders/{_path(order_id)}/invoices")
        if reply.status == 404:
            return None
        return _listing(reply, "invoices")

    def _invoice_by_key(self, order_id: str, key: str) -> dict[str, Any] | None:
        invoices = self._invoices_of(order_id) or []
        return next((i for i in invoices if str(i.get("merchant_invoice_id") or "") == key), None)

    def invoice(self, request: FollowUpRequest) -> ProviderResult:
        """`POST orders/{id}/invoices`, issued at once, with our key as `merchant_invoice_id`; a retry finds the
        first invoice by that key. A shipment (tracking number) is added to it where asked; one Apruve refuses
        leaves the invoice as it is, with a note."""
        amount = request.amount
        order_id = request.provider_reference
        found = self._invoice_by_key(order_id, request.idempotency_key)
        if found is not None:
            return self._invoice_result(found, amount)
        cents = to_minor(amount)
        title = str(request.options.get("title") or "Goods and services")[:255]
        body = {
            "amount_cents": cents,
            "currency": amount.currency,
            "merchant_invoice_id": request.idempotency_key,
            "issue_on_create": True,
            "invoice_items": [{"title": title, "price_ea_cents": cents, "quantity": 1, "price_total_cents": cents}],
        }
        reply = self.client.call("POST", f"orders/{_path(order_id)}/invoices", body=body)
        if reply.status == 404:
            return ProviderResult.declined(ErrorCode.UNKNOWN_REFERENCE, "Apruve knows no such order.", amount=amount)
        if not reply.ok:
            return _refused(reply, amount, ErrorCode.INVALID_STATE)
        if not reply.data.get("id"):
            return _unreadable(reply, amount, "invoice")
        result = self._invoice_result(reply.data, amount)
        tracking = str(request.options.get("tracking_number") or "").strip()
        if tracking and result.provider_reference:
            note = self._shipment(
                result.provider_reference, amount, tracking, str(request.options.get("shipper") or "")
            )
            result = ProviderResult.succeeded(
                result.amount,
                reference=result.provider_reference,
                message=note,
                raw={**result.raw, "shipment_note": note},
            )
        return result

    def _shipment(self, invoice_id: str, amount: Money, tracking: str, shipper: str) -> str:
        body = {
            "amount_cents": to_minor(amount),
            "currency": amount.currency,
            "tracking_number": tracking[:255],
            "shipper": shipper[:255],
            "status": "fulfilled",
        }
        try:
            reply = self.client.call("POST", f"invoices/{_path(invoice_id)}/shipments", body=body)
        except ProviderUnavailable:
            return f"Apruve did not confirm the shipment ({tracking}); add it in Apruve's dashboard."
        if not reply.ok:
            return f"Apruve refused the shipment ({tracking}): {_error_text(reply)}"
        return f"Shipment {tracking} recorded at Apruve."

    def _invoice_result(self, invoice: Mapping[str, Any], expected: Money) -> ProviderResult:
        raw = self._raw(invoice)
        cents = invoice.get("amount_cents")
        if not isinstance(cents, int) or isinstance(cents, bool):
            return ProviderResult.error(ErrorCode.INCOMPLETE_REPLY, "Apruve's invoice has no amount", amount=expected)
        amount = from_minor(cents, str(invoice.get("currency") or expected.currency))
        if str(invoice.get("status") or "") == "canceled":
            return ProviderResult.declined(
                ErrorCode.CANCELED,
                "The Apruve invoice was canceled.",
                amount=amount,
                reference=str(invoice["id"]),
                raw=raw,
            )
        return ProviderResult.succeeded(amount, reference=str(invoice["id"]), raw=raw)

    # --- cancel, refund, abandon ---------------------------------------------------------------------------

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        """`POST orders/{id}/cancel`: Apruve cancels an order with nothing invoiced; a repeat finds it canceled."""
        order_id = request.provider_reference
        reply = self.client.call("POST", f"orders/{_path(order_id)}/cancel")
        if reply.ok:
            return ProviderResult.succeeded(request.amount, reference=order_id, raw=self._raw(reply.data))
        if reply.status == 404:
            return ProviderResult.declined(
                ErrorCode.UNKNOWN_REFERENCE, "Apruve knows no such order.", amount=request.amount
            )
        again = self._order_read(order_id)
        if again.ok and again.data.get("status") == ORDER_CANCELED:  # canceled by our first request
            return ProviderResult.succeeded(request.amount, reference=order_id, raw=self._raw(again.data))
        return _refused(reply, request.amount, ErrorCode.NOT_CANCELED)

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """A credit on the paid invoice `provider_reference` (`POST invoices/{id}/invoice_returns`), our key in
        its `merchant_notes` so that a retry finds the first one."""
        invoice_id = request.provider_reference
        found = self._return_by_key(invoice_id, request.idempotency_key)
        if found is not None:
            return self._return_result(found, request.amount)
        body = {
            "amount_cents": to_minor(request.amount),
            "currency": request.amount.currency,
            "reason": (request.reason or "return")[:255],
            "merchant_notes": request.idempotency_key,
        }
        reply = self.client.call("POST", f"invoices/{_path(invoice_id)}/invoice_returns", body=body)
        if reply.status == 404:
            return ProviderResult.declined(
                ErrorCode.UNKNOWN_REFERENCE, "Apruve knows no such invoice.", amount=request.amount
            )
        if not reply.ok:
            return _refused(reply, request.amount, ErrorCode.REFUND_FAILED)
        if not reply.data.get("id"):
            return _unreadable(reply, request.amount, "invoice return")
        return self._return_result(reply.data, request.amount)

    def _return_by_key(self, invoice_id: str, key: str) -> dict[str, Any] | None:
        reply = self.client.call("GET", f"invoices/{_path(invoice_id)}/invoice_returns")
        if reply.status == 404:  # no such invoice: no credit on it either
            return None
        returns = _listing(reply, "invoice returns")
        return next((r for r in returns if str(r.get("merchant_notes") or "") == key), None)

    def _return_result(self, data: Mapping[str, Any], expected: Money) -> ProviderResult:
        cents = data.get("amount_cents")
        amount = from_minor(cents, expected.currency) if isinstance(cents, int) else expected
        return ProviderResult.succeeded(amount, reference=str(data["id"]), raw=self._raw(data))

    def abandon(self, request: FollowUpRequest) -> ProviderResult:
        """The buyer closed the lightbox or chose another way to pay. Apruve makes the order only when the buyer
        accepts, so an offer without an order is ended; an accepted one is canceled."""
        if not request.provider_reference:
            # the buyer may have accepted in another tab whose page never posted the order id back: an order with
            # our number then exists at Apruve, and it stands (the caller reads it back) rather than being lost
            reference = str(request.options.get("reference") or "")
            released = {str(r) for r in request.options.get("released") or ()}  # canceled for ended payments
            standing = self._orders_for(reference, request.amount, standing_only=True)
            if reference and any(str(o["id"]) not in released for o in standing):
                return ProviderResult.error(
                    ErrorCode.INVALID_STATE,
                    "The buyer accepted this Apruve offer meanwhile; the payment is read back.",
                    amount=request.amount,
                )
            return ProviderResult.succeeded(
                request.amount, message="The buyer did not accept the Apruve offer; nothing was created at Apruve."
            )
        return self.cancel(request)

    # --- reading back --------------------------------------------------------------------------------------

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        if request.action in ("authorize", "purchase"):
            return self._authorization_status(request)
        if request.action == "invoice":
            return self._invoice_status(request)
        if request.action == "cancel" and request.provider_reference:
            reply = self._order_read(request.provider_reference)
            if reply.ok and reply.data.get("status") == ORDER_CANCELED:
                return ProviderResult.succeeded(request.amount, reference=request.provider_reference)
            if reply.ok:
                return ProviderResult.error(ErrorCode.NOT_FOUND, "The order is not canceled.", amount=request.amount)
            return _unreadable(reply, request.amount, "order").read_back_failure()
        if request.action == "refund" and request.provider_reference:
            found = self._return_by_key(request.provider_reference, request.idempotency_key)
            if found is not None:
                return self._return_result(found, request.amount)
            return ProviderResult.error(ErrorCode.NOT_FOUND, "Apruve has no such credit.", amount=request.amount)
        return ProviderResult.error(
            ErrorCode.UNEXPECTED_RESPONSE, f"Apruve cannot report a {request.action}", amount=request.amount
        )

    def _authorization_status(self, request: StatusRequest) -> ProviderResult:
        """The order the browser named, once verified; else the one we know; else Apruve's order carrying our
        order number (a buyer who accepted and never came back)."""
        refused = ""
        if request.returned_reference:
            verified = self._order_verified(request.returned_reference, request.amount, request.reference)
            if verified.outcome != Outcome.DECLINED:
                return verified
            refused = verified.message  # never the payment's decline: the browser's word is not Apruve's
        if request.provider_reference:
            reply = self._order_read(request.provider_reference)
            if not reply.ok or not reply.data.get("id"):
                return _unreadable(reply, request.amount, "order").read_back_failure()
            return self._order_result(reply.data, request.amount)
        # an order the merchant releases (made after its payment was ended) is no other payment's
        found = [
            o
            for o in self._orders_for(request.reference, request.amount)
            if str(o["id"]) not in request.claimed_references
        ]
        if found:
            ranked = sorted(found, key=lambda o: _STATUS_RANK.get(str(o.get("status")), 9))
            return self._order_result(ranked[0], request.amount)
        message = "The buyer has not accepted the Apruve offer yet."
        return ProviderResult.action_required(request.amount, {}, message=f"{refused} {message}".strip())

    def _orders_for(self, reference: str, amount: Money, *, standing_only: bool = False) -> list[dict[str, Any]]:
        """Apruve's orders carrying our number `reference` for `amount` (with `standing_only`, not canceled)."""
        if not reference:
            return []
        reply = self.client.call("GET", "orders", params={"merchant_order_id": reference})
        return [
            o
            for o in _listing(reply, "orders")
            if o.get("id")
            and not _order_mismatch(o, merchant_id=self.merchant_id, amount=amount, reference=reference)
            and not (standing_only and o.get("status") == ORDER_CANCELED)
        ]

    def _invoice_status(self, request: StatusRequest) -> ProviderResult:
        """`GET invoices/{id}` once the row knows its invoice; before (its reply was lost), the row still holds the
        order's id: the invoice is the order's one with our key as `merchant_invoice_id`, or none was made."""
        reference = request.provider_reference or ""
        if not reference:
            return ProviderResult.error(ErrorCode.NOT_FOUND, "No Apruve reference to ask about.", amount=request.amount)
        reply = self.client.call("GET", f"invoices/{_path(reference)}")
        if reply.ok and reply.data.get("id"):
            return self._invoice_result(reply.data, request.amount)
        if reply.status != 404:
            return _unreadable(reply, request.amount, "invoice").read_back_failure()
        invoices = self._invoices_of(reference)
        if invoices is None:
            return ProviderResult.error(
                ErrorCode.UNKNOWN_REFERENCE, "Apruve knows neither invoice nor order.", amount=request.amount
            )
        found = next((i for i in invoices if str(i.get("merchant_invoice_id") or "") == request.idempotency_key), None)
        if found is None:
            return ProviderResult.error(ErrorCode.NOT_FOUND, "Apruve made no such invoice.", amount=request.amount)
        return self._invoice_result(found, request.amount)

    # --- connection, webhooks --------------------------------------------------------------------------------

    def check_connection(self) -> ProviderResult:
        """`GET merchants/{id}`: the API key is accepted and the merchant id is this account's."""
        nothing = Money(Decimal("0.00"), CURRENCY)
        reply = self.client.call("GET", f"merchants/{_path(self.merchant_id)}")
        if reply.ok:
            return ProviderResult.succeeded(nothing, message="Apruve accepted the merchant id and API key.")
        if reply.status == 404:
            return ProviderResult.declined(ErrorCode.CONFIG_ERROR, "Apruve knows no such merchant id.", amount=nothing)
        return _refused(reply, nothing, ErrorCode.CONFIG_ERROR)

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        webhooks.verify(
            body,
            headers,
            token=self.options.text("webhook_token"),
            public_key_pem=self.options.text("webhook_public_key"),
        )
        return webhooks.event_of(body)


#: which of several orders with our number stands: accepted before pending before new before canceled
_STATUS_RANK = {ORDER_ACCEPTED: 0, ORDER_PENDING: 1, ORDER_NEW: 2, ORDER_CANCELED: 3}


def _path(value: str) -> str:
    """An id as a path segment: Apruve's ids are hexadecimal; anything else cannot name one of its objects."""
    cleaned = "".join(ch for ch in str(value) if ch.isalnum() or ch in "-_")
    return cleaned or "-"


def _order_mismatch(order: Mapping[str, Any], *, merchant_id: str, amount: Money, reference: str) -> str:
    """What makes `order` not the authorization of `amount` for our order `reference` ("" when nothing)."""
    if str(order.get("merchant_id") or "") != merchant_id:
        return "another merchant's order"
    if str(order.get("merchant_order_id") or "") != reference:
        return "another order's"
    if str(order.get("currency") or "") != amount.currency:
        return f"currency {order.get('currency')!r}"
    if order.get("amount_cents") != to_minor(amount):
        return f"amount {order.get('amount_cents')!r} cents, not {to_minor(amount)}"
    return ""


def _listing(reply: ApruveReply, what: str) -> list[dict[str, Any]]:
    """A listing's entries, or `ProviderUnavailable` when Apruve's answer is not one: "not in the listing" must be
    proven before it means "never made" (an invoice or credit is otherwise sent twice)."""
    entries = reply.listing() if reply.ok else None
    if entries is None:
        raise ProviderUnavailable(f"Apruve's listing of {what} could not be read (HTTP {reply.status})")
    return entries


def _error_text(reply: ApruveReply) -> str:
    errors = reply.data.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0]
        return str(first.get("title") or first.get("detail") or first) if isinstance(first, dict) else str(first)
    return str(reply.data.get("error") or reply.data.get("message") or f"HTTP {reply.status}")


def _refused(reply: ApruveReply, amount: Money, code: ErrorCode) -> ProviderResult:
    return ProviderResult.declined(code, f"Apruve refused: {_error_text(reply)}", amount=amount, raw=reply.data)


def _unreadable(reply: ApruveReply, amount: Money, what: str) -> ProviderResult:
    code = ErrorCode.UNREADABLE_REPLY if reply.body is None else ErrorCode.UNEXPECTED_RESPONSE
    return ProviderResult.error(code, f"Apruve's {what} reply could not be read (HTTP {reply.status})", amount=amount)
