"""The adapter contract every payment provider implements.

Adapters import nothing from the Django apps: they receive the plain dataclasses below and return
`ProviderResult`. Amounts travel as `Money` (Decimal + ISO currency); minor units (cents; JPY has none,
KWD has three) appear only inside adapters, through `to_minor` / `from_minor`.
"""

from __future__ import annotations

import enum
from abc import ABC
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from datetime import datetime
from decimal import Decimal
from functools import cached_property
from typing import Any, ClassVar, Literal

from babel.numbers import get_currency_precision

from providers.errors import ErrorCode

__all__ = ["ErrorCode"]  # the vocabulary lives in providers.errors; the contract is imported from here


@dataclass(frozen=True, slots=True)
class Money:
    """An amount in one currency. Never a float."""

    amount: Decimal
    currency: str  # ISO 4217: "USD", "JPY", "KWD"

    def __post_init__(self) -> None:
        if not isinstance(self.amount, Decimal):
            raise TypeError(f"Money amount must be a Decimal, not {type(self.amount).__name__}")

    def __str__(self) -> str:
        return f"{self.amount} {self.currency}"


def currency_exponent(currency: str) -> int:
    """Number of minor-unit digits of a currency (USD 2, JPY 0, KWD 3), from CLDR via babel."""
    return int(get_currency_precision(currency))


def to_minor(money: Money) -> int:
    """Amount in minor units, for the wire. Refuses amounts finer than the currency allows."""
    minor = money.amount.scaleb(currency_exponent(money.currency))
    if minor != minor.to_integral_value():
        raise ValueError(f"{money.amount} has more places than {money.currency} allows")
    return int(minor)


def from_minor(value: int, currency: str) -> Money:
    """Inverse of `to_minor`: 1234 USD cents -> Money(Decimal("12.34"), "USD")."""
    return Money(Decimal(int(value)).scaleb(-currency_exponent(currency)), currency)


class Capability(enum.StrEnum):
    """What an adapter can do. The back-office and services offer exactly what these allow."""

    AUTHORIZE = "authorize"
    CHARGE = "charge"
    #: Purchase records a pending promise to pay (check, money order, terms); no money moves through us,
    #: and capture only marks it paid.
    PENDING = "pending"
    #: The buyer pays later on the customer's payment term; purchase copies the term onto the order.
    ON_ACCOUNT = "on_account"
    CAPTURE = "capture"
    PARTIAL_CAPTURE = "partial_capture"
    #: Several captures against one authorization; without it a capture closes the authorization.
    MULTIPLE_CAPTURE = "multiple_capture"
    CANCEL = "cancel"
    REFUND = "refund"
    PARTIAL_REFUND = "partial_refund"
    #: Renew a hold before it lapses: a new authorization of the same payment method (Stripe's 7 days).
    REAUTHORIZE = "reauthorize"
    #: Pay on a card the buyer validated before (a reference transaction on `PaymentRequest.source_reference`)
    VALIDATE = "validate"
    WEBHOOKS = "webhooks"
    FETCH_STATUS = "fetch_status"
    #: Activate a captured invoice payment: the invoice was issued and the provider's guarantee and payment term
    #: start (InfinitePay); `Adapter.activate`
    ACTIVATE = "activate"
    #: Bill the buyer's company for (part of) an authorization (Apruve's trade credit): the provider collects,
    #: and the money arrives later as a capture of that invoice (a webhook); it replaces Capture
    INVOICE = "invoice"


class Outcome(enum.StrEnum):
    """What a provider said. A decline is a result, never an exception."""

    SUCCEEDED = "succeeded"
    #: Accepted but not final yet (bank transfer processing, review hold); a webhook or reconcile settles it.
    PENDING = "pending"
    #: The buyer must act (3-D Secure, redirect, lightbox); `next_action` says how.
    ACTION_REQUIRED = "action_required"
    DECLINED = "declined"
    #: The provider answered but the answer cannot be mapped; the row stays open for reconcile.
    ERROR = "error"


class Environment(enum.StrEnum):
    """Where an integration sends its calls; sandbox and the provider's systems differ only in `base_url`."""

    SANDBOX = "sandbox"  # the built-in simulator under /sandbox/<provider>/
    TEST = "test"  # the provider's own test system
    LIVE = "live"


class PaymentAction(enum.StrEnum):
    """What a purchase does at the provider: hold the money, or take it at once."""

    AUTHORIZE = "authorize"  # "Authorize only": hold now, capture later
    CHARGE = "charge"  # "Authorize and capture" in one step


# --- errors -------------------------------------------------------------------------------------


class ProviderError(Exception):
    """Base of the adapter errors. Messages never contain secrets or card data."""


class ProviderUnavailable(ProviderError):
    """We cannot know whether money moved (timeout, connection error, 5xx). The row stays for reconcile."""


class ProviderMisconfigured(ProviderError):
    """The provider refused our credentials or settings (401, bad login): a human must fix the integration."""


class InvalidSignature(ProviderError):
    """A webhook whose signature, secret or timestamp does not verify. It is stored nowhere."""


class MalformedEvent(InvalidSignature):
    """A signed webhook whose envelope cannot be read (no event id, not an object): answered 400, stored nowhere,
    like a bad signature. A readable envelope with an unreadable body is `UnreadableEvent` instead."""


class UnreadableEvent(ProviderError):
    """A webhook whose signature verified but whose content cannot be read as an event of its type (a shape we
    do not know), or whose details the provider cannot give (`Adapter.webhook_event_complete`: the charge it
    names does not exist). The one way to say so: raised by `parse_webhook`, the webhook view keeps the event,
    failed, for staff and answers 200 (sending it again cannot help); raised while completing, the worker marks
    the stored event failed. `payload` is the event as received, scrubbed."""

    def __init__(self, message: str, *, event_id: str, event_type: str, payload: Any) -> None:
        super().__init__(message)
        self.event_id = event_id
        self.event_type = event_type
        self.payload = payload


class UnsupportedOperation(ProviderError):
    """The adapter does not implement this operation; callers check `capabilities` first."""


# --- plain data passed to adapters ---------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class IntegrationInfo:
    """What an adapter may know of the integration it serves."""

    id: int
    uuid: str
    provider_key: str
    name: str
    environment: Environment
    payment_action: PaymentAction
    labels: Mapping[str, str] = field(default_factory=dict)
    short_labels: Mapping[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class MethodInfo:
    """One payment method an integration exposes. `identifier` is stable: `<key>_<integration id>[_<variant>]`."""

    identifier: str
    integration_id: int
    provider_key: str
    variant: str = ""
    labels: Mapping[str, str] = field(default_factory=dict)
    short_labels: Mapping[str, str] = field(default_factory=dict)
    widget: str = ""  # template name of the storefront widget
    #: the action this method always takes, whatever the integration's payment action (an eCheck is always a
    #: charge; Payflow's Express Checkout has its own setting); None: the integration's payment action decides
    payment_action: PaymentAction | None = None
    #: the only currencies this method takes (SEPA direct debit: EUR), which payment rules offering it must use;
    #: None: whatever the integration takes
    currencies: frozenset[str] | None = None


@dataclass(frozen=True, slots=True)
class AddressInfo:
    """A billing or shipping address; adapters send it through `street_lines` and `subdivision`."""

    country_iso2: str = ""
    region_code: str = ""  # combined code, e.g. "US-NY"
    region_name: str = ""
    postal_code: str = ""
    city: str = ""
    street: str = ""
    street2: str = ""
    organization: str = ""
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True, slots=True)
class PaymentTermInfo:
    """A payment term ("Net 30") a customer or group pays on."""

    id: int
    label: str


@dataclass(frozen=True, slots=True)
class CustomerGroupInfo:
    """The customer's group, whose payment term applies when the customer has none of its own."""

    id: int
    name: str
    payment_term: PaymentTermInfo | None = None


@dataclass(frozen=True, slots=True)
class CustomerInfo:
    """The buyer's company: its VAT id and the payment term it pays on, for rules and `is_applicable`."""

    id: int
    name: str
    vat_id: str = ""
    group: CustomerGroupInfo | None = None
    payment_term: PaymentTermInfo | None = None  # the customer's own term, not the group's

    @property
    def resolved_payment_term(self) -> PaymentTermInfo | None:
        """The customer's own term wins; otherwise the group's; there is no global default."""
        if self.payment_term is not None:
            return self.payment_term
        return self.group.payment_term if self.group is not None else None


@dataclass(frozen=True, slots=True)
class CustomerUserInfo:
    """The buyer: a user of the customer company."""

    id: int
    email: str
    first_name: str = ""
    last_name: str = ""


@dataclass(frozen=True, slots=True)
class Weight:
    """The weight of one unit of a product; `unit` is "kg" or "lbs"."""

    value: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class Dimensions:
    """The outer dimensions of one unit of a product; `unit` is "cm", "m", "inch" or "foot"."""

    length: Decimal
    width: Decimal
    height: Decimal
    unit: str


@dataclass(frozen=True, slots=True)
class LineItemInfo:
    """One line of the checkout, for rules and providers that itemise."""

    sku: str
    name: str
    quantity: Decimal
    unit_price: Money
    product_id: int | None = None
    unit_code: str = "item"  # the unit the product is sold in
    unit_precision: int = 0  # decimal places a quantity of that unit may have
    category_id: int | None = None
    category_name: str = ""
    weight: Weight | None = None  # None: the product has no shipping weight recorded
    dimensions: Dimensions | None = None


@dataclass(frozen=True, slots=True)
class CheckoutContext:
    """Everything rules and `is_applicable` may look at: a checkout, an order or an invoice being paid."""

    currency: str
    subtotal: Money
    total: Money
    line_items: Sequence[LineItemInfo] = ()
    billing_address: AddressInfo | None = None
    shipping_address: AddressInfo | None = None
    customer: CustomerInfo | None = None
    customer_user: CustomerUserInfo | None = None
    shipping_method: str = ""  # the method's key once the buyer has chosen one
    shipping_origin: AddressInfo | None = None  # where the goods ship from
    po_number: str = ""  # the buyer's purchase order number; providers that take one send it


@dataclass(frozen=True, slots=True)
class PaymentRequest:
    """Authorize, charge or record a pending purchase of `amount`.

    `payment_data` holds what the browser produced (a token, opaque data), never a card number.
    """

    amount: Money
    idempotency_key: str
    method: MethodInfo
    reference: str  # our order or invoice number, shown at the provider
    context: CheckoutContext | None = None
    payment_data: Mapping[str, str] = field(default_factory=dict)
    return_url: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    #: the provider reference of a prior transaction of the same buyer that this payment reuses (a card validation,
    #: for a reference transaction), chosen by the server from the ledger; never anything the browser sent
    source_reference: str = ""
    #: the provider's id of the buyer's company at this integration, from an earlier payment
    #: (`ProviderResult.customer_reference`); "" when none was made yet
    customer_reference: str = ""
    #: where the provider posts its server-to-server result for this payment (the integration's webhook endpoint,
    #: absolute), for providers that are told per payment (Wirecard's confirmUrl); "" when not known
    notify_url: str = ""


@dataclass(frozen=True, slots=True)
class FollowUpRequest:
    """Capture, cancel or refund `amount` of the transaction the provider knows as `provider_reference`."""

    amount: Money
    idempotency_key: str
    provider_reference: str
    method: MethodInfo
    #: the amount of the source transaction (an authorization for capture/cancel, a charge for refund)
    source_amount: Money | None = None
    reason: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    #: the authorization acted on only reuses a zero-amount card validation (a "clone"): nothing is held at the
    #: provider, so a capture must take the money anew and a cancel has nothing to release
    validation_only: bool = False


@dataclass(frozen=True, slots=True)
class StatusRequest:
    """Ask what became of a transaction whose outcome we do not know."""

    idempotency_key: str
    provider_reference: str | None
    action: str
    amount: Money
    method: MethodInfo
    #: when the operation was sent (the row was written): where the provider can only be searched by time, the
    #: search starts here; None: the provider's own default window
    requested_at: datetime | None = None
    #: our order or invoice number the operation was made for (`PaymentRequest.reference`)
    reference: str = ""
    #: a provider reference the buyer's browser brought back (a lightbox's order id): untrusted, so the adapter
    #: verifies it with the provider (amount, currency, our reference) before it counts; "" when none
    returned_reference: str = ""
    #: the provider references other rows of the same order already stand for (recorded captures, refunds): a
    #: provider without idempotency keys matches a lost operation by amount, and must not match one of these
    claimed_references: frozenset[str] = frozenset()


@dataclass(frozen=True, slots=True)
class ProviderResult:
    """What a provider said about one operation, in our words. Build it with the named constructors
    (`succeeded`, `pending`, `action_required`, `declined`, `error`), which say which fields each outcome carries.

    A decline is a result (DECLINED with an `ErrorCode`), never an exception; "we cannot know whether money moved"
    is `ProviderUnavailable`, raised, never a result. ERROR means the provider answered but the answer cannot be
    mapped: the row stays open for reconcile, like PENDING. `raw` is scrubbed: no card data, no secrets.
    """

    outcome: Outcome
    provider_reference: str | None
    amount: Money
    error_code: ErrorCode | None = None
    message: str = ""
    next_action: Mapping[str, str] = field(default_factory=dict)  # redirect URL, client secret
    raw: Mapping[str, Any] = field(default_factory=dict)  # scrubbed: no card data, no secrets
    #: the zero-amount card validation the provider made first and this payment rests on (its reference and
    #: amount 0); the ledger records it as a `validate` row, the payment's source
    validation: ProviderResult | None = None
    #: the provider's id of the buyer's company, when the payment made or used one; kept for later payments
    customer_reference: str | None = None

    @classmethod
    def succeeded(
        cls,
        amount: Money,
        *,
        reference: str | None = None,
        message: str = "",
        raw: Mapping[str, Any] | None = None,
        customer_reference: str | None = None,
    ) -> ProviderResult:
        """The provider did it: `amount` is what it says moved (or is held), which may differ from the request."""
        return cls(
            Outcome.SUCCEEDED,
            reference,
            amount,
            message=message,
            raw=raw or {},
            customer_reference=customer_reference,
        )

    @classmethod
    def pending(
        cls,
        amount: Money,
        *,
        reference: str | None = None,
        code: ErrorCode | None = None,
        message: str = "",
        raw: Mapping[str, Any] | None = None,
        customer_reference: str | None = None,
    ) -> ProviderResult:
        """Accepted but not final (a review hold, a transfer processing); `code` says why, when there is a reason."""
        return cls(
            Outcome.PENDING,
            reference,
            amount,
            error_code=code,
            message=message,
            raw=raw or {},
            customer_reference=customer_reference,
        )

    @classmethod
    def action_required(
        cls,
        amount: Money,
        next_action: Mapping[str, str],
        *,
        reference: str | None = None,
        message: str = "",
        raw: Mapping[str, Any] | None = None,
        customer_reference: str | None = None,
    ) -> ProviderResult:
        """The buyer must act (3-D Secure, a hosted page, an approval); `next_action` says how."""
        return cls(
            Outcome.ACTION_REQUIRED,
            reference,
            amount,
            message=message,
            next_action=next_action,
            raw=raw or {},
            customer_reference=customer_reference,
        )

    @classmethod
    def declined(
        cls,
        code: ErrorCode,
        message: str,
        *,
        amount: Money,
        reference: str | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> ProviderResult:
        """The provider refused, and nothing moved: `message` is meant for the buyer or staff."""
        return cls(Outcome.DECLINED, reference, amount, error_code=code, message=message, raw=raw or {})

    @classmethod
    def error(
        cls,
        code: ErrorCode,
        message: str,
        *,
        amount: Money,
        reference: str | None = None,
        raw: Mapping[str, Any] | None = None,
    ) -> ProviderResult:
        """The provider answered, but we cannot tell what happened: money may have moved; reconcile asks later."""
        return cls(Outcome.ERROR, reference, amount, error_code=code, message=message, raw=raw or {})

    def read_back_failure(self) -> ProviderResult:
        """This result as the answer to a read-back (fetch_status, a lookup before an operation): a refused read
        is not a decline of the payment, so DECLINED becomes ERROR and the row stays open."""
        return replace(self, outcome=Outcome.ERROR) if self.outcome == Outcome.DECLINED else self


class MovementAction(enum.StrEnum):
    """What a provider event says happened to a payment, in our words (see `EventMovement`)."""

    AUTHORIZE = "authorize"  # the payment was authorized (e.g. after 3-D Secure)
    CHARGE = "charge"  # the payment was authorized and captured in one step
    CAPTURE = "capture"  # money was taken: a capture of an authorization, or the charge itself
    CANCEL = "cancel"  # what was left of an authorization was released
    REFUND = "refund"
    #: a refund reported before did not happen after all (voided at the provider before it settled): the money
    #: stayed with the merchant; `provider_reference` is the refund's own id
    REFUND_REVERSED = "refund_reversed"
    DECLINE = "decline"  # the payment attempt failed (decline, failed 3-D Secure)
    #: the buyer's bank disputes a charge (chargeback): the money may be taken back until staff answer at the
    #: provider; `provider_reference` is the dispute's id, `error_code` its status
    DISPUTE = "dispute"


@dataclass(frozen=True, slots=True)
class EventMovement:
    """One fact an event reports, in the order it happened; processing applies them idempotently.

    `provider_reference` identifies the movement at the provider (a refund id, a charge id); the processing
    matches it to a ledger row by `idempotency_key` (when the provider echoes the key of the request that
    caused it), then by that reference, and records a new row (keyed by the reference) only for a movement
    made outside our system, such as a refund in the provider's dashboard.
    """

    action: MovementAction
    provider_reference: str
    amount: Money
    idempotency_key: str | None = None
    error_code: str | None = None
    message: str = ""

    def as_dict(self) -> dict[str, Any]:
        return {
            "action": self.action.value,
            "provider_reference": self.provider_reference,
            "amount": str(self.amount.amount),
            "currency": self.amount.currency,
            "idempotency_key": self.idempotency_key,
            "error_code": self.error_code,
            "message": self.message,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EventMovement:
        return cls(
            action=MovementAction(data["action"]),
            provider_reference=data["provider_reference"],
            amount=Money(Decimal(data["amount"]), data["currency"]),
            idempotency_key=data.get("idempotency_key"),
            error_code=data.get("error_code"),
            message=data.get("message", ""),
        )


@dataclass(frozen=True, slots=True)
class WebhookEvent:
    """A verified, normalised provider event.

    `provider_reference` is the payment the event is about (the reference of the authorize or charge row);
    `payment_key` is the idempotency key of the request that made that payment, when the provider carries it
    (metadata), so an event can be matched before we learn the reference; `merchant_reference` is our order's (or
    invoice's) number where the provider carries the one the payment was offered with (Apruve's
    `merchant_order_id`): an object the provider made from our offer before we learnt its reference (an Apruve
    order accepted in the lightbox) is matched by it; `movements` say what happened to it, in order. An event
    with no movements and no `needs_details` is stored and ignored. `needs_details` says the event leaves out
    what applying it needs (the refunds of a charge; which payment a refund returned): the worker has the adapter
    complete it (`Adapter.webhook_event_complete`) once, before matching it to a payment, and keeps the completed
    event. An event that cannot be read is never a `WebhookEvent`: see `UnreadableEvent`.
    """

    event_id: str
    type: str
    provider_reference: str | None
    amount: Money | None = None
    data: Mapping[str, Any] = field(default_factory=dict)
    movements: tuple[EventMovement, ...] = ()
    payment_key: str | None = None
    needs_details: bool = False
    merchant_reference: str | None = None

    def as_dict(self) -> dict[str, Any]:
        return {
            "event_id": self.event_id,
            "type": self.type,
            "provider_reference": self.provider_reference,
            "amount": str(self.amount.amount) if self.amount else None,
            "currency": self.amount.currency if self.amount else None,
            "data": dict(self.data),
            "movements": [m.as_dict() for m in self.movements],
            "payment_key": self.payment_key,
            "needs_details": self.needs_details,
            "merchant_reference": self.merchant_reference,
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> WebhookEvent:
        """Inverse of `as_dict`, for events read back from the inbox."""
        return cls(
            event_id=data["event_id"],
            type=data["type"],
            provider_reference=data.get("provider_reference"),
            amount=Money(Decimal(data["amount"]), data["currency"]) if data.get("amount") is not None else None,
            data=dict(data.get("data") or {}),
            movements=tuple(EventMovement.from_dict(m) for m in data.get("movements") or ()),
            payment_key=data.get("payment_key"),
            needs_details=bool(data.get("needs_details")),
            merchant_reference=data.get("merchant_reference"),
        )


# --- the adapter ----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class WebhookSetup:
    """What an administrator configures at the provider so its webhooks reach us: the events to enable, the API
    version the endpoint must have (events are shaped by it; "" when the provider has none), the setting that holds
    the signing secret (without it every delivery is refused) and where, at the provider, all this is done."""

    events: tuple[str, ...]
    api_version: str
    signing_field: str
    where: str


class Adapter(ABC):  # noqa: B024 - every hook has a safe default; providers override what they support
    """One payment provider. Built per integration from its decrypted settings.

    Must: carry the idempotency key on every call that can move money; raise `ProviderUnavailable` only when
    it cannot know whether money moved; return declines as `ProviderResult`; scrub `raw`.
    Must not: touch the database, import the Django apps, log secrets or card data, branch on other providers.
    """

    key: ClassVar[str]
    label: ClassVar[str]
    capabilities: ClassVar[frozenset[Capability]] = frozenset()
    #: how long an authorization holds at this provider, in hours (None: no authorizations)
    authorization_ttl_hours: ClassVar[int | None] = None
    #: how long a card validation can be referenced by later payments, in hours (None: as long as it is kept)
    validation_ttl_hours: ClassVar[int | None] = None
    #: reasons the provider takes with a refund, as (code, label); empty: it takes none and none is asked
    refund_reasons: ClassVar[Sequence[tuple[str, str]]] = ()
    #: the provider's own addresses; the sandbox address is given by the caller
    test_base_url: ClassVar[str] = ""
    live_base_url: ClassVar[str] = ""
    #: the provider's documented rate limit per account, operations per second, live and in its test environment
    #: (None: none documented); the sweeps keep to it (`integrations.ratelimits`)
    live_rate_limit: ClassVar[float | None] = None
    test_rate_limit: ClassVar[float | None] = None
    #: the webhook events to enable at the provider for this integration's endpoint (shown on its page)
    webhook_events: ClassVar[tuple[str, ...]] = ()
    #: the API version the webhook endpoint must be created with ("" when the provider has none)
    webhook_api_version: ClassVar[str] = ""
    #: the secret setting that is the last segment of the webhook URL (Apruve's token; "" when none): the URL
    #: shown to administrators carries it, and `parse_webhook` finds it as `URL_TOKEN_HEADER`
    webhook_url_token_setting: ClassVar[str] = ""
    #: the settings key of the webhook signing secret, and where at the provider the endpoint is made
    webhook_signing_field: ClassVar[str] = ""
    webhook_where: ClassVar[str] = ""
    #: whether the adapter makes the buyer's company a customer at the provider and wants its id back on later
    #: payments (`PaymentRequest.customer_reference`, from `ProviderResult.customer_reference`)
    keeps_customers: ClassVar[bool] = False

    def __init__(self, settings: Mapping[str, Any], *, base_url: str = "") -> None:
        self.settings = settings
        self.base_url = base_url.rstrip("/")

    def __repr__(self) -> str:  # settings hold secrets: never show them
        return f"<{type(self).__name__} base_url={self.base_url!r}>"

    @classmethod
    def webhook_setup(cls) -> WebhookSetup | None:
        """How to point this provider's webhooks at an integration (its page shows it); None when it sends none.
        A provider whose setup is not a list of events and a secret overrides this."""
        if Capability.WEBHOOKS not in cls.capabilities:
            return None
        return WebhookSetup(
            events=tuple(cls.webhook_events),
            api_version=cls.webhook_api_version,
            signing_field=cls.webhook_signing_field,
            where=cls.webhook_where,
        )

    def supports(self, capability: Capability) -> bool:
        """Whether the back-office may offer, and the services may run, what `capability` names."""
        return capability in self.capabilities

    @cached_property
    def options(self) -> SettingsReader:
        """The integration's settings, read with one meaning of "empty" and "on" for every provider."""
        return SettingsReader(self.settings)

    def card_method(self, integration: IntegrationInfo) -> MethodInfo:
        """The integration's main method: `<key>_<id>`, its labels, and the `<key>/widget.html` widget."""
        return MethodInfo(
            identifier=f"{self.key}_{integration.id}",
            integration_id=integration.id,
            provider_key=self.key,
            labels=integration.labels,
            short_labels=integration.short_labels,
            widget=f"{self.key}/widget.html",
        )

    def methods(self, integration: IntegrationInfo) -> list[MethodInfo]:
        """The payment methods this integration exposes; one by default (`card_method`)."""
        return [self.card_method(integration)]

    def is_applicable(self, context: CheckoutContext) -> bool:
        """The provider's own gate on top of the payment rules."""
        return True

    def widget_context(self, method: MethodInfo, context: CheckoutContext) -> dict[str, Any]:
        """What the storefront widget (`method.widget`) shows for this checkout, as `options` in its template.

        Rendered into the page, so it must hold no secret: instructions, a publishable key, a client token.
        The widget posts what it produces as `payment_data[<name>]` fields (a token, never card data).
        """
        return {}

    def pending(self, request: PaymentRequest) -> ProviderResult:
        """Record a promise to pay (offline methods, `Capability.PENDING`): no money moves through us.

        SUCCEEDED records the promise; DECLINED (with an `ErrorCode`) when the buyer cannot pay this way. Nothing
        is called, so there is no timeout, and a repeated key changes nothing (the ledger finds its row).
        """
        raise UnsupportedOperation(f"{self.key} has no pending purchase")

    def authorize(self, request: PaymentRequest) -> ProviderResult:
        """Hold `request.amount` on the buyer's payment method, to be captured later.

        Decline: DECLINED with an `ErrorCode` (the card's or the request's), the provider's reference when it made
        one. Timeout, connection error, 5xx: raise `ProviderUnavailable` (the row stays for reconcile). Repeated
        key: the first answer again, never a second hold (the key travels with the call). The buyer must act:
        ACTION_REQUIRED with `next_action`. Answered but unmappable: ERROR.
        """
        raise UnsupportedOperation(f"{self.key} cannot authorize")

    def charge(self, request: PaymentRequest) -> ProviderResult:
        """Authorize and capture `request.amount` in one step; decline, timeout and repeated key as `authorize`."""
        raise UnsupportedOperation(f"{self.key} cannot charge")

    def capture(self, request: FollowUpRequest) -> ProviderResult:
        """Take `request.amount` (all or part) of the authorization `request.provider_reference`.

        SUCCEEDED with the amount taken and the reference later refunds act on. Decline (already captured,
        expired, more than authorized): DECLINED with an `ErrorCode`, nothing taken. Timeout: raise
        `ProviderUnavailable`. Repeated key: the first capture's answer, money taken once.
        """
        raise UnsupportedOperation(f"{self.key} cannot capture")

    def cancel(self, request: FollowUpRequest) -> ProviderResult:
        """Release what is left of the authorization `request.provider_reference`.

        SUCCEEDED once nothing is held (also when the provider released it itself). Decline (settled, captured):
        DECLINED with an `ErrorCode`. Timeout: raise `ProviderUnavailable`. Repeated key: the first answer.
        """
        raise UnsupportedOperation(f"{self.key} cannot cancel")

    def refund(self, request: FollowUpRequest) -> ProviderResult:
        """Give back `request.amount` of the charge or capture `request.provider_reference`.

        SUCCEEDED (or PENDING while the provider processes it) with the refund's own reference where it has one.
        Decline (more than is left, not refundable): DECLINED with an `ErrorCode`, nothing given back. Timeout:
        raise `ProviderUnavailable`. Repeated key: the first refund's answer, money given back once.
        """
        raise UnsupportedOperation(f"{self.key} cannot refund")

    def invoice(self, request: FollowUpRequest) -> ProviderResult:
        """Bill the buyer's company for `request.amount` of the authorization `request.provider_reference`
        (`Capability.INVOICE`); `options` may carry a shipment (`tracking_number`, `shipper`).

        SUCCEEDED with the invoice's own reference: nothing is paid yet (the capture of the invoice comes by
        webhook). Decline (more than is left, canceled order): DECLINED with an `ErrorCode`. Timeout: raise
        `ProviderUnavailable`. Repeated key: the first invoice, never a second one.
        """
        raise UnsupportedOperation(f"{self.key} cannot send invoices")

    def abandon(self, request: FollowUpRequest) -> ProviderResult:
        """End a purchase that waits for the buyer (ACTION_REQUIRED: 3-D Secure, a hosted page) because the buyer
        left it to pay another way; `provider_reference` is the purchase's, `idempotency_key` is for this call.

        SUCCEEDED: it can no longer take money (canceled at the provider, or it needs a call of ours that will
        not come). PENDING: the provider cannot end it now and it may still complete (say so in `message`); the
        row stays open for webhooks and reconcile. DECLINED: it could not be ended, e.g. because it completed
        meanwhile; the caller then asks `fetch_status`. The default is PENDING: nothing is assumed ended.
        """
        return ProviderResult.pending(
            request.amount,
            reference=request.provider_reference,
            message=f"{self.label} cannot end a payment that waits for the buyer; it may still complete.",
        )

    def activate(self, request: FollowUpRequest) -> ProviderResult:
        """Tell the provider the invoice for the capture or charge `provider_reference` was issued
        (`Capability.ACTIVATE`; `options` carry `invoice_id` and `invoice_date`). Decline (not captured yet,
        activated before): DECLINED with an `ErrorCode`. Timeout: raise `ProviderUnavailable`. Repeated key: the
        first answer."""
        raise UnsupportedOperation(f"{self.key} cannot activate")

    def reauthorize(self, request: FollowUpRequest) -> ProviderResult:
        """A new authorization of `request.amount` on the payment method behind `provider_reference`, keyed by
        `request.idempotency_key`; the caller cancels the old one once this succeeded. Decline, timeout and
        repeated key as `authorize`; a failed read of the old payment is an ERROR, not a decline."""
        raise UnsupportedOperation(f"{self.key} cannot re-authorize")

    def fetch_status(self, request: StatusRequest) -> ProviderResult:
        """What became of the operation keyed `request.idempotency_key`: SUCCEEDED, DECLINED, PENDING (still
        processing), or ERROR with `error_code=NOT_FOUND` when the provider has no trace of it (the request never
        arrived), so reconcile may send it again with the same key. A refused or unreadable read is ERROR (see
        `ProviderResult.read_back_failure`), never a decline of the payment; no answer raises `ProviderUnavailable`.
        Asking twice is safe: it moves nothing (completing a purchase that waited for the buyer is keyed)."""
        raise UnsupportedOperation(f"{self.key} cannot report a transaction's status")

    def parse_webhook(self, body: bytes, headers: Mapping[str, str]) -> WebhookEvent:
        """Verify the signature and say what the event means (`WebhookEvent`); `InvalidSignature` when it does not
        verify, `MalformedEvent` for a signed envelope that cannot be read, `UnreadableEvent` for a signed event
        whose content cannot be read. Never touches the network: it runs while the provider waits."""
        raise InvalidSignature(f"{self.key} sends no webhooks")

    def webhook_event_complete(self, event: WebhookEvent) -> WebhookEvent:
        """Fill in what an event with `needs_details` leaves out, by asking the provider: which payment a refund
        notification returned (it names only the refund's own id), the refunds of a charge, whether a refund is
        money back. Returns the event as it is to be applied (its payment's reference, its movements).

        Called once per event by the worker, before the event is matched to a payment, never while the webhook
        request waits. Raises `ProviderUnavailable` when the provider cannot be asked (the task retries), and
        `UnreadableEvent` when its answer says the event cannot be applied (kept failed, for staff). The
        default: as is."""
        return event

    def webhook_source_allowed(self, address: str) -> bool:
        """Whether a webhook may come from `address` (an allow-list of the provider's servers); any by default."""
        return True

    def webhook_reply(self, accepted: bool) -> tuple[str, str] | None:
        """The body and content type the provider expects in answer to a webhook; None: an empty 200 or 400."""
        return None

    def check_connection(self) -> ProviderResult | None:
        """Call the provider with the configured credentials; None when there is nothing to call."""
        return None

    def echoed_key(self, idempotency_key: str) -> str:
        """Our idempotency key as this provider gives it back (`EventMovement.idempotency_key`): the key itself,
        unless the provider holds only a digest of it (Authorize.Net's 20-character invoice number)."""
        return idempotency_key


#: `error_code` of a fetch_status result when the provider never received the operation
NOT_FOUND = ErrorCode.NOT_FOUND


#: where the webhook view hands an adapter the secret token of the webhook URL's path (Apruve's), replacing any
#: header of that name the sender sent
URL_TOKEN_HEADER = "X-Paydesk-Url-Token"  # noqa: S105 - a header name, not a secret


def header(headers: Mapping[str, str], name: str) -> str | None:
    """A request header by name, whatever its case (a webhook's headers come as the framework gives them)."""
    wanted = name.lower()
    return next((value for key, value in headers.items() if key.lower() == wanted), None)


def street_lines(address: AddressInfo, *, separator: str = " ") -> str:
    """The street and its second line as one field, for providers that take a single street field."""
    return separator.join(part for part in (address.street, address.street2) if part)


def subdivision(address: AddressInfo, *, form: Literal["code", "name"] = "code") -> str:
    """The state or province as a provider documents it: its code without the country ("NY" of "US-NY") or its
    name ("New York"); the other form when the one asked for is not known."""
    code = address.region_code.rpartition("-")[2]
    if form == "code":
        return code or address.region_name
    return address.region_name or code


def truthy(value: Any, default: bool = False) -> bool:
    """A setting as a flag: checkboxes come as booleans, stored or typed settings as "1", "true", "on", "yes"."""
    if value is None or value == "":
        return default
    if isinstance(value, str):
        return value.lower() in ("1", "true", "on", "yes")
    return bool(value)


class SettingsReader:
    """Typed reads of an integration's settings (`Adapter.options`): one rule for what is empty and what is on,
    instead of each adapter testing `settings.get(...)` its own way. Secrets are read like any text."""

    def __init__(self, settings: Mapping[str, Any]) -> None:
        self._settings = settings

    def text(self, name: str, default: str = "") -> str:
        """The setting as text; `default` when it is missing or empty."""
        value = self._settings.get(name)
        return default if value is None or value == "" else str(value)

    def flag(self, name: str, default: bool = False) -> bool:
        """The setting as on/off; `default` when it is missing or empty."""
        return truthy(self._settings.get(name), default)

    def choices(self, name: str, default: Sequence[str] = ()) -> list[str]:
        """A multiple choice (a list, or text separated by commas); `default` when none is chosen."""
        value = self._settings.get(name)
        if isinstance(value, str):
            value = [v for v in value.split(",") if v]
        return list(value) if value else list(default)


SECRET_MASK = "••••••••"  # noqa: S105 - the mask shown instead of a secret


def scrub(data: Any, *, secrets: Sequence[str] = (), keys: Sequence[str] = ()) -> Any:
    """Copy of `data` with given secret values and any value under a sensitive key masked, for `raw` and logs."""
    sensitive = {k.lower() for k in keys} | _SENSITIVE_KEYS
    values = [s for s in secrets if s]

    def clean(value: Any, key: str = "") -> Any:
        if key.lower() in sensitive:
            return SECRET_MASK
        if isinstance(value, Mapping):
            return {k: clean(v, str(k)) for k, v in value.items()}
        if isinstance(value, list | tuple):
            return [clean(v) for v in value]
        if isinstance(value, str):
            for secret in values:
                value = value.replace(secret, SECRET_MASK)
        return value

    return clean(data)


_SENSITIVE_KEYS = {
    "number",
    "card_number",
    "cardnumber",
    "acct",
    "cvc",
    "cvv",
    "cvv2",
    "cardcode",
    "account_number",
    "accountnumber",
    "password",
    "pwd",
    "secret",
    "secret_key",
    "transaction_key",
    "transactionkey",
    "api_key",
    "signature_key",
    "webhook_secret",
    "authorization",
    "client_secret",
}
