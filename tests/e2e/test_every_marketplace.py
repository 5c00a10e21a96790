"""Show Details of a seller's second marketplace in a real browser: Stock on Amazon.com with
Amazon.com's SKUs, and the API quota the seller's marketplaces share."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from marketplaces import connect
from marketplaces.amazon import drift
from marketplaces.amazon.connection import client_for
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from spapi_simulator import DEFAULT_SELLER_ID, Simulator
from synchistory.models import SyncRun
from tests.amazon.test_item_sync import run_item_sync
from tests.helpers.amazon import run_push
from tests.helpers.browser import screenshot
from warehouses import stock
from warehouses.models import Warehouse


def merchant_skus(channel: SalesChannel) -> set[str]:
    listings = Listing.objects.filter(
        channel=channel, fulfillment_channel=FulfillmentChannel.MERCHANT
    )
    return set(listings.values_list("seller_sku", flat=True))


def test_amazon_com_shows_its_own_drift_and_the_quota_it_shares_with_amazon_ca(
    admin_page: Page, amazon_settings: Simulator, warehouse: Warehouse
) -> None:
    sim = amazon_settings
    canada = connect.connect_channel(
        name="Amazon.ca", seller_id=DEFAULT_SELLER_ID, refresh_token="Atzr|simulator"
    )
    us = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    SyncRun.objects.all().delete()  # the initial runs, run here
    for channel in (canada, us):
        assert run_item_sync(sim, channel).status == SyncRun.Status.SUCCEEDED
    Listing.objects.update(push_pending=False)
    on_us, on_canada = sorted(merchant_skus(canada) & merchant_skus(us))[:2]
    for sku in (on_us, on_canada):  # each change marks the SKU on both channels
        item = Listing.objects.get(channel=us, seller_sku=sku).item
        stock.set_opening_stock(item, warehouse, 6)
    for channel in (canada, us):
        assert run_push(sim, channel).status == SyncRun.Status.SUCCEEDED
    # Seller Central edits: one SKU on Amazon.com, the other on Amazon.ca.
    for channel, sku, quantity in ((us, on_us, 99), (canada, on_canada, 55)):
        listing = Listing.objects.get(channel=channel, seller_sku=sku)
        client_for(channel).patch_listing_quantity(sku, listing.product_type, quantity)
        drift.check_drift(channel, client_for(channel))  # what the daily check does
    page = admin_page

    page.goto(f"/settings/integrations/marketplaces/{us.id}/")
    stock_section = page.locator("#stock-on-amazon")
    expect(stock_section.get_by_role("heading", name="Stock on Amazon.com")).to_be_visible()
    expect(stock_section).to_contain_text("The quantities Amazon.com lists")
    rows = page.locator("#drift-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(re.compile(rf"{on_us}.*99\s+6", re.S))
    shared = page.locator("#quota-shared")
    expect(shared).to_have_text(re.compile(r"^Shared by Amazon\.ca, Amazon\.com: "))
    listings_row = page.locator("#quota-table tbody tr", has_text="searchListingsItems")
    expect(listings_row).to_contain_text("Amazon.ca, Amazon.com")
    screenshot(page, "channel-detail-second-marketplace")

    shared.get_by_role("link", name="Amazon.ca").click()
    expect(page.get_by_role("heading", name="Stock on Amazon.ca")).to_be_visible()
    expect(page.locator("#drift-table tbody tr")).to_have_count(1)
    expect(page.locator("#drift-table tbody tr").first).to_contain_text(
        re.compile(rf"{on_canada}.*55\s+6", re.S)
    )
    expect(page.locator("#quota-shared")).to_contain_text("Shared by Amazon.ca, Amazon.com")
