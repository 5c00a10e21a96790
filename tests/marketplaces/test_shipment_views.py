"""Creating shipments from the order page: staff may, bad input is refused, stock moves."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces.models import SalesOrder, SalesOrderLine, Shipment
from tests.factories import ItemFactory, SalesOrderFactory, WarehouseFactory
from warehouses import stock
from warehouses.models import Stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def order() -> SalesOrder:
    warehouse = WarehouseFactory.create(name="Toronto")
    item = ItemFactory.create(sku="MUG-1")
    stock.set_opening_stock(item, warehouse, 10)
    order = SalesOrderFactory.create(warehouse=warehouse)
    line = SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="111",
        item=item,
        seller_sku="MUG-1",
        quantity=3,
        unit_price=Decimal("9.99"),
        stock_committed=3,
    )
    stock.commit_stock(item, warehouse, 3, reference=order.amazon_order_id)
    assert line.quantity == 3
    return order


def form_data(order: SalesOrder, units: int, **overrides: str) -> dict[str, str]:
    line = order.lines.get()
    data = {
        "carrier_code": "Canada Post",
        "tracking_number": "7023456789",
        "ship_date": timezone.localdate().isoformat(),
        f"line_{line.id}": str(units),
    }
    data.update(overrides)
    return data


def test_staff_create_a_partial_shipment(staff_client: Client, order: SalesOrder) -> None:
    response = staff_client.post(f"/sales-orders/{order.id}/ship/", form_data(order, 2))

    assert response.status_code == 302
    shipment = Shipment.objects.get()
    assert shipment.amazon_status == Shipment.AmazonStatus.PENDING
    assert shipment.carrier_code == "Canada Post"
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.PARTIALLY_SHIPPED
    row = Stock.objects.get()
    assert (row.on_hand, row.committed) == (8, 1)


@pytest.mark.parametrize(
    ("overrides", "units", "message"),
    [
        ({"carrier_code": ""}, 1, "This field is required."),
        ({"tracking_number": ""}, 1, "This field is required."),
        ({"carrier_code": "Other"}, 1, "Name the carrier when it is “Other”."),
        ({}, 0, "Put at least one unit in the package."),
        ({}, 4, "Ensure this value is less than or equal to 3."),
    ],
)
def test_bad_input_shows_errors_and_ships_nothing(
    staff_client: Client, order: SalesOrder, overrides: dict[str, str], units: int, message: str
) -> None:
    response = staff_client.post(
        f"/sales-orders/{order.id}/ship/", form_data(order, units, **overrides)
    )
    assert response.status_code == 200
    assert message in response.content.decode()
    assert not Shipment.objects.exists()
    assert Stock.objects.get().on_hand == 10


def test_a_future_ship_date_is_refused(staff_client: Client, order: SalesOrder) -> None:
    tomorrow = (timezone.localdate() + timedelta(days=2)).isoformat()
    response = staff_client.post(
        f"/sales-orders/{order.id}/ship/", form_data(order, 1, ship_date=tomorrow)
    )
    assert "The ship date cannot be in the future." in response.content.decode()
    assert not Shipment.objects.exists()


def test_a_rejected_shipment_is_corrected_and_sent_again(
    staff_client: Client, order: SalesOrder
) -> None:
    staff_client.post(f"/sales-orders/{order.id}/ship/", form_data(order, 3))
    shipment = Shipment.objects.get()
    Shipment.objects.filter(id=shipment.id).update(
        amazon_status=Shipment.AmazonStatus.REJECTED, amazon_error="Invalid tracking number"
    )
    page = staff_client.get(f"/sales-orders/{order.id}/").content.decode()
    assert "Amazon: Invalid tracking number" in page

    response = staff_client.post(
        f"/shipments/{shipment.id}/retry/", {"tracking_number": "1Z999AA10123456784"}
    )

    assert response.status_code == 302
    shipment.refresh_from_db()
    assert shipment.amazon_status == Shipment.AmazonStatus.PENDING
    assert shipment.tracking_number == "1Z999AA10123456784"
    assert shipment.amazon_error == ""


def test_unknown_ids_are_404(staff_client: Client) -> None:
    assert staff_client.get("/sales-orders/999999/ship/").status_code == 404
    assert staff_client.post("/shipments/999999/retry/").status_code == 404
