"""Celery tasks of the checkout: thin, take ids, idempotent (see payments.tasks)."""

from __future__ import annotations

from celery import shared_task

from checkout import services


@shared_task(acks_late=True)
def checkout_attempts_settle_sweep_task() -> int:
    """Beat: attempts whose payment the provider answered while the buyer was away (an event, reconcile) are
    settled, so a declined one leaves no order on the buyer's list and a paid one leaves the cart; attempts the
    buyer left waiting for an hour are ended."""
    ids = services.checkout_attempts_to_settle()
    for pk in ids:
        checkout_attempt_settle_task.delay(pk)
    return len(ids)


@shared_task(acks_late=True)
def checkout_attempt_settle_task(attempt_id: int) -> None:
    services.checkout_attempt_settle(attempt_id=attempt_id)
