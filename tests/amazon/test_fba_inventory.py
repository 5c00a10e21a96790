"""FBA stock as a warehouse: Amazon's counts mirrored, never committed, shipped or pushed here."""

from __future__ import annotations

import logging
from datetime import timedelta
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from marketplaces import channel_settings, fba
from marketplaces.amazon import fba_inventory
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.types import FbaInventory
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel, SalesOrder
from marketplaces.stock_levels import quantity_to_push
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.amazon.test_item_sync import run_item_sync
from tests.helpers.amazon import run_order_sync
from warehouses import stock
from warehouses.models import Item, Organization, Stock, StockMovement, Warehouse

pytestmark = pytest.mark.django_db


def refresh(channel: SalesChannel, trigger: str = SyncRun.Trigger.MANUAL) -> SyncRun:
    run = history.start_run(channel.id, SyncRun.Kind.FBA_INVENTORY, trigger)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    fba_inventory.refresh_fba_inventory(run, client_for(channel))
    return history.finish_run(run)


def fba_on_amazon(sim: Simulator) -> dict[str, dict[str, Any]]:
    return {
        entry["sku"]: entry
        for entry in sim_get(sim, "/_sim/listings")["listings"]
        if entry["fulfillmentChannelCode"] != "DEFAULT" and not entry["isParent"]
    }


def amazon_stock(item: Item) -> Stock:
    return Stock.objects.get(item=item, warehouse__amazon_pool=Warehouse.AmazonPool.CANADA)


def test_the_item_sync_makes_the_fba_warehouse_and_the_refresh_mirrors_amazon(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    run_item_sync(live_sim, channel)
    warehouse = Warehouse.objects.get(amazon_pool=Warehouse.AmazonPool.CANADA)
    assert warehouse.name == "Amazon.ca FBA" and warehouse.is_amazon

    run = refresh(channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    imported = set(Listing.objects.filter(channel=channel).values_list("seller_sku", flat=True))
    on_amazon = {sku: e for sku, e in fba_on_amazon(live_sim).items() if sku in imported}
    assert on_amazon, "the simulator's seed has FBA listings"
    for sku, entry in on_amazon.items():
        listing = Listing.objects.get(channel=channel, seller_sku=sku)
        row = amazon_stock(listing.item)
        assert (row.on_hand, row.committed) == (entry["quantity"], 0)
        assert row.amazon_reserved == entry["reservedQuantity"]
    movement = StockMovement.objects.filter(kind=StockMovement.Kind.AMAZON_COUNT).first()
    assert movement is not None and movement.reference == "Amazon FBA inventory"
    assert run.records.filter(outcome=SyncRecord.Outcome.SYNCED).count() == len(on_amazon)


def test_the_refresh_logs_the_skus_it_changed(
    live_sim: Simulator, channel: SalesChannel, caplog: pytest.LogCaptureFixture
) -> None:
    run_item_sync(live_sim, channel)
    caplog.set_level(logging.INFO, logger="synchistory.services")

    run = refresh(channel)

    synced = run.records.filter(outcome=SyncRecord.Outcome.SYNCED).count()
    assert synced and run.items_synced == synced
    assert f"Sync run {run.id} succeeded: {synced} SKUs synced, 0 failed" in caplog.messages


def test_the_automatic_refresh_reads_only_what_changed(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    run_item_sync(live_sim, channel)
    refresh(channel)
    sku = sorted(fba_on_amazon(live_sim))[0]
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 3600})
    sim_post(live_sim, "/_sim/fba-inventory", {"sku": sku, "fulfillable": 41, "inbound": 24})

    run = refresh(channel, SyncRun.Trigger.AUTOMATIC)

    run.refresh_from_db()
    # Only the SKUs Amazon changed since the last refresh (and its overlap) were read.
    assert 1 <= run.progress_done < len(fba_on_amazon(live_sim)) / 2
    assert sku in {r.external_id for r in run.records.all()}
    item = Listing.objects.get(channel=channel, seller_sku=sku).item
    row = amazon_stock(item)
    assert (row.on_hand, row.amazon_inbound) == (41, 24)


def test_an_automatic_refresh_reads_every_sku_again_a_day_after_the_last_complete_one(
    live_sim: Simulator, channel: SalesChannel, settings: Any
) -> None:
    """Amazon's startDateTime leaves out inbound changes: only a complete read sees them."""
    settings.AMAZON_FBA_FULL_REFRESH_HOURS = 24
    run_item_sync(live_sim, channel)
    complete = refresh(channel)
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 3600})
    everything = len(fba_on_amazon(live_sim))

    quiet = refresh(channel, SyncRun.Trigger.AUTOMATIC)
    assert quiet.window_start is not None and quiet.progress_done < everything

    SyncRun.objects.filter(id=complete.id).update(created_at=timezone.now() - timedelta(hours=25))
    again = refresh(channel, SyncRun.Trigger.AUTOMATIC)
    again.refresh_from_db()
    assert again.window_start is None
    assert again.progress_done == complete.progress_done


def test_a_page_of_2n_skus_takes_as_many_statements_as_a_page_of_n(
    channel: SalesChannel,
) -> None:
    amazon = fba.fba_warehouse(channel)
    for n in range(34):
        item = Item.objects.create(sku=f"FBA-{n}", name=f"FBA {n}")
        Listing.objects.create(
            channel=channel,
            item=item,
            seller_sku=item.sku,
            fulfillment_channel=FulfillmentChannel.AMAZON,
        )
    run = history.start_run(channel.id, SyncRun.Kind.FBA_INVENTORY, SyncRun.Trigger.MANUAL)
    assert history.claim_run(run.id)
    run.refresh_from_db()

    def apply(first: int, count: int) -> list[str]:
        page = [
            FbaInventory(f"FBA-{n}", fulfillable=n + 1, reserved=1, inbound=0, unfulfillable=0)
            for n in range(first, first + count)
        ]
        with CaptureQueriesContext(connection) as queries, transaction.atomic():
            history.record_many(run, fba_inventory._apply_page(channel, amazon, page))
        return [query["sql"] for query in queries.captured_queries]

    apply(0, 4)  # what any first page pays once (content types)
    ten = apply(4, 10)
    twenty = apply(14, 20)

    assert len(twenty) == len(ten), "\n".join(twenty)
    assert run.records.filter(outcome=SyncRecord.Outcome.SYNCED).count() == 34
    assert {record.local_object for record in run.records.all()} == set(Item.objects.all())
    assert Stock.objects.get(item__sku="FBA-33", warehouse=amazon).on_hand == 34


def test_an_fba_sku_with_no_listing_here_is_skipped_with_its_reason(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    run_item_sync(live_sim, channel)
    missing = sorted(fba_on_amazon(live_sim))[0]
    Listing.objects.filter(channel=channel, seller_sku=missing).delete()

    run = refresh(channel)

    skipped = run.records.get(outcome=SyncRecord.Outcome.SKIPPED, external_id=missing)
    assert "which is not a listing here" in skipped.reason
    assert run.records.filter(outcome=SyncRecord.Outcome.SYNCED).exists()


def test_fba_orders_are_recorded_against_amazons_warehouse_and_move_no_stock(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    run_item_sync(live_sim, channel)
    refresh(channel)
    sku = sorted(fba_on_amazon(live_sim))[0]
    item = Listing.objects.get(channel=channel, seller_sku=sku).item
    fulfillable = amazon_stock(item).on_hand
    created = sim_post(
        live_sim,
        "/_sim/orders",
        {"count": 1, "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "AMAZON", "skus": [sku]},
    )["orders"][0]
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})

    run_order_sync(channel)

    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    assert order.fulfillment_channel == FulfillmentChannel.AMAZON
    assert order.warehouse.amazon_pool == Warehouse.AmazonPool.CANADA
    assert amazon_stock(item).on_hand == fulfillable  # Amazon's numbers win
    assert not Stock.objects.filter(item=item, warehouse=warehouse).exists()


def test_fba_stock_is_never_part_of_a_merchant_push(
    channel: SalesChannel, warehouse: Warehouse
) -> None:
    item = Item.objects.create(sku="MUG", name="Mug")
    stock.set_opening_stock(item, warehouse, 5)
    stock.set_amazon_counts(
        fba.fba_warehouse(channel),
        [stock.AmazonCount(item_id=item.id, fulfillable=40)],
        reference="Amazon FBA inventory",
    )
    merchant = Listing.objects.create(channel=channel, item=item, seller_sku="MUG")
    assert quantity_to_push(merchant) == 5


def test_nothing_local_changes_amazons_stock(channel: SalesChannel) -> None:
    item = Item.objects.create(sku="MUG", name="Mug")
    amazon = fba.fba_warehouse(channel)
    for change in (
        lambda: stock.adjust_stock(item, amazon, 3, note="Count"),
        lambda: stock.set_opening_stock(item, amazon, 3),
        lambda: stock.commit_stock(item, amazon, 1, reference="702-1"),
        lambda: stock.ship_stock(item, amazon, 1, reference="702-1"),
    ):
        with pytest.raises(ValidationError, match="Amazon counts the stock in Amazon.ca FBA"):
            change()
    Organization.objects.filter(id=Organization.SINGLETON_ID).update(multi_warehouse_enabled=True)
    with pytest.raises(ValidationError, match="is Amazon's"):
        channel_settings.set_warehouse_mapping(channel, amazon, actor=None)


def test_the_fba_warehouse_takes_the_name_of_its_pool_unless_the_seller_has_it(
    channel: SalesChannel,
) -> None:
    Warehouse.objects.create(name="Amazon.ca FBA")
    assert fba.fba_warehouse(channel).name == "Amazon.ca FBA (Amazon)"
    assert fba.fba_warehouse(channel) == fba.fba_warehouse(channel)  # one per pool
