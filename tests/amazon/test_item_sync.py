"""Amazon listings in, as items."""

from __future__ import annotations

from typing import Any

import pytest

from marketplaces import items as item_services
from marketplaces.amazon import item_sync
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import WaitForAmazon
from marketplaces.models import Listing, SalesChannel, SalesOrder
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.helpers.amazon import listed_quantities, run_order_sync, run_push
from warehouses import stock
from warehouses.models import Item, Stock

pytestmark = pytest.mark.django_db


def run_item_sync(sim: Simulator, channel: SalesChannel) -> SyncRun:
    """The task's loop, with the simulator's clock moved on while Amazon builds the report
    (an eager Celery retry would re-run at once, before simulated time has passed)."""
    run = history.start_run(channel.id, SyncRun.Kind.ITEMS, SyncRun.Trigger.MANUAL)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    client = client_for(channel)
    for _ in range(10):
        try:
            item_sync.sync_items(run, client)
        except WaitForAmazon:
            sim_post(sim, "/_sim/clock/advance", {"seconds": 120})
            run.refresh_from_db()
            continue
        return history.finish_run(run)
    raise AssertionError("the listings report never became ready")


def test_it_imports_listings_as_unconfirmed_items_and_links_known_skus(
    live_sim: Simulator, channel: SalesChannel, warehouse: Any
) -> None:
    listings = sim_get(live_sim, "/_sim/listings")["listings"]
    known = next(entry for entry in listings if entry["fulfillmentChannelCode"] == "DEFAULT")
    existing = Item.objects.create(sku=known["sku"], name="Our own name")

    run = run_item_sync(live_sim, channel)

    assert run.status in {SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL}, run.error
    existing.refresh_from_db()
    assert existing.status == Item.Status.CONFIRMED
    assert existing.name == "Our own name"
    assert Listing.objects.get(channel=channel, seller_sku=known["sku"]).item == existing
    unconfirmed = Item.objects.filter(status=Item.Status.UNCONFIRMED)
    assert unconfirmed.count() == Listing.objects.count() - 1
    assert run.items_synced == Listing.objects.count()
    # French titles survive windows-1252.
    assert Listing.objects.filter(title__regex=r"[éèàç]").exists()
    fba = Listing.objects.filter(fulfillment_channel="amazon")
    assert fba.exists()


def test_it_skips_variation_families_with_more_than_three_attributes(
    live_sim: Simulator, channel: SalesChannel, warehouse: Any
) -> None:
    run = run_item_sync(live_sim, channel)
    skipped = run.records.filter(outcome=SyncRecord.Outcome.SKIPPED)
    assert skipped.exists()
    for record in skipped:
        assert "Variation family with" in record.reason
        assert not Listing.objects.filter(seller_sku=record.external_id).exists()


def test_it_is_idempotent(live_sim: Simulator, channel: SalesChannel, warehouse: Any) -> None:
    run_item_sync(live_sim, channel)
    counts = (Item.objects.count(), Listing.objects.count())
    run_item_sync(live_sim, channel)
    assert (Item.objects.count(), Listing.objects.count()) == counts


def test_confirming_sets_opening_stock_and_releases_held_orders(
    live_sim: Simulator, channel: SalesChannel, warehouse: Any
) -> None:
    run_item_sync(live_sim, channel)
    listing = Listing.objects.filter(fulfillment_channel="merchant", amazon_quantity__gt=0).first()
    assert listing is not None
    created = sim_post(
        live_sim,
        "/_sim/orders",
        {
            "count": 1,
            "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT",
            "skus": [listing.seller_sku],
        },
    )["orders"][0]
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    assert order.status == SalesOrder.Status.ON_HOLD

    released = item_services.confirm_item(listing.item)

    assert released == 1
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CONFIRMED
    stock_row = Stock.objects.get(item=listing.item, warehouse=warehouse)
    assert stock_row.on_hand == listing.amazon_quantity
    assert stock_row.committed == created["orderItems"][0]["quantityOrdered"]


def test_linking_maps_the_listing_to_an_existing_item(
    live_sim: Simulator, channel: SalesChannel, warehouse: Any
) -> None:
    run_item_sync(live_sim, channel)
    listing = Listing.objects.filter(fulfillment_channel="merchant").first()
    assert listing is not None
    ours = Item.objects.create(sku="OUR-MUG", name="Mug")
    unconfirmed = listing.item

    item_services.link_item(unconfirmed, ours)

    listing.refresh_from_db()
    assert listing.item == ours
    assert not Item.objects.filter(id=unconfirmed.id).exists()


def test_a_linked_listing_is_pushed_the_items_quantity(
    live_sim: Simulator, channel: SalesChannel, warehouse: Any
) -> None:
    """Amazon kept the listing's old quantity (e.g. 22 while the item had 87) until something
    else marked it."""
    run_item_sync(live_sim, channel)
    listing = Listing.objects.filter(fulfillment_channel="merchant").first()
    assert listing is not None
    ours = Item.objects.create(sku="OUR-MUG", name="Mug")
    stock.set_opening_stock(ours, warehouse, 87)
    Listing.objects.update(push_pending=False)

    item_services.link_item(listing.item, ours)
    push = run_push(live_sim, channel)

    assert push.status == SyncRun.Status.SUCCEEDED, push.error
    assert listed_quantities(live_sim)[listing.seller_sku] == 87


def test_no_listing_is_missed_when_listings_change_while_the_sync_pages(
    live_sim: Simulator, channel: SalesChannel, warehouse: Any
) -> None:
    """A listing edited between two searchListingsItems pages jumps to a page already read in
    Amazon's default newest-first order; the sync must still bring its product type, which
    the stock push needs."""
    # Before each of the first six page requests, a seller edits a listing in Seller Central.
    sim_post(
        live_sim,
        "/_sim/faults",
        {"operation": "searchListingsItems", "kind": "listing_edit", "count": 6},
    )

    run = run_item_sync(live_sim, channel)

    assert run.status in {SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL}, run.error
    assert sim_get(live_sim, "/_sim/faults")["faults"] == []  # all six edits happened
    product_types = {
        e["sku"]: e["productType"] for e in sim_get(live_sim, "/_sim/listings")["listings"]
    }
    imported = dict(Listing.objects.values_list("seller_sku", "product_type"))
    assert imported
    assert imported == {sku: product_types[sku] for sku in imported}
