"""The Items list (stock per warehouse, the unconfirmed queue) and the Sales Orders list
(filters, hold reasons, keyset pages), with a constant number of queries per page."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest
from django.test import Client

from marketplaces import views
from marketplaces.models import SalesOrder, SalesOrderLine
from tests.factories import (
    ItemFactory,
    ListingFactory,
    SalesChannelFactory,
    SalesOrderFactory,
    WarehouseFactory,
)
from warehouses import views as warehouse_views
from warehouses.models import Item, Organization, Stock, Warehouse

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def stocked(item: Item, warehouse: Warehouse, on_hand: int, committed: int = 0) -> None:
    Stock.objects.create(item=item, warehouse=warehouse, on_hand=on_hand, committed=committed)


# -- Items ----------------------------------------------------------------------------------


def test_items_show_a_column_per_active_warehouse(staff_client: Client) -> None:
    toronto = WarehouseFactory.create(name="Toronto")
    montreal = WarehouseFactory.create(name="Montréal")
    closed = WarehouseFactory.create(name="Halifax", is_active=False)
    mug = ItemFactory.create(sku="MUG-1", name="Tasse")
    stocked(mug, toronto, 10, 3)
    stocked(mug, montreal, 2)
    stocked(mug, closed, 50)  # inactive: neither a column nor in the totals
    page = text(staff_client.get("/items/"))
    assert " Montréal Toronto On hand Committed Available " in page
    assert "Halifax" not in page
    assert " MUG-1 Tasse Confirmed 2 7 12 3 9 " in page


def test_items_show_a_compact_cell_beyond_four_warehouses(staff_client: Client) -> None:
    warehouses = [WarehouseFactory.create(name=name) for name in ("A", "B", "C", "D", "E")]
    mug = ItemFactory.create(sku="MUG-1", name="Tasse")
    stocked(mug, warehouses[0], 5)
    stocked(mug, warehouses[2], 2, 1)
    response = staff_client.get("/items/")
    assert " Stock by warehouse " in text(response)
    assert " MUG-1 Tasse Confirmed A 5 C 1 7 1 6 " in text(response)


def test_the_unconfirmed_queue_offers_confirm_and_link_to_admins(admin_client: Client) -> None:
    ItemFactory.create(sku="MUG-1")
    new = ItemFactory.create(sku="NEW-1", status=Item.Status.UNCONFIRMED)
    html = admin_client.get("/items/?status=unconfirmed").content.decode()
    assert "NEW-1" in html and "MUG-1" not in html
    assert f'action="/items/{new.id}/confirm/"' in html
    assert f'href="/items/{new.id}/link/"' in html
    assert 'name="next" value="/items/?status=unconfirmed"' in html
    assert re.search(r"Unconfirmed <span class=\"badge item-unconfirmed\">1</span>", html)


def test_staff_see_the_queue_without_actions(staff_client: Client) -> None:
    new = ItemFactory.create(sku="NEW-1", status=Item.Status.UNCONFIRMED)
    html = staff_client.get("/items/?status=unconfirmed").content.decode()
    assert "NEW-1" in html
    assert f"/items/{new.id}/confirm/" not in html


def test_confirming_from_the_queue_comes_back_to_it_and_releases_held_orders(
    admin_client: Client,
) -> None:
    toronto = WarehouseFactory.create(name="Toronto")
    organization = Organization.load()
    organization.primary_warehouse = toronto
    organization.save()
    new = ItemFactory.create(sku="NEW-1", status=Item.Status.UNCONFIRMED)
    ListingFactory.create(item=new, amazon_quantity=4)
    order = SalesOrderFactory.create(
        status=SalesOrder.Status.ON_HOLD,
        hold_reason="SKU NEW-1 is unconfirmed",
        warehouse=toronto,
    )
    SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="1",
        item=new,
        seller_sku="NEW-1",
        quantity=1,
        unit_price=10,
    )
    response = admin_client.post(
        f"/items/{new.id}/confirm/", {"next": "/items/?status=unconfirmed"}
    )
    assert response["Location"] == "/items/?status=unconfirmed"
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CONFIRMED
    assert Stock.objects.get(item=new).on_hand == 4


def test_confirm_never_redirects_off_site(admin_client: Client) -> None:
    organization = Organization.load()
    organization.primary_warehouse = WarehouseFactory.create()
    organization.save()
    new = ItemFactory.create(status=Item.Status.UNCONFIRMED)
    response = admin_client.post(f"/items/{new.id}/confirm/", {"next": "https://evil.example/"})
    assert response["Location"] == f"/items/{new.id}/"


def test_the_items_list_costs_the_same_queries_for_1_or_50_items(
    staff_client: Client, django_assert_max_num_queries: Any
) -> None:
    warehouses = [WarehouseFactory.create(name=f"W{n}") for n in range(3)]

    def make(count: int) -> None:
        for _ in range(count):
            item = ItemFactory.create()
            for warehouse in warehouses:
                stocked(item, warehouse, 5, 1)

    make(1)
    with django_assert_max_num_queries(10) as one:
        staff_client.get("/items/")
    make(warehouse_views.ITEMS_PER_PAGE + 5)
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = staff_client.get("/items/")
    assert response.context["page"].paginator.count == warehouse_views.ITEMS_PER_PAGE + 6


# -- Sales orders ---------------------------------------------------------------------------


def order(**fields: Any) -> SalesOrder:
    return SalesOrderFactory.create(**fields)


def test_the_order_list_filters_by_status_channel_and_purchase_date(
    staff_client: Client,
) -> None:
    east = SalesChannelFactory.create(name="East")
    west = SalesChannelFactory.create(name="West")
    day = datetime(2026, 3, 10, 15, 0, tzinfo=UTC)
    order(amazon_order_id="702-OLD", channel=east, purchased_at=day - timedelta(days=5))
    order(amazon_order_id="702-EAST", channel=east, purchased_at=day)
    order(amazon_order_id="702-WEST", channel=west, purchased_at=day)
    order(
        amazon_order_id="702-HELD",
        channel=east,
        purchased_at=day,
        status=SalesOrder.Status.ON_HOLD,
        hold_reason="Waiting for SKU NEW-1 to be confirmed",
    )

    def shown(query: str) -> set[str]:
        return set(
            re.findall(r"702-[A-Z]+", staff_client.get(f"/sales-orders/?{query}").content.decode())
        )

    assert shown("") == {"702-OLD", "702-EAST", "702-WEST", "702-HELD"}
    assert shown("status=on_hold") == {"702-HELD"}
    assert shown(f"channel={west.id}") == {"702-WEST"}
    assert shown("purchased_from=2026-03-10&purchased_to=2026-03-10") == {
        "702-EAST",
        "702-WEST",
        "702-HELD",
    }
    assert shown("purchased_to=2026-03-06") == {"702-OLD"}
    held = text(staff_client.get("/sales-orders/?status=on_hold"))
    assert " On hold Waiting for SKU NEW-1 to be confirmed " in held


def test_bad_filters_explain_themselves(staff_client: Client) -> None:
    response = staff_client.get(
        "/sales-orders/?purchased_from=2026-03-10&purchased_to=2026-03-01&channel=999"
    )
    assert response.status_code == 200
    html = response.content.decode()
    assert "The end date is before the start date." in html
    assert "Select a valid choice." in html


def test_the_order_list_pages_by_keyset(
    staff_client: Client, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(views, "ORDERS_PER_PAGE", 2)
    channel = SalesChannelFactory.create()
    base = datetime(2026, 3, 1, tzinfo=UTC)
    hours = enumerate(["A", "B", "C", "D", "E"])
    orders = [
        order(channel=channel, amazon_order_id=f"702-{name}", purchased_at=base + timedelta(n))
        for n, name in hours
    ]
    ids = [o.id for o in orders]
    first = staff_client.get("/sales-orders/")
    assert [o.amazon_order_id for o in first.context["page"].orders] == ["702-E", "702-D"]
    html = first.content.decode()
    assert f"older_than={ids[3]}" in html and "newer_than" not in html
    second = staff_client.get(f"/sales-orders/?older_than={ids[3]}")
    assert [o.amazon_order_id for o in second.context["page"].orders] == ["702-C", "702-B"]
    last = staff_client.get(f"/sales-orders/?older_than={ids[1]}")
    assert [o.amazon_order_id for o in last.context["page"].orders] == ["702-A"]
    assert not last.context["page"].older_cursor and 'rel="next"' not in last.content.decode()
    back = staff_client.get(f"/sales-orders/?newer_than={ids[0]}")
    assert [o.amazon_order_id for o in back.context["page"].orders] == ["702-C", "702-B"]
    filtered = staff_client.get(f"/sales-orders/?channel={channel.id}")
    assert f"channel={channel.id}&amp;older_than={ids[3]}" in filtered.content.decode()


def test_the_order_list_never_counts_and_costs_constant_queries(
    staff_client: Client, django_assert_max_num_queries: Any
) -> None:
    order()
    with django_assert_max_num_queries(10) as one:
        staff_client.get("/sales-orders/")
    for _ in range(60):
        order()
    with django_assert_max_num_queries(len(one.captured_queries)) as many:
        staff_client.get("/sales-orders/")
    assert not [
        q
        for q in many.captured_queries
        if "COUNT(" in q["sql"].upper() and "sales" in q["sql"].lower()
    ]
