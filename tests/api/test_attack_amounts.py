"""Attacks on the staff endpoints' input: odd amounts, other JSON types, another currency, unknown fields, bodies
that are malformed or huge, and totals beyond what is available."""

from __future__ import annotations

import pytest

from payments.models import Action, PaymentTransaction
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
@pytest.mark.parametrize(
    "amount",
    ["1e2", "-5.00", "0", "0.00", "10.001", "99999999999999999999", "1 0", "NaN", "Infinity", "", "10,00", "１０"],
)
def test_odd_amounts_are_refused_with_the_error_body_and_move_nothing(
    admin_client, authorization, fake_gateway, amount
):  # noqa: ANN001
    response = post(admin_client, capture_path(authorization), {"amount": amount})

    assert response.status_code in (400, 409), response.json()
    assert set(response.json()["error"]) == {"code", "message", "field"}
    assert fake_gateway.calls["capture"] == 0
    assert not PaymentTransaction.objects.filter(action=Action.CAPTURE).exists()


@pytest.mark.django_db
@pytest.mark.parametrize("amount", [10, 10.5, True, None, [], {"amount": "10"}])
def test_amounts_of_other_json_types_are_refused(admin_client, authorization, fake_gateway, amount):  # noqa: ANN001
    response = post(admin_client, capture_path(authorization), {"amount": amount})

    if amount is None:  # null is "all that is left"
        assert response.status_code == 201
        return
    assert response.status_code == 400
    assert response.json()["error"]["field"] == "amount"
    assert fake_gateway.calls["capture"] == 0


@pytest.mark.django_db
def test_an_amount_in_another_currency_is_refused(admin_client, authorization, fake_gateway):  # noqa: ANN001
    """A client that says EUR must not have its number taken as USD."""
    response = post(admin_client, capture_path(authorization), {"amount": "10.00", "currency": "EUR"})

    assert response.status_code == 400
    assert response.json()["error"]["code"] == "currency_mismatch"
    assert fake_gateway.calls["capture"] == 0


@pytest.mark.django_db
def test_the_matching_currency_is_accepted(admin_client, authorization, fake_gateway):  # noqa: ANN001
    response = post(admin_client, capture_path(authorization), {"amount": "10.00", "currency": "usd"})

    assert response.status_code == 201, response.json()
    assert response.json()["amount"] == {"amount": "10.00", "currency": "USD"}


@pytest.mark.django_db
def test_unknown_fields_are_refused_not_ignored(admin_client, authorization, fake_gateway):  # noqa: ANN001
    """A misspelt `amount` must not turn a partial capture into a capture of everything."""
    response = post(admin_client, capture_path(authorization), {"amonut": "10.00"})

    assert response.status_code == 400
    assert response.json()["error"] == {
        "code": "unknown_field",
        "message": "This field is not part of the request.",
        "field": "amonut",
    }
    assert fake_gateway.calls["capture"] == 0


@pytest.mark.django_db
def test_malformed_json_and_a_non_object_body_are_400_in_the_error_body(admin_client, authorization, fake_gateway):  # noqa: ANN001
    broken = admin_client.post(capture_path(authorization), "{amount: 10", content_type="application/json")
    listed = admin_client.post(capture_path(authorization), "[1, 2]", content_type="application/json")

    assert broken.status_code == 400
    assert broken.json()["error"]["code"] == "parse_error"
    assert listed.status_code == 400
    assert set(listed.json()["error"]) == {"code", "message", "field"}
    assert fake_gateway.calls["capture"] == 0


@pytest.mark.django_db
def test_a_huge_body_is_refused_without_a_500(admin_client, authorization, fake_gateway):  # noqa: ANN001
    response = post(admin_client, capture_path(authorization), {"amount": "10.00", "note": "x" * 3_000_000})

    assert response.status_code in (400, 413)
    assert set(response.json()["error"]) == {"code", "message", "field"}
    assert fake_gateway.calls["capture"] == 0


@pytest.mark.django_db
def test_capture_beyond_the_authorization_and_refund_beyond_the_capture_are_refused(
    admin_client, authorization, fake_gateway
):  # noqa: ANN001
    too_much = post(admin_client, capture_path(authorization), {"amount": str(authorization.amount + 1)})
    captured = post(admin_client, capture_path(authorization), {"amount": "10.00"})
    refund_path = f"/api/v1/transactions/{captured.json()['id']}/refund/"
    over = post(admin_client, refund_path, {"amount": "10.01"})

    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "amount_exceeds_available"
    assert over.status_code == 409
    assert over.json()["error"]["code"] == "amount_exceeds_available"
    assert fake_gateway.calls == {"authorize": 1, "capture": 1}


@pytest.mark.django_db
def test_refund_of_a_cancelled_authorization_is_refused(admin_client, authorization, fake_gateway):  # noqa: ANN001
    assert post(admin_client, f"/api/v1/transactions/{authorization.pk}/cancel/", {}).status_code == 201

    refund = post(admin_client, f"/api/v1/transactions/{authorization.pk}/refund/", {})
    capture = post(admin_client, capture_path(authorization), {})

    assert (refund.status_code, capture.status_code) == (409, 409)
    assert fake_gateway.calls["refund"] == fake_gateway.calls["capture"] == 0


@pytest.mark.django_db
def test_an_invoice_for_a_settled_order_is_refused(admin_client, authorization, fake_gateway):  # noqa: ANN001
    assert post(admin_client, capture_path(authorization), {}).status_code == 201

    response = post(admin_client, "/api/v1/invoices/", {"order": authorization.order_id})

    assert response.status_code == 409
    assert response.json()["error"]["code"] == "invoice_refused"


@pytest.mark.django_db
def test_a_second_capture_on_a_single_capture_provider_is_refused(
    admin_client, authorization, fake_gateway, monkeypatch
):  # noqa: ANN001
    """Where the provider releases the rest of the hold on the first (partial) capture, nothing is left after it."""
    from providers.base import Capability

    monkeypatch.setattr(FakeGateway, "capabilities", FakeGateway.capabilities - {Capability.MULTIPLE_CAPTURE})

    first = post(admin_client, capture_path(authorization), {"amount": "10.00"})
    second = post(admin_client, capture_path(authorization), {"amount": "10.00"})

    assert first.status_code == 201
    assert second.status_code == 409
    assert fake_gateway.calls["capture"] == 1
