"""The Authorize.Net sandbox on the wire and the adapter's documents: BOM, HTTP 200, XSD order, duplicates, triggers."""

from __future__ import annotations

import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from authorizenet import apicontrollersbase
from lxml import etree

from providers.authorizenet.adapter import AuthorizeNetAdapter, key_reference
from providers.base import (
    AddressInfo,
    CheckoutContext,
    CustomerUserInfo,
    FollowUpRequest,
    MethodInfo,
    Money,
    Outcome,
    PaymentRequest,
    ProviderUnavailable,
    StatusRequest,
)
from sandbox.authorizenet import simulator as sandbox
from sandbox.models import SimObject
from sandbox.services import sim_advance_time, sim_fault_add
from tests.authorizenet_support import ANET_SECRETS, ANET_SETTINGS, LOGIN, bank, card

NS = {"a": sandbox.NS}
API = "/sandbox/authorizenet/xml/v1/request.api"
CARD_METHOD = MethodInfo(identifier="authorizenet_1", integration_id=1, provider_key="authorizenet")
ECHECK_METHOD = MethodInfo(
    identifier="authorizenet_1_echeck", integration_id=1, provider_key="authorizenet", variant="echeck"
)

# --- the sequences of providers.md §2.2 (from the official XSD) ----------------------------------------------------
API_REQUEST = ["merchantAuthentication", "clientId", "refId"]
MERCHANT_AUTHENTICATION = ["name", "transactionKey", "mobileDeviceId"]
TRANSACTION_REQUEST = (
    "transactionType amount currencyCode payment profile solution callId terminalNumber authCode refTransId "
    "splitTenderId order lineItems tax duty shipping taxExempt poNumber customer billTo shipTo customerIP "
    "cardholderAuthentication retail employeeId transactionSettings userFields surcharge merchantDescriptor "
    "subMerchant tip processingOptions subsequentAuthInformation otherTax shipFrom authorizationIndicatorType"
).split()
SEQUENCES = {
    "createTransactionRequest": [*API_REQUEST, "transactionRequest"],
    "getTransactionDetailsRequest": [*API_REQUEST, "transId"],
    "getUnsettledTransactionListRequest": [*API_REQUEST, "status", "sorting", "paging"],
    "getSettledBatchListRequest": [*API_REQUEST, "includeStatistics", "firstSettlementDate", "lastSettlementDate"],
    "getTransactionListRequest": [*API_REQUEST, "batchId", "sorting", "paging"],
    "sorting": ["orderBy", "orderDescending"],
    "paging": ["limit", "offset"],
    "authenticateTestRequest": API_REQUEST,
    "merchantAuthentication": MERCHANT_AUTHENTICATION,
    "transactionRequest": TRANSACTION_REQUEST,
    "order": ["invoiceNumber", "description", "discountAmount", "taxIsAfterDiscount", "totalTaxTypeCode"],
    "customer": ["type", "id", "email"],
    "billTo": "firstName lastName company address city state zip country phoneNumber faxNumber email".split(),
    "payment": ["creditCard", "bankAccount", "trackData", "encryptedTrackData", "payPal", "opaqueData", "emv"],
    "creditCard": ["cardNumber", "expirationDate", "cardCode", "isPaymentToken", "cryptogram"],
    "bankAccount": "accountType routingNumber accountNumber nameOnAccount echeckType bankName checkNumber".split(),
    "opaqueData": ["dataDescriptor", "dataValue", "dataKey", "expirationTimeStamp"],
    "transactionSettings": ["setting"],
    "setting": ["settingName", "settingValue"],
}
CHOICES = {"payment"}  # exactly one of its elements


def check_order(element: etree._Element) -> list[str]:
    """Where `element` and its descendants break the XSD sequence; [] when all is in order."""
    name = etree.QName(element).localname
    problems: list[str] = []
    children = [etree.QName(c).localname for c in element]
    sequence = SEQUENCES.get(name)
    if sequence is not None:
        unknown = [c for c in children if c not in sequence]
        if unknown:
            problems.append(f"{name}: unexpected {unknown}")
        positions = [sequence.index(c) for c in children if c in sequence]
        if positions != sorted(positions) or (len(set(positions)) != len(positions) and name != "transactionSettings"):
            problems.append(f"{name}: out of order {children}")
        if name in CHOICES and len(children) != 1:
            problems.append(f"{name}: a choice holds {children}")
        if name == "merchantAuthentication" and children[:2] != ["name", "transactionKey"]:
            problems.append(f"merchantAuthentication: {children}")
    for child in element:
        problems.extend(check_order(child))
    return problems


@pytest.fixture
def adapter(live_server) -> AuthorizeNetAdapter:
    return AuthorizeNetAdapter({**ANET_SETTINGS, **ANET_SECRETS}, base_url=f"{live_server.url}/sandbox/authorizenet")


def purchase(amount: str = "100.00", *, key: str | None = None, data: dict | None = None, context=None, method=None):  # noqa: ANN001, ANN201
    return PaymentRequest(
        amount=Money(Decimal(amount), "USD"),
        idempotency_key=key or f"t-{uuid.uuid4()}",
        method=method or CARD_METHOD,
        reference="C-000042",
        context=context,
        payment_data=data or card(),
    )


def follow(result, amount: str | None = None, key: str | None = None) -> FollowUpRequest:  # noqa: ANN001
    return FollowUpRequest(
        amount=Money(Decimal(amount), "USD") if amount else result.amount,
        idempotency_key=key or f"t-{uuid.uuid4()}",
        provider_reference=result.provider_reference,
        method=CARD_METHOD,
    )


def xml_request(root: str, inner: str, *, key: str = ANET_SECRETS["transaction_key"]) -> bytes:
    return (
        f'<?xml version="1.0" encoding="utf-8"?><{root} xmlns="{sandbox.NS}"><merchantAuthentication>'
        f"<name>{LOGIN}</name><transactionKey>{key}</transactionKey></merchantAuthentication>{inner}</{root}>"
    ).encode()


# --- the wire --------------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_replies_start_with_the_bom_and_are_200_even_for_errors(client) -> None:
    bad_key = client.post(
        API, xml_request("authenticateTestRequest", "", key="invalid000000000"), content_type="application/xml"
    )
    assert bad_key.status_code == 200
    assert bad_key.content.startswith(b"\xef\xbb\xbf<?xml")
    root = etree.fromstring(bad_key.content[3:])
    assert root.findtext("a:messages/a:resultCode", namespaces=NS) == "Error"
    assert root.findtext("a:messages/a:message/a:code", namespaces=NS) == "E00007"
    good = client.post(API, xml_request("authenticateTestRequest", ""), content_type="application/xml")
    assert etree.fromstring(good.content[3:]).findtext("a:messages/a:resultCode", namespaces=NS) == "Ok"


@pytest.mark.django_db
def test_elements_out_of_schema_order_are_refused_with_e00003(client) -> None:
    inner = (
        "<transactionRequest><amount>5.00</amount><transactionType>authOnlyTransaction</transactionType>"
        "</transactionRequest>"
    )
    reply = client.post(API, xml_request("createTransactionRequest", inner), content_type="application/xml")
    root = etree.fromstring(reply.content[3:])
    assert (reply.status_code, root.findtext("a:messages/a:message/a:code", namespaces=NS)) == (200, "E00003")
    assert ANET_SECRETS["transaction_key"] not in sandbox.received_documents()[-1]  # the key is masked in the record


@pytest.mark.django_db
def test_accept_js_turns_card_and_bank_fields_into_single_use_opaque_data(client) -> None:
    def tokenize(token: dict) -> dict:
        body = {
            "securePaymentContainerRequest": {
                "merchantAuthentication": {"name": LOGIN, "clientKey": "public-client-key"},
                "data": {"type": "TOKEN", "id": "1", "token": token},
            }
        }
        reply = client.post(API, json.dumps(body), content_type="application/json")
        assert reply.content.startswith(b"\xef\xbb\xbf")
        assert reply["Access-Control-Allow-Origin"] == "*"
        return json.loads(reply.content[3:])

    made = tokenize({"cardNumber": "4111111111111111", "expirationDate": "1234", "cardCode": "123"})
    assert made["opaqueData"]["dataDescriptor"] == "COMMON.ACCEPT.INAPP.PAYMENT"
    assert "4111111111111111" not in json.dumps(made)
    assert (
        tokenize({"cardNumber": "4111111111111112", "expirationDate": "1234"})["messages"]["message"][0]["code"]
        == "E_WC_05"
    )
    assert (
        tokenize({"cardNumber": "4111111111111111", "expirationDate": "0120"})["messages"]["message"][0]["code"]
        == "E_WC_08"
    )
    banked = tokenize({"routingNumber": "121042882", "accountNumber": "123456789", "nameOnAccount": "Ada"})
    assert "opaqueData" in banked


def test_the_accept_js_stand_in_posts_to_the_sandbox_api(client, settings) -> None:
    script = client.get("/sandbox/authorizenet/v1/Accept.js")
    assert script.status_code == 200
    assert "securePaymentContainerRequest" in script.content.decode()
    assert "/sandbox/authorizenet/xml/v1/request.api" in script.content.decode()
    settings.SANDBOX_ENABLED = False
    assert client.get("/sandbox/authorizenet/v1/Accept.js").status_code == 404


# --- the documents the adapter sends --------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_every_document_the_adapter_sends_follows_the_xsd_order(adapter) -> None:
    context = CheckoutContext(
        currency="USD",
        subtotal=Money(Decimal("100.00"), "USD"),
        total=Money(Decimal("100.00"), "USD"),
        billing_address=AddressInfo(
            country_iso2="US",
            region_code="US-IL",
            postal_code="62701",
            city="Springfield",
            street="1 Main St",
            organization="ACME",
            first_name="Ada",
            last_name="Buyer",
        ),
        customer_user=CustomerUserInfo(id=1, email="ada@acme.example"),
    )
    auth = adapter.authorize(purchase(context=context))
    assert auth.outcome == Outcome.SUCCEEDED, auth
    capture = adapter.capture(follow(auth, "60.00"))
    assert capture.outcome == Outcome.SUCCEEDED, capture
    sandbox.settle(capture.provider_reference)
    refund = adapter.refund(follow(capture, "10.00"))
    other = adapter.authorize(purchase())
    adapter.cancel(follow(other))
    echeck = adapter.charge(purchase("50.00", data=bank(), method=ECHECK_METHOD))
    sandbox.settle(echeck.provider_reference)
    adapter.refund(follow(echeck, "5.00"))
    adapter.fetch_status(StatusRequest("lost-key", None, "authorize", Money(Decimal("1.00"), "USD"), CARD_METHOD))
    adapter.check_connection()
    assert (auth.outcome, capture.outcome, refund.outcome, echeck.outcome) == (Outcome.SUCCEEDED,) * 4

    documents = sandbox.received_documents()
    roots = {etree.QName(etree.fromstring(d.encode())).localname for d in documents}
    assert roots == {
        "createTransactionRequest",
        "getTransactionDetailsRequest",
        "getUnsettledTransactionListRequest",
        "getSettledBatchListRequest",
        "getTransactionListRequest",
        "authenticateTestRequest",
    }
    types = set()
    for document in documents:
        root = etree.fromstring(document.encode())
        assert check_order(root) == [], document
        types.add(root.findtext("a:transactionRequest/a:transactionType", namespaces=NS))
    assert types >= {
        "authOnlyTransaction",
        "priorAuthCaptureTransaction",
        "refundTransaction",
        "voidTransaction",
        "authCaptureTransaction",
    }
    first = etree.fromstring(documents[0].encode())
    assert first.findtext("a:transactionRequest/a:billTo/a:state", namespaces=NS) == "IL"
    assert first.findtext("a:transactionRequest/a:order/a:description", namespaces=NS) == "Order C-000042"


def test_the_order_check_catches_a_misplaced_element() -> None:
    root = etree.fromstring(
        xml_request(
            "createTransactionRequest",
            "<transactionRequest><transactionType>authOnlyTransaction</transactionType><order/><amount>1</amount>"
            "</transactionRequest>",
        )
    )
    assert check_order(root) == ["transactionRequest: out of order ['transactionType', 'order', 'amount']"]


@pytest.mark.django_db(transaction=True)
def test_money_requests_carry_our_key_as_invoice_number_and_the_longest_duplicate_window(adapter) -> None:
    request = purchase(key="order-77:purchase:1")
    adapter.authorize(request)
    root = etree.fromstring(sandbox.received_documents("createTransactionRequest")[0].encode())
    assert root.findtext("a:refId", namespaces=NS) == key_reference("order-77:purchase:1")
    assert root.findtext("a:transactionRequest/a:order/a:invoiceNumber", namespaces=NS) == key_reference(
        "order-77:purchase:1"
    )
    assert len(key_reference("x" * 255)) == 20
    settings_ = root.findall("a:transactionRequest/a:transactionSettings/a:setting", namespaces=NS)
    assert [
        (s.findtext("a:settingName", namespaces=NS), s.findtext("a:settingValue", namespaces=NS)) for s in settings_
    ] == [("duplicateWindow", "28800")]
    assert "4111111111111111" not in sandbox.received_documents()[0]  # opaque data only


# --- duplicates -------------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_a_retry_within_the_window_is_answered_reason_11_and_reported_as_the_original(adapter, client) -> None:
    request = purchase()
    first = adapter.charge(request)
    again = adapter.charge(request)
    assert (again.outcome, again.provider_reference) == (Outcome.SUCCEEDED, first.provider_reference)
    assert again.raw["duplicate_of"] == first.provider_reference
    assert (
        sandbox.received_documents("createTransactionRequest")[1]
        == sandbox.received_documents("createTransactionRequest")[0]
    )
    charges = [o for o in sandbox.sim_list("authorizenet", "transaction") if o.data["type"] == "authCaptureTransaction"]
    assert len(charges) == 1


@pytest.mark.django_db(transaction=True)
def test_another_key_with_the_same_terms_is_a_new_transaction(adapter) -> None:
    data = card()
    first = adapter.authorize(purchase(data=data))
    second = adapter.authorize(purchase(data=card()))
    assert first.provider_reference != second.provider_reference
    reused = adapter.authorize(purchase(data=data))  # a spent token with a new key
    assert (reused.outcome, reused.error_code) == (Outcome.DECLINED, "invalid_payment_data")


@pytest.mark.django_db(transaction=True)
def test_without_a_duplicate_window_the_sandbox_answers_11_with_no_original(client) -> None:
    data = card()
    inner = (
        "<transactionRequest><transactionType>authCaptureTransaction</transactionType><amount>5.00</amount>"
        f"<payment><opaqueData><dataDescriptor>{data['data_descriptor']}</dataDescriptor>"
        f"<dataValue>{data['data_value']}</dataValue></opaqueData></payment></transactionRequest>"
    )
    first = etree.fromstring(
        client.post(API, xml_request("createTransactionRequest", inner), content_type="application/xml").content[3:]
    )
    again = etree.fromstring(
        client.post(API, xml_request("createTransactionRequest", inner), content_type="application/xml").content[3:]
    )
    assert first.findtext("a:transactionResponse/a:responseCode", namespaces=NS) == "1"
    assert again.findtext("a:transactionResponse/a:responseCode", namespaces=NS) == "3"
    assert again.findtext("a:transactionResponse/a:errors/a:error/a:errorCode", namespaces=NS) == "11"
    assert again.findtext("a:transactionResponse/a:transId", namespaces=NS) == "0"


# --- triggers ---------------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize(
    ("fields", "amount", "outcome", "code", "avs", "cvv"),
    [
        ({}, "100.00", Outcome.SUCCEEDED, None, "Y", "M"),
        ({"zip": "46282"}, "100.00", Outcome.DECLINED, "card_declined", "Y", "M"),
        ({"zip": "46205"}, "100.00", Outcome.DECLINED, "address_mismatch", "N", "M"),
        ({"zip": "46203"}, "100.00", Outcome.SUCCEEDED, None, "E", "M"),
        ({"cardCode": "901"}, "100.00", Outcome.DECLINED, "incorrect_cvc", "Y", "N"),
        ({"cardCode": "903"}, "100.00", Outcome.SUCCEEDED, None, "Y", "U"),
        ({"cardNumber": "4222222222222"}, "2.00", Outcome.DECLINED, "card_declined", "Y", "M"),
        ({"cardNumber": "4222222222222"}, "4.00", Outcome.DECLINED, "pickup_card", "Y", "M"),
        ({"cardNumber": "4222222222222"}, "8.00", Outcome.DECLINED, "expired_card", "Y", "M"),
        ({"cardNumber": "4222222222222"}, "19.00", Outcome.DECLINED, "processing_error", "Y", "M"),
        ({"cardNumber": "4222222222222"}, "252.00", Outcome.PENDING, "held_for_review", "Y", "M"),
    ],
)
def test_test_environment_triggers(adapter, fields, amount, outcome, code, avs, cvv) -> None:
    result = adapter.authorize(purchase(amount, data=card(**fields)))
    assert (result.outcome, result.error_code) == (outcome, code)
    assert (result.raw["avs_result"], result.raw["cvv_result"]) == (avs, cvv)
    assert result.message


@pytest.mark.django_db(transaction=True)
def test_echeck_is_a_charge_and_declines_above_100(adapter) -> None:
    ok = adapter.authorize(purchase("100.00", data=bank(), method=ECHECK_METHOD))
    assert (ok.outcome, ok.raw["account_type"], ok.raw["account"]) == (Outcome.SUCCEEDED, "eCheck", "XXXX6789")
    assert (
        sandbox.sim_get("authorizenet", "transaction", ok.provider_reference).data["type"] == "authCaptureTransaction"
    )
    declined = adapter.charge(purchase("100.01", data=bank(), method=ECHECK_METHOD))
    assert (declined.outcome, declined.error_code) == (Outcome.DECLINED, "card_declined")


@pytest.mark.django_db(transaction=True)
def test_a_card_type_the_integration_refuses_is_voided(live_server) -> None:
    adapter = AuthorizeNetAdapter(
        {**ANET_SETTINGS, **ANET_SECRETS, "allowed_card_types": ["visa"]},
        base_url=f"{live_server.url}/sandbox/authorizenet",
    )
    result = adapter.authorize(purchase(data=card(cardNumber="5424000000000015")))
    assert (result.outcome, result.error_code) == (Outcome.DECLINED, "card_type_not_accepted")
    assert sandbox.sim_get("authorizenet", "transaction", result.provider_reference).data["status"] == "voided"


@pytest.mark.django_db(transaction=True)
def test_held_payments_are_voided_when_the_integration_does_not_allow_them(live_server) -> None:
    adapter = AuthorizeNetAdapter(
        {**ANET_SETTINGS, **ANET_SECRETS, "allow_held_transactions": False},
        base_url=f"{live_server.url}/sandbox/authorizenet",
    )
    result = adapter.authorize(purchase("253.00", data=card(cardNumber="4222222222222")))
    assert (result.outcome, result.error_code) == (Outcome.DECLINED, "held_for_review")
    assert sandbox.sim_get("authorizenet", "transaction", result.provider_reference).data["status"] == "voided"


# --- settlement and capture rules ------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_payments_settle_after_the_configured_delay_of_simulated_time(adapter, settings) -> None:
    settings.SANDBOX_AUTHORIZENET_SETTLEMENT_SECONDS = 3600
    charge = adapter.charge(purchase())
    early = adapter.refund(follow(charge, "10.00"))
    assert early.error_code == "partial_refund_before_settlement"
    sim_advance_time(provider="authorizenet", seconds=3601)
    late = adapter.refund(follow(charge, "10.00"))
    assert (late.outcome, late.amount.amount) == (Outcome.SUCCEEDED, Decimal("10.00"))


@pytest.mark.django_db(transaction=True)
def test_capture_above_the_authorization_and_refund_with_the_wrong_card_are_refused(adapter, client) -> None:
    auth = adapter.authorize(purchase("50.00"))
    over = adapter.capture(follow(auth, "50.01"))
    assert (over.outcome, over.error_code) == (Outcome.DECLINED, "amount_exceeds_authorized")
    adapter.capture(follow(auth))
    sandbox.settle(auth.provider_reference)
    inner = (
        "<transactionRequest><transactionType>refundTransaction</transactionType><amount>5.00</amount><payment>"
        "<creditCard><cardNumber>9999</cardNumber><expirationDate>XXXX</expirationDate></creditCard></payment>"
        f"<refTransId>{auth.provider_reference}</refTransId></transactionRequest>"
    )
    reply = etree.fromstring(
        client.post(API, xml_request("createTransactionRequest", inner), content_type="application/xml").content[3:]
    )
    assert reply.findtext("a:transactionResponse/a:errors/a:error/a:errorCode", namespaces=NS) == "54"


@pytest.mark.django_db(transaction=True)
def test_a_lost_purchase_is_found_by_our_key_among_unsettled_transactions(adapter, live_server) -> None:
    request = purchase(key="lost-purchase")
    lose(adapter, "authorize", request)
    found = adapter.fetch_status(StatusRequest("lost-purchase", None, "authorize", request.amount, CARD_METHOD))
    assert (found.outcome, found.amount) == (Outcome.SUCCEEDED, request.amount)
    missing = adapter.fetch_status(StatusRequest("never-sent", None, "authorize", request.amount, CARD_METHOD))
    assert (missing.outcome, missing.error_code) == (Outcome.ERROR, "not_found")


@pytest.mark.django_db(transaction=True)
def test_settled_transactions_are_listed_by_batch_in_pages(adapter, client) -> None:  # noqa: ANN001
    charges = [adapter.charge(purchase(f"{n}.00")) for n in (11, 12, 13)]
    assert sandbox.settle() == 3

    def call(root: str, inner: str = "") -> etree._Element:
        reply = client.post(API, xml_request(root, inner), content_type="application/xml")
        return etree.fromstring(reply.content[3:])

    batches = call("getSettledBatchListRequest")  # no dates: the last 24 hours
    batch_ids = batches.xpath("a:batchList/a:batch/a:batchId/text()", namespaces=NS)
    assert len(batch_ids) == 1
    assert batches.findtext("a:batchList/a:batch/a:paymentMethod", namespaces=NS) == "creditCard"
    paging = "<sorting><orderBy>id</orderBy><orderDescending>false</orderDescending></sorting>"
    pages = [
        call(
            "getTransactionListRequest",
            f"<batchId>{batch_ids[0]}</batchId>{paging}<paging><limit>2</limit><offset>{page}</offset></paging>",
        )
        for page in (1, 2)
    ]
    listed = [p.xpath("a:transactions/a:transaction/a:transId/text()", namespaces=NS) for p in pages]
    assert [len(ids) for ids in listed] == [2, 1]
    assert sorted(listed[0] + listed[1], key=int) == sorted((c.provider_reference for c in charges), key=int)
    assert pages[0].findtext("a:totalNumInResultSet", namespaces=NS) == "3"
    assert call("getUnsettledTransactionListRequest").findtext("a:totalNumInResultSet", namespaces=NS) == "0"

    one_date = call("getSettledBatchListRequest", "<firstSettlementDate>2026-01-01T00:00:00</firstSettlementDate>")
    too_long = call(
        "getSettledBatchListRequest",
        "<firstSettlementDate>2026-01-01T00:00:00</firstSettlementDate>"
        "<lastSettlementDate>2026-02-02T00:00:00</lastSettlementDate>",
    )
    for refused in (one_date, too_long):
        assert refused.findtext("a:messages/a:resultCode", namespaces=NS) == "Error"


@pytest.mark.django_db(transaction=True)
def test_check_connection_and_bad_credentials(adapter) -> None:
    assert adapter.check_connection().outcome == Outcome.SUCCEEDED
    from providers.base import ProviderMisconfigured

    broken = AuthorizeNetAdapter({**adapter.settings, "transaction_key": "invalid000000000"}, base_url=adapter.base_url)
    with pytest.raises(ProviderMisconfigured):
        broken.check_connection()


# --- webhooks ---------------------------------------------------------------------------------------------------


def test_the_signature_is_hmac_sha512_of_the_body_keyed_with_the_key_text() -> None:
    key = "A1" * 64
    body = '{"notificationId":"n1"}'
    expected = hmac.new(key.encode(), body.encode(), hashlib.sha512).hexdigest().upper()
    assert sandbox.sign(body, key, 0) == {"X-ANET-Signature": f"sha512={expected}"}


@pytest.mark.django_db(transaction=True)
def test_the_sandbox_notifies_authorization_capture_void_and_refund(adapter) -> None:
    auth = adapter.authorize(purchase())
    adapter.capture(follow(auth, "40.00"))
    sandbox.settle(auth.provider_reference)
    refund = adapter.refund(follow(auth, "15.00"))
    other = adapter.authorize(purchase())
    adapter.cancel(follow(other))
    assert [e["eventType"] for e in sandbox.events_for(auth.provider_reference)] == [
        "net.authorize.payment.authorization.created",
        "net.authorize.payment.priorAuthCapture.created",
    ]
    assert sandbox.events_for(auth.provider_reference)[1]["payload"]["authAmount"] == 40.0
    assert [e["eventType"] for e in sandbox.events_for(refund.provider_reference)] == [
        "net.authorize.payment.refund.created"
    ]
    assert [e["eventType"] for e in sandbox.events_for(other.provider_reference)][-1] == (
        "net.authorize.payment.void.created"
    )


# --- reporting: unsettled and settled transactions, paged, as the Transaction Details API documents them ----------


def filler(count: int, *, submitted: datetime, batch_id: str = "", status: str = "capturedPendingSettlement") -> None:
    """`count` transactions of other buyers in the sandbox's account, in bulk (as a busy merchant has them)."""
    account = sandbox.account_of(LOGIN)
    rows = []
    for i in range(count):
        trans_id = str(50_000_000_000 + i)
        data = {
            "transId": trans_id,
            "type": "authCaptureTransaction",
            "status": "settledSuccessfully" if batch_id else status,
            "responseCode": "1",
            "reasonCode": 1,
            "reasonText": sandbox.APPROVED,
            "authCode": "ABC123",
            "avs": "Y",
            "cvv": "M",
            "authAmount": "10.00",
            "settleAmount": "10.00",
            "refunded": "0.00",
            "currency": "USD",
            "invoiceNumber": f"OTHER{i:06d}",
            "description": "",
            "email": "",
            "billTo": {},
            "payment": {"kind": "card", "number": "1111", "cardType": "Visa"},
            "submitted": (submitted + timedelta(seconds=i)).isoformat(),
            "capturedAt": (submitted + timedelta(seconds=i)).isoformat(),
            "batchId": batch_id,
        }
        rows.append(
            SimObject(provider="authorizenet", kind="transaction", object_id=trans_id, account=account, data=data)
        )
    SimObject.objects.bulk_create(rows)
    if batch_id:
        batch = SimObject.objects.get(provider="authorizenet", kind="batch", object_id=batch_id)
        batch.data = {**batch.data, "transIds": [*batch.data["transIds"], *(r.object_id for r in rows)]}
        batch.save()


def reporting(client, root: str, inner: str = "") -> etree._Element:  # noqa: ANN001
    reply = client.post(API, xml_request(root, inner), content_type="application/xml")
    assert reply.content.startswith(sandbox.BOM)
    return etree.fromstring(reply.content[3:])


def result_code(reply: etree._Element) -> tuple[str, str]:
    return (
        reply.findtext("a:messages/a:resultCode", namespaces=NS) or "",
        reply.findtext("a:messages/a:message/a:code", namespaces=NS) or "",
    )


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("inner", "code"),
    [
        ("<firstSettlementDate>2026-01-01T00:00:00Z</firstSettlementDate>", "E00013"),
        ("<lastSettlementDate>2026-01-20T00:00:00Z</lastSettlementDate>", "E00013"),
        (
            "<firstSettlementDate>2026-01-01T00:00:00Z</firstSettlementDate>"
            "<lastSettlementDate>2026-02-01T00:00:01Z</lastSettlementDate>",
            "E00013",
        ),
        (
            "<firstSettlementDate>2026-01-01T00:00:00Z</firstSettlementDate>"
            "<lastSettlementDate>2026-02-01T00:00:00Z</lastSettlementDate>",
            "I00004",
        ),
    ],
    ids=["first date alone", "last date alone", "31 days and a second", "31 days"],
)
def test_settled_batches_are_listed_for_both_dates_or_none_at_most_31_days_apart(client, inner, code) -> None:
    reply = reporting(client, "getSettledBatchListRequest", inner)
    assert result_code(reply) == ("Ok" if code.startswith("I") else "Error", code)


@pytest.mark.django_db
@pytest.mark.parametrize(
    "paging",
    [
        "<limit>1001</limit><offset>1</offset>",
        "<limit>0</limit><offset>1</offset>",
        "<limit>10</limit><offset>0</offset>",
    ],
)
def test_pages_hold_1_to_1000_transactions_and_are_numbered_from_1(client, paging) -> None:
    reply = reporting(client, "getUnsettledTransactionListRequest", f"<paging>{paging}</paging>")
    assert result_code(reply) == ("Error", "E00003")


@pytest.mark.django_db(transaction=True)
def test_a_settlement_puts_captures_refunds_declines_and_voids_in_batches_per_payment_method(adapter, client) -> None:
    charge = adapter.charge(purchase())
    declined = adapter.charge(purchase(data=card(zip="46282")))
    voided = adapter.authorize(purchase())
    adapter.cancel(follow(voided))
    held_back = adapter.authorize(purchase())  # authorized, not captured: stays unsettled
    echeck = adapter.charge(purchase("50.00", data=bank(), method=ECHECK_METHOD))
    unsettled = reporting(client, "getUnsettledTransactionListRequest")
    listed = {t.findtext("a:transId", namespaces=NS) for t in unsettled.iterfind(".//a:transaction", NS)}
    assert listed == {r.provider_reference for r in (charge, declined, voided, held_back, echeck)}

    assert sandbox.settle() == 2
    unsettled = reporting(client, "getUnsettledTransactionListRequest")
    listed = {t.findtext("a:transId", namespaces=NS) for t in unsettled.iterfind(".//a:transaction", NS)}
    assert listed == {held_back.provider_reference}
    batches = reporting(client, "getSettledBatchListRequest")
    methods = {
        b.findtext("a:paymentMethod", namespaces=NS): b.findtext("a:batchId", namespaces=NS)
        for b in batches.iterfind(".//a:batch", NS)
    }
    assert set(methods) == {"creditCard", "eCheck"}
    cards = reporting(client, "getTransactionListRequest", f"<batchId>{methods['creditCard']}</batchId>")
    statuses = {
        t.findtext("a:transId", namespaces=NS): t.findtext("a:transactionStatus", namespaces=NS)
        for t in cards.iterfind(".//a:transaction", NS)
    }
    assert statuses == {
        charge.provider_reference: "settledSuccessfully",
        declined.provider_reference: "declined",
        voided.provider_reference: "voided",
    }
    assert cards.findtext("a:transactions/a:transaction/a:invoiceNumber", namespaces=NS)


@pytest.mark.django_db(transaction=True)
def test_without_paging_a_list_holds_the_newest_1000_and_paging_reaches_the_rest(client) -> None:
    filler(1001, submitted=datetime.now(UTC) - timedelta(hours=2))
    first = reporting(client, "getUnsettledTransactionListRequest")
    assert len(first.findall(".//a:transaction", NS)) == 1000
    assert first.findtext("a:totalNumInResultSet", namespaces=NS) == "1001"
    assert "50000000000" not in {t.findtext("a:transId", namespaces=NS) for t in first.iterfind(".//a:transaction", NS)}
    page_two = reporting(
        client,
        "getUnsettledTransactionListRequest",
        "<sorting><orderBy>id</orderBy><orderDescending>true</orderDescending></sorting>"
        "<paging><limit>1000</limit><offset>2</offset></paging>",
    )
    assert [t.findtext("a:transId", namespaces=NS) for t in page_two.iterfind(".//a:transaction", NS)] == [
        "50000000000"
    ]


def lose(adapter: AuthorizeNetAdapter, operation: str, request: PaymentRequest) -> None:
    """Send `request`; Authorize.Net carries it out but its answer never arrives."""
    slow = AuthorizeNetAdapter(dict(adapter.settings), base_url=adapter.base_url)
    slow.read_timeout = 0.5  # type: ignore[misc]
    sim_fault_add(provider="authorizenet", kind="timeout", operation=operation, delay=1.5)
    with pytest.raises(ProviderUnavailable):
        getattr(slow, "authorize" if operation == "authorize" else "charge")(request)


@pytest.mark.django_db(transaction=True)
def test_a_lost_purchase_behind_1000_newer_unsettled_transactions_is_found_page_by_page(adapter) -> None:
    request = purchase(key="lost-behind-a-busy-day")
    lose(adapter, "authorize", request)
    filler(1000, submitted=datetime.now(UTC) + timedelta(minutes=1))  # a busy merchant's next thousand
    status = StatusRequest("lost-behind-a-busy-day", None, "authorize", request.amount, CARD_METHOD, datetime.now(UTC))
    found = adapter.fetch_status(status)
    assert (found.outcome, found.amount) == (Outcome.SUCCEEDED, request.amount)
    pages = [d for d in sandbox.received_documents("getUnsettledTransactionListRequest")]
    assert len(pages) == 2
    assert "<offset>2</offset>" in pages[-1]


@pytest.mark.django_db(transaction=True)
def test_a_lost_charge_that_settled_is_found_in_its_batch_beyond_the_first_page(adapter, client) -> None:
    request = purchase(key="lost-then-settled")
    sent_at = datetime.now(UTC)
    lose(adapter, "charge", request)
    assert sandbox.settle() == 1
    (batch_id,) = SimObject.objects.filter(provider="authorizenet", kind="batch").values_list("object_id", flat=True)
    filler(1000, submitted=datetime.now(UTC) - timedelta(hours=3), batch_id=batch_id)  # listed before ours (by id)
    found = adapter.fetch_status(
        StatusRequest("lost-then-settled", None, "charge", request.amount, CARD_METHOD, sent_at)
    )
    assert (found.outcome, found.amount, found.raw["status"]) == (
        Outcome.SUCCEEDED,
        request.amount,
        "settledSuccessfully",
    )
    pages = sandbox.received_documents("getTransactionListRequest")
    assert [("<offset>1</offset>" in p, "<offset>2</offset>" in p) for p in pages] == [(True, False), (False, True)]
    missing = adapter.fetch_status(StatusRequest("never-sent", None, "charge", request.amount, CARD_METHOD, sent_at))
    assert (missing.outcome, missing.error_code) == (Outcome.ERROR, "not_found")


@pytest.mark.django_db(transaction=True)
def test_the_search_asks_for_at_most_31_days_of_batches_at_a_time_back_to_the_request(adapter) -> None:
    sent_at = datetime.now(UTC) - timedelta(days=70)
    missing = adapter.fetch_status(
        StatusRequest("long-ago", None, "authorize", Money(Decimal("1.00"), "USD"), CARD_METHOD, sent_at)
    )
    assert missing.error_code == "not_found"
    windows = []
    for document in sandbox.received_documents("getSettledBatchListRequest"):
        root = etree.fromstring(document.encode())
        first = datetime.fromisoformat(root.findtext("a:firstSettlementDate", namespaces=NS))
        last = datetime.fromisoformat(root.findtext("a:lastSettlementDate", namespaces=NS))
        assert timedelta(0) < last - first <= timedelta(days=31)
        windows.append((first, last))
    assert len(windows) == 3
    assert windows[0][0] <= sent_at
    assert all(a[1] == b[0] for a, b in zip(windows, windows[1:], strict=False))
    assert windows[-1][1] >= datetime.now(UTC)


@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("operation", ["list", "batches", "batch_transactions"])
def test_a_list_that_cannot_be_read_is_no_proof_that_nothing_happened(adapter, operation) -> None:
    charge = adapter.charge(purchase(key="lost-and-settled"))
    sandbox.settle(charge.provider_reference)
    sim_fault_add(provider="authorizenet", kind="error_503", operation=operation, times=1)
    status = StatusRequest("lost-and-settled", None, "charge", charge.amount, CARD_METHOD, datetime.now(UTC))
    with pytest.raises(ProviderUnavailable):
        adapter.fetch_status(status)
    assert adapter.fetch_status(status).outcome == Outcome.SUCCEEDED


@pytest.mark.django_db(transaction=True)
def test_a_settlement_while_the_unsettled_list_is_paged_does_not_hide_a_lost_authorization(
    adapter, monkeypatch
) -> None:
    """The search pages through the unsettled transactions in order of id. When the nightly settlement runs
    between two pages, the captured transactions of page 1 leave the list and the rest moves up a page: the
    first transaction of page 2 slides into page 1, which was read already. An authorization stays unsettled (it
    is in no batch either), so a lost one sitting there was "not found", and reconcile recorded "declined, no
    money moved" for a hold on the buyer's card."""
    monkeypatch.setattr(AuthorizeNetAdapter, "search_page_size", 2)
    request = purchase(key="lost-while-settling")
    lose(adapter, "authorize", request)
    filler(2, submitted=datetime.now(UTC) - timedelta(hours=1))  # captured today, lower ids: page 1
    pages_read = []
    post = apicontrollersbase.requests.post

    def settling_between_pages(url: str, **kwargs: object) -> object:
        if b"getUnsettledTransactionListRequest" in kwargs["data"]:  # type: ignore[operator]
            pages_read.append(1)
            if len(pages_read) == 2:
                assert sandbox.settle() == 2  # the batch closes while we read
        return post(url, **kwargs)

    monkeypatch.setattr(apicontrollersbase.requests, "post", settling_between_pages)
    status = StatusRequest("lost-while-settling", None, "authorize", request.amount, CARD_METHOD, datetime.now(UTC))

    found = adapter.fetch_status(status)

    assert (found.outcome, found.error_code, found.amount) == (Outcome.SUCCEEDED, None, request.amount)
    assert found.raw["status"] == "authorizedPendingCapture"


@pytest.mark.django_db(transaction=True)
def test_only_payments_settled_within_the_past_180_days_are_refunded(adapter, client) -> None:
    """Authorize.Net: "Only transactions that have been settled within the past 180 days can be refunded"; the
    transaction's details say when it settled (its batch). The sandbox refunded a payment of any age."""
    charge = adapter.charge(purchase())
    sandbox.settle(charge.provider_reference)
    details = adapter._details(charge.provider_reference, "details")  # noqa: SLF001 - what a refund reads first
    assert (str(details.batch.settlementState), bool(str(details.batch.settlementTimeUTC))) == (
        "settledSuccessfully",
        True,
    )

    def refund(amount: str) -> str:
        reply = reporting(
            client,
            "createTransactionRequest",
            f"<transactionRequest><transactionType>refundTransaction</transactionType><amount>{amount}</amount>"
            "<payment><creditCard><cardNumber>1111</cardNumber><expirationDate>XXXX</expirationDate></creditCard>"
            f"</payment><refTransId>{charge.provider_reference}</refTransId></transactionRequest>",
        )
        return reply.findtext("a:transactionResponse/a:responseCode", namespaces=NS) or ""

    sim_advance_time(provider="authorizenet", seconds=179 * 24 * 3600)
    assert refund("10.00") == "1"
    sim_advance_time(provider="authorizenet", seconds=2 * 24 * 3600)
    assert refund("11.00") == "3"  # reason 54
