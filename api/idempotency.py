"""The Idempotency-Key header, with Stripe's semantics, for every POST that moves money or creates something.

- The same key with the same request (method, path, body) replays the first response: status and body.
- The same key with another request is refused with 422 (`idempotency_key_reused`).
- While the first request runs, another with the same key is answered 409 (`idempotency_key_in_use`).
- Keys are scoped per user and kept 24 hours (`api.services.IDEMPOTENCY_KEY_TTL`).
- A server error (5xx) releases the key, so the request may be retried with it. So does an answer that is not
  final (`not_final`: the provider did not answer, the payment waits for the buyer): a retry reads the ledger
  row anew instead of replaying "not known yet" after reconcile knows.
- Amounts are compared by value: `"10"` and `"10.00"` are the same request.

The payment services get a key derived from the header (`api:<user id>:<key>`), so a replay that slips past this
layer (the key purged, a lost response) still moves no money twice: the ledger refuses the second row.
"""

from __future__ import annotations

import functools
import hashlib
import json
import re
import uuid
from collections.abc import Callable
from typing import Any, cast

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter
from rest_framework.renderers import JSONRenderer
from rest_framework.request import Request
from rest_framework.response import Response

from api.errors import ApiError
from api.models import IdempotencyKey
from api.services import idempotency_key_claim, idempotency_key_finish, idempotency_key_release

HEADER = "Idempotency-Key"
MAX_KEY_LENGTH = 200

IDEMPOTENCY_PARAMETER = OpenApiParameter(
    HEADER,
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=False,
    description=(
        "A unique key (a UUID) per operation. Resending the same request with it replays the first response; "
        "another request with it is refused (422); a concurrent one gets 409. Kept 24 hours, per user."
    ),
)


_PLAIN_AMOUNT = re.compile(r"\s*[0-9]+(\.[0-9]*)?\s*", re.ASCII)
_KEEP = "idempotent_final"


def _canonical(value: Any, name: str = "") -> Any:
    """The body with amounts written one way ("10.00" -> "10"), so a reformatted retry is the same request."""
    if isinstance(value, dict):
        return {key: _canonical(inner, str(key)) for key, inner in value.items()}
    if isinstance(value, list):
        return [_canonical(inner) for inner in value]
    if name == "amount" and isinstance(value, str) and _PLAIN_AMOUNT.fullmatch(value):
        text = value.strip()
        if "." in text:
            text = text.rstrip("0").rstrip(".")
        return text.lstrip("0") or "0"
    return value


def _storable(value: Any) -> Any:
    """The answer as PostgreSQL's jsonb can hold it: no NUL character (an error naming a field sent with one
    would fail to be stored, answer 500 and leave the key in progress for a day)."""
    if isinstance(value, dict):
        return {_storable(key): _storable(inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_storable(inner) for inner in value]
    if isinstance(value, str):
        return value.replace("\x00", "\ufffd")
    return value


def _fingerprint(request: Request) -> str:
    body = json.dumps(_canonical(request.data), sort_keys=True, default=str)
    return hashlib.sha256(f"{request.method}\n{request.path}\n{body}".encode()).hexdigest()


def service_key(request: Request) -> str:
    """The key the payment services get for this request (set by `idempotent`)."""
    return getattr(request, "idempotency_key", "") or f"api:{request.user.pk}:{uuid.uuid4()}"


def not_final(response: Response) -> Response:
    """Mark an answer the key must not keep: what it says may change (a retry asks the services again)."""
    setattr(response, _KEEP, False)
    return response


def idempotent(handler: Callable[..., Response]) -> Callable[..., Response]:
    """Wrap a view handler (authentication and permissions have run: the key is scoped to request.user)."""

    @functools.wraps(handler)
    def wrapper(view: Any, request: Request, *args: Any, **kwargs: Any) -> Response:
        raw = request.headers.get(HEADER, "")
        if not raw:
            return handler(view, request, *args, **kwargs)  # no key: each request is a new one
        if len(raw) > MAX_KEY_LENGTH or not raw.isprintable():
            raise ApiError(
                "invalid", f"The {HEADER} header must be at most {MAX_KEY_LENGTH} printable characters.", field=HEADER
            )
        fingerprint = _fingerprint(request)
        row, claimed = idempotency_key_claim(user_id=cast(int, request.user.pk), key=raw, fingerprint=fingerprint)
        if not claimed:
            if row.fingerprint != fingerprint:
                raise ApiError(
                    "idempotency_key_reused",
                    f"This {HEADER} was used for another request; use a new key for a new request.",
                    status_code=422,
                    field=HEADER,
                )
            if row.state == IdempotencyKey.State.IN_PROGRESS:
                raise ApiError(
                    "idempotency_key_in_use",
                    f"A request with this {HEADER} is still being processed; retry later.",
                    status_code=409,
                    field=HEADER,
                )
            replay = Response(row.response_body, status=row.response_status)
            replay["Idempotent-Replayed"] = "true"
            return replay
        request.idempotency_key = f"api:{request.user.pk}:{raw}"  # type: ignore[attr-defined]
        try:
            response = handler(view, request, *args, **kwargs)
        except Exception as exc:
            try:
                response = view.handle_exception(exc)  # our refusals become responses worth replaying
            except Exception:
                idempotency_key_release(row_id=row.pk)
                raise
        if response.status_code >= 500 or not getattr(response, _KEEP, True):
            idempotency_key_release(row_id=row.pk)
        else:
            body = _storable(json.loads(JSONRenderer().render(response.data))) if response.data is not None else None
            idempotency_key_finish(row_id=row.pk, status=response.status_code, body=body)
        return response

    return wrapper
