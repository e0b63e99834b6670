"""Processing a provider event costs a fixed number of statements, transaction control included
(`core.statements`): the order's ledger rows are read once under the lock and again only after a write, so an
event that reports what the ledger holds already (most of a storm) costs no read per movement.

The events are the Stripe sandbox's own, stored as the webhook view stores them, then processed one by one.
"""

from __future__ import annotations

import json
import time

import pytest

from core.statements import count_statements
from integrations.adapters import adapter_for
from integrations.models import Integration
from payments.models import PaymentTransaction, WebhookEvent
from payments.webhook_services import webhook_event_process
from sandbox.stripe.simulator import sign
from tests import factories
from tests.payments.test_webhooks import authorize
from tests.sandbox_support import dashboard, ledger, sandbox_events

#: an event about what our own call recorded already (measured 9 before one read of the rows per event): the event
#: with its integration; its claim (attempts); the payment by its keys; BEGIN; the order lock; the order's rows;
#: COMMIT; the outcome
KNOWN_EVENT_STATEMENTS = 8
#: a capture made in the dashboard (measured 17): the known event's 8, the capture's insert, its record (the order
#: lock again, the rows, the row and source in one UPDATE, the order's status) and the receipt
OUTSIDE_CAPTURE_STATEMENTS = 14
#: a refund made in the dashboard, whose event lists no refunds and is completed from Stripe (measured 21): the
#: known event's 8, the completed event kept, the refund's insert and its record (lock, rows, row, status)
OUTSIDE_REFUND_STATEMENTS = 14


def stored(integration: Integration, event: dict) -> WebhookEvent:
    """The event as the webhook view keeps it (verified and read by the adapter), not processed yet."""
    body = json.dumps(event)
    read = adapter_for(integration).parse_webhook(
        body.encode(), sign(body, integration.secrets["webhook_secret"], int(time.time()))
    )
    return WebhookEvent.objects.create(
        integration=integration,
        provider_event_id=read.event_id,
        event_type=read.type,
        provider_reference=read.provider_reference or "",
        event=read.as_dict(),
    )


@pytest.mark.django_db(transaction=True)
def test_each_event_costs_its_statement_budget(stripe_integration: Integration, stripe_sandbox: str) -> None:
    order = factories.OrderFactory()
    auth = authorize(stripe_integration, order)
    stripe = dashboard(stripe_sandbox)
    stripe.v1.payment_intents.capture(auth.provider_reference, params={"amount_to_capture": 6000})
    stripe.v1.refunds.create(params={"payment_intent": auth.provider_reference, "amount": 2000})
    events = {e["type"]: e for e in sandbox_events(auth.provider_reference)}
    budgets = [
        ("payment_intent.amount_capturable_updated", KNOWN_EVENT_STATEMENTS, "Authorize already recorded."),
        ("payment_intent.succeeded", OUTSIDE_CAPTURE_STATEMENTS, "Capture 60.00 USD made outside"),
        ("charge.refunded", OUTSIDE_REFUND_STATEMENTS, "Refund 20.00 USD made outside"),
    ]
    for kind, budget, result in budgets:
        row = stored(stripe_integration, events[kind])
        with count_statements() as log:
            processed = webhook_event_process(webhook_event_id=row.pk)
        assert processed is not None
        assert processed.status == WebhookEvent.Status.PROCESSED
        assert result in processed.result, processed.result
        assert log.statements == budget, (kind, log)
        held = WebhookEvent.objects.get(pk=row.pk)  # the row returned is what was written, not read back
        assert (processed.attempts, processed.event, processed.provider_reference, processed.result) == (
            held.attempts,
            held.event,
            held.provider_reference,
            held.result,
        )
        with count_statements() as again:  # a redelivered message of a finished event reads it and stops
            webhook_event_process(webhook_event_id=row.pk)
        assert again.statements == 1, again
    assert ledger(order) == [
        ("authorize", "100.0000", "succeeded", True, False, "pi_"),
        ("capture", "60.0000", "succeeded", True, False, "ch_"),
        ("release", "40.0000", "succeeded", True, False, "pi_"),
        ("refund", "20.0000", "succeeded", True, False, "re_"),
    ]
    assert PaymentTransaction.objects.filter(idempotency_key__startswith="webhook:").count() == 2
