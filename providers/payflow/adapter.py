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
"""

from __future__ import annotations

import hashlib
import logging
import re
import uuid
from collections.abc import Mapping
from dataclasses import replace
from datetime import UTC, timedelta
from decimal import Decimal, InvalidOperation
from functools import cached_property
from typing import Any, ClassVar
from urllib.parse import urlencode

import requests

from providers.base import (
    NOT_FOUND,
    Adapter,
    Capability,
    CheckoutContext,
    FollowUpRequest,
    IntegrationInfo,
    MethodInfo,
    Money,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
    currency_exponent,
    scrub,
    to_minor,
)
from providers.payflow import nvp

logger = logging.getLogger(__name__)

EXPRESS = "express"  # the Express Checkout method's variant
#: provider_reference of a purchase waiting for the buyer's card: the secure token the inquiry needs
TOKEN_PREFIX = "securetoken:"  # noqa: S105 - a label, not a secret
#: the Payflow Pro developer's guide: maximum lengths of the billing fields we send
FIELD_LIMITS = {
    "FIRSTNAME": 30,
    "LASTNAME": 30,
    "COMPANYNAME": 30,
    "STREET": 30,
    "CITY": 20,
    "STATE": 10,
    "ZIP": 9,
    "BILLTOCOUNTRY": 2,
    "EMAIL": 60,
    "INVNUM": 9,
    "COMMENT1": 128,
}
DOMESTIC = ("US",)  # where ZIP is numeric and STATE the 2-letter code
PNREF = re.compile(r"^[A-Za-z0-9]{12}$")
#: amounts Payflow takes: the docs advise `total < 99999` (domain.md §3.4); we refuse 100,000 and more
MAXIMUM_TOTAL = Decimal("100000")
#: currencies PayPal processes (PayPal's currency codes page); HUF, JPY and TWD take no decimals there
CURRENCIES = frozenset(
    "AUD BRL CAD CHF CZK DKK EUR GBP HKD HUF ILS JPY MXN MYR NOK NZD PHP PLN SEK SGD THB TWD USD".split()
)
NO_DECIMALS = frozenset({"HUF", "JPY", "TWD"})
#: how much time an inquiry by CUSTREF searches: "less than 30 days" between STARTTIME and ENDTIME
INQUIRY_WINDOW = timedelta(days=29)
CARD_TYPES = (
    ("visa", "Visa"),
    ("mastercard", "Mastercard"),
    ("discover", "Discover"),
    ("american_express", "American Express"),
)

#: RESULT -> (error code, buyer-facing message) for answers that mean "not done" (providers.md §3.3)
DECLINES: dict[int, tuple[str, str]] = {
    2: ("tender_not_enabled", "This payment type is not enabled for the merchant account."),
    3: ("invalid_transaction", "Payflow refused the operation for this transaction."),
    4: ("invalid_amount", "Payflow refused the amount."),
    6: ("unsupported_currency", "Payflow does not take this currency for the merchant account."),
    7: ("invalid_request", "Payflow refused a field of the request."),
    12: ("card_declined", "Your card was declined."),
    13: ("call_issuer", "Your card issuer asks you to call them (referral)."),
    19: ("unknown_reference", "Payflow does not know the original transaction."),
    23: ("incorrect_number", "Your card number is invalid."),
    24: ("expired_card", "Your card's expiration date is invalid."),
    30: ("duplicate_transaction", "Payflow declined a duplicate transaction."),
    50: ("insufficient_funds", "Your card has insufficient funds."),
    51: ("exceeds_limit", "The amount exceeds the card's per-transaction limit."),
    104: ("processing_error", "The card processor did not answer. Please try again."),
    105: ("refund_failed", "Payflow could not credit this amount (more than is left, or not creditable)."),
    108: ("not_cancelable", "Payflow could not void this transaction (settled or already voided)."),
    111: ("capture_failed", "Payflow could not capture (already captured, voided or expired)."),
    112: ("address_mismatch", "The billing address did not match the card."),
    114: ("incorrect_cvc", "Your card's security code is incorrect."),
    125: ("fraudulent", "The payment was declined by fraud filters."),
    128: ("fraudulent", "The payment was declined after fraud review."),
}
#: the credentials or account are wrong: a human must fix the integration
MISCONFIGURED = frozenset({1, 5, 26, 27, 28})
#: the gateway did not reach a result (client time-out); whether money moved is unknown
UNKNOWN = frozenset({11})
FRAUD_REVIEW = 126  # authorized, held for the merchant's review in PayPal Manager: pending


def request_id(key: str) -> str:
    """`X-VPS-REQUEST-ID` for an idempotency key: the key itself when it fits Payflow's 1–32 printable
    characters, otherwise its SHA-256 (32 hex digits). The same key always gives the same id."""
    if 1 <= len(key) <= 32 and all(33 <= ord(c) <= 126 for c in key):
        return key
    return hashlib.sha256(key.encode()).hexdigest()[:32]


def custref(key: str) -> str:
    """`CUSTREF` (12 alphanumerics) for an idempotency key, for inquiries by our reference."""
    number = int.from_bytes(hashlib.sha256(key.encode()).digest()[:10], "big")
    digits = "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ"
    out = ""
    for _ in range(12):
        number, rest = divmod(number, 36)
        out += digits[rest]
    return out


def secure_token_id(key: str) -> str:
    """`SECURETOKENID` (≤36 alphanumerics, unique per token) for an idempotency key."""
    return "PD" + hashlib.sha256(key.encode()).hexdigest()[:32]


def format_amount(money: Money) -> str:
    """`AMT` as Payflow wants it: digits and a point, no symbols, no thousands separators ("1234.50").

    HUF, JPY and TWD take no decimals at PayPal; other currencies take their usual places.
    """
    places = 0 if money.currency in NO_DECIMALS else currency_exponent(money.currency)
    value = money.amount.quantize(Decimal(1).scaleb(-places))
    if value != money.amount:
        raise ValueError(f"{money} has more places than PayPal takes in {money.currency}")
    return f"{value:.{places}f}"


def parse_amount(value: str | None, currency: str) -> Money | None:
    try:
        return Money(Decimal(value), currency) if value not in (None, "") else None
    except InvalidOperation:
        return None


def billing_fields(fields: Mapping[str, str]) -> dict[str, str]:
    """Fields as Payflow takes them: a US ZIP as its 5 or 9 digits (no dash), other postal codes as letters and
    digits; every field cut to its documented length (`FIELD_LIMITS`), an e-mail address that does not fit left
    out rather than cut; INVNUM as the last 9 letters and digits of our reference (COMMENT1 keeps it whole)."""
    out = {k: " ".join(str(v).split()) for k, v in fields.items() if v}
    country = out.get("BILLTOCOUNTRY", "").upper()
    domestic = country in DOMESTIC or not country
    if "ZIP" in out and domestic:
        digits = re.sub(r"\D", "", out["ZIP"])
        out["ZIP"] = digits[:9] if len(digits) >= 9 else digits[:5] if len(digits) >= 5 else ""
    elif "ZIP" in out:
        out["ZIP"] = re.sub(r"[^A-Za-z0-9]", "", out["ZIP"]).upper()
    if domestic and "STATE" in out and len(out["STATE"]) != 2:
        del out["STATE"]  # only the 2-letter code is taken for a US address
    if "INVNUM" in out:
        out["INVNUM"] = re.sub(r"[^A-Za-z0-9]", "", out["INVNUM"])[-FIELD_LIMITS["INVNUM"] :]
    if "EMAIL" in out and len(out["EMAIL"]) > FIELD_LIMITS["EMAIL"]:
        del out["EMAIL"]
    for name, limit in FIELD_LIMITS.items():
        if name in out:
            out[name] = out[name][:limit].rstrip()
    return {k: v for k, v in out.items() if v}


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

    def _setting(self, name: str, default: Any = "") -> Any:
        value = self.settings.get(name)
        return default if value in (None, "") else value

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
        vendor = str(self._setting("vendor"))
        password = str(self._setting("password"))
        if not vendor or not password:
            raise ProviderMisconfigured("The Payflow integration has no vendor or password.")
        return {
            "PARTNER": str(self._setting("partner", "PayPal")),
            "VENDOR": vendor,
            "USER": str(self._setting("user", vendor)),
            "PWD": password,
        }

    @property
    def _clones_validations(self) -> bool:
        """Zero-amount authorization on and "authorization for the required amount" off: an authorization on a
        validated card holds nothing (the reference's clone); the money is taken at capture."""
        return bool(self.settings.get("zero_amount_authorization")) and not self.settings.get(
            "authorization_for_required_amount"
        )

    @property
    def debug(self) -> bool:
        return bool(self.settings.get("debug_mode"))

    @cached_property
    def _http(self) -> requests.Session:
        return requests.Session()

    # --- the wire -------------------------------------------------------------------------------------------

    def _call(self, operation: str, params: Mapping[str, Any], *, key: str | None) -> dict[str, str] | None:
        """POST one NVP request; the reply's pairs, or None when the reply cannot be read.

        `key` is the idempotency key behind X-VPS-REQUEST-ID; None for reads (inquiries), which get a fresh id so
        Payflow never replays an old answer to them.
        """
        body = {**self._credentials(), **params}
        if self.debug:
            body["VERBOSITY"] = "HIGH"
        data = nvp.encode(body)
        headers = {
            "Content-Type": "text/namevalue",
            "X-VPS-REQUEST-ID": request_id(key) if key is not None else uuid.uuid4().hex,
            "X-VPS-CLIENT-TIMEOUT": str(int(self.read_timeout) or 1),
        }
        try:
            reply = self._http.post(
                f"{self.base_url or self.live_base_url}/",
                data=data,
                headers=headers,
                timeout=(self.connect_timeout, self.read_timeout),
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ProviderUnavailable(f"Payflow {operation}: no answer ({type(exc).__name__})") from exc
        if reply.status_code >= 500:
            raise ProviderUnavailable(f"Payflow {operation} answered HTTP {reply.status_code}")
        if self.debug:
            logger.debug("Payflow %s: sent %s", operation, self._scrub(nvp.decode(data)))
        if reply.status_code != 200:
            return None
        try:
            pairs = nvp.decode(reply.content)
        except nvp.NVPError:
            return None
        if "RESULT" not in pairs:
            return None
        try:
            result = int(pairs["RESULT"])
        except ValueError:
            return None
        if self.debug:
            logger.debug("Payflow %s: answered %s", operation, self._scrub(pairs))
        if result < 0 or result in UNKNOWN:  # communication errors: the outcome is unknown
            raise ProviderUnavailable(f"Payflow {operation}: RESULT {result} {pairs.get('RESPMSG', '')}".strip())
        if result in MISCONFIGURED:
            raise ProviderMisconfigured(f"Payflow refused the credentials ({operation}): RESULT {result}")
        return pairs

    def _scrub(self, data: Any) -> Any:
        return scrub(data, secrets=[str(self.settings.get("password") or "")], keys=("PWD", "ACCT", "CVV2"))

    def _raw(self, pairs: Mapping[str, str], amount: Money) -> dict[str, Any]:
        raw: dict[str, Any] = dict(self._scrub(dict(pairs)))
        raw["amount"] = to_minor(amount)  # in minor units, as every adapter's raw has it
        raw["currency"] = amount.currency
        return raw

    def _unreadable(self, operation: str, amount: Money) -> ProviderResult:
        return ProviderResult(
            Outcome.ERROR,
            None,
            amount,
            error_code="unreadable_reply",
            message=f"Payflow's reply to {operation} could not be read.",
        )

    def _result(self, pairs: Mapping[str, str], amount: Money, *, reference: str | None = None) -> ProviderResult:
        """A transaction reply (or an inquiry's ORIG* fields) as our result."""
        result = int(pairs.get("ORIGRESULT", pairs["RESULT"]))
        pnref = pairs.get("ORIGPNREF") or pairs.get("PNREF") or reference
        message = pairs.get("RESPMSG", "")
        raw = self._raw(pairs, amount)
        if result == 0:
            return ProviderResult(Outcome.SUCCEEDED, pnref, amount, message=message, raw=raw)
        if result == FRAUD_REVIEW:
            return ProviderResult(
                Outcome.PENDING,
                pnref,
                amount,
                error_code="held_for_review",
                message="The payment is held for review by the merchant's fraud filters.",
                raw=raw,
            )
        if result in DECLINES:
            code, text = DECLINES[result]
            if result == 7 and "expired" in message.lower():
                code, text = "token_expired", "The payment page expired. Please start the payment again."
            return ProviderResult(Outcome.DECLINED, pnref, amount, error_code=code, message=message or text, raw=raw)
        if result in (99, 127):  # general error / not screened: we cannot tell what happened; reconcile asks
            return ProviderResult(
                Outcome.ERROR, pnref, amount, error_code=f"payflow_{result}", message=message, raw=raw
            )
        return ProviderResult(  # any other RESULT means "not approved"
            Outcome.DECLINED, pnref, amount, error_code=f"payflow_{result}", message=message or "Declined.", raw=raw
        )

    def _send(
        self, operation: str, params: Mapping[str, Any], amount: Money, *, key: str, reference: str | None = None
    ) -> ProviderResult:
        pairs = self._call(operation, {**params, "CUSTREF": custref(key)}, key=key)
        if pairs is None:
            return self._unreadable(operation, amount)
        return self._result(pairs, amount, reference=reference)

    # --- methods and applicability ------------------------------------------------------------------------

    def methods(self, integration: IntegrationInfo) -> list[MethodInfo]:
        """The card (transparent redirect) and PayPal Express Checkout, each with its own labels and action."""
        express_label = str(self._setting("express_checkout_label", "PayPal"))
        express_short = str(self._setting("express_checkout_short_label", express_label))
        express_action = self.settings.get("express_checkout_payment_action") or integration.payment_action
        return [
            MethodInfo(
                identifier=f"{self.key}_{integration.id}",
                integration_id=integration.id,
                provider_key=self.key,
                labels=integration.labels,
                short_labels=integration.short_labels,
                widget="payflow/widget.html",
            ),
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
            return ProviderResult(
                Outcome.SUCCEEDED,
                origid,
                request.amount,
                message="The card is validated; nothing is held, the amount is taken at capture.",
            )
        params = {"TRXTYPE": trxtype, "TENDER": "C", "ORIGID": origid, **self._order_fields(request)}
        operation = "authorization" if trxtype == "A" else "sale"
        # its own request id when the key's went to another call (the secure token); our key's CUSTREF either way
        pairs = self._call(
            operation, {**params, "CUSTREF": custref(request.idempotency_key)}, key=key or request.idempotency_key
        )
        return self._unreadable(operation, request.amount) if pairs is None else self._result(pairs, request.amount)

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
            fields.update(
                {
                    "FIRSTNAME": address.first_name,
                    "LASTNAME": address.last_name,
                    "COMPANYNAME": address.organization,
                    "STREET": " ".join(p for p in (address.street, address.street2) if p),
                    "CITY": address.city,
                    "STATE": address.region_code.partition("-")[2] or address.region_name,
                    "ZIP": address.postal_code,
                    "BILLTOCOUNTRY": address.country_iso2,
                }
            )
        if context and context.customer_user:
            fields["EMAIL"] = context.customer_user.email
        return billing_fields(fields)

    def _secure_token(self, request: PaymentRequest, trxtype: str, *, zero: bool = False) -> ProviderResult:
        """Ask for a secure token holding the transaction; the browser then posts only the card to Payflow."""
        zero = zero or bool(self.settings.get("zero_amount_authorization"))
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
            return self._unreadable("secure_token", request.amount)
        token = pairs.get("SECURETOKEN", "")
        if pairs.get("RESULT") != "0" or not token:
            return self._result(pairs, request.amount)
        raw = self._raw({k: v for k, v in pairs.items() if k != "SECURETOKEN"}, request.amount)
        return ProviderResult(
            Outcome.ACTION_REQUIRED,
            TOKEN_PREFIX + token,
            request.amount,
            message="The buyer enters the card on the payment page; it goes straight to PayPal.",
            next_action=self._card_form(token, token_id),
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
            "allowed_card_types": ",".join(self.settings.get("allowed_card_types") or [c for c, _ in CARD_TYPES]),
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
        if self._setting("express_checkout_name"):
            params["BRANDNAME"] = self._setting("express_checkout_name")
        pairs = self._call("express_set", params, key=request.idempotency_key)
        if pairs is None:
            return self._unreadable("express_set", request.amount)
        token = pairs.get("TOKEN", "")
        if pairs.get("RESULT") != "0" or not token:
            return self._result(pairs, request.amount)
        return ProviderResult(
            Outcome.ACTION_REQUIRED,
            token,
            request.amount,
            message="The buyer approves the payment on PayPal's page.",
            next_action=self._express_redirect(token),
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
            return self._unreadable("express_get", request.amount)
        if details.get("RESULT") != "0":
            result = self._result(details, request.amount)
            if result.error_code != "token_expired":
                return _as_error(result)
            # The token lives 3 hours; a payment made with it lives on. DoExpressCheckoutPayment carries our
            # CUSTREF: only when Payflow has no transaction with it did the buyer never pay.
            paid = self._inquiry(request, self._by_custref(request))
            if paid.error_code == NOT_FOUND:
                return result
            return self._express_pending(paid, str(paid.raw.get("PENDINGREASON") or "none"))
        payer = details.get("PAYERID", "")
        if not payer:  # not approved (yet): the buyer may still do it
            return ProviderResult(
                Outcome.ACTION_REQUIRED,
                token,
                request.amount,
                message="The buyer has not approved the payment at PayPal yet.",
                next_action=self._express_redirect(token),
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
            return self._unreadable("express_do", request.amount)
        return self._express_pending(self._result(pairs, request.amount), pairs.get("PENDINGREASON", "none"))

    @staticmethod
    def _express_pending(result: ProviderResult, reason: str) -> ProviderResult:
        """As in the reference: a payment PayPal holds for any reason but an authorization or order (an eCheck
        clearing, a review…) is not money yet."""
        reason = reason.lower()
        if result.outcome == Outcome.SUCCEEDED and reason not in ("none", "completed", "authorization", "order"):
            return ProviderResult(
                Outcome.PENDING,
                result.provider_reference,
                result.amount,
                error_code=f"pending_{reason}",
                message=f"PayPal holds the payment ({reason}).",
                raw=result.raw,
            )
        return result

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
            return ProviderResult(
                Outcome.SUCCEEDED,
                request.provider_reference,
                request.amount,
                message="Nothing was held (the card was only validated); nothing is left to take.",
            )
        params = {"TRXTYPE": "V", "TENDER": self._tender(request), "ORIGID": request.provider_reference}
        return self._send("void", params, request.amount, key=request.idempotency_key)

    def abandon(self, request: FollowUpRequest) -> ProviderResult:
        """An Express Checkout ends by itself: PayPal takes the money only when we send DoExpressCheckoutPayment,
        which an abandoned attempt never does. A card's secure token cannot be revoked: it stays usable until it
        expires (30 minutes), so the payment may still complete (PENDING) and reconcile reads it back later."""
        if request.provider_reference.startswith("EC-"):
            return ProviderResult(
                Outcome.SUCCEEDED,
                request.provider_reference,
                request.amount,
                message="The Express Checkout is left uncompleted; PayPal takes nothing without it.",
            )
        return ProviderResult(
            Outcome.PENDING,
            request.provider_reference,
            request.amount,
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

    def _incomplete(self, pairs: Mapping[str, str], amount: Money) -> ProviderResult:
        return ProviderResult(
            Outcome.ERROR,
            pairs.get("ORIGPNREF") or None,
            amount,
            error_code="incomplete_inquiry",
            message="Payflow's inquiry reply did not say the transaction's amount.",
            raw=self._raw(pairs, amount),
        )

    def _inquiry(self, request: StatusRequest, by: Mapping[str, str]) -> ProviderResult:
        pairs = self._ask(request, by)
        if pairs is None:
            return self._unreadable("inquiry", request.amount)
        if pairs.get("RESULT") == "19":
            return ProviderResult(
                Outcome.ERROR,
                None,
                request.amount,
                error_code=NOT_FOUND,
                message="Payflow has no transaction for this request.",
                raw=self._raw(pairs, request.amount),
            )
        if pairs.get("RESULT") != "0":
            return _as_error(self._result(pairs, request.amount))
        amount = parse_amount(pairs.get("AMT"), request.amount.currency)
        if amount is None:  # never "the amount we asked for": a terse reply proves nothing
            return self._incomplete(pairs, request.amount)
        return self._result(pairs, amount)

    def _card_complete(self, request: StatusRequest, token: str) -> ProviderResult:
        """The buyer came back from the card form (or reconcile asks): what did the token's transaction do?

        With zero-amount authorization it was a 0.00 validation of the card: it is reported as the result's
        `validation`, and the payment rests on it (a clone, or an authorization or sale that refers to it)."""
        pairs = self._ask(request, {"SECURETOKEN": token})
        if pairs is None:
            return self._unreadable("inquiry", request.amount)
        if pairs.get("RESULT") == "19":  # the buyer has not posted the card yet
            return ProviderResult(
                Outcome.ACTION_REQUIRED,
                TOKEN_PREFIX + token,
                request.amount,
                message="The buyer has not entered the card yet.",
                next_action=self._card_form(token, secure_token_id(request.idempotency_key)),
            )
        if pairs.get("RESULT") != "0":
            result = self._result(pairs, request.amount)  # "Secure Token Expired": the buyer never paid
            return result if result.error_code == "token_expired" else _as_error(result)
        amount = parse_amount(pairs.get("AMT"), request.amount.currency)
        if amount is None:
            return self._incomplete(pairs, request.amount)
        result = self._result(pairs, amount)
        if result.outcome != Outcome.SUCCEEDED or amount.amount != 0 or request.amount.amount == 0:
            return result
        # The token held a zero-amount validation: now the payment itself, on the validated card.
        validation = result
        origid = validation.provider_reference or ""
        trxtype = "A" if request.action == "authorize" else "S"
        if trxtype == "A" and self._clones_validations:
            payment = ProviderResult(
                Outcome.SUCCEEDED,
                origid,
                request.amount,
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
                return self._unreadable(operation, request.amount)
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
            return self._unreadable("inquiry", nothing)
        return ProviderResult(Outcome.SUCCEEDED, None, nothing, message="Payflow accepted the credentials.")


class PayflowProAdapter(PayflowAdapter):
    """PayPal Payments Pro: the same Payflow API, settings and methods under its own integration type."""

    key = "payflow_pro"
    label = "PayPal Payments Pro"


def _as_error(result: ProviderResult) -> ProviderResult:
    """A failed read is not a decline of the payment: the row stays open."""
    if result.outcome != Outcome.DECLINED:
        return result
    return ProviderResult(
        Outcome.ERROR, result.provider_reference, result.amount, result.error_code, result.message, raw=result.raw
    )
