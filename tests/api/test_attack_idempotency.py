"""Attacks on Idempotency-Key: a lost provider reply, a server error after the provider acted, a body reordered or
with its amount written another way."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.models import Action, PaymentTransaction, State
from tests import factories
from tests.conftest import authorize
from tests.fakes import FakeGateway


@pytest.fixture
def authorization(callers, company_a, gateway_integration) -> PaymentTransaction:  # noqa: ANN001
    return authorize(factories.OrderFactory(customer=company_a), gateway_integration)


def post(client, path: str, body: object, key: str | None = None):  # noqa: ANN001, ANN201
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(path, body, format="json", **headers)


def capture_path(txn: PaymentTransaction) -> str:
    return f"/api/v1/transactions/{txn.pk}/capture/"


@pytest.mark.django_db
def test_a_lost_reply_on_capture_is_recorded_and_the_answer_says_it_is_not_final(
    admin_client, authorization, fake_gateway
):  # noqa: ANN001
    FakeGateway.lose_reply_next.append("capture")

    response = post(admin_client, capture_path(authorization), {"amount": "10.00"}, key="k-lost")

    assert response.status_code == 202, response.json()
    body = response.json()
    assert body["state"] == State.RESERVED
    assert "timed out" not in str(body)
    row = PaymentTransaction.objects.get(action=Action.CAPTURE)
    assert (row.state, row.amount) == (State.RESERVED, Decimal("10.00"))


@pytest.mark.django_db
def test_a_retry_after_a_lost_reply_shows_the_settled_state_and_takes_no_money_twice(
    admin_client, authorization, fake_gateway
):  # noqa: ANN001
    """The first answer said "not known yet"; once reconcile settled the row, the same key must not replay it."""
    from payments.services import payment_complete

    FakeGateway.lose_reply_next.append("capture")
    first = post(admin_client, capture_path(authorization), {"amount": "10.00"}, key="k-lost")
    payment_complete(transaction_id=first.json()["id"])  # what reconcile does

    retry = post(admin_client, capture_path(authorization), {"amount": "10.00"}, key="k-lost")

    assert retry.status_code == 201, retry.json()
    assert retry.json()["state"] == State.SUCCEEDED
    assert retry.json()["id"] == first.json()["id"]
    assert fake_gateway.calls["capture"] == 1


@pytest.mark.django_db
def test_a_server_error_after_the_provider_acted_takes_no_money_on_retry(
    admin_client, authorization, fake_gateway, monkeypatch
):  # noqa: ANN001
    from payments import services

    original = services.ledger_record
    calls: list[int] = []

    def crash_once(**kwargs):  # noqa: ANN003, ANN202
        if not calls:
            calls.append(1)
            raise RuntimeError("database went away")
        return original(**kwargs)

    monkeypatch.setattr(services, "ledger_record", crash_once)
    admin_client.raise_request_exception = False
    first = post(admin_client, capture_path(authorization), {"amount": "10.00"}, key="k-crash")
    retry = post(admin_client, capture_path(authorization), {"amount": "10.00"}, key="k-crash")

    assert first.status_code == 500
    assert "database went away" not in first.content.decode()
    assert retry.status_code in (201, 202)
    assert fake_gateway.calls["capture"] == 1
    assert PaymentTransaction.objects.filter(action=Action.CAPTURE).count() == 1


@pytest.mark.django_db
def test_the_same_key_with_keys_reordered_replays(admin_client, authorization, fake_gateway):  # noqa: ANN001
    first = admin_client.post(
        capture_path(authorization),
        '{"amount": "10.00", "note": "a"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-order",
    )
    second = admin_client.post(
        capture_path(authorization),
        '{"note": "a", "amount": "10.00"}',
        content_type="application/json",
        HTTP_IDEMPOTENCY_KEY="k-order",
    )

    assert (first.status_code, second.status_code) == (201, 201)
    assert second["Idempotent-Replayed"] == "true"
    assert fake_gateway.calls["capture"] == 1


@pytest.mark.django_db
def test_the_same_key_with_the_amount_written_another_way_replays(admin_client, authorization, fake_gateway):  # noqa: ANN001
    """ "10" and "10.00" are one request: a client that reformats on retry must not get 422 and retry anew."""
    first = post(admin_client, capture_path(authorization), {"amount": "10"}, key="k-fmt")
    second = post(admin_client, capture_path(authorization), {"amount": "10.00"}, key="k-fmt")

    assert (first.status_code, second.status_code) == (201, 201), second.json()
    assert second.json()["id"] == first.json()["id"]
    assert fake_gateway.calls["capture"] == 1


@pytest.mark.django_db
def test_an_error_naming_a_field_with_a_nul_is_kept_and_replayed_not_a_500(admin_client, authorization, fake_gateway):  # noqa: ANN001
    """PostgreSQL's jsonb holds no NUL: storing the answer failed, answered 500 and left the key in progress."""
    first = post(admin_client, capture_path(authorization), {"a\u0000b": "1"}, key="k-nul")
    second = post(admin_client, capture_path(authorization), {"a\u0000b": "1"}, key="k-nul")

    assert first.status_code == second.status_code == 400
    assert first.json()["error"]["code"] == "unknown_field"
    assert second["Idempotent-Replayed"] == "true"
    assert fake_gateway.calls["capture"] == 0
