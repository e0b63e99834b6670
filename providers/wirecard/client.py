"""Wirecard Checkout Seamless on the wire (providers.md §9.1, §9.2): URL-encoded POSTs and replies, and the
HMAC-SHA-512 fingerprint over ordered fields with the secret inside.

There is no maintained Python client (§9.8), so this is plain `requests`. Every reply is HTTP 200 with the outcome
in the body (`errors=N`, `status`); a 5xx or no answer means we cannot know what happened (`ProviderUnavailable`),
a 403 means the provider refused the request's headers or origin (`ProviderMisconfigured`).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping, Sequence
from urllib.parse import parse_qsl

import requests

from providers.base import ProviderMisconfigured, ProviderUnavailable


class UnreadableReply(Exception):
    """HTTP 200 with a body that is not URL-encoded fields (a proxy's HTML page)."""


def fingerprint(names: Sequence[str], values: Mapping[str, str], secret: str) -> str:
    """§9.2: the values in the listed order, the secret itself for `secret` and "" for a missing name, joined with
    no separator; HMAC-SHA-512 keyed with the secret, lowercase hex."""
    message = "".join(secret if name == "secret" else values.get(name, "") for name in names)
    return hmac.new(secret.encode(), message.encode(), hashlib.sha512).hexdigest()


def fingerprint_matches(expected: str, given: str) -> bool:
    """Compared case-insensitively (the official library does) and in constant time."""
    return hmac.compare_digest(expected.lower().encode(), given.lower().encode())


def decode(body: str) -> dict[str, str]:
    """A reply or confirm body; `keep_blank_values` because clients send empty values as bare keys (§9.1)."""
    text = body.strip()
    if not text or text.startswith("<") or "=" not in text:
        raise UnreadableReply(text[:80])
    return dict(parse_qsl(text, keep_blank_values=True))


def errors_of(reply: Mapping[str, str]) -> list[dict[str, str]]:
    """`error.N.*` (1-based) as a list of {errorCode, message, consumerMessage, paySysMessage}."""
    try:
        count = int(reply.get("errors", "0") or 0)
    except ValueError:
        count = 1
    return [
        {
            field: reply.get(f"error.{n}.{field}", "")
            for field in ("errorCode", "message", "consumerMessage", "paySysMessage")
        }
        for n in range(1, count + 1)
    ]


class WirecardClient:
    def __init__(self, base_url: str, *, timeouts: tuple[float, float]) -> None:
        self.base_url = base_url.rstrip("/")
        self.timeouts = timeouts
        self._http = requests.Session()

    def post(self, path: str, fields: Mapping[str, str]) -> dict[str, str]:
        """POST `fields` to `<base>/seamless/<path>`; the decoded reply. Raises as the module docstring says."""
        url = f"{self.base_url}/seamless/{path}"
        try:
            reply = self._http.post(
                url,
                data=dict(fields),
                timeout=self.timeouts,
                headers={"Connection": "close"},  # the back-end asks for it (§9.1)
            )
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ProviderUnavailable(f"Wirecard {path}: no answer (timeout or connection error)") from exc
        if reply.status_code >= 500:
            raise ProviderUnavailable(f"Wirecard {path} answered HTTP {reply.status_code}")
        if reply.status_code in (401, 403):
            raise ProviderMisconfigured(f"Wirecard {path} refused the request (HTTP {reply.status_code})")
        if reply.status_code != 200:
            raise UnreadableReply(f"HTTP {reply.status_code}")
        return decode(reply.text)
