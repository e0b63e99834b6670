"""Stripe, on the official SDK: PaymentIntents (manual or automatic capture), refunds, signed webhooks.

Sandbox and live differ only in the base address given to `StripeClient`. Every POST carries our idempotency
key, so the SDK's own retries (and ours) can never move money twice. Minor units appear only here.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Mapping
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar

import stripe

from providers.base import (
    Adapter,
    Capability,
    CheckoutContext,
    EventMovement,
    FollowUpRequest,
    InvalidSignature,
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
    from_minor,
    scrub,
    to_minor,
)

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
#: Stripe's smallest amounts per currency (minor units); others: 1
MINIMUM_AMOUNT = {"USD": 50, "EUR": 50, "GBP": 30, "CHF": 50, "CAD": 50, "AUD": 50, "JPY": 50}
MAXIMUM_AMOUNT = 99_999_999
METADATA_KEY = "paydesk_key"  # our idempotency key, kept on PaymentIntents and refunds for matching


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
            reference = (error.get("payment_intent") or {}).get("id")
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
            (error.get("payment_intent") or {}).get("id"),
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

    # --- the contract -----------------------------------------------------------------------------------------

    def is_applicable(self, context: CheckoutContext) -> bool:
        """Stripe takes amounts between its minimum and 999,999.99 that its minor units can express."""
        try:
            minor = to_minor(context.total)
        except ValueError:
            return False
        if currency_exponent(context.total.currency) == 3 and minor % 10:
            return False  # three-decimal currencies: Stripe requires the last digit to be 0
        return MINIMUM_AMOUNT.get(context.total.currency, 1) <= minor <= MAXIMUM_AMOUNT

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, capture_method="manual")

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, capture_method="automatic")

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
        params: Any = {  # the SDK's typed params
            "amount": to_minor(request.amount),
            "currency": request.amount.currency.lower(),
            "capture_method": capture_method,
            "confirm": True,
            "payment_method": payment_method,
            "payment_method_types": ["card"],
            "description": f"Order {request.reference}",
            "metadata": {"order": request.reference, METADATA_KEY: request.idempotency_key},
        }
        if request.return_url:
            params["return_url"] = request.return_url
        if request.options.get("off_session"):
            params["off_session"] = True  # the buyer is not there (re-authorization): no 3-D Secure challenge
        found = self._call(
            "create",
            lambda c: c.v1.payment_intents.create(params=params, options=self._options(request.idempotency_key)),
            request.amount,
        )
        if isinstance(found, ProviderResult):
            return found
        return self._payment_result(found, request.amount)

    def reauthorize(self, request: FollowUpRequest) -> ProviderResult:
        """Authorize the same card again, off session, before Stripe's 7-day hold lapses."""
        found = self._call(
            "retrieve", lambda c: c.v1.payment_intents.retrieve(request.provider_reference), request.amount
        )
        if isinstance(found, ProviderResult):
            return _as_error(found)
        payment_method = found.get("payment_method") or ""
        if isinstance(payment_method, Mapping):
            payment_method = payment_method.get("id", "")
        renewal = PaymentRequest(
            amount=request.amount,
            idempotency_key=request.idempotency_key,
            method=request.method,
            reference=str((found.get("metadata") or {}).get("order", "")),
            payment_data={"payment_method": str(payment_method)},
            options={"off_session": True},
        )
        return self._purchase(renewal, capture_method="manual")

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """Capture `amount` (all or part); Stripe releases whatever is left of the authorization."""
        params: Any = {"amount_to_capture": to_minor(request.amount)}
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
        params: Any = {
            target: request.provider_reference,
            "amount": to_minor(request.amount),
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
        """What became of an open row (a return from 3-D Secure, a timeout): read it back from Stripe."""
        reference = request.provider_reference or ""
        if request.action == "refund":
            return self._refund_status(request)
        if not reference.startswith("pi_"):
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

    def _refund_status(self, request: StatusRequest) -> ProviderResult:
        reference = request.provider_reference or ""
        if reference.startswith("re_"):
            found = self._call("retrieve", lambda c: c.v1.refunds.retrieve(reference), request.amount)
            return _as_error(found) if isinstance(found, ProviderResult) else self._refund_result(found, request.amount)
        target = "charge" if reference.startswith("ch_") else "payment_intent"
        query: Any = {target: reference, "limit": 100}
        found = self._call("retrieve", lambda c: c.v1.refunds.list(params=query), request.amount)
        if isinstance(found, ProviderResult):
            return _as_error(found)
        for refund in found.get("data", []):
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

    def _payment_result(self, pi: Mapping[str, Any], requested: Money) -> ProviderResult:
        """A PaymentIntent after create/confirm (or read back): authorized, charged, waiting or failed."""
        status = pi.get("status")
        currency = str(pi.get("currency", requested.currency)).upper()
        raw = self._scrub(_pi_summary(pi))
        reference = pi.get("id")
        if status == "requires_capture":
            return ProviderResult(Outcome.SUCCEEDED, reference, from_minor(pi["amount_capturable"], currency), raw=raw)
        if status == "succeeded":
            return ProviderResult(Outcome.SUCCEEDED, reference, from_minor(pi["amount_received"], currency), raw=raw)
        if status == "processing":
            return ProviderResult(Outcome.PENDING, reference, requested, raw=raw)
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
        if status == "succeeded":
            currency = str(pi["currency"]).upper()
            # the capture is known by its charge, which later refunds act on
            return ProviderResult(
                Outcome.SUCCEEDED,
                pi.get("latest_charge") or pi["id"],
                from_minor(pi["amount_received"], currency),
                raw=raw,
            )
        if status == "processing":
            return ProviderResult(Outcome.PENDING, pi["id"], requested, raw=raw)
        if status in ("requires_capture", "canceled"):
            return ProviderResult(
                Outcome.DECLINED,
                pi["id"],
                requested,
                error_code="not_captured",
                message=f"Stripe did not capture the payment (status {status}).",
                raw=raw,
            )
        return ProviderResult(
            Outcome.ERROR,
            pi["id"],
            requested,
            error_code="unexpected_status",
            message=f"Stripe reports the payment as {status}.",
            raw=raw,
        )

    def _cancel_result(self, pi: Mapping[str, Any], requested: Money) -> ProviderResult:
        raw = self._scrub(_pi_summary(pi))
        if pi.get("status") == "canceled":
            return ProviderResult(Outcome.SUCCEEDED, pi["id"], requested, raw=raw)
        return ProviderResult(
            Outcome.DECLINED,
            pi["id"],
            requested,
            error_code="not_canceled",
            message=f"Stripe did not cancel the payment (status {pi.get('status')}).",
            raw=raw,
        )

    def _refund_result(self, refund: Mapping[str, Any], requested: Money) -> ProviderResult:
        status = refund.get("status")
        raw = self._scrub(_refund_summary(refund))
        amount = from_minor(refund["amount"], str(refund["currency"]).upper())
        if status == "succeeded":
            return ProviderResult(Outcome.SUCCEEDED, refund["id"], amount, raw=raw)
        if status in ("pending", "requires_action"):
            return ProviderResult(Outcome.PENDING, refund["id"], amount, raw=raw)
        return ProviderResult(
            Outcome.DECLINED,
            refund["id"],
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
        """Verify `Stripe-Signature` (HMAC-SHA256, 5 minutes' tolerance) and say what the event means for us."""
        secret = str(self.settings.get("webhook_secret") or "")
        header = _header(headers, "Stripe-Signature")
        try:
            payload = body.decode("utf-8")
            stripe.WebhookSignature.verify_header(payload, header, secret, self.webhook_tolerance)
            event = json.loads(payload)
        except (stripe.SignatureVerificationError, UnicodeDecodeError, ValueError) as exc:
            raise InvalidSignature("Stripe webhook signature does not verify") from exc
        if not isinstance(event, dict) or event.get("object") != "event" or "id" not in event:
            raise InvalidSignature("not a Stripe event")
        try:
            return event_from_stripe(event)
        except (AttributeError, KeyError, TypeError, ValueError, ArithmeticError) as exc:
            raise UnreadableEvent(
                f"{type(exc).__name__}: {exc}",
                event_id=str(event["id"]),
                event_type=str(event.get("type", "")),
                payload=self._scrub(event),
            ) from exc


def event_from_stripe(event: Mapping[str, Any]) -> WebhookEvent:
    """A Stripe event as the movements it reports (see `providers.base.EventMovement`)."""
    obj = (event.get("data") or {}).get("object") or {}
    type_ = str(event.get("type", ""))
    request = event.get("request")
    key = request.get("idempotency_key") if isinstance(request, dict) else None  # before 2017-05-25: a request id
    currency = str(obj.get("currency", "usd")).upper()

    def money(minor: Any) -> Money:
        return from_minor(int(minor or 0), currency)

    movements: list[EventMovement] = []
    reference: str = ""
    amount: Money | None = None
    kind = obj.get("object")
    if kind == "payment_intent":
        reference = str(obj.get("id") or "")
        amount = money(obj.get("amount_received") or obj.get("amount"))
        if type_ == "payment_intent.succeeded":
            if obj.get("capture_method") == "manual":
                movements.append(EventMovement(MovementAction.AUTHORIZE, reference, money(obj.get("amount"))))
                movements.append(
                    EventMovement(
                        MovementAction.CAPTURE,
                        obj.get("latest_charge") or reference,
                        money(obj.get("amount_received")),
                        key,
                    )
                )
            else:
                movements.append(
                    EventMovement(MovementAction.CHARGE, reference, money(obj.get("amount_received")), key)
                )
        elif type_ == "payment_intent.amount_capturable_updated" and obj.get("status") == "requires_capture":
            movements.append(
                EventMovement(MovementAction.AUTHORIZE, reference, money(obj.get("amount_capturable")), key)
            )
        elif type_ == "payment_intent.canceled":
            left = int(obj.get("amount") or 0) - int(obj.get("amount_received") or 0)
            movements.append(EventMovement(MovementAction.CANCEL, reference, money(left), key))
        elif type_ == "payment_intent.payment_failed":
            error = obj.get("last_payment_error") or {}
            code = error.get("code")
            movements.append(
                EventMovement(
                    MovementAction.DECLINE,
                    reference,
                    money(obj.get("amount")),
                    key,
                    error_code="authentication_failed"
                    if code == "payment_intent_authentication_failure"
                    else normalise_decline(code, error.get("decline_code")),
                    message=error.get("message", ""),
                )
            )
    elif kind == "charge" and type_ == "charge.refunded":
        reference = str(obj.get("payment_intent") or "")
        amount = money(obj.get("amount_refunded"))
        if obj.get("captured"):
            movements.append(EventMovement(MovementAction.CAPTURE, obj["id"], money(obj.get("amount_captured"))))
        for refund in reversed(((obj.get("refunds") or {}).get("data")) or []):  # oldest first
            if refund.get("status") == "succeeded":
                movements.append(_refund_movement(refund, money))
    elif kind == "refund" and type_ in ("refund.created", "refund.updated", "charge.refund.updated"):
        reference = str(obj.get("payment_intent") or "")
        amount = money(obj.get("amount"))
        if obj.get("status") == "succeeded":
            movements.append(_refund_movement(obj, money))
    return WebhookEvent(
        event_id=str(event["id"]),
        type=type_,
        provider_reference=reference or None,
        amount=amount,
        data={"object": kind, "status": obj.get("status"), "idempotency_key": key, "livemode": event.get("livemode")},
        movements=tuple(movements),
    )


def _refund_movement(refund: Mapping[str, Any], money: Callable[[Any], Money]) -> EventMovement:
    return EventMovement(
        MovementAction.REFUND,
        refund["id"],
        money(refund.get("amount")),
        (refund.get("metadata") or {}).get(METADATA_KEY),
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
        "payment_intent": (error.get("payment_intent") or {}).get("id")
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
        "latest_charge": pi.get("latest_charge"),
        "cancellation_reason": pi.get("cancellation_reason"),
        "next_action": (pi.get("next_action") or {}).get("type"),
        "last_payment_error": _error_summary(error) if error else None,
        "livemode": pi.get("livemode"),
    }


def _refund_summary(refund: Mapping[str, Any]) -> dict[str, Any]:
    keys = ("id", "object", "status", "amount", "currency", "charge", "payment_intent", "reason", "failure_reason")
    return {k: refund.get(k) for k in keys}
