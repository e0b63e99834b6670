"""How the contract suite reaches each provider's sandbox: settings, scenarios and hooks per provider.

A provider joins the contract suite by adding a `ContractProfile` to `PROFILES`. A scenario the provider cannot
play is skipped with the reason given here, so the suite says what each provider does not do. Credentials,
tokenization, settling and reviews come from the provider's sandbox profile (`sandbox/profiles.py`), as the demo
seed's and the other tests' do.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

import pytest
import requests

from providers import registry
from providers.base import (
    Adapter,
    CheckoutContext,
    ErrorCode,
    FollowUpRequest,
    MethodInfo,
    Money,
    Outcome,
    PaymentRequest,
    ProviderResult,
    StatusRequest,
)
from providers.oropay.adapter import OroPayAdapter
from providers.payflow.adapter import CURRENCIES as PAYPAL_CURRENCIES
from providers.payflow.adapter import PayflowAdapter, request_id
from sandbox.profiles import AUTHORIZENET_CARD, WIRECARD_CARD, apruve_buyer_accepts
from sandbox.profiles import profile as sandbox_profile

#: one amount per currency, each exact in the currency's minor units (KWD's last digit 0: Stripe's rule)
AMOUNTS = {"USD": Decimal("100.00"), "JPY": Decimal("12000"), "KWD": Decimal("30.120"), "EUR": Decimal("100.00")}
DECLINES = ["card_declined", "insufficient_funds", "expired_card", "incorrect_cvc", "processing_error"]


@dataclass(frozen=True)
class ContractProfile:
    key: str
    settings: Mapping[str, Any]
    #: scenario -> payment data the browser would have produced for it (a token, never a card number), or a
    #: function of the adapter making it at run time. A `source_reference` in it is not browser data: it goes to
    #: `PaymentRequest.source_reference`, as the server's choice of a card the buyer validated before (Payflow)
    payment_data: Mapping[str, Mapping[str, str] | Callable[[Adapter], Mapping[str, str]]]
    #: scenario -> why this provider cannot play it
    skips: Mapping[str, str] = field(default_factory=dict)
    #: (next_action, outcome "complete"|"fail") -> None: what the buyer does on the provider's challenge page
    complete_challenge: Callable[[Mapping[str, str], str], None] | None = None
    #: (live_server_url, card number) -> payment data, through the provider's own tokenization endpoint
    tokenize: Callable[[str, str], Mapping[str, str]] | None = None
    #: our operation name -> the sandbox's fault operation name
    operations: Mapping[str, str] = field(default_factory=dict)
    #: the currencies the provider takes (None: all); others are skipped, saying so
    currencies: frozenset[str] | None = None
    #: scenario -> currency -> amount, for providers whose test system picks the outcome by amount (Payflow's
    #: pilot triggers); a currency missing here is skipped
    amounts: Mapping[str, Mapping[str, Decimal]] = field(default_factory=dict)
    #: settings that make the credentials wrong
    bad_settings: Mapping[str, str] = field(default_factory=lambda: {"secret_key": "sk_test_invalid"})
    #: our idempotency key as it appears on the wire (Payflow's request ids hold 32 characters)
    wire_key: Callable[[str], str] = lambda key: key
    #: error code of a payment whose buyer step (`complete_challenge(..., "fail")`) failed
    challenge_failure: str = "authentication_failed"
    #: scenario -> fresh payment data, for providers whose tokens are single use (None: no such scenario)
    make_payment_data: Callable[[str], Mapping[str, str] | None] | None = None
    #: provider reference -> None: settle the transaction now (providers that refund only settled payments)
    settle: Callable[[str], None] | None = None
    #: (provider reference, "approve"|"decline") -> None: the fraud review's decision on a held payment
    review: Callable[[str, str], None] | None = None
    #: the registry key, when this profile plays one method of a provider (Wirecard's SEPA): "" for `key` itself
    provider: str = ""
    #: the method variant the suite pays with ("" the provider's main method)
    variant: str = ""
    #: the adapter class the suite drives, when the buyer must act between calls (Wirecard's payment page)
    adapter_class: type[Adapter] | None = None
    #: the currency a scenario uses when the test names none
    default_currency: str = "USD"
    #: provider reference ("" every one) -> None: the provider finishes a purchase it answered PENDING, as it does
    #: days later (an ACH debit funded, or returned by the bank); None: a purchase is final when answered. The suite
    #: lets it finish through the sandbox's hook and reads it back with `fetch_status`, as reconcile does (`final`)
    settles_later: Callable[[str], None] | None = None


def _stripe_challenge(next_action: Mapping[str, str], outcome: str) -> None:
    reply = requests.post(next_action["redirect_url"], data={"outcome": outcome}, allow_redirects=False, timeout=10)
    assert reply.status_code in (200, 302), reply.text


def payflow_post_card(next_action: Mapping[str, str], number: str, *, expdate: str = "1230", cvv: str = "123") -> str:
    """What the buyer's browser does on the transparent-redirect form: post the card to Payflow (the sandbox).
    Returns where Payflow sends the browser back."""
    fields = {k: v for k, v in next_action.items() if k.isupper()}
    data = {**fields, "ACCT": number, "EXPDATE": expdate, "CVV2": cvv}
    reply = requests.post(next_action["form_action"], data=data, allow_redirects=False, timeout=10)
    assert reply.status_code in (200, 303), reply.text
    return reply.headers.get("Location", "")


def payflow_validated_card(adapter: Adapter, number: str = "4111111111111111") -> str:
    """The PNREF of a card validated by a zero-amount authorization: secure token, transparent redirect, inquiry.
    Later payments refer to it (reference transactions), as the reference does after a validation."""
    assert isinstance(adapter, PayflowAdapter)
    key = f"validate-{uuid.uuid4()}"
    zero = Money(Decimal("0.00"), "USD")
    request = PaymentRequest(
        amount=zero, idempotency_key=key, method=method(adapter), reference="C-000001", return_url=RETURN_URL
    )
    token = adapter.validate(request)
    assert token.outcome == Outcome.ACTION_REQUIRED, token
    payflow_post_card(token.next_action, number)
    status = StatusRequest(
        idempotency_key=key,
        provider_reference=token.provider_reference,
        action="authorize",
        amount=zero,
        method=method(adapter),
    )
    done = adapter.fetch_status(status)
    assert done.outcome == Outcome.SUCCEEDED, done
    assert done.provider_reference
    return done.provider_reference


def _payflow_card(adapter: Adapter) -> Mapping[str, str]:
    return {"source_reference": payflow_validated_card(adapter)}


def _payflow_challenge(next_action: Mapping[str, str], outcome: str) -> None:
    payflow_post_card(next_action, "4111111111111111" if outcome == "complete" else "000000000000000")


def _payflow_profile(key: str) -> ContractProfile:
    return ContractProfile(
        key=key,
        settings={
            **sandbox_credentials(key),
            # authorizations refer to a validated card (ORIGID) and hold the amount
            "zero_amount_authorization": True,
            "authorization_for_required_amount": True,
        },
        payment_data={
            **{name: _payflow_card for name in ["success", "held_for_review", *DECLINES]},
            "3ds": {},  # no card yet: the purchase asks for a secure token and the buyer posts the card
        },
        skips={
            "second_capture": "Payflow takes several delayed captures of one authorization (CAPTURECOMPLETE=N) only "
            "where PayPal is the processor; the adapter sends CAPTURECOMPLETE=Y, which releases the rest",
            "currency": "PayPal processes the 23 currencies of its currency codes page; KWD is not one of them",
            "settlement": "Payflow credits (C) a sale or delayed capture by ORIGID whether or not it has settled; "
            "the guide limits only voids to unsettled transactions",
        },
        complete_challenge=_payflow_challenge,
        tokenize=lambda url, number: {"source_reference": payflow_validated_card(sandbox_adapter(key, url), number)},
        operations={"create": "authorization", "charge": "sale", "capture": "delayed_capture"},
        currencies=PAYPAL_CURRENCIES,
        amounts={  # the pilot server's amount triggers (PayPal's test-transactions page): RESULT = dollars - 1000
            "card_declined": {"USD": Decimal("1012.00")},
            "insufficient_funds": {"USD": Decimal("1050.00")},
            "expired_card": {"USD": Decimal("1024.00")},
            "incorrect_cvc": {"USD": Decimal("1114.00")},
            "processing_error": {"USD": Decimal("1104.00")},
            "held_for_review": {"USD": Decimal("1126.00")},  # 126: flagged for review by the fraud filters
        },
        bad_settings={"password": "invalid"},
        wire_key=request_id,
        challenge_failure="incorrect_number",  # the buyer's card on the form: 000000000000000 gives RESULT 23
        review=sandbox_profile(key).review,
    )


RETURN_URL = "http://shop.test/checkout/return"
#: the simulated merchant account the contract suite pays into, at every provider
ACCOUNT = "paydeskcontract"


ANET_LOGIN = ACCOUNT
ANET_CARD = AUTHORIZENET_CARD
#: scenario -> Accept.js fields (Authorize.Net's test-environment triggers, see sandbox/authorizenet/simulator.py)
ANET_SCENARIOS: dict[str, dict[str, str]] = {
    "success": ANET_CARD,
    "card_declined": {**ANET_CARD, "zip": "46282"},
    "incorrect_cvc": {**ANET_CARD, "cardCode": "901"},
    "expired_card": {**ANET_CARD, "cardNumber": "4222222222222"},
    "processing_error": {**ANET_CARD, "cardNumber": "4222222222222"},
    "held_for_review": {**ANET_CARD, "cardNumber": "4222222222222"},
}


def _anet_payment_data(name: str) -> Mapping[str, str] | None:
    from sandbox.authorizenet.simulator import accept_tokenize

    fields = ANET_SCENARIOS.get(name)
    return accept_tokenize(ANET_LOGIN, **fields) if fields is not None else None


def wirecard_profiles() -> dict[str, ContractProfile]:
    """Wirecard's card and SEPA direct debit, each played on the provider's payment page (`WirecardBuyer`)."""
    from tests.providers.wirecard_buyer import LATER, WirecardBuyer, WirecardSepaBuyer, pay_page

    def card(number: str, **extra: str) -> Callable[[Adapter], Mapping[str, str]]:
        return lambda adapter: {**_wirecard_store(adapter, {**WIRECARD_CARD, "pan": number}), **extra}

    def sepa(adapter: Adapter) -> Mapping[str, str]:
        account = {"accountOwner": "Demo Owner", "bankAccountIban": "AT611904300234573201", "bankBic": "ABC1234567"}
        return _wirecard_store(adapter, account, payment_type="SEPA-DD")

    skips = {
        "replay": "Wirecard's frontend/init and toolkit take no idempotency key: a repeat is kept from the provider by "
        "the ledger's key, and a lost follow-up is looked up in getOrderDetails before it is sent again",
        "idempotency_key_header": "Wirecard has no idempotency key (see replay)",
        "lost_purchase_reply": "a purchase whose frontend/init answer was lost sent no buyer to a payment page, so no "
        "money moved; its order number is known only from that answer (tests/payments/test_wirecard_payments.py)",
        "insufficient_funds": "Wirecard's demo mode documents no decline reasons; the sandbox's decline card is "
        "card_declined",
    }
    common = {
        "settings": sandbox_credentials("wirecard"),
        "complete_challenge": lambda next_action, outcome: (
            pay_page(next_action, "pay" if outcome == "complete" else "cancel") and None
        ),
        "challenge_failure": "canceled",
        "operations": {
            "create": "frontend_init",
            "charge": "frontend_init",
            "capture": "deposit",
            "cancel": "approveReversal",
        },
        "bad_settings": {"secret": "WRONGSECRETWRONGSECRETWRONG123"},
    }
    return {
        "wirecard": ContractProfile(
            key="wirecard",
            payment_data={
                "success": card("9500000000000001"),
                "card_declined": card("9500000000000010"),
                "3ds": card("9500000000000001", **{LATER: "1"}),
            },
            skips=skips,
            tokenize=sandbox_tokenize("wirecard"),
            adapter_class=WirecardBuyer,
            **common,  # type: ignore[arg-type]
        ),
        "wirecard_sepa": ContractProfile(
            key="wirecard_sepa",
            provider="wirecard",
            variant="sepa",
            payment_data={"success": sepa, "3ds": lambda adapter: {**sepa(adapter), LATER: "1"}},
            skips={**skips, "currency": "SEPA direct debit takes euros only", "card_declined": "no SEPA decline"},
            currencies=frozenset({"EUR"}),
            default_currency="EUR",
            adapter_class=WirecardSepaBuyer,
            **common,  # type: ignore[arg-type]
        ),
    }


def _wirecard_store(adapter: Adapter, fields: Mapping[str, str], *, payment_type: str = "CCARD") -> Mapping[str, str]:
    """The payment step's data storage, opened by the adapter (as `widget_context` does) and filled by the buyer's
    browser through the storage's script (its sandbox-only endpoint)."""
    order_ident = uuid.uuid4().hex
    storage = adapter.storage_init(order_ident)  # type: ignore[attr-defined]
    assert storage is not None
    stored = requests.post(
        f"{adapter.base_url}/seamless/dataStorage/store/{storage['storageId']}",
        data={"paymentType": payment_type, **fields},
        timeout=10,
    )
    assert stored.json()["status"] == 0, stored.text
    return {"storage_id": storage["storageId"], "order_ident": order_ident}


def sandbox_credentials(key: str) -> dict[str, Any]:
    """The contract account's settings and secrets together, as the adapter takes them."""
    settings, secrets = sandbox_profile(key).credentials(ACCOUNT, "")
    return {**settings, **secrets}


def sandbox_tokenize(key: str) -> Callable[[str, str], Mapping[str, str]]:
    """(live server URL, card number) -> payment data, through the provider's own tokenization endpoint."""
    tokenize = sandbox_profile(key).tokenize
    assert tokenize is not None
    return lambda url, number: tokenize(f"{url}/sandbox/{key}", sandbox_credentials(key), number)


def apruve_accepted(adapter: Adapter, amount: Decimal = AMOUNTS["USD"], reference: str = "C-000001") -> dict[str, str]:
    """What the buyer's browser brings back from Apruve's lightbox: the order id, once the buyer accepted the offer
    the adapter made (Apruve, here its sandbox, checks the offer's secure hash itself)."""
    request = PaymentRequest(
        amount=Money(amount, "USD"),
        idempotency_key=f"offer-{uuid.uuid4()}",
        method=method(adapter),
        reference=reference,
        return_url=RETURN_URL,
    )
    offer = adapter.authorize(request)
    assert offer.outcome == Outcome.ACTION_REQUIRED, offer
    order_id = apruve_buyer_accepts(adapter.base_url, offer.next_action["order"], offer.next_action["secure_hash"])
    assert order_id
    return {"apruve_order_id": order_id}


PROFILES: dict[str, ContractProfile] = {
    "stripe": ContractProfile(
        key="stripe",
        settings=sandbox_credentials("stripe"),
        payment_data={
            "success": {"payment_method": "pm_card_visa"},
            "card_declined": {"payment_method": "pm_card_chargeDeclined"},
            "insufficient_funds": {"payment_method": "pm_card_chargeDeclinedInsufficientFunds"},
            "expired_card": {"payment_method": "pm_card_chargeDeclinedExpiredCard"},
            "incorrect_cvc": {"payment_method": "pm_card_chargeDeclinedIncorrectCvc"},
            "processing_error": {"payment_method": "pm_card_chargeDeclinedProcessingError"},
            "3ds": {"payment_method": "pm_card_threeDSecure2Required"},
        },
        skips={"second_capture": "a Stripe capture releases the rest of the authorization (no multiple capture)"},
        complete_challenge=_stripe_challenge,
        tokenize=sandbox_tokenize("stripe"),
    ),
    "payflow": _payflow_profile("payflow"),
    "payflow_pro": _payflow_profile("payflow_pro"),
    "authorizenet": ContractProfile(
        key="authorizenet",
        settings=sandbox_credentials("authorizenet"),
        payment_data={},
        make_payment_data=_anet_payment_data,
        amounts={  # card 4222222222222: the amount is the reason code
            "expired_card": {"USD": Decimal("8.00")},
            "processing_error": {"USD": Decimal("19.00")},
            "held_for_review": {"USD": Decimal("253.00")},
        },
        skips={
            "currency": "an Authorize.Net account processes one currency of USD, CAD, EUR, GBP, AUD, NZD, CHF, DKK, "
            "NOK, PLN, SEK (USD here): no JPY or KWD",
            "second_capture": "Authorize.Net captures an authorization once (priorAuthCapture); the rest is released",
            "insufficient_funds": "Authorize.Net reports no insufficient-funds reason; the processor's is reason 2",
            "3ds": "Authorize.Net's API takes 3-D Secure results in; it has no buyer challenge step of its own",
            "idempotency_key_header": "Authorize.Net has no idempotency header; our key travels as the invoice "
            "number and the duplicate window recognises a retry (tests/sandbox/test_authorizenet.py)",
        },
        tokenize=sandbox_tokenize("authorizenet"),
        operations={"create": "authorize", "charge": "charge", "cancel": "void"},
        currencies=frozenset({"USD"}),
        settle=sandbox_profile("authorizenet").settle,
        review=sandbox_profile("authorizenet").review,
        bad_settings={"transaction_key": "invalid000000000"},
    ),
    "apruve": ContractProfile(
        key="apruve",
        settings=sandbox_credentials("apruve"),
        payment_data={"success": apruve_accepted},
        skips={
            "currency": "Apruve extends credit in US dollars only",
            "charge": "Apruve has no charge: the buyer accepts an order in the lightbox; invoices collect it",
            "capture": 'Apruve has no capture: "Send invoice" bills the buyer\'s company and the money arrives as '
            "the invoice.closed webhook (tests/providers/test_apruve.py, tests/payments/test_apruve_payments.py)",
            "second_capture": "Apruve has no capture; several invoices per order are its partial collections",
            "3ds": "Apruve's buyer step is its lightbox, whose order id the return page posts back "
            "(tests/providers/test_apruve.py)",
            "idempotency_key_header": "Apruve has no idempotency header; our keys travel as merchant_invoice_id and "
            "in a credit's merchant_notes, and a retry finds the first object by them",
        },
        operations={"create": "get_order", "capture": "create_invoice", "cancel": "cancel_order"},
        currencies=frozenset({"USD"}),
        bad_settings={"api_key": "invalid"},
    ),
}
#: the debtor InfinitePay's test system approves (providers.md §5.2); any other e-mail fails the credit check
INFINITEPAY_DEBTOR = {"email": "email_for_success_emulation@test.com", "legal_form": "GmbH"}
PROFILES["infinitepay"] = ContractProfile(
    key="infinitepay",
    settings={**sandbox_credentials("infinitepay"), "auto_capture": True, "auto_activate": True},
    payment_data={
        "success": INFINITEPAY_DEBTOR,
        "card_declined": {**INFINITEPAY_DEBTOR, "email": "refused@example.com"},  # the credit check says no
        "insufficient_funds": INFINITEPAY_DEBTOR,  # over the debtor's credit limit, by amount
    },
    amounts={"insufficient_funds": {"USD": Decimal("50000.01")}},
    skips={
        "currency": "InfinitePay counts amounts in cents (EUR, CHF, GBP, USD here): no JPY or KWD",
        "second_capture": "InfinitePay captures an order once (captureOrder); the rest of the reservation is released",
        "3ds": "InfinitePay's guarantee has no buyer challenge",
        "idempotency_key_header": "InfinitePay has no idempotency header; the ORDER_ID and TRS_ID derived from our key "
        "make a repeat recognisable (tests/providers/test_infinitepay.py)",
        "refund_of_capture": "InfinitePay credits only an activated (invoiced) order; a captured one is canceled",
    },
    operations={"create": "reserveOrder", "charge": "reserveOrder", "capture": "captureOrder", "cancel": "cancelOrder"},
    currencies=frozenset({"USD", "EUR"}),
    bad_settings={"password": "invalid"},
)
#: scenario -> the GP-API sandbox's test card that plays it (sandbox/oropay/simulator.py)
OROPAY_CARDS = {
    "success": "4263970000005262",
    "card_declined": "4000120000001154",
    "insufficient_funds": "4000130000001724",
    "expired_card": "4000160000004147",
    "incorrect_cvc": "4000140000001129",
    "processing_error": "4000150000001235",
    "3ds": "4012001038488884",
}


def _oropay_payment_data(name: str) -> Mapping[str, str] | None:
    from sandbox.oropay.simulator import tokenize

    number = OROPAY_CARDS.get(name)
    if number is None:
        return None
    return {"payment_reference": tokenize(sandbox_credentials("oropay")["app_id"], number)}


PROFILES["oropay"] = ContractProfile(
    key="oropay",
    settings=sandbox_credentials("oropay"),
    payment_data={},
    make_payment_data=_oropay_payment_data,  # a card token is used once
    complete_challenge=_stripe_challenge,  # the issuer's page takes outcome=complete|fail as Stripe's does
    skips={
        "settlement": "GP-API refunds a capture whether or not it was batched",
    },
    tokenize=sandbox_tokenize("oropay"),
    operations={"cancel": "reversal"},
    bad_settings={"app_key": "invalid"},
)
#: scenario -> the bank account the GP-API sandbox's ACH debit plays it with: funded, or returned R01 when it settles
OROPAY_ACH_ACCOUNTS = {"success": "123456789", "insufficient_funds": "00000002"}


def _oropay_ach_payment_data(name: str) -> Mapping[str, str] | None:
    """What the ACH widget posts: the bank account's token, its holder and the accepted debit authorization."""
    from sandbox.oropay.simulator import tokenize_bank

    number = OROPAY_ACH_ACCOUNTS.get(name)
    if number is None:
        return None
    token = tokenize_bank(sandbox_credentials("oropay")["app_id"], number)
    return {"payment_reference": token, "account_holder": "Contract Buyer Inc.", "authorized": "1"}


class OroPayAch(OroPayAdapter):
    """The real adapter; the suite pays with its ACH method (`oropay_ach`'s variant)."""

    profile_key = "oropay_ach"


NO_ACH_AUTHORIZATION = "an ACH debit is a sale; there is no authorization to capture or void"
PROFILES["oropay_ach"] = ContractProfile(
    key="oropay_ach",
    provider="oropay",
    variant="ach",
    adapter_class=OroPayAch,
    settings=sandbox_credentials("oropay"),  # `ach_enabled` on, as the seed's integration
    payment_data={},
    make_payment_data=_oropay_ach_payment_data,  # a bank account token is used once, like a card's
    settles_later=sandbox_profile("oropay").settle,  # PENDING until funded (or returned) days later
    skips={
        "authorize": NO_ACH_AUTHORIZATION,
        "capture": NO_ACH_AUTHORIZATION,
        "second_capture": NO_ACH_AUTHORIZATION,
        "cancel": f"{NO_ACH_AUTHORIZATION}; no ACH debit is reversed (the sandbox refuses it): a funded one is "
        "refunded",
        "currency": "ACH debits US bank accounts in US dollars",
        "3ds": "an ACH debit has no buyer challenge: the buyer accepts the debit authorization on our page",
        "card_declined": "a bank does not decline an ACH debit when it is sent: it returns it when it settles, which "
        "the sandbox plays with its returned account (R01: insufficient_funds)",
        "expired_card": "a bank account has no expiry date",
        "incorrect_cvc": "a bank account has no security code",
        "processing_error": "an ACH debit is not authorized online, so no issuer can be unavailable: GP-API answers "
        "PENDING and the bank's answer comes when it settles",
        "tokenize": "no card is entered for an ACH debit; its raw replies show the account's last four digits only "
        "(tests/providers/test_oropay.py)",
        "settlement": "an ACH debit is refunded once funded, whether or not it was batched, and refused before "
        "(test_a_purchase_that_settles_later_is_refunded_only_once_final)",
    },
    currencies=frozenset({"USD"}),
    operations={"cancel": "reversal"},
    bad_settings={"app_key": "invalid"},
)
PROFILES.update(wirecard_profiles())
SANDBOX_PROVIDERS = sorted(PROFILES)


def sandbox_adapter(key: str, live_server_url: str, *, read_timeout: float | None = None) -> Adapter:
    """The provider's real adapter, pointed at its sandbox in the live test server (only the base URL differs)."""
    profile = PROFILES[key]
    provider = profile.provider or key
    cls = profile.adapter_class or registry.adapter_class(provider)
    adapter = cls(dict(profile.settings), base_url=f"{live_server_url}/sandbox/{provider}")
    if read_timeout is not None:
        adapter.read_timeout = read_timeout  # type: ignore[attr-defined]
    return adapter


def profile_key(adapter: Adapter) -> str:
    """The key of the profile `adapter` plays: its own, or the method's (`oropay_ach`) when a profile plays one."""
    return str(getattr(adapter, "profile_key", adapter.key))


def profile(adapter: Adapter) -> ContractProfile:
    return PROFILES[profile_key(adapter)]


def skip_unless(adapter: Adapter, name: str) -> None:
    reason = profile(adapter).skips.get(name)
    if reason:
        pytest.skip(f"{profile_key(adapter)}: {reason}")


def method(adapter: Adapter) -> MethodInfo:
    variant = profile(adapter).variant
    identifier = f"{adapter.key}_1_{variant}" if variant else f"{adapter.key}_1"
    return MethodInfo(identifier=identifier, integration_id=1, provider_key=adapter.key, variant=variant)


def scenario(
    adapter: Adapter,
    name: str,
    currency: str | None = None,
    *,
    amount: Decimal | None = None,
    key: str | None = None,
    payment_data: Mapping[str, str] | None = None,
    context: CheckoutContext | None = None,
) -> PaymentRequest:
    """A purchase request playing `name` ("success", "card_declined", "3ds" …); skipped if the provider has none."""
    skip_unless(adapter, name)
    known = profile(adapter)
    currency = currency or known.default_currency
    if known.currencies is not None and currency not in known.currencies:
        pytest.skip(f"{profile_key(adapter)}: {known.skips.get('currency', f'does not take {currency}')}")
    if amount is None and name in known.amounts:
        if currency not in known.amounts[name]:
            pytest.skip(
                f"{profile_key(adapter)}: {name!r} is played only by an amount in {', '.join(known.amounts[name])}, "
                "as the provider's test system documents its triggers"
            )
        amount = known.amounts[name][currency]
    found = payment_data or known.payment_data.get(name)
    if found is None and known.make_payment_data is not None:
        found = known.make_payment_data(name)
    if found is None:
        pytest.skip(f"{profile_key(adapter)}: no sandbox scenario {name!r}")
    data = dict(found(adapter) if callable(found) else found)
    source_reference = data.pop("source_reference", "")  # the server's choice, not the browser's (see above)
    return PaymentRequest(
        amount=Money(amount if amount is not None else AMOUNTS[currency], currency),
        idempotency_key=key or f"contract-{uuid.uuid4()}",
        method=method(adapter),
        reference="C-000001",
        payment_data=data,
        return_url="http://shop.test/checkout/return",
        source_reference=source_reference,
        context=context,
    )


def follow_up(
    adapter: Adapter, result: ProviderResult, amount: Decimal | None = None, *, reason: str = "", key: str | None = None
) -> FollowUpRequest:
    """Capture, cancel or refund (part of) what `result` made."""
    assert result.provider_reference
    return FollowUpRequest(
        amount=Money(amount if amount is not None else result.amount.amount, result.amount.currency),
        idempotency_key=key or f"contract-{uuid.uuid4()}",
        provider_reference=result.provider_reference,
        method=method(adapter),
        source_amount=result.amount,
        reason=reason,
    )


def settled(adapter: Adapter, result: ProviderResult) -> ProviderResult:
    """Let the provider settle what `result` made, where refunds need settled payments; returns `result`."""
    settle = profile(adapter).settle
    if settle is not None and result.provider_reference:
        settle(result.provider_reference)
    return result


def final(adapter: Adapter, result: ProviderResult, action: str = "charge") -> ProviderResult:
    """The purchase `result` answered, once the provider has finished it. A profile whose purchases settle later
    must have answered PENDING: the sandbox finishes it now (`settles_later`), and the adapter reads it back as
    reconcile does. Any other profile's answer is final already and comes back as it is."""
    finish = profile(adapter).settles_later
    if finish is None:
        return result
    assert (result.outcome, result.error_code) == (Outcome.PENDING, ErrorCode.PENDING_AT_PROVIDER), result
    assert result.provider_reference
    finish(result.provider_reference)
    status = StatusRequest(f"status-{uuid.uuid4()}", result.provider_reference, action, result.amount, method(adapter))
    return adapter.fetch_status(status)


def fault(
    live_server_url: str, adapter: Adapter, kind: str, operation: str, *, times: int = 5, delay: float = 1.5
) -> None:
    """Switch a fault on in the provider's sandbox (for more calls than the adapter's own retries)."""
    name = profile(adapter).operations.get(operation, operation)
    reply = requests.post(
        f"{live_server_url}/sandbox/__sim/fault",
        data={"provider": adapter.key, "kind": kind, "operation": name, "times": times, "delay": delay},
        timeout=10,
    )
    assert reply.status_code == 200, reply.text


def faults_off(live_server_url: str, adapter: Adapter) -> None:
    """Switch the provider's faults off; what its sandbox knows (keys, objects) stays."""
    reply = requests.post(f"{live_server_url}/sandbox/__sim/faults_off", data={"provider": adapter.key}, timeout=10)
    assert reply.status_code == 200, reply.text


def dumped(value: Any) -> str:
    return json.dumps(value, default=str)
