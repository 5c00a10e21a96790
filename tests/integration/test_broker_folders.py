"""A fresh checkout queues work without `make run` having made the broker's folders first."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_queueing_a_task_on_a_fresh_checkout_creates_the_filesystem_broker_folders(
    tmp_path: Path,
) -> None:
    env = {
        key: value
        for key, value in os.environ.items()
        if key not in {"REDIS_URL", "CELERY_TASK_ALWAYS_EAGER"}
    }
    env["VAR_DIR"] = str(tmp_path)
    env["DJANGO_SETTINGS_MODULE"] = "inventory_sync.settings"
    queue_a_task = (
        "import django; django.setup(); "
        "from marketplaces import jobs; jobs.send(jobs.CHECK_DRIFT, 1)"
    )

    result = subprocess.run(
        [sys.executable, "-c", queue_a_task],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )

    assert result.returncode == 0, result.stderr
    assert len(list((tmp_path / "celery" / "queue").iterdir())) == 1  # the task, queued
