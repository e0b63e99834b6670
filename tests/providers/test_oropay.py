"""OroPay on GP-API: hand-computed hashes, the token cache, the idempotency header, declines, ACH, lost replies."""

from __future__ import annotations

import json
import time
import uuid
from decimal import Decimal

import pytest
import requests

from providers.base import (
    ErrorCode,
    FollowUpRequest,
    InvalidSignature,
    MethodInfo,
    Money,
    MovementAction,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderUnavailable,
    StatusRequest,
)
from providers.oropay import client as gp_client
from providers.oropay.adapter import OroPayAdapter, notification_signature, wire_reference
from providers.oropay.client import token_secret
from sandbox.models import SimIdempotencyKey, SimObject
from sandbox.oropay import simulator as sandbox
from sandbox.services import sim_advance_time, sim_fault_add
from tests.providers.sandboxes import sandbox_adapter, sandbox_credentials

pytestmark = pytest.mark.django_db(transaction=True)

USD = "USD"
CARD = MethodInfo(identifier="oropay_1", integration_id=1, provider_key="oropay")
ACH = MethodInfo(
    identifier="oropay_1_ach",
    integration_id=1,
    provider_key="oropay",
    variant="ach",
    payment_action=PaymentAction.CHARGE,
)


@pytest.fixture(autouse=True)
def fresh_tokens():
    gp_client.token_cache_clear()
    yield
    gp_client.token_cache_clear()


@pytest.fixture
def adapter(live_server) -> OroPayAdapter:
    made = sandbox_adapter("oropay", live_server.url)
    assert isinstance(made, OroPayAdapter)
    return made


def app_id() -> str:
    return sandbox_credentials("oropay")["app_id"]


def card(number: str = "4263970000005262") -> dict[str, str]:
    return {"payment_reference": sandbox.tokenize(app_id(), number)}


def bank(number: str = "123456789") -> dict[str, str]:
    return {"payment_reference": sandbox.tokenize_bank(app_id(), number), "account_holder": "ACME", "authorized": "1"}


def pay(amount: str = "100.00", *, key: str | None = None, data=None, method=CARD) -> PaymentRequest:  # noqa: ANN001
    return PaymentRequest(
        amount=Money(Decimal(amount), USD),
        idempotency_key=key or f"t-{uuid.uuid4()}",
        method=method,
        reference="SO-1",
        payment_data=data if data is not None else card(),
    )


def tokens_issued() -> int:
    return SimObject.objects.filter(provider="oropay", kind="token").count()


# --- hand-computed vectors ---------------------------------------------------------------------------------------


def test_the_access_token_secret_is_sha512_of_nonce_then_app_key() -> None:
    # computed outside this code: printf '%s' "20261130T0000001234abc" | sha512sum
    assert token_secret("20261130T0000001234", "abc") == (
        "726961400ba4764e6dba8ac17f2164edd9e5ed1ee6773d3a59a9be0f61f68389"
        "006091716c9cf91083df7979753777e2c386e7ba7e0441d5e96522409702a698"
    )


def test_the_notification_signature_is_sha512_of_body_then_app_key_in_lower_hex() -> None:
    assert notification_signature(b"", "") == (
        "cf83e1357eefb8bdf1542850d66d8007d620e4050b5715dc83f4a921d36ce9ce"
        "47d0d13c5d85f2b0ff8318d2877eec2f63b931bd47417a81a538327af927da3e"
    )  # SHA-512 of nothing (FIPS 180-2 test vector)
    assert notification_signature(b"a", "bc") == (
        "ddaf35a193617abacc417349ae20413112e6fa4e89a97ea20a9eeee64b55d39a"
        "2192992a274fc1a836ba3c23a3feebbd454d4423643ce80e2a9ac94fa54ca49f"
    )  # SHA-512("abc"): the body's bytes, then the key, no HMAC
    assert sandbox.sign("a", "bc", 0) == {"X-GP-Signature": notification_signature(b"a", "bc")}


def test_a_long_key_travels_as_a_stable_reference_within_fifty_characters() -> None:
    short = "invoice:1:" + "x" * 40
    assert wire_reference(short) == short
    long = "invoice:12:" + str(uuid.UUID(int=7)) + ":again"
    assert wire_reference(long) == wire_reference(long) != long
    assert len(wire_reference(long)) == 41


# --- access tokens ------------------------------------------------------------------------------------------------


def test_one_token_serves_many_calls_and_a_new_one_is_asked_shortly_before_it_expires(adapter, monkeypatch) -> None:
    adapter.authorize(pay())
    adapter.authorize(pay())
    assert tokens_issued() == 1
    cached = next(iter(gp_client._tokens.values()))
    # within the refresh margin of its expiry: renewed before GP-API would refuse it
    now = cached.expires_at - gp_client.REFRESH_MARGIN_SECONDS + 1
    monkeypatch.setattr(gp_client.time, "monotonic", lambda: now)
    adapter.authorize(pay())
    assert tokens_issued() == 2


def test_a_token_refused_with_401_is_renewed_and_the_call_repeated_with_its_key(adapter) -> None:
    first = adapter.authorize(pay())
    SimObject.objects.filter(provider="oropay", kind="token").delete()  # revoked at GP-API
    request = pay()
    second = adapter.authorize(request)
    assert (first.outcome, second.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert tokens_issued() == 1  # the new one
    assert SimIdempotencyKey.objects.filter(provider="oropay", key=request.idempotency_key).count() == 1


def test_an_expired_token_is_refused_by_the_sandbox_with_not_authenticated(live_server) -> None:
    token = sandbox.token_create(app_id(), seconds=60)["token"]
    sim_advance_time(provider="oropay", seconds=61)
    reply = requests.get(
        f"{live_server.url}/sandbox/oropay/ucp/transactions/TRN_x",
        headers={"Authorization": f"Bearer {token}", "X-GP-Version": "2021-03-22"},
        timeout=10,
    )
    assert (reply.status_code, reply.json()["error_code"]) == (401, "NOT_AUTHENTICATED")


def test_wrong_app_key_is_misconfigured_and_check_connection_gets_a_token(adapter, live_server) -> None:
    assert adapter.check_connection().outcome == Outcome.SUCCEEDED
    broken = OroPayAdapter({**adapter.settings, "app_key": "0" * 32}, base_url=adapter.base_url)
    with pytest.raises(ProviderMisconfigured):
        broken.check_connection()


def test_no_service_url_is_refused_before_any_call() -> None:
    with pytest.raises(ProviderMisconfigured):
        OroPayAdapter(sandbox_credentials("oropay"), base_url="").authorize(pay(data={"payment_reference": "PMT_x"}))


def test_the_restricted_token_may_tokenize_and_nothing_else(adapter, live_server) -> None:
    token = adapter._client.restricted_token()
    headers = {"Authorization": f"Bearer {token}", "X-GP-Version": "2021-03-22"}
    read = requests.get(f"{live_server.url}/sandbox/oropay/ucp/transactions", headers=headers, timeout=10)
    assert (read.status_code, read.json()["error_code"]) == (403, "ACTION_NOT_AUTHORIZED")
    card_body = {"card": {"number": "4263970000005262", "expiry_month": "12", "expiry_year": "34", "cvv": "123"}}
    made = requests.post(
        f"{live_server.url}/sandbox/oropay/ucp/payment-methods", json=card_body, headers=headers, timeout=10
    )
    assert made.status_code == 201
    assert made.json()["id"].startswith("PMT_")
    assert "4263970000005262" not in made.text


# --- idempotency -------------------------------------------------------------------------------------------------


def test_the_idempotency_header_replays_the_first_answer_and_refuses_the_key_with_another_body(adapter) -> None:
    request = pay()
    first = adapter.authorize(request)
    again = adapter.authorize(request)
    assert again.provider_reference == first.provider_reference
    assert SimObject.objects.filter(provider="oropay", kind="transaction").count() == 1
    other = adapter.authorize(pay("20.00", key=request.idempotency_key, data=card()))
    assert (other.outcome, other.error_code) == (Outcome.ERROR, ErrorCode.IDEMPOTENCY_ERROR)


def test_a_card_token_is_used_once(adapter) -> None:
    data = card()
    assert adapter.authorize(pay(data=data)).outcome == Outcome.SUCCEEDED
    reused = adapter.authorize(pay(data=data))
    assert (reused.outcome, reused.error_code) == (Outcome.DECLINED, ErrorCode.INVALID_PAYMENT_DATA)


# --- declines ----------------------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("4000120000001154", ErrorCode.CARD_DECLINED),
        ("4000130000001724", ErrorCode.INSUFFICIENT_FUNDS),
        ("4000160000004147", ErrorCode.EXPIRED_CARD),
        ("4000140000001129", ErrorCode.INCORRECT_CVC),
        ("4000150000001235", ErrorCode.PROCESSING_ERROR),
    ],
)
def test_the_issuer_result_code_is_the_decline_code(adapter, number, code) -> None:
    result = adapter.charge(pay(data=card(number)))
    assert (result.outcome, result.error_code) == (Outcome.DECLINED, code)
    assert result.provider_reference
    assert result.raw["status"] == "DECLINED"
    assert number not in json.dumps(result.raw)


# --- capture, reversal, refund -----------------------------------------------------------------------------------


def follow(result, amount: str, key: str | None = None) -> FollowUpRequest:  # noqa: ANN001
    return FollowUpRequest(Money(Decimal(amount), USD), key or f"f-{uuid.uuid4()}", result.provider_reference, CARD)


def test_several_captures_then_a_reversal_releases_only_the_rest(adapter) -> None:
    auth = adapter.authorize(pay())
    first = adapter.capture(follow(auth, "30.00"))
    second = adapter.capture(follow(auth, "50.00"))
    assert (first.outcome, second.outcome) == (Outcome.SUCCEEDED, Outcome.SUCCEEDED)
    assert len({auth.provider_reference, first.provider_reference, second.provider_reference}) == 3
    over = adapter.capture(follow(auth, "20.01"))
    assert (over.outcome, over.error_code) == (Outcome.DECLINED, ErrorCode.AMOUNT_EXCEEDS_AUTHORIZED)
    assert adapter.cancel(follow(auth, "20.00")).outcome == Outcome.SUCCEEDED
    late = adapter.capture(follow(auth, "1.00"))
    assert late.outcome == Outcome.DECLINED
    assert adapter.refund(follow(auth, "1.00")).outcome == Outcome.DECLINED  # refunds go to the captures
    refund = adapter.refund(follow(second, "50.00"))
    assert (refund.outcome, refund.amount.amount) == (Outcome.SUCCEEDED, Decimal("50.00"))
    over = adapter.refund(follow(first, "30.01"))
    assert (over.outcome, over.error_code) == (Outcome.DECLINED, ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE)


def test_a_capture_whose_reply_was_lost_is_found_among_the_authorizations_captures(live_server) -> None:
    slow = sandbox_adapter("oropay", live_server.url, read_timeout=0.5)
    auth = slow.authorize(pay())
    slow.capture(follow(auth, "10.00"))
    sim_fault_add(provider="oropay", kind="timeout", operation="capture", times=3, delay=1.5)
    request = follow(auth, "25.00")
    with pytest.raises(ProviderUnavailable):
        slow.capture(request)
    status = StatusRequest(request.idempotency_key, auth.provider_reference, "capture", request.amount, CARD)
    back = slow.fetch_status(status)  # while captures still time out: read, never sent again
    assert (back.outcome, back.amount.amount) == (Outcome.SUCCEEDED, Decimal("25.00"))
    assert back.provider_reference not in (None, auth.provider_reference)
    txn = SimObject.objects.get(provider="oropay", kind="transaction", object_id=auth.provider_reference)
    assert txn.data["_captured"] == 3500  # taken once
    never = StatusRequest("never", auth.provider_reference, "capture", Money(Decimal("5.00"), USD), CARD)
    assert slow.fetch_status(never).error_code == ErrorCode.NOT_FOUND


def test_two_lost_captures_of_one_amount_are_left_to_staff(adapter) -> None:
    auth = adapter.authorize(pay())
    adapter.capture(follow(auth, "10.00"))
    adapter.capture(follow(auth, "10.00"))
    status = StatusRequest("lost", auth.provider_reference, "capture", Money(Decimal("10.00"), USD), CARD)
    back = adapter.fetch_status(status)
    assert (back.outcome, back.error_code) == (Outcome.ERROR, ErrorCode.UNEXPECTED_RESPONSE)


def test_a_charge_whose_reply_was_lost_is_found_by_reference_across_pages(live_server, monkeypatch) -> None:
    slow = sandbox_adapter("oropay", live_server.url, read_timeout=0.5)
    monkeypatch.setattr(OroPayAdapter, "search_page_size", 1)
    request = pay()
    sim_fault_add(provider="oropay", kind="timeout", operation="create", times=1, delay=1.5)
    with pytest.raises(ProviderUnavailable):
        slow.charge(request)
    status = StatusRequest(request.idempotency_key, None, "charge", request.amount, CARD)
    found = slow.fetch_status(status)
    for _ in range(50):  # on a loaded machine the sandbox may commit the charge after our read timeout ran out
        if found.outcome != Outcome.ERROR:
            break
        time.sleep(0.1)
        found = slow.fetch_status(status)
    assert (found.outcome, found.amount.amount) == (Outcome.SUCCEEDED, Decimal("100.00"))
    missing = slow.fetch_status(StatusRequest("never-sent", None, "charge", request.amount, CARD))
    assert (missing.outcome, missing.error_code) == (Outcome.ERROR, ErrorCode.NOT_FOUND)


# --- ACH ---------------------------------------------------------------------------------------------------------


def test_ach_is_offered_only_with_automatic_capture(adapter) -> None:
    from providers.base import Environment, IntegrationInfo

    info = IntegrationInfo(1, "u", "oropay", "OroPay", Environment.SANDBOX, PaymentAction.CHARGE)
    assert [m.variant for m in adapter.methods(info)] == ["", "ach"]
    manual = IntegrationInfo(1, "u", "oropay", "OroPay", Environment.SANDBOX, PaymentAction.AUTHORIZE)
    assert [m.variant for m in adapter.methods(manual)] == [""]


@pytest.mark.parametrize(
    ("account", "final", "code"), [("123456789", "FUNDED", None), ("00000002", "REJECTED", "insufficient_funds")]
)
def test_an_ach_debit_is_pending_until_funded_or_rejected(adapter, account, final, code) -> None:
    request = pay(data=bank(account), method=ACH)
    debit = adapter.charge(request)
    assert (debit.outcome, debit.error_code) == (Outcome.PENDING, ErrorCode.PENDING_AT_PROVIDER)
    status = StatusRequest(request.idempotency_key, debit.provider_reference, "charge", request.amount, ACH)
    assert adapter.fetch_status(status).outcome == Outcome.PENDING
    sim_advance_time(provider="oropay", seconds=2 * 86400)  # two banking days later
    back = adapter.fetch_status(status)
    assert back.raw["status"] == final
    assert (back.outcome, back.error_code) == (
        (Outcome.SUCCEEDED, None) if final == "FUNDED" else (Outcome.DECLINED, ErrorCode.INSUFFICIENT_FUNDS)
    )
    assert account not in json.dumps(back.raw)


def test_ach_in_another_currency_is_refused_before_any_call_and_the_method_says_so(adapter) -> None:
    from providers.base import Environment, IntegrationInfo

    info = IntegrationInfo(1, "u", "oropay", "OroPay", Environment.SANDBOX, PaymentAction.CHARGE)
    assert [m.currencies for m in adapter.methods(info)] == [None, frozenset({"USD"})]
    request = pay(data=bank(), method=ACH)
    euros = PaymentRequest(Money(Decimal("100.00"), "EUR"), request.idempotency_key, ACH, "SO-1", request.payment_data)
    result = adapter.charge(euros)
    assert (result.outcome, result.error_code) == (Outcome.DECLINED, ErrorCode.UNSUPPORTED_CURRENCY)
    assert SimObject.objects.filter(provider="oropay", kind="transaction").count() == 0


def test_the_sandbox_refuses_an_ach_debit_in_another_currency_and_keeps_the_account_token(live_server) -> None:
    """ACH debits US bank accounts in US dollars; a refusal of the request leaves the single-use token unused."""
    token = sandbox.token_create(app_id())["token"]
    pmt = sandbox.tokenize_bank(app_id(), "123456789")
    body = {
        "account_name": "transaction_processing",
        "channel": "CNP",
        "type": "SALE",
        "capture_mode": "AUTO",
        "amount": "10000",
        "currency": "EUR",
        "payment_method": {"id": pmt, "name": "ACME", "bank_transfer": {"sec_code": "WEB"}},
    }
    url = f"{live_server.url}/sandbox/oropay/ucp/transactions"
    headers = {"Authorization": f"Bearer {token}", "X-GP-Version": "2021-03-22"}
    refused = requests.post(url, json=body, headers=headers, timeout=10)
    assert (refused.status_code, refused.json()["error_code"]) == (400, "INVALID_REQUEST_DATA")
    taken = requests.post(url, json={**body, "currency": "USD"}, headers=headers, timeout=10)
    assert (taken.status_code, taken.json()["status"]) == (200, "PENDING")


def test_ach_without_the_authorization_is_refused_before_any_call(adapter) -> None:
    data = {**bank(), "authorized": ""}
    result = adapter.charge(pay(data=data, method=ACH))
    assert (result.outcome, result.error_code) == (Outcome.DECLINED, ErrorCode.MISSING_PAYMENT_DATA)
    assert SimObject.objects.filter(provider="oropay", kind="transaction").count() == 0


# --- notifications -----------------------------------------------------------------------------------------------


def notification(status: str = "FUNDED", **extra) -> bytes:  # noqa: ANN003
    body = {
        "id": "TRN_1",
        "status": status,
        "type": "SALE",
        "capture_mode": "AUTO",
        "amount": "10000",
        "currency": "USD",
        "reference": "key-1",
        "payment_method": {"result": "00", "bank_transfer": {"masked_account_number_last4": "XXXX6789"}},
        "action": {"id": f"ACT_{status}", "type": "FUNDING"},
        **extra,
    }
    return json.dumps(body).encode()


def test_a_signed_notification_is_read_and_a_forged_one_refused(adapter) -> None:
    key = adapter.settings["app_key"]
    body = notification()
    event = adapter.parse_webhook(body, {"x-gp-signature": notification_signature(body, key).upper()})
    assert (event.event_id, event.provider_reference, event.payment_key) == ("TRN_1:ACT_FUNDED", "TRN_1", "key-1")
    assert [(m.action, m.amount.amount) for m in event.movements] == [(MovementAction.CHARGE, Decimal("100.00"))]
    with pytest.raises(InvalidSignature):
        adapter.parse_webhook(body + b" ", {"X-GP-Signature": notification_signature(body, key)})
    with pytest.raises(InvalidSignature):
        adapter.parse_webhook(body, {"X-GP-Signature": notification_signature(body, "another key")})
    with pytest.raises(InvalidSignature):
        adapter.parse_webhook(body, {})


def test_a_return_after_funding_is_money_back(adapter) -> None:
    key = adapter.settings["app_key"]
    body = notification("REJECTED", action={"id": "ACT_R", "type": "RETURN"})
    event = adapter.parse_webhook(body, {"X-GP-Signature": notification_signature(body, key)})
    assert [(m.action, m.provider_reference) for m in event.movements] == [
        (MovementAction.CHARGE, "TRN_1"),
        (MovementAction.REFUND, "TRN_1:return"),
    ]


# --- 3-D Secure ----------------------------------------------------------------------------------------------------


def test_a_3d_secure_challenge_returns_the_buyer_to_the_shop_and_an_abandoned_one_is_reversed(adapter) -> None:
    request = PaymentRequest(
        amount=Money(Decimal("100.00"), USD),
        idempotency_key=f"t-{uuid.uuid4()}",
        method=CARD,
        reference="SO-1",
        payment_data=card("4012001038488884"),
        return_url="http://shop.test/checkout/return/abc",
    )
    first = adapter.authorize(request)
    assert first.outcome == Outcome.ACTION_REQUIRED
    done = requests.post(
        first.next_action["redirect_url"], data={"outcome": "complete"}, allow_redirects=False, timeout=10
    )
    assert (done.status_code, done.headers["Location"]) == (302, "http://shop.test/checkout/return/abc")
    status = StatusRequest(request.idempotency_key, first.provider_reference, "authorize", request.amount, CARD)
    assert adapter.fetch_status(status).outcome == Outcome.SUCCEEDED

    left = adapter.authorize(pay(data=card("4012001038488884")))
    ended = adapter.abandon(follow(left, "100.00"))
    assert ended.outcome == Outcome.SUCCEEDED
    page = requests.get(left.next_action["redirect_url"], timeout=10)
    assert "No longer waiting for authentication (status: REVERSED)." in page.text
