"""Bad input to the REST API's "send invoice": refused with an answer, nothing sent to Apruve."""

from __future__ import annotations

import pytest

from payments.models import Action, PaymentTransaction
from sandbox.services import sim_count
from tests import factories
from tests.payments.test_apruve_payments import accepted, apruve  # noqa: F401 - fixture

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.mark.parametrize(
    "body",
    [
        {"amount": "10.005"},
        {"amount": "-5.00"},
        {"amount": "0"},
        {"amount": "100.01"},
        {"amount": "10.00", "currency": "EUR"},
        {"amount": "ten"},
        {"amount": "10.00", "tracking_number": "x" * 300},
    ],
)
def test_bad_send_invoice_input_is_refused_and_nothing_is_sent(
    callers,  # noqa: ANN001
    company_a,  # noqa: ANN001
    apruve,  # noqa: ANN001, F811
    live_server,  # noqa: ANN001
    body,  # noqa: ANN001
) -> None:
    auth = accepted(apruve, factories.OrderFactory(customer=company_a), live_server)
    sales = callers["sales"].client
    reply = sales.post(
        f"/api/v1/transactions/{auth.pk}/send-invoice/", body, format="json", HTTP_IDEMPOTENCY_KEY="i-bad"
    )
    assert 400 <= reply.status_code < 500, reply.content
    assert (sim_count("apruve", "invoice"), PaymentTransaction.objects.filter(action=Action.INVOICE).count()) == (0, 0)
