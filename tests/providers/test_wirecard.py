"""Wirecard Checkout Seamless: fingerprints against the published test vector, the confirm, and the back-office
operations through the ledger, against the sandbox."""

from __future__ import annotations

from decimal import Decimal

import pytest

from providers.base import InvalidSignature, MalformedEvent
from providers.wirecard.adapter import WirecardAdapter
from providers.wirecard.client import fingerprint
from sandbox.wirecard import simulator

#: providers.md §9.2: checkout-client-library tests/QentaCEE/QMore/Return/Success/CreditCardTest.php
VECTOR = {
    "amount": "1",
    "currency": "EUR",
    "paymentType": "CCARD",
    "financialInstitution": "MC",
    "language": "de",
    "orderNumber": "16375141",
    "paymentState": "SUCCESS",
    "authenticated": "Yes",
    "anonymousPan": "0001",
    "expiry": "10/2012",
    "cardholder": "keiner",
    "maskedPan": "950000******0001",
    "gatewayReferenceNumber": "DGW_16375141_RN",
    "gatewayContractNumber": "DemoContractNumber123",
    "avsResponseCode": "X",
    "avsResponseMessage": "Demo AVS ResultMessage",
}
VECTOR_ORDER = [*VECTOR, "secret", "responseFingerprintOrder"]
VECTOR_SECRET = "B8AKTPWBRMNBV455FG6M2DANE99WU2"
VECTOR_FINGERPRINT = (
    "e077f1e8488f06a444899b43c94a0c814c69efea4870b4afc931cacc99ee1516"
    "db3f5909f7079d657d73fe0ef92c4cc48515cd4026168d228962ba7d05cc503f"
)


def _vector_fields() -> dict[str, str]:
    return {**VECTOR, "responseFingerprintOrder": ",".join(VECTOR_ORDER)}


def test_the_adapters_fingerprint_matches_the_published_test_vector() -> None:
    assert fingerprint(VECTOR_ORDER, _vector_fields(), VECTOR_SECRET) == VECTOR_FINGERPRINT


def test_the_sandboxs_own_fingerprint_matches_the_published_test_vector() -> None:
    assert simulator.fingerprint(VECTOR_ORDER, _vector_fields(), VECTOR_SECRET) == VECTOR_FINGERPRINT
    # plain SHA-512 (the old mode) does not give it
    assert simulator.fingerprint(VECTOR_ORDER, _vector_fields(), VECTOR_SECRET, plain_sha=True) != VECTOR_FINGERPRINT


def _adapter() -> WirecardAdapter:
    return WirecardAdapter(
        {"customer_id": "D200001", "shop_id": "seamless", "secret": VECTOR_SECRET, "backend_password": "jcv45z"},
        base_url="http://sandbox.test/sandbox/wirecard",
    )


def _body(fields: dict[str, str]) -> bytes:
    from urllib.parse import urlencode

    return urlencode(fields).encode()


def test_a_confirm_with_the_vectors_fingerprint_is_accepted_uppercase_too() -> None:
    fields = {**_vector_fields(), "responseFingerprint": VECTOR_FINGERPRINT.upper()}
    event = _adapter().parse_webhook(_body(fields), {})
    assert (event.event_id, event.provider_reference, event.needs_details) == (
        "confirm-16375141-SUCCESS",
        "16375141",
        True,
    )
    assert event.amount is not None
    assert event.amount.amount == Decimal("1.00")


@pytest.mark.parametrize(
    "change",
    [
        pytest.param({"responseFingerprint": "0" * 128}, id="bad-fingerprint"),
        pytest.param({"responseFingerprint": ""}, id="missing-fingerprint"),
        pytest.param({"amount": "100"}, id="amount-changed"),
        pytest.param({"responseFingerprintOrder": ""}, id="missing-order"),
        pytest.param({"hashingMethod": "sha512"}, id="hashing-mode-from-the-request-ignored"),
    ],
)
def test_a_confirm_whose_fingerprint_does_not_verify_is_refused(change: dict[str, str]) -> None:
    fields = {**_vector_fields(), "responseFingerprint": VECTOR_FINGERPRINT, **change}
    if "hashingMethod" in change:  # a plain-SHA fingerprint claimed by the request is not believed
        fields["responseFingerprint"] = simulator.fingerprint(VECTOR_ORDER, fields, VECTOR_SECRET, plain_sha=True)
    with pytest.raises(InvalidSignature):
        _adapter().parse_webhook(_body(fields), {})


def test_a_confirm_whose_order_leaves_out_the_secret_or_the_state_is_refused() -> None:
    for left_out in ("secret", "paymentState", "orderNumber"):
        names = [n for n in VECTOR_ORDER if n != left_out]
        fields = {**VECTOR, "responseFingerprintOrder": ",".join(names)}
        fields["responseFingerprint"] = fingerprint(names, fields, VECTOR_SECRET)
        with pytest.raises(InvalidSignature):
            _adapter().parse_webhook(_body(fields), {})


def test_an_unsigned_failure_is_only_a_prompt_and_needs_our_signed_order_number() -> None:
    echoed = _adapter()._echo_reference("12345678")
    event = _adapter().parse_webhook(_body({"paymentState": "FAILURE", "paydeskOrderNumber": echoed}), {})
    assert (event.provider_reference, event.movements, event.needs_details) == ("12345678", (), True)
    for forged in ("12345678", "12345678." + "0" * 32, f"12345679.{echoed.partition('.')[2]}"):
        with pytest.raises(InvalidSignature):
            _adapter().parse_webhook(_body({"paymentState": "CANCEL", "paydeskOrderNumber": forged}), {})
    with pytest.raises(MalformedEvent):
        _adapter().parse_webhook(_body({"paymentState": "CANCEL"}), {})


def test_the_confirm_allow_list() -> None:
    adapter = WirecardAdapter({"confirm_ip_allowlist": "195.93.244.97,185.60.56.0/24"})
    assert adapter.webhook_source_allowed("195.93.244.97")
    assert adapter.webhook_source_allowed("185.60.56.36")
    assert not adapter.webhook_source_allowed("127.0.0.1")
    assert WirecardAdapter({}).webhook_source_allowed("127.0.0.1")  # none configured (the sandbox): any


def test_the_settings_form_keeps_secrets_write_only_and_checks_the_allow_list() -> None:
    from providers.wirecard.forms import SettingsForm

    data = {"customer_id": "D200001", "secret": VECTOR_SECRET, "backend_password": "jcv45z"}
    form = SettingsForm({**data, "confirm_ip_allowlist": "195.93.244.97, 185.60.56.0/24"})
    assert form.is_valid(), form.errors
    assert form.cleaned_data["confirm_ip_allowlist"] == "195.93.244.97,185.60.56.0/24"
    assert SettingsForm.secret_fields == ("secret", "backend_password")
    refused = SettingsForm({**data, "confirm_ip_allowlist": "wirecard.example"})
    assert refused.errors == {"confirm_ip_allowlist": ["wirecard.example is not an address or network."]}


def test_the_host_is_a_setting_with_the_current_live_host_as_default() -> None:
    assert WirecardAdapter({}, base_url=WirecardAdapter.live_base_url).endpoint == "https://papi.hobex.at"
    moved = WirecardAdapter({"base_url": "https://api.qenta.com/"}, base_url=WirecardAdapter.live_base_url)
    assert moved.endpoint == "https://api.qenta.com"
    assert WirecardAdapter({"base_url": "https://x"}, base_url="http://h/sandbox/wirecard").endpoint.endswith(
        "/wirecard"
    )


def test_three_methods_with_stable_identifiers_and_sepa_in_euros_only() -> None:
    from providers.base import Environment, IntegrationInfo, PaymentAction

    info = IntegrationInfo(7, "u", "wirecard", "Wirecard", Environment.SANDBOX, PaymentAction.AUTHORIZE)
    methods = WirecardAdapter({}).methods(info)
    assert [(m.identifier, m.variant, m.currencies) for m in methods] == [
        ("wirecard_7", "", None),
        ("wirecard_7_sepa", "sepa", frozenset({"EUR"})),
        ("wirecard_7_paypal", "paypal", None),
    ]
