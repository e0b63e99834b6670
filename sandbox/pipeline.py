"""The request pipeline every simulator's API runs through: accounts, fault injection, idempotency, the handler in a
transaction, hold-back, webhook fan-out and CORS.

A simulator keeps what is its provider's own (how credentials look, the wire format of a reply, an error or a
conflict) and hands the rest to `serve`, so a fault, a repeated key or a timeout behaves alike in every sandbox:

    fault switched on?  --500/503/malformed-->  the fault's reply, nothing done
    key seen before?    --same request------->  the first reply again (replayed)
                        --in flight / other-->  the provider's conflict reply
    run the handler in a transaction; a timeout fault then holds the answer back; a sparse fault thins it.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, TypeVar

from django.conf import settings
from django.db import transaction
from django.http import HttpResponse

from sandbox.models import SimFault
from sandbox.services import (
    KeyConflict,
    SimReply,
    sim_fault_take,
    sim_hold_back,
    sim_idempotent,
    sim_list,
    sim_put,
    sim_webhook_send,
)

Reply = TypeVar("Reply")

# --- accounts ------------------------------------------------------------------------------------------------


def sim_account_id(credential: str, *, prefix: str = "") -> str:
    """The simulated merchant account a credential belongs to: stable, and revealing nothing of the credential."""
    return prefix + hashlib.sha256(credential.encode()).hexdigest()[:16]


# --- faults --------------------------------------------------------------------------------------------------


def fault_response(fault: SimFault) -> HttpResponse | None:
    """A fault that answers instead of the provider, as a load balancer in front of it would; None for the faults
    that let the call run (timeout, sparse). A simulator whose provider answers 5xx in its own format wraps this."""
    if fault.kind == SimFault.Kind.ERROR_500:
        return HttpResponse("Internal Server Error", status=500, content_type="text/plain")
    if fault.kind == SimFault.Kind.ERROR_503:
        return HttpResponse("Service Unavailable", status=503, content_type="text/plain")
    if fault.kind == SimFault.Kind.MALFORMED:
        return HttpResponse("<html><body>Bad gateway</body></html>", status=200, content_type="text/html")
    return None


# --- idempotency ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Idempotency:
    """How a provider remembers a request key: per account, for `ttl` of simulated time."""

    account: str
    key: str
    #: what the first request asked; a later one with the key and another hash is a mismatch
    request_hash: str
    ttl: timedelta
    #: seconds a repeat waits for the first request still running, to answer as it will (0: conflict at once)
    wait: float = 0


def _keyed(
    provider: str, idempotency: Idempotency, execute: Callable[[], SimReply]
) -> tuple[SimReply, bool] | KeyConflict:
    deadline = time.monotonic() + idempotency.wait
    while True:
        outcome = sim_idempotent(
            provider=provider,
            account=idempotency.account,
            key=idempotency.key,
            request_hash=idempotency.request_hash,
            ttl=idempotency.ttl,
            execute=execute,
        )
        if not isinstance(outcome, KeyConflict) or outcome.reason != "in_flight":
            return outcome
        if idempotency.wait <= 0 or time.monotonic() > deadline:
            return outcome
        time.sleep(0.05)


# --- the pipeline --------------------------------------------------------------------------------------------


def serve(
    *,
    provider: str,
    operation: str,
    execute: Callable[[], Reply],
    respond: Callable[[Reply, bool], HttpResponse],
    faults: Callable[[SimFault], HttpResponse | None] = fault_response,
    idempotency: Idempotency | None = None,
    conflict: Callable[[KeyConflict], HttpResponse] | None = None,
    sparse: Callable[[Reply], Reply] | None = None,
) -> HttpResponse:
    """Run one simulated API call of `operation` through the shared steps (see the module's docstring).

    `execute` is the provider's handler; it runs in a database transaction. `respond(reply, replayed)` puts its
    reply on the wire. With `idempotency`, the handler's reply must be a `SimReply` (it is stored), and `conflict`
    answers a key that is in flight or was used for another request.
    """
    fault = sim_fault_take(provider, operation)
    if fault is not None and (faulty := faults(fault)) is not None:
        return faulty

    def atomic() -> Any:
        with transaction.atomic():
            return execute()

    replayed = False
    if idempotency is None:
        reply = atomic()
    else:
        outcome = _keyed(provider, idempotency, atomic)
        if isinstance(outcome, KeyConflict):
            assert conflict is not None, "a keyed call needs a conflict reply"  # noqa: S101 - a programming error
            return conflict(outcome)
        reply, replayed = outcome
    sim_hold_back(fault)
    if settings.SANDBOX_LATENCY_MS:  # a remote provider's answer takes this long (SANDBOX_LATENCY_MS)
        time.sleep(settings.SANDBOX_LATENCY_MS / 1000)
    if sparse is not None and fault is not None and fault.kind == SimFault.Kind.SPARSE:
        reply = sparse(reply)
    return respond(reply, replayed)


# --- CORS ----------------------------------------------------------------------------------------------------


def cors(response: HttpResponse, *, methods: str = "POST, OPTIONS", headers: str = "Content-Type") -> HttpResponse:
    """Let the provider's browser script call the simulator from the shop's origin, as the provider allows."""
    response["Access-Control-Allow-Origin"] = "*"
    response["Access-Control-Allow-Headers"] = headers
    response["Access-Control-Allow-Methods"] = methods
    return response


# --- webhooks ------------------------------------------------------------------------------------------------


def webhook_endpoint_save(
    provider: str, account: str, url: str, *, make: Callable[[dict[str, Any] | None], dict[str, Any]], id_field: str
) -> dict[str, Any]:
    """Register where an account's events go, one endpoint per URL: `make(existing or None)` gives its data."""
    existing = next(
        (o.data for o in sim_list(provider, "webhook_endpoint", account=account) if o.data["url"] == url), None
    )
    data = make(existing)
    sim_put(provider, "webhook_endpoint", data[id_field], data, account=account)
    return data


@dataclass(frozen=True)
class Delivery:
    """One webhook to one endpoint: where, what, and the secret it is signed with."""

    url: str
    body: str
    secret: str


def webhooks_send(*, provider: str, event_id: str, signer: str, deliveries: Iterable[Delivery]) -> None:
    """Fan an event out to its endpoints once the current transaction commits; `signer` is the dotted path of the
    provider's `sign(body, secret, now)`, called at each attempt (providers re-sign retries)."""
    for delivery in deliveries:
        sim_webhook_send(
            provider=provider,
            event_id=event_id,
            url=delivery.url,
            body=delivery.body,
            signer=signer,
            secret=delivery.secret,
        )
