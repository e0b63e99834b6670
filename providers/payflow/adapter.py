"""PayPal Payflow Gateway and Payments Pro: Payflow's name-value protocol over HTTPS with `requests` (no SDK).

One adapter class serves both integration types (`payflow`, `payflow_pro`); they differ in key and label only.
Each integration exposes two methods: the card (`<key>_<id>`) and PayPal Express Checkout (`<key>_<id>_express`).

Card data never reaches our server. A purchase asks Payflow for a secure token (CREATESECURETOKEN=Y) and answers
ACTION_REQUIRED: the buyer's browser posts the card with the token straight to Payflow (transparent redirect), which
sends the browser back to our return URL. The return page (payments.services.payment_complete) then asks Payflow
with an inquiry (TRXTYPE=I) what the token's transaction did, so nothing the browser brings back is trusted.

Idempotency: every call that can move money carries `X-VPS-REQUEST-ID` derived from our idempotency key
(`request_id`); Payflow answers a repeat with the first response plus DUPLICATE=1 and does nothing again. Each
money call also carries `CUSTREF` derived from the key, so `fetch_status` can find an operation whose answer was
lost (inquiry by CUSTREF, from the day before the request was sent: Payflow otherwise searches only the last 30
days) and say NOT_FOUND when Payflow never saw it. Sandbox and live differ only in base URL.

Inquiries ask for VERBOSITY=HIGH: their reply then says the transaction's amount, and a reply without it is not
read as "the amount we asked for" (it stays an unreadable answer; the row stays open).

Reference transactions (ORIGID with no card) use only `PaymentRequest.source_reference`, a prior transaction of
the same buyer the server chose from its ledger; nothing the browser sends can name the card to charge.

Zero-amount authorization (a setting): the card form's transaction is a 0.00 validation. On return it is reported
as `ProviderResult.validation`, and the payment rests on it: with "authorization for the required amount" off, an
authorization only clones it (nothing is held; capture is a reference sale), otherwise an authorization or sale
refers to it (ORIGID).

Billing fields are normalised and cut to the lengths the Payflow Pro developer's guide gives (`FIELD_LIMITS`; a US
ZIP is 5 or 9 digits with no dash), so Payflow never refuses a payment for the buyer's address format.

The wire (the POST, our key's ids, amounts and fields) is in `client.py`; replies become results in `results.py`.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, timedelta
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlencode

import requests

from providers.base import (
    Adapter,
    Capability,
    CheckoutContext,
    ErrorCode,
    FollowUpRequest,
    IntegrationInfo,
    MethodInfo,
    Money,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    StatusRequest,
    scrub,
    to_minor,
)
from providers.payflow.client import (
    address_fields,
    billing_fields,
    custref,
    format_amount,
    parse_amount,
    post,
    request_id,
    secure_token_id,
)
from providers.payflow.results import express_pending, incomplete, transaction_result, unreadable
from providers.sessions import shared_session

#: what tests and the settings form import from here, as before the adapter was split
__all__ = ["CARD_TYPES", "CURRENCIES", "PayflowAdapter", "PayflowProAdapter", "billing_fields", "custref"]
__all__ += ["format_amount", "request_id"]

EXPRESS = "express"  # the Express Checkout method's variant
#: provider_reference of a purchase waiting for the buyer's card: the secure token the inquiry needs
TOKEN_PREFIX = "securetoken:"  # noqa: S105 - a label, not a secret
PNREF = re.compile(r"^[A-Za-z0-9]{12}$")
#: amounts Payflow takes: the docs advise `total < 99999` (domain.md §3.4); we refuse 100,000 and more
MAXIMUM_TOTAL = Decimal("100000")
#: currencies PayPal processes (PayPal's currency codes page); HUF, JPY and TWD take no decimals there
CURRENCIES = frozenset(
    "AUD BRL CAD CHF CZK DKK EUR GBP HKD HUF ILS JPY MXN MYR NOK NZD PHP PLN SEK SGD THB TWD USD".split()
)
#: how much time an inquiry by CUSTREF searches: "less than 30 days" between STARTTIME and ENDTIME
INQUIRY_WINDOW = timedelta(days=29)
CARD_TYPES = (
    ("visa", "Visa"),
    ("mastercard", "Mastercard"),
    ("discover", "Discover"),
    ("american_express", "American Express"),
)


class PayflowAdapter(Adapter):
    key = "payflow"
    label = "PayPal Payflow Gateway"
    capabilities: ClassVar = frozenset(
        {
            Capability.AUTHORIZE,
            Capability.CHARGE,
            Capability.CAPTURE,
            # One delayed capture per authorization: we send CAPTURECOMPLETE=Y, so a capture below the authorized
            # amount releases the rest. Several captures (CAPTURECOMPLETE=N) work only where PayPal is the
            # processor, which providers.md marks unverified [mem]; hence no MULTIPLE_CAPTURE.
            Capability.PARTIAL_CAPTURE,
            Capability.CANCEL,
            Capability.REFUND,
            Capability.PARTIAL_REFUND,  # several credits, each at most what is left
            Capability.FETCH_STATUS,
            Capability.VALIDATE,  # reference transactions on a card validated with a zero amount
        }
    )
    # A Payflow authorization can be captured for 29 days; the issuer only guarantees the funds for the first
    # 3 (the honor period), after which the capture may decline.
    authorization_ttl_hours = 29 * 24
    # "The PNREF returned in the original transaction is valid for use in reference transactions for a period of
    # 12 months" (Payflow Pro developer's guide, reference transactions)
    validation_ttl_hours = 365 * 24
    live_base_url = "https://payflowpro.paypal.com"
    test_base_url = "https://pilot-payflowpro.paypal.com"
    live_link_url = "https://payflowlink.paypal.com"
    test_link_url = "https://pilot-payflowlink.paypal.com"
    live_express_url = "https://www.paypal.com/cgi-bin/webscr"
    test_express_url = "https://www.sandbox.paypal.com/cgi-bin/webscr"

    #: seconds; X-VPS-CLIENT-TIMEOUT tells the gateway how long we wait
    connect_timeout: ClassVar[float] = 5.0
    read_timeout: float = 45.0

    # --- settings and addresses -------------------------------------------------------------------------

    @property
    def _is_sandbox(self) -> bool:
        return bool(self.base_url) and self.base_url not in (self.live_base_url, self.test_base_url)

    @property
    def _is_test(self) -> bool:
        return self.base_url == self.test_base_url

    @property
    def link_url(self) -> str:
        """Where the browser posts the card (Payflow Link); the sandbox serves a stand-in."""
        if self._is_sandbox:
            return f"{self.base_url}/link/"
        return self.test_link_url if self._is_test else self.live_link_url

    @property
    def express_url(self) -> str:
        """PayPal's approval page for an Express Checkout token."""
        if self._is_sandbox:
            return f"{self.base_url}/express/approve"
        return self.test_express_url if self._is_test else self.live_express_url

    def _credentials(self) -> dict[str, str]:
        vendor = self.options.text("vendor")
        password = self.options.text("password")
        if not vendor or not password:
            raise ProviderMisconfigured("The Payflow integration has no vendor or password.")
        return {
            "PARTNER": self.options.text("partner", "PayPal"),
            "VENDOR": vendor,
            "USER": self.options.text("user", vendor),
            "PWD": password,
        }

    @property
    def _clones_validations(self) -> bool:
        """Zero-amount authorization on and "authorization for the required amount" off: an authorization on a
        validated card holds nothing (the reference's clone); the money is taken at capture."""
        return self.options.flag("zero_amount_authorization") and not self.options.flag(
            "authorization_for_required_amount"
        )

    @property
    def debug(self) -> bool:
        return self.options.flag("debug_mode")

    @cached_property
    def _http(self) -> requests.Session:
        return shared_session(self.key, self.base_url, self.options.text("vendor") + "|" + self.options.text("user"))

    # --- the wire -------------------------------------------------------------------------------------------

    def _call(self, operation: str, params: Mapping[str, Any], *, key: str | None) -> dict[str, str] | None:
        """POST one NVP request with our credentials (`client.post`); the reply's pairs, or None when unreadable."""
        body = {**self._credentials(), **params}
        if self.debug:
            body["VERBOSITY"] = "HIGH"
        return post(
            self._http,
            f"{self.base_url or self.live_base_url}/",
            operation,
            body,
            key=key,
            timeouts=(self.connect_timeout, self.read_timeout),
            debug=self.debug,
            scrub=self._scrub,
        )

    def _scrub(self, data: Any) -> Any:
        return scrub(data, secrets=[self.options.text("password")], keys=("PWD", "ACCT", "CVV2"))

    def _raw(self, pairs: Mapping[str, str], amount: Money) -> dict[str, Any]:
        raw: dict[str, Any] = dict(self._scrub(dict(pairs)))
        raw["amount"] = to_minor(amount)  # in minor units, as every adapter's raw has it
        raw["currency"] = amount.currency
        return raw

    def _result(self, pairs: Mapping[str, str], amount: Money, *, reference: str | None = None) -> ProviderResult:
        """A transaction reply (or an inquiry's ORIG* fields) as our result, its pairs scrubbed into `raw`."""
        return transaction_result(pairs, amount, self._raw(pairs, amount), reference=reference)

    def _send(
        self, operation: str, params: Mapping[str, Any], amount: Money, *, key: str, reference: str | None = None
    ) -> ProviderResult:
        pairs = self._call(operation, {**params, "CUSTREF": custref(key)}, key=key)
        if pairs is None:
            return unreadable(operation, amount)
        return self._result(pairs, amount, reference=reference)

    # --- methods and applicability ------------------------------------------------------------------------

    def methods(self, integration: IntegrationInfo) -> list[MethodInfo]:
        """The card (transparent redirect) and PayPal Express Checkout, each with its own labels and action."""
        express_label = self.options.text("express_checkout_label", "PayPal")
        express_short = self.options.text("express_checkout_short_label", express_label)
        express_action = self.settings.get("express_checkout_payment_action") or integration.payment_action
        return [
            self.card_method(integration),
            MethodInfo(
                identifier=f"{self.key}_{integration.id}_{EXPRESS}",
                integration_id=integration.id,
                provider_key=self.key,
                variant=EXPRESS,
                labels={"en": express_label},
                short_labels={"en": express_short},
                widget="payflow/express_widget.html",
                payment_action=PaymentAction(express_action),
            ),
        ]

    def is_applicable(self, context: CheckoutContext) -> bool:
        """More than zero and less than 100,000, in a currency PayPal takes, with the places it takes."""
        total = context.total
        if total.currency not in CURRENCIES or not Decimal(0) < total.amount < MAXIMUM_TOTAL:
            return False
        try:
            format_amount(total)
        except ValueError:
            return False
        return True

    # --- purchases ------------------------------------------------------------------------------------------

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, "A")

    def charge(self, request: PaymentRequest) -> ProviderResult:
        return self._purchase(request, "S")

    def _purchase(self, request: PaymentRequest, trxtype: str) -> ProviderResult:
        if request.method.variant == EXPRESS:
            return self._express_set(request, trxtype)
        if request.source_reference:  # a card this buyer validated before, chosen by the server
            return self._on_validated_card(request, trxtype, request.source_reference)
        return self._secure_token(request, trxtype)

    def _on_validated_card(
        self, request: PaymentRequest, trxtype: str, origid: str, *, key: str | None = None
    ) -> ProviderResult:
        """A payment on a card validated by `origid`. As the reference does: with "authorization for the required
        amount" off, an authorization only clones the validation (no call; nothing is held, capture is a reference
        sale); otherwise a reference authorization or sale (ORIGID, no card)."""
        if trxtype == "A" and self._clones_validations:
            return ProviderResult.succeeded(
                request.amount,
                reference=origid,
                message="The card is validated; nothing is held, the amount is taken at capture.",
            )
        params = {"TRXTYPE": trxtype, "TENDER": "C", "ORIGID": origid, **self._order_fields(request)}
        operation = "authorization" if trxtype == "A" else "sale"
        # its own request id when the key's went to another call (the secure token); our key's CUSTREF either way
        pairs = self._call(
            operation, {**params, "CUSTREF": custref(request.idempotency_key)}, key=key or request.idempotency_key
        )
        return unreadable(operation, request.amount) if pairs is None else self._result(pairs, request.amount)

    def validate(self, request: PaymentRequest) -> ProviderResult:
        """A zero-amount authorization through a secure token: proves the card without holding money."""
        return self._secure_token(request, "A", zero=True)

    def _order_fields(self, request: PaymentRequest) -> dict[str, str]:
        """Amount, our reference and the billing address, as Payflow takes them (see `billing_fields`)."""
        fields = {"AMT": format_amount(request.amount), "CURRENCY": request.amount.currency}
        if request.reference:
            fields["INVNUM"] = request.reference
            fields["COMMENT1"] = f"Order {request.reference}"
        context = request.context
        address = context.billing_address if context else None
        if address is not None:
            fields.update(address_fields(address))
        if context and context.customer_user:
            fields["EMAIL"] = context.customer_user.email
        if context and context.po_number:
            fields["PONUM"] = context.po_number
        return billing_fields(fields)

    def _secure_token(self, request: PaymentRequest, trxtype: str, *, zero: bool = False) -> ProviderResult:
        """Ask for a secure token holding the transaction; the browser then posts only the card to Payflow."""
        zero = zero or self.options.flag("zero_amount_authorization")
        token_id = secure_token_id(request.idempotency_key)
        params: dict[str, Any] = {
            "TRXTYPE": "A" if zero else trxtype,
            "TENDER": "C",
            **self._order_fields(request),
            "CREATESECURETOKEN": "Y",
            "SECURETOKENID": token_id,
            "SILENTTRAN": "TRUE",  # transparent redirect: no PayPal-hosted page unless the browser asks for one
        }
        if zero:
            params["AMT"] = format_amount(Money(Decimal(0), request.amount.currency))
        if request.return_url:
            params.update(RETURNURL=request.return_url, ERRORURL=request.return_url, CANCELURL=request.return_url)
        # the transaction made with the token carries the CUSTREF of our key (of the validation, when zero)
        key = request.idempotency_key
        pairs = self._call("secure_token", {**params, "CUSTREF": custref(key + (":validate" if zero else ""))}, key=key)
        if pairs is None:
            return unreadable("secure_token", request.amount)
        token = pairs.get("SECURETOKEN", "")
        if pairs.get("RESULT") != "0" or not token:
            return self._result(pairs, request.amount)
        raw = self._raw({k: v for k, v in pairs.items() if k != "SECURETOKEN"}, request.amount)
        return ProviderResult.action_required(
            request.amount,
            self._card_form(token, token_id),
            reference=TOKEN_PREFIX + token,
            message="The buyer enters the card on the payment page; it goes straight to PayPal.",
            raw=raw,
        )

    def _card_form(self, token: str, token_id: str) -> dict[str, str]:
        """How the browser continues: post the card with these fields to `form_action` (transparent redirect),
        or open `redirect_url`, PayPal's hosted card page for the same token. Upper-case keys are the fields."""
        fields = {"SECURETOKEN": token, "SECURETOKENID": token_id}
        if self._is_test:
            fields["MODE"] = "TEST"
        return {
            "type": "card_form",
            "template": "payflow/transparent_redirect.html",
            "method": "POST",
            "form_action": self.link_url,
            "redirect_url": f"{self.link_url}?{urlencode(fields)}",
            "require_cvv": "true" if self.settings.get("require_cvv", True) else "false",
            "allowed_card_types": ",".join(self.options.choices("allowed_card_types", [c for c, _ in CARD_TYPES])),
            **fields,
        }

    # --- Express Checkout ----------------------------------------------------------------------------------

    def _express_set(self, request: PaymentRequest, trxtype: str) -> ProviderResult:
        """SetExpressCheckout: a token the buyer approves on PayPal's page, then DoExpressCheckout on return."""
        params: dict[str, Any] = {
            "TRXTYPE": trxtype,
            "TENDER": "P",
            "ACTION": "S",
            **self._order_fields(request),
            "RETURNURL": request.return_url,
            "CANCELURL": request.return_url + ("&" if "?" in request.return_url else "?") + "canceled=1",
        }
        if brand := self.options.text("express_checkout_name"):
            params["BRANDNAME"] = brand
        pairs = self._call("express_set", params, key=request.idempotency_key)
        if pairs is None:
            return unreadable("express_set", request.amount)
        token = pairs.get("TOKEN", "")
        if pairs.get("RESULT") != "0" or not token:
            return self._result(pairs, request.amount)
        return ProviderResult.action_required(
            request.amount,
            self._express_redirect(token),
            reference=token,
            message="The buyer approves the payment on PayPal's page.",
            raw=self._raw(pairs, request.amount),
        )

    def _express_redirect(self, token: str) -> dict[str, str]:
        query = urlencode({"cmd": "_express-checkout", "token": token})
        return {"type": "redirect", "redirect_url": f"{self.express_url}?{query}"}

    def _express_complete(self, request: StatusRequest, token: str) -> ProviderResult:
        """After the buyer's return: read the token (GetExpressCheckoutDetails) and, once approved, take the money
        (DoExpressCheckoutPayment, keyed so that completing twice pays once)."""
        trxtype = "S" if request.action == "charge" else "A"
        details = self._call(
            "express_get", {"TRXTYPE": trxtype, "TENDER": "P", "ACTION": "G", "TOKEN": token}, key=None
        )
        if details is None:
            return unreadable("express_get", request.amount)
        if details.get("RESULT") != "0":
            result = self._result(details, request.amount)
            if result.error_code != ErrorCode.TOKEN_EXPIRED:
                return result.read_back_failure()
            # The token lives 3 hours; a payment made with it lives on. DoExpressCheckoutPayment carries our
            # CUSTREF: only when Payflow has no transaction with it did the buyer never pay.
            paid = self._inquiry(request, self._by_custref(request))
            if paid.error_code == ErrorCode.NOT_FOUND:
                return result
            return express_pending(paid, str(paid.raw.get("PENDINGREASON") or "none"))
        payer = details.get("PAYERID", "")
        if not payer:  # not approved (yet): the buyer may still do it
            return ProviderResult.action_required(
                request.amount,
                self._express_redirect(token),
                reference=token,
                message="The buyer has not approved the payment at PayPal yet.",
                raw=self._raw(details, request.amount),
            )
        key = request.idempotency_key + ":do"
        pairs = self._call(
            "express_do",
            {
                "TRXTYPE": trxtype,
                "TENDER": "P",
                "ACTION": "D",
                "TOKEN": token,
                "PAYERID": payer,
                "AMT": format_amount(request.amount),
                "CURRENCY": request.amount.currency,
                "CUSTREF": custref(request.idempotency_key),
            },
            key=key,
        )
        if pairs is None:
            return unreadable("express_do", request.amount)
        return express_pending(self._result(pairs, request.amount), pairs.get("PENDINGREASON", "none"))

    # --- follow-ups ------------------------------------------------------------------------------------------

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """Delayed capture (D) of all or part of an authorization; CAPTURECOMPLETE=Y releases the rest.

        An authorization that only clones a zero-amount validation holds nothing: it is captured with a reference
        sale (S, ORIGID = the validation), as the reference does.
        """
        fields = {"AMT": format_amount(request.amount), "CURRENCY": request.amount.currency}
        if request.validation_only:
            params = {"TRXTYPE": "S", "TENDER": "C", "ORIGID": request.provider_reference, **fields}
            return self._send("sale", params, request.amount, key=request.idempotency_key)
        params = {
            "TRXTYPE": "D",
            "TENDER": self._tender(request),
            "ORIGID": request.provider_reference,
            "CAPTURECOMPLETE": "Y",
            **fields,
        }
        return self._send("delayed_capture", params, request.amount, key=request.idempotency_key)

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        """Void (V) what is left of an authorization; Payflow voids only before settlement. A clone of a validation
        holds nothing: there is nothing to void, and the validation stays usable for the buyer's later payments."""
        if request.validation_only:
            return ProviderResult.succeeded(
                request.amount,
                reference=request.provider_reference,
                message="Nothing was held (the card was only validated); nothing is left to take.",
            )
        params = {"TRXTYPE": "V", "TENDER": self._tender(request), "ORIGID": request.provider_reference}
        return self._send("void", params, request.amount, key=request.idempotency_key)

    def abandon(self, request: FollowUpRequest) -> ProviderResult:
        """An Express Checkout ends by itself: PayPal takes the money only when we send DoExpressCheckoutPayment,
        which an abandoned attempt never does. A card's secure token cannot be revoked: it stays usable until it
        expires (30 minutes), so the payment may still complete (PENDING) and reconcile reads it back later."""
        if request.provider_reference.startswith("EC-"):
            return ProviderResult.succeeded(
                request.amount,
                reference=request.provider_reference,
                message="The Express Checkout is left uncompleted; PayPal takes nothing without it.",
            )
        return ProviderResult.pending(
            request.amount,
            reference=request.provider_reference,
            message="Payflow's secure token stays usable until it expires, 30 minutes after it was made.",
        )

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """Credit (C) all or part of a sale or capture; several credits may follow, each within what is left."""
        params = {
            "TRXTYPE": "C",
            "TENDER": self._tender(request),
            "ORIGID": request.provider_reference,
            "AMT": format_amount(request.amount),
            "CURRENCY": request.amount.currency,
        }
        return self._send("credit", params, request.amount, key=request.idempotency_key)

    @staticmethod
    def _tender(request: FollowUpRequest | StatusRequest) -> str:
        return "P" if request.method.variant == EXPRESS else "C"

    # --- status -------------------------------------------------------------------------------------------------

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        """What became of an open row, by inquiry (TRXTYPE=I, VERBOSITY=HIGH).

        A purchase waiting for the buyer is completed here: the card's secure token (or the Express Checkout
        token) is looked up, and the payment finished; the steps that move money are keyed, so completing twice
        (return page and reconcile) pays once. Otherwise the row is found by its CUSTREF (our key) or, for a
        purchase, by its PNREF. NOT_FOUND means Payflow never saw the operation.
        """
        reference = request.provider_reference or ""
        purchase = request.action in ("authorize", "charge")
        if purchase and reference.startswith(TOKEN_PREFIX):
            return self._card_complete(request, reference.removeprefix(TOKEN_PREFIX))
        if purchase and reference.startswith("EC-"):
            return self._express_complete(request, reference)
        if purchase and PNREF.match(reference):
            return self._inquiry(request, {"ORIGID": reference})
        return self._inquiry(request, self._by_custref(request))

    @staticmethod
    def _by_custref(request: StatusRequest) -> dict[str, str]:
        """An inquiry by our CUSTREF, searched from a day before the request was sent: without STARTTIME and
        ENDTIME Payflow searches only the last 30 days, and a window may span at most 30 (the day either side
        allows for the time zone Payflow reads them in)."""
        by = {"CUSTREF": custref(request.idempotency_key)}
        if request.requested_at is not None:
            start = request.requested_at.astimezone(UTC) - timedelta(days=1)
            by["STARTTIME"] = start.strftime("%Y%m%d%H%M%S")
            by["ENDTIME"] = (start + INQUIRY_WINDOW).strftime("%Y%m%d%H%M%S")
        return by

    def _ask(self, request: StatusRequest, by: Mapping[str, str]) -> dict[str, str] | None:
        """An inquiry that asks for every field (the amount among them): None when the reply cannot be read."""
        params = {"TRXTYPE": "I", "TENDER": self._tender(request), "VERBOSITY": "HIGH", **by}
        return self._call("inquiry", params, key=None)

    def _inquiry(self, request: StatusRequest, by: Mapping[str, str]) -> ProviderResult:
        pairs = self._ask(request, by)
        if pairs is None:
            return unreadable("inquiry", request.amount)
        if pairs.get("RESULT") == "19":
            return ProviderResult.error(
                ErrorCode.NOT_FOUND,
                "Payflow has no transaction for this request.",
                amount=request.amount,
                raw=self._raw(pairs, request.amount),
            )
        if pairs.get("RESULT") != "0":
            return self._result(pairs, request.amount).read_back_failure()
        amount = parse_amount(pairs.get("AMT"), request.amount.currency)
        if amount is None:  # never "the amount we asked for": a terse reply proves nothing
            return incomplete(pairs, request.amount, self._raw(pairs, request.amount))
        return self._result(pairs, amount)

    def _card_complete(self, request: StatusRequest, token: str) -> ProviderResult:
        """The buyer came back from the card form (or reconcile asks): what did the token's transaction do?

        With zero-amount authorization it was a 0.00 validation of the card: it is reported as the result's
        `validation`, and the payment rests on it (a clone, or an authorization or sale that refers to it)."""
        pairs = self._ask(request, {"SECURETOKEN": token})
        if pairs is None:
            return unreadable("inquiry", request.amount)
        if pairs.get("RESULT") == "19":  # the buyer has not posted the card yet
            return ProviderResult.action_required(
                request.amount,
                self._card_form(token, secure_token_id(request.idempotency_key)),
                reference=TOKEN_PREFIX + token,
                message="The buyer has not entered the card yet.",
            )
        if pairs.get("RESULT") != "0":
            result = self._result(pairs, request.amount)  # "Secure Token Expired": the buyer never paid
            return result if result.error_code == ErrorCode.TOKEN_EXPIRED else result.read_back_failure()
        amount = parse_amount(pairs.get("AMT"), request.amount.currency)
        if amount is None:
            return incomplete(pairs, request.amount, self._raw(pairs, request.amount))
        result = self._result(pairs, amount)
        if result.outcome != Outcome.SUCCEEDED or amount.amount != 0 or request.amount.amount == 0:
            return result
        # The token held a zero-amount validation: now the payment itself, on the validated card.
        validation = result
        origid = validation.provider_reference or ""
        trxtype = "A" if request.action == "authorize" else "S"
        if trxtype == "A" and self._clones_validations:
            payment = ProviderResult.succeeded(
                request.amount,
                reference=origid,
                message="The card is validated; nothing is held, the amount is taken at capture.",
            )
        else:
            params = {
                "TRXTYPE": trxtype,
                "TENDER": "C",
                "ORIGID": origid,
                "AMT": format_amount(request.amount),
                "CURRENCY": request.amount.currency,
                "CUSTREF": custref(request.idempotency_key),  # found by reconcile if the answer is lost
            }
            # its own request id: the key's went to the secure token
            operation = "authorization" if trxtype == "A" else "sale"
            answer = self._call(operation, params, key=request.idempotency_key + ":payment")
            if answer is None:
                return unreadable(operation, request.amount)
            payment = self._result(answer, request.amount)
        if payment.outcome not in (Outcome.SUCCEEDED, Outcome.PENDING):
            return payment  # a payment that failed rests on nothing
        return replace(payment, validation=validation)

    def check_connection(self) -> ProviderResult:
        """An inquiry for a transaction that cannot exist: Payflow checks the login first (RESULT 1 if wrong),
        then answers 19. Nothing moves."""
        nothing = Money(Decimal(0), "USD")
        pairs = self._call("inquiry", {"TRXTYPE": "I", "TENDER": "C", "ORIGID": "V00000000000"}, key=None)
        if pairs is None:
            return unreadable("inquiry", nothing)
        return ProviderResult.succeeded(nothing, message="Payflow accepted the credentials.")


class PayflowProAdapter(PayflowAdapter):
    """PayPal Payments Pro: the same Payflow API, settings and methods under its own integration type."""

    key = "payflow_pro"
    label = "PayPal Payments Pro"
