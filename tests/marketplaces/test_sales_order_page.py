"""The sales order page: lines, tax breakdown, totals; buyer data for admins only."""

from __future__ import annotations

from decimal import Decimal

import pytest
from django.test import Client

from marketplaces.models import SalesOrder, SalesOrderComment, SalesOrderLine, SalesOrderTax
from tests.factories import ItemFactory, ListingFactory, SalesOrderFactory
from warehouses.models import Item

pytestmark = pytest.mark.django_db


def an_order() -> SalesOrder:
    order = SalesOrderFactory.create(
        amazon_order_id="702-1111111-2222222",
        status=SalesOrder.Status.ON_HOLD,
        hold_reason="Waiting for SKU MAPLE-1 to be confirmed",
        subtotal=Decimal("40.00"),
        shipping_total=Decimal("5.00"),
        tax_total=Decimal("5.85"),
        total=Decimal("50.85"),
        buyer_name="Émilie Tremblay",
        buyer_email="emilie@example.ca",
        buyer_phone="514-555-0199",
        shipping_address={"AddressLine1": "123 rue Sherbrooke", "City": "Montréal"},
    )
    line = SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="1",
        item=ItemFactory.create(sku="MAPLE-1"),
        seller_sku="MAPLE-1",
        title="Maple syrup 1 L",
        quantity=2,
        quantity_shipped=1,
        unit_price=Decimal("20.00"),
        shipping_price=Decimal("5.00"),
        promotion_discount=Decimal("1.50"),
    )
    SalesOrderTax.objects.create(
        line=line, component="item", collector="marketplace", tax_name="HST", amount=Decimal("5.20")
    )
    SalesOrderTax.objects.create(
        line=line, component="shipping", collector="seller", tax_name="HST", amount=Decimal("0.65")
    )
    SalesOrderComment.objects.create(order=order, text="Payment status: Paid")
    return order


def test_admins_see_the_whole_order(admin_client: Client) -> None:
    order = an_order()
    html = admin_client.get(f"/sales-orders/{order.id}/").content.decode()
    for text in (
        "702-1111111-2222222",
        "Maple syrup 1 L",
        "MAPLE-1",
        "20.00",
        "−1.50",
        "Marketplace facilitator",
        "Seller",
        "Shipping",
        "5.20",
        "0.65",
        "50.85 CAD",
        "Waiting for SKU MAPLE-1 to be confirmed",
        "UNSHIPPED",
        "Payment status: Paid",
        "Émilie Tremblay",
        "emilie@example.ca",
        "514-555-0199",
        "123 rue Sherbrooke",
    ):
        assert text in html, text


def test_staff_see_buyer_data_masked(staff_client: Client) -> None:
    order = an_order()
    html = staff_client.get(f"/sales-orders/{order.id}/").content.decode()
    assert "É•••••" in html
    for secret in ("Tremblay", "emilie@example.ca", "514-555-0199", "Sherbrooke"):
        assert secret not in html
    assert "5.20" in html  # amounts stay


def test_the_list_links_orders_and_hides_buyers(admin_client: Client) -> None:
    order = an_order()
    html = admin_client.get("/sales-orders/").content.decode()
    assert f'href="/sales-orders/{order.id}/"' in html
    assert "Émilie" not in html


def test_an_unknown_order_is_404(admin_client: Client) -> None:
    assert admin_client.get("/sales-orders/999/").status_code == 404


def test_an_admin_confirms_an_unconfirmed_item(admin_client: Client) -> None:
    from warehouses.models import Organization, Warehouse

    organization = Organization.load()
    organization.primary_warehouse = Warehouse.objects.create(name="Toronto")
    organization.save()
    item = ItemFactory.create(status=Item.Status.UNCONFIRMED)
    ListingFactory.create(item=item, amazon_quantity=4)
    response = admin_client.post(f"/items/{item.id}/confirm/")
    assert response["Location"] == f"/items/{item.id}/"
    item.refresh_from_db()
    assert item.is_confirmed


def test_an_admin_links_an_unconfirmed_item(admin_client: Client) -> None:
    target = ItemFactory.create(sku="MAPLE-REAL")
    item = ItemFactory.create(status=Item.Status.UNCONFIRMED)
    listing = ListingFactory.create(item=item)
    page = admin_client.get(f"/items/{item.id}/link/").content.decode()
    assert "MAPLE-REAL" in page
    assert item.sku not in page.split('name="target"')[1].split("</select>")[0]
    response = admin_client.post(f"/items/{item.id}/link/", {"target": target.id})
    assert response["Location"] == f"/items/{target.id}/"
    listing.refresh_from_db()
    assert listing.item == target
    assert not Item.objects.filter(id=item.id).exists()


def test_linking_needs_a_target(admin_client: Client) -> None:
    item = ItemFactory.create(status=Item.Status.UNCONFIRMED)
    response = admin_client.post(f"/items/{item.id}/link/", {"target": ""})
    assert response.status_code == 400
    assert Item.objects.filter(id=item.id).exists()


def test_staff_cannot_confirm_or_link(staff_client: Client) -> None:
    item = ItemFactory.create(status=Item.Status.UNCONFIRMED)
    target = ItemFactory.create()
    assert staff_client.post(f"/items/{item.id}/confirm/").status_code == 403
    assert staff_client.post(f"/items/{item.id}/link/", {"target": target.id}).status_code == 403
    item.refresh_from_db()
    assert not item.is_confirmed


def test_the_item_actions_template_renders_for_unconfirmed_items(rf: object) -> None:
    from django.template.loader import render_to_string

    item = ItemFactory.create(status=Item.Status.UNCONFIRMED)
    html = render_to_string(
        "marketplaces/item_channel_actions.html", {"item": item, "is_org_admin": True}
    )
    assert f'action="/items/{item.id}/confirm/"' in html
    assert f'href="/items/{item.id}/link/"' in html
    confirmed = ItemFactory.create()
    assert "Confirm" not in render_to_string(
        "marketplaces/item_channel_actions.html", {"item": confirmed, "is_org_admin": True}
    )
