"""Stripe, on the official SDK, written for API version 2026-10-28.endive and pinned to it on the client.

Sandbox and live differ only in the base address given to `StripeClient`. Every POST carries our idempotency
key, so the SDK's own retries (and ours) can never move money twice. Minor units appear only here, in Stripe's
own table (not ISO 4217's: ISK, HUF, IDR and others differ), in `client.py`; Stripe's objects become results in
`results.py` and its events movements in `webhooks.py`. Quirks of the pinned version and of the webhook
endpoint versions we read:

* `payment_method_types` was removed in endive (400 `payment_method_types_no_longer_supported`): a card-only
  PaymentIntent asks for `allowed_payment_method_types=["card"]`, which also keeps dynamic payment methods (and
  their `return_url` requirement) away from off-session renewals;
* a PaymentMethod used without a Customer cannot be used again: with re-authorization on, the first payment is
  made for a Customer standing for the buyer's company with `setup_future_usage=off_session`;
* events are read in every shape a live endpoint may send: before 2022-11-15 a PaymentIntent lists its `charges`
  and a Charge its `refunds`; since then neither, so refunds are fetched (the charge with `expand[]=refunds`,
  which holds 10; more are listed from there); before 2025-03-31 a partial capture or a cancel shows as a Refund
  of the released rest, which is not money back;
* a refund can fail after it answered `succeeded` (`refund.failed`): no money went back; a dispute
  (`charge.dispute.*`) is not recorded as money moved, but flags the payment for staff, who answer it at Stripe.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar

import stripe

from providers.base import (
    Adapter,
    Capability,
    CheckoutContext,
    ErrorCode,
    FollowUpRequest,
    InvalidSignature,
    MalformedEvent,
    MethodInfo,
    Money,
    Outcome,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    UnreadableEvent,
    WebhookEvent,
    header,
    scrub,
)
from providers.sessions import shared_session
from providers.stripe.client import (
    API_VERSION,
    CUSTOMER_METADATA_KEY,
    MAXIMUM_AMOUNT,
    METADATA_KEY,
    MINIMUM_AMOUNT,
    body,
    from_stripe,
    id_of,
    is_int,
    to_stripe,
)
from providers.stripe.results import (
    cancel_result,
    capture_result,
    declined_by_card,
    names_missing_customer,
    not_expressible,
    payment_result,
    refund_result,
    refused_request,
)
from providers.stripe.webhooks import WEBHOOK_EVENTS, charge_movements, counts_as_refund, event_from_stripe

#: what tests, the demo seed and the benchmarks import from here, as before the adapter was split
__all__ = ["API_VERSION", "METADATA_KEY", "StripeAdapter", "event_from_stripe", "from_stripe", "to_stripe"]

CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})

#: how long a purchase may still be on its way to Stripe (timeouts, the SDK's retry) before a search for its
#: key proves that it never arrived
SEARCH_AFTER = timedelta(minutes=2)
SEARCH_BEFORE = timedelta(minutes=5)  # clock skew between our database and Stripe
SEARCH_WINDOW = timedelta(minutes=15)


#: operations that only read: a 429 to them is "ask again later", never a refusal of the object read
_READS = frozenset({"retrieve", "search", "check connection"})


class _TriesCounted(stripe.RequestsClient):
    """The SDK's HTTP client, counting the tries (its retries included) of the call under way on this thread: a 429
    says "nothing was done" only for the request that got it, not for an earlier try whose reply was lost."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._counted = threading.local()

    def request(self, *args: Any, **kwargs: Any) -> Any:
        self._counted.tries = getattr(self._counted, "tries", 0) + 1
        return super().request(*args, **kwargs)

    def reset(self) -> None:
        self._counted.tries = 0

    @property
    def tries(self) -> int:
        """Tries of the call under way on this thread (since `reset`)."""
        return int(getattr(self._counted, "tries", 0))


class StripeAdapter(Adapter):
    key = "stripe"
    label = "Stripe"
    capabilities: ClassVar = frozenset(
        {
            Capability.AUTHORIZE,
            Capability.CHARGE,
            Capability.CAPTURE,
            Capability.PARTIAL_CAPTURE,  # one capture only: Stripe releases the rest (no MULTIPLE_CAPTURE)
            Capability.CANCEL,
            Capability.REFUND,
            Capability.PARTIAL_REFUND,
            Capability.WEBHOOKS,
            Capability.FETCH_STATUS,
            Capability.REAUTHORIZE,
        }
    )
    authorization_ttl_hours = 7 * 24
    refund_reasons: ClassVar = (
        ("requested_by_customer", "Requested by customer"),
        ("duplicate", "Duplicate"),
        ("fraudulent", "Fraudulent"),
    )
    live_base_url = "https://api.stripe.com"
    test_base_url = "https://api.stripe.com"  # Stripe's test mode is the same host with sk_test_ keys
    live_js_url = "https://js.stripe.com/v3/"
    webhook_events = WEBHOOK_EVENTS
    webhook_api_version = API_VERSION
    webhook_signing_field = "webhook_secret"
    webhook_where = "Workbench › Webhooks › Add destination: “Your account”, snapshot payloads"
    keeps_customers = True
    #: docs.stripe.com/rate-limits: 100 operations a second live, 25 in test mode
    live_rate_limit = 100.0
    test_rate_limit = 25.0

    #: seconds; every call has both (a money call that hangs must not hold a worker or a buyer forever)
    connect_timeout: ClassVar[float] = 5.0
    read_timeout: ClassVar[float] = 30.0
    #: the SDK retries connection errors, 409 and 5xx with the same Idempotency-Key, so a retry is safe
    max_network_retries: ClassVar[int] = 1
    webhook_tolerance: ClassVar[int] = 300

    # --- plumbing -------------------------------------------------------------------------------------------

    @cached_property
    def _http(self) -> _TriesCounted:
        return _TriesCounted(
            timeout=(self.connect_timeout, self.read_timeout),
            session=shared_session(self.key, self.base_url or self.live_base_url, self.options.text("secret_key")),
        )

    @cached_property
    def _client(self) -> stripe.StripeClient:
        secret_key = self.options.text("secret_key")
        if not secret_key:
            raise ProviderMisconfigured("The Stripe integration has no secret key.")
        return stripe.StripeClient(
            secret_key,
            base_addresses={"api": self.base_url or self.live_base_url},
            http_client=self._http,
            max_network_retries=self.max_network_retries,
            stripe_version=API_VERSION,
        )

    @property
    def js_url(self) -> str:
        """The tokenization script the storefront widget loads (the sandbox serves a stand-in)."""
        if self.base_url and self.base_url != self.live_base_url:
            return f"{self.base_url}/js/v3.js"
        return self.live_js_url

    def widget_context(self, method: MethodInfo, context: CheckoutContext) -> dict[str, Any]:
        """The publishable key and the tokenization script; nothing secret."""
        return {"js_url": self.js_url, "publishable_key": self.options.text("public_key")}

    def _secrets(self) -> list[str]:
        return [self.options.text(name) for name in ("secret_key", "webhook_secret")]

    def _call(self, operation: str, call: Callable[[stripe.StripeClient], Any], amount: Money) -> dict | ProviderResult:
        """Run one SDK call; a dict is Stripe's object, a ProviderResult is a decline or an unmappable answer."""
        client = self._client
        self._http.reset()
        try:
            obj = call(client)
        except stripe.CardError as exc:
            return declined_by_card(body(exc), exc.user_message, amount, self._scrub)
        except stripe.IdempotencyError as exc:  # our key was used with other terms: the first may have moved money
            return ProviderResult.error(
                ErrorCode.IDEMPOTENCY_ERROR, exc.user_message or "", amount=amount, raw=self._scrub(body(exc))
            )
        except stripe.InvalidRequestError as exc:  # refused before anything moved (bad state, amount too large…)
            return refused_request(exc.code, body(exc), exc.user_message, amount, self._scrub)
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            raise ProviderMisconfigured(
                f"Stripe refused the credentials ({operation}): HTTP {exc.http_status}"
            ) from exc
        except stripe.RateLimitError as exc:  # 429: refused before anything moved (docs.stripe.com/rate-limits)
            if self._http.tries > 1:  # a retry of a try whose reply was lost: that try may have moved money
                raise ProviderUnavailable(f"Stripe {operation}: a retry was rate limited after no answer") from exc
            if operation in _READS:  # a read refused says nothing of the object read: ask again later
                raise ProviderUnavailable(f"Stripe {operation}: rate limited") from exc
            return ProviderResult.declined(
                ErrorCode.RATE_LIMITED,
                "Stripe's rate limit was reached; nothing was done. It is tried again shortly.",
                amount=amount,
                raw=self._scrub(body(exc)),
            )
        except stripe.APIConnectionError as exc:
            raise ProviderUnavailable(f"Stripe {operation}: no answer ({type(exc).__name__})") from exc
        except stripe.APIError as exc:
            if exc.http_status is None or exc.http_status >= 500:
                raise ProviderUnavailable(f"Stripe {operation} answered HTTP {exc.http_status}") from exc
            # e.g. a 200 that is not JSON: answered, but we cannot tell what happened
            return ProviderResult.error(
                ErrorCode.UNREADABLE_REPLY, f"Stripe's reply to {operation} could not be read.", amount=amount
            )
        except stripe.StripeError as exc:
            if exc.http_status and exc.http_status >= 500:
                raise ProviderUnavailable(f"Stripe {operation} answered HTTP {exc.http_status}") from exc
            return ProviderResult.error(
                ErrorCode.UNEXPECTED_RESPONSE, exc.user_message or "", amount=amount, raw=self._scrub(body(exc))
            )
        return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)

    def _scrub(self, data: Any) -> Any:
        return scrub(data, secrets=self._secrets())

    @staticmethod
    def _options(key: str) -> Any:  # the SDK's RequestOptions
        return {"idempotency_key": key}

    def _list_all(self, operation: str, listing: Callable[[stripe.StripeClient, Any], Any], params: dict) -> Any:
        """Every object of a list, page after page (Stripe lists at most 100 at a time); a ProviderResult when
        Stripe refused or could not be read."""
        nothing = Money(Decimal("0"), "USD")
        found: list[dict] = []
        query = {**params, "limit": 100}
        while True:
            asked = dict(query)

            def one_page(c: stripe.StripeClient, asked: dict = asked) -> Any:
                return listing(c, asked)

            page = self._call(operation, one_page, nothing)
            if isinstance(page, ProviderResult):
                return page
            rows = [row for row in page.get("data") or [] if isinstance(row, dict)]
            found.extend(rows)
            if not page.get("has_more") or not rows:
                return found
            query["starting_after"] = rows[-1].get("id")

    def _refunds_of_charge(self, charge_id: str, embedded: Any) -> Any:
        """Every refund of a charge, newest first, from its expanded `refunds` list (a page of 10) and, when that
        says there are more, the list of the charge's refunds after its last one; a ProviderResult when Stripe
        refused or could not be read. A charge that came without the list (not expanded) has them all listed."""
        params: dict[str, Any] = {"charge": charge_id}
        rows: list[dict] = []
        if isinstance(embedded, dict) and isinstance(embedded.get("data"), list):
            rows = [row for row in embedded["data"] if isinstance(row, dict)]
            if not embedded.get("has_more"):
                return rows
            if rows and isinstance(rows[-1].get("id"), str):
                params["starting_after"] = rows[-1]["id"]
            else:
                rows = []  # more, and nothing to go on from: list them all
        more = self._list_all("retrieve", lambda c, q: c.v1.refunds.list(params=q), params)
        return more if isinstance(more, ProviderResult) else [*rows, *more]

    # --- the contract -----------------------------------------------------------------------------------------

    def is_applicable(self, context: CheckoutContext) -> bool:
        """Stripe takes amounts between its minimum and 999,999.99 that its minor units can express."""
        try:
            minor = to_stripe(context.total)
        except ValueError:
            return False
        return MINIMUM_AMOUNT.get(context.total.currency, 1) <= minor <= MAXIMUM_AMOUNT

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, capture_method="manual")

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, capture_method="automatic")

    @property
    def _keeps_cards(self) -> bool:
        """Re-authorization needs the card again later: pay for a Customer and keep the card for off-session use."""
        return self.options.flag("re_authorization")

    def _purchase(self, request: PaymentRequest, *, capture_method: str) -> ProviderResult:
        payment_method = request.payment_data.get("payment_method", "")
        if not payment_method.startswith("pm_"):
            return ProviderResult.declined(
                ErrorCode.MISSING_PAYMENT_DATA,
                "No card was given. Please enter your card details again.",
                amount=request.amount,
            )
        try:
            amount = to_stripe(request.amount)
        except ValueError:
            return not_expressible(request.amount)
        off_session = bool(request.options.get("off_session"))
        params: Any = {  # the SDK's typed params
            "amount": amount,
            "currency": request.amount.currency.lower(),
            "capture_method": capture_method,
            "confirm": True,
            "payment_method": payment_method,
            "allowed_payment_method_types": ["card"],
            "description": f"Order {request.reference}",
            "metadata": {"order": request.reference, METADATA_KEY: request.idempotency_key},
        }
        if request.context is not None and request.context.po_number:
            params["metadata"]["po_number"] = (
                request.context.po_number
            )  # Stripe has no PO field; shown in its dashboard
        if request.return_url:
            params["return_url"] = request.return_url
        if off_session:
            params["off_session"] = True  # the buyer is not there (re-authorization): no 3-D Secure challenge
        customer = request.customer_reference
        if self._keeps_cards and not off_session:
            if not customer:
                made = self._customer_create(request, attempt="")
                if isinstance(made, ProviderResult):
                    return made
                customer = made
            params["setup_future_usage"] = "off_session"
        if customer:
            params["customer"] = customer

        def create(c: stripe.StripeClient) -> Any:
            return c.v1.payment_intents.create(params=params, options=self._options(request.idempotency_key))

        found = self._call("create", create, request.amount)
        if isinstance(found, ProviderResult) and names_missing_customer(found) and not off_session:
            # the Customer we knew was deleted at Stripe: make a new one; the refusal was a validation error,
            # which Stripe does not store under the key, so the same key is used again
            made = self._customer_create(request, attempt=":renewed")
            if isinstance(made, ProviderResult):
                return made
            params["customer"] = customer = made
            found = self._call("create", create, request.amount)
        result = found if isinstance(found, ProviderResult) else self._payment_result(found, request.amount)
        if customer and result.customer_reference is None:
            result = replace(result, customer_reference=customer)  # kept even after a decline: made once
        return result

    def _customer_create(self, request: PaymentRequest, *, attempt: str) -> str | ProviderResult:
        """A Customer standing for the buyer's company, keyed by the payment's key (a retry makes no second one)."""
        company = request.context.customer if request.context else None
        params: Any = {
            "name": company.name if company else f"Order {request.reference}",
            "metadata": {CUSTOMER_METADATA_KEY: str(company.id) if company else ""},
        }
        made = self._call(
            "customer",
            lambda c: c.v1.customers.create(
                params=params, options=self._options(f"{request.idempotency_key}:customer{attempt}")
            ),
            request.amount,
        )
        if isinstance(made, ProviderResult):
            return made.read_back_failure()
        customer = made.get("id")
        if not isinstance(customer, str) or not customer:
            return ProviderResult.error(ErrorCode.UNREADABLE_REPLY, "Stripe made no Customer.", amount=request.amount)
        return customer

    def reauthorize(self, request: FollowUpRequest) -> ProviderResult:
        """Authorize the same card again, off session, for the same Customer, before Stripe's 7-day hold lapses."""
        found = self._call(
            "retrieve", lambda c: c.v1.payment_intents.retrieve(request.provider_reference), request.amount
        )
        if isinstance(found, ProviderResult):
            return found.read_back_failure()
        renewal = PaymentRequest(
            amount=request.amount,
            idempotency_key=request.idempotency_key,
            method=request.method,
            reference=str((found.get("metadata") or {}).get("order", "")),
            payment_data={"payment_method": id_of(found.get("payment_method")) or ""},
            options={"off_session": True},
            customer_reference=id_of(found.get("customer")) or "",
        )
        return self._purchase(renewal, capture_method="manual")

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """Capture `amount` (all or part); Stripe releases whatever is left of the authorization."""
        try:
            params: Any = {"amount_to_capture": to_stripe(request.amount)}
        except ValueError:
            return not_expressible(request.amount)
        found = self._call(
            "capture",
            lambda c: c.v1.payment_intents.capture(
                request.provider_reference, params=params, options=self._options(request.idempotency_key)
            ),
            request.amount,
        )
        if isinstance(found, ProviderResult):
            return found
        return self._capture_result(found, request.amount)

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        params: Any = {"cancellation_reason": request.reason} if request.reason in CANCELLATION_REASONS else {}
        found = self._call(
            "cancel",
            lambda c: c.v1.payment_intents.cancel(
                request.provider_reference, params=params, options=self._options(request.idempotency_key)
            ),
            request.amount,
        )
        if isinstance(found, ProviderResult):
            # Stripe cancels an uncaptured PaymentIntent itself when the hold lapses, and then refuses a cancel
            # ("it has a status of canceled"): nothing is held, which is what the cancel asked for.
            current = (found.raw.get("error") or {}).get("payment_intent") or {}
            if found.error_code == ErrorCode.INVALID_STATE and current.get("status") == "canceled":
                return self._cancel_result(current, request.amount)
            return found
        return self._cancel_result(found, request.amount)

    def abandon(self, request: FollowUpRequest) -> ProviderResult:
        """Cancel a PaymentIntent still waiting for the buyer's 3-D Secure step, with reason `abandoned`.

        Stripe refuses to cancel one that succeeded meanwhile (DECLINED: the caller reads it back); one that was
        authorized just before (requires_capture) is canceled too, so its hold is released.
        """
        found = self._call(
            "cancel",
            lambda c: c.v1.payment_intents.cancel(
                request.provider_reference,
                params={"cancellation_reason": "abandoned"},
                options=self._options(request.idempotency_key),
            ),
            request.amount,
        )
        if isinstance(found, ProviderResult):
            return found
        return self._cancel_result(found, request.amount)

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """Refund part or all of a charge; the source is a PaymentIntent (charge) or a ch_ (capture)."""
        target = "charge" if request.provider_reference.startswith("ch_") else "payment_intent"
        try:
            amount = to_stripe(request.amount)
        except ValueError:
            return not_expressible(request.amount)
        params: Any = {
            target: request.provider_reference,
            "amount": amount,
            "metadata": {METADATA_KEY: request.idempotency_key},
        }
        if request.reason in REFUND_REASONS:
            params["reason"] = request.reason
        found = self._call(
            "refund",
            lambda c: c.v1.refunds.create(params=params, options=self._options(request.idempotency_key)),
            request.amount,
        )
        if isinstance(found, ProviderResult):
            return found
        return self._refund_result(found, request.amount)

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        """What became of an open row (a return from 3-D Secure, a timeout): read it back from Stripe.

        A purchase whose answer was lost has no reference yet: it is found by the key the adapter puts in its
        metadata, among the PaymentIntents made around the time it was sent (a list, which Stripe answers from
        current data). Not found there, it never arrived: NOT_FOUND.
        """
        reference = request.provider_reference or ""
        if request.action == "refund":
            return self._refund_status(request)
        if not reference.startswith("pi_"):
            if request.action in ("authorize", "charge", "purchase") and request.requested_at is not None:
                return self._find_payment(request, sent=request.requested_at)
            return ProviderResult.error(
                ErrorCode.UNKNOWN_REFERENCE,
                "Stripe's reference for this payment is not known; retry the original request with its key.",
                amount=request.amount,
            )
        found = self._call("retrieve", lambda c: c.v1.payment_intents.retrieve(reference), request.amount)
        if isinstance(found, ProviderResult):
            return found.read_back_failure()
        if request.action == "capture":
            return self._capture_result(found, request.amount)
        if request.action == "cancel":
            return self._cancel_result(found, request.amount)
        return self._payment_result(found, request.amount)

    def _find_payment(self, request: StatusRequest, *, sent: datetime) -> ProviderResult:
        if datetime.now(tz=UTC) < sent + SEARCH_AFTER:
            return ProviderResult.error(
                ErrorCode.TOO_EARLY,
                "The payment may still be on its way to Stripe; it is looked up again later.",
                amount=request.amount,
            )
        window = {
            "gte": int((sent - SEARCH_BEFORE).timestamp()),
            "lte": int((sent + SEARCH_WINDOW).timestamp()),
        }
        found = self._list_all("search", lambda c, q: c.v1.payment_intents.list(params=q), {"created": window})
        if isinstance(found, ProviderResult):
            return found.read_back_failure()
        for pi in found:
            if (pi.get("metadata") or {}).get(METADATA_KEY) == request.idempotency_key:
                return self._payment_result(pi, request.amount)
        return ProviderResult.error(
            ErrorCode.NOT_FOUND,
            "Stripe has no payment made with this request; it never arrived and no money moved.",
            amount=request.amount,
        )

    def _refund_status(self, request: StatusRequest) -> ProviderResult:
        reference = request.provider_reference or ""
        if reference.startswith("re_"):
            found = self._call("retrieve", lambda c: c.v1.refunds.retrieve(reference), request.amount)
            if isinstance(found, ProviderResult):
                return found.read_back_failure()
            return self._refund_result(found, request.amount)
        target = "charge" if reference.startswith("ch_") else "payment_intent"
        refunds = self._list_all("retrieve", lambda c, q: c.v1.refunds.list(params=q), {target: reference})
        if isinstance(refunds, ProviderResult):
            return refunds.read_back_failure()
        for refund in refunds:
            if (refund.get("metadata") or {}).get(METADATA_KEY) == request.idempotency_key:
                return self._refund_result(refund, request.amount)
        # Stripe answers synchronously: a refund it does not list did not happen
        return ProviderResult.declined(
            ErrorCode.REFUND_FAILED,
            "Stripe has no refund for this request; nothing was refunded.",
            amount=request.amount,
        )

    # --- Stripe objects -> results (results.py), with this integration's secrets masked ------------------------

    def _payment_result(self, pi: Mapping[str, Any], requested: Money) -> ProviderResult:
        return payment_result(pi, requested, self._scrub)

    def _capture_result(self, pi: Mapping[str, Any], requested: Money) -> ProviderResult:
        return capture_result(pi, requested, self._scrub)

    def _cancel_result(self, pi: Mapping[str, Any], requested: Money) -> ProviderResult:
        return cancel_result(pi, requested, self._scrub)

    def _refund_result(self, refund: Mapping[str, Any], requested: Money) -> ProviderResult:
        return refund_result(refund, requested, self._scrub)

    # --- webhooks ----------------------------------------------------------------------------------------------

    def check_connection(self) -> ProviderResult:
        """List one refund: a read that proves the secret key and the address without moving anything."""
        nothing = Money(Decimal("0"), "USD")
        reply = self._call("check connection", lambda c: c.v1.refunds.list(params={"limit": 1}), nothing)
        if isinstance(reply, ProviderResult):
            return reply
        return ProviderResult.succeeded(nothing, message="Stripe accepted the secret key.")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify `Stripe-Signature` (HMAC-SHA256, 5 minutes' tolerance) and say what the event means for us.

        A signed event whose envelope cannot be read is refused (400); one whose object cannot be read raises
        `UnreadableEvent`, to be kept as failed for staff. Neither ever answers 500.
        """
        secret = self.options.text("webhook_secret")
        signature = header(headers, "Stripe-Signature")
        try:
            payload = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(payload, signature, secret, self.webhook_tolerance)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise InvalidSignature("Stripe webhook signature does not verify") from exc
        try:
            event = json.loads(payload)
        except ValueError as exc:
            raise MalformedEvent("a signed Stripe webhook that is not JSON") from exc
        if not isinstance(event, dict) or event.get("object") != "event" or not isinstance(event.get("id"), str):
            raise MalformedEvent("not a Stripe event")
        try:
            return event_from_stripe(event)
        except (TypeError, ValueError, KeyError, AttributeError, ArithmeticError) as exc:
            raise UnreadableEvent(
                f"Stripe event {event['id']} could not be read: {exc}",
                event_id=event["id"],
                event_type=str(event.get("type") or ""),
                payload=self._scrub(event),
            ) from exc

    def webhook_event_complete(self, event: WebhookEvent) -> WebhookEvent:
        """The refunds of the charge an event is about, read from Stripe: since API 2022-11-15 `charge.refunded`
        lists none, and a refund event alone cannot say whether it is money back or a released authorization.

        One read: the charge with its `refunds` expanded, which holds the 10 newest; only a charge with more
        (`has_more`) has the rest listed, from after the last of those."""
        if not event.needs_details:
            return event
        charge_id = str(event.data.get("charge") or "")
        nothing = Money(Decimal("0"), event.amount.currency if event.amount else "USD")
        expand: Any = {"expand": ["refunds"]}  # the SDK's typed params
        charge = self._call("retrieve", lambda c: c.v1.charges.retrieve(charge_id, params=expand), nothing)
        if isinstance(charge, ProviderResult):
            if charge.outcome == Outcome.DECLINED:  # Stripe knows no such charge
                raise UnreadableEvent(
                    f"Stripe has no charge {charge_id}.", event_id=event.event_id, event_type=event.type, payload={}
                )
            raise ProviderUnavailable(f"Stripe charge {charge_id} could not be read ({charge.error_code})")
        refunds = self._refunds_of_charge(charge_id, charge.get("refunds"))
        if isinstance(refunds, ProviderResult):
            raise ProviderUnavailable(f"Stripe refunds of {charge_id} could not be read ({refunds.error_code})")
        listed_total = sum(r["amount"] for r in refunds if is_int(r.get("amount")) and counts_as_refund(r))
        releases_shown = not charge.get("captured") or (
            is_int(charge.get("amount_refunded")) and listed_total > charge["amount_refunded"]
        )
        movements = charge_movements(charge, refunds, releases_are_refunds=releases_shown)
        return replace(event, movements=tuple(movements), needs_details=False)
