"""Writes of the API app: tokens (made, revoked) and Idempotency-Key bookkeeping."""

from __future__ import annotations

import hashlib
import secrets
from datetime import datetime, timedelta

from django.contrib.auth.models import User
from django.db import IntegrityError, transaction
from django.db.models import Q
from django.utils import timezone

from api.models import ApiToken, IdempotencyKey

TOKEN_PREFIX = "pd_"  # noqa: S105  (a marker, not a secret: it tells a leaked token apart)
#: Stripe keeps keys 24 hours; we keep them at least that long, then purge
IDEMPOTENCY_KEY_TTL = timedelta(hours=24)
#: a key still "in progress" after this long belongs to a request that died (every provider call times out well
#: before): it may be claimed again; the payment services' own key still stops a second movement of money
IDEMPOTENCY_IN_PROGRESS_STALE = timedelta(minutes=10)


def token_hash(raw: str) -> str:
    return hashlib.sha256(raw.encode()).hexdigest()


def api_token_fill(token: ApiToken) -> str:
    """Give an unsaved token its secret; returns the only readable copy (only the hash is stored)."""
    raw = TOKEN_PREFIX + secrets.token_urlsafe(32)
    token.prefix, token.key_hash = raw[:10], token_hash(raw)
    return raw


def api_token_create(*, user: User, name: str) -> tuple[ApiToken, str]:
    """Make a token and return it with its only readable copy (stored hashed; it cannot be shown again)."""
    token = ApiToken(user=user, name=name)
    raw = api_token_fill(token)
    token.save()
    return token, raw


def api_token_revoke(*, token_id: int) -> ApiToken:
    token = ApiToken.objects.get(pk=token_id)
    if token.revoked_at is None:
        token.revoked_at = timezone.now()
        token.save(update_fields=["revoked_at"])
    return token


def api_token_authenticate(*, raw: str) -> ApiToken | None:
    """The active token whose hash matches, its user active; its last use is noted at most once a minute."""
    token = ApiToken.objects.select_related("user").filter(key_hash=token_hash(raw), revoked_at__isnull=True).first()
    if token is None or not token.user.is_active:
        return None
    now = timezone.now()
    if token.last_used_at is None or now - token.last_used_at > timedelta(minutes=1):
        ApiToken.objects.filter(pk=token.pk).update(last_used_at=now)
    return token


def idempotency_key_claim(*, user_id: int, key: str, fingerprint: str) -> tuple[IdempotencyKey, bool]:
    """Claim `key` for this user and request, committed at once; (row, True) when this request claimed it.

    A key older than the TTL, or left in progress by a request that died, is forgotten and claimed anew. The unique
    constraint decides a race: the loser reads the winner's row (in progress, or done).
    """
    now = timezone.now()
    with transaction.atomic():
        IdempotencyKey.objects.filter(user_id=user_id, key=key).filter(
            Q(created_at__lt=now - IDEMPOTENCY_KEY_TTL)
            | Q(state=IdempotencyKey.State.IN_PROGRESS, created_at__lt=now - IDEMPOTENCY_IN_PROGRESS_STALE)
        ).delete()
        try:
            with transaction.atomic():
                row = IdempotencyKey.objects.create(user_id=user_id, key=key, fingerprint=fingerprint)
        except IntegrityError:
            return IdempotencyKey.objects.get(user_id=user_id, key=key), False
    return row, True


def idempotency_key_finish(*, row_id: int, status: int, body: object) -> None:
    IdempotencyKey.objects.filter(pk=row_id).update(
        state=IdempotencyKey.State.DONE, response_status=status, response_body=body
    )


def idempotency_key_release(*, row_id: int) -> None:
    """The request did not run to an answer worth keeping (a server error): the key may be used again."""
    IdempotencyKey.objects.filter(pk=row_id, state=IdempotencyKey.State.IN_PROGRESS).delete()


def idempotency_keys_purge(*, now: datetime | None = None) -> int:
    """Forget keys older than the TTL; returns how many."""
    cutoff = (now or timezone.now()) - IDEMPOTENCY_KEY_TTL
    deleted, _ = IdempotencyKey.objects.filter(created_at__lt=cutoff).delete()
    return deleted
