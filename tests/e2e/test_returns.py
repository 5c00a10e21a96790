"""A staff member receives a buyer's return from the order page and sees what was refunded."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal

from playwright.sync_api import Page, expect

from marketplaces import returns
from marketplaces.models import SalesOrderLine, SalesReturn
from marketplaces.returns import RefundFacts, ReturnFacts, ReturnLineFacts
from tests.factories import ItemFactory, SalesOrderFactory, WarehouseFactory
from tests.helpers.browser import screenshot
from warehouses.models import Stock

WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def test_staff_receive_a_return_and_see_the_refund(staff_page: Page) -> None:
    warehouse = WarehouseFactory.create(name="Toronto")
    item = ItemFactory.create(sku="MUG-1", name="Tasse à café")
    order = SalesOrderFactory.create(
        warehouse=warehouse,
        amazon_order_id="702-1111111-2222222",
        amazon_status="SHIPPED",
        status="shipped",
    )
    SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="111",
        item=item,
        seller_sku="MUG-1",
        quantity=2,
        quantity_shipped=2,
        unit_price=Decimal("12.50"),
    )
    returns.record_return(
        order.channel,
        ReturnFacts(
            "D7Q2RRMA",
            order.amazon_order_id,
            "merchant",
            (ReturnLineFacts("MUG-1", 2),),
            reason="CR-UNWANTED_ITEM",
            requested_at=WHEN,
            received_at=WHEN,
            carrier="Canada Post",
            tracking_id="RT70231234567890",
        ),
    )
    returns.record_refund(
        order.channel,
        RefundFacts(
            "TX1",
            order.amazon_order_id,
            WHEN,
            "CAD",
            seller_sku="MUG-1",
            quantity=2,
            principal=Decimal("25.00"),
            taxes={"HST": Decimal("3.25")},
        ),
    )
    page = staff_page

    page.goto(f"/sales-orders/{order.id}/")
    refunds = page.locator("#refund-table")
    expect(refunds.get_by_text("28.25 CAD").first).to_be_visible()
    expect(refunds.get_by_text("HST")).to_be_visible()
    returned = page.locator(f"#return-{SalesReturn.objects.get().id}")
    expect(returned.get_by_text("RT70231234567890")).to_be_visible()
    returned.get_by_label("Receive into").select_option(label="Toronto")
    returned.get_by_label("MUG-1: sellable of 2").fill("1")
    screenshot(page, "sales-order-return")
    returned.get_by_role("button", name="Receive return").click()

    expect(
        page.get_by_text("Return D7Q2RRMA received into Toronto: 1 sellable unit(s) back on hand.")
    ).to_be_visible()
    expect(page.get_by_text("Received into a warehouse")).to_be_visible()
    expect(page.get_by_role("button", name="Receive return")).to_have_count(0)
    assert Stock.objects.get(item=item, warehouse=warehouse).on_hand == 1
