"""The helpers the contract gives every adapter: named results, the read-back failure, the vocabulary's reading
of codes stored before it, header lookup, addresses as providers document them, typed settings reads."""

from __future__ import annotations

from decimal import Decimal

from providers.base import (
    AddressInfo,
    ErrorCode,
    IntegrationInfo,
    Money,
    Outcome,
    PaymentAction,
    ProviderResult,
    SettingsReader,
    header,
    street_lines,
    subdivision,
)
from providers.base import Environment as Env
from providers.money_order.adapter import MoneyOrderAdapter

USD = Money(Decimal("12.50"), "USD")


def test_named_results_carry_what_their_outcome_needs() -> None:
    assert ProviderResult.declined(ErrorCode.EXPIRED_CARD, "Your card has expired.", amount=USD) == ProviderResult(
        Outcome.DECLINED, None, USD, ErrorCode.EXPIRED_CARD, "Your card has expired."
    )
    held = ProviderResult.pending(USD, reference="t1", code=ErrorCode.HELD_FOR_REVIEW, raw={"status": "held"})
    assert (held.outcome, held.provider_reference, held.error_code, held.raw) == (
        Outcome.PENDING,
        "t1",
        ErrorCode.HELD_FOR_REVIEW,
        {"status": "held"},
    )
    challenge = ProviderResult.action_required(USD, {"type": "redirect", "redirect_url": "https://bank/3ds"})
    assert (challenge.outcome, challenge.next_action["type"], challenge.error_code) == (
        Outcome.ACTION_REQUIRED,
        "redirect",
        None,
    )


def test_a_refused_read_back_is_an_error_not_a_decline() -> None:
    refused = ProviderResult.declined(ErrorCode.UNKNOWN_REFERENCE, "No such payment.", amount=USD, reference="pi_1")
    assert refused.read_back_failure() == ProviderResult.error(
        ErrorCode.UNKNOWN_REFERENCE, "No such payment.", amount=USD, reference="pi_1"
    )
    paid = ProviderResult.succeeded(USD, reference="pi_1")
    assert paid.read_back_failure() is paid


def test_a_code_stored_before_the_vocabulary_reads_as_its_member() -> None:
    assert [
        ErrorCode.read(c) for c in ("fraud_review", "transaction_not_found", "capture_failed", "card_declined")
    ] == [
        ErrorCode.HELD_FOR_REVIEW,
        ErrorCode.UNKNOWN_REFERENCE,
        ErrorCode.NOT_CAPTURED,
        ErrorCode.CARD_DECLINED,
    ]
    assert (ErrorCode.read(None), ErrorCode.read(""), ErrorCode.read("payflow_100")) == (
        None,
        None,
        ErrorCode.CARD_DECLINED,
    )


def test_a_header_is_found_whatever_its_case() -> None:
    headers = {"stripe-signature": "t=1,v1=abc", "Content-Type": "application/json"}
    assert (header(headers, "Stripe-Signature"), header(headers, "content-type"), header(headers, "X-None")) == (
        "t=1,v1=abc",
        "application/json",
        None,
    )


def test_addresses_as_a_provider_documents_them() -> None:
    address = AddressInfo(region_code="US-NY", region_name="New York", street="1 Main St", street2="Suite 5")
    assert (subdivision(address), subdivision(address, form="name"), street_lines(address)) == (
        "NY",
        "New York",
        "1 Main St Suite 5",
    )
    unknown_code = AddressInfo(region_name="Greater London")
    assert (subdivision(unknown_code), subdivision(AddressInfo(region_code="GB-LND"), form="name")) == (
        "Greater London",
        "LND",
    )


def test_settings_read_with_one_meaning_of_empty_and_on() -> None:
    options = SettingsReader({"flag": "true", "off": "0", "empty": "", "cards": "visa,jcb", "listed": ["amex"]})
    assert (options.flag("flag"), options.flag("off", True), options.flag("empty", True), options.flag("none")) == (
        True,
        False,
        True,
        False,
    )
    assert (options.text("empty", "eCheck"), options.text("flag")) == ("eCheck", "true")
    assert (options.choices("cards"), options.choices("listed"), options.choices("none", ["visa"])) == (
        ["visa", "jcb"],
        ["amex"],
        ["visa"],
    )


def test_the_default_method_is_the_integrations_card_method() -> None:
    integration = IntegrationInfo(
        7, "u-7", "money_order", "Checks", Env.SANDBOX, PaymentAction.AUTHORIZE, {"en": "Check"}
    )
    [method] = MoneyOrderAdapter({}).methods(integration)
    assert (method.identifier, method.widget, method.labels) == (
        "money_order_7",
        "money_order/widget.html",
        {"en": "Check"},
    )
