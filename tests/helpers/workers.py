"""Real ``celery worker`` processes: their command line, their environment, their log.

Used by the ``start_worker`` fixture (tests/fixtures/services.py), the chaos rig and
benchmarks/load_scale.py, so the three start workers the same way.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Mapping
from pathlib import Path
from urllib.parse import quote

import pytest

ROOT = Path(__file__).resolve().parents[2]

# Variables of the surrounding shell that must not leak into a worker started for one test.
_NOT_INHERITED = ("DATABASE_URL", "REDIS_URL", "VAR_DIR", "CELERY_TASK_ALWAYS_EAGER")


class Worker:
    """One `celery worker` subprocess; its output goes to a log file the test can show."""

    def __init__(self, process: subprocess.Popen[bytes], log_path: Path) -> None:
        self.process = process
        self.log_path = log_path

    def log_tail(self, lines: int = 60) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no worker output)"
        return "\n".join(text.splitlines()[-lines:])

    def assert_alive(self) -> None:
        code = self.process.poll()
        if code is not None:
            pytest.fail(f"the Celery worker exited with code {code}:\n{self.log_tail()}")

    def request_stop(self) -> None:
        if self.process.poll() is None:
            self.process.send_signal(signal.SIGTERM)  # warm shutdown

    def stop(self) -> None:
        if self.process.poll() is None:
            self.request_stop()
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()


StartWorker = Callable[..., Worker]


def worker_argv(
    queue: str, node_name: str, *, loglevel: str = "info", concurrency: int | None = None
) -> list[str]:
    """``celery -A inventory_sync worker`` with the solo pool on one queue, no cluster chatter."""
    argv = [sys.executable, "-m", "celery", "-A", "inventory_sync", "worker", "--pool", "solo"]
    if concurrency is not None:
        argv += ["--concurrency", str(concurrency)]
    return [
        *argv,
        "-Q",
        queue,
        "-n",
        node_name,
        "-l",
        loglevel,
        # One short-lived worker: no cluster chatter to wait for.
        "--without-gossip",
        "--without-mingle",
        "--without-heartbeat",
    ]


def worker_env(overrides: Mapping[str, str]) -> dict[str, str]:
    env = {key: value for key, value in os.environ.items() if key not in _NOT_INHERITED}
    env.update(
        DJANGO_SETTINGS_MODULE="inventory_sync.settings",
        # The worker runs in a scratch folder (kombu's filesystem transport writes a `control`
        # folder into the working directory), so the project goes on the import path.
        PYTHONPATH=os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH", "")])),
        PYTHONUNBUFFERED="1",
        CONN_MAX_AGE="0",
    )
    env.update(overrides)
    return env


def database_url(settings_dict: Mapping[str, object]) -> str:
    """A DATABASE_URL for the database a connection points at (pytest-django's test database)."""
    user = quote(str(settings_dict.get("USER") or ""), safe="")
    password = quote(str(settings_dict.get("PASSWORD") or ""), safe="")
    credentials = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = str(settings_dict.get("HOST") or "localhost")
    port = f":{settings_dict['PORT']}" if settings_dict.get("PORT") else ""
    return f"postgres://{credentials}{host}{port}/{quote(str(settings_dict['NAME']), safe='')}"
