"""Celery tasks of the ledger. They take ids, hold no logic, and retry only what may pass (ProviderUnavailable)."""

from __future__ import annotations

from celery import shared_task

from payments.webhook_services import webhook_event_process
from providers.base import ProviderUnavailable


@shared_task(
    acks_late=True,
    autoretry_for=(ProviderUnavailable,),
    retry_backoff=30,
    retry_backoff_max=900,
    retry_jitter=True,
    max_retries=8,
)
def webhook_event_process_task(webhook_event_id: int) -> None:
    """Apply one stored event. Redelivery after a crash is safe: processing finds the rows final."""
    webhook_event_process(webhook_event_id=webhook_event_id)
