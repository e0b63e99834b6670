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
from django.db import IntegrityError, transaction
from django.template.loader import render_to_string, select_template
from django.utils import timezone, translation

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
) -> BuyerEmail | None:
    """Queue one e-mail to the order's buyer; call inside the transaction of the change. Returns None when there
    is nobody to write to, the order was never placed (a failed checkout attempt), or this one was queued already.
    """
    if order.discarded_at is not None or order.customer_user_id is None:
        return None
    recipient = order.customer_user.user.email  # type: ignore[union-attr]
    if not recipient:
        return None
    context = {
        "amount": str(quantize(amount, order.currency)) if amount is not None else "",
        "invoice_number": invoice_number,
        "payment_method": order.payment_method,
    }
    try:
        with transaction.atomic():  # a savepoint: a repeat leaves the outer transaction usable
            email = BuyerEmail.objects.create(
                order=order, kind=kind, key=key, recipient=recipient, language=buyer_language(order), context=context
            )
    except IntegrityError:
        return None
    transaction.on_commit(partial(_enqueue, email.pk))
    return email


def _enqueue(email_id: int) -> None:
    from notifications.tasks import buyer_email_send_task

    buyer_email_send_task.delay(email_id)


def buyer_email_send(*, email_id: int) -> BuyerEmail:
    """Render and send one queued e-mail, once: the row stays locked while it is sent, and a sent row is skipped."""
    with transaction.atomic():
        email = BuyerEmail.objects.select_for_update().select_related("order", "order__customer").get(pk=email_id)
        if email.sent_at is not None:
            return email
        subject, text, html = _render(email)
        message = EmailMultiAlternatives(subject, text, None, [email.recipient])
        message.attach_alternative(html, "text/html")
        message.send()
        email.subject = subject
        email.sent_at = timezone.now()
        email.save(update_fields=["subject", "sent_at"])
    logger.info("Sent %s for order %s", email.kind, email.order_id)
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
