"""The integration behind a webhook address, with its adapter, cached per process.

A provider's events arrive in bursts (hundreds a second at a busy shop); reading the integration and decrypting
its secrets for each of them was most of the endpoint's own work. The cache is checked against a generation
in Redis (a random value), which every change of an integration replaces once committed, so every web process sees an
edited secret, a deactivation or a deletion on the next event. Without Redis (local development) nothing is
cached and each event reads its integration.
"""

from __future__ import annotations

import logging
import secrets
import threading
import time
from functools import cache
from typing import Any
from uuid import UUID

import redis
from django.conf import settings
from django.db import transaction
from django.db.models.signals import post_delete, post_save

from integrations.adapters import adapter_for
from integrations.models import Integration
from providers.base import Adapter

logger = logging.getLogger(__name__)

GENERATION_KEY = "paydesk:integrations:generation"
#: a copy is read afresh after this long anyway (a change whose generation could not be advanced, an update
#: that sent no signal)
MAX_AGE_SECONDS = 60.0

_cached: dict[UUID, tuple[bytes, float, Integration, Adapter]] = {}
_lock = threading.Lock()


@cache
def redis_client() -> redis.Redis | None:
    """The Redis client of this process (REDIS_URL); None without one."""
    url = getattr(settings, "REDIS_URL", "")
    return redis.Redis.from_url(url, socket_timeout=0.5, socket_connect_timeout=0.5) if url else None


def _generation() -> bytes | None:
    """The current generation; None when it cannot be known (no Redis, or Redis unreachable): read afresh."""
    client = redis_client()
    if client is None:
        return None
    try:
        value = client.get(GENERATION_KEY)
    except redis.RedisError as exc:
        logger.warning("Integration cache off, Redis unreachable: %s", exc)
        return None
    if not isinstance(value, bytes):  # lost (a restart, an eviction): a new one, so no copy made before matches it
        try:
            client.set(GENERATION_KEY, secrets.token_hex(8), nx=True)
            value = client.get(GENERATION_KEY)
        except redis.RedisError as exc:
            logger.warning("Integration cache off, Redis unreachable: %s", exc)
            return None
    return value if isinstance(value, bytes) else None


def integration_receiver(uuid: UUID) -> tuple[Integration, Adapter] | None:
    """The integration with this webhook uuid (inactive ones still report) and its adapter; None if none."""
    generation = _generation()
    if generation is not None:
        hit = _cached.get(uuid)
        if hit is not None and hit[0] == generation and time.monotonic() - hit[1] < MAX_AGE_SECONDS:
            return hit[2], hit[3]
    integration = Integration.objects.filter(uuid=uuid).first()
    if integration is None:
        return None
    adapter = adapter_for(integration)
    if generation is not None:
        with _lock:
            _cached[uuid] = (generation, time.monotonic(), integration, adapter)
    return integration, adapter


def receivers_forget() -> None:
    """Empty this process's cache (tests)."""
    with _lock:
        _cached.clear()


def _advance(**kwargs: Any) -> None:
    """After an integration's change commits: every process reads integrations afresh on their next event."""
    if kwargs.get("raw"):
        return
    _cached.clear()

    def advance() -> None:
        client = redis_client()
        if client is None:
            return
        try:
            # a random value, not a counter: after Redis lost the key (a restart, an eviction) a counter would start
            # again at values other processes still hold copies under, and they would keep a changed secret's old one
            client.set(GENERATION_KEY, secrets.token_hex(8))
        except redis.RedisError as exc:  # the others keep their copy until Redis is back: say so loudly
            logger.error("Integration changed but its cache generation could not be advanced: %s", exc)

    transaction.on_commit(advance)


post_save.connect(_advance, sender=Integration, dispatch_uid="integration-receivers-save")
post_delete.connect(_advance, sender=Integration, dispatch_uid="integration-receivers-delete")
