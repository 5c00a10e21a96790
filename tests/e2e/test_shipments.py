"""A staff member ships part of an order in the browser and sees Amazon's status."""

from __future__ import annotations

from decimal import Decimal

from playwright.sync_api import Page, expect

from marketplaces.models import SalesOrderLine, Shipment
from tests.factories import ItemFactory, SalesOrderFactory, WarehouseFactory
from tests.helpers.browser import screenshot
from warehouses import stock
from warehouses.models import Stock


def test_staff_create_a_shipment(staff_page: Page) -> None:
    warehouse = WarehouseFactory.create(name="Toronto")
    item = ItemFactory.create(sku="MUG-1", name="Tasse à café")
    stock.set_opening_stock(item, warehouse, 10)
    order = SalesOrderFactory.create(warehouse=warehouse, amazon_order_id="702-1111111-2222222")
    SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="111",
        item=item,
        seller_sku="MUG-1",
        quantity=3,
        unit_price=Decimal("12.50"),
        stock_committed=3,
    )
    stock.commit_stock(item, warehouse, 3, reference=order.amazon_order_id)
    page = staff_page

    page.goto(f"/sales-orders/{order.id}/")
    page.get_by_role("link", name="Create shipment").click()
    page.locator("#id_carrier_code").select_option("Canada Post")
    page.get_by_label("Tracking number").fill("7023456789")
    page.get_by_label("MUG-1 (3 left to ship)").fill("2")
    screenshot(page, "shipment-form")
    page.get_by_role("button", name="Create shipment").click()

    expect(page.get_by_text("Shipment created; Amazon is being told.")).to_be_visible()
    expect(page.get_by_text("Partially shipped").first).to_be_visible()
    expect(page.get_by_text("Waiting to be sent")).to_be_visible()
    screenshot(page, "sales-order-shipped")
    assert Shipment.objects.get().lines.get().quantity == 2
    assert Stock.objects.get().on_hand == 8
