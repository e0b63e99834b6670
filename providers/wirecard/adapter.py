"""Wirecard Checkout Seamless (later QENTA, now hobex) over plain HTTP: card, SEPA direct debit and PayPal.

Purchase (providers.md §9.3, §9.4): the payment step's widget stores the card or IBAN in Wirecard's data storage
from the browser (`widget_context` opens the storage; our views only ever see its storageId and orderIdent). The
purchase reserves an order number (`backend/generateOrderNumber`) and sends `frontend/init` with it, its request
fingerprint over the documented order and never the secret, and answers ACTION_REQUIRED with the page the buyer is
sent to. Because the number is reserved first, the row knows its provider reference before the buyer pays, so the
return page and reconcile can ask `getOrderDetails` whatever became of the confirm.

Confirm (§9.4): the provider POSTs the result to the integration's webhook endpoint (`PaymentRequest.notify_url`).
SUCCESS and PENDING must carry a valid HMAC-SHA-512 `responseFingerprint` over a `responseFingerprintOrder` that
names the secret, paymentState, orderNumber and paymentType; anything else is refused (the reference skipped the
check when the order field was missing and read the hashing mode from the request). FAILURE and CANCEL carry no
fingerprint by protocol, so they are believed only as a prompt: every confirm is completed by asking
`getOrderDetails` (`webhook_event_complete`), whose answer, not the POST, is what the ledger records. PENDING is
pending (the reference declined it): the later SUCCESS or FAILURE confirm, the return page or reconcile settles it.

Back-office (§9.5): capture = `deposit` (partial, several), cancel = `approveReversal` (before any deposit),
refund = `refund` (partial, repeated); `cancel` of a capture or refund reference undoes it before day-end closing
(`depositReversal`, `refundReversal`). Wirecard's toolkit takes no idempotency key: the ledger's key keeps a repeat
from reaching the provider, and a follow-up whose answer was lost is looked up in `getOrderDetails` (a deposit or
credit of that amount) before reconcile may send it again.
"""

from __future__ import annotations

import hashlib
import hmac
import ipaddress
import logging
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from typing import Any, ClassVar
from urllib.parse import urlsplit

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
    MalformedEvent,
    MethodInfo,
    Money,
    MovementAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    WebhookEvent,
    currency_exponent,
    to_minor,
)
from providers.wirecard.client import (
    UnreadableReply,
    WirecardClient,
    decode,
    errors_of,
    fingerprint,
    fingerprint_matches,
)

logger = logging.getLogger(__name__)

#: the current live host (§9.1: Wirecard -> QENTA -> hobex); a setting overrides it, as it has moved twice
LIVE_BASE_URL = "https://papi.hobex.at"
SEPA, PAYPAL = "sepa", "paypal"
PAYMENT_TYPES = {"": "CCARD", SEPA: "SEPA-DD", PAYPAL: "PAYPAL"}
#: the methods that store payment data in the browser first (the others go straight to the provider's page)
STORED = ("", SEPA)
LANGUAGES = ("de", "fr", "es", "en")
#: Wirecard's documented confirm source addresses (§9.4), offered as the live allow-list
CONFIRM_IPS = ("195.93.244.97", "185.60.56.35", "185.60.56.36")
BACKEND_PREFIX = ("customerId", "shopId", "password", "secret", "language")
#: what a confirm's fingerprint order must name, besides the secret (§9.2)
SIGNED_FIELDS = ("paymentState", "orderNumber", "paymentType")
#: how long after a deposit or refund was sent "not in getOrderDetails" is taken to mean "never received", so
#: that reconcile may send it again: Wirecard takes no idempotency key, so a request still queued or in flight
#: there (our read timeout is 30 s) would be carried out beside the re-sent one
RESEND_AFTER = timedelta(minutes=15)
#: the custom parameter we add to frontend/init; Wirecard echoes it with every confirm, FAILURE and CANCEL included
ECHO_REFERENCE = "paydeskOrderNumber"


def amount_text(money: Money) -> str:
    """§9.3: a `.` decimal separator, the currency's number of decimals, no thousands separator."""
    places = currency_exponent(money.currency)
    return f"{money.amount.quantize(Decimal(1).scaleb(-places)):f}"


def parse_money(value: str | None, currency: str) -> Money | None:
    if not value or not currency:
        return None
    try:
        amount = Decimal(value.replace(",", "."))
    except InvalidOperation:
        return None
    if not amount.is_finite():
        return None
    return Money(amount.quantize(Decimal(1).scaleb(-currency_exponent(currency))), currency)


def reference_parts(reference: str) -> tuple[str, str, str]:
    """(order number, "payment"|"credit"|"", its number) of one of our references: `<order>`, `<order>/payment/<n>`
    for a deposit, `<order>/credit/<n>` for a refund."""
    order, _, rest = reference.partition("/")
    kind, _, number = rest.partition("/")
    return order, kind, number


class WirecardAdapter(Adapter):
    key = "wirecard"
    label = "Wirecard Checkout Seamless"
    capabilities: ClassVar[frozenset[Capability]] = frozenset(
        {
            Capability.AUTHORIZE,
            Capability.CHARGE,
            Capability.CAPTURE,
            Capability.PARTIAL_CAPTURE,
            Capability.MULTIPLE_CAPTURE,
            Capability.CANCEL,
            Capability.REFUND,
            Capability.PARTIAL_REFUND,
            Capability.WEBHOOKS,
            Capability.FETCH_STATUS,
        }
    )
    #: an approval is deposited within about 7-14 days (§9.5); the shorter bound
    authorization_ttl_hours = 7 * 24
    #: nothing is registered at Wirecard: every payment names this URL as its confirmUrl (§9.4)
    webhook_events = ("confirm (server-to-server, sent with each payment as its confirmUrl)",)
    webhook_signing_field = "secret"  # the confirm's responseFingerprint is an HMAC with the shop's secret
    webhook_where = "Nothing to set up at Wirecard: each payment names this URL; keep the confirm source addresses"
    live_base_url = LIVE_BASE_URL
    test_base_url = LIVE_BASE_URL  # no separate test host: the credentials select demo, test or live mode
    connect_timeout = 5.0
    read_timeout = 30.0

    # --- settings -----------------------------------------------------------------------------------------------

    @property
    def endpoint(self) -> str:
        """The sandbox's address as given; for test and live, the configured host, else the current live host."""
        if self.base_url and self.base_url not in (self.live_base_url, self.test_base_url):
            return self.base_url
        return self.options.text("base_url", self.live_base_url).rstrip("/")

    @property
    def client(self) -> WirecardClient:
        return WirecardClient(self.endpoint, timeouts=(self.connect_timeout, self.read_timeout))

    @property
    def secret(self) -> str:
        return self.options.text("secret")

    def language(self, requested: str = "") -> str:
        """The buyer's language where Wirecard has it (de, fr, es, en), else the integration's."""
        for candidate in (requested, self.options.text("language", "en")):
            code = (candidate or "").split("-")[0].split("_")[0].lower()
            if code in LANGUAGES:
                return code
        return "en"

    def _account(self) -> dict[str, str]:
        return {"customerId": self.options.text("customer_id"), "shopId": self.options.text("shop_id")}

    # --- methods ------------------------------------------------------------------------------------------------

    def methods(self, integration: IntegrationInfo) -> list[MethodInfo]:
        """Card (`wirecard_<id>`), SEPA direct debit (`…_sepa`, EUR only) and PayPal (`…_paypal`)."""
        card = self.card_method(integration)
        name = integration.name
        return [
            card,
            MethodInfo(
                identifier=f"{self.key}_{integration.id}_{SEPA}",
                integration_id=integration.id,
                provider_key=self.key,
                variant=SEPA,
                labels={"en": self.options.text("sepa_label", f"{name} - SEPA")},
                short_labels={"en": self.options.text("sepa_short_label", "SEPA direct debit")},
                widget=f"{self.key}/sepa_widget.html",
                currencies=frozenset({"EUR"}),
            ),
            MethodInfo(
                identifier=f"{self.key}_{integration.id}_{PAYPAL}",
                integration_id=integration.id,
                provider_key=self.key,
                variant=PAYPAL,
                labels={"en": self.options.text("paypal_label", f"{name} - PayPal")},
                short_labels={"en": self.options.text("paypal_short_label", "PayPal")},
                widget=f"{self.key}/paypal_widget.html",
            ),
        ]

    def widget_context(self, method: MethodInfo, context: CheckoutContext | None = None) -> dict[str, Any]:
        """Open a data storage for this payment step (card and SEPA): its script's address and the storage's ids,
        which are public; the secret stays here. Nothing to open for PayPal."""
        if method.variant not in STORED:
            return {"method": method}
        order_ident = uuid.uuid4().hex
        try:
            storage = self.storage_init(order_ident)
        except (ProviderMisconfigured, ProviderUnavailable, UnreadableReply):
            storage = None
        if storage is None:
            return {"method": method, "error": "This payment method is not available right now; please choose another."}
        return {
            "method": method,
            "javascript_url": storage["javascriptUrl"],
            "storage_id": storage["storageId"],
            "order_ident": order_ident,
        }

    def storage_init(self, order_ident: str, *, language: str = "") -> dict[str, str] | None:
        """`dataStorage/init` (§9.3) with its fixed fingerprint order; the reply's storageId and javascriptUrl, or
        None when Wirecard refused (its errors are logged)."""
        fields = {
            **self._account(),
            "orderIdent": order_ident,
            "returnUrl": "",
            "language": self.language(language),
            "javascriptScriptVersion": "",
        }
        names = ["customerId", "shopId", "orderIdent", "returnUrl", "language", "javascriptScriptVersion", "secret"]
        fields["requestFingerprint"] = fingerprint(names, fields, self.secret)
        try:
            reply = self.client.post("dataStorage/init", fields)
        except UnreadableReply:
            return None
        if errors_of(reply) or not reply.get("storageId"):
            logger.warning("Wirecard dataStorage/init refused: %s", [e["message"] for e in errors_of(reply)])
            return None
        return reply

    # --- purchase -----------------------------------------------------------------------------------------------

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, auto_deposit=False)

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, auto_deposit=True)

    def _purchase(self, request: PaymentRequest, *, auto_deposit: bool) -> ProviderResult:
        variant = request.method.variant
        money = request.amount
        if variant not in PAYMENT_TYPES:
            return ProviderResult.declined(ErrorCode.CONFIG_ERROR, "Unknown Wirecard payment method.", amount=money)
        if variant == SEPA and money.currency != "EUR":
            return ProviderResult.declined(
                ErrorCode.UNSUPPORTED_CURRENCY, "SEPA direct debit takes euros only.", amount=money
            )
        data = request.payment_data
        if variant in STORED and not (data.get("storage_id") and data.get("order_ident")):
            return ProviderResult.declined(
                ErrorCode.MISSING_PAYMENT_DATA,
                "The payment details were not stored; please enter them again.",
                amount=money,
            )
        try:
            number_reply = self._backend("generateOrderNumber", {})
        except UnreadableReply:
            return ProviderResult.error(
                ErrorCode.UNREADABLE_REPLY, "Wirecard's answer could not be read.", amount=money
            )
        number = number_reply.get("orderNumber", "")
        if number_reply.get("status") == "1":
            # a call naming nothing of an order fails its parameter check only for the account's credentials
            raise ProviderMisconfigured(f"Wirecard refused the merchant account: {_messages(number_reply)}")
        if number_reply.get("status") != "0" or not number:
            # no order number: no payment page exists, so no money can move; reconcile finds nothing and ends it
            return ProviderResult.error(ErrorCode.UNEXPECTED_RESPONSE, _messages(number_reply), amount=money)
        fields = self._frontend_fields(request, number, auto_deposit=auto_deposit)
        try:
            reply = self.client.post("frontend/init", fields)
        except UnreadableReply:
            return ProviderResult.error(
                ErrorCode.UNREADABLE_REPLY, "Wirecard's answer could not be read.", amount=money, reference=number
            )
        raw = self._raw(number, money, PAYMENT_TYPES[variant])
        if errors_of(reply) or not reply.get("redirectUrl"):
            code = ErrorCode.INVALID_PAYMENT_DATA if variant in STORED else ErrorCode.INVALID_REQUEST
            return ProviderResult.declined(
                code, _messages(reply, consumer=True), amount=money, raw={**raw, **_errors_raw(reply)}
            )
        return ProviderResult.action_required(money, {"redirect_url": reply["redirectUrl"]}, reference=number, raw=raw)

    def _frontend_fields(self, request: PaymentRequest, number: str, *, auto_deposit: bool) -> dict[str, str]:
        """frontend/init's fields in the order the fingerprint lists them (the official library's order, §9.2)."""
        back = request.return_url or "about:blank"
        parts = urlsplit(request.return_url)
        fields = {
            **self._account(),
            "language": self.language(str(request.options.get("language", ""))),
            "paymentType": PAYMENT_TYPES[request.method.variant],
            "amount": amount_text(request.amount),
            "currency": request.amount.currency,
            "orderDescription": f"Order {request.reference}"[:255],
            "successUrl": back,
            "cancelUrl": back,
            "failureUrl": back,
            "pendingUrl": back,
            "serviceUrl": f"{parts.scheme}://{parts.netloc}/" if parts.netloc else back,
            "confirmUrl": request.notify_url or back,
            "consumerIpAddress": str(request.options.get("consumer_ip", "")) or "127.0.0.1",
            "consumerUserAgent": str(request.options.get("consumer_user_agent", "")) or "Paydesk",
            "orderNumber": number,
            "orderReference": request.reference[:128],
            "autoDeposit": "yes" if auto_deposit else "no",
        }
        if request.method.variant in STORED:
            fields["storageId"] = request.payment_data["storage_id"]
            fields["orderIdent"] = request.payment_data["order_ident"]
        # echoed with FAILURE and CANCEL, which carry no order number and no fingerprint of their own: signed by us,
        # so that nobody else can post one naming our order first (its event id would make the genuine one a repeat)
        fields[ECHO_REFERENCE] = self._echo_reference(number)
        names = [
            "customerId",
            "shopId",
            "language",
            "secret",
            *[n for n in fields if n not in ("customerId", "shopId", "language")],
            "requestFingerprintOrder",
        ]
        fields["requestFingerprintOrder"] = ",".join(names)
        fields["requestFingerprint"] = fingerprint(names, fields, self.secret)
        return fields

    def _echo_reference(self, number: str) -> str:
        """`<order number>.<tag>`: the tag is an HMAC of the number with the secret. Wirecard echoes custom
        parameters to the confirm URL only (server to server), so the buyer's browser never sees it."""
        tag = hmac.new(self.secret.encode(), f"confirm:{number}".encode(), hashlib.sha256).hexdigest()[:32]
        return f"{number}.{tag}"

    def _raw(self, number: str, money: Money, payment_type: str, **extra: Any) -> dict[str, Any]:
        return {
            "orderNumber": number,
            "paymentType": payment_type,
            "amount": to_minor(money),
            "currency": money.currency,
            **extra,
        }

    # --- back-office ----------------------------------------------------------------------------------------------

    def _backend(self, operation: str, fields: Mapping[str, str]) -> dict[str, str]:
        """`backend/<operation>`: the fixed prefix, then the operation's fields, in fingerprint order (§9.5)."""
        values = {
            **self._account(),
            "password": self.options.text("backend_password"),
            "language": self.language(),
            **fields,
        }
        names = [*BACKEND_PREFIX, *fields]
        values["requestFingerprint"] = fingerprint(names, values, self.secret)
        return self.client.post(f"backend/{operation}", values)

    def _operate(
        self, operation: str, fields: Mapping[str, str], request: FollowUpRequest, refused: ErrorCode
    ) -> tuple[dict[str, str] | None, ProviderResult | None]:
        """Run a back-end operation; (reply, None) when it succeeded, else (None, the result saying why not)."""
        money = request.amount
        try:
            reply = self._backend(operation, fields)
        except UnreadableReply:
            return None, ProviderResult.error(
                ErrorCode.UNREADABLE_REPLY, "Wirecard's answer could not be read.", amount=money
            )
        status = reply.get("status", "")
        if status == "0":
            return reply, None
        raw = {"operation": operation, "status": status, **_errors_raw(reply)}
        message = _messages(reply)
        if status == "1":
            return None, ProviderResult.declined(ErrorCode.INVALID_REQUEST, message, amount=money, raw=raw)
        if status == "2":
            return None, ProviderResult.declined(refused, message, amount=money, raw=raw)
        if status == "3":
            return None, ProviderResult.declined(ErrorCode.PROCESSING_ERROR, message, amount=money, raw=raw)
        # 4 (internal error) or no status at all: we cannot tell whether it was carried out
        return None, ProviderResult.error(ErrorCode.UNEXPECTED_RESPONSE, message, amount=money, raw=raw)

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """`deposit` of all or part of the approval; several deposits may follow one another."""
        number = reference_parts(request.provider_reference)[0]
        over = request.source_amount is not None and request.amount.amount > request.source_amount.amount
        refused = ErrorCode.AMOUNT_EXCEEDS_AUTHORIZED if over else ErrorCode.NOT_CAPTURED
        fields = {"orderNumber": number, "amount": amount_text(request.amount), "currency": request.amount.currency}
        reply, failed = self._operate("deposit", fields, request, refused)
        if failed is not None:
            return failed
        assert reply is not None  # noqa: S101 - _operate returns one or the other
        payment = reply.get("paymentNumber", "")
        return ProviderResult.succeeded(
            request.amount,
            reference=f"{number}/payment/{payment}",
            raw=self._raw(number, request.amount, "", paymentNumber=payment),
        )

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """`refund` (a credit note) of part or all of what was deposited; repeated refunds add up to that at most."""
        number = reference_parts(request.provider_reference)[0]
        fields = {"orderNumber": number, "amount": amount_text(request.amount), "currency": request.amount.currency}
        reply, failed = self._operate("refund", fields, request, ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE)
        if failed is not None:
            return failed
        assert reply is not None  # noqa: S101
        credit = reply.get("creditNumber", "")
        return ProviderResult.succeeded(
            request.amount,
            reference=f"{number}/credit/{credit}",
            raw=self._raw(number, request.amount, "", creditNumber=credit),
        )

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        """`approveReversal` of an approval nothing was deposited from; of a deposit or refund reference, its undo
        before day-end closing (`depositReversal`, `refundReversal`)."""
        number, kind, item = reference_parts(request.provider_reference)
        if kind == "payment":
            operation, fields, refused = (
                "depositReversal",
                {"orderNumber": number, "paymentNumber": item},
                ErrorCode.INVALID_STATE,
            )
        elif kind == "credit":
            operation, fields, refused = (
                "refundReversal",
                {"orderNumber": number, "creditNumber": item},
                ErrorCode.INVALID_STATE,
            )
        else:
            operation, fields, refused = "approveReversal", {"orderNumber": number}, ErrorCode.NOT_CANCELED
        reply, failed = self._operate(operation, fields, request, refused)
        if failed is not None:
            return failed
        return ProviderResult.succeeded(
            request.amount,
            reference=request.provider_reference,
            raw=self._raw(number, request.amount, "", operation=operation),
        )

    # --- status ------------------------------------------------------------------------------------------------

    def order_details(self, number: str) -> dict[str, str] | None:
        """`getOrderDetails`: the order's fields, or None when Wirecard knows no paid order by that number."""
        reply = self._backend("getOrderDetails", {"orderNumber": number})
        if reply.get("status") != "0" or not reply.get("order.1.state"):
            return None
        return reply

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        """Ask `getOrderDetails` of the order the row is about: the purchase's state, or the deposit or credit the
        row made (by its number, or, when its answer was lost, one of the row's amount)."""
        money = request.amount
        reference = request.provider_reference or ""  # a follow-up's row carries its source's until it is answered
        number, kind, item = reference_parts(reference)
        if not number:
            # frontend/init never answered: no buyer was sent to a payment page, so no money can have moved
            return ProviderResult.error(NOT_FOUND, "Wirecard never gave this payment an order number.", amount=money)
        try:
            details = self.order_details(number)
        except UnreadableReply:
            return ProviderResult.error(
                ErrorCode.UNREADABLE_REPLY, "Wirecard's answer could not be read.", amount=money
            )
        if request.action in ("authorize", "charge", "purchase"):
            return self._purchase_status(request, number, details)
        if details is None:
            return ProviderResult.error(ErrorCode.UNKNOWN_REFERENCE, f"Wirecard knows no order {number}.", amount=money)
        currency = details.get("order.1.currency", money.currency)
        if request.action == "cancel":
            if details.get("order.1.state") == "APPROVALREVERSED":
                return ProviderResult.succeeded(money, reference=number, raw=self._raw(number, money, ""))
            return ProviderResult.error(NOT_FOUND, "The approval was not reversed.", amount=money)
        prefix, number_field, amount_field, done = (
            ("payment", "paymentNumber", "depositAmount", "DEPOSITED")
            if request.action == "capture"
            else ("credit", "creditNumber", "amount", "CREDITED")
        )
        items = _items(details, prefix)
        if kind == prefix and item:
            candidates = [i for i in items if i.get(number_field) == item]
        else:
            # no idempotency key: a deposit or credit of this amount that no other row of the order stands for
            candidates = [
                i
                for i in items
                if i.get("state") == done
                and _amount_of(i.get(amount_field)) == money.amount
                and f"{number}/{prefix}/{i.get(number_field, '')}" not in request.claimed_references
            ]
        if not candidates:
            if request.requested_at is not None and datetime.now(UTC) - request.requested_at < RESEND_AFTER:
                # without an idempotency key a re-send now could be carried out beside the lost request
                return ProviderResult.error(
                    ErrorCode.TOO_EARLY,
                    f"Wirecard's order {number} has no such {prefix} yet; asked again before it is sent again.",
                    amount=money,
                )
            return ProviderResult.error(NOT_FOUND, f"Wirecard's order {number} has no such {prefix}.", amount=money)
        found = candidates[-1]
        found_money = parse_money(found.get(amount_field), currency) or money
        ref = f"{number}/{prefix}/{found.get(number_field, '')}"
        if found.get("state") != done:
            return ProviderResult.declined(
                ErrorCode.INVALID_STATE, f"The {prefix} was reversed.", amount=found_money, reference=ref
            )
        return ProviderResult.succeeded(found_money, reference=ref, raw=self._raw(number, found_money, ""))

    def _purchase_status(
        self, request: StatusRequest, number: str, details: Mapping[str, str] | None
    ) -> ProviderResult:
        money = request.amount
        if details is None:
            return ProviderResult.action_required(
                money, {}, reference=number, message="The buyer has not finished paying at Wirecard yet."
            )
        state = details.get("order.1.state", "")
        currency = details.get("order.1.currency", money.currency)
        approved = parse_money(details.get("order.1.approveAmount") or details.get("order.1.amount"), currency) or money
        raw = self._raw(number, approved, details.get("order.1.paymentType", ""), state=state)
        if state == "PENDING":
            return ProviderResult.pending(
                money,
                reference=number,
                code=ErrorCode.PENDING_AT_PROVIDER,
                message="Wirecard reports the payment pending.",
                raw=raw,
            )
        if state == "REJECTED":
            return ProviderResult.declined(
                ErrorCode.CARD_DECLINED, "The payment was declined.", amount=money, reference=number, raw=raw
            )
        if state == "CANCELED":
            return ProviderResult.declined(
                ErrorCode.CANCELED, "The buyer canceled the payment.", amount=money, reference=number, raw=raw
            )
        if state == "APPROVALREVERSED":
            # reversed in Wirecard's back office before we recorded it: nothing is held (a reversal needs an order
            # without deposits), so it is not recorded as an authorization that holds money
            return ProviderResult.declined(
                ErrorCode.CANCELED,
                "The approval was reversed at Wirecard before it was recorded here; nothing is held.",
                amount=money,
                reference=number,
                raw=raw,
            )
        if state != "APPROVED":
            return ProviderResult.error(
                ErrorCode.UNEXPECTED_RESPONSE, f"Order state {state!r}.", amount=money, reference=number, raw=raw
            )
        if request.action == "charge":
            deposited = sum(
                (parse_money(i.get("depositAmount"), currency) or Money(Decimal(0), currency)).amount
                for i in _items(details, "payment")
                if i.get("state") == "DEPOSITED"
            )
            if deposited < approved.amount:
                return ProviderResult.pending(
                    money,
                    reference=number,
                    code=ErrorCode.PENDING_AT_PROVIDER,
                    message="Approved, not deposited yet.",
                    raw=raw,
                )
        return ProviderResult.succeeded(approved, reference=number, raw=raw)

    # --- confirm ---------------------------------------------------------------------------------------------------

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """A confirm POST (§9.4). SUCCESS and PENDING only with a valid fingerprint; FAILURE and CANCEL (unsigned by
        protocol) only as a prompt to ask. Either way `webhook_event_complete` asks Wirecard what to record."""
        try:
            fields = decode(body.decode("utf-8", "replace"))
        except UnreadableReply as exc:
            raise MalformedEvent("not a Wirecard confirm") from exc
        state = fields.get("paymentState", "")
        if state in ("SUCCESS", "PENDING"):
            self._verify_confirm(fields)
            number = fields["orderNumber"]
        elif state in ("FAILURE", "CANCEL"):
            number, _, _tag = fields.get(ECHO_REFERENCE, "").partition(".")
            if not number.isdigit():
                raise MalformedEvent("an unsigned confirm without our order number")
            if not self.secret or not fingerprint_matches(self._echo_reference(number), fields[ECHO_REFERENCE]):
                raise InvalidSignature("the echoed order reference is not ours")
        else:
            raise InvalidSignature("no paymentState")
        amount = parse_money(fields.get("amount"), fields.get("currency", ""))
        return WebhookEvent(
            event_id=f"confirm-{number}-{state}",
            type=f"confirm.{state.lower()}",
            provider_reference=number,
            amount=amount,
            data={
                k: v
                for k, v in fields.items()
                if k in ("paymentState", "paymentType", "orderNumber", "amount", "currency")
            },
            needs_details=True,
        )

    def _verify_confirm(self, fields: Mapping[str, str]) -> None:
        names = [n for n in fields.get("responseFingerprintOrder", "").split(",") if n]
        if "secret" not in names:
            raise InvalidSignature("the fingerprint order does not name the secret")
        for name in SIGNED_FIELDS:
            if name not in names or not fields.get(name):
                raise InvalidSignature(f"{name} is not signed")
        if not self.secret or not fingerprint_matches(
            fingerprint(names, fields, self.secret), fields.get("responseFingerprint", "")
        ):
            raise InvalidSignature("responseFingerprint does not verify")

    def webhook_event_complete(self, event: WebhookEvent) -> WebhookEvent:
        """What the order's details say happened, as movements; the confirm's own fields are not trusted for it."""
        number = event.provider_reference or ""
        signed = event.type in ("confirm.success", "confirm.pending")
        try:
            details = self.order_details(number)
        except UnreadableReply as exc:
            if signed:  # Wirecard signed that the payment exists: ask again (the task retries), never drop it
                raise ProviderUnavailable(f"Wirecard getOrderDetails of {number}: unreadable answer") from exc
            details = None
        if details is None:
            if signed:
                raise ProviderUnavailable(f"Wirecard getOrderDetails does not show the signed order {number} yet")
            # an unsigned FAILURE or CANCEL (anyone may post one) for an order Wirecard does not show: nothing
            return WebhookEvent(event.event_id, event.type, number, event.amount, event.data)
        state = details.get("order.1.state", "")
        currency = details.get("order.1.currency", "")
        approved = parse_money(details.get("order.1.approveAmount") or details.get("order.1.amount"), currency)
        whole = parse_money(details.get("order.1.amount"), currency)
        movements: list[EventMovement] = []
        if state in ("REJECTED", "CANCELED") and whole is not None:
            code = ErrorCode.CANCELED if state == "CANCELED" else ErrorCode.CARD_DECLINED
            movements.append(
                EventMovement(
                    MovementAction.DECLINE, number, whole, error_code=code.value, message=f"Wirecard: {state.lower()}"
                )
            )
        elif state in ("APPROVED", "APPROVALREVERSED") and approved is not None:
            movements.append(EventMovement(MovementAction.AUTHORIZE, number, approved))
            for payment in _items(details, "payment"):
                money = parse_money(payment.get("depositAmount"), currency)
                if payment.get("state") == "DEPOSITED" and money is not None:
                    movements.append(
                        EventMovement(MovementAction.CAPTURE, f"{number}/payment/{payment.get('paymentNumber')}", money)
                    )
            for credit in _items(details, "credit"):
                money = parse_money(credit.get("amount"), currency)
                if credit.get("state") == "CREDITED" and money is not None:
                    movements.append(
                        EventMovement(MovementAction.REFUND, f"{number}/credit/{credit.get('creditNumber')}", money)
                    )
            if state == "APPROVALREVERSED":
                movements.append(EventMovement(MovementAction.CANCEL, number, approved))
        return WebhookEvent(event.event_id, event.type, number, event.amount, event.data, tuple(movements))

    def webhook_source_allowed(self, address: str) -> bool:
        """The confirm's source address against the configured allow-list (addresses or networks); none: any."""
        allowed = self.options.choices("confirm_ip_allowlist")
        if not allowed:
            return True
        try:
            ip = ipaddress.ip_address(address)
        except ValueError:
            return False
        for entry in allowed:
            try:
                if ip in ipaddress.ip_network(entry.strip(), strict=False):
                    return True
            except ValueError:
                continue
        return False

    def webhook_reply(self, accepted: bool) -> tuple[str, str]:
        """The answer the official library builds for a confirm (§9.4)."""
        if accepted:
            return '<QPAY-CONFIRMATION-RESPONSE result="OK"/>', "text/xml"
        return '<QPAY-CONFIRMATION-RESPONSE result="NOK" message="not accepted"/>', "text/xml"

    def check_connection(self) -> ProviderResult | None:
        money = Money(Decimal(0), "EUR")
        reply = self._backend("generateOrderNumber", {})
        if reply.get("status") != "0":
            raise ProviderMisconfigured(f"Wirecard refused the merchant account: {_messages(reply)}")
        return ProviderResult.succeeded(money, message="Wirecard accepted the credentials.")


def _amount_of(value: str | None) -> Decimal | None:
    try:
        return Decimal((value or "").replace(",", "."))
    except InvalidOperation:
        return None


def _items(details: Mapping[str, str], prefix: str) -> list[dict[str, str]]:
    """`payment.1.N.*` or `credit.1.N.*` (1-based) as a list of dicts, in order."""
    found: dict[int, dict[str, str]] = {}
    start = f"{prefix}.1."
    for key, value in details.items():
        if key.startswith(start):
            index, _, field = key[len(start) :].partition(".")
            if index.isdigit() and field:
                found.setdefault(int(index), {})[field] = value
    return [found[i] for i in sorted(found)]


def _messages(reply: Mapping[str, str], *, consumer: bool = False) -> str:
    errors = errors_of(reply)
    if not errors:
        return "Wirecard did not carry it out."
    field = "consumerMessage" if consumer else "message"
    return " ".join(e.get(field) or e.get("message") or e.get("errorCode", "") for e in errors)


def _errors_raw(reply: Mapping[str, str]) -> dict[str, Any]:
    return {"errors": [{k: v for k, v in e.items() if v} for e in errors_of(reply)]}
