"""Polling as the safety net: as often as Amazon's quota allows without healthy notifications,
slower (never stopped) with them."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from marketplaces import order_polling, schedule, tasks
from marketplaces.amazon.ratelimit import plan_for
from marketplaces.models import NotificationMessage, NotificationSetup, SalesChannel, SalesOrder
from synchistory.models import SyncRun
from warehouses.models import Warehouse

SELLER = "A3POLLINGTEST"


def test_the_quota_interval_follows_amazons_search_orders_plan() -> None:
    assert plan_for("searchOrders").rate == order_polling.SEARCH_ORDERS_RATE
    interval = order_polling.quota_interval()
    # One call per 180 s sustained, less the slack that lets the minute tick 3 minutes later
    # start it.
    assert timedelta(minutes=2) < interval < timedelta(minutes=3)


@pytest.mark.parametrize(
    ("own_minutes", "healthy", "expected"),
    [
        (15, False, order_polling.quota_interval()),  # the default: down to Amazon's rate
        (240, False, order_polling.quota_interval()),
        (1, False, timedelta(minutes=1)),  # never longer than the channel's own
        (15, True, timedelta(minutes=60)),  # 4 x 15
        (5, True, timedelta(minutes=20)),
        (30, True, timedelta(hours=1)),  # at most an hour ...
        (240, True, timedelta(minutes=240)),  # ... unless the channel asked for longer
    ],
)
def test_the_orders_interval_with_and_without_healthy_notifications(
    own_minutes: int, healthy: bool, expected: timedelta
) -> None:
    assert order_polling.orders_interval(timedelta(minutes=own_minutes), healthy) == expected


@pytest.mark.django_db
def test_notifications_are_healthy_only_while_on_and_recently_heard_from() -> None:
    now = timezone.now()
    recent = now - timedelta(minutes=5)
    assert not order_polling.notifications_healthy(SELLER, now)  # never set up

    setup = NotificationSetup.objects.create(
        seller_id=SELLER, status=NotificationSetup.Status.ENABLED, enabled_at=recent
    )
    just_enabled = order_polling.notifications_healthy(SELLER.lower(), now)
    setup.enabled_at = now - timedelta(days=1)
    setup.save()
    silent = order_polling.notifications_healthy(SELLER, now)
    NotificationMessage.objects.create(
        notification_id="n-failed",
        notification_type="ORDER_CHANGE",
        seller_id=SELLER,
        status=NotificationMessage.Status.FAILED,
    )
    only_failures = order_polling.notifications_healthy(SELLER, now)
    NotificationMessage.objects.create(
        notification_id="n-applied",
        notification_type="ORDER_CHANGE",
        seller_id=SELLER,
        status=NotificationMessage.Status.APPLIED,
    )
    hearing = order_polling.notifications_healthy(SELLER, now)
    setup.status = NotificationSetup.Status.DISABLED
    setup.save()
    turned_off = order_polling.notifications_healthy(SELLER, now)
    later = now + timedelta(hours=1)
    setup.status = NotificationSetup.Status.ENABLED
    setup.save()
    gone_quiet = order_polling.notifications_healthy(SELLER, later)

    assert (just_enabled, silent, only_failures, hearing) == (True, False, False, True)
    assert (turned_off, gone_quiet) == (False, False)


@pytest.mark.django_db
@pytest.mark.parametrize(("healthy", "starts"), [(False, True), (True, False)])
def test_the_scheduler_polls_at_amazons_rate_unless_notifications_are_healthy(
    healthy: bool, starts: bool
) -> None:
    """A channel of the default 15 minutes last polled 4 minutes ago: due without healthy
    notifications (every ~3 minutes), not due with them (every hour)."""
    now = timezone.now()
    channel = SalesChannel.objects.create(
        name="Amazon.ca",
        seller_id=SELLER,
        sync_items=False,
        sync_stock=False,
        sync_shipments=False,
        sync_returns=False,
    )
    last = SyncRun.objects.create(
        channel=channel,
        kind=SyncRun.Kind.ORDERS,
        trigger=SyncRun.Trigger.AUTOMATIC,
        status=SyncRun.Status.SUCCEEDED,
    )
    SyncRun.objects.filter(id=last.id).update(created_at=now - timedelta(minutes=4))
    if healthy:
        NotificationSetup.objects.create(
            seller_id=SELLER,
            status=NotificationSetup.Status.ENABLED,
            enabled_at=now - timedelta(minutes=1),
        )

    started = schedule.start_due_syncs(now)

    assert started == (1 if starts else 0)
    assert SyncRun.objects.filter(channel=channel).count() == (2 if starts else 1)


@pytest.mark.django_db
def test_with_healthy_notifications_polling_slows_down_but_never_stops() -> None:
    now = timezone.now()
    channel = SalesChannel.objects.create(
        name="Amazon.ca",
        seller_id=SELLER,
        sync_items=False,
        sync_stock=False,
        sync_shipments=False,
        sync_returns=False,
    )
    last = SyncRun.objects.create(
        channel=channel,
        kind=SyncRun.Kind.ORDERS,
        trigger=SyncRun.Trigger.AUTOMATIC,
        status=SyncRun.Status.SUCCEEDED,
    )
    SyncRun.objects.filter(id=last.id).update(created_at=now - timedelta(minutes=61))
    NotificationMessage.objects.create(
        notification_id="n-1",
        notification_type="ORDER_CHANGE",
        seller_id=SELLER,
        status=NotificationMessage.Status.APPLIED,
    )
    NotificationSetup.objects.create(
        seller_id=SELLER,
        status=NotificationSetup.Status.ENABLED,
        enabled_at=now - timedelta(days=3),
    )
    assert order_polling.notifications_healthy(SELLER, now)

    assert schedule.start_due_syncs(now) == 1


@pytest.mark.django_db
def test_an_order_awaiting_amazons_details_keeps_polling_at_the_quotas_pace(
    monkeypatch: pytest.MonkeyPatch, django_capture_on_commit_callbacks: Any
) -> None:
    """Healthy notifications slow polling down, unless an order was imported from its
    notification (getOrder's quota spent): the next poll brings its prices and buyer."""
    now = timezone.now()
    channel = SalesChannel.objects.create(
        name="Amazon.ca", seller_id=SELLER, sync_items=False, sync_stock=False
    )
    last = SyncRun.objects.create(
        channel=channel,
        kind=SyncRun.Kind.ORDERS,
        trigger=SyncRun.Trigger.AUTOMATIC,
        status=SyncRun.Status.SUCCEEDED,
    )
    SyncRun.objects.filter(id=last.id).update(created_at=now - timedelta(minutes=4))
    NotificationSetup.objects.create(
        seller_id=SELLER, status=NotificationSetup.Status.ENABLED, enabled_at=now
    )
    order = SalesOrder.objects.create(
        channel=channel,
        amazon_order_id="702-0000000-0000001",
        amazon_status="UNSHIPPED",
        fulfillment_channel="merchant",
        warehouse=Warehouse.objects.create(name="Main"),
        purchased_at=now,
        amazon_updated_at=now,
        awaiting_details=True,
    )
    slow_while_awaiting = order_polling.poll_slowly(SELLER.lower(), now)
    completions: list[tuple[Any, dict[str, Any]]] = []
    monkeypatch.setattr(
        tasks.complete_awaiting_orders_task,
        "apply_async",
        lambda args, **options: completions.append((args, options)),
    )
    with django_capture_on_commit_callbacks(execute=True):
        started = schedule.start_due_syncs(now)
    order.awaiting_details = False
    order.save()

    assert order_polling.notifications_healthy(SELLER, now)
    assert (slow_while_awaiting, started) == (False, 1)
    # ... and Amazon is asked for the order's details, a task that expires before the next tick.
    assert completions == [((channel.id,), {"expires": 55})]
    assert order_polling.poll_slowly(SELLER, now)
