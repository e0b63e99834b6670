"""OroPay: card and ACH on Global Payments' GP-API (domain.md §3.10, providers.md §6).

Cards are tokenized in the buyer's browser by the hosted fields (globalpayments-js; the sandbox serves a
stand-in) with a restricted, short-lived access token; the shop sees only the `PMT_…` token and sends it as
`payment_method.id`. Authorizations use `capture_mode: MULTIPLE` (several captures, each all or part of what is
left, then a reversal releases the rest); sales `AUTO`. ACH debits are sales that stay PENDING until Global
Payments reports them FUNDED or REJECTED (notification or reconcile); a REJECTED after FUNDED is a return.

Why plain HTTP and not the `globalpayments-api` SDK: the SDK's GP-API ACH branch is commented out (providers.md
§6.2), and at import it calls `urllib3.contrib.pyopenssl.inject_into_urllib3()` (every HTTPS connection of the
process, Stripe's and Authorize.Net's included, would go through pyOpenSSL), its connection pool has no timeout,
it turns every failure into one `GatewayException` (a timeout cannot be told from a refusal) and it pins
`cryptography<45` and `certifi<2025`. `client.py` sends what the SDK's `GpApiConnector` sends, byte for byte where
it matters (headers, the token request, minor units as strings, `x-gp-idempotency`).

The service URL is always explicit: the sandbox's address, or `test_base_url` / `live_base_url`; an adapter
built without one refuses to call (never production by accident).

Idempotency: every POST carries our key as `x-gp-idempotency` (GP-API answers a repeat with the first answer);
purchases also carry it as `reference` (a digest when longer than GP-API's 50 characters), which is how a
purchase whose answer was lost is found again (`GET /transactions?reference=`, page by page). Captures and refunds
are transactions of their own with a `parent_resource_id` under the purchase's reference: a lost one is found among
them by its amount (two of the same amount are left to staff); a lost reversal shows as the parent REVERSED.
"""

from __future__ import annotations

import hashlib
import hmac
import json
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any, ClassVar

from providers.base import (
    NOT_FOUND,
    Adapter,
    Capability,
    CheckoutContext,
    ErrorCode,
    EventMovement,
    FollowUpRequest,
    IntegrationInfo,
    InvalidSignature,
    MethodInfo,
    Money,
    MovementAction,
    PaymentAction,
    PaymentRequest,
    ProviderError,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    UnreadableEvent,
    WebhookEvent,
    from_minor,
    header,
    scrub,
    to_minor,
)
from providers.oropay.client import GpApiClient, Reply
from providers.oropay.results import error_result, transaction_result
from providers.oropay.webhooks import event_from_notification

ACH_VARIANT = "ach"
#: the ACH network moves US dollars between US bank accounts
ACH_CURRENCIES = frozenset({"USD"})
#: GP-API's limit on `reference`
REFERENCE_MAX = 50
#: how long GP-API keeps the answer to an idempotency key (24 hours), less a margin for clocks and calls in flight
KEY_REPLAY_WINDOW = timedelta(hours=23)
DEFAULT_NACHA_TEXT = (
    "By submitting this payment I authorize {merchant} to debit the bank account above, once, for the amount "
    "shown, through the ACH network, and, if needed, to credit it to correct an erroneous debit. I can revoke "
    "this authorization by contacting {merchant} before the debit is processed."
)


def wire_reference(key: str) -> str:
    """Our idempotency key as GP-API's `reference`: itself when it fits, else a stable digest of it."""
    return key if len(key) <= REFERENCE_MAX else "k" + hashlib.sha256(key.encode()).hexdigest()[:40]


class OroPayAdapter(Adapter):
    key = "oropay"
    label = "OroPay"
    capabilities: ClassVar = frozenset(
        {
            Capability.AUTHORIZE,
            Capability.CHARGE,
            Capability.CAPTURE,
            Capability.PARTIAL_CAPTURE,
            Capability.MULTIPLE_CAPTURE,  # capture_mode MULTIPLE
            Capability.CANCEL,
            Capability.REFUND,
            Capability.PARTIAL_REFUND,
            Capability.WEBHOOKS,
            Capability.FETCH_STATUS,
        }
    )
    authorization_ttl_hours = 7 * 24
    test_base_url = "https://apis.sandbox.globalpay.com"
    live_base_url = "https://apis.globalpay.com"
    test_js_url = "https://js.globalpay.com/v1/globalpayments.js"
    live_js_url = "https://js.globalpay.com/v1/globalpayments.js"
    webhook_events = ("Transaction status notifications (status_url)",)
    webhook_signing_field = "app_key"  # X-GP-Signature is SHA-512 of the body and the app key
    webhook_where = "Given to the Global Payments account manager as the app's status URL"

    connect_timeout: ClassVar[float] = 5.0
    read_timeout: ClassVar[float] = 30.0
    search_page_size: ClassVar[int] = 100

    # --- settings ----------------------------------------------------------------------------------------------

    @property
    def service_url(self) -> str:
        return f"{self.base_url}/ucp" if self.base_url else ""

    @property
    def _client(self) -> GpApiClient:
        return GpApiClient(
            service_url=self.service_url,
            app_id=self.options.text("app_id"),
            app_key=self.options.text("app_key"),
            timeouts=(self.connect_timeout, self.read_timeout),
        )

    def _scrub(self, data: Any) -> Any:
        return scrub(data, secrets=[self.options.text("app_key")])

    @property
    def ach_enabled(self) -> bool:
        return self.options.flag("ach_enabled", False)

    # --- methods and the storefront ----------------------------------------------------------------------------

    def methods(self, integration: IntegrationInfo) -> list[MethodInfo]:
        """The card, and ACH where enabled and the integration captures automatically (as the reference offers it)."""
        card = self.card_method(integration)
        if not self.ach_enabled or integration.payment_action != PaymentAction.CHARGE:
            return [card]
        label = self.options.text("ach_label", "ACH bank debit")
        ach = MethodInfo(
            identifier=f"{self.key}_{integration.id}_{ACH_VARIANT}",
            integration_id=integration.id,
            provider_key=self.key,
            variant=ACH_VARIANT,
            labels={"en": label},
            short_labels={"en": self.options.text("ach_short_label", label)},
            widget=f"{self.key}/ach_widget.html",
            payment_action=PaymentAction.CHARGE,
            currencies=ACH_CURRENCIES,
        )
        return [card, ach]

    def is_applicable(self, context: CheckoutContext) -> bool:
        return context.total.amount > 0

    @property
    def js_url(self) -> str:
        if self.base_url == self.live_base_url:
            return self.live_js_url
        if self.base_url == self.test_base_url:
            return self.test_js_url
        return f"{self.base_url}/js/globalpayments.js"

    def widget_context(self, method: MethodInfo, context: CheckoutContext | None = None) -> dict[str, Any]:
        """Card: the hosted fields' script and a restricted token that may tokenize one card and nothing else.
        ACH: the account types and the NACHA authorization the buyer accepts. No secret is in either."""
        extra: dict[str, Any] = {}
        if method.variant == ACH_VARIANT:
            merchant = self.options.text("merchant_name", "the merchant")
            text = self.options.text("ach_authorization_text", DEFAULT_NACHA_TEXT)
            extra = {"authorization_text": text.replace("{merchant}", merchant)}
        try:
            token = self._client.restricted_token()
        except ProviderError:
            return {"method": method, "unavailable": True, **extra}
        return {
            "method": method,
            "js_url": self.js_url,
            "access_token": token,
            "env": "production" if self.base_url == self.live_base_url else "sandbox",
            "api_version": "2021-03-22",
            **extra,
        }

    # --- purchases ---------------------------------------------------------------------------------------------

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        if request.method.variant == ACH_VARIANT:
            return self.charge(request)  # an ACH debit is always a sale
        return self._purchase(request, "MULTIPLE", "authorize")

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, "AUTO", "charge")

    def _purchase(self, request: PaymentRequest, capture_mode: str, operation: str) -> ProviderResult:
        method = self._payment_method(request)
        if isinstance(method, ProviderResult):
            return method
        body: dict[str, Any] = {
            "account_name": self.options.text("account_name", "transaction_processing"),
            "channel": "CNP",
            "country": self.options.text("merchant_country", "US"),
            "type": "SALE",
            "capture_mode": capture_mode,
            "amount": str(to_minor(request.amount)),
            "currency": request.amount.currency,
            "reference": wire_reference(request.idempotency_key),
            "description": f"Order {request.reference}"[:100],
            "order": {"reference": request.reference[:50]},
            "payment_method": method,
        }
        if request.return_url:  # where the card issuer's 3-D Secure challenge sends the buyer back
            body["notifications"] = {"return_url": request.return_url}
        reply = self._client.call("POST", "/transactions", body, key=request.idempotency_key)
        return self._result(reply, request.amount, operation)

    def _payment_method(self, request: PaymentRequest) -> dict[str, Any] | ProviderResult:
        data = request.payment_data
        token = data.get("payment_reference", "").strip()
        if request.method.variant == ACH_VARIANT:
            if request.amount.currency not in ACH_CURRENCIES:
                return ProviderResult.declined(
                    ErrorCode.UNSUPPORTED_CURRENCY, "An ACH bank debit takes US dollars only.", amount=request.amount
                )
            holder = data.get("account_holder", "").strip()
            if not token.startswith("PMT_") or not holder or data.get("authorized") not in ("1", "true", "on"):
                return ProviderResult.declined(
                    ErrorCode.MISSING_PAYMENT_DATA,
                    "Please give the bank account and its holder, and accept the debit authorization.",
                    amount=request.amount,
                )
            return {
                "entry_mode": "ECOM",
                "id": token,
                "name": holder[:100],
                "narrative": f"Order {request.reference}"[:20],
                "bank_transfer": {"check_reference": request.reference[:20], "sec_code": "WEB"},
            }
        if not token:
            return ProviderResult.declined(
                ErrorCode.MISSING_PAYMENT_DATA,
                "No card details were given. Please enter them again.",
                amount=request.amount,
            )
        if not token.startswith("PMT_") or len(token) > 100:
            return ProviderResult.declined(
                ErrorCode.INVALID_PAYMENT_DATA,
                "The card details could not be used. Please enter them again.",
                amount=request.amount,
            )
        return {"entry_mode": "ECOM", "id": token}

    # --- follow-ups --------------------------------------------------------------------------------------------

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """Capture all or part of what the authorization still holds (MULTIPLE: again later, up to the whole)."""
        body = {"amount": str(to_minor(request.amount))}
        reply = self._client.call(
            "POST", f"/transactions/{request.provider_reference}/capture", body, key=request.idempotency_key
        )
        return self._result(reply, request.amount, "capture", reference=request.provider_reference)

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        """Reverse the authorization: what it still holds is released (captures made before stay)."""
        reply = self._client.call(
            "POST", f"/transactions/{request.provider_reference}/reversal", {}, key=request.idempotency_key
        )
        if reply.status == 200 and isinstance(reply.body, dict) and reply.body.get("id"):
            return ProviderResult.succeeded(
                request.amount, reference=reply.body["id"], raw=self._scrub({"status": reply.body.get("status")})
            )
        return self._result(reply, request.amount, "cancel", reference=request.provider_reference)

    def abandon(self, request: FollowUpRequest) -> ProviderResult:
        """A payment waiting for the buyer's 3-D Secure challenge is reversed, so it can no longer take money (one
        the buyer completed meanwhile is released too); a reversal GP-API refuses is a decline, and the caller
        reads the payment back."""
        return self.cancel(request)

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """A refund is a new REFUND transaction at GP-API, with its own id; partial and repeated up to what was
        taken."""
        body = {"amount": str(to_minor(request.amount))}
        reply = self._client.call(
            "POST", f"/transactions/{request.provider_reference}/refund", body, key=request.idempotency_key
        )
        return self._result(reply, request.amount, "refund", reference=request.provider_reference)

    def _result(
        self, reply: Reply, requested: Money, operation: str, *, reference: str | None = None
    ) -> ProviderResult:
        if reply.status in (200, 201) and isinstance(reply.body, dict):
            return self._scrubbed(transaction_result(reply.body, requested, operation))
        if reply.status == 403:
            raise_misconfigured(reply)
        if 400 <= reply.status < 500 and isinstance(reply.body, dict):
            return error_result(reply, requested, operation, reference=reference)
        return ProviderResult.error(
            ErrorCode.UNREADABLE_REPLY,
            f"OroPay's answer to the {operation} could not be read.",
            amount=requested,
            reference=reference,
        )

    def _scrubbed(self, result: ProviderResult) -> ProviderResult:
        return replace(result, raw=self._scrub(dict(result.raw)))

    # --- what became of it -------------------------------------------------------------------------------------

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        amount = request.amount
        if request.action in ("authorize", "charge"):
            if request.provider_reference:
                reply = self._client.call("GET", f"/transactions/{request.provider_reference}")
                if reply.status == 200 and isinstance(reply.body, dict):
                    return self._scrubbed(transaction_result(reply.body, amount, request.action))
                if reply.status != 404:
                    return self._result(reply, amount, request.action).read_back_failure()
            found = self._find_purchase(request)
            if found is None:
                return ProviderResult.error(NOT_FOUND, "OroPay has no trace of this payment.", amount=amount)
            return self._scrubbed(transaction_result(found, amount, request.action))
        if not request.provider_reference:
            return ProviderResult.error(NOT_FOUND, "No payment to ask about.", amount=amount)
        reply = self._client.call("GET", f"/transactions/{request.provider_reference}")
        if reply.status != 200 or not isinstance(reply.body, dict):
            return self._result(reply, amount, request.action).read_back_failure()
        parent = reply.body
        if request.action == "cancel":
            if parent.get("status") == "REVERSED":
                return self._scrubbed(transaction_result(parent, amount, "cancel"))
            return ProviderResult.error(NOT_FOUND, "OroPay shows no reversal of this payment.", amount=amount)
        # a capture or refund is a transaction of its own, under its parent's reference: among them, ours has
        # our amount; two of the same amount cannot be told apart, so staff decide
        kind = "REFUND" if request.action == "refund" else "SALE"
        since = request.requested_at or datetime.now(UTC) - timedelta(days=30)
        rows = [
            row
            for row in self._search(str(parent.get("reference") or ""), since)
            if row.get("parent_resource_id") == request.provider_reference
            and row.get("type") == kind
            and str(row.get("amount")) == str(to_minor(amount))
        ]
        if not rows:
            return ProviderResult.error(NOT_FOUND, f"OroPay has no trace of this {request.action}.", amount=amount)
        if len(rows) > 1 and request.requested_at and datetime.now(UTC) - request.requested_at < KEY_REPLAY_WINDOW:
            # several of our amount: GP-API still keeps our key, so the same request with it gives back its own answer
            # (and it never reached GP-API if the answer is new: it is made now, as it was meant to be)
            path = "refund" if request.action == "refund" else "capture"
            reply = self._client.call(
                "POST",
                f"/transactions/{request.provider_reference}/{path}",
                {"amount": str(to_minor(amount))},
                key=request.idempotency_key,
            )
            return self._result(reply, amount, request.action, reference=request.provider_reference)
        if len(rows) > 1:
            return ProviderResult.error(
                ErrorCode.UNEXPECTED_RESPONSE,
                f"OroPay shows {len(rows)} {request.action}s of {amount} on {request.provider_reference}; "
                "check which one is this operation in the Global Payments portal.",
                amount=amount,
                reference=request.provider_reference,
            )
        return self._scrubbed(transaction_result(rows[0], amount, request.action))

    def _find_purchase(self, request: StatusRequest) -> dict[str, Any] | None:
        """Our purchase among the account's transactions carrying our reference (captures and refunds carry it
        too, with a parent), since the day before it was sent (or the last 30 days)."""
        since = request.requested_at or datetime.now(UTC) - timedelta(days=30)
        for row in self._search(wire_reference(request.idempotency_key), since):
            if row.get("type") == "SALE" and not row.get("parent_resource_id"):
                return row
        return None

    def _search(self, reference: str, since: datetime) -> list[dict[str, Any]]:
        """Every transaction carrying `reference` created from the day before `since`, page by page."""
        found: list[dict[str, Any]] = []
        page = 1
        while reference:
            params = {
                "reference": reference,
                "from_time_created": (since - timedelta(days=1)).strftime("%Y-%m-%d"),
                "page": str(page),
                "page_size": str(self.search_page_size),
                "order": "DESC",
                "order_by": "TIME_CREATED",
            }
            reply = self._client.call("GET", "/transactions", params)
            if reply.status != 200 or not isinstance(reply.body, dict):
                raise_unavailable(reply)
            rows = [row for row in reply.body.get("transactions") or [] if isinstance(row, dict)]
            found += rows
            if len(rows) < self.search_page_size:
                break
            page += 1
        return found

    # --- connection and notifications --------------------------------------------------------------------------

    def check_connection(self) -> ProviderResult:
        """Getting an access token proves the app id and key."""
        nothing = Money(Decimal("0"), "USD")
        self._client.access_token(fresh=True)
        return ProviderResult.succeeded(nothing, message="OroPay issued an access token for the app credentials.")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify `X-GP-Signature` = sha512_hex(raw body + app key) and read the transaction it reports."""
        key = self.options.text("app_key")
        signature = (header(headers, "X-GP-Signature") or "").strip().lower()
        if not key or not signature:
            raise InvalidSignature("OroPay notification without signature or app key")
        expected = notification_signature(body, key)
        if not hmac.compare_digest(expected, signature):
            raise InvalidSignature("OroPay notification signature does not verify")
        try:
            data = json.loads(body.decode("utf-8"))
        except (UnicodeDecodeError, ValueError) as exc:
            raise InvalidSignature("not an OroPay notification") from exc
        return event_from_notification(data, self._scrub)

    def webhook_event_complete(self, event: WebhookEvent) -> WebhookEvent:
        """A refund's notification names its parent only: a sale, or a capture (a transaction of its own) of an
        authorization. The parent is read back; a capture's refund is then about the authorization, and the capture
        comes first in the event's movements (already recorded, it adds nothing; made in the portal and never
        notified, it is recorded), so the refund is recorded against that very capture."""
        if not event.needs_details or not event.provider_reference or not event.amount:
            return replace(event, needs_details=False)
        reply = self._client.call("GET", f"/transactions/{event.provider_reference}")
        if reply.status == 404:
            raise UnreadableEvent(
                f"OroPay has no transaction {event.provider_reference}, which a refund names as its parent.",
                event_id=event.event_id,
                event_type=event.type,
                payload={},
            )
        if reply.status != 200 or not isinstance(reply.body, dict):
            raise ProviderUnavailable(f"OroPay transaction {event.provider_reference} could not be read")
        parent = reply.body
        authorization = str(parent.get("parent_resource_id") or "")
        if not authorization or parent.get("type") != "SALE":
            return replace(event, needs_details=False)
        try:
            captured = from_minor(int(str(parent["amount"])), str(parent["currency"]))
        except (KeyError, TypeError, ValueError) as exc:
            raise UnreadableEvent(
                f"OroPay capture {event.provider_reference} has no readable amount ({exc}).",
                event_id=event.event_id,
                event_type=event.type,
                payload={},
            ) from exc
        capture = EventMovement(MovementAction.CAPTURE, str(parent["id"]), captured)
        return replace(
            event,
            provider_reference=authorization,
            payment_key=str(parent.get("reference") or "") or None,
            movements=(capture, *event.movements),
            needs_details=False,
        )


def notification_signature(body: bytes, app_key: str) -> str:
    """sha512 hex of the exact body bytes followed by the app key (providers.md §6.2; no HMAC)."""
    return hashlib.sha512(body + app_key.encode()).hexdigest()


def raise_misconfigured(reply: Reply) -> None:
    raise ProviderMisconfigured(f"OroPay refused the request as not authorized (HTTP {reply.status}).")


def raise_unavailable(reply: Reply) -> None:
    raise ProviderUnavailable(f"OroPay's transaction search answered HTTP {reply.status}.")
