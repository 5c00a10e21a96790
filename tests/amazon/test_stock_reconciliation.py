"""Stock on Amazon that heals itself: a lost mark is found and pushed."""

from __future__ import annotations

from typing import Any

import pytest

from marketplaces import schedule
from marketplaces.models import Listing, SalesChannel
from spapi_simulator import Simulator
from synchistory.models import SyncRun
from tests.helpers.amazon import link_listings, listed_quantities, run_push
from warehouses import stock
from warehouses.models import Item, Stock, StockMovement, Warehouse

pytestmark = pytest.mark.django_db


def lose_a_mark(item: Item, warehouse: Warehouse, change: int) -> None:
    """A committed stock change whose listings were never marked (the state a failed delivery
    left before the outbox): the quantities move, nothing says so."""
    row = Stock.objects.get(item=item, warehouse=warehouse)
    Stock.objects.filter(id=row.id).update(on_hand=row.on_hand + change)
    StockMovement.objects.create(
        item=item,
        warehouse=warehouse,
        kind=StockMovement.Kind.ADJUSTMENT,
        on_hand_change=change,
        on_hand_after=row.on_hand + change,
        committed_after=row.committed,
        note="Count",
    )


def test_a_listing_out_of_step_is_marked_and_pushed(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    """Seen: Amazon 18, available 15, not pending, for good. Now the quarter-hour
    reconciliation finds it and the push corrects Amazon."""
    listings = link_listings(live_sim, channel, warehouse, 4)
    run_push(live_sim, channel)
    wrong = listings[1]
    lose_a_mark(wrong.item, warehouse, -3)
    assert not Listing.objects.filter(push_pending=True).exists()

    assert schedule.reconcile_pushed_stock() == 1
    assert list(Listing.objects.filter(push_pending=True)) == [wrong]

    run = run_push(live_sim, channel)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert listed_quantities(live_sim)[wrong.seller_sku] == 4
    assert schedule.reconcile_pushed_stock() == 0  # in step again


def test_reconciliation_leaves_listings_that_are_not_ours_to_push(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 3)
    run_push(live_sim, channel)
    unconfirmed, paused, in_flight = listings
    Item.objects.filter(id=unconfirmed.item_id).update(status=Item.Status.UNCONFIRMED)
    Listing.objects.filter(id=in_flight.id).update(push_pending=True)  # its push will send it
    for listing in listings:
        lose_a_mark(listing.item, warehouse, 2)
    other = SalesChannel.objects.create(
        name="Paused", seller_id="A2PAUSED", sync_stock=False, refresh_token="Atzr|x"
    )
    Listing.objects.filter(id=paused.id).update(channel=other)

    assert schedule.reconcile_pushed_stock() == 0


def test_the_scheduler_delivers_stock_changes_whose_delivery_failed(
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    (listing,) = link_listings(live_sim, channel, warehouse, 1)
    run_push(live_sim, channel)

    def connection_lost(item_ids: Any) -> None:
        raise OSError("server closed the connection unexpectedly")

    monkeypatch.setattr("marketplaces.signals.queue_stock_push", connection_lost)
    with django_capture_on_commit_callbacks(execute=True):
        stock.adjust_stock(listing.item, warehouse, -2, note="Damaged")
    monkeypatch.undo()
    assert not Listing.objects.filter(push_pending=True).exists()
    monkeypatch.setattr("marketplaces.tasks.push_stock_task.apply_async", lambda *a, **k: None)

    schedule.start_due_syncs()

    assert list(Listing.objects.filter(push_pending=True)) == [listing]
    assert SyncRun.objects.filter(kind=SyncRun.Kind.STOCK, status=SyncRun.Status.QUEUED).exists()
