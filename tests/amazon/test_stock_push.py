"""Stock levels out to Amazon: patches for a few, a feed for many, outbox, nothing twice."""

from __future__ import annotations

from typing import Any

import pytest

from marketplaces.amazon import stock_push
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import WaitForAmazon
from marketplaces.models import Listing, SalesChannel, StockPush
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_post
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.helpers.amazon import link_listings, listed_quantities, run_push
from warehouses import stock
from warehouses.models import Item, Warehouse

pytestmark = pytest.mark.django_db


def test_an_accepted_push_leaves_nothing_pending_after_a_real_stock_change(
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """On SQLite the marks wrote the version as Now() ('…06.158') and the push compared it with
    a Python datetime ('…06.158000'): every SKU stayed pending and a stock run started every
    minute, for ever. Runs on both databases (make test runs the suite on each)."""
    with django_capture_on_commit_callbacks(execute=True):
        listings = link_listings(live_sim, channel, warehouse, 3)
    run_push(live_sim, channel)
    with django_capture_on_commit_callbacks(execute=True):
        for listing in listings:
            stock.adjust_stock(listing.item, warehouse, 5, note="Found a carton")
    assert Listing.objects.filter(push_pending=True).count() == 3

    run = run_push(live_sim, channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert all(listed_quantities(live_sim)[x.seller_sku] == 12 for x in listings)
    assert not Listing.objects.filter(push_pending=True).exists()


def test_a_few_skus_are_patched_one_by_one(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 3)
    run = run_push(live_sim, channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert StockPush.objects.get().method == StockPush.Method.PATCH
    on_amazon = listed_quantities(live_sim)
    for listing in listings:
        listing.refresh_from_db()
        assert on_amazon[listing.seller_sku] == 7
        assert listing.pushed_quantity == 7
        assert listing.push_pending is False
    assert run.items_synced == 3


def test_many_skus_go_as_one_feed_and_rejections_keep_amazons_reason(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 14)
    ghost_item = Item.objects.create(sku="NOT-ON-AMAZON", name="Ghost")
    ghost = Listing.objects.create(
        channel=channel,
        item=ghost_item,
        seller_sku="NOT-ON-AMAZON",
        push_pending=True,
        product_type="DRINKING_CUP",
    )
    stock.set_opening_stock(ghost_item, warehouse, 3)

    run = run_push(live_sim, channel)

    assert StockPush.objects.get().method == StockPush.Method.FEED
    assert run.status == SyncRun.Status.PARTIAL
    on_amazon = listed_quantities(live_sim)
    assert all(on_amazon[listing.seller_sku] == 7 for listing in listings)
    ghost.refresh_from_db()
    assert ghost.push_pending is True
    assert ghost.push_error
    failure = run.records.get(outcome=SyncRecord.Outcome.FAILED)
    assert failure.external_id == "NOT-ON-AMAZON"
    assert "Amazon rejected quantity 3" in failure.reason


def test_nothing_is_sent_twice_for_the_same_state(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 2)
    run_push(live_sim, channel)
    Listing.objects.filter(id=listings[0].id).update(push_pending=True)

    run_push(live_sim, channel)

    assert StockPush.objects.count() == 1
    listings[0].refresh_from_db()
    assert listings[0].push_pending is False


def test_buffer_and_maximum_shape_the_pushed_quantity(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    SalesChannel.objects.filter(id=channel.id).update(safety_buffer=2, max_quantity=4)
    channel.refresh_from_db()
    (listing,) = link_listings(live_sim, channel, warehouse, 1)
    run_push(live_sim, channel)
    assert listed_quantities(live_sim)[listing.seller_sku] == 4  # min(7 - 2, 4)


def test_a_push_whose_worker_died_is_finished_by_the_next_run(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 12)
    first = history.start_run(channel.id, SyncRun.Kind.STOCK, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(first.id)
    first.refresh_from_db()
    with pytest.raises(WaitForAmazon):
        stock_push.push_stock(first, client_for(channel))  # feed submitted, then the worker dies
    history.finish_run(first, error="worker killed")
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})

    second = run_push(live_sim, channel)

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert StockPush.objects.count() == 1  # followed, not sent again
    assert all(listed_quantities(live_sim)[x.seller_sku] == 7 for x in listings)


def test_a_change_during_a_push_keeps_the_listing_pending(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 12)
    run = history.start_run(channel.id, SyncRun.Kind.STOCK, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    with pytest.raises(WaitForAmazon):
        stock_push.push_stock(run, client_for(channel))
    changed = listings[0]
    from marketplaces.signals import mark_listings_for_push

    stock.adjust_stock(changed.item, warehouse, 1, note="found one")
    mark_listings_for_push(sender=None, item_ids={changed.item_id})
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    stock_push.push_stock(run, client_for(channel))

    changed.refresh_from_db()
    assert changed.pushed_quantity == 7
    assert changed.push_pending is True  # 8 is still to be told


def test_the_feed_is_valid_against_amazons_schema(
    channel: SalesChannel, warehouse: Warehouse, feed_schema: Any
) -> None:
    item = Item.objects.create(sku="TASSE-É", name="Tasse émaillée")
    listing = Listing.objects.create(channel=channel, item=item, seller_sku="TASSE-É")
    push = StockPush.objects.create(channel=channel, method="feed")
    line = push.lines.create(
        listing=listing, message_id=1, quantity=5, listing_version=listing.push_version
    )
    document = stock_push.feed_document(channel, [line])
    feed_schema.validate(document)


def test_a_fatal_feed_keeps_amazons_reason_and_the_next_push_recovers(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 12)
    sim_post(
        live_sim, "/_sim/faults", {"operation": "createFeed", "kind": "feed_fatal", "count": 1}
    )

    failed = run_push(live_sim, channel)

    assert failed.status == SyncRun.Status.PARTIAL
    assert failed.items_failed == 12
    first_failure = failed.records.first()
    assert first_failure is not None
    assert "FATAL" in first_failure.reason
    assert all(Listing.objects.get(id=x.id).push_pending for x in listings)
    again = run_push(live_sim, channel)
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert all(listed_quantities(live_sim)[x.seller_sku] == 7 for x in listings)


def test_a_server_error_before_the_feed_is_taken_loses_nothing(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    from marketplaces.amazon.errors import AmazonTransientError

    listings = link_listings(live_sim, channel, warehouse, 12)
    sim_post(
        live_sim, "/_sim/faults", {"operation": "createFeed", "kind": "server_error", "count": 1}
    )
    run = history.start_run(channel.id, SyncRun.Kind.STOCK, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    with pytest.raises(AmazonTransientError):
        stock_push.push_stock(run, client_for(channel))
    history.finish_run(run, error="retried later")

    again = run_push(live_sim, channel)

    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert list(StockPush.objects.order_by("id").values_list("status", flat=True)) == [
        "failed",
        "done",
    ]
    assert all(listed_quantities(live_sim)[x.seller_sku] == 7 for x in listings)
    assert not Listing.objects.filter(push_pending=True).exists()
