"""An event that finds no payment and the payment being recorded at the same moment, in two real threads on
PostgreSQL: the event must not be left waiting for a payment that is known (the control shows the gap)."""

from __future__ import annotations

import threading
from decimal import Decimal

import pytest
from django.db import connection

from payments import services, webhook_services
from payments.models import PaymentTransaction, State, WebhookEvent
from providers.base import Money, Outcome, ProviderResult
from tests import factories

pytestmark = pytest.mark.django_db(transaction=True)


def stored_event(integration) -> WebhookEvent:  # noqa: ANN001
    """A `payment_intent.amount_capturable_updated` for pi_race that carries no key: matched by reference only."""
    return WebhookEvent.objects.create(
        integration=integration,
        provider_event_id="evt_race",
        event_type="payment_intent.amount_capturable_updated",
        provider_reference="pi_race",
        event={
            "event_id": "evt_race",
            "type": "payment_intent.amount_capturable_updated",
            "provider_reference": "pi_race",
            "amount": "100.00",
            "currency": "USD",
            "data": {},
            "movements": [
                {
                    "action": "authorize",
                    "provider_reference": "pi_race",
                    "amount": "100.00",
                    "currency": "USD",
                    "idempotency_key": None,
                    "error_code": None,
                    "message": "",
                }
            ],
        },
    )


@pytest.mark.parametrize("looks_again", [True, False], ids=["looks-again", "control-without-second-look"])
def test_an_event_that_waits_while_its_payment_is_recorded_is_applied(looks_again, monkeypatch) -> None:
    if connection.vendor != "postgresql":
        pytest.skip("two threads racing on rows need PostgreSQL (SQLite serialises writers)")
    integration = factories.IntegrationFactory(provider_key="stripe", secrets={"secret_key": "sk_test_racerace"})
    payment = PaymentTransaction.objects.create(
        order=factories.OrderFactory(),
        integration=integration,
        payment_method=f"stripe_{integration.pk}",
        action="authorize",
        amount=Decimal("100.00"),
        currency="USD",
        idempotency_key="auth-race",
        active=True,
    )
    row = stored_event(integration)
    found_nothing, recorded = threading.Event(), threading.Event()
    real_finish, real_payment_for = webhook_services._finish, webhook_services._payment_for  # noqa: SLF001
    lookups = []

    def finish_after_the_payment_is_recorded(event_row, status, result, **fields):  # noqa: ANN001, ANN003, ANN202
        if status == WebhookEvent.Status.WAITING:
            found_nothing.set()
            assert recorded.wait(10)  # the payment is recorded (and its release ran) before this waits
        return real_finish(event_row, status, result, **fields)

    def payment_for(*args):  # noqa: ANN002, ANN202
        lookups.append(1)
        return real_payment_for(*args) if looks_again or len(lookups) == 1 else None

    monkeypatch.setattr(webhook_services, "_finish", finish_after_the_payment_is_recorded)
    monkeypatch.setattr(webhook_services, "_payment_for", payment_for)

    def process() -> None:
        webhook_services.webhook_event_process(webhook_event_id=row.pk)
        connection.close()

    worker = threading.Thread(target=process)
    worker.start()
    assert found_nothing.wait(10)
    services.ledger_record(  # our own step 3 (or reconcile) records the payment, and releases what waits for it
        transaction_id=payment.pk, result=ProviderResult(Outcome.SUCCEEDED, "pi_race", Money(Decimal("100"), "USD"))
    )
    recorded.set()
    worker.join(10)

    row.refresh_from_db()
    payment.refresh_from_db()
    assert payment.state == State.SUCCEEDED
    if looks_again:
        assert (row.status, row.attempts) == (WebhookEvent.Status.PROCESSED, 1)
    else:
        assert row.status == WebhookEvent.Status.WAITING  # the gap: only the sweep would pick it up
