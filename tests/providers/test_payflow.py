"""Payflow on the wire: the name-value syntax, request ids, RESULT codes, and the sandbox's pilot behaviour.

The contract suite (test_contract.py) runs the common scenarios; these are Payflow's own.
"""

from __future__ import annotations

import uuid
from datetime import datetime, timedelta
from decimal import Decimal
from urllib.parse import parse_qs, urlsplit

import pytest
import requests

from providers.base import (
    AddressInfo,
    CheckoutContext,
    ErrorCode,
    FollowUpRequest,
    IntegrationInfo,
    Money,
    Outcome,
    PaymentAction,
    PaymentRequest,
    ProviderMisconfigured,
    ProviderUnavailable,
    StatusRequest,
)
from providers.base import Environment as Env
from providers.payflow import nvp
from providers.payflow.adapter import PayflowAdapter, billing_fields, custref, format_amount, request_id
from sandbox.models import SimObject
from sandbox.payflow.simulator import pilot_result, transactions
from sandbox.services import sim_advance_time, sim_now
from tests.providers.sandboxes import (
    RETURN_URL,
    method,
    payflow_post_card,
    payflow_validated_card,
    sandbox_adapter,
)

SETTINGS = {"partner": "PayPal", "vendor": "wiretests", "user": "wiretests", "password": "pw-1234"}
TAGGED = "Smith & Sons = Co"


# --- the name-value syntax ----------------------------------------------------------------------------------------


def test_values_with_ampersand_or_equals_get_a_length_tag_and_read_back_exactly() -> None:
    body = nvp.encode({"TRXTYPE": "S", "COMPANYNAME": TAGGED, "STREET": "1 Main St", "AMT": "10.00"})
    assert body == b"TRXTYPE=S&COMPANYNAME[17]=Smith & Sons = Co&STREET=1 Main St&AMT=10.00"
    assert nvp.decode(body) == {"TRXTYPE": "S", "COMPANYNAME": TAGGED, "STREET": "1 Main St", "AMT": "10.00"}


def test_length_tags_count_utf8_bytes() -> None:
    value = "Müller & Söhne"
    body = nvp.encode({"COMPANYNAME": value, "X": "1"})
    assert body.startswith(b"COMPANYNAME[16]=")
    assert nvp.decode(body) == {"COMPANYNAME": value, "X": "1"}


def test_a_reply_token_with_a_length_tag_is_read_byte_exactly() -> None:
    reply = b"RESULT=0&RESPMSG=Approved&SECURETOKEN[25]=Fj+1AFUWft0+I0CUFOKh5WA==&SECURETOKENID=PD12"
    assert nvp.decode(reply)["SECURETOKEN"] == "Fj+1AFUWft0+I0CUFOKh5WA=="
    assert nvp.decode(reply)["SECURETOKENID"] == "PD12"


@pytest.mark.parametrize("body", [b"RESULT", b"NAME[5]=abc", b"NAME[3]=abcd&X=1", b"[3]=abc", b"A=\xff\xfe"], ids=repr)
def test_malformed_bodies_are_refused(body: bytes) -> None:
    with pytest.raises(nvp.NVPError):
        nvp.decode(body)


def test_request_ids_fit_payflows_32_characters_and_are_stable() -> None:
    assert request_id("capture:12:auto") == "capture:12:auto"
    long_key = str(uuid.UUID(int=7))
    assert len(request_id(long_key)) == 32
    assert request_id(long_key) == request_id(long_key) != request_id(long_key + "x")
    assert len(custref(long_key)) == 12
    assert custref(long_key).isalnum()


@pytest.mark.parametrize(
    ("amount", "currency", "wire"),
    [("100.00", "USD", "100.00"), ("12000", "JPY", "12000"), ("5", "EUR", "5.00"), ("99999.99", "USD", "99999.99")],
)
def test_amounts_are_written_as_payflow_wants(amount: str, currency: str, wire: str) -> None:
    assert format_amount(Money(Decimal(amount), currency)) == wire


def test_applicable_only_above_zero_below_100000_in_currencies_paypal_takes() -> None:
    adapter = PayflowAdapter(SETTINGS)

    def ok(amount: str, currency: str = "USD") -> bool:
        money = Money(Decimal(amount), currency)
        return adapter.is_applicable(CheckoutContext(currency=currency, subtotal=money, total=money))

    assert [ok("0"), ok("0.01"), ok("99999.99"), ok("100000"), ok("150000")] == [False, True, True, False, False]
    assert [ok("30.125", "KWD"), ok("12000", "JPY"), ok("12.5", "JPY")] == [False, True, False]


def test_two_methods_express_with_its_own_labels_and_action() -> None:
    adapter = PayflowAdapter(
        {**SETTINGS, "express_checkout_label": "PayPal Express", "express_checkout_payment_action": "charge"}
    )
    info = IntegrationInfo(
        id=7,
        uuid="u",
        provider_key="payflow",
        name="Payflow",
        environment=Env.SANDBOX,
        payment_action=PaymentAction.AUTHORIZE,
        labels={"en": "Credit card"},
    )
    card, express = adapter.methods(info)
    assert (card.identifier, card.labels, card.payment_action) == ("payflow_7", {"en": "Credit card"}, None)
    assert (express.identifier, express.variant, express.labels, express.payment_action) == (
        "payflow_7_express",
        "express",
        {"en": "PayPal Express"},
        PaymentAction.CHARGE,
    )


# --- RESULT codes the sandbox cannot produce: negative (client-side) codes ------------------------------------------


class _Reply:
    def __init__(self, body: bytes, status: int = 200) -> None:
        self.content = body
        self.status_code = status


class _Session:
    def __init__(self, body: bytes, status: int = 200) -> None:
        self.reply = _Reply(body, status)
        self.sent: list[tuple[bytes, dict]] = []

    def post(self, url: str, data: bytes, headers: dict, timeout: tuple) -> _Reply:
        self.sent.append((data, headers))
        return self.reply


def _with_reply(body: bytes, status: int = 200) -> tuple[PayflowAdapter, _Session]:
    adapter = PayflowAdapter(SETTINGS, base_url="http://payflow.test")
    session = _Session(body, status)
    adapter.__dict__["_http"] = session  # the network edge
    return adapter, session


def _capture(adapter: PayflowAdapter, key: str = "capture-1") -> FollowUpRequest:
    return FollowUpRequest(
        amount=Money(Decimal("10.00"), "USD"),
        idempotency_key=key,
        provider_reference="VABC12345678",
        method=method(adapter),
    )


@pytest.mark.parametrize(
    "body", [b"RESULT=-1&RESPMSG=Failed to connect to host", b"RESULT=-12&RESPMSG=Timeout", b"RESULT=11"]
)
def test_communication_errors_are_an_unknown_outcome(body: bytes) -> None:
    adapter, _ = _with_reply(body)
    with pytest.raises(ProviderUnavailable):
        adapter.capture(_capture(adapter))


def test_each_call_carries_the_request_id_and_a_body_that_is_not_url_encoded() -> None:
    adapter, session = _with_reply(b"RESULT=0&PNREF=VXYZ01234567&RESPMSG=Approved")
    result = adapter.capture(_capture(adapter, key="capture-abc"))
    assert (result.outcome, result.provider_reference) == (Outcome.SUCCEEDED, "VXYZ01234567")
    body, headers = session.sent[0]
    assert headers["X-VPS-REQUEST-ID"] == "capture-abc"
    assert headers["Content-Type"] == "text/namevalue"
    sent = nvp.decode(body)
    assert (sent["TRXTYPE"], sent["ORIGID"], sent["AMT"], sent["CAPTURECOMPLETE"]) == (
        "D",
        "VABC12345678",
        "10.00",
        "Y",
    )
    assert sent["CUSTREF"] == custref("capture-abc")
    assert "pw-1234" not in str(result.raw)


def test_a_duplicate_reply_is_recognised_in_raw() -> None:
    adapter, _ = _with_reply(b"RESULT=0&PNREF=VXYZ01234567&RESPMSG=Approved&DUPLICATE=1")
    assert adapter.capture(_capture(adapter)).raw["DUPLICATE"] == "1"


# --- the sandbox ------------------------------------------------------------------------------------------------------


def _nvp(client, body: bytes, request_id: str, provider: str = "payflow"):  # noqa: ANN001, ANN202
    return client.post(f"/sandbox/{provider}/", body, content_type="text/namevalue", HTTP_X_VPS_REQUEST_ID=request_id)


CREDENTIALS = {"PARTNER": "PayPal", "VENDOR": "wiretests", "USER": "wiretests", "PWD": "pw-1234"}


@pytest.mark.django_db
def test_a_repeated_request_id_replays_the_first_reply_with_duplicate_and_ignores_the_new_body(client) -> None:
    token = {**CREDENTIALS, "TRXTYPE": "A", "TENDER": "C", "AMT": "10.00", "CREATESECURETOKEN": "Y"}
    first = nvp.decode(_nvp(client, nvp.encode({**token, "SECURETOKENID": "PDone"}), "req-1").content)
    again = nvp.decode(_nvp(client, nvp.encode({**token, "SECURETOKENID": "PDtwo", "AMT": "99.00"}), "req-1").content)
    assert first["RESULT"] == "0"
    assert "DUPLICATE" not in first
    assert again == {**first, "DUPLICATE": "1"}
    assert SimObject.objects.filter(provider="payflow", kind="secure_token").count() == 1


@pytest.mark.django_db
def test_wrong_credentials_get_result_1(client) -> None:
    body = nvp.encode({**CREDENTIALS, "PWD": "invalid", "TRXTYPE": "I", "TENDER": "C", "ORIGID": "V00000000000"})
    assert nvp.decode(_nvp(client, body, "req-2").content)["RESULT"] == "1"


@pytest.mark.django_db
def test_a_request_without_request_id_is_refused(client) -> None:
    body = nvp.encode({**CREDENTIALS, "TRXTYPE": "I", "TENDER": "C", "ORIGID": "V00000000000"})
    reply = client.post("/sandbox/payflow/", body, content_type="text/namevalue")
    assert nvp.decode(reply.content)["RESULT"] == "7"


@pytest.mark.parametrize(
    ("amount", "result"),
    [("0", 0), ("1000.99", 0), ("1001.00", 1), ("1012.00", 12), ("1015.00", 12), ("1126.00", 126), ("2000.50", 12)],
)
def test_pilot_amount_triggers(amount: str, result: int) -> None:
    assert pilot_result(Decimal(amount), "USD") == result
    assert pilot_result(Decimal(amount), "JPY") == 0


@pytest.fixture
def adapter(live_server) -> PayflowAdapter:  # noqa: ANN001
    """The adapter on the sandbox, without zero-amount authorization (the card form's transaction is the payment)."""
    made = sandbox_adapter("payflow", live_server.url)
    assert isinstance(made, PayflowAdapter)
    settings = {
        k: v
        for k, v in made.settings.items()
        if k not in ("zero_amount_authorization", "authorization_for_required_amount")
    }
    return PayflowAdapter(settings, base_url=made.base_url)


def _purchase(adapter: PayflowAdapter, amount: str, *, on: str = "", **data: str) -> PaymentRequest:
    """A purchase; `on`: the PNREF of a card the buyer validated, as the server chooses it."""
    return PaymentRequest(
        amount=Money(Decimal(amount), "USD"),
        idempotency_key=f"purchase-{uuid.uuid4()}",
        method=method(adapter),
        reference="A-1",
        payment_data=data,
        return_url=RETURN_URL,
        source_reference=on,
    )


EXPECTED = [
    ("100.00", Outcome.SUCCEEDED, None),
    ("1012.00", Outcome.DECLINED, "card_declined"),
    ("1013.00", Outcome.DECLINED, "call_issuer"),
    ("1023.00", Outcome.DECLINED, "incorrect_number"),
    ("1024.00", Outcome.DECLINED, "expired_card"),
    ("1050.00", Outcome.DECLINED, "insufficient_funds"),
    ("1104.00", Outcome.DECLINED, "processing_error"),
    ("1114.00", Outcome.DECLINED, "incorrect_cvc"),
    ("1125.00", Outcome.DECLINED, "fraudulent"),
    ("1126.00", Outcome.PENDING, "held_for_review"),
    ("1099.00", Outcome.ERROR, ErrorCode.UNEXPECTED_RESPONSE),  # RESULT 99, general error: kept in raw
    ("1030.00", Outcome.DECLINED, "duplicate_transaction"),
    ("1100.00", Outcome.DECLINED, ErrorCode.CARD_DECLINED),  # RESULT 100, any other refusal: kept in raw
    ("2500.00", Outcome.DECLINED, "card_declined"),
]

RESULTS_IN_RAW = {"1099.00": "99", "1100.00": "100"}


@pytest.mark.django_db(transaction=True)
def test_each_result_trigger_maps_to_an_outcome(adapter) -> None:
    pnref = payflow_validated_card(adapter)
    for amount, outcome, code in EXPECTED:
        result = adapter.authorize(_purchase(adapter, amount, on=pnref))
        assert (amount, result.outcome, result.error_code) == (amount, outcome, code)
        if amount in RESULTS_IN_RAW:  # codes of our vocabulary; Payflow's own RESULT stays for staff
            assert result.raw["RESULT"] == RESULTS_IN_RAW[amount]
    with pytest.raises(ProviderUnavailable):  # 11: client time-out, nobody knows
        adapter.authorize(_purchase(adapter, "1011.00", on=pnref))
    with pytest.raises(ProviderMisconfigured):  # 1: user authentication failed
        adapter.authorize(_purchase(adapter, "1001.00", on=pnref))


@pytest.mark.django_db(transaction=True)
def test_a_company_name_with_ampersand_and_equals_reaches_the_sandbox_exactly(adapter) -> None:
    address = AddressInfo(organization=TAGGED, street="5 Rue = Place & Co", city="Springfield", country_iso2="US")
    total = Money(Decimal("40.00"), "USD")
    request = PaymentRequest(
        amount=total,
        idempotency_key="tagged-1",
        method=method(adapter),
        reference="A-2",
        context=CheckoutContext(currency="USD", subtotal=total, total=total, billing_address=address),
        return_url=RETURN_URL,
    )
    first = adapter.authorize(request)
    assert first.outcome == Outcome.ACTION_REQUIRED
    token = SimObject.objects.get(provider="payflow", kind="secure_token").data
    assert (token["params"]["COMPANYNAME"], token["params"]["STREET"]) == (TAGGED, "5 Rue = Place & Co")
    payflow_post_card(first.next_action, "4111111111111111")
    done = adapter.fetch_status(
        StatusRequest(
            idempotency_key="tagged-1",
            provider_reference=first.provider_reference,
            action="authorize",
            amount=total,
            method=method(adapter),
        )
    )
    assert done.outcome == Outcome.SUCCEEDED
    (txn,) = transactions()
    assert txn["billing"]["COMPANYNAME"] == TAGGED


@pytest.mark.django_db(transaction=True)
def test_the_browser_comes_back_with_the_result_and_no_card_number(adapter) -> None:
    first = adapter.charge(_purchase(adapter, "25.00"))
    location = payflow_post_card(first.next_action, "4111111111111111")
    assert location.startswith(RETURN_URL + "?")
    fields = {k: v[0] for k, v in parse_qs(urlsplit(location).query).items()}
    assert (fields["RESULT"], fields["RESPMSG"], fields["AMT"]) == ("0", "Approved", "25.00")
    assert "4111111111111111" not in location
    assert "ACCT" not in fields


@pytest.mark.django_db(transaction=True)
def test_an_expired_secure_token_is_refused_and_the_purchase_declines(adapter) -> None:
    request = _purchase(adapter, "25.00")
    first = adapter.authorize(request)
    sim_advance_time(provider="payflow", seconds=31 * 60)
    location = payflow_post_card(first.next_action, "4111111111111111")
    assert "RESULT=7" in location
    assert "Secure+Token+Expired" in location
    status = StatusRequest(
        idempotency_key=request.idempotency_key,
        provider_reference=first.provider_reference,
        action="authorize",
        amount=request.amount,
        method=method(adapter),
    )
    back = adapter.fetch_status(status)
    assert (back.outcome, back.error_code) == (Outcome.DECLINED, "token_expired")
    assert transactions() == []


@pytest.mark.django_db(transaction=True)
def test_before_the_buyer_posts_the_card_the_purchase_still_waits(adapter) -> None:
    request = _purchase(adapter, "25.00")
    first = adapter.authorize(request)
    status = StatusRequest(
        idempotency_key=request.idempotency_key,
        provider_reference=first.provider_reference,
        action="authorize",
        amount=request.amount,
        method=method(adapter),
    )
    back = adapter.fetch_status(status)
    assert (back.outcome, back.next_action) == (Outcome.ACTION_REQUIRED, first.next_action)


@pytest.mark.django_db(transaction=True)
def test_a_settled_sale_cannot_be_voided_but_can_be_credited(adapter, live_server) -> None:
    sale = adapter.charge(_purchase(adapter, "60.00", on=payflow_validated_card(adapter)))
    requests.post(f"{live_server.url}/sandbox/payflow/__sim/settle", timeout=10)
    follow = FollowUpRequest(
        amount=sale.amount, idempotency_key="void-1", provider_reference=sale.provider_reference, method=method(adapter)
    )
    void = adapter.cancel(follow)
    assert (void.outcome, void.error_code) == (Outcome.DECLINED, ErrorCode.NOT_CANCELED)
    credit = adapter.refund(
        FollowUpRequest(
            amount=Money(Decimal("10.00"), "USD"),
            idempotency_key="credit-1",
            provider_reference=sale.provider_reference,
            method=method(adapter),
        )
    )
    assert credit.outcome == Outcome.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_check_connection(adapter) -> None:
    assert adapter.check_connection().outcome == Outcome.SUCCEEDED
    broken = PayflowAdapter({**SETTINGS, "password": "invalid"}, base_url=adapter.base_url)
    with pytest.raises(ProviderMisconfigured):
        broken.check_connection()


@pytest.mark.django_db(transaction=True)
def test_payments_pro_has_its_own_sandbox_state(live_server) -> None:
    pro = sandbox_adapter("payflow_pro", live_server.url)
    pnref = payflow_validated_card(pro)
    assert [t["pnref"] for t in transactions("payflow_pro")] == [pnref]
    assert transactions("payflow") == []


# --- the sandbox refuses what Payflow refuses ---------------------------------------------------------------------


CARD = {"TENDER": "C", "ACCT": "4111111111111111", "EXPDATE": "1230", "CVV2": "123", "CURRENCY": "USD"}


def _sale(client, request_id: str, **fields: str) -> dict[str, str]:  # noqa: ANN001
    body = nvp.encode({**CREDENTIALS, "TRXTYPE": "S", "AMT": "10.00", **CARD, **fields})
    return nvp.decode(_nvp(client, body, request_id).content)


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("fields", "named"),
    [
        ({"ZIP": "62701-1234"}, "ZIP"),
        ({"ZIP": "6270"}, "ZIP"),
        ({"ZIP": "SW1A 1AA", "BILLTOCOUNTRY": "GB"}, "ZIP"),
        ({"STREET": "12345 North Industrial Parkway B"}, "STREET"),
        ({"FIRSTNAME": "M" * 31}, "FIRSTNAME"),
        ({"LASTNAME": "F" * 31}, "LASTNAME"),
        ({"COMPANYNAME": "C" * 31}, "COMPANYNAME"),
        ({"CITY": "Rancho Santa Margarita"}, "CITY"),
        ({"STATE": "Illinois"}, "STATE"),
        ({"INVNUM": "INV-000001"}, "INVNUM"),
        ({"EMAIL": "a" * 50 + "@example.com"}, "EMAIL"),
    ],
)
def test_billing_fields_beyond_the_guide_are_a_field_format_error(client, fields, named) -> None:
    reply = _sale(client, uuid.uuid4().hex, **fields)
    assert (reply["RESULT"], named in reply["RESPMSG"]) == ("7", True)
    assert transactions() == []


@pytest.mark.django_db
@pytest.mark.parametrize(
    "fields",
    [{"ZIP": "62701"}, {"ZIP": "627011234"}, {"ZIP": "SW1A1AA", "BILLTOCOUNTRY": "GB"}, {"STREET": "S" * 30}],
)
def test_billing_fields_within_the_guide_are_taken(client, fields) -> None:
    assert _sale(client, uuid.uuid4().hex, **fields)["RESULT"] == "0"


@pytest.mark.django_db
def test_a_secure_token_and_payflow_link_refuse_the_same_fields(client) -> None:
    token = {**CREDENTIALS, "TRXTYPE": "A", "TENDER": "C", "AMT": "10.00", "CREATESECURETOKEN": "Y"}
    refused = nvp.decode(_nvp(client, nvp.encode({**token, "SECURETOKENID": "PDa", "ZIP": "62701-1234"}), "t1").content)
    assert refused["RESULT"] == "7"
    made = nvp.decode(
        _nvp(client, nvp.encode({**token, "SECURETOKENID": "PDb", "ERRORURL": "http://shop.test/e"}), "t2").content
    )
    posted = client.post(
        "/sandbox/payflow/link/",
        {
            "SECURETOKEN": made["SECURETOKEN"],
            "SECURETOKENID": "PDb",
            **{k: CARD[k] for k in ("ACCT", "EXPDATE")},
            "ZIP": "627-01",
        },
    )
    assert posted.status_code == 303
    assert "RESULT=7" in posted["Location"]
    assert transactions() == []


@pytest.mark.django_db
def test_a_reference_transaction_takes_only_an_approved_card_transaction_of_the_same_account_within_a_year(
    client,
) -> None:
    approved = _sale(client, "ref-approved")
    declined = _sale(client, "ref-declined", AMT="1012.00")
    assert (approved["RESULT"], declined["RESULT"]) == ("0", "12")
    other_account = {**CREDENTIALS, "VENDOR": "someoneelse", "USER": "someoneelse"}

    def reference(request_id: str, origid: str, credentials: dict) -> str:
        body = nvp.encode({**credentials, "TRXTYPE": "S", "TENDER": "C", "AMT": "5.00", "ORIGID": origid})
        return nvp.decode(_nvp(client, body, request_id).content)["RESULT"]

    assert reference("r1", approved["PNREF"], CREDENTIALS) == "0"
    assert reference("r2", approved["PNREF"], other_account) == "19"
    assert reference("r3", declined["PNREF"], CREDENTIALS) == "19"
    sim_advance_time(provider="payflow", seconds=366 * 24 * 3600)
    assert reference("r4", approved["PNREF"], CREDENTIALS) == "19"


@pytest.mark.django_db
def test_an_inquiry_says_the_amount_only_when_asked_for_verbosity(client) -> None:
    sale = _sale(client, "verbose-sale", CUSTREF="CR0000000001")

    def inquiry(request_id: str, **extra: str) -> dict[str, str]:
        body = nvp.encode({**CREDENTIALS, "TRXTYPE": "I", "TENDER": "C", "ORIGID": sale["PNREF"], **extra})
        return nvp.decode(_nvp(client, body, request_id).content)

    terse = inquiry("i1")
    assert (terse["RESULT"], terse["ORIGRESULT"], terse["ORIGPNREF"]) == ("0", "0", sale["PNREF"])
    assert "AMT" not in terse
    assert "TRANSSTATE" not in terse
    assert inquiry("i2", VERBOSITY="MEDIUM")["TRANSSTATE"] == "6"
    verbose = inquiry("i3", VERBOSITY="HIGH")
    assert (verbose["AMT"], verbose["ACCT"], verbose["TRXTYPE"]) == ("10.00", "1111", "S")


@pytest.mark.django_db
def test_an_inquiry_by_custref_answers_with_the_last_transaction_carrying_it(client) -> None:
    """The guide: "If there are multiple transactions with a particular CUSTREF value, then the Inquiry
    transaction returns only the last transaction with the specified CUSTREF." The sandbox answered with the
    first one."""
    _sale(client, "cr-1", CUSTREF="CRSAME000001")
    last = _sale(client, "cr-2", CUSTREF="CRSAME000001", AMT="20.00")
    body = nvp.encode({**CREDENTIALS, "TRXTYPE": "I", "TENDER": "C", "CUSTREF": "CRSAME000001", "VERBOSITY": "HIGH"})
    reply = nvp.decode(_nvp(client, body, "cr-i").content)
    assert (reply["ORIGPNREF"], reply["AMT"]) == (last["PNREF"], "20.00")


@pytest.mark.django_db
def test_an_inquiry_by_custref_searches_the_last_30_days_unless_given_a_window_of_at_most_30_days(client) -> None:
    """The guide: without STARTTIME and ENDTIME (yyyymmddhhmmss) an inquiry by CUSTREF searches the last 30
    days, and a window may not span more than 30 days. The sandbox searched all time, so a search the adapter
    must bound by the request's own date could never be caught missing."""
    sold_at = sim_now("payflow")
    sale = _sale(client, "old-sale", CUSTREF="CROLD0000001")
    sim_advance_time(provider="payflow", seconds=31 * 24 * 3600)

    def inquiry(request_id: str, **window: datetime) -> dict[str, str]:
        times = {k: v.strftime("%Y%m%d%H%M%S") for k, v in window.items()}
        body = nvp.encode({**CREDENTIALS, "TRXTYPE": "I", "TENDER": "C", "CUSTREF": "CROLD0000001", **times})
        return nvp.decode(_nvp(client, body, request_id).content)

    assert inquiry("no-window")["RESULT"] == "19"
    day = timedelta(days=1)
    assert inquiry("window", STARTTIME=sold_at - day, ENDTIME=sold_at + day)["ORIGPNREF"] == sale["PNREF"]
    assert inquiry("start-only", STARTTIME=sold_at - day)["ORIGPNREF"] == sale["PNREF"]
    assert inquiry("too-wide", STARTTIME=sold_at - day, ENDTIME=sold_at + 30 * day)["RESULT"] == "7"
    assert inquiry("end-only", ENDTIME=sold_at + 40 * day)["RESULT"] == "19"  # from 30 days before: too late


def test_neither_sandbox_imports_anything_from_its_adapter() -> None:
    import ast
    import inspect

    from sandbox.authorizenet import simulator as anet_sandbox
    from sandbox.payflow import simulator as payflow_sandbox

    for module, adapter_module in (
        (payflow_sandbox, "providers.payflow.adapter"),
        (anet_sandbox, "providers.authorizenet.adapter"),
    ):
        tree = ast.parse(inspect.getsource(module))
        imported = {n.module for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)} | {
            a.name for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names
        }
        assert adapter_module not in imported, module.__name__
        assert not any(name and name.startswith(adapter_module) for name in imported)


# --- the adapter: fields as Payflow takes them, inquiries that ask for what they need --------------------------------


def test_billing_fields_are_normalised_and_cut_to_the_guide() -> None:
    fields = billing_fields(
        {
            "FIRSTNAME": "Maximiliane-Alexandrina  Theodora Augusta",
            "STREET": "12345 North Industrial Parkway Boulevard",
            "CITY": "Rancho Santa Margarita Heights",
            "STATE": "IL",
            "ZIP": "62701-1234",
            "BILLTOCOUNTRY": "US",
            "EMAIL": "a" * 50 + "@example.com",
            "INVNUM": "INV-000001",
            "COMMENT1": "Order INV-000001",
        }
    )
    assert fields == {
        "FIRSTNAME": "Maximiliane-Alexandrina Theodo",
        "STREET": "12345 North Industrial Parkway",
        "CITY": "Rancho Santa Margari",
        "STATE": "IL",
        "ZIP": "627011234",
        "BILLTOCOUNTRY": "US",
        "INVNUM": "INV000001",
        "COMMENT1": "Order INV-000001",
    }
    assert billing_fields({"ZIP": "SW1A 1AA", "BILLTOCOUNTRY": "GB", "STATE": "Greater London"}) == {
        "ZIP": "SW1A1AA",
        "BILLTOCOUNTRY": "GB",
        "STATE": "Greater Lo",
    }
    assert billing_fields({"ZIP": "6270", "STATE": "Illinois", "BILLTOCOUNTRY": "US"}) == {"BILLTOCOUNTRY": "US"}


def test_a_terse_inquiry_reply_is_never_taken_for_the_amount_asked() -> None:
    adapter, session = _with_reply(b"RESULT=0&PNREF=VINQ00000001&RESPMSG=Approved&ORIGRESULT=0&ORIGPNREF=VABC12345678")
    status = StatusRequest("purchase-1", "securetoken:abc", "charge", Money(Decimal("100.00"), "USD"), method(adapter))
    result = adapter.fetch_status(status)
    assert (result.outcome, result.error_code) == (Outcome.ERROR, ErrorCode.INCOMPLETE_REPLY)
    (sent,) = [nvp.decode(body) for body, _ in session.sent]  # no sale sent on a guess
    assert (sent["TRXTYPE"], sent["VERBOSITY"]) == ("I", "HIGH")
    by_reference = adapter.fetch_status(
        StatusRequest("capture-1", "VABC12345678", "capture", Money(Decimal("100.00"), "USD"), method(adapter))
    )
    assert (by_reference.outcome, by_reference.error_code) == (Outcome.ERROR, ErrorCode.INCOMPLETE_REPLY)
