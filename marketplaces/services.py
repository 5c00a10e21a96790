"""Channel-level services: start a sync (every path: pages, schedule, commands), re-initiate one."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError

from accounts import audit
from marketplaces import jobs
from marketplaces.models import SalesChannel
from synchistory import services as history
from synchistory.models import SyncRun

MODULE_FOR_KIND = {
    SyncRun.Kind.ITEMS: "sync_items",
    SyncRun.Kind.ORDERS: "sync_orders",
    SyncRun.Kind.STOCK: "sync_stock",
    SyncRun.Kind.SHIPMENTS: "sync_shipments",
    # The Items module brings in what Amazon knows of the listings, FBA stock included.
    SyncRun.Kind.FBA_INVENTORY: "sync_items",
    SyncRun.Kind.RETURNS: "sync_returns",
}
# Kinds a finished run can be re-initiated of: items and orders fetch again exactly what the
# run brought in, returns read the run's period again.
REINITIABLE_KINDS = (SyncRun.Kind.ITEMS, SyncRun.Kind.ORDERS, SyncRun.Kind.RETURNS)


def request_sync(
    channel: SalesChannel,
    kind: str,
    trigger: str,
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    reinitiates: SyncRun | None = None,
    requested_by_id: int | None = None,
    to_worker: bool = True,
    actor: audit.Who = None,
) -> SyncRun:
    """Queue a sync run and hand it to a worker once the transaction commits (``to_worker``),
    or leave it queued for the caller to run (``manage.py sync_channel``, in the foreground).

    Refuses (ValidationError with a message for the user) an inactive channel, a module that is
    switched off, or a run of the same kind that is already queued or running. A manual or
    re-initiated run writes its audit event (``actor``: who asked, None for the system).
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
    if trigger == SyncRun.Trigger.MANUAL:
        audit.record(
            actor, "sync-started", target=run, detail={"kind": run.kind, "channel": channel.pk}
        )
    elif trigger == SyncRun.Trigger.REINITIATED and reinitiates is not None:
        audit.record(actor, "sync-reinitiated", target=run, detail={"from_run": reinitiates.pk})
    if to_worker:
        jobs.enqueue_run(run)
    return run


def reinitiate(
    run: SyncRun,
    *,
    requested_by_id: int | None = None,
    to_worker: bool = True,
    actor: audit.Who = None,
) -> SyncRun:
    """Fetch again exactly what ``run`` brought in; the new run links to the old one."""
    if run.kind not in REINITIABLE_KINDS:
        raise ValidationError("Only item, order and returns syncs can be re-initiated.")
    if not run.is_final:
        raise ValidationError("This run has not finished yet.")
    if not run.records.exists():
        raise ValidationError("This run brought in no records to fetch again.")
    return request_sync(
        run.channel,
        run.kind,
        SyncRun.Trigger.REINITIATED,
        window_start=run.window_start,
        window_end=run.window_end,
        reinitiates=run,
        requested_by_id=requested_by_id,
        to_worker=to_worker,
        actor=actor,
    )
