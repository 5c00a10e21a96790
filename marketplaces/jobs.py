"""Handing work to the Celery workers: the one way the product queues a task.

The tasks call the services, so the services (and the signal receivers) cannot import the task
functions without a cycle; they name them here instead. ``MarketplacesConfig.ready`` imports
``marketplaces.tasks``, so every name is registered in any process that set Django up, and a
task queued by name behaves as one queued through its own ``.apply_async`` (eager mode
included).
"""

from __future__ import annotations

from typing import Any

from celery import current_app
from django.db import transaction

from synchistory.models import SyncRun

SYNC_ITEMS = "marketplaces.tasks.sync_items_task"
SYNC_ORDERS = "marketplaces.tasks.sync_orders_task"
PUSH_STOCK = "marketplaces.tasks.push_stock_task"
PUSH_STOCK_SOON = "marketplaces.tasks.push_stock_soon_task"
PUSH_SHIPMENTS = "marketplaces.tasks.push_shipments_task"
PUSH_SHIPMENTS_SOON = "marketplaces.tasks.push_shipments_soon_task"
REFRESH_FBA_INVENTORY = "marketplaces.tasks.refresh_fba_inventory_task"
SYNC_RETURNS = "marketplaces.tasks.sync_returns_task"
CHECK_DRIFT = "marketplaces.tasks.check_drift_task"

TASK_FOR_KIND = {
    SyncRun.Kind.ITEMS: SYNC_ITEMS,
    SyncRun.Kind.ORDERS: SYNC_ORDERS,
    SyncRun.Kind.STOCK: PUSH_STOCK,
    SyncRun.Kind.SHIPMENTS: PUSH_SHIPMENTS,
    SyncRun.Kind.FBA_INVENTORY: REFRESH_FBA_INVENTORY,
    SyncRun.Kind.RETURNS: SYNC_RETURNS,
}


def enqueue(
    task_name: str,
    *args: object,
    countdown: float | None = None,
    expires: float | None = None,
) -> None:
    """Queue ``task_name(*args)`` once the current transaction commits (at once outside one):
    a worker never starts on rows it cannot see yet, and a rolled-back change queues nothing.
    ``expires``: seconds after which a worker drops it unstarted (a periodic task's next
    tick queues another)."""
    transaction.on_commit(lambda: send(task_name, *args, countdown=countdown, expires=expires))


def enqueue_run(run: SyncRun) -> None:
    """Hand a queued sync run to a worker (after commit)."""
    enqueue(TASK_FOR_KIND[SyncRun.Kind(run.kind)], run.id)


def send(
    task_name: str,
    *args: object,
    countdown: float | None = None,
    expires: float | None = None,
) -> None:
    """Queue now, whatever the transaction: for callers that already run after a commit."""
    task = current_app.tasks[task_name]
    options: dict[str, Any] = {"countdown": countdown, "expires": expires}
    task.apply_async(args, **{name: value for name, value in options.items() if value is not None})
