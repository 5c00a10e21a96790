"""Input that once gave a 500 (issue 14, point 4): each gets a form error or a 400 and writes
nothing. The generated sweep over every URL is tests/fuzz/test_every_view.py."""

from __future__ import annotations

from decimal import Decimal

import pytest
from axes.models import AccessAttempt
from django.test import Client

from marketplaces import shipments
from marketplaces.models import SalesOrderLine, Shipment
from tests.factories import ItemFactory, SalesOrderFactory, SyncRunFactory, WarehouseFactory
from warehouses import stock
from warehouses.models import Stock, StockMovement

pytestmark = pytest.mark.django_db


def test_a_purchase_date_at_the_end_of_the_calendar_is_a_form_error(admin_client: Client) -> None:
    SalesOrderFactory.create()
    response = admin_client.get("/sales-orders/", {"purchased_to": "9999-12-31"})
    assert response.status_code == 200  # the list, unfiltered, with the filter's error
    assert "Enter a date from 2000-01-01 to 2099-12-31." in response.content.decode()


def test_a_run_page_past_any_run_is_a_400(admin_client: Client) -> None:
    run = SyncRunFactory.create()
    response = admin_client.get(f"/sync-runs/{run.id}/", {"page": "999999999999999999"})
    assert response.status_code == 400
    assert "“page” must be a whole number from 1 to 100000." in response.content.decode()


def test_an_audit_user_id_past_bigint_is_a_form_error(admin_client: Client) -> None:
    response = admin_client.get("/settings/audit-log/", {"user": "9223372036854775808"})
    assert response.status_code == 200  # the log, unfiltered, with the filter's error
    assert "Ensure this value is less than or equal to" in response.content.decode()


@pytest.mark.parametrize("quantity", ["99999999999999999999", "2147483648", "1000001", "-1000001"])
def test_a_stock_adjustment_past_the_business_range_is_refused(
    admin_client: Client, quantity: str
) -> None:
    warehouse = WarehouseFactory.create()
    item = ItemFactory.create()
    stock.set_opening_stock(item, warehouse, 5)
    movements = StockMovement.objects.count()

    response = admin_client.post(
        f"/items/{item.id}/adjust/",
        {"warehouse": warehouse.id, "quantity_change": quantity, "reason": "count"},
    )

    assert response.status_code == 200
    assert "from -1000000 to 1000000 units" in response.content.decode()
    assert Stock.objects.get(item=item).on_hand == 5
    assert StockMovement.objects.count() == movements


def test_the_stock_service_refuses_a_change_past_the_business_range() -> None:
    warehouse = WarehouseFactory.create()
    item = ItemFactory.create()
    with pytest.raises(Exception, match="at most 1000000 units"):
        stock.adjust_stock(item, warehouse, 1_000_001, note="count")
    with pytest.raises(Exception, match="at most 1000000 units"):
        stock.set_opening_stock(item, warehouse, 1_000_001)
    assert not StockMovement.objects.exists()


def test_a_million_units_is_still_an_adjustment(admin_client: Client) -> None:
    warehouse = WarehouseFactory.create()
    item = ItemFactory.create()
    response = admin_client.post(
        f"/items/{item.id}/adjust/",
        {"warehouse": warehouse.id, "quantity_change": "1000000", "reason": "count"},
    )
    assert response.status_code == 302
    assert Stock.objects.get(item=item).on_hand == 1_000_000


@pytest.fixture
def rejected_shipment() -> Shipment:
    warehouse = WarehouseFactory.create()
    item = ItemFactory.create(sku="MUG-1")
    order = SalesOrderFactory.create(warehouse=warehouse)
    line = SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="111",
        item=item,
        seller_sku="MUG-1",
        quantity=1,
        unit_price=Decimal("9.99"),
    )
    shipment = Shipment.objects.create(
        order=order,
        package_reference_id="pkg1",
        carrier_code="Canada Post",
        tracking_number="7023456789",
        ship_date=order.purchased_at,
        amazon_status=Shipment.AmazonStatus.REJECTED,
        amazon_error="Invalid tracking number",
    )
    shipment.lines.create(order_line=line, quantity=1)
    return shipment


def test_a_retry_with_a_nul_in_the_tracking_number_is_refused(
    staff_client: Client, rejected_shipment: Shipment
) -> None:
    response = staff_client.post(
        f"/shipments/{rejected_shipment.id}/retry/", {"tracking_number": "1Z99\x009"}, follow=True
    )
    assert response.status_code == 200
    assert "Null characters are not allowed." in response.content.decode()
    rejected_shipment.refresh_from_db()
    assert rejected_shipment.tracking_number == "7023456789"
    assert rejected_shipment.amazon_status == Shipment.AmazonStatus.REJECTED


def test_the_shipment_service_refuses_a_tracking_number_with_control_characters(
    rejected_shipment: Shipment,
) -> None:
    with pytest.raises(Exception, match="letters, digits"):
        shipments.correct_tracking(rejected_shipment, "1Z99\x009")
    rejected_shipment.refresh_from_db()
    assert rejected_shipment.tracking_number == "7023456789"


def test_a_username_longer_than_any_user_s_is_refused_before_the_lockout_stores_it(
    client: Client,
) -> None:
    response = client.post("/login/", {"username": "x" * 3000, "password": "whatever"})
    assert response.status_code == 200
    assert "Ensure this value has at most 150 characters" in response.content.decode()
    assert not AccessAttempt.objects.exists()
