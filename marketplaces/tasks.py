"""Celery tasks: thin, primitive ids in, safe to run twice. Each one calls a service.

What a sync task does on a failure (retry later, give up, mark the channel) is decided in
``marketplaces.runs``; the product queues these tasks by name through ``marketplaces.jobs``.
"""

from __future__ import annotations

from typing import Any

from celery import Task, shared_task

from marketplaces import runs, schedule
from marketplaces.amazon import drift, order_sync
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import AmazonThrottled, AmazonTransientError
from marketplaces.models import SalesChannel

# How long one complete_awaiting_orders_task asks Amazon (the scheduler queues one a minute).
COMPLETE_SECONDS = 50.0


@shared_task(bind=True, acks_late=True, max_retries=None)
def sync_orders_task(self: Task[Any, Any], run_id: int, transient_failures: int = 0) -> None:
    runs.run_in_worker(self, run_id, transient_failures)


@shared_task(bind=True, acks_late=True, max_retries=None)
def sync_items_task(self: Task[Any, Any], run_id: int, transient_failures: int = 0) -> None:
    runs.run_in_worker(self, run_id, transient_failures)


@shared_task(bind=True, acks_late=True, max_retries=None)
def push_stock_task(self: Task[Any, Any], run_id: int, transient_failures: int = 0) -> None:
    runs.run_in_worker(self, run_id, transient_failures)


@shared_task(bind=True, acks_late=True, max_retries=None)
def push_shipments_task(self: Task[Any, Any], run_id: int, transient_failures: int = 0) -> None:
    runs.run_in_worker(self, run_id, transient_failures)


@shared_task(bind=True, acks_late=True, max_retries=None)
def refresh_fba_inventory_task(
    self: Task[Any, Any], run_id: int, transient_failures: int = 0
) -> None:
    runs.run_in_worker(self, run_id, transient_failures)


@shared_task(bind=True, acks_late=True, max_retries=None)
def sync_returns_task(self: Task[Any, Any], run_id: int, transient_failures: int = 0) -> None:
    runs.run_in_worker(self, run_id, transient_failures)


@shared_task
def push_stock_soon_task(channel_id: int) -> None:
    """Debounced by its countdown: many stock changes in a burst make one push."""
    schedule.push_stock_soon(channel_id)


@shared_task
def push_shipments_soon_task(channel_id: int) -> None:
    schedule.push_shipments_soon(channel_id)


@shared_task
def schedule_automatic_syncs_task() -> int:
    """Beat calls this every minute: start each active channel's due syncs."""
    return schedule.start_due_syncs()


@shared_task
def reconcile_pushed_stock_task() -> int:
    """Beat calls this every quarter hour: push any listing left out of step with its stock."""
    return schedule.reconcile_pushed_stock()


@shared_task(bind=True, acks_late=True, max_retries=5)
def check_drift_task(self: Task[Any, Any], channel_id: int) -> dict[str, Any]:
    """Daily, and on demand from Show Details: compare Amazon's quantities with ours."""
    channel = SalesChannel.objects.filter(id=channel_id, status=SalesChannel.Status.ACTIVE).first()
    if channel is None:
        return {"checked": 0, "drifted": []}
    try:
        report = drift.check_drift(channel, client_for(channel))
    except (AmazonThrottled, AmazonTransientError) as error:
        raise self.retry(countdown=getattr(error, "retry_after", 60) or 60) from None
    return {"checked": report.checked, "drifted": report.drifted}


@shared_task
def check_drift_all_task() -> int:
    return schedule.check_drift_everywhere()


@shared_task
def complete_awaiting_orders_task(channel_id: int) -> int:
    """Queued by the scheduler each minute while orders await Amazon's details: getOrder at
    its quota's pace for most of the minute, so the next tick's task rarely overlaps it (if it
    does, an order is asked for twice and imported unchanged the second time)."""
    channel = SalesChannel.objects.filter(
        id=channel_id, status=SalesChannel.Status.ACTIVE, sync_orders=True
    ).first()
    if channel is None:
        return 0
    return order_sync.complete_awaiting_orders(
        channel, client_for(channel), seconds=COMPLETE_SECONDS
    )
