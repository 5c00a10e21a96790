"""Real Celery worker processes for the integration tests, always stopped afterwards."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
from collections.abc import Callable, Iterator, Mapping
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


StartWorker = Callable[..., Worker]


_DATABASE_FIXTURES = ("db", "transactional_db", "django_db_reset_sequences")


def _uses_test_database(request: pytest.FixtureRequest) -> bool:
    marked = request.node.get_closest_marker("django_db") is not None
    return marked or any(name in request.fixturenames for name in _DATABASE_FIXTURES)


@pytest.fixture
def start_worker(tmp_path: Path, request: pytest.FixtureRequest) -> Iterator[StartWorker]:
    """Start `celery -A inventory_sync worker` with the given environment; stopped at teardown.

    Tests that also use a database fixture must request it *before* this fixture, so the worker
    is stopped before pytest-django flushes or drops the database under it. A worker on no test
    database (its own SQLite file in ``tmp_path``) is only told to stop: its warm shutdown waits
    out the broker's poll (4 s on the filesystem transport) while later tests run, and the
    session waits for it at the end.
    """
    workers: list[Worker] = []

    def start(*, env: Mapping[str, str], queue: str = "celery", cwd: Path | None = None) -> Worker:
        workdir = cwd or tmp_path / f"worker-{len(workers)}"
        workdir.mkdir(parents=True, exist_ok=True)
        log_path = workdir / "worker.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "inventory_sync",
                    "worker",
                    "--pool",
                    "solo",
                    "--concurrency",
                    "1",
                    "-Q",
                    queue,
                    "-n",
                    f"{queue}@%h",
                    "-l",
                    "info",
                    # One short-lived worker: no cluster chatter to wait for.
                    "--without-gossip",
                    "--without-mingle",
                    "--without-heartbeat",
                ],
                cwd=workdir,
                env=worker_env(env),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        worker = Worker(process, log_path)
        workers.append(worker)
        return worker

    yield start
    if _uses_test_database(request):
        for worker in workers:
            worker.stop()
        return
    for worker in workers:
        worker.request_stop()
        request.config.add_cleanup(worker.stop)
