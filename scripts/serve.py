"""Run the web server, a Celery worker and beat as one foreground program; Ctrl-C stops all three.

`scripts/run.sh` migrates and seeds, then replaces itself with this program, so its pid is the one a terminal,
`make` or a test signals. Why not shell jobs: the old script backgrounded `server | sed` pipelines and ended with
`kill 0`, which killed the shell itself before any server had exited (nothing waited, so a worker still shutting
down outlived it), sent a second signal to servers already stopping on the terminal's Ctrl-C, and took down the
`sed` filters first, so the servers wrote their shutdown into closed pipes.

Here each server runs in its own process group of this session, so the terminal's Ctrl-C reaches only this
program. It stops each server once, with the signal that server treats as a graceful stop (SIGTERM: gunicorn
finishes requests in flight, Celery a warm shutdown), waits up to RUN_STOP_SECONDS, then kills the whole group
of anything still there (a server and the children it forked). On Linux each server also gets SIGTERM should
this program die without stopping it (PR_SET_PDEATHSIG). Output is read here and prefixed per server.

Environment: HOST, PORT (bind address), CELERY_DATA_DIR (beat's schedule), RUN_WAIT_SECONDS (how long the site
may take to answer /health/, default 60), RUN_STOP_SECONDS (default 15).
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import IO

PR_SET_PDEATHSIG = 1
STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


@dataclass
class Server:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None
    reader: threading.Thread | None = None

    @property
    def label(self) -> str:
        return f"[{self.name}]".ljust(9)

    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None


@dataclass
class Console:
    """Lines from several servers, one whole line at a time.

    A closed terminal (SIGHUP) makes writes fail; output is then dropped, but the pipes are still drained, so
    no server blocks on a full pipe while it stops.
    """

    stream: IO[bytes] = field(default_factory=lambda: sys.stdout.buffer)
    lock: threading.Lock = field(default_factory=threading.Lock)
    closed: bool = False

    def write(self, data: bytes) -> None:
        with self.lock:
            if self.closed:
                return
            try:
                self.stream.write(data)
                self.stream.flush()
            except OSError:
                self.closed = True

    def line(self, label: str, line: bytes) -> None:
        self.write(label.encode() + line.rstrip(b"\n") + b"\n")

    def say(self, text: str) -> None:
        for line in text.splitlines():
            self.line("[run]    ", line.encode())


def _parent_death_signal() -> Callable[[], None] | None:
    """A pre-exec hook that has the kernel send SIGTERM to the child when this program dies (Linux only)."""
    if not sys.platform.startswith("linux"):
        return None
    libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
    prctl = libc.prctl

    def hook() -> None:
        prctl(PR_SET_PDEATHSIG, int(signal.SIGTERM), 0, 0, 0)

    return hook


class Supervisor:
    def __init__(self, servers: list[Server], *, health_url: str, wait_seconds: float, stop_seconds: float) -> None:
        self.servers = servers
        self.health_url = health_url
        self.wait_seconds = wait_seconds
        self.stop_seconds = stop_seconds
        self.console = Console()
        self.wake = threading.Event()
        self.requested: int | None = None
        self.hurry = False  # a second Ctrl-C: kill what is left at once

    def on_signal(self, signum: int, frame: FrameType | None) -> None:
        if self.requested is not None:
            self.hurry = True
        else:
            self.requested = signum
        self.wake.set()

    def run(self, banner: str) -> int:
        for signum in STOP_SIGNALS:
            signal.signal(signum, self.on_signal)
        self.start()
        exit_code = self.watch(banner)
        self.stop()
        if self.requested is not None and exit_code == 0:
            return 128 + self.requested
        return exit_code

    def start(self) -> None:
        hook = _parent_death_signal()
        for server in self.servers:
            if self.requested is not None:
                break
            server.process = subprocess.Popen(  # noqa: S603 - our own fixed argv
                server.argv,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                process_group=0,  # keeps the terminal's Ctrl-C away from the servers: we stop them once
                preexec_fn=hook,  # safe: no thread of ours runs yet (the readers start below)
            )
        for server in self.servers:
            if server.process is not None and server.process.stdout is not None:
                server.reader = threading.Thread(
                    target=self.relay, args=(server, server.process.stdout), name=f"relay-{server.name}", daemon=True
                )
                server.reader.start()

    def relay(self, server: Server, pipe: IO[bytes]) -> None:
        for line in iter(pipe.readline, b""):
            self.console.line(server.label, line)
        pipe.close()

    def watch(self, banner: str) -> int:
        """Wait for the site to answer, then for a stop signal or a server that exits on its own."""
        deadline = time.monotonic() + self.wait_seconds
        up, last_answer = False, "no answer yet"
        while self.requested is None:
            if exited := [server for server in self.servers if not server.running()]:
                for server in exited:
                    code = server.process.returncode if server.process else None
                    self.console.say(f"{server.name} exited with code {code}; stopping the others.")
                if not up:
                    self.console.say("Paydesk did not come up: see the lines above for why.")
                return 1
            if not up:
                up, last_answer = self.probe()
                if up:
                    self.console.write(banner.encode())
                elif time.monotonic() > deadline:
                    self.console.say(
                        f"Paydesk did not come up within {self.wait_seconds:g} s: {self.health_url} gave "
                        f"{last_answer}. The [web] lines above should say why; stopping."
                    )
                    return 1
            self.wake.wait(1.0 if not up else 0.5)
            self.wake.clear()
        return 0

    def probe(self) -> tuple[bool, str]:
        try:
            with urllib.request.urlopen(self.health_url, timeout=2) as reply:  # noqa: S310 - our own http URL
                return reply.status == 200, f"HTTP {reply.status}"
        except urllib.error.HTTPError as exc:
            if exc.headers.get_content_type() == "application/json":  # /health/ says what is down
                return False, f"HTTP {exc.code} {' '.join(exc.read(300).decode(errors='replace').split())}"
            return False, f"HTTP {exc.code} {exc.reason}"
        except (urllib.error.URLError, OSError) as exc:
            reason = getattr(exc, "reason", exc)
            return False, f"no answer ({reason})"

    def stop(self) -> None:
        running = [server for server in self.servers if server.running()]
        if running:
            self.console.say(f"stopping {', '.join(server.name for server in running)} ...")
        for server in running:
            self.send(server, signal.SIGTERM)
        deadline = time.monotonic() + self.stop_seconds
        while any(server.running() for server in running) and time.monotonic() < deadline and not self.hurry:
            time.sleep(0.1)
        for server in self.servers:
            if server.process is None:
                continue
            if server.running():
                self.console.say(f"{server.name} did not stop within {self.stop_seconds:g} s; killing it.")
            # The whole group: what a server forked (gunicorn workers, the Celery pool) goes with it, even after
            # the server itself has exited. Its group id stays reserved while any member lives, so this kill
            # cannot reach anyone else's processes.
            self.kill_group(server)
            server.process.wait()
        for server in self.servers:
            if server.reader is not None:
                server.reader.join(timeout=5)
        self.console.say("stopped.")

    def send(self, server: Server, signum: int) -> None:
        if server.process is None:
            return
        try:
            os.kill(server.process.pid, signum)
        except ProcessLookupError:
            pass

    def kill_group(self, server: Server) -> None:
        if server.process is None:
            return
        try:
            os.killpg(server.process.pid, signal.SIGKILL)
        except OSError as exc:
            if exc.errno not in (errno.ESRCH, errno.EPERM):  # ESRCH: nothing left, as it should be
                raise


def port_in_use(host: str, port: int) -> bool:
    with socket.socket() as sock:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as gunicorn binds
        try:
            sock.bind((host, port))
        except OSError:
            return True
    return False


def mail_destination(settings: object) -> str:
    """Where the e-mails of this run go, for the banner: the worker sends them (buyers' confirmations, receipts,
    refund and invoice notices; staff alerts) through the configured backend."""
    backend = str(getattr(settings, "EMAIL_BACKEND", ""))
    if backend.endswith("console.EmailBackend"):
        return "printed in this window by the worker"
    if backend.endswith("filebased.EmailBackend"):
        return f"written to {getattr(settings, 'EMAIL_FILE_PATH', '')}/, one file each"
    if backend.endswith("smtp.EmailBackend"):
        return f"sent through {getattr(settings, 'EMAIL_HOST', '')}:{getattr(settings, 'EMAIL_PORT', '')}"
    if backend.endswith("locmem.EmailBackend") or backend.endswith("dummy.EmailBackend"):
        return "kept in memory, not shown"
    return f"handed to {backend}"


def django_settings() -> object:
    """The site's settings as the worker reads them (the environment, then the project's .env)."""
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from django.conf import settings

    return settings


def main() -> int:
    host = os.environ.get("HOST", "127.0.0.1")
    port = int(os.environ.get("PORT", "8000"))
    site_url = os.environ.get("SITE_URL", f"http://{host}:{port}")
    data = Path(os.environ.get("CELERY_DATA_DIR", "var/celery"))
    wait_seconds = float(os.environ.get("RUN_WAIT_SECONDS", "60"))
    stop_seconds = float(os.environ.get("RUN_STOP_SECONDS", "15"))
    python = sys.executable
    if port_in_use(host, port):
        print(  # noqa: T201
            f"Port {port} on {host} is in use (another `make run`?). Stop it, or pick another port: "
            f"PORT={port + 1} make run",
            file=sys.stderr,
        )
        return 1
    # gunicorn finishes requests in flight on SIGTERM: give it less time than we wait before killing; and no
    # control socket, since its default path (one per home directory) would be shared by every run on the machine
    web = "gunicorn config.wsgi --workers 2 --threads 4 --access-logfile - --no-control-socket"
    web += f" --bind {host}:{port} --graceful-timeout {max(stop_seconds - 5, 1):g}"
    worker = "celery -A config worker --loglevel=INFO --concurrency=2 --hostname=worker@%h"
    beat = "celery -A config beat --loglevel=INFO"
    servers = [
        Server("web", [python, "-m", *web.split()]),
        Server("worker", [python, "-m", *worker.split()]),
        Server("beat", [python, "-m", *beat.split(), f"--schedule={data / 'beat-schedule'}"]),
    ]
    probe_host = "127.0.0.1" if host in {"0.0.0.0", ""} else host  # noqa: S104 - compared, not bound
    supervisor = Supervisor(
        servers,
        health_url=f"http://{probe_host}:{port}/health/?workers=0",
        wait_seconds=wait_seconds,
        stop_seconds=stop_seconds,
    )
    banner = f"""
  Paydesk is running.
    Back-office: {site_url}/admin/     (admin / paydesk-admin, sales / paydesk-sales)
    Storefront:  {site_url}/           (buyer@acme.example / paydesk-buyer)
    E-mails:     {mail_destination(django_settings())}
  Press Ctrl-C to stop the web server, worker and beat.

"""
    code = supervisor.run(banner)
    if supervisor.requested is not None and code == 128 + supervisor.requested:
        # die by the signal, as a well-behaved foreground program does, so a calling shell or make stops too
        signal.signal(supervisor.requested, signal.SIG_DFL)
        os.kill(os.getpid(), supervisor.requested)
    return code


if __name__ == "__main__":
    sys.exit(main())
