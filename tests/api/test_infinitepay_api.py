"""The REST API offers and performs InfinitePay's Activate where the order page does, with its own permission."""

from __future__ import annotations

import pytest

from backoffice.roles import roles_ensure
from payments import services
from payments.models import Action, State
from tests.api.conftest import Caller
from tests.infinitepay_support import DEBTOR, german_order

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def captured(ip_integration):  # noqa: ANN001, ANN201
    order = german_order()
    auth = services.payment_purchase(
        order_id=order.pk, method=f"infinitepay_{ip_integration.pk}", key="reserve-1", payment_data=dict(DEBTOR)
    )
    return auth, services.payment_capture(source_id=auth.pk, amount=None, key="capture-1")


def test_activate_is_offered_on_the_capture_and_performed_once(captured, request) -> None:  # noqa: ANN001
    roles_ensure()  # a flushed database needs the groups again
    callers: dict[str, Caller] = request.getfixturevalue("callers")
    auth, capture = captured
    sales = callers["sales"].client
    rows = sales.get(f"/api/v1/orders/{capture.order_id}/").json()["ledger"]
    offered = {row["id"]: [o["operation"] for o in row["operations"]] for row in rows}
    assert "activate" in offered[capture.pk]
    assert "activate" not in offered[auth.pk]  # an authorization is captured first
    body = {"invoice_number": "RE-7", "invoice_date": "2026-11-30"}
    denied = callers["buyer_a"].client.post(f"/api/v1/transactions/{capture.pk}/activate/", body, format="json")
    assert denied.status_code in (401, 403, 404)
    early = sales.post(f"/api/v1/transactions/{auth.pk}/activate/", body, format="json")
    assert (early.status_code, early.json()["error"]["code"]) == (409, "not_captured")
    done = sales.post(f"/api/v1/transactions/{capture.pk}/activate/", body, format="json")
    assert done.status_code == 201, done.content
    assert (done.json()["action"], done.json()["state"]) == (Action.ACTIVATE, State.SUCCEEDED)
    again = sales.post(f"/api/v1/transactions/{capture.pk}/activate/", body, format="json")
    assert again.status_code == 409
    assert capture.children.filter(action=Action.ACTIVATE).count() == 1
