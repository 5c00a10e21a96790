"""Sync-history retention: successful runs go after one month, failed runs after two."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine

from synchistory.models import SyncRecord, SyncRun
from synchistory.services import prune_sync_history
from tests.factories import SalesChannelFactory, SyncRunFactory

NOW = datetime(2026, 11, 26, 3, 0, tzinfo=UTC)
SECOND = timedelta(seconds=1)


def run_finished(ago: timedelta, status: str, records: int = 0, **kwargs: object) -> SyncRun:
    run = SyncRunFactory.create(status=status, finished_at=NOW - ago, **kwargs)
    SyncRecord.objects.bulk_create(
        SyncRecord(run=run, record_type="order", external_id=f"702-{i}", outcome="synced")
        for i in range(records)
    )
    return run


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_it_deletes_successful_runs_older_than_a_month_with_their_records() -> None:
    channel = SalesChannelFactory.create()
    expired = run_finished(timedelta(days=30) + SECOND, "succeeded", records=3, channel=channel)
    kept = run_finished(timedelta(days=30) - SECOND, "succeeded", records=2, channel=channel)

    result = prune_sync_history()

    assert result.runs_deleted == 1
    assert result.records_deleted == 3
    assert not SyncRun.objects.filter(id=expired.id).exists()
    assert SyncRun.objects.filter(id=kept.id).exists()
    assert SyncRecord.objects.filter(run=kept).count() == 2


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
@pytest.mark.parametrize("status", ["failed", "partial"])
def test_it_keeps_failed_runs_two_months(status: str) -> None:
    channel = SalesChannelFactory.create()
    expired = run_finished(timedelta(days=60) + SECOND, status, records=1, channel=channel)
    kept = run_finished(timedelta(days=60) - SECOND, status, channel=channel)
    # A month-and-a-bit old failure is still there: only successes go after a month.
    kept_too = run_finished(timedelta(days=45), status, channel=channel)

    prune_sync_history()

    remaining = set(SyncRun.objects.values_list("id", flat=True))
    assert remaining == {kept.id, kept_too.id}
    assert expired.id not in remaining


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_it_never_deletes_unfinished_runs() -> None:
    channel = SalesChannelFactory.create()
    old_start = NOW - timedelta(days=400)
    running = SyncRunFactory.create(channel=channel, status="running", finished_at=None)
    SyncRun.objects.filter(id=running.id).update(created_at=old_start)
    queued = SyncRunFactory.create(channel=channel, kind="items", status="queued", finished_at=None)

    assert prune_sync_history().runs_deleted == 0
    assert set(SyncRun.objects.values_list("id", flat=True)) == {running.id, queued.id}


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_it_deletes_in_batches_and_unlinks_re_initiating_runs() -> None:
    channel = SalesChannelFactory.create()
    old = [
        run_finished(timedelta(days=90), "succeeded", records=4, channel=channel) for _ in range(7)
    ]
    recent = run_finished(timedelta(days=1), "succeeded", channel=channel, reinitiates=old[0])

    result = prune_sync_history(batch_size=2)

    assert result.runs_deleted == 7
    assert result.records_deleted == 28
    recent.refresh_from_db()
    assert recent.reinitiates is None
    assert SyncRecord.objects.count() == 0


@pytest.mark.django_db
@time_machine.travel(NOW, tick=False)
def test_the_task_runs_the_retention_service() -> None:
    from synchistory.tasks import prune_sync_history_task

    run_finished(timedelta(days=31), "succeeded")
    assert prune_sync_history_task() == {"runs_deleted": 1, "records_deleted": 0}


def test_beat_schedules_retention_daily() -> None:
    from django.conf import settings

    entry = settings.CELERY_BEAT_SCHEDULE["prune-sync-history"]
    assert entry["task"] == "synchistory.tasks.prune_sync_history_task"
    assert entry["schedule"] == timedelta(days=1)
