"""Webhook delivery of the simulated providers: a Celery task per delivery, retried with backoff."""

from __future__ import annotations

import logging

import requests
from celery import shared_task
from django.conf import settings
from django.utils import timezone
from django.utils.module_loading import import_string

from sandbox.models import SimWebhookDelivery
from sandbox.services import sim_timestamp

logger = logging.getLogger(__name__)


class DeliveryFailed(Exception):
    """The merchant's endpoint did not answer 2xx; the provider tries again later."""


@shared_task(
    acks_late=True,
    autoretry_for=(DeliveryFailed, requests.RequestException),
    retry_backoff=5,
    retry_backoff_max=settings.TASK_RETRY_COUNTDOWN_MAX,  # shorter than the broker's visibility timeout
    retry_jitter=True,
    max_retries=8,
)
def sim_webhook_deliver_task(delivery_id: int) -> None:
    """POST one simulated webhook, signed at send time (as providers re-sign each attempt)."""
    delivery = SimWebhookDelivery.objects.filter(pk=delivery_id, delivered_at__isnull=True).first()
    if delivery is None:  # delivered already, or the sandbox was reset
        return
    sign = import_string(delivery.signer)
    headers = {
        "Content-Type": "application/json",
        **sign(delivery.body, delivery.secret, sim_timestamp(delivery.provider)),
    }
    delivery.attempts += 1
    try:
        reply = requests.post(delivery.url, data=delivery.body.encode(), headers=headers, timeout=(5, 30))
    except requests.RequestException as exc:
        delivery.last_error = str(exc)[:500]
        delivery.save(update_fields=["attempts", "last_error"])
        raise
    delivery.last_status = reply.status_code
    if 200 <= reply.status_code < 300:
        delivery.delivered_at = timezone.now()
        delivery.save(update_fields=["attempts", "last_status", "delivered_at"])
        return
    delivery.save(update_fields=["attempts", "last_status"])
    logger.info("Sandbox webhook %s to %s answered %s", delivery.event_id, delivery.url, reply.status_code)
    raise DeliveryFailed(f"{delivery.url} answered HTTP {reply.status_code}")
