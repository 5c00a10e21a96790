"""The product's flows end to end in a real browser, with the in-process simulator as Amazon.

Flows already covered elsewhere, and so not repeated here:
- test_shell.py: log in (redirect and back), log out, warehouses and organization settings
  (including the order sync preference on Settings › Organization), staff read-only settings.
- test_marketplaces.py: connect Amazon through the consent page, the warehouse-mapping pop-up,
  module toggles, Sync Manually's errors and estimate, Sync History filters, re-initiate from a
  run page, disable and re-enable, masked buyer data for staff.
- test_item_stock.py: stock adjustment on the item page.
- test_shipments.py: staff create a (partial) shipment.

The suite's Celery broker is memory:// and drops what views queue, so each test drives the
work a worker would do itself (``task.apply`` or the service), after the browser asked for it.
Set DOCS_SCREENSHOTS=1 to refresh docs/screenshots/ from these tests.
"""

from __future__ import annotations

import os
import re
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.utils import timezone
from playwright.sync_api import Page, ViewportSize, expect

from marketplaces.amazon import drift
from marketplaces.amazon.connection import client_for
from marketplaces.models import Listing, SalesChannel, SalesOrder, Shipment
from marketplaces.tasks import sync_orders_task
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory.models import SyncRun
from tests.factories import SyncRecordFactory, SyncRunFactory
from tests.helpers.amazon import (
    link_listings,
    placed_order,
    push,
    run_order_sync,
    run_push,
    send_order_updates,
)
from tests.helpers.browser import screenshot
from warehouses.models import Item, Organization, Warehouse

DOCS = Path(__file__).resolve().parents[2] / "docs" / "screenshots"


def shot(page: Page, name: str) -> None:
    """test-artifacts/ always; docs/screenshots/ when DOCS_SCREENSHOTS=1 (1280 px wide)."""
    path = screenshot(page, name)
    if os.environ.get("DOCS_SCREENSHOTS") == "1":
        DOCS.mkdir(parents=True, exist_ok=True)
        (DOCS / f"{name}.png").write_bytes(path.read_bytes())


def new_orders(sim: Simulator, skus: list[str], count: int = 1) -> list[dict[str, Any]]:
    created: list[dict[str, Any]] = sim_post(
        sim,
        "/_sim/orders",
        {"count": count, "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "skus": skus},
    )["orders"]
    sim_post(sim, "/_sim/clock/advance", {"seconds": 300})
    return created


def stocked_skus(items: dict[str, Item], count: int) -> list[str]:
    return [sku for sku, item in items.items() if item.stocks.exists()][:count]


def test_an_admin_changes_the_order_sync_preference_on_show_details(
    admin_page: Page,
    channel: SalesChannel,
) -> None:
    page = admin_page
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    preferences = page.locator("#sync-preferences")
    expect(preferences.get_by_label("Confirmed only")).to_be_checked()
    preferences.get_by_label("Confirmed and Fulfilled").check()
    preferences.get_by_role("button", name="Save preference").click()
    expect(
        page.get_by_text("Order sync preference: Confirmed and Fulfilled (all sales channels).")
    ).to_be_visible()
    expect(preferences.get_by_label("Confirmed and Fulfilled")).to_be_checked()
    assert Organization.load().order_sync_preference == "confirmed_and_fulfilled"


def test_a_manual_sync_of_a_period_runs_and_the_page_follows_it_to_the_result(
    admin_page: Page,
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
) -> None:
    created = new_orders(live_sim, stocked_skus(stocked_items, 2), count=3)
    page = admin_page
    today = timezone.localdate()

    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    page.get_by_role("link", name="Sync Manually").click()
    page.get_by_label("Orders").check()
    page.get_by_label("Specific Period").check()
    page.get_by_label("Start Date").fill((today - timedelta(days=1)).isoformat())
    page.get_by_label("End Date").fill(today.isoformat())
    page.get_by_role("button", name="Initiate Sync").click()

    expect(page.get_by_role("heading", name=re.compile(r"Sales orders sync #\d+"))).to_be_visible()
    run = SyncRun.objects.get(kind="orders", trigger="manual")
    assert run.window_start is not None and run.window_end is None
    expect(page.locator("#run-status")).to_have_text("Queued")
    # A worker took it and is a third of the way (its heartbeat is old, so the real run below
    # may claim it again, as after a worker restart).
    SyncRun.objects.filter(id=run.id).update(
        status="running",
        progress_done=1,
        progress_total=3,
        heartbeat_at=timezone.now() - timedelta(days=1),
    )
    expect(page.get_by_text("1 of 3 processed")).to_be_visible(timeout=10_000)
    expect(page.locator("#run-status")).to_have_text("Running")
    shot(page, "sync-manually-progress")

    sync_orders_task.apply(args=(run.id,))

    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=15_000)
    expect(page.get_by_text("updating every 2 seconds")).to_have_count(0)
    records = page.locator("#record-table")
    for order in created:
        expect(records).to_contain_text(order["orderId"])
    run.refresh_from_db()
    # The simulator's seeded order stream adds its own orders to the three made here.
    assert run.status == "succeeded" and run.orders_synced >= 3 and run.orders_failed == 0
    shot(page, "sync-run")


def test_the_estimate_and_the_run_say_what_is_not_imported_and_why(
    admin_page: Page,
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
) -> None:
    """Under "Confirmed only", a period of shipped orders: the estimate says they would not
    be imported and why, and the run lists them as skipped with that reason."""
    page = admin_page
    today = timezone.localdate()
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/sync/")
    page.get_by_label("Orders").check()
    page.get_by_label("Specific Period").check()
    page.get_by_label("Start Date").fill((today - timedelta(days=6)).isoformat())
    page.get_by_label("End Date").fill(today.isoformat())
    page.get_by_role("button", name="Estimate").click()
    expect(page.locator("#estimate-imported")).to_contain_text("would be imported or updated")
    expect(page.locator("#estimate-skipped")).to_contain_text('"Confirmed only"')
    shot(page, "sync-manually-estimate-skipped")

    page.get_by_role("button", name="Initiate Sync").click()
    run = SyncRun.objects.get(kind="orders", trigger="manual")
    sync_orders_task.apply(args=(run.id,))
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=15_000)
    run.refresh_from_db()
    assert run.orders_skipped > 0
    expect(page.locator("#run-skipped")).to_have_text(str(run.orders_skipped))
    expect(page.locator("#skipped")).to_contain_text("Shipped before it was ever imported")
    shot(page, "sync-run-skipped")
    page.get_by_role("link", name="Sync History").click()
    expect(page.locator("#run-table tbody tr").first).to_contain_text(str(run.orders_skipped))


def test_an_admin_opens_a_failed_run_from_the_history_and_re_initiates_it(
    admin_page: Page,
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
) -> None:
    created = new_orders(live_sim, stocked_skus(stocked_items, 1))[0]
    now = timezone.now()
    SyncRunFactory.create(channel=channel, kind="items", items_synced=12, finished_at=now)
    failed = SyncRunFactory.create(
        channel=channel,
        kind="orders",
        trigger="manual",
        status="failed",
        window_start=now - timedelta(days=1),
        finished_at=now,
        orders_failed=1,
        error="Amazon kept failing: 503 Service Unavailable",
    )
    SyncRecordFactory.create(
        run=failed,
        external_id=created["orderId"],
        outcome="failed",
        reason="Amazon answered 503 Service Unavailable",
    )
    page = admin_page

    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    page.get_by_role("link", name="Sync History").click()
    failed_row = page.get_by_role("row", name=re.compile(f"#{failed.id} "))
    expect(failed_row).to_contain_text("Failed")
    shot(page, "sync-history")
    failed_row.get_by_role("link", name=f"#{failed.id}").click()
    expect(page.get_by_role("alert")).to_contain_text("Amazon kept failing")
    expect(page.locator("#record-table")).to_contain_text("Amazon answered 503")

    page.get_by_role("button", name="Re-initiate").click()
    expect(page.get_by_text(f"Re-initiated from run #{failed.id}")).to_be_visible()
    again = SyncRun.objects.get(reinitiates=failed)
    assert (again.trigger, again.window_start) == ("reinitiated", failed.window_start)
    sync_orders_task.apply(args=(again.id,))
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=15_000)
    expect(page.locator("#record-table")).to_contain_text(created["orderId"])
    assert SalesOrder.objects.filter(amazon_order_id=created["orderId"]).exists()


def test_confirming_an_unconfirmed_item_releases_its_held_order(
    admin_page: Page,
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
) -> None:
    listing = next(
        entry
        for entry in sim_get(live_sim, "/_sim/listings")["listings"]
        if entry["fulfillmentChannelCode"] == "DEFAULT" and not entry["isParent"]
    )
    # The item sync found the listing with no matching item: an unconfirmed item.
    item = Item.objects.create(
        sku=listing["sku"], name=listing["title"], status=Item.Status.UNCONFIRMED
    )
    Listing.objects.create(
        channel=channel,
        item=item,
        seller_sku=item.sku,
        amazon_quantity=20,
        product_type=listing["productType"],
    )
    created = new_orders(live_sim, [item.sku])[0]
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    assert order.status == SalesOrder.Status.ON_HOLD
    page = admin_page

    page.goto("/sales-orders/")
    held_row = page.get_by_role("row", name=re.compile(order.amazon_order_id))
    expect(held_row).to_contain_text("On hold")
    expect(held_row).to_contain_text(order.hold_reason)
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Items").click()
    page.get_by_role("link", name=re.compile("Unconfirmed")).click()
    row = page.get_by_role("row", name=re.compile(re.escape(item.sku)))
    expect(row).to_contain_text("Unconfirmed")
    expect(row.get_by_role("link", name=f"Link {item.sku} to an existing item")).to_be_visible()
    shot(page, "items-unconfirmed")
    row.get_by_role("button", name=f"Confirm {item.sku}").click()

    released = f"{item.sku} is confirmed. 1 held sales order(s) released."
    expect(page.get_by_text(released)).to_be_visible()
    expect(page).to_have_url(re.compile(r"/items/\?status=unconfirmed$"))
    expect(page.get_by_role("row", name=re.compile(re.escape(item.sku)))).to_have_count(0)
    page.get_by_role("link", name="All items").click()
    shot(page, "items")
    page.get_by_role("link", name=item.sku).click()
    expect(page.locator("#stock-table")).to_contain_text(warehouse.name)
    shot(page, "item")
    page.get_by_role("navigation", name="Main").get_by_role("link", name="Sales Orders").click()
    shot(page, "sales-orders")
    page.get_by_label("Status").select_option(label="Confirmed")
    page.get_by_role("button", name="Filter").click()
    expect(page.get_by_role("row", name=re.compile(order.amazon_order_id))).to_contain_text(
        "Confirmed"
    )
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CONFIRMED


def test_staff_ship_an_order_and_see_amazon_accept_it(
    staff_page: Page,
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    line = order.lines.get()
    page = staff_page

    page.goto("/sales-orders/")
    page.get_by_role("link", name=order.amazon_order_id).click()
    page.get_by_role("link", name="Create shipment").click()
    page.get_by_label(re.compile(r"^Carrier:?$")).select_option("Canada Post")
    page.get_by_label("Tracking number").fill("7023456789012")
    expect(page.get_by_label(f"{line.seller_sku} ({line.quantity} left to ship)")).to_have_value(
        str(line.quantity)
    )
    page.get_by_role("button", name="Create shipment").click()
    expect(page.get_by_text("Shipment created; Amazon is being told.")).to_be_visible()
    expect(page.get_by_text("Waiting to be sent")).to_be_visible()

    run = push(channel)  # what the shipments worker does

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    page.reload()
    expect(page.get_by_text("Accepted by Amazon")).to_be_visible()
    expect(page.get_by_role("heading", name=re.compile("Sales order"))).to_contain_text("Shipped")
    shot(page, "sales-order")
    assert Shipment.objects.get().amazon_status == Shipment.AmazonStatus.ACCEPTED
    received = sim_get(live_sim, "/_sim/shipments")["shipments"]
    assert [entry["orderId"] for entry in received] == [order.amazon_order_id]
    assert received[0]["packageDetail"]["trackingNumber"] == "7023456789012"


def test_an_admin_checks_stock_on_amazon_and_re_pushes_the_drifted_sku(
    admin_page: Page,
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 3)
    run_push(live_sim, channel)
    changed = listings[1]
    # Someone edits the quantity in Seller Central behind our back.
    client_for(channel).patch_listing_quantity(changed.seller_sku, changed.product_type, 99)
    page = admin_page

    page.goto("/settings/integrations/marketplaces/")
    shot(page, "marketplaces")
    page.get_by_role("link", name="Show Details").click()
    section = page.locator("#stock-on-amazon")
    expect(section).to_contain_text("Not checked yet.")
    section.get_by_role("button", name="Check now").click()
    expect(page.get_by_text("Checking Amazon.ca's quantities…")).to_be_visible()

    drift.check_drift(channel, client_for(channel))  # what the worker does

    page.reload()
    rows = page.locator("#drift-table tbody tr")
    expect(rows).to_have_count(1)
    expect(rows.first).to_contain_text(re.compile(rf"{changed.seller_sku}.*99\s+7", re.S))
    shot(page, "channel-detail")
    section.get_by_role("button", name="Re-push").click()
    expect(page.get_by_text("1 SKU will be sent to Amazon.ca again")).to_be_visible()

    run_push(live_sim, channel)  # the push the view queued
    drift.check_drift(channel, client_for(channel))
    page.reload()
    expect(page.locator("#drift-none")).to_be_visible()
    assert sim_get(live_sim, "/_sim/listings")["listings"]


PHONE: ViewportSize = {"width": 390, "height": 844}


@pytest.mark.parametrize("view", ["items", "sales-orders", "channel-detail", "sync-history"])
def test_the_main_pages_fit_a_phone(
    admin_page: Page,
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    view: str,
) -> None:
    new_orders(live_sim, stocked_skus(stocked_items, 2), count=2)
    run_order_sync(channel)
    Item.objects.create(sku="NEW-LISTING-1", name="Nouveau", status=Item.Status.UNCONFIRMED)
    urls = {
        "items": "/items/",
        "sales-orders": "/sales-orders/",
        "channel-detail": f"/settings/integrations/marketplaces/{channel.id}/",
        "sync-history": f"/settings/integrations/marketplaces/{channel.id}/history/",
    }
    page = admin_page
    page.set_viewport_size(PHONE)
    page.goto(urls[view])
    expect(page.get_by_role("heading", level=1)).to_be_visible()
    screenshot(page, f"phone-{view}")
    # Tables scroll inside the page; the page itself never scrolls sideways.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= PHONE["width"], f"{view} is {width}px wide on a phone"
    # The main navigation stays reachable by keyboard.
    page.keyboard.press("Tab")
    page.keyboard.press("Tab")
    focused = page.evaluate("document.activeElement.textContent.trim()")
    assert focused == "Items"


def test_an_admin_sees_a_buyers_request_cancels_the_order_and_amazon_confirms(
    admin_page: Page,
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    line = order.lines.get()
    sim_post(
        live_sim, f"/_sim/orders/{order.amazon_order_id}/cancel-request", {"reason": "Too slow"}
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)
    page = admin_page

    page.goto("/")
    page.get_by_role("link", name="1 buyer cancellation request").click()
    page.get_by_role("link", name=order.amazon_order_id).click()
    expect(page.locator("#cancel-request")).to_contain_text(
        "The buyer asked to cancel this order (Too slow)"
    )
    page.get_by_role("link", name="Cancel order").click()
    page.get_by_label("Reason (sent to Amazon)").select_option("BuyerCanceled")
    expect(page.get_by_label(f"{line.seller_sku} ({line.quantity} left to ship)")).to_have_value(
        str(line.quantity)
    )
    shot(page, "sales-order-cancel")
    page.get_by_role("button", name="Cancel these lines").click()
    expect(
        page.get_by_text("Cancelled here, its stock released; Amazon is being told.")
    ).to_be_visible()
    expect(page.locator("#cancellation-table")).to_contain_text("Waiting to be sent")
    expect(page.get_by_role("heading", name=re.compile("Sales order"))).to_contain_text("Cancelled")

    run = send_order_updates(live_sim, channel)  # what the shipments worker does

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    page.reload()
    expect(page.locator("#cancellation-table")).to_contain_text("Amazon confirmed")
    shot(page, "sales-order-cancelled")
    page.goto("/")
    expect(page.locator("#attention, #quiet-day").first).not_to_contain_text(
        "buyer cancellation request"
    )
    on_amazon = next(
        o
        for o in sim_get(live_sim, "/_sim/orders")["orders"]
        if o["orderId"] == order.amazon_order_id
    )
    assert on_amazon["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
