"""What the benchmarks that run real processes share: a fresh PostgreSQL database, Redis, a free port, and the
web server and workers started and stopped as process groups. Import it before Django is set up."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent


def reachable(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=1).close()
    except OSError:
        return False
    return True


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def environment(name: str, *, db_url: str, redis_url: str, port: int, **extra: str) -> dict[str, str]:
    """Set and return the environment of the benchmark and of the processes it starts; exits (0) when PostgreSQL
    or Redis is not there, as a benchmark prints figures and does not fail."""
    if not (reachable("127.0.0.1", 5432) and reachable("127.0.0.1", 6379)):
        print(f"{name}: needs PostgreSQL and Redis on 127.0.0.1; skipped")
        sys.exit(0)
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings",
        "DJANGO_SECRET_KEY": os.environ.get("DJANGO_SECRET_KEY", "bench-secret"),
        "FIELD_ENCRYPTION_KEYS": "yCgTT1jRVUQ1F4qbdN9XbSoZ06Ye6QYy0KbyuYg3vQg=",
        "DJANGO_DEBUG": "false",
        "DJANGO_SECURE_SSL_REDIRECT": "false",
        "DATABASE_URL": db_url,
        "REDIS_URL": redis_url,
        "SITE_URL": f"http://127.0.0.1:{port}",
        "LOG_LEVEL": "WARNING",
        **extra,
    }
    os.environ.update(env)
    return env


def fresh_database(db_url: str) -> None:
    import psycopg

    admin_url = db_url.rsplit("/", 1)[0] + "/postgres"
    db_name = db_url.rsplit("/", 1)[1]
    with psycopg.connect(admin_url, autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{db_name}" WITH (FORCE)')
        conn.execute(f'CREATE DATABASE "{db_name}"')


def start(env: dict[str, str], *args: str) -> subprocess.Popen:
    return subprocess.Popen(args, cwd=ROOT, env=env, start_new_session=True, stdout=subprocess.DEVNULL)  # noqa: S603


def cpu_seconds(process: subprocess.Popen) -> float:
    """CPU time (user and system) used so far by a process we started and every process it forked; read it before
    stopping them, since a child's time is gone once it has exited."""
    import psutil

    try:
        root = psutil.Process(process.pid)
        tree = [root, *root.children(recursive=True)]
    except psutil.NoSuchProcess:
        return 0.0
    total = 0.0
    for member in tree:
        try:
            times = member.cpu_times()
        except psutil.NoSuchProcess:
            continue
        total += times.user + times.system
    return total


def stop(process: subprocess.Popen, sig: int = signal.SIGTERM) -> None:
    os.killpg(process.pid, sig)
    try:
        process.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)


def web_server(env: dict[str, str], port: int, workers: int = 2, threads: int = 8) -> subprocess.Popen:
    """gunicorn serving the site (webhooks and sandboxes), once it answers."""
    process = start(
        env,
        str(BIN / "gunicorn"),
        "config.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--threads",
        str(threads),
    )
    for _ in range(100):
        if reachable("127.0.0.1", port):
            break
        time.sleep(0.2)
    return process


def celery_worker(env: dict[str, str], name: str, concurrency: int = 1) -> subprocess.Popen:
    return start(
        env,
        str(BIN / "celery"),
        "-A",
        "config",
        "worker",
        "--concurrency",
        str(concurrency),
        "--loglevel",
        "WARNING",
        "--without-gossip",
        "--without-mingle",
        "-n",
        f"{name}@%h",
    )
