"""Tell subscribed endpoints when an order's payment status changes, and tell staff (notices, alert emails).

Deliveries are rows written in the same database transaction as the ledger change that caused them, and sent
by a task after commit, so a rolled-back change is never announced and a committed one is never lost. Each is
signed: `X-Paydesk-Signature: t=<unix time>,v1=<hex HMAC-SHA256 of "<t>.<body>" with the endpoint's secret>`.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import secrets
import time
from decimal import Decimal
from functools import partial

import requests
from django.conf import settings
from django.core.mail import send_mail
from django.db import IntegrityError, transaction
from django.db.models import Exists
from django.utils import timezone

from core.money import quantize
from core.status import PaymentStatus
from integrations.models import Integration
from notifications.models import Delivery, Endpoint, Notice
from orders.models import Order

logger = logging.getLogger(__name__)

TOPIC = "order.payment_status_updated"
TIMEOUT = (5, 15)


def notice_raise(*, key: str, message: str, order: Order | None = None, level: str = Notice.Level.WARNING) -> bool:
    """A back-office notice, once per key (a sweep or a retried task that meets the same fact again adds none).
    Returns whether it is new."""
    try:
        with transaction.atomic():
            Notice.objects.create(key=key, message=message, order=order, level=level)
    except IntegrityError:
        return False
    return True


def alert_recipients(*, integration: Integration, extra: tuple[str, ...] = ()) -> list[str]:
    """Who is emailed when a payment of this integration needs staff: the payment alert addresses and its owner."""
    recipients = [*settings.PAYMENT_ALERT_EMAILS, *extra]
    if integration.default_owner and integration.default_owner.email:
        recipients.append(integration.default_owner.email)
    return sorted(set(recipients))


def staff_alert(
    *, key: str, subject: str, message: str, integration: Integration, order: Order, level: str = Notice.Level.WARNING
) -> bool:
    """A notice, and the first time only, an email to the integration's alert recipients. Returns whether new."""
    new = notice_raise(key=key, message=message, order=order, level=level)
    if new:
        send_mail(subject, message, None, alert_recipients(integration=integration))
    return new


class DeliveryFailed(Exception):
    """The endpoint did not accept the notification (network error or non-2xx); worth retrying."""


def endpoint_create(*, name: str, url: str, signing_secret: str | None = None) -> Endpoint:
    return Endpoint.objects.create(
        name=name, url=url, secrets={"signing_secret": signing_secret or f"whsec_{secrets.token_urlsafe(32)}"}
    )


def sign(secret: str, body: bytes, timestamp: int) -> str:
    digest = hmac.new(secret.encode(), f"{timestamp}.".encode() + body, hashlib.sha256).hexdigest()
    return f"t={timestamp},v1={digest}"


def endpoints_listening() -> Exists:
    """Whether any endpoint is active, as an expression a read the caller makes anyway can carry (the ledger's
    read of an order's rows under its lock): a status change then reads the endpoints only when there are some."""
    return Exists(Endpoint.objects.filter(active=True))


def payment_status_changed(
    *,
    order: Order,
    previous: str,
    status: str,
    amount_paid: Decimal,
    transaction_id: int | None,
    transaction_action: str,
    transaction_amount: Decimal | None,
    listening: bool = True,
) -> list[Delivery]:
    """Queue one delivery per active endpoint; call inside the transaction that changed the status.

    An order hidden from the buyer (its checkout attempt failed or was given up) is not announced: it was never
    placed, and a late payment of it is given back, so a subscriber must not ship it or book it as paid.
    `listening`: False when a read the caller made in this transaction found no active endpoint
    (`endpoints_listening`), so they are not read again.
    """
    if order.discarded_at is not None or not listening:
        return []
    endpoints = list(Endpoint.objects.filter(active=True))
    if not endpoints:
        return []
    currency = order.currency
    paid = quantize(amount_paid, currency)
    payload = {
        "topic": TOPIC,
        "topics": [TOPIC, f"{TOPIC}.{order.pk}"],
        "order": {"id": order.pk, "number": order.number},
        "paymentStatus": status,
        "paymentStatusLabel": PaymentStatus(status).label,
        "previousPaymentStatus": previous,
        "transactionType": transaction_action,
        "transactionAmount": str(quantize(transaction_amount, currency)) if transaction_amount is not None else None,
        "amountPaid": str(paid),
        "amountDue": str(max(quantize(order.total, currency) - paid, Decimal("0"))),
        "currency": currency,
        "occurredAt": timezone.now().isoformat(),
    }
    created = []
    for endpoint in endpoints:
        dedupe_key = f"{order.pk}:{transaction_id}:{previous}->{status}"
        try:
            with transaction.atomic():
                delivery = Delivery.objects.create(
                    endpoint=endpoint, order=order, topic=TOPIC, dedupe_key=dedupe_key, payload=payload
                )
        except IntegrityError:
            continue  # this change was announced already
        created.append(delivery)
        transaction.on_commit(partial(_enqueue, delivery.pk))
    return created


def _enqueue(delivery_id: int) -> None:
    from notifications.tasks import delivery_send_task

    delivery_send_task.delay(delivery_id)


def delivery_send(*, delivery_id: int) -> Delivery:
    """POST one delivery. Raises DeliveryFailed to be retried; a delivered row is never sent again."""
    with transaction.atomic():
        delivery = Delivery.objects.select_for_update().select_related("endpoint").get(pk=delivery_id)
        if delivery.status != Delivery.Status.PENDING:
            return delivery
        delivery.attempts += 1
        delivery.save(update_fields=["attempts"])
    body = json.dumps({"id": str(delivery.uuid), **delivery.payload}, sort_keys=True).encode()
    headers = {
        "Content-Type": "application/json",
        "User-Agent": "Paydesk-Notifications/1",
        "X-Paydesk-Delivery": str(delivery.uuid),
        "X-Paydesk-Signature": sign(delivery.endpoint.signing_secret, body, int(time.time())),
    }
    try:
        response = requests.post(delivery.endpoint.url, data=body, headers=headers, timeout=TIMEOUT)
    except requests.RequestException as exc:
        _record_failure(delivery, None, type(exc).__name__)
        raise DeliveryFailed(f"delivery {delivery.pk}: {type(exc).__name__}") from exc
    if not 200 <= response.status_code < 300:
        _record_failure(delivery, response.status_code, f"HTTP {response.status_code}")
        raise DeliveryFailed(f"delivery {delivery.pk}: HTTP {response.status_code}")
    Delivery.objects.filter(pk=delivery.pk).update(
        status=Delivery.Status.DELIVERED,
        last_status_code=response.status_code,
        last_error="",
        delivered_at=timezone.now(),
    )
    logger.info("Delivered %s for order %s to endpoint %s", delivery.topic, delivery.order_id, delivery.endpoint_id)
    delivery.refresh_from_db()
    return delivery


def _record_failure(delivery: Delivery, status_code: int | None, error: str) -> None:
    Delivery.objects.filter(pk=delivery.pk).update(last_status_code=status_code, last_error=error)
    logger.warning(
        "Notification %s for order %s to endpoint %s failed (attempt %s): %s",
        delivery.pk,
        delivery.order_id,
        delivery.endpoint_id,
        delivery.attempts,
        error,
    )


def delivery_give_up(*, delivery_id: int) -> None:
    Delivery.objects.filter(pk=delivery_id, status=Delivery.Status.PENDING).update(status=Delivery.Status.FAILED)
