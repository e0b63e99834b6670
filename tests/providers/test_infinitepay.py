"""InfinitePay: the security code against a vector computed by hand, WS-Security, the credit limit, auto capture and
activation, the order of the guarantee steps, and a lost reply found by checkStatusOrder."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta
from decimal import Decimal

import pytest
import requests
import zeep.transports

from providers.base import (
    NOT_FOUND,
    CheckoutContext,
    CustomerInfo,
    ErrorCode,
    FollowUpRequest,
    Money,
    Outcome,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderResult,
    ProviderUnavailable,
    StatusRequest,
)
from providers.infinitepay.adapter import InfinitePayAdapter
from providers.infinitepay.client import security_code, split_reference
from sandbox.infinitepay import simulator
from tests.providers.sandboxes import INFINITEPAY_DEBTOR, fault, method, sandbox_credentials

pytestmark = pytest.mark.django_db(transaction=True)

#: computed by hand: printf 'CLIENT01ORDER42' | openssl dgst -sha256 -hmac 's3cr3t', the hex digest then base64
VECTOR = "ZDkyZWI4YzQ2NWEyNThiMjI5MTJhNDkyMTFkYTFlZDI2MDE0ZjJkNjlkNjdjNTUzYzY4YTg2MzUxMzk3MTg4NQ=="
VAT_ID = "DE136695976"


def test_security_code_is_base64_of_the_lowercase_hex_hmac() -> None:
    assert security_code("s3cr3t", "CLIENT01", "ORDER42") == VECTOR
    assert simulator.security_code("s3cr3t", "CLIENT01", "ORDER42") == VECTOR  # the sandbox agrees, from §5.2


def adapter_for(live_server, **settings: object) -> InfinitePayAdapter:  # noqa: ANN001
    return InfinitePayAdapter(
        {**sandbox_credentials("infinitepay"), **settings}, base_url=f"{live_server.url}/sandbox/infinitepay"
    )


def purchase(amount: str = "100.00", *, vat_id: str = VAT_ID, email: str = "", key: str = "") -> PaymentRequest:
    money = Money(Decimal(amount), "EUR")
    customer = CustomerInfo(id=7, name="Muster GmbH", vat_id=vat_id)
    return PaymentRequest(
        amount=money,
        idempotency_key=key or f"ip-{uuid.uuid4()}",
        method=method_info(),
        reference="O-1001",
        context=CheckoutContext(currency="EUR", subtotal=money, total=money, customer=customer),
        payment_data={**INFINITEPAY_DEBTOR, **({"email": email} if email else {})},
    )


def method_info():  # noqa: ANN201
    return method(InfinitePayAdapter({}))


def follow(result: ProviderResult, amount: str | None = None, **options: object) -> FollowUpRequest:
    assert result.provider_reference
    return FollowUpRequest(
        amount=Money(Decimal(amount), "EUR") if amount else result.amount,
        idempotency_key=f"ip-{uuid.uuid4()}",
        provider_reference=result.provider_reference,
        method=method_info(),
        source_amount=result.amount,
        options=options,
    )


def state(result: ProviderResult) -> dict:
    found = simulator.order_state(split_reference(result.provider_reference)[1])
    assert found is not None
    return found


# --- WS-Security -----------------------------------------------------------------------------------------------------


def test_every_call_carries_a_username_token_with_the_password_as_text_and_a_timestamp(
    live_server, monkeypatch
) -> None:
    sent: list[bytes] = []
    original = zeep.transports.Transport.post

    def recording(self, address, message, headers):  # noqa: ANN001, ANN202
        sent.append(message if isinstance(message, bytes) else message.encode())
        return original(self, address, message, headers)

    monkeypatch.setattr(zeep.transports.Transport, "post", recording)
    result = adapter_for(live_server).authorize(purchase())
    assert result.outcome == Outcome.SUCCEEDED
    (envelope,) = sent
    text = envelope.decode()
    assert "UsernameToken" in text
    assert "#PasswordText" in text
    assert "<wsu:Timestamp" in text
    assert "<wsu:Expires>" in text
    assert sandbox_credentials("infinitepay")["secret"] not in text  # the secret signs; it never travels


def test_a_wrong_password_is_refused_by_the_sandbox_and_raises_misconfigured(live_server) -> None:
    broken = adapter_for(live_server, password="wrong-password-of-length")
    with pytest.raises(ProviderMisconfigured):
        broken.authorize(purchase())  # the secret no longer matches the password: SECURITY_CD refused
    short = adapter_for(live_server, password="short")
    with pytest.raises(ProviderMisconfigured):
        short.authorize(purchase())  # the UsernameToken itself is refused
    assert simulator.debtor_exposure("paydeskcontract", VAT_ID) == 0


def test_a_request_without_ws_security_or_with_an_expired_timestamp_is_a_fault(live_server) -> None:
    url = f"{live_server.url}/sandbox/infinitepay/ws/InfinitePayAPI"
    body = (
        '<soap:Envelope xmlns:soap="http://schemas.xmlsoap.org/soap/envelope/" xmlns:ip="{tns}">{header}'
        "<soap:Body><ip:checkStatusOrder><REQUEST><CLIENT_DATA><CLIENT_REF>paydeskcontract</CLIENT_REF>"
        "<SECURITY_CD>x</SECURITY_CD></CLIENT_DATA><ORDER_DATA><ORDER_ID>O1</ORDER_ID></ORDER_DATA></REQUEST>"
        "</ip:checkStatusOrder></soap:Body></soap:Envelope>"
    )
    password = sandbox_credentials("infinitepay")["password"]
    then = datetime.now(UTC) - timedelta(hours=2)
    expired = (
        f'<soap:Header><wsse:Security xmlns:wsse="{simulator.WSSE}" xmlns:wsu="{simulator.WSU}">'
        f"<wsse:UsernameToken><wsse:Username>paydeskcontract-ws</wsse:Username>"
        f'<wsse:Password Type="{simulator.PASSWORD_TEXT}">{password}</wsse:Password></wsse:UsernameToken>'
        f"<wsu:Timestamp><wsu:Created>{then:%Y-%m-%dT%H:%M:%SZ}</wsu:Created>"
        f"<wsu:Expires>{then + timedelta(seconds=600):%Y-%m-%dT%H:%M:%SZ}</wsu:Expires></wsu:Timestamp>"
        "</wsse:Security></soap:Header>"
    )
    for header in ("", expired):
        reply = requests.post(url, data=body.format(tns=simulator.TNS, header=header), timeout=10)
        assert reply.status_code == 500
        assert "FailedAuthentication" in reply.text


# --- the credit limit and cancel ----------------------------------------------------------------------------------


def test_reserve_over_the_debtors_limit_is_refused_and_cancel_releases_the_limit(live_server) -> None:
    adapter = adapter_for(live_server)
    first = adapter.authorize(purchase("30000.00"))
    assert first.outcome == Outcome.SUCCEEDED
    over = adapter.authorize(purchase("20000.01"))
    assert (over.outcome, over.error_code) == (Outcome.DECLINED, ErrorCode.INSUFFICIENT_FUNDS)
    assert "credit" in over.message
    assert adapter.authorize(purchase("20000.00", vat_id="DE129273398")).outcome == Outcome.SUCCEEDED  # another debtor
    assert simulator.debtor_exposure("paydeskcontract", VAT_ID) == 3_000_000  # the refusal held nothing
    canceled = adapter.cancel(follow(first))
    assert canceled.outcome == Outcome.SUCCEEDED
    assert state(first)["status"] == "canceled"
    assert simulator.debtor_exposure("paydeskcontract", VAT_ID) == 0
    assert adapter.authorize(purchase("20000.01")).outcome == Outcome.SUCCEEDED


def test_the_credit_check_approves_only_the_test_debtor(live_server) -> None:
    result = adapter_for(live_server).authorize(purchase(email="buyer@example.com"))
    assert (result.outcome, result.error_code, result.provider_reference) == (
        Outcome.DECLINED,
        ErrorCode.CARD_DECLINED,
        None,
    )


def test_a_company_without_vat_id_is_neither_offered_nor_sent(live_server) -> None:
    adapter = adapter_for(live_server)
    request = purchase(vat_id="")
    assert request.context is not None
    assert adapter.is_applicable(request.context) is False
    result = adapter.authorize(request)
    assert (result.outcome, result.error_code) == (Outcome.DECLINED, ErrorCode.INVALID_REQUEST)
    assert simulator.debtor_exposure("paydeskcontract", "email_for_success_emulation@test.com") == 0


# --- auto capture and auto activation -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("auto_capture", "auto_activate", "verb", "status"),
    [
        (False, False, "authorize", "reserved"),
        (False, True, "authorize", "reserved"),  # auto activation only together with auto capture
        (True, False, "charge", "captured"),
        (True, True, "charge", "activated"),
    ],
)
def test_auto_capture_and_activation_combinations(live_server, auto_capture, auto_activate, verb, status) -> None:
    adapter = adapter_for(live_server, auto_capture=auto_capture, auto_activate=auto_activate)
    (method_,) = adapter.methods(_integration())
    assert method_.payment_action == verb  # the purchase the ledger records
    result = getattr(adapter, verb)(purchase("250.00"))
    assert result.outcome == Outcome.SUCCEEDED
    found = state(result)
    assert found["status"] == status
    assert result.raw["guaranteed_amount"] == "250.00"
    if status == "activated":
        today = datetime.now(UTC).date()
        assert found["invoice"]["DUE_DATE"] == (today + timedelta(days=21 + 30)).strftime("%Y%m%d")
        assert found["invoice"]["DELIVERY_DATE"] == (today + timedelta(days=21)).strftime("%Y%m%d")
        assert adapter.refund(follow(result, "50.00")).outcome == Outcome.SUCCEEDED  # credit notes work at once


def _integration():  # noqa: ANN202
    from providers.base import Environment, IntegrationInfo, PaymentAction

    return IntegrationInfo(
        id=1,
        uuid="u",
        provider_key="infinitepay",
        name="InfinitePay",
        environment=Environment.SANDBOX,
        payment_action=PaymentAction.AUTHORIZE,
    )


def test_activate_before_capture_is_refused_then_works_after_it(live_server) -> None:
    adapter = adapter_for(live_server, auto_capture=False, auto_activate=False)
    reserved = adapter.authorize(purchase("400.00"))
    early = adapter.activate(follow(reserved, invoice_id="INV-1", invoice_date=date(2026, 11, 30)))
    assert (early.outcome, early.error_code) == (Outcome.DECLINED, ErrorCode.INVALID_STATE)
    assert "capture it first" in early.message
    assert state(reserved)["status"] == "reserved"
    refund = adapter.refund(follow(reserved, "10.00"))
    assert (refund.outcome, refund.error_code) == (Outcome.DECLINED, ErrorCode.INVALID_STATE)
    capture = adapter.capture(follow(reserved, "380.00"))
    assert (capture.outcome, capture.amount.amount) == (Outcome.SUCCEEDED, Decimal("380.00"))
    activated = adapter.activate(follow(capture, invoice_id="INV-1", invoice_date=date(2026, 11, 30)))
    assert activated.outcome == Outcome.SUCCEEDED
    found = state(reserved)
    assert (found["status"], found["invoice"]["INVOICE_ID"], found["invoice"]["DUE_DATE"]) == (
        "activated",
        "INV-1",
        "20261230",  # the due period (30 days) from the invoice date
    )
    assert adapter.cancel(follow(reserved)).error_code == ErrorCode.NOT_CANCELED  # activated: credit notes only
    credit = adapter.refund(follow(capture, "80.00"))
    assert (credit.outcome, credit.amount.amount) == (Outcome.SUCCEEDED, Decimal("80.00"))
    assert credit.provider_reference != capture.provider_reference
    assert state(reserved)["open"] == 30000
    over = adapter.refund(follow(capture, "300.01"))
    assert (over.outcome, over.error_code) == (Outcome.DECLINED, ErrorCode.AMOUNT_EXCEEDS_REFUNDABLE)


# --- a lost reply ----------------------------------------------------------------------------------------------------


def test_a_lost_reserve_reply_is_found_by_check_status_order_with_the_key_alone(live_server) -> None:
    slow = adapter_for(live_server)
    slow.read_timeout = 0.5
    request = purchase("120.00")
    fault(live_server.url, slow, "timeout", "create", times=1, delay=1.5)
    with pytest.raises(ProviderUnavailable):
        slow.authorize(request)
    status = StatusRequest(request.idempotency_key, None, "authorize", request.amount, method_info())
    found = adapter_for(live_server).fetch_status(status)
    assert (found.outcome, found.amount) == (Outcome.SUCCEEDED, request.amount)
    assert found.provider_reference
    assert found.provider_reference.startswith("IP")
    again = adapter_for(live_server).authorize(request)  # a retry with the key reserves nothing twice
    assert again.provider_reference == found.provider_reference
    assert simulator.debtor_exposure("paydeskcontract", VAT_ID) == 12000
    never = StatusRequest(f"never-{uuid.uuid4()}", None, "authorize", request.amount, method_info())
    missing = adapter_for(live_server).fetch_status(never)
    assert (missing.outcome, missing.error_code) == (Outcome.ERROR, NOT_FOUND)


def test_a_lost_activation_reply_is_found_by_its_trs_id(live_server) -> None:
    adapter = adapter_for(live_server, auto_capture=True)
    charge = adapter.charge(purchase("60.00"))
    slow = adapter_for(live_server, auto_capture=True)
    slow.read_timeout = 0.5
    request = follow(charge, invoice_id="INV-9", invoice_date=date(2026, 11, 30))
    fault(live_server.url, slow, "timeout", "activateOrder", times=1, delay=1.5)
    with pytest.raises(ProviderUnavailable):
        slow.activate(request)
    asked = StatusRequest(request.idempotency_key, charge.provider_reference, "activate", charge.amount, method_info())
    assert adapter.fetch_status(asked).outcome == Outcome.SUCCEEDED
    other = StatusRequest("another-key", charge.provider_reference, "activate", charge.amount, method_info())
    assert adapter.fetch_status(other).error_code == NOT_FOUND


def test_debug_logging_masks_the_password_the_secret_and_the_security_code(live_server, caplog) -> None:
    credentials = sandbox_credentials("infinitepay")
    with caplog.at_level("INFO", logger="providers.infinitepay.client"):
        result = adapter_for(live_server, debug_mode=True).authorize(purchase())
    assert result.outcome == Outcome.SUCCEEDED
    logged = caplog.text
    assert "reserveOrder request" in logged
    assert "reserveOrder response" in logged
    assert credentials["secret"] not in logged
    assert credentials["password"] not in logged
    assert "SECURITY_CD': '••••••••'" in logged


def test_a_guarantee_for_less_than_the_order_is_reported_as_the_amount_held(monkeypatch) -> None:
    """At the network edge: InfinitePay answers a reserve with a smaller GUAR_AMT; the ledger then flags it."""
    from providers.infinitepay.client import InfinitePayClient

    def answer(self, operation, request):  # noqa: ANN001, ANN202
        return {"RESPONSE_DATA": {"STATUS": "1", "REF_NO": "IP1", "ORDER_ID": "O1", "GUAR_AMT": "8000"}}

    monkeypatch.setattr(InfinitePayClient, "call", answer)
    result = InfinitePayAdapter(sandbox_credentials("infinitepay")).authorize(purchase("100.00"))
    assert (result.outcome, result.amount) == (Outcome.SUCCEEDED, Money(Decimal("80.00"), "EUR"))
    assert result.raw["guaranteed_amount"] == "80.00"
