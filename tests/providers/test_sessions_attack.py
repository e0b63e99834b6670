"""The pooled sessions carry nothing of one call into the next: a cookie a provider (or anything in front of it)
sets is not sent back, and two accounts never share a session."""

from __future__ import annotations

import threading
from http.server import BaseHTTPRequestHandler, HTTPServer

from providers.sessions import sessions_close, shared_session


class _SetsCookies(BaseHTTPRequestHandler):
    seen: list[str | None] = []  # noqa: RUF012 - one server per test

    def do_POST(self) -> None:  # noqa: N802 - http.server's name
        self.rfile.read(int(self.headers.get("Content-Length") or 0))
        type(self).seen.append(self.headers.get("Cookie"))
        self.send_response(200)
        self.send_header("Set-Cookie", "account=merchant-a; Path=/")
        self.send_header("Set-Cookie", "session=secret; Domain=127.0.0.1; Path=/")
        self.send_header("Content-Length", "2")
        self.end_headers()
        self.wfile.write(b"{}")

    def log_message(self, *args: object) -> None:
        pass


def test_a_cookie_set_by_one_call_is_never_sent_by_the_next() -> None:
    server = HTTPServer(("127.0.0.1", 0), _SetsCookies)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    url = f"http://127.0.0.1:{server.server_port}/api"
    _SetsCookies.seen = []
    try:
        sessions_close()
        session = shared_session("authorizenet", url)
        session.post(url, data="a", timeout=5)
        session.post(url, data="b", timeout=5)
        shared_session("payflow", url, "vendor|b").post(url, data="c", timeout=5)
    finally:
        server.shutdown()
        sessions_close()
    assert _SetsCookies.seen == [None, None, None]
    assert not session.cookies


def test_two_accounts_never_share_a_session() -> None:
    sessions_close()
    a = shared_session("stripe", "https://api.stripe.com", "sk_test_a")
    b = shared_session("stripe", "https://api.stripe.com", "sk_test_b")
    assert a is not b
    assert shared_session("stripe", "https://api.stripe.com", "sk_test_a") is a
    sessions_close()
