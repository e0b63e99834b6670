"""The REST API's "send invoice" is the order page's: the same service, permission and refusals."""

from __future__ import annotations

import pytest

from payments.models import Action, PaymentTransaction, State
from sandbox.services import sim_count
from tests import factories
from tests.payments.test_apruve_payments import accepted, apruve  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


def test_sales_sends_an_invoice_for_part_and_capture_is_refused(callers, company_a, apruve, live_server) -> None:  # noqa: ANN001, F811
    auth = accepted(apruve, factories.OrderFactory(customer=company_a), live_server)
    path = f"/api/v1/transactions/{auth.pk}"
    sales = callers["sales"].client
    refused = sales.post(f"{path}/capture/", {"amount": "40.00"}, format="json", HTTP_IDEMPOTENCY_KEY="c-1")
    assert (refused.status_code, refused.json()["error"]["code"]) == (409, "not_capturable")
    buyer = callers["buyer_a"].client
    forbidden = buyer.post(f"{path}/send-invoice/", {"amount": "40.00"}, format="json", HTTP_IDEMPOTENCY_KEY="i-0")
    assert forbidden.status_code in (403, 404)
    sent = sales.post(
        f"{path}/send-invoice/",
        {"amount": "40.00", "tracking_number": "1Z999"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="i-1",
    )
    assert sent.status_code == 201, sent.json()
    again = sales.post(
        f"{path}/send-invoice/",
        {"amount": "40.00", "tracking_number": "1Z999"},
        format="json",
        HTTP_IDEMPOTENCY_KEY="i-1",
    )
    assert again.json()["id"] == sent.json()["id"]
    invoice = PaymentTransaction.objects.get(action=Action.INVOICE)
    assert (invoice.state, str(invoice.amount), sim_count("apruve", "invoice")) == (State.SUCCEEDED, "40.0000", 1)
