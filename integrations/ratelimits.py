"""Keeping to each provider's documented rate limit, per integration, across every worker process.

A token bucket in Redis (one small Lua script, atomic on the server): each integration's bucket refills at its
provider's rate (`Adapter.live_rate_limit` / `test_rate_limit`, or SANDBOX_RATE_LIMIT for the built-in
sandboxes) and holds a second's worth. A caller that finds it empty waits for the next token instead of being
refused by the provider with a 429. Without Redis, or without a documented limit, calls are not held back.
"""

from __future__ import annotations

import logging
import time
from functools import cache

import redis
from django.conf import settings

from integrations.models import Integration
from integrations.receivers import redis_client
from providers import registry

logger = logging.getLogger(__name__)

#: KEYS[1] the bucket; ARGV: rate per second, capacity, now (seconds). Returns 0 when a token was taken, else
#: the seconds to wait for one.
_TAKE = """
local rate, capacity, now = tonumber(ARGV[1]), tonumber(ARGV[2]), tonumber(ARGV[3])
local state = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at = tonumber(state[1]), tonumber(state[2])
if tokens == nil then tokens, at = capacity, now end
tokens = math.min(capacity, tokens + math.max(0, now - at) * rate)
local wait = 0
if tokens >= 0.999999 then tokens = math.max(0, tokens - 1) else wait = (1 - tokens) / rate end
redis.call('HSET', KEYS[1], 'tokens', tokens, 'at', now)
redis.call('EXPIRE', KEYS[1], 60)
return tostring(wait)
"""
#: never wait longer than this at once (the caller tries again)
MAX_WAIT_SECONDS = 1.0


def rate_limit_of(integration: Integration) -> float | None:
    """Operations per second the integration's provider allows in its environment; None: no limit to keep."""
    if integration.environment == Integration.Environment.SANDBOX:
        return float(settings.SANDBOX_RATE_LIMIT) or None
    try:
        cls = registry.adapter_class(integration.provider_key)
    except KeyError:
        return None
    if integration.environment == Integration.Environment.TEST:
        return cls.test_rate_limit
    return cls.live_rate_limit


@cache
def _script(client: redis.Redis) -> redis.commands.core.Script:
    return client.register_script(_TAKE)


def provider_call_slot(integration: Integration) -> float:
    """Wait until the integration may make one more provider call; the seconds waited."""
    rate = rate_limit_of(integration)
    client = redis_client()
    if not rate or client is None:
        return 0.0
    waited = 0.0
    key = f"paydesk:ratelimit:{integration.pk}"
    while True:
        try:
            wait = float(_script(client)(keys=[key], args=[rate, max(rate, 1.0), time.time()]))
        except redis.RedisError as exc:  # the provider's own 429 still stops us; say that the bucket is off
            logger.warning("Rate limit of integration %s not kept, Redis unreachable: %s", integration.pk, exc)
            return waited
        if wait <= 0:
            return waited
        wait = min(wait, MAX_WAIT_SECONDS)
        time.sleep(wait)
        waited += wait
