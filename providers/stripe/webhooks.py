"""Stripe's events, in every shape a live endpoint of a supported version sends, as the movements they report.

Before 2022-11-15 a PaymentIntent lists its `charges` and a Charge its `refunds`; since then neither, so the
refunds are fetched (`needs_details`); before 2025-03-31 (basil) a partial capture or a cancel shows as a Refund
of the released rest, which is not money back. A refund can fail after it answered `succeeded` (`refund.failed`):
no money went back; a dispute (`charge.dispute.*`) is not money moved, but flags the payment for staff.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any

from providers.base import ErrorCode, EventMovement, Money, MovementAction, WebhookEvent
from providers.stripe.client import from_stripe, id_of, is_int, metadata_key, minor, required_id
from providers.stripe.results import payment_error_code

#: the events an endpoint should send (README "Sandboxes and webhooks"; shown on the integration page)
WEBHOOK_EVENTS = (
    "payment_intent.amount_capturable_updated",
    "payment_intent.succeeded",
    "payment_intent.payment_failed",
    "payment_intent.canceled",
    "charge.refunded",
    "refund.created",
    "refund.updated",
    "refund.failed",
    "charge.refund.updated",
    "charge.dispute.created",
    "charge.dispute.funds_withdrawn",
    "charge.dispute.closed",
)


def event_from_stripe(event: Mapping[str, Any]) -> WebhookEvent:
    """A Stripe event, in any shape a supported endpoint version sends, as the movements it reports (see
    `providers.base.EventMovement`). Raises TypeError/ValueError/KeyError for an object that cannot be read."""
    data = event.get("data")
    if not isinstance(data, dict) or not isinstance(data.get("object"), dict):
        raise TypeError("data.object is not an object")
    obj: Mapping[str, Any] = data["object"]
    type_ = str(event.get("type") or "")
    version = str(event.get("api_version") or "")
    request = event.get("request")
    key = request.get("idempotency_key") if isinstance(request, dict) else None  # a string before 2017-05-25
    code = obj.get("currency")
    if not isinstance(code, str) or len(code) != 3:
        raise ValueError("currency is not a currency code")
    currency = code.upper()
    kind = obj.get("object")
    summary: dict[str, Any] = {
        "object": kind,
        "status": obj.get("status"),
        "idempotency_key": key,
        "livemode": event.get("livemode"),
        "api_version": version,
    }

    def money(name: str, source: Mapping[str, Any] = obj) -> Money:
        return from_stripe(minor(source, name), currency)

    movements: list[EventMovement] = []
    reference: str = ""
    amount: Money | None = None
    payment_key: str | None = None
    needs_details = False
    if kind == "payment_intent":
        reference = required_id(obj)
        payment_key = metadata_key(obj)
        amount = money("amount")
        if type_ == "payment_intent.succeeded":
            received = money("amount_received")
            if obj.get("capture_method") == "manual":
                movements.append(EventMovement(MovementAction.AUTHORIZE, reference, amount))
                charge = id_of(obj.get("latest_charge")) or _first_charge(obj) or reference
                movements.append(EventMovement(MovementAction.CAPTURE, charge, received, key))
            else:
                movements.append(EventMovement(MovementAction.CHARGE, reference, received, key))
        elif type_ == "payment_intent.amount_capturable_updated" and obj.get("status") == "requires_capture":
            movements.append(EventMovement(MovementAction.AUTHORIZE, reference, money("amount_capturable"), key))
        elif type_ == "payment_intent.canceled":
            left = minor(obj, "amount") - minor(obj, "amount_received")
            movements.append(EventMovement(MovementAction.CANCEL, reference, from_stripe(left, currency), key))
        elif type_ == "payment_intent.payment_failed":
            error = obj.get("last_payment_error") or {}
            movements.append(
                EventMovement(
                    MovementAction.DECLINE,
                    reference,
                    amount,
                    key,
                    error_code=payment_error_code(error),
                    message=str(error.get("message") or ""),
                )
            )
    elif kind == "charge" and type_ == "charge.refunded":
        reference = id_of(obj.get("payment_intent")) or ""
        payment_key = metadata_key(obj)
        charge_id = required_id(obj)
        summary["charge"] = charge_id
        amount = money("amount_refunded")
        listed = obj.get("refunds")
        if isinstance(listed, dict) and isinstance(listed.get("data"), list) and not listed.get("has_more"):
            refunds = [r for r in listed["data"] if isinstance(r, dict)]
            movements = charge_movements(obj, refunds, releases_are_refunds=releases_are_refunds_in(version))
        else:
            movements = charge_movements(obj, [], releases_are_refunds=False)
            needs_details = _refunded_to_buyer(obj, version) > 0  # no list since 2022-11-15: fetch it
    elif kind == "refund" and type_ in ("refund.created", "refund.updated", "refund.failed", "charge.refund.updated"):
        reference = id_of(obj.get("payment_intent")) or ""
        amount = money("amount")
        refunded_charge = id_of(obj.get("charge"))
        summary["charge"] = refunded_charge
        ours = metadata_key(obj)
        status = obj.get("status")
        if obj.get("reason") == "expired_uncaptured_charge":
            pass  # a lapsed authorization released, not money back
        elif status in ("failed", "canceled"):
            # a refund that answered `succeeded` can still fail (card closed): the money stayed with the merchant
            failure = obj.get("failure_reason")
            movements.append(
                EventMovement(
                    MovementAction.REFUND_REVERSED,
                    required_id(obj),
                    amount,
                    ours,
                    error_code=ErrorCode.REFUND_FAILED,
                    message=f"Stripe could not return the money ({failure or status}): the refund {status}.",
                )
            )
        elif status != "succeeded":
            pass  # no money moved (yet)
        elif ours:
            movements.append(EventMovement(MovementAction.REFUND, required_id(obj), amount, ours))
        elif refunded_charge:
            # made outside Paydesk: read the charge, which says what was captured (the refund implies it) and,
            # before basil, whether this "refund" is only the rest a partial capture released
            needs_details = True
    elif kind == "dispute" and type_.startswith("charge.dispute."):
        reference = id_of(obj.get("payment_intent")) or ""
        amount = money("amount")
        status = str(obj.get("status") or "")
        summary["charge"] = id_of(obj.get("charge"))
        movements.append(
            EventMovement(
                MovementAction.DISPUTE,
                required_id(obj),
                amount,
                error_code=status or None,  # the dispute's status at Stripe, not one of our refusal codes
                message=f"reason {obj.get('reason') or 'not given'}, status {status or 'unknown'}",
            )
        )
    return WebhookEvent(
        event_id=str(event["id"]),
        type=type_,
        provider_reference=reference or None,
        amount=amount,
        data=summary,
        movements=tuple(movements),
        payment_key=payment_key,
        needs_details=needs_details,
    )


def releases_are_refunds_in(version: str) -> bool:
    """Before API 2025-03-31 (basil) a partial capture or a cancel shows as a Refund of the released rest."""
    return version[:10] < "2025-03-31"


def _refunded_to_buyer(charge: Mapping[str, Any], version: str) -> int:
    """What a Charge says went back to the buyer, in minor units: before basil `amount_refunded` includes what a
    partial capture released, and everything of a canceled authorization."""
    refunded = minor(charge, "amount_refunded")
    if not releases_are_refunds_in(version):
        return refunded
    if not charge.get("captured"):
        return 0
    captured = charge.get("amount_captured")
    released = minor(charge, "amount") - (captured if is_int(captured) else minor(charge, "amount"))
    return max(refunded - max(released, 0), 0)


def charge_movements(
    charge: Mapping[str, Any], refunds: Iterable[Mapping[str, Any]], *, releases_are_refunds: bool
) -> list[EventMovement]:
    """The capture a Charge implies, then its refunds that are money back, oldest first."""
    currency = str(charge["currency"]).upper()
    charge_id = required_id(charge)
    movements: list[EventMovement] = []
    captured = charge.get("amount_captured")
    if charge.get("captured") and is_int(captured) and captured > 0:
        movements.append(EventMovement(MovementAction.CAPTURE, charge_id, from_stripe(captured, currency)))
    ordered = _oldest_first(refunds)
    releases = _releases(charge, ordered, releases_are_refunds=releases_are_refunds)
    for refund in ordered:
        if refund.get("status") != "succeeded" or required_id(refund) in releases:
            continue
        movements.append(
            EventMovement(
                MovementAction.REFUND,
                required_id(refund),
                from_stripe(minor(refund, "amount"), currency),
                metadata_key(refund),
            )
        )
    return movements


def _releases(charge: Mapping[str, Any], refunds: list[Mapping[str, Any]], *, releases_are_refunds: bool) -> set[str]:
    """The refunds that only record a release: a lapsed authorization (`expired_uncaptured_charge`) and, where
    releases show as refunds, everything of an uncaptured charge and the rest a partial capture released. That
    rest was refunded at the moment of the capture, before any refund could be made: the oldest refund of its
    amount that we did not make."""
    ids = {str(r.get("id")) for r in refunds if r.get("reason") == "expired_uncaptured_charge"}
    if not releases_are_refunds:
        return ids
    if not charge.get("captured"):
        return {str(r.get("id")) for r in refunds}
    captured = charge.get("amount_captured")
    released = minor(charge, "amount") - (captured if is_int(captured) else minor(charge, "amount"))
    if released > 0:
        for refund in refunds:
            if str(refund.get("id")) in ids or metadata_key(refund):
                continue
            if refund.get("amount") == released:
                ids.add(str(refund.get("id")))
                break
    return ids


def _oldest_first(refunds: Iterable[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """Stripe lists newest first; reverse, then order by creation (stable, so a second's order is kept)."""
    ordered = list(refunds)
    ordered.reverse()
    ordered.sort(key=lambda r: int(r["created"]) if is_int(r.get("created")) else 0)
    return ordered


def _first_charge(pi: Mapping[str, Any]) -> str | None:
    """The newest charge of a PaymentIntent in versions before 2022-11-15 (`charges` instead of `latest_charge`)."""
    charges = pi.get("charges")
    if isinstance(charges, dict) and isinstance(charges.get("data"), list) and charges["data"]:
        return id_of(charges["data"][0])
    return None


def counts_as_refund(refund: Mapping[str, Any]) -> bool:
    return refund.get("status") in ("succeeded", "pending")
