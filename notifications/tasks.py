from celery import shared_task
from django.conf import settings

from notifications.emails import buyer_email_send, buyer_emails_resend_sweep
from notifications.services import DeliveryFailed, delivery_give_up, delivery_send

MAX_RETRIES = 8


@shared_task(bind=True, acks_late=True, max_retries=MAX_RETRIES)
def delivery_send_task(self, delivery_id: int) -> None:  # noqa: ANN001
    """Send one notification; retry with backoff (30 s doubling, capped at settings.TASK_RETRY_COUNTDOWN_MAX so a
    waiting retry is never handed to a second worker by the broker's visibility timeout), then mark it failed.

    Redelivery after a worker crash is safe: a delivered row is not sent again.
    """
    try:
        delivery_send(delivery_id=delivery_id)
    except DeliveryFailed as exc:
        if self.request.retries >= MAX_RETRIES:
            delivery_give_up(delivery_id=delivery_id)
            return
        raise self.retry(
            exc=exc, countdown=min(30 * 2**self.request.retries, settings.TASK_RETRY_COUNTDOWN_MAX)
        ) from exc


@shared_task(
    acks_late=True,
    autoretry_for=(OSError,),
    retry_backoff=30,
    retry_backoff_max=settings.TASK_RETRY_COUNTDOWN_MAX,
    max_retries=MAX_RETRIES,
)
def buyer_email_send_task(order_id: int, kind: str, key: str = "") -> None:
    """Send one buyer e-mail; a mail server that is down (OSError, SMTPException) is retried with backoff.
    Redelivery is safe: a sent row is not sent again."""
    buyer_email_send(order_id=order_id, kind=kind, key=key)


@shared_task(acks_late=True)
def buyer_emails_resend_sweep_task() -> None:
    """Beat: enqueue again the buyer e-mails left unsent (see `buyer_emails_resend_sweep`)."""
    buyer_emails_resend_sweep()
