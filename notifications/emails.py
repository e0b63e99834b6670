"""E-mails to buyers: order confirmation, payment receipt, refund notice, invoice issued and paid, payment failed.

`buyer_email_queue` writes a `BuyerEmail` row inside the transaction of the change that causes it (unique per
order, kind and cause) and enqueues the send on commit; `buyer_email_send` renders it in the buyer's language and
marks it sent. A rolled-back change sends nothing; a retried task or a replayed webhook finds the row and sends
nothing twice.
"""

from __future__ import annotations

import logging
from datetime import timedelta
from decimal import Decimal
from functools import partial

from django.conf import settings
from django.core.mail import EmailMultiAlternatives
from django.db import transaction
from django.template.loader import render_to_string, select_template
from django.utils import timezone, translation
from kombu.exceptions import OperationalError

from core.money import Money, format_money, quantize
from integrations.selectors import method_short_labels
from notifications.models import BuyerEmail
from orders.models import Order

logger = logging.getLogger(__name__)

Kind = BuyerEmail.Kind


def buyer_language(order: Order) -> str:
    """The order's language (the buyer's at checkout) if the site speaks it, else the site default."""
    supported = {code for code, _ in settings.LANGUAGES}
    language = (order.language or "").lower()
    for candidate in (language, language.split("-")[0]):
        if candidate in supported:
            return candidate
    return settings.LANGUAGE_CODE


def buyer_email_queue(
    *, order: Order, kind: str, key: str = "", amount: Decimal | None = None, invoice_number: str = ""
) -> None:
    """Queue one e-mail to the order's buyer; call inside the transaction of the change. Nothing is queued when
    there is no buyer, the order was never placed (a failed checkout attempt), or this one was queued already.

    One statement (an insert that skips a duplicate), since it runs under the order lock of every ledger change;
    the address is read when the e-mail is sent.
    """
    if order.discarded_at is not None or order.customer_user_id is None:
        return
    context = {
        "amount": str(quantize(amount, order.currency)) if amount is not None else "",
        "invoice_number": invoice_number,
        "payment_method": order.payment_method,
    }
    email = BuyerEmail(order=order, kind=kind, key=key, language=buyer_language(order), context=context)
    BuyerEmail.objects.bulk_create([email], ignore_conflicts=True)
    # enqueued even when the row existed (the insert cannot say): the task finds it sent and sends nothing
    transaction.on_commit(partial(_enqueue, order.pk, kind, key))


def _enqueue(order_id: int, kind: str, key: str) -> None:
    """Runs after the ledger change committed: a broker that cannot take the message must not turn a recorded
    payment into an error for the buyer or the worker that recorded it. The row stays unsent, for staff to see."""
    from notifications.tasks import buyer_email_send_task

    try:
        buyer_email_send_task.delay(order_id, kind, key)
    except (OperationalError, OSError) as exc:  # Redis unreachable; the local transport's folder unwritable
        logger.warning("Buyer e-mail %s of order %s stored unsent; the broker is unreachable: %s", kind, order_id, exc)


#: an unsent e-mail younger than this is still in the worker's hands (or its own retries): the sweep leaves it
RESEND_AFTER = timedelta(minutes=10)
#: how often the sweep enqueues one e-mail again before it leaves it to staff (a notice on the dashboard)
MAX_RESENDS = 5
#: rows enqueued again per sweep run; the rest wait for the next run
RESEND_BATCH = 200


def buyer_emails_resend_sweep() -> int:
    """Enqueue again the e-mails still unsent a while after they were written (the broker was down when the
    change committed, or the worker gave up on the mail server), each at most `MAX_RESENDS` times and no more
    often than every `RESEND_AFTER`, doubling; then a back-office notice says which one was never sent.

    Safe to overlap with the worker: the send locks the row and skips a sent one. Returns how many were enqueued."""
    now = timezone.now()
    due = (
        BuyerEmail.objects.filter(sent_at__isnull=True, created_at__lte=now - RESEND_AFTER, resends__lte=MAX_RESENDS)
        .exclude(order__customer_user__isnull=True)
        .order_by("created_at", "id")
    )
    enqueued = 0
    with transaction.atomic():
        for email in due.select_for_update(skip_locked=True, of=("self",))[:RESEND_BATCH]:
            if email.resent_at is not None and email.resent_at > now - RESEND_AFTER * 2**email.resends:
                continue  # backing off: the last resend may still be in the worker's hands
            if email.resends >= MAX_RESENDS:
                _give_up(email)
                continue
            email.resends += 1
            email.resent_at = now
            email.save(update_fields=["resends", "resent_at"])
            transaction.on_commit(partial(_enqueue, email.order_id, email.kind, email.key))
            enqueued += 1
    return enqueued


def _give_up(email: BuyerEmail) -> None:
    """Leave the e-mail to staff; one past the last resend, so later sweeps no longer read it."""
    from notifications.services import notice_raise

    email.resends = MAX_RESENDS + 1
    email.save(update_fields=["resends"])
    notice_raise(
        key=f"buyer-email-unsent:{email.pk}",
        order=email.order,
        message=(
            f"The {email.get_kind_display().lower()} e-mail for order {email.order.number} could not be sent after "
            f"{MAX_RESENDS} retries. Check the mail server and the worker, then tell the buyer."
        ),
    )


def buyer_email_send(*, order_id: int, kind: str, key: str = "") -> BuyerEmail:
    """Render and send one queued e-mail, once: the row stays locked while it is sent, and a sent row is skipped."""
    with transaction.atomic():
        email = (
            BuyerEmail.objects.select_for_update(of=("self",))
            .select_related("order__customer", "order__customer_user__user")
            .get(order_id=order_id, kind=kind, key=key)
        )
        if email.sent_at is not None:
            return email
        buyer = email.order.customer_user
        recipient = buyer.user.email if buyer is not None else ""
        if not recipient:
            logger.info("No address to send %s for order %s to", kind, order_id)
            return email
        subject, text, html = _render(email)
        message = EmailMultiAlternatives(subject, text, None, [recipient])
        message.attach_alternative(html, "text/html")
        message.send()
        email.recipient, email.subject, email.sent_at = recipient, subject, timezone.now()
        email.save(update_fields=["recipient", "subject", "sent_at"])
    logger.info("Sent %s for order %s", kind, order_id)
    return email


def _render(email: BuyerEmail) -> tuple[str, str, str]:
    """Subject (the text template's first line), text and HTML, in the e-mail's language with its money format."""
    order = email.order
    with translation.override(email.language):
        method = email.context.get("payment_method") or ""
        amount = email.context.get("amount") or ""
        context = {
            "order": order,
            "customer": order.customer,
            "total": format_money(Money(quantize(order.total, order.currency), order.currency)),
            "amount": format_money(Money(Decimal(amount), order.currency)) if amount else "",
            "payment_method": method_short_labels([method], language=email.language).get(method, "") if method else "",
            "invoice_number": email.context.get("invoice_number", ""),
        }
        template = select_template(
            [f"emails/{email.language}/{email.kind}.txt", f"emails/{settings.LANGUAGE_CODE}/{email.kind}.txt"]
        )
        subject, _, text = template.render(context).strip().partition("\n")
        html = render_to_string("emails/base.html", {"subject": subject, "body": text.strip()})
    return subject.strip(), text.strip() + "\n", html
