"""Stripe, on the official SDK, written for API version 2026-10-28.endive and pinned to it on the client.

Sandbox and live differ only in the base address given to `StripeClient`. Every POST carries our idempotency
key, so the SDK's own retries (and ours) can never move money twice. Minor units appear only here, in Stripe's
own table (not ISO 4217's: ISK, HUF, IDR and others differ). Quirks of the pinned version and of the webhook
endpoint versions we read:

* `payment_method_types` was removed in endive (400 `payment_method_types_no_longer_supported`): a card-only
  PaymentIntent asks for `allowed_payment_method_types=["card"]`, which also keeps dynamic payment methods (and
  their `return_url` requirement) away from off-session renewals;
* a PaymentMethod used without a Customer cannot be used again: with re-authorization on, the first payment is
  made for a Customer standing for the buyer's company with `setup_future_usage=off_session`;
* events are read in every shape a live endpoint may send: before 2022-11-15 a PaymentIntent lists its `charges`
  and a Charge its `refunds`; since then neither, so refunds are fetched; before 2025-03-31 a partial capture or
  a cancel shows as a Refund of the released rest, which is not money back;
* a refund can fail after it answered `succeeded` (`refund.failed`): no money went back; a dispute
  (`charge.dispute.*`) is not recorded as money moved, but flags the payment for staff, who answer it at Stripe.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable, Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, TypeGuard

import stripe

from providers.base import (
    NOT_FOUND,
    Adapter,
    Capability,
    CheckoutContext,
    EventMovement,
    FollowUpRequest,
    InvalidSignature,
    MalformedEvent,
    MethodInfo,
    Money,
    MovementAction,
    Outcome,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    UnreadableEvent,
    WebhookEvent,
    currency_exponent,
    scrub,
)

#: the API version this adapter is written for; sent on every request whatever the SDK's own default
API_VERSION = "2026-10-28.endive"

CANCELLATION_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer", "abandoned"})
REFUND_REASONS = frozenset({"duplicate", "fraudulent", "requested_by_customer"})
#: decline reasons we pass on as they are; any other card error is "card_declined"
DECLINE_CODES = frozenset(
    {
        "card_declined",
        "insufficient_funds",
        "lost_card",
        "stolen_card",
        "expired_card",
        "incorrect_cvc",
        "incorrect_number",
        "invalid_cvc",
        "invalid_expiry_month",
        "invalid_expiry_year",
        "processing_error",
        "fraudulent",
        "do_not_honor",
        "authentication_required",
    }
)

# --- Stripe's minor units (docs.stripe.com/currencies) -------------------------------------------------------

#: amounts in whole units
ZERO_DECIMAL = frozenset(
    {"BIF", "CLP", "DJF", "GNF", "JPY", "KMF", "KRW", "MGA", "PYG", "RWF", "UGX", "VND", "VUV", "XAF", "XOF", "XPF"}
)
#: three decimals, of which Stripe requires the last to be 0
THREE_DECIMAL = frozenset({"BHD", "JOD", "KWD", "OMR", "TND"})
#: two decimals on the wire but whole units only (Stripe's "special cases": ISK since April 2023)
WHOLE_UNITS_ONLY = frozenset({"ISK"})
#: Stripe's smallest amounts per currency, in its minor units; others: 1
MINIMUM_AMOUNT = {"USD": 50, "EUR": 50, "GBP": 30, "CHF": 50, "CAD": 50, "AUD": 50, "JPY": 50, "HUF": 17500}
MAXIMUM_AMOUNT = 99_999_999

METADATA_KEY = "paydesk_key"  # our idempotency key, kept on PaymentIntents and refunds for matching
CUSTOMER_METADATA_KEY = "paydesk_customer"  # our customer (company) id on the Customer made for it

#: the events an endpoint should send (README "Sandboxes and webhooks"; shown on the integration page)
WEBHOOK_EVENTS = (
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.closed",
)
#: how long a purchase may still be on its way to Stripe (timeouts, the SDK's retry) before a search for its
#: key proves that it never arrived
SEARCH_AFTER = timedelta(minutes=2)
SEARCH_BEFORE = timedelta(minutes=5)  # clock skew between our database and Stripe
SEARCH_WINDOW = timedelta(minutes=15)


def stripe_exponent(currency: str) -> int:
    """Decimals of Stripe's `amount` for a currency (ISO code)."""
    return 0 if currency in ZERO_DECIMAL else 3 if currency in THREE_DECIMAL else 2


def to_stripe(money: Money) -> int:
    """An amount in Stripe's minor units; ValueError for one Stripe cannot take in that currency."""
    minor = money.amount.scaleb(stripe_exponent(money.currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{money} has more places than Stripe takes in {money.currency}")
    value = int(minor)
    if money.currency in THREE_DECIMAL and value % 10:
        raise ValueError(f"{money}: Stripe requires the last of three decimals to be 0")
    if money.currency in WHOLE_UNITS_ONLY and value % 100:
        raise ValueError(f"{money}: Stripe takes whole units only in {money.currency}")
    return value


def from_stripe(value: int, currency: str) -> Money:
    """Stripe's minor units back into an amount, at the currency's own precision where that is exact."""
    amount = Decimal(int(value)).scaleb(-stripe_exponent(currency))
    ours = Decimal(1).scaleb(-currency_exponent(currency))
    exact = amount.quantize(ours)
    return Money(exact if exact == amount else amount, currency)


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
    keeps_customers = True

    #: seconds; every call has both (a money call that hangs must not hold a worker or a buyer forever)
    connect_timeout: ClassVar[float] = 5.0
    read_timeout: ClassVar[float] = 30.0
    #: the SDK retries connection errors, 409 and 5xx with the same Idempotency-Key, so a retry is safe
    max_network_retries: ClassVar[int] = 1
    webhook_tolerance: ClassVar[int] = 300

    # --- plumbing -------------------------------------------------------------------------------------------

    @cached_property
    def _client(self) -> stripe.StripeClient:
        secret_key = str(self.settings.get("secret_key") or "")
        if not secret_key:
            raise ProviderMisconfigured("The Stripe integration has no secret key.")
        return stripe.StripeClient(
            secret_key,
            base_addresses={"api": self.base_url or self.live_base_url},
            http_client=stripe.RequestsClient(timeout=(self.connect_timeout, self.read_timeout)),
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
        return {"js_url": self.js_url, "publishable_key": str(self.settings.get("public_key") or "")}

    def _secrets(self) -> list[str]:
        return [str(self.settings.get(name) or "") for name in ("secret_key", "webhook_secret")]

    def _call(self, operation: str, call: Callable[[stripe.StripeClient], Any], amount: Money) -> dict | ProviderResult:
        """Run one SDK call; a dict is Stripe's object, a ProviderResult is a decline or an unmappable answer."""
        try:
            obj = call(self._client)
        except stripe.CardError as exc:
            return self._declined(exc, amount)
        except stripe.IdempotencyError as exc:  # our key was used with other terms: the first may have moved money
            return ProviderResult(
                Outcome.ERROR,
                None,
                amount,
                error_code="idempotency_error",
                message=exc.user_message or "",
                raw=self._scrub(_body(exc)),
            )
        except stripe.InvalidRequestError as exc:  # refused before anything moved (bad state, amount too large…)
            error = (_body(exc)).get("error", {})
            reference = _id_of(error.get("payment_intent"))
            return ProviderResult(
                Outcome.DECLINED,
                reference,
                amount,
                error_code=exc.code or "invalid_request",
                message=exc.user_message or "",
                raw=self._scrub(_body(exc)),
            )
        except (stripe.AuthenticationError, stripe.PermissionError) as exc:
            raise ProviderMisconfigured(
                f"Stripe refused the credentials ({operation}): HTTP {exc.http_status}"
            ) from exc
        except (stripe.APIConnectionError, stripe.RateLimitError) as exc:
            raise ProviderUnavailable(f"Stripe {operation}: no answer ({type(exc).__name__})") from exc
        except stripe.APIError as exc:
            if exc.http_status is None or exc.http_status >= 500:
                raise ProviderUnavailable(f"Stripe {operation} answered HTTP {exc.http_status}") from exc
            return ProviderResult(  # e.g. a 200 that is not JSON: answered, but we cannot tell what happened
                Outcome.ERROR,
                None,
                amount,
                error_code="unreadable_reply",
                message=f"Stripe's reply to {operation} could not be read.",
            )
        except stripe.StripeError as exc:
            if exc.http_status and exc.http_status >= 500:
                raise ProviderUnavailable(f"Stripe {operation} answered HTTP {exc.http_status}") from exc
            return ProviderResult(
                Outcome.ERROR,
                None,
                amount,
                error_code=exc.code or "stripe_error",
                message=exc.user_message or "",
                raw=self._scrub(_body(exc)),
            )
        return obj.to_dict(recursive=True) if hasattr(obj, "to_dict") else dict(obj)

    def _declined(self, exc: stripe.CardError, amount: Money) -> ProviderResult:
        error = (_body(exc)).get("error", {})
        return ProviderResult(
            Outcome.DECLINED,
            _id_of(error.get("payment_intent")),
            amount,
            error_code=normalise_decline(error.get("code"), error.get("decline_code")),
            message=error.get("message") or exc.user_message or "Your card was declined.",
            raw=self._scrub({"error": _error_summary(error)}),
        )

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
        return bool(self.settings.get("re_authorization"))

    def _purchase(self, request: PaymentRequest, *, capture_method: str) -> ProviderResult:
        payment_method = request.payment_data.get("payment_method", "")
        if not payment_method.startswith("pm_"):
            return ProviderResult(
                Outcome.DECLINED,
                None,
                request.amount,
                error_code="missing_payment_method",
                message="No card was given. Please enter your card details again.",
            )
        try:
            amount = to_stripe(request.amount)
        except ValueError:
            return ProviderResult(
                Outcome.DECLINED,
                None,
                request.amount,
                error_code="invalid_amount",
                message=f"Stripe cannot take {request.amount} in this currency.",
            )
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
        if isinstance(found, ProviderResult) and _names_missing_customer(found) and not off_session:
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
            return _as_error(made) if made.outcome == Outcome.DECLINED else made
        customer = made.get("id")
        if not isinstance(customer, str) or not customer:
            return ProviderResult(
                Outcome.ERROR, None, request.amount, error_code="unreadable_reply", message="Stripe made no Customer."
            )
        return customer

    def reauthorize(self, request: FollowUpRequest) -> ProviderResult:
        """Authorize the same card again, off session, for the same Customer, before Stripe's 7-day hold lapses."""
        found = self._call(
            "retrieve", lambda c: c.v1.payment_intents.retrieve(request.provider_reference), request.amount
        )
        if isinstance(found, ProviderResult):
            return _as_error(found)
        renewal = PaymentRequest(
            amount=request.amount,
            idempotency_key=request.idempotency_key,
            method=request.method,
            reference=str((found.get("metadata") or {}).get("order", "")),
            payment_data={"payment_method": _id_of(found.get("payment_method")) or ""},
            options={"off_session": True},
            customer_reference=_id_of(found.get("customer")) or "",
        )
        return self._purchase(renewal, capture_method="manual")

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """Capture `amount` (all or part); Stripe releases whatever is left of the authorization."""
        try:
            params: Any = {"amount_to_capture": to_stripe(request.amount)}
        except ValueError:
            return _not_expressible(request.amount)
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
            if found.error_code == "payment_intent_unexpected_state" and current.get("status") == "canceled":
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
            return _not_expressible(request.amount)
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
            return ProviderResult(
                Outcome.ERROR,
                None,
                request.amount,
                error_code="unknown_reference",
                message="Stripe's reference for this payment is not known; retry the original request with its key.",
            )
        found = self._call("retrieve", lambda c: c.v1.payment_intents.retrieve(reference), request.amount)
        if isinstance(found, ProviderResult):
            return _as_error(found)
        if request.action == "capture":
            return self._capture_result(found, request.amount)
        if request.action == "cancel":
            return self._cancel_result(found, request.amount)
        return self._payment_result(found, request.amount)

    def _find_payment(self, request: StatusRequest, *, sent: datetime) -> ProviderResult:
        if datetime.now(tz=UTC) < sent + SEARCH_AFTER:
            return ProviderResult(
                Outcome.ERROR,
                None,
                request.amount,
                error_code="too_early",
                message="The payment may still be on its way to Stripe; it is looked up again later.",
            )
        window = {
            "gte": int((sent - SEARCH_BEFORE).timestamp()),
            "lte": int((sent + SEARCH_WINDOW).timestamp()),
        }
        found = self._list_all("search", lambda c, q: c.v1.payment_intents.list(params=q), {"created": window})
        if isinstance(found, ProviderResult):
            return _as_error(found)
        for pi in found:
            if (pi.get("metadata") or {}).get(METADATA_KEY) == request.idempotency_key:
                return self._payment_result(pi, request.amount)
        return ProviderResult(
            Outcome.ERROR,
            None,
            request.amount,
            error_code=NOT_FOUND,
            message="Stripe has no payment made with this request; it never arrived and no money moved.",
        )

    def _refund_status(self, request: StatusRequest) -> ProviderResult:
        reference = request.provider_reference or ""
        if reference.startswith("re_"):
            found = self._call("retrieve", lambda c: c.v1.refunds.retrieve(reference), request.amount)
            return _as_error(found) if isinstance(found, ProviderResult) else self._refund_result(found, request.amount)
        target = "charge" if reference.startswith("ch_") else "payment_intent"
        refunds = self._list_all("retrieve", lambda c, q: c.v1.refunds.list(params=q), {target: reference})
        if isinstance(refunds, ProviderResult):
            return _as_error(refunds)
        for refund in refunds:
            if (refund.get("metadata") or {}).get(METADATA_KEY) == request.idempotency_key:
                return self._refund_result(refund, request.amount)
        return ProviderResult(  # Stripe answers synchronously: a refund it does not list did not happen
            Outcome.DECLINED,
            None,
            request.amount,
            error_code="not_processed",
            message="Stripe has no refund for this request; nothing was refunded.",
        )

    # --- Stripe objects -> results --------------------------------------------------------------------------

    def _incomplete(self, reference: str | None, requested: Money, raw: Any) -> ProviderResult:
        """An answer that leaves out what we need to record it: keep the row open (with the reference, when there
        is one) and read it back later. Money may have moved."""
        return ProviderResult(
            Outcome.ERROR,
            reference,
            requested,
            error_code="incomplete_reply",
            message="Stripe's answer left out the amount or status; the payment is read back from Stripe later.",
            raw=raw,
        )

    def _payment_result(self, pi: Mapping[str, Any], requested: Money) -> ProviderResult:
        """A PaymentIntent after create/confirm (or read back): authorized, charged, waiting or failed."""
        status = pi.get("status")
        raw = self._scrub(_pi_summary(pi))
        reference = _id_of(pi.get("id"))
        customer = _id_of(pi.get("customer"))
        if reference is None:
            return self._incomplete(None, requested, raw)
        currency = str(pi.get("currency") or requested.currency).upper()
        if status in ("requires_capture", "succeeded"):
            field = "amount_capturable" if status == "requires_capture" else "amount_received"
            minor = pi.get(field)
            if not _is_int(minor):
                return self._incomplete(reference, requested, raw)
            return ProviderResult(
                Outcome.SUCCEEDED, reference, from_stripe(minor, currency), raw=raw, customer_reference=customer
            )
        if status == "processing":
            return ProviderResult(Outcome.PENDING, reference, requested, raw=raw, customer_reference=customer)
        if status == "requires_action":
            next_action = pi.get("next_action") or {}
            redirect = (next_action.get("redirect_to_url") or {}).get("url", "")
            return ProviderResult(
                Outcome.ACTION_REQUIRED,
                reference,
                requested,
                message="The card issuer asks the buyer to confirm the payment (3-D Secure).",
                next_action={"type": "redirect", "redirect_url": redirect} if redirect else {"type": "use_stripe_sdk"},
                raw=raw,
                customer_reference=customer,
            )
        error = pi.get("last_payment_error") or {}
        if status == "requires_payment_method" and error:
            code = error.get("code")
            return ProviderResult(
                Outcome.DECLINED,
                reference,
                requested,
                error_code="authentication_failed"
                if code == "payment_intent_authentication_failure"
                else normalise_decline(code, error.get("decline_code")),
                message=error.get("message", ""),
                raw=raw,
            )
        if status == "canceled":
            return ProviderResult(
                Outcome.DECLINED,
                reference,
                requested,
                error_code="canceled",
                message="The payment was canceled before it completed.",
                raw=raw,
            )
        if status is None:
            return self._incomplete(reference, requested, raw)
        return ProviderResult(
            Outcome.ERROR,
            reference,
            requested,
            error_code="unexpected_status",
            message=f"Stripe reports the payment as {status}.",
            raw=raw,
        )

    def _capture_result(self, pi: Mapping[str, Any], requested: Money) -> ProviderResult:
        status = pi.get("status")
        raw = self._scrub(_pi_summary(pi))
        reference = _id_of(pi.get("id"))
        if status == "succeeded":
            minor = pi.get("amount_received")
            charge = _id_of(pi.get("latest_charge"))
            if not _is_int(minor) or not pi.get("currency") or charge is None:
                return self._incomplete(reference, requested, raw)
            # the capture is known by its charge, which later refunds act on
            return ProviderResult(Outcome.SUCCEEDED, charge, from_stripe(minor, str(pi["currency"]).upper()), raw=raw)
        if status == "processing":
            return ProviderResult(Outcome.PENDING, reference, requested, raw=raw)
        if status in ("requires_capture", "canceled"):
            return ProviderResult(
                Outcome.DECLINED,
                reference,
                requested,
                error_code="not_captured",
                message=f"Stripe did not capture the payment (status {status}).",
                raw=raw,
            )
        if status is None:
            return self._incomplete(reference, requested, raw)
        return ProviderResult(
            Outcome.ERROR,
            reference,
            requested,
            error_code="unexpected_status",
            message=f"Stripe reports the payment as {status}.",
            raw=raw,
        )

    def _cancel_result(self, pi: Mapping[str, Any], requested: Money) -> ProviderResult:
        raw = self._scrub(_pi_summary(pi))
        reference = _id_of(pi.get("id"))
        status = pi.get("status")
        if status == "canceled":
            return ProviderResult(Outcome.SUCCEEDED, reference, requested, raw=raw)
        if status is None:
            return self._incomplete(reference, requested, raw)
        return ProviderResult(
            Outcome.DECLINED,
            reference,
            requested,
            error_code="not_canceled",
            message=f"Stripe did not cancel the payment (status {status}).",
            raw=raw,
        )

    def _refund_result(self, refund: Mapping[str, Any], requested: Money) -> ProviderResult:
        status = refund.get("status")
        raw = self._scrub(_refund_summary(refund))
        reference = _id_of(refund.get("id"))
        minor = refund.get("amount")
        if reference is None or status is None or not _is_int(minor):
            return self._incomplete(reference, requested, raw)
        amount = from_stripe(minor, str(refund.get("currency") or requested.currency).upper())
        if status == "succeeded":
            return ProviderResult(Outcome.SUCCEEDED, reference, amount, raw=raw)
        if status in ("pending", "requires_action"):
            return ProviderResult(Outcome.PENDING, reference, amount, raw=raw)
        return ProviderResult(
            Outcome.DECLINED,
            reference,
            amount,
            error_code=refund.get("failure_reason") or "refund_failed",
            message=f"Stripe could not refund ({status}).",
            raw=raw,
        )

    # --- webhooks ----------------------------------------------------------------------------------------------

    def check_connection(self) -> ProviderResult:
        """List one refund: a read that proves the secret key and the address without moving anything."""
        nothing = Money(Decimal("0"), "USD")
        reply = self._call("check connection", lambda c: c.v1.refunds.list(params={"limit": 1}), nothing)
        if isinstance(reply, ProviderResult):
            return reply
        return ProviderResult(Outcome.SUCCEEDED, None, nothing, message="Stripe accepted the secret key.")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify `Stripe-Signature` (HMAC-SHA256, 5 minutes' tolerance) and say what the event means for us.

        A signed event whose envelope cannot be read is refused (400); one whose object cannot be read raises
        `UnreadableEvent`, to be kept as failed for staff. Neither ever answers 500.
        """
        secret = str(self.settings.get("webhook_secret") or "")
        header = _header(headers, "Stripe-Signature")
        try:
            payload = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(payload, header, secret, self.webhook_tolerance)
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
        lists none, and a refund event alone cannot say whether it is money back or a released authorization."""
        if not event.needs_details:
            return event
        charge_id = str(event.data.get("charge") or "")
        nothing = Money(Decimal("0"), event.amount.currency if event.amount else "USD")
        charge = self._call("retrieve", lambda c: c.v1.charges.retrieve(charge_id), nothing)
        if isinstance(charge, ProviderResult):
            if charge.outcome == Outcome.DECLINED:  # Stripe knows no such charge
                raise UnreadableEvent(
                    f"Stripe has no charge {charge_id}.", event_id=event.event_id, event_type=event.type, payload={}
                )
            raise ProviderUnavailable(f"Stripe charge {charge_id} could not be read ({charge.error_code})")
        refunds = self._list_all("retrieve", lambda c, q: c.v1.refunds.list(params=q), {"charge": charge_id})
        if isinstance(refunds, ProviderResult):
            raise ProviderUnavailable(f"Stripe refunds of {charge_id} could not be read ({refunds.error_code})")
        listed_total = sum(r["amount"] for r in refunds if _is_int(r.get("amount")) and _counts(r))
        releases_shown = not charge.get("captured") or (
            _is_int(charge.get("amount_refunded")) and listed_total > charge["amount_refunded"]
        )
        movements = _charge_movements(charge, refunds, releases_are_refunds=releases_shown)
        return replace(event, movements=tuple(movements), needs_details=False)


# --- events ------------------------------------------------------------------------------------------------------


def event_from_stripe(event: Mapping[str, Any]) -> WebhookEvent:
    """A Stripe event, in any shape a supported endpoint version sends, as the movements it reports (see
    `providers.base.EventMovement`). Raises TypeError/ValueError/KeyError for an object that cannot be read."""
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise TypeError("data.object is not an object")
    obj: Mapping[str, Any] = data["object"]
    type_ = str(event.get("type") or "")
    version = str(event.get("api_version") or "")
    request = event.get("request")
    key = request.get("idempotency_key") if isinstance(request, dict) else None  # a string before 2017-05-25
    code = obj.get("currency")
    if not isinstance(code, str) or len(code) != 3:
        raise ValueError("currency is not a currency code")
    currency = code.upper()
    kind = obj.get("object")
    summary: dict[str, Any] = {
        "object": kind,
        "status": obj.get("status"),
        "idempotency_key": key,
        "livemode": event.get("livemode"),
        "api_version": version,
    }

    def money(name: str, source: Mapping[str, Any] = obj) -> Money:
        return from_stripe(_minor(source, name), currency)

    movements: list[EventMovement] = []
    reference: str = ""
    amount: Money | None = None
    payment_key: str | None = None
    needs_details = False
    if kind == "payment_intent":
        reference = _required_id(obj)
        payment_key = _metadata_key(obj)
        amount = money("amount")
        if type_ == "payment_intent.succeeded":
            received = money("amount_received")
            if obj.get("capture_method") == "manual":
                movements.append(EventMovement(MovementAction.AUTHORIZE, reference, amount))
                charge = _id_of(obj.get("latest_charge")) or _first_charge(obj) or reference
                movements.append(EventMovement(MovementAction.CAPTURE, charge, received, key))
            else:
                movements.append(EventMovement(MovementAction.CHARGE, reference, received, key))
        elif type_ == "payment_intent.amount_capturable_updated" and obj.get("status") == "requires_capture":
            movements.append(EventMovement(MovementAction.AUTHORIZE, reference, money("amount_capturable"), key))
        elif type_ == "payment_intent.canceled":
            left = _minor(obj, "amount") - _minor(obj, "amount_received")
            movements.append(EventMovement(MovementAction.CANCEL, reference, from_stripe(left, currency), key))
        elif type_ == "payment_intent.payment_failed":
            error = obj.get("last_payment_error") or {}
            code = error.get("code")
            movements.append(
                EventMovement(
                    MovementAction.DECLINE,
                    reference,
                    amount,
                    key,
                    error_code="authentication_failed"
                    if code == "payment_intent_authentication_failure"
                    else normalise_decline(code, error.get("decline_code")),
                    message=str(error.get("message") or ""),
                )
            )
    elif kind == "charge" and type_ == "charge.refunded":
        reference = _id_of(obj.get("payment_intent")) or ""
        payment_key = _metadata_key(obj)
        charge_id = _required_id(obj)
        summary["charge"] = charge_id
        amount = money("amount_refunded")
        listed = obj.get("refunds")
        if isinstance(listed, dict) and isinstance(listed.get("data"), list) and not listed.get("has_more"):
            refunds = [r for r in listed["data"] if isinstance(r, dict)]
            movements = _charge_movements(obj, refunds, releases_are_refunds=_releases_are_refunds(version))
        else:
            movements = _charge_movements(obj, [], releases_are_refunds=False)
            needs_details = _refunded_to_buyer(obj, version) > 0  # no list since 2022-11-15: fetch it
    elif kind == "refund" and type_ in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        reference = _id_of(obj.get("payment_intent")) or ""
        amount = money("amount")
        refunded_charge = _id_of(obj.get("charge"))
        summary["charge"] = refunded_charge
        ours = _metadata_key(obj)
        status = obj.get("status")
        if obj.get("reason") == "expired_uncaptured_charge":
            pass  # a lapsed authorization released, not money back
        elif status in ("failed", "canceled"):
            # a refund that answered `succeeded` can still fail (card closed): the money stayed with the merchant
            failure = obj.get("failure_reason")
            movements.append(
                EventMovement(
                    MovementAction.REFUND_REVERSED,
                    _required_id(obj),
                    amount,
                    ours,
                    error_code="refund_failed",
                    message=f"Stripe could not return the money ({failure or status}): the refund {status}.",
                )
            )
        elif status != "succeeded":
            pass  # no money moved (yet)
        elif ours:
            movements.append(EventMovement(MovementAction.REFUND, _required_id(obj), amount, ours))
        elif refunded_charge:
            # made outside Paydesk: read the charge, which says what was captured (the refund implies it) and,
            # before basil, whether this "refund" is only the rest a partial capture released
            needs_details = True
    elif kind == "dispute" and type_.startswith("charge.dispute."):
        reference = _id_of(obj.get("payment_intent")) or ""
        amount = money("amount")
        status = str(obj.get("status") or "")
        summary["charge"] = _id_of(obj.get("charge"))
        movements.append(
            EventMovement(
                MovementAction.DISPUTE,
                _required_id(obj),
                amount,
                error_code=status or None,
                message=f"reason {obj.get('reason') or 'not given'}, status {status or 'unknown'}",
            )
        )
    return WebhookEvent(
        event_id=str(event["id"]),
        type=type_,
        provider_reference=reference or None,
        amount=amount,
        data=summary,
        movements=tuple(movements),
        payment_key=payment_key,
        needs_details=needs_details,
    )


def _releases_are_refunds(version: str) -> bool:
    """Before API 2025-03-31 (basil) a partial capture or a cancel shows as a Refund of the released rest."""
    return version[:10] < "2025-03-31"


def _refunded_to_buyer(charge: Mapping[str, Any], version: str) -> int:
    """What a Charge says went back to the buyer, in minor units: before basil `amount_refunded` includes what a
    partial capture released, and everything of a canceled authorization."""
    refunded = _minor(charge, "amount_refunded")
    if not _releases_are_refunds(version):
        return refunded
    if not charge.get("captured"):
        return 0
    captured = charge.get("amount_captured")
    released = _minor(charge, "amount") - (captured if _is_int(captured) else _minor(charge, "amount"))
    return max(refunded - max(released, 0), 0)


def _charge_movements(
    charge: Mapping[str, Any], refunds: Iterable[Mapping[str, Any]], *, releases_are_refunds: bool
) -> list[EventMovement]:
    """The capture a Charge implies, then its refunds that are money back, oldest first."""
    currency = str(charge["currency"]).upper()
    charge_id = _required_id(charge)
    movements: list[EventMovement] = []
    captured = charge.get("amount_captured")
    if charge.get("captured") and _is_int(captured) and captured > 0:
        movements.append(EventMovement(MovementAction.CAPTURE, charge_id, from_stripe(captured, currency)))
    ordered = _oldest_first(refunds)
    releases = _releases(charge, ordered, releases_are_refunds=releases_are_refunds)
    for refund in ordered:
        if refund.get("status") != "succeeded" or _required_id(refund) in releases:
            continue
        movements.append(
            EventMovement(
                MovementAction.REFUND,
                _required_id(refund),
                from_stripe(_minor(refund, "amount"), currency),
                _metadata_key(refund),
            )
        )
    return movements


def _releases(charge: Mapping[str, Any], refunds: list[Mapping[str, Any]], *, releases_are_refunds: bool) -> set[str]:
    """The refunds that only record a release: a lapsed authorization (`expired_uncaptured_charge`) and, where
    releases show as refunds, everything of an uncaptured charge and the rest a partial capture released. That
    rest was refunded at the moment of the capture, before any refund could be made: the oldest refund of its
    amount that we did not make."""
    ids = {str(r.get("id")) for r in refunds if r.get("reason") == "expired_uncaptured_charge"}
    if not releases_are_refunds:
        return ids
    if not charge.get("captured"):
        return {str(r.get("id")) for r in refunds}
    captured = charge.get("amount_captured")
    released = _minor(charge, "amount") - (captured if _is_int(captured) else _minor(charge, "amount"))
    if released > 0:
        for refund in refunds:
            if str(refund.get("id")) in ids or _metadata_key(refund):
                continue
            if refund.get("amount") == released:
                ids.add(str(refund.get("id")))
                break
    return ids


def _oldest_first(refunds: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Stripe lists newest first; reverse, then order by creation (stable, so a second's order is kept)."""
    ordered = list(refunds)
    ordered.reverse()
    ordered.sort(key=lambda r: int(r["created"]) if _is_int(r.get("created")) else 0)
    return ordered


def _first_charge(pi: Mapping[str, Any]) -> str | None:
    """The newest charge of a PaymentIntent in versions before 2022-11-15 (`charges` instead of `latest_charge`)."""
    charges = pi.get("charges")
    if isinstance(charges, dict) and isinstance(charges.get("data"), list) and charges["data"]:
        return _id_of(charges["data"][0])
    return None


def _counts(refund: Mapping[str, Any]) -> bool:
    return refund.get("status") in ("succeeded", "pending")


def _minor(obj: Mapping[str, Any], name: str) -> int:
    value = obj.get(name)
    if not _is_int(value):
        raise ValueError(f"{name} is not an integer")
    return int(value)


def _is_int(value: Any) -> TypeGuard[int]:
    return isinstance(value, int) and not isinstance(value, bool)


def _id_of(value: Any) -> str | None:
    """An object's id, whether Stripe sent the id or the expanded object."""
    if isinstance(value, dict):
        value = value.get("id")
    return value if isinstance(value, str) and value else None


def _required_id(obj: Mapping[str, Any]) -> str:
    found = _id_of(obj.get("id"))
    if found is None:
        raise ValueError("object has no id")
    return found


def _metadata_key(obj: Mapping[str, Any]) -> str | None:
    metadata = obj.get("metadata")
    value = metadata.get(METADATA_KEY) if isinstance(metadata, dict) else None
    return value if isinstance(value, str) and value else None


def _names_missing_customer(result: ProviderResult) -> bool:
    error = (result.raw or {}).get("error") or {}
    return result.error_code == "resource_missing" and error.get("param") == "customer"


def _not_expressible(amount: Money) -> ProviderResult:
    return ProviderResult(
        Outcome.DECLINED,
        None,
        amount,
        error_code="invalid_amount",
        message=f"Stripe cannot take {amount} in this currency.",
    )


def normalise_decline(code: str | None, decline_code: str | None) -> str:
    """Stripe's (code, decline_code) as one of our codes: the specific reason when there is one."""
    if decline_code in DECLINE_CODES and decline_code != "card_declined":
        return str(decline_code)
    if code in DECLINE_CODES:
        return str(code)
    return "card_declined"


def _body(exc: stripe.StripeError) -> dict[str, Any]:
    return exc.json_body if isinstance(exc.json_body, dict) else {}


def _header(headers: Mapping[str, str], name: str) -> str | None:
    for key, value in headers.items():
        if key.lower() == name.lower():
            return value
    return None


def _as_error(result: ProviderResult) -> ProviderResult:
    """A failed read-back is not a decline of the payment: the row stays open."""
    if result.outcome == Outcome.DECLINED:
        return ProviderResult(
            Outcome.ERROR, result.provider_reference, result.amount, result.error_code, result.message, raw=result.raw
        )
    return result


def _error_summary(error: Mapping[str, Any]) -> dict[str, Any]:
    return {k: error.get(k) for k in ("type", "code", "decline_code", "message", "charge") if error.get(k)} | {
        "payment_intent": _id_of(error.get("payment_intent"))
    }


def _pi_summary(pi: Mapping[str, Any]) -> dict[str, Any]:
    """What we keep of a PaymentIntent: no client secret, no payment method details."""
    error = pi.get("last_payment_error") or {}
    return {
        "id": pi.get("id"),
        "object": pi.get("object"),
        "status": pi.get("status"),
        "amount": pi.get("amount"),
        "amount_capturable": pi.get("amount_capturable"),
        "amount_received": pi.get("amount_received"),
        "currency": pi.get("currency"),
        "capture_method": pi.get("capture_method"),
        "customer": _id_of(pi.get("customer")),
        "latest_charge": _id_of(pi.get("latest_charge")),
        "cancellation_reason": pi.get("cancellation_reason"),
        "next_action": (pi.get("next_action") or {}).get("type"),
        "last_payment_error": _error_summary(error) if error else None,
        "livemode": pi.get("livemode"),
    }


def _refund_summary(refund: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "object", "status", "amount", "currency", "charge", "payment_intent", "reason", "failure_reason")
    return {k: refund.get(k) for k in keys}
