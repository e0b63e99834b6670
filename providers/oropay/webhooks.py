"""GP-API status notifications as events: the notification body is the transaction as it stands now.

Movements are reported for what only a notification (or reconcile) can tell: an ACH debit FUNDED (the pending
sale completes) or REJECTED (declined before funding; a return after it), a sale CAPTURED or DECLINED, a hold
REVERSED, and a REFUND transaction (money back, by its own id, on the payment it names as its parent). Captures
of a held authorization are recorded from our own calls (each answer names the amount; a lost one is asked again
with its key), so a notification of one adds nothing.
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
    payment = str(data.get("parent_resource_id") or txn_id) if data.get("type") == "REFUND" else txn_id
    return WebhookEvent(
        event_id=event_id,
        type=f"transaction.{status.lower()}",
        provider_reference=payment,
        amount=amount,
        data=scrub({"status": status, "type": data.get("type"), "reference": data.get("reference")}),
        movements=movements,
        payment_key=(str(data.get("reference") or "") or None) if data.get("type") != "REFUND" else None,
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
    if status in ("CAPTURED", "BATCHED") and data.get("capture_mode") == "AUTO" and not ach:
        return [EventMovement(MovementAction.CHARGE, txn_id, amount)]
    return []
