"""`make run` end to end: the run script migrates, seeds, serves, and stops everything it started.

Starts the real script (gunicorn, a Celery worker and beat on the filesystem broker, SQLite in a temporary
folder) exactly as `make run` does after installing, in a session of its own as a terminal would, then logs in
over HTTP like a person would, and presses Ctrl-C (SIGINT to the script's process group).
"""

from __future__ import annotations

import os
import re
import signal
import socket
import subprocess
import sys
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import psutil
import pytest
import requests

ROOT = Path(__file__).resolve().parent.parent
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def port_is_free(port: int) -> bool:
    """Whether the next `make run` could bind the port (gunicorn binds with SO_REUSEADDR too)."""
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            sock.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def session_processes(session_id: int) -> list[psutil.Process]:
    """Every live process of a session: the script and all it started (none of them starts a session)."""
    found = []
    for process in psutil.process_iter():
        try:
            if os.getsid(process.pid) == session_id and process.status() != psutil.STATUS_ZOMBIE:
                found.append(process)
        except (ProcessLookupError, PermissionError, psutil.NoSuchProcess):
            continue
    return found


@dataclass
class Run:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def base(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def wait_for(self, *markers: str, timeout: float = 120) -> None:
        deadline = time.monotonic() + timeout
        while not all(marker in self.output() for marker in markers):
            if self.process.poll() is not None or time.monotonic() > deadline:
                pytest.fail(f"run script did not print {markers}:\n" + self.output()[-4000:])
            time.sleep(0.3)

    def wait_until_all_started(self) -> list[psutil.Process]:
        """Wait for the banner and every process (gunicorn's workers, the Celery pool), then list them.

        No more than that: a person often presses Ctrl-C while the servers are still settling in, which is
        when the old script left gunicorn on the port.
        """
        self.wait_for("Paydesk is running")
        deadline = time.monotonic() + 60
        while len(processes := session_processes(self.process.pid)) < 8:  # this script, 3 servers, 2 + 2 children
            if time.monotonic() > deadline:
                pytest.fail(f"expected 8 processes, found {processes}")
            time.sleep(0.1)
        return processes

    def exit_and_leftovers(self, timeout: float = 90) -> tuple[int, list[psutil.Process]]:
        """Wait for the script to exit and list what of its session is left at that moment (then kill it)."""
        try:
            returncode = self.process.wait(timeout=timeout)
            return returncode, session_processes(self.process.pid)
        finally:
            self.kill_leftovers()

    def kill_leftovers(self) -> None:
        for process in session_processes(self.process.pid):
            process.kill()
        if self.process.poll() is None:
            self.process.kill()
        self.process.wait()


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One SQLite database for the module: later starts find it migrated and seeded, as a developer's would."""
    return tmp_path_factory.mktemp("run")


def start(data_dir: Path, name: str, port: int | None = None, **extra: str) -> Run:
    port = port or free_port()
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"DATABASE_URL", "REDIS_URL", "DJANGO_SETTINGS_MODULE"}
    }
    env.update(
        PY=sys.executable,
        PORT=str(port),
        DATABASE_URL=f"sqlite:///{data_dir / 'run.sqlite3'}",
        CELERY_DATA_DIR=str(data_dir / "celery"),
        DJANGO_SECRET_KEY="run-script-test-secret",
        FIELD_ENCRYPTION_KEYS="yCgTT1jRVUQ1F4qbdN9XbSoZ06Ye6QYy0KbyuYg3vQg=",
        DJANGO_DEBUG="true",
        DJANGO_SECURE_SSL_REDIRECT="false",
        DJANGO_SECURE_COOKIES="false",
        **extra,
    )
    log = data_dir / f"{name}.log"
    with log.open("wb") as sink:
        process = subprocess.Popen(
            [str(ROOT / "scripts" / "run.sh")],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=sink,
            stderr=subprocess.STDOUT,
            start_new_session=True,  # as a terminal runs it: its own session and process group
        )
    return Run(process, port, log)


@pytest.fixture(scope="module")
def running_site(data_dir: Path) -> Iterator[Run]:
    run = start(data_dir, "site")
    try:
        run.wait_for("Paydesk is running", " ready.")
        yield run
    finally:
        os.killpg(run.process.pid, signal.SIGINT)
        try:
            run.process.wait(timeout=60)
        finally:
            run.kill_leftovers()


def test_make_run_serves_admin_login_and_a_seeded_order(running_site: Run) -> None:
    base, output = running_site.base, running_site.output()
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
    running_site.wait_for("[worker]")  # on a busy machine the worker may print its first line after the site is up

    storefront = requests.get(f"{base}/", timeout=10)  # the storefront owns the site root
    assert storefront.status_code == 200
    assert "Hex bolt M8 (box of 100)" in storefront.text


def test_pages_show_an_icon_and_nothing_answers_404(running_site: Run) -> None:
    base = running_site.base
    for page in ("/", "/admin/login/"):
        html = requests.get(base + page, timeout=10).text
        icons = re.findall(r'<link rel="icon" href="([^"]+)"', html)
        assert len(icons) == 2, page
        for href in icons:
            icon = requests.get(base + href, timeout=10)
            assert icon.status_code == 200, href
            assert icon.headers["Content-Type"].startswith("image/"), href
    # what a browser asks for on a page that links no icon (a JSON answer, an error page)
    fallback = requests.get(f"{base}/favicon.ico", timeout=10)
    assert (fallback.status_code, fallback.headers["Content-Type"]) == (200, "image/x-icon")
    assert fallback.history[0].status_code == 301
    not_found = [line for line in running_site.output().splitlines() if re.search(r'" 404 \d', line)]
    assert not_found == []


def test_no_warning_repeats_in_the_output(running_site: Run) -> None:
    for _ in range(5):  # every health check opens a broker connection, as a load balancer's would
        assert requests.get(f"{running_site.base}/health/?workers=0", timeout=10).status_code == 200
    warnings = Counter(
        re.sub(r"^\[\w+\]\s+(\[[^\]]*\]|[\d:, -]+)\s*", "", line)  # the server's name and the timestamp
        for line in running_site.output().splitlines()
        if re.search(r"WARNING|Warning:", line)
    )
    assert [text for text, count in warnings.items() if count > 1] == []
    assert not any("No hostname was supplied" in text for text in warnings)


@pytest.mark.parametrize("how", ["ctrl-c", "ctrl-c-twice", "sigterm-to-the-script"])
def test_stopping_leaves_no_process_and_frees_the_port(data_dir: Path, how: str) -> None:
    """Ctrl-C (SIGINT to the process group, as a terminal sends it), an impatient second Ctrl-C, or SIGTERM to
    the script alone (a process manager, `kill`).

    Checked the moment the script has exited: nothing of its session left, none of the pids recorded while it
    ran, and the port free for the next `make run`.
    """
    run = start(data_dir, how)
    try:
        started = run.wait_until_all_started()
        if how == "sigterm-to-the-script":
            run.process.send_signal(signal.SIGTERM)
        else:
            os.killpg(run.process.pid, signal.SIGINT)
        if how == "ctrl-c-twice":
            run.wait_for("stopping web")
            os.killpg(run.process.pid, signal.SIGINT)
        returncode = run.process.wait(timeout=60)
        left = session_processes(run.process.pid)
        recorded = [process.pid for process in started if process.is_running() and process.status() != "zombie"]
        port_free = port_is_free(run.port)
    finally:
        run.kill_leftovers()
    assert left == []
    assert recorded == []
    assert port_free
    # dies by the signal it was sent, so a calling shell or make stops too
    assert returncode == (-signal.SIGTERM if how == "sigterm-to-the-script" else -signal.SIGINT)
    assert "stopped." in run.output()


def test_says_so_and_stops_when_the_site_does_not_come_up(data_dir: Path) -> None:
    # Host validation refuses 127.0.0.1, so /health/ answers 400 while every server runs
    run = start(data_dir, "not-up", RUN_WAIT_SECONDS="8", DJANGO_ALLOWED_HOSTS="shop.example.com")
    returncode, left = run.exit_and_leftovers()
    assert returncode == 1
    assert left == []
    message = re.search(r"Paydesk did not come up within 8 s: (\S+) gave (.*)\. The \[web\] lines", run.output())
    assert message, run.output()[-3000:]
    assert message[1] == f"{run.base}/health/?workers=0"
    assert message[2].startswith(("HTTP 400", "no answer"))  # gunicorn may still be booting on a busy machine
    assert "Paydesk is running" not in run.output()


def test_says_so_when_the_port_is_taken(data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        run = start(data_dir, "port-taken", port=taken.getsockname()[1])
        returncode, left = run.exit_and_leftovers()
    assert returncode == 1
    assert left == []
    assert f"Port {run.port} on 127.0.0.1 is in use" in run.output()
