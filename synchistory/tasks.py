from __future__ import annotations

from celery import shared_task

from synchistory import services


@shared_task
def prune_sync_history_task() -> dict[str, int]:
    result = services.prune_sync_history()
    return {"runs_deleted": result.runs_deleted, "records_deleted": result.records_deleted}


@shared_task
def reap_dead_runs_task() -> int:
    return services.reap_dead_runs()
