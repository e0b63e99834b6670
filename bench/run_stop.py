"""How often stopping `make run` leaves nothing behind: N start/stop cycles of the real run script.

Each cycle starts scripts/run.sh in a session of its own (SQLite and the filesystem broker in a temporary
folder, migrated once), waits for the banner and for gunicorn's workers and the Celery pool to exist (as the
acceptance test does), then stops it: odd cycles with Ctrl-C (SIGINT to the process group, as a terminal sends
it), even ones with SIGTERM to the script alone.
A stop is clean when, the moment the script has exited, no process of its session is left and the port is
free. Also printed: how many were still left 5 s later (orphans rather than slow stops), how many never
exited, and stop times.
Set BENCH_RUN_STOPS to change N (default 20).
"""

from __future__ import annotations

import os
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import psutil

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests.test_run_script import port_is_free, session_processes, start  # noqa: E402

N = int(os.environ.get("BENCH_RUN_STOPS", "20"))


def describe(process: psutil.Process) -> str:
    try:
        return " ".join(process.cmdline()[1:4])
    except psutil.Error:
        return "(gone)"


def main() -> None:
    clean = {"ctrl-c": [0, 0], "sigterm": [0, 0]}
    orphaned, hung, stop_times = 0, 0, []
    with tempfile.TemporaryDirectory() as folder:
        data_dir = Path(folder)
        for cycle in range(N):
            how = "ctrl-c" if cycle % 2 == 0 else "sigterm"
            clean[how][1] += 1
            run = start(data_dir, f"cycle-{cycle}")
            run.wait_until_all_started()
            sent = time.monotonic()
            if how == "ctrl-c":
                os.killpg(run.process.pid, signal.SIGINT)
            else:
                run.process.send_signal(signal.SIGTERM)
            try:
                run.process.wait(timeout=60)
            except subprocess.TimeoutExpired:
                hung += 1  # still running a minute after the signal: a stop that never ends
                print(f"cycle {cycle + 1:2}/{N} {how:8} did not exit within 60 s")
                run.kill_leftovers()
                continue
            stop_times.append(time.monotonic() - sent)
            left, free = session_processes(run.process.pid), port_is_free(run.port)
            clean[how][0] += not left and free
            names = sorted({describe(process) for process in left})
            time.sleep(5)
            orphaned += bool(session_processes(run.process.pid))
            print(f"cycle {cycle + 1:2}/{N} {how:8} left at exit: {len(left)} {names} port free: {free}")
            run.kill_leftovers()
    total = sum(count for count, _ in clean.values())
    print(
        f"clean stops: {total}/{N} (Ctrl-C {clean['ctrl-c'][0]}/{clean['ctrl-c'][1]}, "
        f"SIGTERM to the script {clean['sigterm'][0]}/{clean['sigterm'][1]}); "
        f"processes still there 5 s later: {orphaned}/{N}; no exit within 60 s: {hung}/{N}"
    )
    if stop_times:
        print(f"stop time: median {statistics.median(stop_times):.1f} s, max {max(stop_times):.1f} s")


if __name__ == "__main__":
    main()
