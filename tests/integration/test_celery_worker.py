"""Tasks travel through a real broker to a real worker process and change the real database.

The rest of the suite calls services directly; these tests prove the wiring around them:
settings → broker → `celery worker` → task → ORM, in separate processes as in production.
"""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import time
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.db import connection
from django.utils import timezone

from inventory_sync.celery import app
from marketplaces.models import SalesChannel
from synchistory.models import SyncRecord, SyncRun
from tests.helpers.services import require_service
from tests.helpers.workers import ROOT, StartWorker, database_url, worker_env

PRUNE_TASK = "synchistory.tasks.prune_sync_history_task"
WAIT_SECONDS = 60.0


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_it_prunes_expired_runs_through_redis_and_a_real_worker(
    start_worker: StartWorker,
) -> None:
    require_service(bool(settings.REDIS_URL), "Redis (REDIS_URL is not set)")
    require_service(redis_answers(settings.REDIS_URL), f"Redis at {settings.REDIS_URL}")
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")

    now = timezone.now()
    channel = SalesChannel.objects.create(name="Amazon.ca", seller_id="A3WORKERTEST")
    expired = SyncRun.objects.create(
        channel=channel,
        kind=SyncRun.Kind.ORDERS,
        trigger=SyncRun.Trigger.AUTOMATIC,
        status=SyncRun.Status.SUCCEEDED,
        finished_at=now - settings.SYNC_HISTORY_KEEP_SUCCEEDED - timedelta(days=1),
    )
    SyncRecord.objects.create(
        run=expired,
        record_type=SyncRecord.RecordType.ORDER,
        external_id="702-0000001-0000001",
        outcome=SyncRecord.Outcome.SYNCED,
    )
    fresh = SyncRun.objects.create(
        channel=channel,
        kind=SyncRun.Kind.ITEMS,
        trigger=SyncRun.Trigger.AUTOMATIC,
        status=SyncRun.Status.SUCCEEDED,
        finished_at=now - timedelta(days=1),
    )

    # A queue of its own: no other worker on this Redis can take the task, and this worker
    # takes nothing else.
    queue = f"test-integration-{uuid.uuid4().hex}"
    worker = start_worker(
        queue=queue,
        env={
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": settings.REDIS_URL,
        },
    )
    # Through Redis explicitly: the suite points the app's default broker at memory.
    with app.connection_for_write(settings.REDIS_URL) as broker:
        app.send_task(PRUNE_TASK, queue=queue, connection=broker)

    deadline = time.monotonic() + WAIT_SECONDS
    while SyncRun.objects.filter(pk=expired.pk).exists():
        worker.assert_alive()
        if time.monotonic() > deadline:
            pytest.fail(
                f"the expired run was still there after {WAIT_SECONDS:.0f}s; worker output:\n"
                f"{worker.log_tail()}"
            )
        time.sleep(0.25)

    assert list(SyncRun.objects.values_list("pk", flat=True)) == [fresh.pk]
    assert not SyncRecord.objects.filter(run_id=expired.pk).exists()
    worker.assert_alive()


CREATE_RUNS_AND_QUEUE_PRUNE = """
from datetime import timedelta
from django.conf import settings
from django.utils import timezone
from marketplaces.models import SalesChannel
from synchistory.models import SyncRun
from synchistory.tasks import prune_sync_history_task

now = timezone.now()
channel = SalesChannel.objects.create(name="Amazon.ca", seller_id="A3FILESYSTEM")
common = dict(channel=channel, trigger="automatic", status="succeeded")
expired = SyncRun.objects.create(
    kind="orders", finished_at=now - settings.SYNC_HISTORY_KEEP_SUCCEEDED - timedelta(days=1),
    **common,
)
fresh = SyncRun.objects.create(kind="items", finished_at=now - timedelta(days=1), **common)
prune_sync_history_task.delay()
print(expired.pk, fresh.pk)
"""


def run_manage(args: list[str], env: dict[str, str], cwd: Path) -> str:
    result = subprocess.run(
        [sys.executable, str(ROOT / "manage.py"), *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, f"manage.py {args[0]} failed:\n{result.stdout}{result.stderr}"
    return result.stdout


def test_it_passes_tasks_between_processes_over_the_default_filesystem_broker(
    start_worker: StartWorker, tmp_path: Path
) -> None:
    """The no-services default of `make run`: SQLite and kombu's filesystem transport in VAR_DIR.

    Everything happens in other processes on a scratch VAR_DIR: one process queues the task the
    way the web does, a worker process runs it, and the test reads the SQLite file directly.
    """
    var_dir = tmp_path / "var"
    for folder in ("queue", "processed"):
        # kombu does not create them; `make run` (setup_demo and scripts/run.py) does.
        (var_dir / "celery" / folder).mkdir(parents=True)
    workdir = tmp_path / "work"
    workdir.mkdir()
    env = worker_env({"VAR_DIR": str(var_dir)})
    assert "REDIS_URL" not in env and "DATABASE_URL" not in env

    run_manage(["migrate", "--noinput", "-v", "0"], env, workdir)
    printed = run_manage(["shell", "-c", CREATE_RUNS_AND_QUEUE_PRUNE], env, workdir)
    expired_pk, fresh_pk = (int(pk) for pk in printed.split()[-2:])
    assert list((var_dir / "celery" / "queue").iterdir()), "the task was not written to the queue"

    worker = start_worker(env={"VAR_DIR": str(var_dir)}, cwd=workdir)
    database = var_dir / "inventory_sync.sqlite3"

    def run_ids() -> list[int]:
        with sqlite3.connect(database, timeout=20) as db:
            return [row[0] for row in db.execute("SELECT id FROM synchistory_syncrun ORDER BY id")]

    deadline = time.monotonic() + WAIT_SECONDS
    while expired_pk in run_ids():
        worker.assert_alive()
        if time.monotonic() > deadline:
            pytest.fail(
                f"the expired run was still there after {WAIT_SECONDS:.0f}s; worker output:\n"
                f"{worker.log_tail()}"
            )
        time.sleep(0.25)

    assert run_ids() == [fresh_pk]
    assert "succeeded" in worker.log_tail(), worker.log_tail()
    assert os.listdir(var_dir / "celery" / "queue") == []
