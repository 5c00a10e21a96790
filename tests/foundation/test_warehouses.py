from __future__ import annotations

from django.test import Client

from tests.factories import WarehouseFactory
from warehouses.models import Item, Organization, Stock, Warehouse


def test_it_creates_the_first_warehouse_as_primary(admin_client: Client) -> None:
    response = admin_client.post(
        "/warehouses/new/", {"name": "Toronto", "address": "1 Front St", "is_active": "on"}
    )
    assert response.status_code == 302
    toronto = Warehouse.objects.get(name="Toronto")
    assert Organization.load().primary_warehouse == toronto


def test_it_shows_field_errors_and_saves_nothing(admin_client: Client) -> None:
    WarehouseFactory.create(name="Toronto")
    response = admin_client.post("/warehouses/new/", {"name": "Toronto", "is_active": "on"})
    assert response.status_code == 200
    assert "Warehouse with this Name already exists." in response.content.decode()
    assert Warehouse.objects.count() == 1
    response = admin_client.post("/warehouses/new/", {"name": "   "})
    assert "This field is required." in response.content.decode()
    assert Warehouse.objects.count() == 1


def test_it_marks_another_warehouse_primary(admin_client: Client) -> None:
    first = WarehouseFactory.create(name="Toronto")
    second = WarehouseFactory.create(name="Montréal")
    organization = Organization.load()
    organization.primary_warehouse = first
    organization.save()
    response = admin_client.post(f"/warehouses/{second.id}/make-primary/")
    assert response.status_code == 302
    assert Organization.load().primary_warehouse == second


def test_it_refuses_to_deactivate_the_primary_warehouse(admin_client: Client) -> None:
    primary = WarehouseFactory.create(name="Toronto")
    organization = Organization.load()
    organization.primary_warehouse = primary
    organization.save()
    response = admin_client.post(f"/warehouses/{primary.id}/edit/", {"name": "Toronto"})
    assert response.status_code == 200
    assert "This is the primary warehouse" in response.content.decode()
    primary.refresh_from_db()
    assert primary.is_active is True


def test_it_lists_warehouses_with_their_stock(staff_client: Client) -> None:
    warehouse = WarehouseFactory.create(name="Vancouver")
    item = Item.objects.create(sku="MUG-1", name="Mug")
    Stock.objects.create(item=item, warehouse=warehouse, on_hand=7, committed=2)
    page = staff_client.get("/warehouses/").content.decode()
    assert "Vancouver" in page
    assert ">7<" in page and ">2<" in page
    assert "New warehouse" not in page  # staff cannot create


def test_it_saves_organization_settings(admin_client: Client) -> None:
    warehouse = WarehouseFactory.create(name="Toronto")
    response = admin_client.post(
        "/settings/organization/",
        {
            "name": "Érable & Co",
            "base_currency": "cad",
            "taxes_enabled": "on",
            "multi_warehouse_enabled": "on",
            "primary_warehouse": warehouse.id,
            "order_sync_preference": "confirmed_and_fulfilled",
            "language": "fr-ca",
        },
    )
    assert response.status_code == 302
    organization = Organization.load()
    assert organization.language == "fr-ca"
    assert organization.name == "Érable & Co"
    assert organization.base_currency == "CAD"
    assert organization.multi_warehouse_enabled is True
    assert organization.order_sync_preference == "confirmed_and_fulfilled"


def test_it_rejects_a_bad_currency_and_keeps_the_old_settings(admin_client: Client) -> None:
    warehouse = WarehouseFactory.create(name="Toronto")
    response = admin_client.post(
        "/settings/organization/",
        {
            "name": "Changed",
            "base_currency": "CA$",
            "primary_warehouse": warehouse.id,
            "order_sync_preference": "confirmed",
        },
    )
    assert response.status_code == 200
    assert "Enter a three-letter ISO 4217 code" in response.content.decode()
    assert Organization.load().name == "My organization"


def test_it_lists_items_with_available_stock_and_filters(staff_client: Client) -> None:
    warehouse = WarehouseFactory.create()
    mug = Item.objects.create(sku="MUG-1", name="Tasse à café")
    Item.objects.create(sku="NEW-1", name="Listing", status=Item.Status.UNCONFIRMED)
    Stock.objects.create(item=mug, warehouse=warehouse, on_hand=10, committed=3)
    page = staff_client.get("/items/").content.decode()
    assert "Tasse à café" in page and ">7<" in page
    page = staff_client.get("/items/?status=unconfirmed").content.decode()
    assert "NEW-1" in page and "MUG-1" not in page
    page = staff_client.get("/items/?q=tasse").content.decode()
    assert "MUG-1" in page and "NEW-1" not in page
