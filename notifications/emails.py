"""E-mails to buyers: order confirmation, payment receipt, refund notice, invoice issued and paid, payment failed.

`buyer_email_queue` writes a `BuyerEmail` row inside the transaction of the change that causes it (unique per
order, kind and cause) and enqueues the send on commit; `buyer_email_send` renders it in the buyer's language and
marks it sent. A rolled-back change sends nothing; a retried task or a replayed webhook finds the row and sends
nothing twice.
"""

from __future__ import annotations

import logging
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
