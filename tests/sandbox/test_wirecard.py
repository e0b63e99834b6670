"""The Wirecard sandbox refuses what Wirecard refuses (providers.md §9.7), checked with its own wire, not the
adapter's: fingerprints, the storage's 30-minute sliding lifetime and single use, card checks, the secret never
posted, back-end state and status codes."""

from __future__ import annotations

from datetime import timedelta
from urllib.parse import parse_qsl, urlencode

import pytest

from sandbox.services import sim_advance_time
from sandbox.wirecard import simulator as wc

pytestmark = pytest.mark.django_db
BASE = "/sandbox/wirecard/seamless"
STORAGE_ORDER = ["customerId", "shopId", "orderIdent", "returnUrl", "language", "javascriptScriptVersion", "secret"]


def signed(fields: dict[str, str], names: list[str], secret: str = wc.DEMO_SECRET) -> dict[str, str]:
    return {**fields, "requestFingerprint": wc.fingerprint(names, fields, secret)}


def post(client, path: str, fields: dict[str, str]) -> dict[str, str]:  # noqa: ANN001
    reply = client.post(f"{BASE}/{path}", urlencode(fields), content_type="application/x-www-form-urlencoded")
    assert reply.status_code == 200  # errors travel in the body
    return dict(parse_qsl(reply.content.decode(), keep_blank_values=True))


def storage(client, ident: str = "checkout-1") -> str:  # noqa: ANN001
    fields = {"customerId": "D200001", "shopId": "seamless", "orderIdent": ident, "returnUrl": "", "language": "en"}
    fields["javascriptScriptVersion"] = ""
    return post(client, "dataStorage/init", signed(fields, STORAGE_ORDER))["storageId"]


def store_card(client, storage_id: str, **card: str) -> dict:  # noqa: ANN001
    fields = {"pan": "9500000000000001", "expirationMonth": "12", "expirationYear": "2031", "cardverifycode": "123"}
    return client.post(f"{BASE}/dataStorage/store/{storage_id}", {**fields, **card}).json()


def read(client, storage_id: str) -> dict[str, str]:  # noqa: ANN001
    fields = {"customerId": "D200001", "shopId": "seamless", "storageId": storage_id}
    return post(client, "dataStorage/read", signed(fields, ["customerId", "shopId", "storageId", "secret"]))


def test_a_storage_with_a_wrong_fingerprint_is_refused(client) -> None:  # noqa: ANN001
    fields = {"customerId": "D200001", "shopId": "seamless", "orderIdent": "x", "language": "en"}
    reply = post(client, "dataStorage/init", signed(fields, STORAGE_ORDER, secret="WRONG"))
    assert (reply["errors"], "storageId" in reply) == ("1", False)


def test_a_storage_keeps_only_the_masked_card_and_lives_30_minutes_after_its_last_use(client) -> None:  # noqa: ANN001
    storage_id = storage(client)
    assert store_card(client, storage_id)["status"] == 0
    sim_advance_time(provider="wirecard", seconds=timedelta(minutes=25).total_seconds())
    first = read(client, storage_id)
    assert (first["paymentInformation.1.maskedPan"], "9500000000000001" in str(first)) == ("950000******0001", False)
    sim_advance_time(provider="wirecard", seconds=timedelta(minutes=25).total_seconds())
    assert read(client, storage_id)["paymentInformations"] == "1"  # the read 25 minutes ago kept it alive
    sim_advance_time(provider="wirecard", seconds=timedelta(minutes=31).total_seconds())
    assert read(client, storage_id)["error.1.errorCode"] == "99996"


@pytest.mark.parametrize(
    "card",
    [{"pan": "4111111111111112"}, {"expirationYear": "2000", "expirationMonth": "01"}, {"cardverifycode": "1"}],
    ids=["luhn", "expired", "cvc"],
)
def test_the_storage_refuses_a_bad_card(client, card) -> None:  # noqa: ANN001
    storage_id = storage(client)
    reply = store_card(client, storage_id, **card)
    assert reply["status"] == 1
    assert read(client, storage_id)["paymentInformations"] == "0"


def frontend(storage_id: str, ident: str = "checkout-1", **extra: str) -> dict[str, str]:
    fields = {
        "customerId": "D200001",
        "shopId": "seamless",
        "language": "en",
        "paymentType": "CCARD",
        "amount": "10.00",
        "currency": "EUR",
        "orderDescription": "Order 1",
        "successUrl": "http://shop.test/back",
        "cancelUrl": "http://shop.test/back",
        "failureUrl": "http://shop.test/back",
        "serviceUrl": "http://shop.test/",
        "confirmUrl": "http://shop.test/confirm",
        "consumerIpAddress": "127.0.0.1",
        "consumerUserAgent": "test",
        "storageId": storage_id,
        "orderIdent": ident,
        **extra,
    }
    names = [*fields, "secret", "requestFingerprintOrder"]
    fields["requestFingerprintOrder"] = ",".join(names)
    return signed(fields, names)


def test_frontend_init_follows_the_posted_order_and_a_storage_starts_one_payment(client) -> None:  # noqa: ANN001
    storage_id = storage(client)
    store_card(client, storage_id)
    first = post(client, "frontend/init", frontend(storage_id))
    assert first["redirectUrl"].startswith("http://testserver/sandbox/wirecard/pay/")
    again = post(client, "frontend/init", frontend(storage_id))
    assert again["errors"] == "1"


def test_frontend_init_refuses_the_secret_in_the_body_an_order_without_it_and_another_checkouts_storage(client) -> None:  # noqa: ANN001
    storage_id = storage(client)
    store_card(client, storage_id)
    with_secret = frontend(storage_id)
    with_secret["secret"] = wc.DEMO_SECRET
    assert post(client, "frontend/init", with_secret)["error.1.errorCode"] == "15003"
    unsigned = frontend(storage_id)
    unsigned["requestFingerprintOrder"] = unsigned["requestFingerprintOrder"].replace(",secret", "")
    assert post(client, "frontend/init", unsigned)["error.1.errorCode"] == "15002"
    assert post(client, "frontend/init", frontend(storage_id, ident="another"))["errors"] == "1"
    assert "redirectUrl" in post(client, "frontend/init", frontend(storage_id))  # nothing of that used it up


def backend(client, op: str, **fields: str) -> dict[str, str]:  # noqa: ANN001
    values = {"customerId": "D200001", "shopId": "seamless", "password": wc.DEMO_PASSWORD, "language": "en", **fields}
    return post(client, f"backend/{op}", signed(values, [*wc.BACKEND_PREFIX, *fields]))


def test_back_end_operations_keep_state_and_answer_status_codes(client) -> None:  # noqa: ANN001
    number = backend(client, "generateOrderNumber")["orderNumber"]
    assert backend(client, "getOrderDetails", orderNumber=number)["status"] == "1"  # reserved, nothing paid
    pay = {"orderNumber": number, "customerId": "D200001", "params": {"paymentType": "CCARD", "currency": "EUR"}}
    wc._settle_payment({**pay, "amount": "10.00", "custom": {}, "payment": None}, "SUCCESS")
    assert backend(client, "deposit", orderNumber=number, amount="10.01", currency="EUR")["status"] == "2"
    assert backend(client, "deposit", orderNumber=number, amount="6.00", currency="EUR")["paymentNumber"] == "1"
    assert backend(client, "refund", orderNumber=number, amount="6.01", currency="EUR")["status"] == "2"
    assert backend(client, "approveReversal", orderNumber=number)["status"] == "2"  # deposited already
    details = backend(client, "getOrderDetails", orderNumber=number)
    assert (details["order.1.state"], details["order.1.operationsAllowed"]) == ("APPROVED", "DEPOSIT,REFUND")
    wrong = {"customerId": "D200001", "shopId": "seamless", "password": "nope", "language": "en", "orderNumber": number}
    reply = post(client, "backend/getOrderDetails", signed(wrong, [*wc.BACKEND_PREFIX, "orderNumber"]))
    assert reply["status"] == "1"


def test_the_plain_sha_switch_makes_hmac_fingerprints_fail(client) -> None:  # noqa: ANN001
    client.post("/sandbox/wirecard/__sim/plain_sha", {"customerId": "D200001", "on": "1"})
    fields = {"customerId": "D200001", "shopId": "seamless", "orderIdent": "x", "returnUrl": "", "language": "en"}
    fields["javascriptScriptVersion"] = ""
    assert post(client, "dataStorage/init", signed(fields, STORAGE_ORDER))["errors"] == "1"
    plain = {**fields, "requestFingerprint": wc.fingerprint(STORAGE_ORDER, fields, wc.DEMO_SECRET, plain_sha=True)}
    assert "storageId" in post(client, "dataStorage/init", plain)
