"""Authorize.Net's notifications (webhooks) as the movements they report, completed from the transaction's
details where a notification names only the refund or void."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import replace
from decimal import Decimal, InvalidOperation
from typing import Any

from providers.authorizenet.client import decimal_of, text_of
from providers.base import ErrorCode, EventMovement, Money, MovementAction, ProviderUnavailable, WebhookEvent


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
        # a refund names only its own id, and a void not what it undid: the details say (webhook_event_complete)
        needs_details=bool(movements) and kind in ("refund.created", "void.created"),
    )


def complete_notification(event: WebhookEvent, details_of: Callable[[str], Any], currency: str) -> WebhookEvent:
    """A refund or void notification names the transaction it is about, and a refund has its own id: read the
    transaction's details (`details_of`, None when unreadable) to find the payment it belongs to (`refTransId`)
    and what the void undid; `ProviderUnavailable` when they cannot be read (the worker retries).

    * refund: a refund (movement, by the refund's id) of the original payment, unless the refund was voided
      since (read after the void, it gave nothing back);
    * void of a refund (possible until it settles): the refund is undone, no money went back;
    * void of a charge (authCapture), or of an authorization that was captured: the money never settles and
      goes back, a refund of what was taken; void of an uncaptured authorization: a cancel (as parsed).
    """
    kind = event.type.removeprefix("net.authorize.payment.")
    if kind not in ("refund.created", "void.created") or not event.provider_reference or not event.movements:
        return event
    details = details_of(event.provider_reference)
    if details is None:
        raise ProviderUnavailable(f"Authorize.Net: details of transaction {event.provider_reference} unreadable")
    if getattr(details, "transId", None) is None:  # unknown here (another account's): leave it as it came
        return event
    type_ = text_of(details, "transactionType")
    settled = Money(decimal_of(text_of(details, "settleAmount")).quantize(Decimal("0.01")), currency)
    authorized = Money(decimal_of(text_of(details, "authAmount")).quantize(Decimal("0.01")), currency)
    reference = event.provider_reference
    refunded = settled if settled.amount else authorized if authorized.amount else event.movements[0].amount
    if type_ == "refundTransaction":
        original = text_of(details, "refTransId")
        if not original:
            return event
        if kind == "void.created":
            movement = EventMovement(
                MovementAction.REFUND_REVERSED,
                reference,
                refunded,
                error_code=ErrorCode.REFUND_VOIDED,
                message=f"Refund {reference} was voided at Authorize.Net before it settled: no money went back.",
            )
        elif text_of(details, "transactionStatus") == "voided":
            return replace(event, provider_reference=original, movements=(), data={**event.data, "voided": True})
        else:  # our own refund carries our key as its invoice number: it tells two of one amount apart
            key = text_of(details, "order", "invoiceNumber") or None
            movement = EventMovement(MovementAction.REFUND, reference, refunded, idempotency_key=key)
            # a refund of an authorization implies its capture, whose notification may come later
            return replace(
                event, provider_reference=original, movements=(*_capture_of(original, details_of, currency), movement)
            )
        return replace(event, provider_reference=original, movements=(movement,))
    if kind == "refund.created":
        return event
    if type_ == "authCaptureTransaction":
        movements: tuple[EventMovement, ...] = (EventMovement(MovementAction.REFUND, reference, authorized),)
    elif type_ == "authOnlyTransaction" and settled.amount > 0:  # the capture it undoes may be notified later
        movements = (
            EventMovement(MovementAction.CAPTURE, reference, settled),
            EventMovement(MovementAction.REFUND, reference, settled),
        )
    else:
        return event
    return replace(event, movements=movements, data={**event.data, "voided_transaction_type": type_})


def _capture_of(trans_id: str, details_of: Callable[[str], Any], currency: str) -> tuple[EventMovement, ...]:
    """The capture of an authorization (priorAuthCapture keeps its id), as its details say; () for a charge."""
    details = details_of(trans_id)
    if details is None:
        raise ProviderUnavailable(f"Authorize.Net: details of transaction {trans_id} unreadable")
    if text_of(details, "transactionType") != "authOnlyTransaction":
        return ()
    captured = decimal_of(text_of(details, "settleAmount")).quantize(Decimal("0.01"))
    if not captured:
        return ()
    return (EventMovement(MovementAction.CAPTURE, trans_id, Money(captured, currency)),)
