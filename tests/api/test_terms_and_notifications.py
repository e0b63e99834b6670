"""Payment terms and their assignment, notification endpoints and deliveries: administrators only."""

from __future__ import annotations

import pytest

from customers.models import PaymentTerm
from notifications.models import Delivery, Endpoint
from tests import factories

pytestmark = pytest.mark.django_db


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("buyer_a", 403), ("buyer_b", 403), ("sales", 403), ("admin", 200)],
)
@pytest.mark.parametrize("path", ["/api/v1/notification-endpoints/", "/api/v1/notification-deliveries/"])
def test_notifications_are_for_administrators(callers, who, expected, path):  # noqa: ANN001
    assert callers[who].client.get(path).status_code == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("buyer_a", 403), ("buyer_b", 403), ("sales", 200), ("admin", 200)],
)
@pytest.mark.parametrize("path", ["/api/v1/payment-terms/", "/api/v1/customers/"])
def test_terms_and_customers_are_read_by_sales_too(callers, who, expected, path):  # noqa: ANN001
    assert callers[who].client.get(path).status_code == expected


def test_sales_may_not_assign_a_term(callers, company_a):  # noqa: ANN001
    term = factories.PaymentTermFactory(label="Net 60")

    response = callers["sales"].client.patch(
        f"/api/v1/customers/{company_a.pk}/", {"payment_term": term.pk}, format="json"
    )

    assert response.status_code == 403
    company_a.refresh_from_db()
    assert company_a.payment_term_id is None


def test_a_term_is_made_assigned_resolved_and_kept_while_in_use(admin_client, company_a):  # noqa: ANN001
    made = admin_client.post("/api/v1/payment-terms/", {"label": "Net 45"}, format="json")
    assert made.status_code == 201
    term_id = made.json()["id"]
    group = factories.CustomerGroupFactory()
    company_a.group = group
    company_a.save()

    assert (
        admin_client.patch(f"/api/v1/customer-groups/{group.pk}/", {"payment_term": term_id}, format="json").json()[
            "payment_term"
        ]
        == term_id
    )
    customer = admin_client.get(f"/api/v1/customers/{company_a.pk}/").json()
    assert (customer["payment_term"], customer["resolved_payment_term"]) == (None, {"id": term_id, "label": "Net 45"})

    refused = admin_client.delete(f"/api/v1/payment-terms/{term_id}/")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "term_in_use")
    admin_client.patch(f"/api/v1/customer-groups/{group.pk}/", {"payment_term": None}, format="json")
    assert admin_client.delete(f"/api/v1/payment-terms/{term_id}/").status_code == 204
    assert not PaymentTerm.objects.filter(pk=term_id).exists()


def test_an_endpoint_shows_its_signing_secret_once(admin_client):  # noqa: ANN001
    made = admin_client.post(
        "/api/v1/notification-endpoints/", {"name": "ERP", "url": "https://erp.example/hook"}, format="json"
    )

    assert made.status_code == 201
    secret = made.json()["signing_secret"]
    endpoint = Endpoint.objects.get()
    assert endpoint.signing_secret == secret
    assert secret not in admin_client.get(f"/api/v1/notification-endpoints/{endpoint.pk}/").content.decode()
    assert secret not in admin_client.get("/api/v1/notification-endpoints/").content.decode()
    changed = admin_client.patch(f"/api/v1/notification-endpoints/{endpoint.pk}/", {"active": False}, format="json")
    assert changed.json()["active"] is False


def test_deliveries_are_listed_by_endpoint(admin_client):  # noqa: ANN001
    endpoint = Endpoint.objects.create(name="ERP", url="https://erp.example/hook")
    order = factories.OrderFactory()
    delivery = Delivery.objects.create(
        endpoint=endpoint, order=order, topic="payment_status.changed", dedupe_key="k", payload={"a": 1}
    )

    listed = admin_client.get(f"/api/v1/notification-deliveries/?endpoint={endpoint.pk}").json()["results"]

    assert [(d["id"], d["order"], d["status"]) for d in listed] == [(delivery.pk, order.pk, "pending")]
