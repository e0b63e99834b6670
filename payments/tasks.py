"""Celery tasks: thin, take ids, idempotent, acks_late so a killed worker's task is delivered again."""

from __future__ import annotations

from celery import shared_task

from payments import sweeps


@shared_task(acks_late=True)
def scheduled_captures_sweep_task() -> int:
    ids = sweeps.scheduled_captures_claim()
    for pk in ids:
        scheduled_capture_run_task.delay(pk)
    return len(ids)


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
