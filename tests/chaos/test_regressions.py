"""Flaws the chaos scenarios found, pinned by fast in-process tests (they run without services).

See docs/RELIABILITY.md, "Found and fixed".
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.utils import timezone

from marketplaces import tasks
from marketplaces.amazon import order_sync, stock_push
from marketplaces.models import Listing, SalesOrder, SalesOrderLine
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
