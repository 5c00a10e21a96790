"""Channel-level services: start syncs, disable and re-enable channels."""

from __future__ import annotations

from datetime import datetime

from django.core.exceptions import ValidationError
from django.db import transaction

from marketplaces import jobs
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from synchistory import services as history
from synchistory.models import SyncRun
from warehouses.models import Organization, Warehouse

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
    to_worker: bool = True,
) -> SyncRun:
    """Queue a sync run and hand it to a worker once the transaction commits (``to_worker``),
    or leave it queued for the caller to run (``manage.py sync_channel``, in the foreground).

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
    if to_worker:
        jobs.enqueue_run(run)
    return run


def disable_channel(channel: SalesChannel) -> SalesChannel:
    """Inactive: nothing syncs, automatic or manual, until it is re-enabled (SPEC §8)."""
    SalesChannel.objects.filter(id=channel.id).update(
        status=SalesChannel.Status.INACTIVE, status_reason="Disabled by an admin."
    )
    channel.refresh_from_db()
    return channel


def enable_channel(channel: SalesChannel) -> SalesChannel:
    """Active again. Order sync resumes from its checkpoint (minus the overlap), so the orders
    placed while it was inactive come in, and none is imported twice."""
    if channel.status == SalesChannel.Status.NEEDS_REAUTHORIZATION:
        raise ValidationError(
            "Amazon no longer accepts this channel's authorization: connect it again."
        )
    with transaction.atomic():
        SalesChannel.objects.filter(id=channel.id).update(
            status=SalesChannel.Status.ACTIVE, status_reason=""
        )
        # Stock changes while inactive marked nothing for this channel: push every SKU again.
        Listing.objects.filter(
            channel_id=channel.id, fulfillment_channel=FulfillmentChannel.MERCHANT
        ).update(push_pending=True)
    channel.refresh_from_db()
    return channel


@transaction.atomic
def set_warehouse_mapping(channel: SalesChannel, warehouse: Warehouse | None) -> SalesChannel:
    """Map a warehouse to the channel (or turn mapping off with ``None``).

    New orders of the channel then commit and ship from it, and the stock Amazon is told is
    that warehouse's available quantity; so every merchant-fulfilled SKU is pushed again.
    Existing orders keep the warehouse they have.
    """
    organization = Organization.load()
    if warehouse is not None:
        if not organization.multi_warehouse_enabled:
            raise ValidationError(
                "Warehouse mapping needs multi-warehouse: turn it on in Settings › Organization."
            )
        if not warehouse.is_active:
            raise ValidationError(f"{warehouse.name} is inactive.")
    locked = SalesChannel.objects.select_for_update().get(id=channel.id)
    if locked.mapped_warehouse_id == (warehouse.id if warehouse else None):
        return locked
    locked.mapped_warehouse = warehouse
    locked.save(update_fields=["mapped_warehouse", "updated_at"])
    Listing.objects.filter(channel=locked, fulfillment_channel=FulfillmentChannel.MERCHANT).update(
        push_pending=True
    )
    return locked


def reinitiate(
    run: SyncRun, *, requested_by_id: int | None = None, to_worker: bool = True
) -> SyncRun:
    """Fetch again exactly what ``run`` brought in; the new run links to the old one."""
    if run.kind not in (SyncRun.Kind.ITEMS, SyncRun.Kind.ORDERS):
        raise ValidationError("Only item and order syncs can be re-initiated.")
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
    )
