"""Celery tasks: thin, take ids, idempotent, acks_late so a killed worker's task is delivered again.

They retry only what may pass (ProviderUnavailable), never waiting longer than settings.TASK_RETRY_COUNTDOWN_MAX:
a retry waits inside a worker without being acknowledged, and the broker hands back any message unacknowledged
for its visibility timeout (see settings), which must not happen to a message that is merely waiting.
"""

from __future__ import annotations

from celery import shared_task
from django.conf import settings

from payments import abandonment, sweeps
from payments.webhook_services import webhook_event_process, webhook_events_requeue, webhook_events_waiting_sweep
from providers.base import ProviderUnavailable


@shared_task(
    acks_late=True,
    autoretry_for=(ProviderUnavailable,),
    retry_backoff=30,
    retry_backoff_max=settings.TASK_RETRY_COUNTDOWN_MAX,
    retry_jitter=True,
    max_retries=8,
)
def webhook_event_process_task(webhook_event_id: int) -> None:
    """Apply one stored event. Redelivery after a crash is safe: processing finds the rows final."""
    webhook_event_process(webhook_event_id=webhook_event_id)


@shared_task(acks_late=True)
def webhook_events_requeue_task() -> int:
    """Beat: enqueue again the inbox rows nobody processed (the broker was down when they arrived, or the worker
    holding them died), so they wait minutes, not the broker's visibility timeout."""
    ids = webhook_events_requeue()
    for pk in ids:
        webhook_event_process_task.delay(pk)
    return len(ids)


@shared_task(acks_late=True)
def order_release_task(order_id: int) -> None:
    """Give back a late payment of a checkout attempt the buyer gave up (payments.abandonment)."""
    abandonment.order_release(order_id=order_id)


@shared_task(acks_late=True)
def late_acceptance_cancel_task(release_id: int) -> None:
    """Cancel at the provider what it made for a payment after the payment was ended (payments.abandonment). The
    row was written first: a lost message or answer leaves it open, and reconcile settles it."""
    abandonment.late_acceptance_cancel(transaction_id=release_id)


@shared_task(acks_late=True)
def orders_release_sweep_task() -> int:
    """Beat: given-up orders that still hold or took money (a release whose message was lost, or whose answer
    was pending) are released again; each release is keyed, so nothing is given back twice."""
    ids = abandonment.orders_to_release()
    for pk in ids:
        order_release_task.delay(pk)
    return len(ids)


#: due captures per task: each worker process runs a task's captures on its thread pool (CAPTURE_SWEEP_THREADS)
CAPTURE_BATCH = 50


@shared_task(acks_late=True)
def scheduled_captures_sweep_task() -> int:
    ids = sweeps.scheduled_captures_claim()
    for start in range(0, len(ids), CAPTURE_BATCH):
        scheduled_captures_run_task.delay(ids[start : start + CAPTURE_BATCH])
    return len(ids)


@shared_task(acks_late=True)
def scheduled_captures_run_task(schedule_ids: list[int]) -> None:
    sweeps.scheduled_captures_run(schedule_ids=schedule_ids)


@shared_task(acks_late=True)
def scheduled_capture_run_task(schedule_id: int) -> None:
    sweeps.scheduled_capture_run(schedule_id=schedule_id)


@shared_task(acks_late=True)
def reconcile_sweep_task() -> int:
    ids = sweeps.transactions_due_for_reconcile()
    for pk in ids:
        transaction_reconcile_task.delay(pk)
    return len(ids)


@shared_task(acks_late=True)
def transaction_reconcile_task(transaction_id: int) -> None:
    sweeps.payment_reconcile(transaction_id=transaction_id)


@shared_task(acks_late=True)
def authorizations_expiry_sweep_task() -> tuple[int, int]:
    return sweeps.authorizations_expiry_sweep()


@shared_task(acks_late=True)
def reauthorizations_sweep_task() -> tuple[int, int]:
    """Renews one authorization after another; a rerun finds the renewed ones (they have a re_authorize child)."""
    return sweeps.reauthorizations_sweep()


@shared_task(acks_late=True)
def webhook_events_waiting_sweep_task() -> tuple[int, int]:
    """Events waiting for their payment: process again those whose payment is known now (enqueued one by one)."""
    return webhook_events_waiting_sweep()
