"""The home page in a real browser: what needs attention, and each entry's link to the list
that fixes it (also at a phone's width)."""

from __future__ import annotations

from datetime import timedelta

from django.core.cache import cache
from django.utils import timezone
from playwright.sync_api import Page, expect

from marketplaces.models import NotificationSetup, SalesChannel, SalesOrder, SalesReturn
from synchistory.models import SyncRun
from tests.factories import (
    ItemFactory,
    ListingFactory,
    SalesChannelFactory,
    SalesOrderFactory,
    SyncRecordFactory,
    SyncRunFactory,
    WarehouseFactory,
)
from tests.helpers.browser import screenshot
from warehouses.models import Item, Stock


def a_busy_morning() -> dict[str, SalesOrder]:
    now = timezone.now()
    ca = SalesChannelFactory.create(name="Amazon.ca")
    SalesChannelFactory.create(name="Amazon.com", status=SalesChannel.Status.NEEDS_REAUTHORIZATION)
    run = SyncRunFactory.create(channel=ca, status=SyncRun.Status.PARTIAL)
    for _ in range(2):
        SyncRecordFactory.create(run=run, outcome="failed", reason="No primary warehouse is set")
    warehouse = WarehouseFactory.create(name="Toronto")
    mug = ItemFactory.create(sku="MUG-RED", name="Red maple mug", reorder_point=5)
    Stock.objects.create(item=mug, warehouse=warehouse, on_hand=3)
    ListingFactory.create(
        channel=ca, item=mug, amazon_quantity=1, pushed_quantity=3, amazon_quantity_checked_at=now
    )
    ItemFactory.create(sku="NEW-1", status=Item.Status.UNCONFIRMED)
    made = {
        "late": SalesOrderFactory.create(
            channel=ca,
            warehouse=warehouse,
            amazon_order_id="702-0000001-0000001",
            purchased_at=now - timedelta(days=3),
            latest_ship_date=now - timedelta(hours=5),
            total=42,
        ),
        "later": SalesOrderFactory.create(
            channel=ca,
            warehouse=warehouse,
            amazon_order_id="702-0000002-0000002",
            purchased_at=now - timedelta(hours=2),
            latest_ship_date=now + timedelta(days=2),
            total=18,
        ),
        "held": SalesOrderFactory.create(
            channel=ca,
            warehouse=warehouse,
            amazon_order_id="702-0000003-0000003",
            purchased_at=now - timedelta(hours=1),
            status=SalesOrder.Status.ON_HOLD,
            hold_reason="Waiting for unconfirmed items: NEW-1",
            total=9,
        ),
    }
    # A buyer asked to cancel the order due later; a return from last season is back.
    SalesOrder.objects.filter(id=made["later"].id).update(
        buyer_cancel_request=SalesOrder.CancelRequest.OPEN, buyer_cancel_reason="Ordered twice"
    )
    returned = SalesOrderFactory.create(
        channel=ca,
        warehouse=warehouse,
        status=SalesOrder.Status.SHIPPED,
        purchased_at=now - timedelta(days=45),
    )
    SalesReturn.objects.create(
        order=returned,
        amazon_return_id="D1RETURN",
        fulfillment_channel="merchant",
        status=SalesReturn.Status.RECEIVED,
        requested_at=now - timedelta(days=5),
        received_at=now - timedelta(hours=3),
    )
    # Notifications on for the seller, and nothing heard for five hours.
    NotificationSetup.objects.create(
        seller_id=ca.seller_id,
        status=NotificationSetup.Status.ENABLED,
        enabled_at=now - timedelta(hours=5),
    )
    return made


def test_the_home_page_leads_to_what_needs_fixing(admin_page: Page) -> None:
    page = admin_page
    orders = a_busy_morning()
    cache.clear()  # the login landed on the home page: its charts are kept for a minute
    page.goto("/")
    attention = page.locator("#attention")
    expect(attention).to_contain_text("1 order late to ship")
    expect(attention).to_contain_text("1 order on hold")
    expect(attention).to_contain_text("Amazon.com needs re-authorization")
    expect(attention).to_contain_text("2 No primary warehouse is set")
    expect(attention).to_contain_text("1 SKU whose Amazon quantity drifted")
    expect(attention).to_contain_text("1 item out of stock or at the reorder point")
    expect(attention).to_contain_text("1 buyer cancellation request")
    expect(attention).to_contain_text("1 return delivered back, to receive into stock")
    expect(attention).to_contain_text(f"Amazon notifications of {orders['late'].channel.seller_id}")
    expect(page.get_by_role("link", name="Re-authorize")).to_be_visible()
    expect(page.locator("figure.chart")).to_contain_text("Amazon.ca: 3 orders, 69.00 CAD")
    screenshot(page, "home")

    page.get_by_role("link", name="1 order late to ship").click()
    expect(page).to_have_url("/sales-orders/?ship=late")
    table = page.locator("#order-table tbody")
    expect(table).to_contain_text(orders["late"].amazon_order_id)
    expect(table).not_to_contain_text(orders["later"].amazon_order_id)
    expect(page.get_by_role("link", name="Late")).to_have_attribute("aria-current", "page")

    page.get_by_role("link", name="On hold").click()
    expect(table).to_contain_text("Waiting for unconfirmed items: NEW-1")

    # A search keeps the other filters: the held order has no MUG-RED line.
    page.get_by_label("Search").fill("MUG-RED")
    page.get_by_role("button", name="Filter").click()
    expect(table).to_contain_text("No sales orders match these filters")
    page.get_by_role("link", name="All orders").click()
    page.get_by_label("Search").fill(orders["later"].amazon_order_id)
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#order-table tbody tr")).to_have_count(1)
    expect(table).to_contain_text(orders["later"].amazon_order_id)

    page.goto("/")
    page.get_by_role("link", name="1 item out of stock or at the reorder point").click()
    expect(page.locator("#item-table")).to_contain_text("MUG-RED")
    page.goto("/")
    page.get_by_role("link", name="1 SKU whose Amazon quantity drifted").click()
    expect(page.locator("#item-table")).to_contain_text("MUG-RED")
    page.goto("/")
    page.get_by_role("link", name="1 buyer cancellation request").click()
    expect(table).to_contain_text(orders["later"].amazon_order_id)
    page.goto("/")
    page.get_by_role("link", name="1 return delivered back, to receive into stock").click()
    expect(page.locator("main")).to_contain_text("D1RETURN")
    page.goto("/")
    page.locator('[data-entry="notifications-unhealthy"] a').click()
    expect(page.locator("main")).to_contain_text("Notifications")


def test_staff_see_the_same_home_without_re_authorize(staff_page: Page) -> None:
    page = staff_page
    a_busy_morning()
    page.set_viewport_size({"width": 390, "height": 844})
    page.goto("/")
    expect(page.locator("#attention")).to_contain_text("Amazon.com needs re-authorization")
    expect(page.get_by_role("link", name="Re-authorize")).to_have_count(0)
    expect(page.locator("#attention")).to_contain_text("an administrator can re-authorize it")
    # Nothing wider than the phone: the entries wrap.
    width = page.evaluate("document.documentElement.scrollWidth")
    assert width <= 390, width
    screenshot(page, "home-390")


def test_a_quiet_day(admin_page: Page) -> None:
    admin_page.goto("/")
    expect(admin_page.locator("#quiet-day")).to_contain_text("A quiet day")
