"""How often a channel's orders are polled: polling is the safety net under notifications.

Amazon's ORDER_CHANGE notifications bring an order within seconds, but nothing guarantees that
they keep coming (a queue policy changed, a subscription deleted in Seller Central, SQS down):
polling never stops. Without healthy notifications it runs as often as Amazon's searchOrders
quota sustains (one call per 180 s; the seller's channels share one order stream, so that is
the seller's rate, not each channel's), capped by the channel's own interval. With healthy
notifications it slows down, since what it would find has already arrived.
"""

from __future__ import annotations

import math
from datetime import datetime, timedelta

from django.conf import settings

from marketplaces.models import NotificationMessage, NotificationSetup, SalesOrder

# Amazon's searchOrders usage plan: 0.0056 calls per second sustained (marketplaces/amazon/
# ratelimit.py holds the plan the limiter enforces; a test keeps the two equal). Written here
# because the domain layer sits below the connector.
SEARCH_ORDERS_RATE = 0.0056
# Beat runs the scheduler once a minute: an interval a few seconds under Amazon's rate lets the
# tick that comes three minutes later start the run instead of the one after it (the limiter's
# burst absorbs the difference).
SCHEDULER_SLACK = timedelta(seconds=10)
# With healthy notifications: this many times the channel's interval, at most LONGEST.
SLOWDOWN = 4
LONGEST = timedelta(hours=1)


def quota_interval() -> timedelta:
    """The shortest sustained polling interval Amazon's searchOrders usage plan allows."""
    seconds = math.ceil(1 / SEARCH_ORDERS_RATE)
    return timedelta(seconds=seconds) - SCHEDULER_SLACK


def orders_interval(channel_interval: timedelta, notifications_healthy: bool) -> timedelta:
    """The time between two automatic order runs of a channel whose own interval (the one the
    seller chose on Show Details) is ``channel_interval``.

    - Notifications not healthy: as often as Amazon's quota allows (about every 3 minutes),
      never longer than the channel's own interval (a seller who chose 1 minute keeps it; the
      limiter then paces the calls).
    - Notifications healthy: slower, ``SLOWDOWN`` times the channel's interval but at most
      ``LONGEST``, and never shorter than the channel's own: a safety net that never stops,
      catching what a lost notification missed within the hour.
    """
    if not notifications_healthy:
        return min(channel_interval, quota_interval())
    return max(channel_interval, min(channel_interval * SLOWDOWN, LONGEST))


def notifications_healthy(seller_id: str, now: datetime) -> bool:
    """Notifications are on for the seller and working: a message was applied (or ignored as
    already known) within AMAZON_NOTIFICATIONS_HEALTHY_MINUTES, or the setup was turned on that
    recently (no order may have changed since). A seller whose messages all fail, or whose
    messages stopped, is polled at the quota's rate again: only the figures say "healthy"."""
    since = now - timedelta(minutes=settings.AMAZON_NOTIFICATIONS_HEALTHY_MINUTES)
    setup = (
        NotificationSetup.objects.filter(
            seller_id__iexact=seller_id, status=NotificationSetup.Status.ENABLED
        )
        .values("enabled_at")
        .first()
    )
    if setup is None:
        return False
    if setup["enabled_at"] is not None and setup["enabled_at"] >= since:
        return True
    return NotificationMessage.objects.filter(
        seller_id__iexact=seller_id,
        received_at__gte=since,
        status__in=[NotificationMessage.Status.APPLIED, NotificationMessage.Status.IGNORED],
    ).exists()


def poll_slowly(seller_id: str, now: datetime) -> bool:
    """Polling may slow down: the seller's notifications are healthy and no order imported
    from a notification awaits Amazon's details (``SalesOrder.awaiting_details``, imported so
    when getOrder's quota was spent), which the next poll brings."""
    if not notifications_healthy(seller_id, now):
        return False
    return not SalesOrder.objects.filter(
        channel__seller_id__iexact=seller_id, awaiting_details=True
    ).exists()


def channel_orders_interval(
    channel_interval_minutes: int, seller_id: str, now: datetime
) -> timedelta:
    """``orders_interval`` for a channel, with its seller's notifications' health."""
    return orders_interval(timedelta(minutes=channel_interval_minutes), poll_slowly(seller_id, now))
