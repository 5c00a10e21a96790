"""Channel-level services: start syncs, disable and re-enable channels."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from marketplaces.models import SalesChannel
from synchistory import services as history
from synchistory.models import SyncRun

MODULE_FOR_KIND = {
    SyncRun.Kind.ITEMS: "sync_items",
    SyncRun.Kind.ORDERS: "sync_orders",
    SyncRun.Kind.STOCK: "sync_stock",
    SyncRun.Kind.SHIPMENTS: "sync_shipments",
}


def request_sync(
    channel: SalesChannel,
    kind: str,
    trigger: str,
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    reinitiates: SyncRun | None = None,
    requested_by_id: int | None = None,
) -> SyncRun:
    """Queue a sync run and hand it to a worker once the transaction commits.

    Refuses (ValidationError with a message for the user) an inactive channel, a module that is
    switched off, or a run of the same kind that is already queued or running.
    """
    if not channel.is_active:
        raise ValidationError(
            f"{channel.name} is {channel.get_status_display().lower()}: nothing syncs until it "
            "is re-enabled."
        )
    module = MODULE_FOR_KIND[SyncRun.Kind(kind)]
    if trigger == SyncRun.Trigger.AUTOMATIC and not getattr(channel, module):
        raise ValidationError(f"The {kind} module is switched off for {channel.name}.")
    try:
        run = history.start_run(
            channel.id,
            kind,
            trigger,
            window_start=window_start,
            window_end=window_end,
            reinitiates=reinitiates,
            requested_by_id=requested_by_id,
        )
    except history.SyncAlreadyRunning as running:
        raise ValidationError(str(running)) from None
    transaction.on_commit(lambda: dispatch(run))
    return run


def dispatch(run: SyncRun) -> None:
    from marketplaces import tasks

    task = tasks.TASK_FOR_KIND[run.kind]
    task.delay(run.id)
