"""GP-API over HTTP (providers.md §6.1): access tokens, their cache, and one keyed JSON call.

The wire format is the one the `globalpayments-api` SDK sends (`GpApiConnector`): `X-GP-Version: 2021-03-22`,
`Accept: application/json`, `Authorization: Bearer <token>`, `x-gp-idempotency: <key>` on every POST, JSON bodies
with amounts in minor units as strings. A token is asked for with `POST /accesstoken` (`secret` =
sha512_hex(nonce + app_key)) and kept per app and service URL until shortly before it expires; a 401
`NOT_AUTHENTICATED` (revoked, or expired early) drops it, signs in again and repeats the call once with the same
key, as the SDK does.
"""

from __future__ import annotations

import hashlib
import json
import secrets
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import requests

from providers.base import ProviderMisconfigured, ProviderUnavailable

API_VERSION = "2021-03-22"
#: a cached token is renewed this many seconds before GP-API says it expires (clock skew, calls in flight)
REFRESH_MARGIN_SECONDS = 300


@dataclass(frozen=True)
class AccessToken:
    token: str
    expires_at: float  # time.monotonic() when GP-API stops taking it
    account_id: str  # the transaction_processing account's id from the token's scope


_tokens: dict[tuple[str, str, str], AccessToken] = {}
_tokens_lock = threading.Lock()


def token_cache_clear() -> None:
    """Forget every cached token (tests; an integration whose key changed gets a new cache entry anyway)."""
    with _tokens_lock:
        _tokens.clear()


def token_secret(nonce: str, app_key: str) -> str:
    """The `secret` of an access-token request: sha512 of nonce + app key, lowercase hex."""
    return hashlib.sha512((nonce + app_key).encode()).hexdigest()


@dataclass(frozen=True)
class Reply:
    status: int
    body: Any  # the decoded JSON, or None when the body is not JSON


class GpApiClient:
    def __init__(
        self, *, service_url: str, app_id: str, app_key: str, timeouts: tuple[float, float], session: Any = None
    ) -> None:
        if not service_url:
            raise ProviderMisconfigured("OroPay has no service URL: the environment must name one.")
        if not app_id or not app_key:
            raise ProviderMisconfigured("The OroPay integration has no app id or app key.")
        self.service_url = service_url.rstrip("/")
        self.app_id = app_id
        self._app_key = app_key
        self._timeouts = timeouts
        self._http = session or requests
        #: the cache key: the key itself is never kept in it, only a digest (several integrations may share an app)
        self._cache_key = (self.service_url, app_id, hashlib.sha256(app_key.encode()).hexdigest())

    # --- tokens -------------------------------------------------------------------------------------------------

    def access_token(self, *, fresh: bool = False) -> AccessToken:
        """The cached token, or a new one when there is none, it is about to expire, or `fresh`."""
        with _tokens_lock:
            cached = _tokens.get(self._cache_key)
            if cached is not None and not fresh and cached.expires_at - REFRESH_MARGIN_SECONDS > time.monotonic():
                return cached
        token = self._sign_in()
        with _tokens_lock:
            _tokens[self._cache_key] = token
        return token

    def _sign_in(self, *, permissions: list[str] | None = None, seconds: int | None = None) -> AccessToken:
        nonce = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%f") + secrets.token_hex(4)
        body: dict[str, Any] = {
            "app_id": self.app_id,
            "nonce": nonce,
            "secret": token_secret(nonce, self._app_key),
            "grant_type": "client_credentials",
        }
        if seconds is not None:
            body["seconds_to_expire"] = seconds
        if permissions:
            body["permissions"] = permissions
        started = time.monotonic()
        reply = self._send("POST", "/accesstoken", body, token=None, key=None)
        if reply.status in (401, 403) or (reply.status == 400 and _code(reply) == "INVALID_REQUEST_DATA"):
            raise ProviderMisconfigured(f"OroPay refused the app credentials ({_code(reply) or reply.status}).")
        if reply.status != 200 or not isinstance(reply.body, dict) or not reply.body.get("token"):
            raise ProviderUnavailable(f"OroPay gave no access token (HTTP {reply.status}).")
        scope = reply.body.get("scope") or {}
        account_id = next(
            (a.get("id", "") for a in scope.get("accounts") or () if a.get("name") == "transaction_processing"), ""
        )
        lifetime = int(reply.body.get("seconds_to_expire") or 0)
        return AccessToken(reply.body["token"], started + lifetime, account_id)

    def restricted_token(self, seconds: int = 600) -> str:
        """A short-lived token that may only tokenize one card (`PMT_POST_Create_Single`), for the hosted fields in
        the buyer's browser. Never cached: each checkout page gets its own."""
        return self._sign_in(permissions=["PMT_POST_Create_Single"], seconds=seconds).token

    # --- calls --------------------------------------------------------------------------------------------------

    def call(self, method: str, path: str, body: Mapping[str, Any] | None = None, *, key: str | None = None) -> Reply:
        """One API call with the cached token; on 401 the token is renewed and the call repeated once (same key)."""
        reply = self._send(method, path, body, token=self.access_token().token, key=key)
        if reply.status == 401:
            reply = self._send(method, path, body, token=self.access_token(fresh=True).token, key=key)
            if reply.status == 401:
                raise ProviderMisconfigured("OroPay refused a new access token.")
        if reply.status >= 500:
            raise ProviderUnavailable(f"OroPay answered HTTP {reply.status}")
        return reply

    def _send(
        self, method: str, path: str, body: Mapping[str, Any] | None, *, token: str | None, key: str | None
    ) -> Reply:
        headers = {"X-GP-Version": API_VERSION, "Accept": "application/json", "Content-Type": "application/json"}
        if token:
            headers["Authorization"] = f"Bearer {token}"
        if key and method == "POST":
            headers["x-gp-idempotency"] = key
        url = f"{self.service_url}{path}"
        try:
            if method == "GET":
                response = self._http.get(url, params=body, headers=headers, timeout=self._timeouts)
            else:
                data = json.dumps(body or {}, separators=(",", ":"))
                response = self._http.post(url, data=data.encode(), headers=headers, timeout=self._timeouts)
        except (requests.Timeout, requests.ConnectionError) as exc:
            raise ProviderUnavailable(f"OroPay {method} {path.split('/')[1]}: no answer") from exc
        try:
            decoded = response.json()
        except ValueError:
            decoded = None
        return Reply(response.status_code, decoded)


def _code(reply: Reply) -> str:
    return str(reply.body.get("error_code") or "") if isinstance(reply.body, dict) else ""


def error_of(reply: Reply) -> tuple[str, str, str]:
    """(error_code, detailed_error_code, detailed_error_description) of an error body; "" where absent."""
    body = reply.body if isinstance(reply.body, dict) else {}
    return (
        str(body.get("error_code") or ""),
        str(body.get("detailed_error_code") or ""),
        str(body.get("detailed_error_description") or ""),
    )
