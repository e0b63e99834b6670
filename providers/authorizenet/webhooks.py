"""Authorize.Net's notifications (webhooks) as the movements they report."""

from __future__ import annotations

from collections.abc import Mapping
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.base import ErrorCode, EventMovement, Money, MovementAction, WebhookEvent


def event_from_notification(event: Mapping[str, Any], currency: str) -> WebhookEvent:
    """An Authorize.Net notification as the movements it reports (the payload carries no currency: the
    account's)."""
    type_ = str(event["eventType"])
    payload = event.get("payload") or {}
    reference = str(payload.get("id") or "")
    try:
        amount = Money(Decimal(str(payload.get("authAmount") or "0")).quantize(Decimal("0.01")), currency)
    except InvalidOperation:
        amount = Money(Decimal("0"), currency)
    approved = str(payload.get("responseCode")) == "1"
    kind = type_.removeprefix("net.authorize.payment.")
    movements: list[EventMovement] = []
    if payload.get("entityName") == "transaction" and reference:
        if kind in ("authorization.created", "authcapture.created"):
            action = MovementAction.AUTHORIZE if kind == "authorization.created" else MovementAction.CHARGE
            if approved:
                movements.append(EventMovement(action, reference, amount))
            elif str(payload.get("responseCode")) in ("2", "3"):
                declined = EventMovement(MovementAction.DECLINE, reference, amount, error_code=ErrorCode.CARD_DECLINED)
                movements.append(declined)
        elif kind in ("capture.created", "priorAuthCapture.created") and approved:
            movements.append(EventMovement(MovementAction.CAPTURE, reference, amount))
        elif kind == "void.created" and approved:
            movements.append(EventMovement(MovementAction.CANCEL, reference, amount))
        elif kind == "refund.created" and approved:
            movements.append(EventMovement(MovementAction.REFUND, reference, amount))
        elif kind == "fraud.approved":
            movements.append(EventMovement(MovementAction.AUTHORIZE, reference, amount))
        elif kind == "fraud.declined":
            movements.append(
                EventMovement(
                    MovementAction.DECLINE,
                    reference,
                    amount,
                    error_code=ErrorCode.HELD_FOR_REVIEW,
                    message="The fraud review declined the payment.",
                )
            )
    return WebhookEvent(
        event_id=str(event["notificationId"]),
        type=type_,
        provider_reference=reference or None,
        amount=amount,
        data={"webhook_id": event.get("webhookId"), "event_date": event.get("eventDate"), "payload": dict(payload)},
        movements=tuple(movements),
    )
