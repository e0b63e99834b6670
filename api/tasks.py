"""Celery tasks of the API app: thin, as everywhere."""

from __future__ import annotations

from celery import shared_task

from api.services import idempotency_keys_purge


@shared_task(acks_late=True)
def idempotency_keys_purge_task() -> int:
    """Beat: forget Idempotency-Keys older than their 24 hours. Safe to run twice."""
    return idempotency_keys_purge()
