"""Stock to every marketplace of a seller: Amazon.ca and Amazon.com from one authorization, each
told its own quantities by its own channel's rules, in one feed per marketplace."""

from __future__ import annotations

import json
from typing import Any

import pytest
from django.db import transaction

from marketplaces import channel_settings, connect, tasks
from marketplaces.models import ApiQuota, FulfillmentChannel, Listing, SalesChannel, StockPush
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get
from synchistory.models import SyncRun
from tests.amazon.test_item_sync import run_item_sync
from tests.helpers.amazon import SELLER_ID, run_push
from warehouses import stock
from warehouses.models import Organization, Warehouse

pytestmark = pytest.mark.django_db

CANADA, UNITED_STATES = "A2EUQ1WTGCTBG2", "ATVPDKIKX0DER"


def merchant_skus(channel: SalesChannel) -> set[str]:
    listings = Listing.objects.filter(
        channel=channel, fulfillment_channel=FulfillmentChannel.MERCHANT
    )
    return set(listings.values_list("seller_sku", flat=True))


def listed(sim: Simulator, marketplace_id: str) -> dict[str, int]:
    entries = sim_get(sim, f"/_sim/listings?marketplaceId={marketplace_id}")["listings"]
    return {entry["sku"]: entry["quantity"] for entry in entries}


def feeds_sent(sim: Simulator) -> list[tuple[list[str], dict[str, int]]]:
    """Each feed Amazon received: its marketplace ids and the quantity of each SKU in it."""
    sent = []
    for feed in sim.state.feeds.values():
        document = json.loads(sim.state.documents[feed.input_document_id].content)
        quantities = {
            message["sku"]: message["patches"][0]["value"][0]["quantity"]
            for message in document["messages"]
        }
        sent.append((list(feed.marketplace_ids), quantities))
    return sent


@pytest.fixture
def two_marketplaces(amazon_settings: Simulator, warehouse: Warehouse) -> Any:
    """Amazon.ca and Amazon.com of one seller, their listings synced, nothing pending."""
    canada = connect.connect_channel(
        name="Amazon.ca", seller_id=SELLER_ID, refresh_token="Atzr|simulator"
    )
    us = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    SyncRun.objects.all().delete()  # the initial runs, run here
    for channel in (canada, us):
        assert run_item_sync(amazon_settings, channel).status == SyncRun.Status.SUCCEEDED
    return canada, us


def test_a_bulk_change_sends_one_feed_per_marketplace_with_its_channels_quantities(
    amazon_settings: Simulator,
    warehouse: Warehouse,
    two_marketplaces: Any,
    monkeypatch: pytest.MonkeyPatch,
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Amazon.ca sees the organization total less its buffer of 2; Amazon.com sees the
    Buffalo warehouse alone, never more than its maximum of 8."""
    sim = amazon_settings
    canada, us = two_marketplaces
    organization = Organization.load()
    organization.multi_warehouse_enabled = True
    organization.save()
    buffalo = Warehouse.objects.create(name="Buffalo")
    channel_settings.update_channel_settings(canada, actor=None, safety_buffer=2)
    channel_settings.update_channel_settings(us, actor=None, max_quantity=8)
    channel_settings.set_warehouse_mapping(us, buffalo, actor=None)
    canada.refresh_from_db()
    us.refresh_from_db()
    assert (canada.mapped_warehouse_id, us.mapped_warehouse_id) == (None, buffalo.id)
    Listing.objects.update(push_pending=False)
    on_amazon_before = {market: listed(sim, market) for market in (CANADA, UNITED_STATES)}

    both = sorted(merchant_skus(canada) & merchant_skus(us))[:30]
    canada_only = sorted(merchant_skus(canada) - merchant_skus(us))[:3]
    us_only = sorted(merchant_skus(us) - merchant_skus(canada))[:2]
    assert len(both) == 30 and len(canada_only) == 3 and len(us_only) == 2
    item_of = {
        listing.seller_sku: listing.item
        for listing in Listing.objects.filter(
            seller_sku__in=[*both, *canada_only, *us_only]
        ).select_related("item")
    }
    for sku in both:  # one item behind both marketplaces' listings
        ids = Listing.objects.filter(seller_sku=sku).values_list("item_id", flat=True)
        assert len(set(ids)) == 1, sku

    queued: list[int] = []
    monkeypatch.setattr(
        tasks.push_stock_soon_task, "apply_async", lambda args, **options: queued.extend(args)
    )
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        # A stock count entered at once: many SKUs change in one transaction.
        for number, sku in enumerate(both):
            stock.set_opening_stock(item_of[sku], warehouse, 4 + number)
            stock.set_opening_stock(item_of[sku], buffalo, 2 * number)
        for sku in canada_only:
            stock.set_opening_stock(item_of[sku], warehouse, 40)
        for sku in us_only:
            stock.set_opening_stock(item_of[sku], buffalo, 3)
    assert set(queued) == {canada.id, us.id}
    assert merchant_skus_pending(canada) == {*both, *canada_only}
    assert merchant_skus_pending(us) == {*both, *us_only}

    for channel in (canada, us):
        assert run_push(sim, channel).status == SyncRun.Status.SUCCEEDED

    canada_told = {sku: (4 + n) + 2 * n - 2 for n, sku in enumerate(both)}
    canada_told.update(dict.fromkeys(canada_only, 38))
    us_told = {sku: min(2 * n, 8) for n, sku in enumerate(both)}
    us_told.update(dict.fromkeys(us_only, 3))
    assert sorted(feeds_sent(sim)) == sorted([([CANADA], canada_told), ([UNITED_STATES], us_told)])
    for channel in (canada, us):
        assert list(StockPush.objects.filter(channel=channel).values_list("method", "status")) == [
            (StockPush.Method.FEED, StockPush.Status.DONE)
        ]
    for market, told in ((CANADA, canada_told), (UNITED_STATES, us_told)):
        now_listed = listed(sim, market)
        assert {sku: now_listed[sku] for sku in told} == told, market
        # The SKUs nothing changed for keep what they had on that marketplace.
        untouched = set(now_listed) - set(told)
        assert {sku: now_listed[sku] for sku in untouched} == {
            sku: on_amazon_before[market][sku] for sku in untouched
        }
    for channel, told in ((canada, canada_told), (us, us_told)):
        pushed = dict(
            Listing.objects.filter(channel=channel, seller_sku__in=told).values_list(
                "seller_sku", "pushed_quantity"
            )
        )
        assert pushed == told
    assert not Listing.objects.filter(push_pending=True).exists()


def merchant_skus_pending(channel: SalesChannel) -> set[str]:
    listings = Listing.objects.filter(
        channel=channel, fulfillment_channel=FulfillmentChannel.MERCHANT, push_pending=True
    )
    return set(listings.values_list("seller_sku", flat=True))


def test_the_drift_check_of_each_marketplace_reads_and_flags_that_marketplaces_listings_only(
    amazon_settings: Simulator,
    warehouse: Warehouse,
    two_marketplaces: Any,
    django_capture_on_commit_callbacks: Any,
) -> None:
    from marketplaces.amazon import drift
    from marketplaces.amazon.connection import client_for

    sim = amazon_settings
    canada, us = two_marketplaces
    Listing.objects.update(push_pending=False)
    edited_on_us, edited_on_canada, untouched = sorted(merchant_skus(canada) & merchant_skus(us))[
        :3
    ]
    with django_capture_on_commit_callbacks(execute=True):  # the stock change marks both
        for sku in (edited_on_us, edited_on_canada, untouched):
            stock.set_opening_stock(
                Listing.objects.get(channel=us, seller_sku=sku).item, warehouse, 6
            )
    for channel in (canada, us):
        assert run_push(sim, channel).status == SyncRun.Status.SUCCEEDED
    # Someone edits a quantity in Seller Central: one SKU on Amazon.com, another on Amazon.ca.
    us_listing = Listing.objects.get(channel=us, seller_sku=edited_on_us)
    client_for(us).patch_listing_quantity(edited_on_us, us_listing.product_type, 99)
    canada_listing = Listing.objects.get(channel=canada, seller_sku=edited_on_canada)
    client_for(canada).patch_listing_quantity(edited_on_canada, canada_listing.product_type, 55)

    canada_report = drift.check_drift(canada, client_for(canada))
    us_report = drift.check_drift(us, client_for(us))

    assert canada_report.drifted == [edited_on_canada]
    assert us_report.drifted == [edited_on_us]
    assert canada_report.checked == len(listed(sim, CANADA))
    assert us_report.checked == len(listed(sim, UNITED_STATES))
    # Both checks drew on the seller's one searchListingsItems bucket, which knows who did.
    bucket = ApiQuota.objects.get(operation="searchListingsItems")
    assert (bucket.seller_id, bucket.marketplace_ids) == (SELLER_ID, [CANADA, UNITED_STATES])
    amazon_quantities = {
        (channel_id, sku): quantity
        for channel_id, sku, quantity in Listing.objects.filter(
            seller_sku__in=[edited_on_us, edited_on_canada, untouched]
        ).values_list("channel_id", "seller_sku", "amazon_quantity")
    }
    assert amazon_quantities == {
        (canada.id, edited_on_us): 6,
        (canada.id, edited_on_canada): 55,
        (canada.id, untouched): 6,
        (us.id, edited_on_us): 99,
        (us.id, edited_on_canada): 6,
        (us.id, untouched): 6,
    }

    # Re-push on Amazon.com sends Amazon.com's SKU again, and only to Amazon.com.
    assert drift.repush(us) == 1
    assert merchant_skus_pending(us) == {edited_on_us}
    assert merchant_skus_pending(canada) == set()
    assert run_push(sim, us).status == SyncRun.Status.SUCCEEDED
    assert listed(sim, UNITED_STATES)[edited_on_us] == 6
    assert listed(sim, CANADA)[edited_on_canada] == 55  # Amazon.ca's own check, own re-push
    assert drift.check_drift(us, client_for(us)).drifted == []
