"""Attacks on who may call: a Sales user without the refund permission, a deactivated user's token, a revoked token."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import Permission

from api.models import ApiToken
from api.services import api_token_revoke
from payments.models import Action, PaymentTransaction
from tests import factories
from tests.conftest import authorize


@pytest.fixture
def authorization(callers, company_a, gateway_integration) -> PaymentTransaction:  # noqa: ANN001
    return authorize(factories.OrderFactory(customer=company_a), gateway_integration)


def post(client, path: str, body: object, key: str | None = None):  # noqa: ANN001, ANN201
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(path, body, format="json", **headers)


def capture_path(txn: PaymentTransaction) -> str:
    return f"/api/v1/transactions/{txn.pk}/capture/"


@pytest.mark.django_db
def test_a_sales_user_without_the_refund_permission_cannot_refund(callers, authorization, fake_gateway):  # noqa: ANN001
    sales = callers["sales"]
    assert post(sales.client, capture_path(authorization), {}).status_code == 201
    capture = PaymentTransaction.objects.get(action=Action.CAPTURE)
    sales.user.groups.first().permissions.remove(Permission.objects.get(codename="refund_payment"))

    response = post(sales.client, f"/api/v1/transactions/{capture.pk}/refund/", {})

    assert response.status_code == 403
    assert fake_gateway.calls["refund"] == 0


@pytest.mark.django_db
def test_a_deactivated_users_token_and_a_revoked_token_stop_at_once(callers, authorization):  # noqa: ANN001
    sales, admin = callers["sales"], callers["admin"]
    assert sales.client.get("/api/v1/orders/").status_code == 200
    assert admin.client.get("/api/v1/orders/").status_code == 200

    sales.user.is_active = False
    sales.user.save()
    api_token_revoke(token_id=ApiToken.objects.get(user=admin.user).pk)

    assert sales.client.get("/api/v1/orders/").status_code == 401
    assert admin.client.get("/api/v1/orders/").status_code == 401


@pytest.mark.django_db
def test_a_payment_term_posted_twice_with_one_key_is_created_once(admin_client):  # noqa: ANN001
    from customers.models import PaymentTerm

    before = PaymentTerm.objects.count()
    for _ in range(2):
        response = admin_client.post(
            "/api/v1/payment-terms/", {"label": "Net 45"}, format="json", HTTP_IDEMPOTENCY_KEY="term-1"
        )
        assert response.status_code == 201, response.json()

    assert PaymentTerm.objects.count() == before + 1


@pytest.mark.django_db
def test_a_session_post_without_the_csrf_token_moves_no_money(callers, authorization, fake_gateway):  # noqa: ANN001
    """A page on another site must not capture through a logged-in staff member's browser."""
    from rest_framework.test import APIClient

    browser = APIClient(enforce_csrf_checks=True)
    browser.force_login(callers["sales"].user)

    response = browser.post(f"/api/v1/transactions/{authorization.pk}/capture/", {}, format="json")

    assert response.status_code == 403
    assert fake_gateway.calls["capture"] == 0
