"""One HTTP session per provider account and process, reused by every call.

Adapters are built per operation; a session of their own meant a new connection, and against a live provider a
TLS handshake, for every call. The pool lives here instead, keyed by provider, address and account, so calls of
one integration reuse their connections (also from the threads of the capture sweep), while two accounts never
share one. Cookies are refused: nothing of one call may ride along on the next. Timeouts stay per call, set by
each adapter as before.
"""

from __future__ import annotations

import hashlib
import threading
from http.cookiejar import DefaultCookiePolicy

import requests
from requests.adapters import HTTPAdapter

#: connections kept per host: the sweep's threads of one worker call one provider at once
POOL_SIZE = 32

_sessions: dict[tuple[str, str, str], requests.Session] = {}
_lock = threading.Lock()


def shared_session(provider: str, base_url: str, account: str = "") -> requests.Session:
    """The process's session for this provider account (`account`: any string that tells accounts apart; it is
    hashed, never kept)."""
    key = (provider, base_url, hashlib.sha256(account.encode()).hexdigest())
    session = _sessions.get(key)
    if session is None:
        with _lock:
            session = _sessions.get(key)
            if session is None:
                session = requests.Session()
                session.cookies.set_policy(DefaultCookiePolicy(allowed_domains=[]))
                pooled = HTTPAdapter(pool_connections=4, pool_maxsize=POOL_SIZE)
                session.mount("https://", pooled)
                session.mount("http://", pooled)
                _sessions[key] = session
    return session


def sessions_close() -> None:
    """Close every pooled connection (after a fork, or in tests)."""
    with _lock:
        for session in _sessions.values():
            session.close()
        _sessions.clear()
