"""`make run` end to end: the run script migrates, seeds, serves, and the back-office shows a seeded order.

Starts the real script (gunicorn, a Celery worker and beat on the filesystem broker, SQLite in a temporary
folder) exactly as `make run` does after installing, then logs in over HTTP like a person would.
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def running_site(tmp_path: Path):  # noqa: ANN201
    port = free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        PY=sys.executable,
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{tmp_path / 'run.sqlite3'}",
        CELERY_DATA_DIR=str(tmp_path / "celery"),
        DJANGO_SECRET_KEY="run-script-test-secret",
        FIELD_ENCRYPTION_KEYS="yCgTT1jRVUQ1F4qbdN9XbSoZ06Ye6QYy0KbyuYg3vQg=",
        DJANGO_DEBUG="true",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_COOKIES="false",
    )
    log = (tmp_path / "run.log").open("w+")
    process = subprocess.Popen(
        [str(ROOT / "scripts" / "run.sh")],
        cwd=ROOT,
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 120
        while "Paydesk is running" not in (tmp_path / "run.log").read_text():
            if process.poll() is not None or time.monotonic() > deadline:
                pytest.fail("run script did not come up:\n" + (tmp_path / "run.log").read_text()[-4000:])
            time.sleep(0.5)
        yield base, tmp_path / "run.log"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def test_make_run_serves_admin_login_and_a_seeded_order(running_site) -> None:
    base, log_path = running_site
    output = log_path.read_text()
    assert "paydesk-admin" in output  # the demo logins are printed
    assert "paydesk-sales" in output
    session = requests.Session()
    login = session.get(f"{base}/admin/login/", timeout=10)
    assert login.status_code == 200
    assert "Paydesk back-office" in login.text
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', login.text)[1]
    response = session.post(
        f"{base}/admin/login/?next=/admin/",
        data={"username": "admin", "password": "paydesk-admin", "csrfmiddlewaretoken": token},
        headers={"Referer": f"{base}/admin/login/"},
        timeout=10,
    )
    assert response.status_code == 200
    assert "Log out" in response.text

    orders = session.get(f"{base}/admin/orders/order/?q=DEMO-000002", timeout=10)
    link = re.search(r'href="(/admin/orders/order/\d+/change/[^"]*)"', orders.text)
    assert link, orders.text[-2000:]
    order_page = session.get(base + link[1].replace("&amp;", "&"), timeout=10)
    assert order_page.status_code == 200
    assert "DEMO-000002" in order_page.text
    assert "Paid in full" in order_page.text
    assert "Payment history" in order_page.text
    assert "[worker]" in log_path.read_text()

    storefront = requests.get(f"{base}/", timeout=10)  # the storefront owns the site root
    assert storefront.status_code == 200
    assert "Hex bolt M8 (box of 100)" in storefront.text
