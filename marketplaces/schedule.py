"""When syncs start on their own: the channels' schedule, the debounced pushes, lost tasks.

Beat calls ``start_due_syncs`` every minute; stock changes and new shipments call the
``*_soon`` functions (through their tasks, after a debounce).
"""

from __future__ import annotations

import contextlib
import logging
from datetime import datetime, timedelta

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError
from django.db.models import Count, Q
from django.utils import timezone

from marketplaces import jobs, order_polling, order_stream, stock_levels
from marketplaces.models import (
    FulfillmentChannel,
    Listing,
    SalesChannel,
    SalesOrder,
    SellerCancellation,
    Shipment,
    StockPush,
    mark_for_push,
)
from marketplaces.services import MODULE_FOR_KIND, request_sync
from synchistory import services as history
from synchistory.models import SyncRun
from warehouses import stock
from warehouses.models import Item

logger = logging.getLogger(__name__)


def start_due_syncs(now: datetime | None = None) -> int:
    """Start each active channel's due syncs; returns how many started.

    Orders at ``order_polling.orders_interval`` (Amazon's quota rate without healthy
    notifications, slower with them), items every AMAZON_ITEM_SYNC_HOURS, returns and refunds
    every AMAZON_RETURNS_SYNC_HOURS once the orders are in, stock and shipments as soon as
    there is something to send. Runs whose task was lost are handed out again first.
    """
    now = now or timezone.now()
    started = 0
    redispatch_lost_runs(now)
    deliver_lost_stock_changes()
    item_interval = timedelta(hours=settings.AMAZON_ITEM_SYNC_HOURS)
    healthy: dict[str, bool] = {}  # per seller: the seller's channels share its notifications
    # Channels whose orders await Amazon's details (order_sync.complete_awaiting_orders).
    awaiting = dict(
        SalesOrder.objects.filter(awaiting_details=True)
        .values("channel_id")
        .annotate(count=Count("id"))
        .values_list("channel_id", "count")
    )
    for channel in SalesChannel.objects.filter(status=SalesChannel.Status.ACTIVE):
        seller = channel.seller_id.upper()
        if seller not in healthy:
            healthy[seller] = order_polling.poll_slowly(channel.seller_id, now)
        intervals = {
            SyncRun.Kind.ORDERS: order_polling.orders_interval(
                timedelta(minutes=channel.sync_interval_minutes), healthy[seller]
            ),
            SyncRun.Kind.ITEMS: item_interval,
        }
        if channel.orders_checkpoint is not None:
            # Only once the orders are in: a return of an order not yet imported would only
            # fail (a newly connected channel's first import takes a while).
            intervals[SyncRun.Kind.RETURNS] = timedelta(hours=settings.AMAZON_RETURNS_SYNC_HOURS)
        if Listing.objects.filter(
            channel=channel, fulfillment_channel=FulfillmentChannel.AMAZON
        ).exists():
            intervals[SyncRun.Kind.FBA_INVENTORY] = timedelta(
                minutes=settings.AMAZON_FBA_INVENTORY_MINUTES
            )
        if _has_stock_work(channel):
            intervals[SyncRun.Kind.STOCK] = timedelta(0)
        if (
            Shipment.objects.filter(
                order__channel=channel,
                amazon_status__in=[Shipment.AmazonStatus.PENDING, Shipment.AmazonStatus.SENDING],
            ).exists()
            or SellerCancellation.objects.filter(
                order__channel=channel, amazon_status__in=SellerCancellation.UNSETTLED
            ).exists()
        ):
            intervals[SyncRun.Kind.SHIPMENTS] = timedelta(0)
        if channel.sync_orders and awaiting.get(channel.id):
            jobs.enqueue("marketplaces.tasks.complete_awaiting_orders_task", channel.id, expires=55)
        for kind, interval in intervals.items():
            if not getattr(channel, MODULE_FOR_KIND[kind]):
                continue
            last = (
                SyncRun.objects.filter(channel=channel, kind=kind)
                .order_by("-created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if interval and last and last > now - interval:
                continue
            if kind == SyncRun.Kind.ORDERS and order_stream.streamed_by_another(channel):
                continue  # the seller's order stream about to start takes this channel along
            try:
                request_sync(channel, kind, SyncRun.Trigger.AUTOMATIC)
            except ValidationError:
                continue  # one is already queued or running
            started += 1
    return started


def redispatch_lost_runs(now: datetime) -> int:
    """Hand a queued run whose task is gone back to the workers.

    A queued run blocks every other run of its kind on its channel. Its task can vanish: Redis
    restarted without persistence, a queue purged, a retry that could not be published while
    the broker was down. No retry countdown is longer than twice STALE_AFTER, so a queued run
    untouched for that long has lost its task. Sending it again is safe: claim_run lets one
    delivery run it and makes any other a no-op.
    """
    cutoff = now - 2 * history.stale_after()
    lost = list(
        SyncRun.objects.filter(status=SyncRun.Status.QUEUED)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
        .values_list("id", "kind")
    )
    for run_id, kind in lost:
        # Touched, so it is sent again only if this copy is lost too.
        SyncRun.objects.filter(id=run_id, status=SyncRun.Status.QUEUED).update(heartbeat_at=now)
        logger.warning("Sync run %s was queued with no task in sight; sending it again", run_id)
        jobs.send(jobs.TASK_FOR_KIND[SyncRun.Kind(kind)], run_id)
    return len(lost)


def deliver_lost_stock_changes() -> int:
    """Mark the listings of stock changes whose delivery after their commit failed."""
    try:
        delivered = stock.deliver_stock_changes()
    except DatabaseError:
        logger.exception("Stock changes not delivered to the stock push; trying again next minute")
        return 0
    if delivered:
        logger.warning("Delivered %s stock changes that missed their push on commit", delivered)
    return delivered


RECONCILE_BATCH = 1000


def reconcile_pushed_stock() -> int:
    """Queue a push for every listing Amazon would otherwise keep wrong for good; returns how
    many. The scheduler pushes only pending listings and the drift check compares Amazon with
    the last pushed quantity, so a stock change whose mark was lost is found only here: a
    listing not pending whose last accepted quantity is not the one it should have now."""
    marked = 0
    for channel in SalesChannel.objects.filter(status=SalesChannel.Status.ACTIVE, sync_stock=True):
        listings = Listing.objects.filter(
            channel=channel,
            fulfillment_channel=FulfillmentChannel.MERCHANT,
            push_pending=False,
            item__status=Item.Status.CONFIRMED,
        ).order_by("id")
        last_id = 0
        found: list[int] = []
        while batch := list(listings.filter(id__gt=last_id)[:RECONCILE_BATCH]):
            last_id = batch[-1].id
            found += [listing.id for listing in stock_levels.out_of_step(channel, batch)]
        if not found:
            continue
        # Only those still not pending: one marked meanwhile already has its push coming.
        marked += mark_for_push(Listing.objects.filter(id__in=found, push_pending=False))
        logger.warning(
            "%s: %s listings were out of step with the stock to push; pushing them",
            channel,
            len(found),
        )
        jobs.enqueue(jobs.PUSH_STOCK_SOON, channel.id)
    return marked


def _has_stock_work(channel: SalesChannel) -> bool:
    return (
        Listing.objects.filter(channel=channel, push_pending=True).exists()
        or StockPush.objects.filter(channel=channel, status=StockPush.Status.SUBMITTED).exists()
    )


def push_stock_soon(channel_id: int) -> None:
    """Start a stock push unless one started within the debounce window."""
    channel = SalesChannel.objects.filter(id=channel_id).first()
    if channel is None or not channel.sync_stock or not channel.is_active:
        return
    # Every stock transaction queues one of these (an order sync: one per order). A push
    # started within the debounce window already took, or will take, those changes: without
    # this a burst of N orders made up to N stock runs, flooding the queue and the history.
    recent = timezone.now() - timedelta(seconds=settings.STOCK_PUSH_DEBOUNCE_SECONDS)
    if SyncRun.objects.filter(
        channel_id=channel_id, kind=SyncRun.Kind.STOCK, created_at__gte=recent
    ).exists():
        return
    # A push already queued or running refuses a second; what it misses stays pending.
    with contextlib.suppress(ValidationError):
        request_sync(channel, SyncRun.Kind.STOCK, SyncRun.Trigger.AUTOMATIC)


def push_shipments_soon(channel_id: int) -> None:
    channel = SalesChannel.objects.filter(id=channel_id).first()
    if channel is None or not channel.sync_shipments or not channel.is_active:
        return
    with contextlib.suppress(ValidationError):  # one already running picks it up next time
        request_sync(channel, SyncRun.Kind.SHIPMENTS, SyncRun.Trigger.AUTOMATIC)


def check_drift_everywhere() -> int:
    """The daily drift check: one task per active channel that pushes stock."""
    ids = list(
        SalesChannel.objects.filter(status=SalesChannel.Status.ACTIVE, sync_stock=True).values_list(
            "id", flat=True
        )
    )
    for channel_id in ids:
        jobs.send(jobs.CHECK_DRIFT, channel_id)
    return len(ids)
