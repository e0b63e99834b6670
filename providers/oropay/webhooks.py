"""GP-API status notifications as events: the notification body is the transaction as it stands now.

Movements are reported for what only a notification (or reconcile) can tell: an ACH debit FUNDED (the pending
sale completes) or REJECTED (declined before funding; a return after it), a sale CAPTURED or DECLINED, a hold
REVERSED, and a REFUND transaction (money back, by its own id, on the payment it names as its parent). An
authorization completed after 3-D Secure (PREAUTHORIZED) is reported too, as the buyer may never come back to the
shop. A capture of a held authorization is a SALE of its own under it (`parent_resource_id`): reported as a
capture by its own id, on the authorization, so one made in Global Payments' portal is recorded (the ledger matches
one of ours, answered or still open, by that id or its amount); a release of what an authorization still holds after
captures (the authorization stays CAPTURED, its last action a REVERSAL) is reported as a cancel.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from providers.base import (
    EventMovement,
    MalformedEvent,
    Money,
    MovementAction,
    UnreadableEvent,
    WebhookEvent,
    from_minor,
)
from providers.oropay.results import issuer_code


def event_from_notification(data: Any, scrub: Callable[[Any], Any]) -> WebhookEvent:
    if not isinstance(data, dict) or not data.get("id") or not data.get("status"):
        raise MalformedEvent("an OroPay notification names a transaction and its status")
    txn_id, status = str(data["id"]), str(data["status"])
    action_id = str((data.get("action") or {}).get("id") or status)
    event_id = f"{txn_id}:{action_id}"
    try:
        amount = from_minor(int(str(data["amount"])), str(data["currency"]))
    except (KeyError, TypeError, ValueError) as exc:
        raise UnreadableEvent(
            f"{type(exc).__name__}: {exc}", event_id=event_id, event_type=status, payload=scrub(data)
        ) from exc
    movements = tuple(_movements(data, txn_id, status, amount))
    # a refund or a capture is a transaction of its own: the event is about the payment it names as its parent
    payment = str(data.get("parent_resource_id") or txn_id)
    return WebhookEvent(
        event_id=event_id,
        type=f"transaction.{status.lower()}",
        provider_reference=payment,
        amount=amount,
        data=scrub({"status": status, "type": data.get("type"), "reference": data.get("reference")}),
        movements=movements,
        payment_key=(str(data.get("reference") or "") or None) if data.get("type") != "REFUND" else None,
        # a refund names only its parent, which may be a capture of an authorization: the worker reads it back
        needs_details=bool(movements) and data.get("type") == "REFUND" and bool(data.get("parent_resource_id")),
    )


def _movements(data: Mapping[str, Any], txn_id: str, status: str, amount: Money) -> list[EventMovement]:
    kind = data.get("type")
    ach = "bank_transfer" in (data.get("payment_method") or {})
    action = str((data.get("action") or {}).get("type") or "")
    if kind == "REFUND":
        return [EventMovement(MovementAction.REFUND, txn_id, amount)] if status in ("CAPTURED", "BATCHED") else []
    if status == "FUNDED":
        return [EventMovement(MovementAction.CHARGE, txn_id, amount)]
    if status == "REJECTED":
        if action == "RETURN":  # funded before, then returned by the buyer's bank: the money went back
            return [
                EventMovement(MovementAction.CHARGE, txn_id, amount),
                EventMovement(MovementAction.REFUND, f"{txn_id}:return", amount, message="ACH return"),
            ]
        return [EventMovement(MovementAction.DECLINE, txn_id, amount, error_code=issuer_code(data).value)]
    if status == "DECLINED":
        return [EventMovement(MovementAction.DECLINE, txn_id, amount, error_code=issuer_code(data).value)]
    if status == "REVERSED" and not ach:
        return [EventMovement(MovementAction.CANCEL, txn_id, amount)]
    if ach:
        return []
    if data.get("parent_resource_id"):  # a capture of a held authorization, ours or made in the portal
        return [EventMovement(MovementAction.CAPTURE, txn_id, amount)] if status in ("CAPTURED", "BATCHED") else []
    if status == "PREAUTHORIZED":  # authorized after the buyer's 3-D Secure challenge
        return [EventMovement(MovementAction.AUTHORIZE, txn_id, amount)]
    if status in ("CAPTURED", "BATCHED") and data.get("capture_mode") != "AUTO" and action == "REVERSAL":
        # what the authorization still held was released; what it captured stays
        return [EventMovement(MovementAction.CANCEL, txn_id, amount)]
    if status in ("CAPTURED", "BATCHED") and data.get("capture_mode") == "AUTO" and not ach:
        return [EventMovement(MovementAction.CHARGE, txn_id, amount)]
    return []
