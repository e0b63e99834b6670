"""Building blocks every provider simulator uses: objects, clock, faults, idempotency and webhook delivery.

A provider's simulator (`sandbox/<key>/simulator.py`) speaks that provider's wire format and calls these helpers
for the state it keeps.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from sandbox.models import SimClock, SimFault, SimIdempotencyKey, SimObject, SimWebhookDelivery

# --- clock --------------------------------------------------------------------------------------------


def sim_now(provider: str) -> datetime:
    """The provider's simulated time: real time plus what `sim_advance_time` added."""
    offset = SimClock.objects.filter(provider=provider).values_list("offset_seconds", flat=True).first() or 0
    return timezone.now() + timedelta(seconds=offset)


def sim_timestamp(provider: str) -> int:
    return int(sim_now(provider).timestamp())


def sim_advance_time(*, provider: str, seconds: float) -> datetime:
    with transaction.atomic():
        clock, _ = SimClock.objects.select_for_update().get_or_create(provider=provider)
        clock.offset_seconds += seconds
        clock.save(update_fields=["offset_seconds"])
    return sim_now(provider)


# --- objects ------------------------------------------------------------------------------------------


def sim_id(prefix: str) -> str:
    """A provider-looking id such as `pi_3Kx…` (24 random characters)."""
    return f"{prefix}_{secrets.token_hex(12)}"


def sim_get(provider: str, kind: str, object_id: str, *, lock: bool = False) -> SimObject | None:
    queryset = SimObject.objects.filter(provider=provider, kind=kind, object_id=object_id)
    if lock:
        queryset = queryset.select_for_update()
    return queryset.first()


def sim_load(provider: str, kind: str, object_id: str, account: str) -> dict[str, Any] | None:
    """An account's object, locked for the call that changes it; None when missing or another account's (a
    provider answers "no such object" to both)."""
    obj = sim_get(provider, kind, object_id, lock=True)
    if obj is None or obj.account != account:
        return None
    return dict(obj.data)


def sim_put(provider: str, kind: str, object_id: str, data: dict[str, Any], *, account: str = "") -> SimObject:
    obj, _ = SimObject.objects.update_or_create(
        provider=provider, kind=kind, object_id=object_id, defaults={"data": data, "account": account}
    )
    return obj


def sim_list(provider: str, kind: str, *, account: str | None = None) -> list[SimObject]:
    queryset = SimObject.objects.filter(provider=provider, kind=kind)
    if account is not None:
        queryset = queryset.filter(account=account)
    return list(queryset.order_by("created_at", "id"))


def sim_count(provider: str, kind: str, **data: Any) -> int:
    """How many objects of a kind have these data values (tests count how often money moved)."""
    return sum(1 for obj in sim_list(provider, kind) if all(obj.data.get(k) == v for k, v in data.items()))


def sim_reset(*, provider: str | None = None) -> None:
    """Forget everything a sandbox (or all of them) knows: objects, keys, faults, clock, deliveries."""
    for model in (SimObject, SimIdempotencyKey, SimFault, SimClock, SimWebhookDelivery):
        queryset = model.objects.all()
        if provider:
            queryset = queryset.filter(provider=provider)
        queryset.delete()


# --- strict mode ----------------------------------------------------------------------------------------


def sim_strict(provider: str) -> bool:
    """Whether a provider's sandbox runs strict: it refuses every parameter it does not model, the way the
    provider refuses one it does not know. `SANDBOX_STRICT` is true/false for all, or a list of provider keys."""
    value = str(getattr(settings, "SANDBOX_STRICT", "true")).strip().lower()
    if value in ("1", "true", "yes", "on", "all", "*"):
        return True
    if value in ("", "0", "false", "no", "off", "none"):
        return False
    return provider in {name.strip() for name in value.split(",")}


# --- faults -------------------------------------------------------------------------------------------


def sim_fault_add(*, provider: str, kind: str, operation: str = "*", times: int = 1, delay: float = 3.0) -> SimFault:
    if kind not in SimFault.Kind.values:
        raise ValueError(f"unknown fault {kind!r}; one of {', '.join(SimFault.Kind.values)}")
    return SimFault.objects.create(provider=provider, operation=operation, kind=kind, remaining=times, delay=delay)


def sim_faults_clear(*, provider: str) -> int:
    """Switch off every fault of a provider's sandbox; what it knows otherwise stays."""
    deleted, _ = SimFault.objects.filter(provider=provider).delete()
    return deleted


def sim_fault_take(provider: str, operation: str) -> SimFault | None:
    """The first fault switched on for this call, used up by one; None when the call should just work."""
    with transaction.atomic():
        fault = (
            SimFault.objects.select_for_update()
            .filter(provider=provider, operation__in=[operation, "*"], remaining__gt=0)
            .first()
        )
        if fault is None:
            return None
        fault.remaining -= 1
        if fault.remaining:
            fault.save(update_fields=["remaining"])
        else:
            fault.delete()
            fault.remaining = 0
        return fault


def sim_hold_back(fault: SimFault | None) -> None:
    """A timeout fault: the call was carried out; now keep the client waiting past its timeout."""
    if fault is not None and fault.kind == SimFault.Kind.TIMEOUT:
        time.sleep(fault.delay)


# --- idempotency ----------------------------------------------------------------------------------------


@dataclass
class SimReply:
    status: int
    body: str
    headers: dict[str, str] = field(default_factory=dict)
    #: False for replies a provider does not remember (validation failures, conflicts)
    store: bool = True


@dataclass(frozen=True)
class KeyConflict:
    """Why a request key could not be used: another request with it is in flight, or asked for other things."""

    reason: str  # "in_flight" | "mismatch"


def sim_idempotent(
    *,
    provider: str,
    account: str,
    key: str,
    request_hash: str,
    ttl: timedelta,
    execute: Callable[[], SimReply],
) -> tuple[SimReply, bool] | KeyConflict:
    """Run `execute` once per key; later requests with the key get the first reply (replayed=True).

    Keys older than `ttl` (on the simulated clock) are forgotten, as providers prune them.
    """
    now = sim_now(provider)
    with transaction.atomic():
        SimIdempotencyKey.objects.filter(provider=provider, account=account, key=key, created_at__lt=now - ttl).delete()
        try:
            with transaction.atomic():
                row = SimIdempotencyKey.objects.create(
                    provider=provider, account=account, key=key, request_hash=request_hash, created_at=now
                )
            created = True
        except IntegrityError:
            row = SimIdempotencyKey.objects.get(provider=provider, account=account, key=key)
            created = False
    if not created:
        if row.request_hash != request_hash:
            return KeyConflict("mismatch")
        if row.status_code is None:
            return KeyConflict("in_flight")
        return SimReply(row.status_code, row.body, dict(row.headers)), True
    try:
        reply = execute()
    except BaseException:
        SimIdempotencyKey.objects.filter(pk=row.pk).delete()  # nothing was stored: the key may be retried
        raise
    if reply.store:
        SimIdempotencyKey.objects.filter(pk=row.pk).update(
            status_code=reply.status, body=reply.body, headers=reply.headers
        )
    else:
        SimIdempotencyKey.objects.filter(pk=row.pk).delete()
    return reply, False


# --- webhooks -------------------------------------------------------------------------------------------


def sim_webhook_send(*, provider: str, event_id: str, url: str, body: str, signer: str, secret: str) -> None:
    """Queue a webhook for delivery once the current transaction commits.

    Delivery is robust: a failing merchant endpoint never breaks the simulated API call that caused the event.
    """
    from sandbox.tasks import sim_webhook_deliver_task  # tasks import these services

    delivery = SimWebhookDelivery.objects.create(
        provider=provider, event_id=event_id, url=url, body=body, signer=signer, secret=secret
    )
    delivery_id = delivery.pk

    def deliver() -> None:  # a named function: Django's robust on_commit logs failures by __qualname__
        sim_webhook_deliver_task.delay(delivery_id)

    transaction.on_commit(deliver, robust=True)
