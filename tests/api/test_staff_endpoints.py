"""Orders, the ledger and its operations, invoices and webhook events, for staff: who may do what, and what they
get back. The payment services and ledger are the real ones; the fake gateway stands at the network edge."""

from __future__ import annotations

from decimal import Decimal

import pytest

from payments.models import Action, PaymentTransaction, State, WebhookEvent
from tests import factories
from tests.conftest import authorize

pytestmark = pytest.mark.django_db

EVERYONE = ["anonymous", "buyer_a", "buyer_b", "sales", "admin"]


@pytest.fixture
def authorization(callers, company_a, gateway_integration) -> PaymentTransaction:  # noqa: ANN001
    order = factories.OrderFactory(customer=company_a, number="A-1")
    return authorize(order, gateway_integration)


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("buyer_a", 403), ("buyer_b", 403), ("sales", 200), ("admin", 200)],
)
@pytest.mark.parametrize(
    "path", ["/api/v1/orders/", "/api/v1/orders/{order}/", "/api/v1/transactions/", "/api/v1/transactions/{txn}/"]
)
def test_orders_and_ledger_are_for_staff(callers, authorization, who, expected, path):  # noqa: ANN001
    url = path.format(order=authorization.order_id, txn=authorization.pk)

    response = callers[who].client.get(url)

    assert response.status_code == expected
    if expected != 200:
        assert set(response.json()) == {"error"}
        assert "A-1" not in response.content.decode()


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("buyer_a", 403), ("buyer_b", 403), ("sales", 403), ("admin", 200)],
)
@pytest.mark.parametrize("path", ["/api/v1/invoices/", "/api/v1/webhook-events/"])
def test_invoices_and_webhook_events_are_for_administrators(callers, authorization, who, expected, path):  # noqa: ANN001
    assert callers[who].client.get(path).status_code == expected


@pytest.mark.parametrize(
    ("who", "expected"),
    [("anonymous", 401), ("buyer_a", 403), ("buyer_b", 403), ("sales", 201), ("admin", 201)],
)
def test_capture_permission_matrix(callers, authorization, fake_gateway, who, expected):  # noqa: ANN001
    response = callers[who].client.post(f"/api/v1/transactions/{authorization.pk}/capture/", {}, format="json")

    assert response.status_code == expected
    captures = PaymentTransaction.objects.filter(action=Action.CAPTURE)
    assert captures.count() == (1 if expected == 201 else 0)
    assert fake_gateway.calls["capture"] == (1 if expected == 201 else 0)


def test_sales_without_the_capture_permission_is_refused_and_nothing_moves(callers, authorization, fake_gateway):  # noqa: ANN001
    sales = callers["sales"]
    sales.user.groups.first().permissions.remove(
        *sales.user.groups.first().permissions.filter(codename="capture_payment")
    )

    response = sales.client.post(f"/api/v1/transactions/{authorization.pk}/capture/", {}, format="json")

    assert response.status_code == 403
    assert fake_gateway.calls["capture"] == 0


def test_order_detail_shows_the_ledger_amounts_and_offers(admin_client, authorization):  # noqa: ANN001
    body = admin_client.get(f"/api/v1/orders/{authorization.order_id}/").json()

    assert body["number"] == "A-1"
    assert body["total"] == {"amount": "100.00", "currency": "USD"}
    assert body["amounts"] == {
        "authorized": {"amount": "100.00", "currency": "USD"},
        "captured": {"amount": "0.00", "currency": "USD"},
        "refunded": {"amount": "0.00", "currency": "USD"},
        "outstanding": {"amount": "100.00", "currency": "USD"},
    }
    [row] = body["ledger"]
    assert (row["id"], row["action"], row["state"], row["amount"]) == (
        authorization.pk,
        "authorize",
        "succeeded",
        {"amount": "100.00", "currency": "USD"},
    )
    assert {o["operation"] for o in row["operations"]} == {"capture", "cancel"}
    assert body["created_at"].endswith("Z") or "+" in body["created_at"]


def test_capture_half_then_refund_part_through_the_api(admin_client, authorization, fake_gateway):  # noqa: ANN001
    captured = admin_client.post(
        f"/api/v1/transactions/{authorization.pk}/capture/", {"amount": "50.00", "note": "first box"}, format="json"
    )
    assert captured.status_code == 201
    capture = captured.json()
    assert (capture["action"], capture["state"], capture["amount"], capture["source"]) == (
        "capture",
        "succeeded",
        {"amount": "50.00", "currency": "USD"},
        authorization.pk,
    )

    refunded = admin_client.post(
        f"/api/v1/transactions/{capture['id']}/refund/", {"amount": "20.00", "reason": "duplicate"}, format="json"
    )
    assert refunded.status_code == 201
    assert refunded.json()["amount"] == {"amount": "20.00", "currency": "USD"}

    amounts = admin_client.get(f"/api/v1/orders/{authorization.order_id}/").json()["amounts"]
    assert amounts["captured"]["amount"] == "50.00"
    assert amounts["refunded"]["amount"] == "20.00"
    assert amounts["outstanding"]["amount"] == "50.00"


def test_a_refused_capture_answers_409_with_the_service_code_and_changes_nothing(admin_client, authorization):  # noqa: ANN001
    response = admin_client.post(
        f"/api/v1/transactions/{authorization.pk}/capture/", {"amount": "100.01"}, format="json"
    )

    assert response.status_code == 409
    assert set(response.json()["error"]) == {"code", "message", "field"}
    assert PaymentTransaction.objects.filter(action=Action.CAPTURE).count() == 0


@pytest.mark.parametrize("amount", ["1e2", "-5", "10.001", 10.5, "abc"])
def test_a_malformed_amount_is_400_on_the_amount_field(admin_client, authorization, amount):  # noqa: ANN001
    response = admin_client.post(f"/api/v1/transactions/{authorization.pk}/capture/", {"amount": amount}, format="json")

    assert response.status_code == 400
    assert response.json()["error"]["field"] == "amount"
    assert PaymentTransaction.objects.filter(action=Action.CAPTURE).count() == 0


def test_cancel_releases_the_authorization(admin_client, authorization):  # noqa: ANN001
    response = admin_client.post(f"/api/v1/transactions/{authorization.pk}/cancel/", {}, format="json")

    assert response.status_code == 201
    assert (response.json()["action"], response.json()["state"]) == ("cancel", State.SUCCEEDED)


def test_an_unknown_transaction_is_404(admin_client):  # noqa: ANN001
    response = admin_client.post("/api/v1/transactions/999999/capture/", {}, format="json")

    assert response.status_code == 404
    assert response.json()["error"]["code"] == "not_found"


def test_order_list_filters(admin_client, company_a, company_b, authorization):  # noqa: ANN001
    other = factories.OrderFactory(customer=company_b, number="B-1")

    def numbers(query: str) -> list[str]:
        return [o["number"] for o in admin_client.get(f"/api/v1/orders/?{query}").json()["results"]]

    assert numbers("") == ["B-1", "A-1"]
    assert numbers(f"customer={company_b.pk}") == ["B-1"]
    assert numbers("payment_status=authorized") == ["A-1"]
    assert numbers(f"integration={authorization.integration_id}") == ["A-1"]
    assert numbers(f"provider_reference={authorization.provider_reference}") == ["A-1"]
    assert numbers(f"created_after={other.created_at.isoformat().replace('+00:00', 'Z')}") == ["B-1"]


@pytest.mark.parametrize(
    "instant",
    [
        "2026-01-01T00:00:00+20:00",  # Python takes offsets to ±23:59, PostgreSQL refuses past ±15:59
        "2026-01-01T00:00:00-15:30",
        "0001-01-01T00:00:00+01:00",  # before the first instant UTC can hold
        "9999-12-31T23:59:59-01:00",  # after the last
    ],
)
def test_an_instant_no_place_uses_is_a_400_not_a_500(admin_client, company_a, instant: str):  # noqa: ANN001
    response = admin_client.get("/api/v1/orders/", {"created_after": instant})

    assert response.status_code == 400
    assert "created_after" in str(response.json())


def test_the_widest_offsets_in_use_are_instants(admin_client, company_a):  # noqa: ANN001
    factories.OrderFactory(customer=company_a, number="W-1")

    for instant in ("2000-01-01T00:00:00+14:00", "2000-01-01T00:00:00-12:00"):
        response = admin_client.get("/api/v1/orders/", {"created_after": instant})
        assert response.status_code == 200
        assert [o["number"] for o in response.json()["results"]] == ["W-1"]


def test_order_list_pages_by_cursor(admin_client, company_a):  # noqa: ANN001
    for n in range(30):
        factories.OrderFactory(customer=company_a, number=f"P-{n:02d}")

    first = admin_client.get("/api/v1/orders/?page_size=20").json()
    second = admin_client.get(first["next"]).json()

    assert len(first["results"]) == 20
    assert len(second["results"]) == 10
    assert second["next"] is None
    assert {o["number"] for o in first["results"] + second["results"]} == {f"P-{n:02d}" for n in range(30)}


def test_invoice_create_list_and_void(admin_client, company_a):  # noqa: ANN001
    order = factories.OrderFactory(customer=company_a, number="I-1")

    made = admin_client.post("/api/v1/invoices/", {"order": order.pk, "amount": "40.00"}, format="json")

    assert made.status_code == 201
    invoice = made.json()
    assert (invoice["order"], invoice["amount"], invoice["status"]) == (
        order.pk,
        {"amount": "40.00", "currency": "USD"},
        "open",
    )
    assert [i["id"] for i in admin_client.get(f"/api/v1/invoices/?order={order.pk}").json()["results"]] == [
        invoice["id"]
    ]
    too_much = admin_client.post("/api/v1/invoices/", {"order": order.pk, "amount": "70.00"}, format="json")
    assert too_much.status_code == 409
    assert too_much.json()["error"]["code"] == "invoice_refused"

    voided = admin_client.post(f"/api/v1/invoices/{invoice['id']}/void/", {}, format="json")
    assert (voided.status_code, voided.json()["status"]) == (200, "void")
    again = admin_client.post(f"/api/v1/invoices/{invoice['id']}/void/", {}, format="json")
    assert (again.status_code, again.json()["error"]["code"]) == (409, "invoice_not_open")


def test_invoice_of_a_missing_order_is_400_on_the_order_field(admin_client):  # noqa: ANN001
    response = admin_client.post("/api/v1/invoices/", {"order": 999999}, format="json")

    assert response.status_code == 400
    assert response.json()["error"] == {"code": "does_not_exist", "message": "No such order.", "field": "order"}


def test_webhook_events_list_detail_and_reprocess(
    admin_client,
    gateway_integration,
    monkeypatch,
    django_capture_on_commit_callbacks,  # noqa: ANN001
):
    waiting = WebhookEvent.objects.create(
        integration=gateway_integration,
        provider_event_id="evt_1",
        event_type="payment.captured",
        event={"type": "payment.captured"},
        status=WebhookEvent.Status.WAITING,
    )
    done = WebhookEvent.objects.create(
        integration=gateway_integration,
        provider_event_id="evt_2",
        event_type="payment.captured",
        event={},
        status=WebhookEvent.Status.PROCESSED,
    )
    sent: list[int] = []
    monkeypatch.setattr("api.views.webhook_event_process_task.delay", sent.append)

    listed = admin_client.get("/api/v1/webhook-events/?status=waiting").json()["results"]
    detail = admin_client.get(f"/api/v1/webhook-events/{waiting.pk}/").json()
    with django_capture_on_commit_callbacks(execute=True):
        again = admin_client.post(f"/api/v1/webhook-events/{waiting.pk}/reprocess/", {}, format="json")
    final = admin_client.post(f"/api/v1/webhook-events/{done.pk}/reprocess/", {}, format="json")

    assert [e["id"] for e in listed] == [waiting.pk]
    assert detail["event"] == {"type": "payment.captured"}
    assert again.status_code == 202
    assert sent == [waiting.pk]
    assert (final.status_code, final.json()["error"]["code"]) == (409, "event_final")


def test_amounts_keep_the_currency_precision(admin_client, company_a):  # noqa: ANN001
    jpy = factories.OrderFactory(customer=company_a, jpy=True)
    kwd = factories.OrderFactory(customer=company_a, kwd=True)

    assert admin_client.get(f"/api/v1/orders/{jpy.pk}/").json()["total"] == {"amount": "12000", "currency": "JPY"}
    assert admin_client.get(f"/api/v1/orders/{kwd.pk}/").json()["total"] == {"amount": "30.125", "currency": "KWD"}


def test_order_list_queries_do_not_grow_with_rows(admin_client, company_a, django_assert_max_num_queries):  # noqa: ANN001
    for _ in range(3):
        factories.OrderFactory(customer=company_a)
    with django_assert_max_num_queries(8) as few:
        admin_client.get("/api/v1/orders/")
    baseline = len(few)  # read now: the next request resets the query log
    for _ in range(40):
        factories.OrderFactory(customer=company_a)
    with django_assert_max_num_queries(baseline):
        assert len(admin_client.get("/api/v1/orders/?page_size=40").json()["results"]) == 40


def test_order_detail_queries_do_not_grow_with_ledger_rows(admin_client, authorization, django_assert_max_num_queries):  # noqa: ANN001
    url = f"/api/v1/orders/{authorization.order_id}/"
    with django_assert_max_num_queries(30) as few:
        admin_client.get(url)
    baseline = len(few)  # read now: the next request resets the query log
    for n in range(5):
        admin_client.post(f"/api/v1/transactions/{authorization.pk}/capture/", {"amount": "1.00"}, format="json")
        assert n >= 0
    with django_assert_max_num_queries(baseline):
        assert len(admin_client.get(url).json()["ledger"]) == 6


def test_amount_strings_are_decimal_exact(admin_client, authorization):  # noqa: ANN001
    admin_client.post(f"/api/v1/transactions/{authorization.pk}/capture/", {"amount": "0.10"}, format="json")
    admin_client.post(f"/api/v1/transactions/{authorization.pk}/capture/", {"amount": "0.20"}, format="json")

    amounts = admin_client.get(f"/api/v1/orders/{authorization.order_id}/").json()["amounts"]

    assert Decimal(amounts["captured"]["amount"]) == Decimal("0.30")


def test_order_list_of_100_and_detail_with_50_rows_take_as_many_queries_as_small_ones(
    admin_client,
    company_a,
    authorization,
    django_assert_max_num_queries,  # noqa: ANN001
):
    """The figures bench/api.py prints, held: queries per request do not grow with the rows."""
    small = factories.OrderFactory(customer=company_a)
    with django_assert_max_num_queries(30) as few:
        admin_client.get(f"/api/v1/orders/{authorization.order_id}/")
    detail_baseline = len(few)
    with django_assert_max_num_queries(30) as few:
        admin_client.get(f"/api/v1/orders/?customer={company_a.pk}")
    list_baseline = len(few)
    PaymentTransaction.objects.bulk_create(
        PaymentTransaction(
            order_id=authorization.order_id,
            source=authorization,
            integration_id=authorization.integration_id,
            payment_method=authorization.payment_method,
            action=Action.CAPTURE,
            state=State.SUCCEEDED,
            successful=True,
            amount=Decimal("1.00"),
            currency="USD",
            idempotency_key=f"bulk-{n}",
        )
        for n in range(49)
    )
    for _ in range(98):
        factories.OrderFactory(customer=company_a)

    with django_assert_max_num_queries(detail_baseline):
        assert len(admin_client.get(f"/api/v1/orders/{authorization.order_id}/").json()["ledger"]) == 50
    with django_assert_max_num_queries(list_baseline):
        body = admin_client.get(f"/api/v1/orders/?customer={company_a.pk}&page_size=100").json()
    assert len(body["results"]) == 100
    assert small.number in {o["number"] for o in body["results"]}
