"""Flaws the chaos scenarios found, pinned by fast in-process tests (they run without services).

See docs/RELIABILITY.md, "Found and fixed".
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
import time_machine
from django.utils import timezone

from marketplaces import tasks
from marketplaces.amazon import order_sync, ratelimit, stock_push
from marketplaces.amazon.simulator.ratelimit import TokenBuckets
from marketplaces.models import ApiQuota, Listing, SalesOrder, SalesOrderLine
from synchistory import services as history
from synchistory.models import SyncRun
from tests.factories import (
    ItemFactory,
    ListingFactory,
    SalesChannelFactory,
    SalesOrderFactory,
    SyncRunFactory,
    WarehouseFactory,
)
from warehouses import stock

pytestmark = pytest.mark.django_db


def test_a_cancelled_order_of_an_oversold_sku_is_pushed_again(settings: Any) -> None:
    """Amazon put the cancelled units back on sale by itself; we still say 0, and must say it
    again even though 0 is what we pushed last."""
    warehouse = WarehouseFactory.create()
    channel = SalesChannelFactory.create()
    item = ItemFactory.create()
    stock.set_opening_stock(item, warehouse, 1)
    listing = ListingFactory.create(
        channel=channel, item=item, pushed_quantity=0, push_pending=False
    )
    orders = []
    for _ in range(2):  # two orders of one unit each: one more than there is
        order = SalesOrderFactory.create(channel=channel, warehouse=warehouse)
        SalesOrderLine.objects.create(
            order=order,
            amazon_order_item_id="1",
            item=item,
            seller_sku=item.sku,
            quantity=1,
            unit_price=Decimal("10"),
            stock_committed=1,
        )
        stock.commit_stock(item, warehouse, 1, reference=order.amazon_order_id)
        orders.append(order)
    Listing.objects.filter(pk=listing.pk).update(push_pending=False, pushed_quantity=0)

    order_sync._cancel(orders[0])  # available goes from -1 to 0: the same 0 as pushed

    listing.refresh_from_db()
    assert orders[0].status == SalesOrder.Status.CANCELLED
    assert listing.push_pending and listing.pushed_quantity is None
    push = stock_push.prepare_push(channel, None)
    assert push is not None
    assert [(line.listing_id, line.quantity) for line in push.lines.all()] == [(listing.pk, 0)]


def test_a_burst_of_stock_changes_starts_one_push(settings: Any) -> None:
    settings.STOCK_PUSH_DEBOUNCE_SECONDS = 20
    channel = SalesChannelFactory.create()
    ListingFactory.create(channel=channel, push_pending=True)
    for _ in range(5):  # one task per stock transaction (per imported order)
        tasks.push_stock_soon_task(channel.pk)
    assert SyncRun.objects.filter(channel=channel, kind=SyncRun.Kind.STOCK).count() == 1


def test_a_queued_run_whose_task_was_lost_is_sent_again(
    settings: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings.SYNC_RUN_STALE_AFTER_SECONDS = 60
    sent: list[int] = []
    monkeypatch.setattr(tasks.push_stock_task, "delay", lambda run_id: sent.append(run_id))
    channel = SalesChannelFactory.create(sync_orders=False, sync_items=False)
    lost = SyncRunFactory.create(
        channel=channel, kind=SyncRun.Kind.STOCK, status=SyncRun.Status.QUEUED
    )
    waiting = SyncRunFactory.create(
        channel=SalesChannelFactory.create(sync_orders=False, sync_items=False),
        kind=SyncRun.Kind.STOCK,
        status=SyncRun.Status.QUEUED,
    )
    SyncRun.objects.filter(pk=lost.pk).update(created_at=timezone.now() - timedelta(minutes=3))
    SyncRun.objects.filter(pk=waiting.pk).update(heartbeat_at=timezone.now())

    tasks.schedule_automatic_syncs_task()
    assert sent == [lost.pk]
    tasks.schedule_automatic_syncs_task()  # touched: not sent again before it is lost again
    assert sent == [lost.pk]
    assert history.claim_run(lost.pk) and not history.claim_run(lost.pk)


def test_the_stale_after_setting_decides_when_a_run_is_dead(settings: Any) -> None:
    settings.SYNC_RUN_STALE_AFTER_SECONDS = 5
    run = SyncRunFactory.create(status=SyncRun.Status.QUEUED)
    assert history.claim_run(run.pk)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=4))
    assert not history.claim_run(run.pk)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=6))
    assert history.claim_run(run.pk)
    SyncRun.objects.filter(pk=run.pk).update(heartbeat_at=timezone.now() - timedelta(seconds=6))
    assert history.reap_dead_runs() == 1


@pytest.mark.parametrize(
    ("scale", "calls", "first_latency", "latency", "gap"),
    [
        # The clock-skew scenario at real-time speed: 36 calls, a burst of 30 and then 0.5 a
        # second; the first call refreshes the access token on its way (0.3 s).
        (1, 36, 0.3, 0.005, 0.02),
        # At 120 times real time (60 calls a second): the burst drained, the bucket full
        # again after a pause, the first call after it a little slow.
        (120, 150, 0.02, 0.001, 0.005),
    ],
)
def test_pacing_after_a_burst_allows_for_the_time_a_call_takes_to_reach_amazon(
    settings: Any, scale: int, calls: int, first_latency: float, latency: float, gap: float
) -> None:
    """Found by the chaos scenarios: Amazon's bucket was full until a call arrived, some
    milliseconds after we reserved it, so it refilled that much less than ours, and a call
    after the burst met a 429. Amazon is the simulator's own bucket (on its clock, ``scale``
    times faster), fed with the moments the getOrder calls arrive."""
    settings.AMAZON_RATE_SCALE = float(scale)
    amazon = TokenBuckets()
    start = now = datetime(2026, 11, 27, 12, 0, tzinfo=UTC)
    answers = []
    with time_machine.travel(now, tick=False) as clock:
        for number in range(calls):
            clock.move_to(now)
            wait = ratelimit.reserve("A3SELLER", "getOrder", max_wait=60)
            slow = number in (0, 61)  # the first call, the first after the pause
            landed = now + timedelta(seconds=wait + (first_latency if slow else latency))
            amazon_now = start + (landed - start) * scale
            answers.append(amazon.try_acquire("A3SELLER", "getOrder", amazon_now))
            now = landed + timedelta(seconds=gap)  # the answer, the work on it
            if number == 60:
                now += timedelta(seconds=1)  # a pause: both buckets fill up again
    assert all(answers), f"429 on call {answers.index(False) + 1}"
    assert ApiQuota.objects.get(operation="getOrder").calls == calls
