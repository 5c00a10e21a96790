"""One order stream per seller: which channels' orders an automatic orders run fetches.

Amazon's searchOrders takes a list of marketplace ids and its usage plan is the seller's, across
marketplaces: listing Amazon.ca, Amazon.com and Amazon.com.mx in one call costs one call, where a
call per marketplace would cost three and, at one call per three minutes, triple the time an
order waits. So the automatic orders run of one channel (the lead) asks for the orders of the
seller's other channels too, and each order goes to its own channel, recorded in a run of that
channel (``SyncRun.fetched_with``) so that each channel keeps its own Sync History.

A channel joins only if it would poll soon anyway (its own interval is respected: it is never
fetched for much more often than it asks), and only once its checkpoint is close to the lead's
(a channel far behind, just re-enabled, catches up on its own first, instead of making the
lead list again a day of orders it already has).
"""

from __future__ import annotations

from datetime import datetime, timedelta

from marketplaces import order_polling
from marketplaces.models import SalesChannel
from synchistory.models import SyncRun

# How far a partner's window may start from the lead's: at most this much of orders the lead
# already has is listed again for it.
CATCH_UP = timedelta(hours=1)


def stream_partners(lead: SalesChannel, now: datetime) -> list[SalesChannel]:
    """The seller's other channels that may join the lead's automatic orders run now: active,
    with the Orders module on, synced at least once, and due before the lead's next run.
    (Whether one is caught up, and whether it has a run of its own going, is decided when the
    run joins them.)"""
    candidates = list(
        SalesChannel.objects.filter(
            seller_id__iexact=lead.seller_id,
            status=SalesChannel.Status.ACTIVE,
            sync_orders=True,
            orders_checkpoint__isnull=False,
        )
        .exclude(id=lead.id)
        .order_by("id")
    )
    # One seller, one health: every channel of the stream polls at the same pace.
    healthy = order_polling.poll_slowly(lead.seller_id, now)
    lead_next = now + order_polling.orders_interval(
        timedelta(minutes=lead.sync_interval_minutes), healthy
    )
    return [channel for channel in candidates if _due_by(channel, lead_next, healthy)]


def _due_by(channel: SalesChannel, moment: datetime, healthy: bool) -> bool:
    """The channel's own schedule would poll its orders by ``moment``."""
    last = (
        SyncRun.objects.filter(channel=channel, kind=SyncRun.Kind.ORDERS)
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    interval = order_polling.orders_interval(
        timedelta(minutes=channel.sync_interval_minutes), healthy
    )
    return last is None or last + interval <= moment


def streamed_by_another(channel: SalesChannel) -> bool:
    """Another channel of the seller has an automatic orders run queued, not yet started, that
    may fetch this channel's orders: the scheduler leaves this one to it instead of starting a
    second stream (the run takes it along when it starts, if it qualifies). A run already going
    without it is not waited for: it may be a long catch-up."""
    return (
        SyncRun.objects.filter(
            kind=SyncRun.Kind.ORDERS,
            trigger=SyncRun.Trigger.AUTOMATIC,
            status=SyncRun.Status.QUEUED,
            started_at__isnull=True,  # a retry waiting for Amazon has made up its stream
            fetched_with__isnull=True,
            channel__seller_id__iexact=channel.seller_id,
        )
        .exclude(channel=channel)
        .exists()
    )
