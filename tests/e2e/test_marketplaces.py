"""The marketplace settings pages in a real browser: connect, Show Details, Sync Manually,
Sync History, sales order page."""

from __future__ import annotations

import re
from datetime import timedelta
from decimal import Decimal

from playwright.sync_api import Page, expect

from marketplaces.models import ApiQuota, SalesChannel, SalesOrderLine, SalesOrderTax
from spapi_simulator import (
    DEFAULT_SELLER_ID,
    Simulator,
)
from synchistory.models import SyncRun
from tests.factories import (
    ItemFactory,
    SalesChannelFactory,
    SalesOrderFactory,
    SyncRecordFactory,
    SyncRunFactory,
    WarehouseFactory,
)
from tests.helpers.browser import screenshot
from warehouses.models import Organization


def organization(multi_warehouse: bool) -> Organization:
    org = Organization.load()
    org.multi_warehouse_enabled = multi_warehouse
    org.primary_warehouse = WarehouseFactory.create(name="Toronto")
    org.save()
    return org


def connect_through_seller_central(page: Page) -> SalesChannel:
    """Connect Amazon.ca the OAuth way: Authorize with Amazon, then Authorize on the
    simulator's Seller Central consent page."""
    organization(multi_warehouse=False)
    page.goto("/settings/integrations/amazon/connect/")
    page.get_by_role("button", name="Authorize with Amazon").click()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("is connected. The initial sync has started.")).to_be_visible()
    return SalesChannel.objects.get()


def test_an_admin_maps_a_warehouse_through_the_pop_up(admin_page: Page) -> None:
    from django.utils import timezone

    page = admin_page
    organization(multi_warehouse=True)
    WarehouseFactory.create(name="Montréal")
    channel = SalesChannelFactory.create(name="Amazon.ca", seller_id="A3MAPLESHOP")
    SyncRunFactory.create(
        channel=channel, kind="orders", orders_synced=14, finished_at=timezone.now()
    )
    ApiQuota.objects.create(
        seller_id="A3MAPLESHOP",
        operation="searchOrders",
        tokens=10,
        refilled_at=timezone.now(),
        calls=120,
        throttled=2,
        paced=9,
        next_allowed_at=timezone.now() + timedelta(seconds=90),
    )

    page.goto("/settings/integrations/marketplaces/")
    screenshot(page, "marketplaces-list")
    page.get_by_role("link", name="Show Details").click()
    expect(page.get_by_role("heading", level=1, name=re.compile("Amazon.ca"))).to_be_visible()
    page.get_by_role("switch", name="Warehouse mapping").check()
    dialog = page.get_by_role("dialog", name="Map a warehouse")
    expect(dialog).to_be_visible()
    dialog.get_by_label("Warehouse").select_option(label="Montréal")
    screenshot(page, "channel-mapping-dialog")
    dialog.get_by_role("button", name="Save").click()
    expect(page.get_by_text("Mapped warehouse: Montréal")).to_be_visible()
    expect(page.get_by_role("switch", name="Warehouse mapping")).to_be_checked()
    screenshot(page, "channel-detail")
    channel.refresh_from_db()
    assert channel.mapped_warehouse is not None and channel.mapped_warehouse.name == "Montréal"

    # Cancel leaves it as it was; switching off turns mapping off.
    page.get_by_role("button", name="Change warehouse").click()
    page.get_by_role("dialog").get_by_role("button", name="Cancel").click()
    expect(page.get_by_role("switch", name="Warehouse mapping")).to_be_checked()
    page.get_by_role("switch", name="Warehouse mapping").uncheck()
    expect(page.get_by_text("Warehouse mapping is off")).to_be_visible()
    channel.refresh_from_db()
    assert channel.mapped_warehouse is None


def test_the_mapping_switch_explains_multi_warehouse_is_off(admin_page: Page) -> None:
    page = admin_page
    organization(multi_warehouse=False)
    channel = SalesChannelFactory.create()
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    expect(page.get_by_role("switch", name="Warehouse mapping")).to_be_disabled()
    expect(page.get_by_text("Warehouse mapping needs multi-warehouse")).to_be_visible()
    page.get_by_role("link", name="Settings › Organization").click()
    expect(page).to_have_url(re.compile("/settings/organization/$"))


def test_a_module_toggle_saves_without_a_reload(admin_page: Page) -> None:
    page = admin_page
    channel = SalesChannelFactory.create()
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    page.get_by_role("switch", name="Stock", exact=True).uncheck()
    expect(page.get_by_text("Saved.")).to_be_visible()
    channel.refresh_from_db()
    assert channel.sync_stock is False


def test_sync_manually_shows_the_error_next_to_the_field(admin_page: Page) -> None:
    page = admin_page
    channel = SalesChannelFactory.create()
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/sync/")
    expect(page.get_by_label("Start Date")).to_be_hidden()  # since last sync
    page.get_by_label("Specific Period").check()
    page.get_by_label("Start Date").fill("2026-01-10")
    page.get_by_label("End Date").fill("2026-01-05")
    page.get_by_role("button", name="Initiate Sync").click()
    end_field = page.locator(".field", has=page.get_by_label("End Date"))
    expect(end_field.get_by_role("alert")).to_have_text("The end date is before the start date.")
    screenshot(page, "sync-manually-error")
    assert not SyncRun.objects.exists()


def test_sync_manually_estimates_then_starts_a_run(admin_page: Page) -> None:
    from tests.factories import ListingFactory

    page = admin_page
    channel = SalesChannelFactory.create()
    ListingFactory.create_batch(4, channel=channel)
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/sync/")
    page.get_by_label("Items").check()
    page.get_by_role("button", name="Estimate").click()
    expect(page.get_by_text("4 items")).to_be_visible()
    screenshot(page, "sync-manually-estimate")
    page.get_by_role("button", name="Initiate Sync").click()
    expect(page.get_by_role("heading", name=re.compile(r"Items sync #\d+"))).to_be_visible()
    run = SyncRun.objects.get()
    assert (run.kind, run.trigger) == ("items", "manual")
    # The page polls the run; a worker's progress shows up without a reload.
    expect(page.locator("#run-status")).to_have_text(re.compile("Queued|Running|Succeeded|Failed"))
    SyncRun.objects.filter(id=run.id).update(
        status="running", progress_done=2, progress_total=4, items_synced=2
    )
    expect(page.get_by_text("2 of 4 processed")).to_be_visible(timeout=10_000)
    screenshot(page, "sync-run-live")
    SyncRun.objects.filter(id=run.id).update(
        status="succeeded", progress_done=4, items_synced=4, finished_at=run.created_at
    )
    expect(page.locator("#run-status")).to_have_text("Succeeded", timeout=10_000)
    expect(page.get_by_text("updating every 2 seconds")).to_have_count(0)


def test_sync_history_filter_and_a_run_with_failures_first(staff_page: Page) -> None:
    page = staff_page
    channel = SalesChannelFactory.create()
    SyncRunFactory.create(channel=channel, kind="items", items_synced=30)
    partial = SyncRunFactory.create(
        channel=channel, kind="orders", status="partial", orders_synced=8, orders_failed=1
    )
    SyncRecordFactory.create(run=partial, external_id="702-0000001-0000001", outcome="synced")
    SyncRecordFactory.create(
        run=partial,
        external_id="702-0000002-0000002",
        outcome="failed",
        reason="SKU MAPLE-9 has no item yet",
    )
    SyncRunFactory.create(channel=channel, kind="orders", trigger="manual", orders_synced=3)
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    page.get_by_role("link", name="Sync History").click()
    expect(page.locator("#run-table tbody tr")).to_have_count(3)
    screenshot(page, "sync-history")
    page.get_by_label("Kind").select_option(label="Sales orders")
    page.get_by_label("Status").select_option(label="Completed with failures")
    page.get_by_role("button", name="Filter").click()
    expect(page.locator("#run-table tbody tr")).to_have_count(1)
    page.get_by_role("link", name=f"#{partial.id}").click()
    rows = page.locator("#record-table tbody tr")
    expect(rows.first).to_contain_text("Failed")
    expect(rows.first).to_contain_text("SKU MAPLE-9 has no item yet")
    expect(rows.nth(1)).to_contain_text("Synced")
    screenshot(page, "sync-run-detail")


def test_a_marketplace_fetched_in_the_sellers_order_stream_links_its_lead(
    staff_page: Page,
) -> None:
    page = staff_page
    canada = SalesChannelFactory.create(name="Amazon.ca")
    us = SalesChannelFactory.create(
        name="Amazon.com",
        seller_id=canada.seller_id,
        marketplace="amazon_com",
        marketplace_id="ATVPDKIKX0DER",
        currency="USD",
    )
    lead = SyncRunFactory.create(channel=canada, kind="orders", orders_synced=12)
    shared = SyncRunFactory.create(channel=us, kind="orders", orders_synced=5, fetched_with=lead)
    SyncRecordFactory.create(run=shared, external_id="113-0000001-0000001", outcome="synced")
    page.goto(f"/settings/integrations/marketplaces/{us.id}/history/")
    expect(page.locator("#run-table tbody tr").first).to_contain_text("shared")
    page.get_by_role("link", name=f"#{shared.id}").click()
    expect(page.locator("#fetched-with")).to_contain_text("Amazon.ca's run")
    screenshot(page, "sync-run-shared-stream")
    page.locator("#fetched-with").get_by_role("link", name=f"run #{lead.id}").click()
    expect(page.locator("#fetched-together")).to_contain_text("Amazon.com")
    expect(page.locator("h1")).to_contain_text(f"#{lead.id}")


def test_an_admin_re_initiates_a_run(admin_page: Page) -> None:
    page = admin_page
    old = SyncRunFactory.create(kind="orders", status="partial", orders_failed=1)
    SyncRecordFactory.create(run=old, outcome="failed", reason="Amazon said no")
    page.goto(f"/sync-runs/{old.id}/")
    page.get_by_role("button", name="Re-initiate").click()
    expect(page.get_by_text(f"Re-initiated from run #{old.id}")).to_be_visible()
    new = SyncRun.objects.get(reinitiates=old)
    page.get_by_role("link", name=f"run #{old.id}").click()
    expect(page.get_by_text(f"Re-initiated by run #{new.id}")).to_be_visible()


def test_disable_asks_for_confirmation_then_re_enable(admin_page: Page) -> None:
    page = admin_page
    channel = SalesChannelFactory.create()
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    page.get_by_role("button", name="Disable").click()
    dialog = page.get_by_role("dialog", name=re.compile("Disable"))
    expect(dialog).to_contain_text("Nothing will sync")
    screenshot(page, "channel-disable-dialog")
    dialog.get_by_role("button", name="Cancel").click()
    channel.refresh_from_db()
    assert channel.status == "active"
    page.get_by_role("button", name="Disable").click()
    page.get_by_role("dialog").get_by_role("button", name="Disable channel").click()
    expect(page.get_by_text("This channel is inactive: nothing syncs")).to_be_visible()
    expect(page.get_by_role("link", name="Sync Manually")).to_have_count(0)
    screenshot(page, "channel-inactive")
    channel.refresh_from_db()
    assert channel.status == "inactive"
    page.get_by_role("button", name="Re-enable").click()
    expect(page.get_by_text("is active again")).to_be_visible()
    channel.refresh_from_db()
    assert channel.status == "active"


def test_an_admin_connects_amazon_through_seller_central(
    admin_page: Page, amazon_settings: Simulator
) -> None:
    organization(multi_warehouse=False)
    page = admin_page
    page.goto("/settings/integrations/marketplaces/")
    page.get_by_role("link", name="Set up now").click()
    screenshot(page, "amazon-connect")
    page.get_by_role("button", name="Authorize with Amazon").click()
    expect(page.get_by_role("heading", name="Seller Central (simulator)")).to_be_visible()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("is connected. The initial sync has started.")).to_be_visible()
    channel = SalesChannel.objects.get()
    assert channel.seller_id == DEFAULT_SELLER_ID
    expect(page.get_by_text(DEFAULT_SELLER_ID).first).to_be_visible()
    assert set(SyncRun.objects.values_list("kind", "trigger")) == {
        ("items", "initial"),
        ("orders", "initial"),
    }
    screenshot(page, "amazon-connected")


def test_the_connect_page_lists_prerequisite_problems(admin_page: Page) -> None:
    org = Organization.load()
    org.base_currency = "USD"
    org.save()
    admin_page.goto("/settings/integrations/amazon/connect/")
    expect(admin_page.get_by_text("The base currency is USD")).to_be_visible()
    expect(admin_page.get_by_role("button", name="Authorize with Amazon")).to_be_disabled()
    screenshot(admin_page, "amazon-connect-prerequisites")


def test_staff_see_an_order_with_masked_buyer(staff_page: Page) -> None:
    order = SalesOrderFactory.create(
        buyer_name="Émilie Tremblay",
        buyer_email="emilie@example.ca",
        total=Decimal("21.50"),
        subtotal=Decimal("20.00"),
        tax_total=Decimal("1.50"),
    )
    line = SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="1",
        item=ItemFactory.create(sku="MAPLE-1"),
        seller_sku="MAPLE-1",
        title="Sirop d'érable 1 L",
        quantity=1,
        unit_price=Decimal("20.00"),
    )
    SalesOrderTax.objects.create(
        line=line,
        component="item",
        collector="marketplace",
        tax_name="GST",
        amount=Decimal("1.50"),
    )
    staff_page.goto("/sales-orders/")
    staff_page.get_by_role("link", name=order.amazon_order_id).click()
    expect(staff_page.get_by_text("É•••••")).to_be_visible()
    expect(staff_page.get_by_text("Tremblay")).to_have_count(0)
    expect(staff_page.locator("#tax-table")).to_contain_text("Marketplace facilitator")
    screenshot(staff_page, "sales-order-detail-staff")


def test_authorizing_a_connected_seller_again_offers_its_reauthorization(
    admin_page: Page, amazon_settings: Simulator
) -> None:
    page = admin_page
    channel = connect_through_seller_central(page)

    page.goto("/settings/integrations/amazon/connect/")
    page.get_by_role("button", name="Authorize with Amazon").click()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("is already connected on Amazon.ca").first).to_be_visible()
    screenshot(page, "amazon-connect-already-connected")
    page.get_by_role("link", name="Re-authorize Amazon.ca").click()
    expect(page.get_by_role("heading", name="Re-authorize Amazon.ca")).to_be_visible()
    screenshot(page, "amazon-reauthorize")
    page.get_by_role("button", name="Authorize with Amazon").click()
    page.get_by_role("button", name="Authorize").click()
    expect(page.get_by_text("is connected")).to_be_visible()
    assert SalesChannel.objects.get().id == channel.id


def test_an_order_amazon_sent_without_its_address_says_why_and_what_to_do(
    admin_page: Page,
) -> None:
    from django.utils import timezone

    order = SalesOrderFactory.create(
        personal_data_withheld="address,email,name",
        shipping_address={"city": "Montréal", "stateOrRegion": "QC", "countryCode": "CA"},
        purchased_at=timezone.now() - timedelta(hours=3),
    )
    SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="1",
        item=ItemFactory.create(sku="MAPLE-1"),
        seller_sku="MAPLE-1",
        title="Sirop d'érable 1 L",
        quantity=1,
        unit_price=Decimal("20.00"),
    )
    admin_page.goto(f"/sales-orders/{order.id}/")
    notice = admin_page.locator("#withheld-notice")
    expect(notice).to_be_visible()
    expect(notice).to_contain_text(
        "Amazon withheld the delivery address, the buyer's e-mail and the buyer's name: "
        "this app lacks Amazon's Direct-to-Consumer Delivery (Restricted) role."
    )
    expect(notice).to_contain_text("Ship it from Seller Central")
    expect(admin_page.get_by_role("link", name="Create shipment")).to_be_visible()
    screenshot(admin_page, "sales-order-withheld-data")

    admin_page.get_by_role("link", name=order.channel.name).click()
    channel_notice = admin_page.locator("#withheld-notice")
    expect(channel_notice).to_contain_text("from 1 order purchased since")
    expect(channel_notice).to_contain_text("Direct-to-Consumer Delivery (Restricted)")
    screenshot(admin_page, "channel-detail-withheld-data")


def test_an_admin_adds_amazon_com_from_the_same_authorization(
    admin_page: Page, amazon_settings: Simulator
) -> None:
    page = admin_page
    canada = connect_through_seller_central(page)

    page.goto(f"/settings/integrations/marketplaces/{canada.id}/")
    page.get_by_role("link", name="Marketplaces").last.click()
    table = page.locator("#seller-marketplaces")
    expect(table.get_by_role("row", name=re.compile("Amazon.ca .* Sells there"))).to_contain_text(
        "Active"
    )
    screenshot(page, "seller-marketplaces")
    table.get_by_role("button", name="Add Amazon.com", exact=True).click()

    expect(page.get_by_text("Amazon.com is connected from the same authorization")).to_be_visible()
    expect(page.get_by_role("heading", level=1, name=re.compile("Amazon.com"))).to_be_visible()
    us = SalesChannel.objects.get(marketplace=SalesChannel.Marketplace.AMAZON_COM)
    assert (us.currency, us.refresh_token) == ("USD", canada.refresh_token)
    page.get_by_role("link", name="Marketplaces").last.click()
    expect(
        table.get_by_role("row", name=re.compile("Amazon.com ATVPDKIKX0DER USD"))
    ).to_contain_text("Active")


def test_an_order_awaiting_amazons_details_says_so_in_the_list_and_on_its_page(
    staff_page: Page,
) -> None:
    """Imported from its notification (or without its buyer) while getOrder's quota was spent:
    the seller sees the stock is held and that the rest is on its way."""
    order = SalesOrderFactory.create(awaiting_details=True, total=Decimal("0"))
    SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="1",
        item=ItemFactory.create(sku="MAPLE-2"),
        seller_sku="MAPLE-2",
        quantity=2,
        unit_price=Decimal("0"),
    )
    staff_page.goto("/sales-orders/")
    expect(staff_page.get_by_text("Amazon's details to come")).to_be_visible()
    staff_page.get_by_role("link", name=order.amazon_order_id).click()
    banner = staff_page.locator("#awaiting-details")
    expect(banner).to_contain_text("Amazon's details are on their way.")
    expect(banner).to_contain_text("their stock is committed")
    screenshot(staff_page, "sales-order-awaiting-details")
