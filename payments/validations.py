"""Zero-amount card validations (the reference's `validate` transactions) in the ledger.

A provider may check a card with a 0.00 authorization before the payment itself (Payflow's zero-amount
authorization); the payment's result then carries that validation (`ProviderResult.validation`). It is recorded
as its own `validate` row and becomes the payment's source. An authorization that only reuses it (the same
provider reference) is a "clone": the status rules ignore it (nothing is held) and its capture takes the money
anew (`FollowUpRequest.validation_only`).

A later payment may rest on an earlier validation (a reference transaction). Which one is chosen here, on the
server, from the ledger: only an active validation of the same buyer (customer user of the same company) with the
same payment method, young enough for the provider to still reference it when the payment resting on it is
completed (a clone's capture comes up to the authorization's lifetime later); nothing the browser sends names it.
A validation is active only while it is kept for later payments; those recorded with a payment are closed with it
(the storefront does not offer to keep a card yet).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from orders.models import Order
from payments.models import Action, PaymentTransaction, State
from providers.base import ProviderResult, scrub


def validation_record(*, payment: PaymentTransaction, validation: ProviderResult) -> PaymentTransaction:
    """Record the card validation `payment` rests on as its `validate` row (in the caller's transaction, under
    the order lock); recording it again returns the same row."""
    row, _ = PaymentTransaction.objects.get_or_create(
        idempotency_key=f"{payment.idempotency_key}:validate",
        defaults={
            "order_id": payment.order_id,
            "invoice_id": payment.invoice_id,
            "integration_id": payment.integration_id,
            "payment_method": payment.payment_method,
            "action": Action.VALIDATE,
            "amount": Decimal("0"),
            "currency": payment.currency,
            "state": State.SUCCEEDED,
            "successful": True,
            "active": False,  # used by this payment, not kept for later ones
            "provider_reference": validation.provider_reference or "",
            "fingerprint": payment.fingerprint,
            "actor": payment.actor,
            "request": {"action": Action.VALIDATE.value, "for": payment.action},
            "response": dict(scrub(validation.raw)),
            "message": validation.message or "Card validated with a zero amount.",
        },
    )
    return row


def validation_for_reuse(
    *, order: Order, payment_method: str, lifetime: timedelta | None = None, completed_within: timedelta | None = None
) -> PaymentTransaction | None:
    """The buyer's latest validation kept for later payments with this method, or None.

    `lifetime`: how long the provider lets a validation be referenced; `completed_within`: how long after the
    purchase a payment resting on it may still reference it (a clone is captured up to its authorization's
    lifetime later). A validation that would lapse before then is not offered: the buyer enters the card again.
    """
    if order.customer_user_id is None:
        return None
    rows = PaymentTransaction.objects.all()
    if lifetime is not None:
        rows = rows.filter(created_at__gt=timezone.now() - lifetime + (completed_within or timedelta(0)))
    return (
        rows.filter(
            action=Action.VALIDATE,
            successful=True,
            active=True,
            payment_method=payment_method,
            order__customer_id=order.customer_id,
            order__customer_user_id=order.customer_user_id,
        )
        .exclude(provider_reference="")
        .order_by("-created_at", "-pk")
        .first()
    )
