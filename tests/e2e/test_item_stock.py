"""The item page in a real browser: see stock per warehouse and adjust it as an admin."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.factories import ItemFactory, ListingFactory, SalesChannelFactory, WarehouseFactory
from tests.helpers.browser import screenshot
from warehouses import stock
from warehouses.models import Organization, Stock, StockMovement


def test_an_admin_adjusts_stock_from_the_item_page(admin_page: Page) -> None:
    page = admin_page
    toronto = WarehouseFactory.create(name="Toronto")
    montreal = WarehouseFactory.create(name="Montréal")
    organization = Organization.load()
    organization.primary_warehouse = toronto
    organization.save()
    mug = ItemFactory.create(sku="MUG-RED", name="Red maple mug")
    ListingFactory.create(channel=SalesChannelFactory.create(name="Amazon.ca"), item=mug)
    stock.set_opening_stock(mug, toronto, 10, reference="amazon:MUG-RED")  # marks the listing
    stock.commit_stock(mug, toronto, 3, reference="702-1234567-1234567")

    page.goto("/items/")
    page.get_by_role("link", name="MUG-RED").click()
    expect(page.get_by_role("heading", name="Red maple mug")).to_be_visible()
    stock_table = page.locator("#stock-table")
    expect(stock_table.get_by_role("row", name=re.compile(r"Toronto 10 3 7"))).to_be_visible()
    expect(page.get_by_role("row", name=re.compile(r"Amazon.ca MUG-RED"))).to_contain_text(
        "Push pending"
    )

    page.get_by_role("combobox", name="Warehouse").select_option(label="Montréal")
    page.get_by_label("Quantity change").fill("-2")
    page.get_by_label("Reason").fill("Damaged")
    page.get_by_role("button", name="Adjust stock").click()
    expect(
        page.get_by_text(
            "Cannot remove 2 from Montréal: it has 0 on hand and 0 committed to orders, "
            "so at most 0 can be removed."
        )
    ).to_be_visible()
    assert not Stock.objects.filter(warehouse=montreal).exists()

    page.get_by_role("combobox", name="Warehouse").select_option(label="Toronto")
    page.get_by_label("Quantity change").fill("-2")
    page.get_by_role("button", name="Adjust stock").click()
    expect(
        page.get_by_text("Stock of MUG-RED in Toronto adjusted by -2: 8 on hand.")
    ).to_be_visible()
    expect(stock_table.get_by_role("row", name=re.compile(r"Toronto 8 3 5"))).to_be_visible()
    history = page.locator("#movement-table tbody tr")
    expect(history.first).to_contain_text("Adjustment")
    expect(history.first).to_contain_text("Damaged")
    expect(history.first).to_contain_text("alice")
    screenshot(page, "item-detail")

    movement = StockMovement.objects.filter(item=mug).first()
    assert movement is not None
    assert (movement.kind, movement.on_hand_change, movement.note) == ("adjustment", -2, "Damaged")


def test_staff_see_the_item_page_without_the_adjust_form(staff_page: Page) -> None:
    page = staff_page
    mug = ItemFactory.create(sku="MUG-RED", name="Red maple mug")
    stock.set_opening_stock(mug, WarehouseFactory.create(name="Toronto"), 4)
    page.goto(f"/items/{mug.id}/")
    expect(page.get_by_role("row", name=re.compile(r"Toronto 4 0 4"))).to_be_visible()
    expect(page.get_by_role("button", name="Adjust stock")).to_have_count(0)


def test_fba_stock_shows_as_amazons_warehouse(admin_page: Page) -> None:
    """Amazon's FBA warehouse on Items, on the item, on Warehouses and on Show Details; its
    units never in the seller's own totals."""
    from marketplaces import fba
    from marketplaces.models import FulfillmentChannel

    page = admin_page
    toronto = WarehouseFactory.create(name="Toronto")
    Organization.objects.filter(id=Organization.SINGLETON_ID).update(primary_warehouse=toronto)
    channel = SalesChannelFactory.create(name="Amazon.ca")
    mug = ItemFactory.create(sku="MUG-RED", name="Red maple mug")
    stock.set_opening_stock(mug, toronto, 10)
    ListingFactory.create(
        channel=channel,
        item=mug,
        seller_sku="MUG-RED-FBA",
        fulfillment_channel=FulfillmentChannel.AMAZON,
    )
    amazon = fba.fba_warehouse(channel)
    stock.set_amazon_counts(
        amazon,
        [stock.AmazonCount(item_id=mug.id, fulfillable=42, reserved=3, inbound=24)],
        reference="Amazon FBA inventory",
    )

    page.goto("/items/")
    table = page.locator("#item-table")
    expect(table.get_by_role("columnheader", name="Amazon.ca FBA")).to_be_visible()
    # Amazon 42 (+24 inbound), Toronto 10; the totals are Toronto's alone.
    expect(
        table.get_by_role("row", name=re.compile(r"MUG-RED .* 42 \+24 inbound 10 10 0 10"))
    ).to_be_visible()
    screenshot(page, "items-with-fba")

    page.get_by_role("link", name="MUG-RED").click()
    stock_table = page.locator("#stock-table")
    expect(
        stock_table.get_by_role("row", name=re.compile(r"Amazon.ca FBA Amazon's 42 0 42"))
    ).to_contain_text("reserved 3 · inbound 24 · unfulfillable 0")
    expect(stock_table.locator("tfoot").get_by_role("row")).to_have_accessible_name(
        re.compile(r"Total your own warehouses 10 0 10")
    )
    expect(page.get_by_role("combobox", name="Warehouse").locator("option")).to_have_text(
        ["Toronto"]
    )

    page.goto("/warehouses/")
    expect(page.get_by_role("row", name=re.compile("Amazon.ca FBA Amazon's"))).to_be_visible()

    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    panel = page.locator("#fba-stock")
    expect(panel).to_contain_text("Amazon.ca FBA mirrors Amazon's counts")
    expect(panel.locator("#fba-figures")).to_contain_text("42")
    screenshot(page, "channel-detail-fba")
    panel.get_by_role("button", name="Refresh now").click()
    expect(page.get_by_text("Reading Amazon's FBA stock")).to_be_visible()
