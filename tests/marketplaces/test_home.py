"""The home page (what needs attention, orders and sales per day) and the filtered lists its
entries link to, with a constant number of queries."""

from __future__ import annotations

import re
from datetime import datetime, time, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces.amazon.types import parse_order
from marketplaces.models import (
    NotificationMessage,
    NotificationSetup,
    SalesChannel,
    SalesOrder,
    SalesOrderLine,
)
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
from warehouses.models import Item, Stock

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def order(ship_by: Any, **fields: Any) -> SalesOrder:
    now = timezone.now()
    fields.setdefault("purchased_at", now - timedelta(days=1))
    fields.setdefault("amazon_updated_at", now - timedelta(days=1))
    return SalesOrderFactory.create(latest_ship_date=ship_by, **fields)


def shelves() -> tuple[Any, Any]:
    """Orders late, due later today, due tomorrow, shipped and Amazon-fulfilled: their ship-by
    dates relative to now, kept clear of midnight so "today" is today whenever the test runs."""
    now = timezone.now()
    end_of_today = timezone.make_aware(
        datetime.combine(timezone.localdate(now) + timedelta(days=1), time.min)
    )
    due_today = now + (end_of_today - now) / 2
    return now, due_today


def test_a_quiet_day_says_so(staff_client: Client) -> None:
    page = text(staff_client.get("/"))
    assert "A quiet day" in page


def test_orders_to_ship_by_ship_by_date_link_to_their_lists(staff_client: Client) -> None:
    now, due_today = shelves()
    late = order(now - timedelta(hours=3))
    today = order(due_today)
    later = order(now + timedelta(days=2))
    order(now - timedelta(days=2), status=SalesOrder.Status.SHIPPED)  # shipped: not to ship
    order(now - timedelta(days=2), fulfillment_channel="amazon")  # Amazon ships it
    html = staff_client.get("/").content.decode()
    page = text(staff_client.get("/"))
    assert " 1 order late to ship " in page
    assert " 1 order to ship today " in page
    assert " 3 orders to ship in all 1 due later " in page
    assert 'href="/sales-orders/?ship=late"' in html
    assert 'href="/sales-orders/?ship=due_today"' in html
    assert "A quiet day" not in page

    def listed(query: str) -> set[int]:
        return {o.id for o in staff_client.get(f"/sales-orders/?{query}").context["page"].orders}

    assert listed("ship=late") == {late.id}
    assert listed("ship=due_today") == {today.id}
    assert listed("ship=to_ship") == {late.id, today.id, later.id}


def test_orders_on_hold_say_why(staff_client: Client) -> None:
    order(
        None, status=SalesOrder.Status.ON_HOLD, hold_reason="Waiting for unconfirmed items: NEW-1"
    )
    ItemFactory.create(sku="NEW-1", status=Item.Status.UNCONFIRMED)
    html = staff_client.get("/").content.decode()
    page = text(staff_client.get("/"))
    assert " 1 order on hold 1 waiting for unconfirmed items: confirm or link 1 item " in page
    assert 'href="/sales-orders/?status=on_hold"' in html
    assert 'href="/items/?status=unconfirmed"' in html


def test_channels_that_need_the_seller(admin_client: Client, staff_client: Client) -> None:
    expired = SalesChannelFactory.create(
        name="Expired", status=SalesChannel.Status.NEEDS_REAUTHORIZATION
    )
    SalesChannelFactory.create(name="Paused", status=SalesChannel.Status.INACTIVE)
    failing = SalesChannelFactory.create(name="Failing")
    SyncRunFactory.create(channel=failing, status=SyncRun.Status.SUCCEEDED)
    run = SyncRunFactory.create(
        channel=failing, status=SyncRun.Status.FAILED, error="Amazon said 500"
    )
    fine = SalesChannelFactory.create(name="Fine")
    SyncRunFactory.create(channel=fine, status=SyncRun.Status.FAILED)
    SyncRunFactory.create(channel=fine, status=SyncRun.Status.SUCCEEDED)  # fixed since
    admin_page = admin_client.get("/").content.decode()
    assert f'href="/settings/integrations/amazon/{expired.id}/reauthorize/"' in admin_page
    assert f'href="/sync-runs/{run.id}/"' in admin_page
    page = text(admin_client.get("/"))
    assert "Expired needs re-authorization" in page
    assert "Paused is inactive" in page
    assert "The last sync of Failing failed Amazon said 500" in page
    assert "Fine" not in page.split("What needs attention")[1].split("Orders and sales")[0]
    staff_page = staff_client.get("/").content.decode()
    assert "/reauthorize/" not in staff_page
    assert "an administrator can re-authorize it" in staff_page


def test_notifications_gone_quiet_or_failing_today_are_named(staff_client: Client) -> None:
    """On, and nothing from Amazon for hours (or messages failing): orders arrive by polling
    only, and the consumer or the queue may need the seller."""
    now = timezone.now()
    quiet = SalesChannelFactory.create(name="Quiet", seller_id="A1QUIET")
    failing = SalesChannelFactory.create(name="Failing", seller_id="A1FAILING")
    SalesChannelFactory.create(name="Heard", seller_id="A1HEARD")
    for seller, enabled_at in (
        ("A1QUIET", now - timedelta(hours=5)),
        ("A1FAILING", now - timedelta(minutes=5)),
        ("A1HEARD", now - timedelta(hours=5)),
    ):
        NotificationSetup.objects.create(
            seller_id=seller, status=NotificationSetup.Status.ENABLED, enabled_at=enabled_at
        )
    for seller, status in (("A1FAILING", "failed"), ("A1HEARD", "applied")):
        NotificationMessage.objects.create(
            notification_id=f"n-{seller}",
            notification_type="ORDER_CHANGE",
            seller_id=seller,
            status=status,
        )

    response = staff_client.get("/")

    html = response.content.decode()
    entries = re.findall(r'<li data-entry="notifications-unhealthy">.*?</li>', html, re.S)
    assert len(entries) == 2
    quiet_entry = next(entry for entry in entries if "A1QUIET" in entry)
    assert "quiet since" in quiet_entry
    assert f"/settings/integrations/marketplaces/{quiet.id}/" in quiet_entry
    failing_entry = next(entry for entry in entries if "A1FAILING" in entry)
    assert "1 failed today" in failing_entry and "quiet since" not in failing_entry
    assert f"/settings/integrations/marketplaces/{failing.id}/" in failing_entry
    assert "orders still arrive by polling" in text(response)


def test_failed_records_of_the_week_by_reason(staff_client: Client) -> None:
    run = SyncRunFactory.create()
    for _ in range(3):
        SyncRecordFactory.create(run=run, outcome="failed", reason="No primary warehouse")
    SyncRecordFactory.create(run=run, outcome="failed", reason="Amounts out of range")
    old = SyncRecordFactory.create(run=run, outcome="failed", reason="Long ago")
    type(old).objects.filter(id=old.id).update(created_at=timezone.now() - timedelta(days=8))
    SyncRecordFactory.create(run=run, outcome="synced")
    page = text(staff_client.get("/"))
    assert (
        " Failed records in the last 7 days: 3 No primary warehouse 1 Amounts out of range " in page
    )
    assert "Long ago" not in page


def test_drift_and_low_stock_link_to_the_items_lists(
    staff_client: Client, admin_client: Client
) -> None:
    warehouse = WarehouseFactory.create()
    drifted = ItemFactory.create(sku="DRIFT-1")
    Stock.objects.create(item=drifted, warehouse=warehouse, on_hand=10)
    ListingFactory.create(
        item=drifted,
        amazon_quantity=7,
        pushed_quantity=10,
        amazon_quantity_checked_at=timezone.now(),
    )
    agreed = ItemFactory.create(sku="OK-1")
    Stock.objects.create(item=agreed, warehouse=warehouse, on_hand=10)
    ListingFactory.create(
        item=agreed,
        amazon_quantity=10,
        pushed_quantity=10,
        amazon_quantity_checked_at=timezone.now(),
    )
    empty = ItemFactory.create(sku="EMPTY-1")  # no stock at all: out of stock
    low = ItemFactory.create(sku="LOW-1", reorder_point=5)
    Stock.objects.create(item=low, warehouse=warehouse, on_hand=6, committed=1)  # 5 available
    page = text(staff_client.get("/"))
    assert " 1 SKU whose Amazon quantity drifted " in page
    assert " 2 items out of stock or at the reorder point " in page

    def skus(query: str) -> set[str]:
        return {row["item"].sku for row in staff_client.get(f"/items/?{query}").context["rows"]}

    assert skus("attention=drift") == {"DRIFT-1"}
    assert skus("attention=low_stock") == {"EMPTY-1", "LOW-1"}
    # Raising the stock above the reorder point takes it off the list.
    response = admin_client.post(f"/items/{low.id}/reorder-point/", {"reorder_point": "4"})
    assert response.status_code == 302
    assert skus("attention=low_stock") == {"EMPTY-1"}
    assert empty.id


def test_the_reorder_point_refuses_bad_input_and_staff(
    admin_client: Client, staff_client: Client
) -> None:
    item = ItemFactory.create(reorder_point=3)
    response = admin_client.post(f"/items/{item.id}/reorder-point/", {"reorder_point": "-1"})
    assert response.status_code == 200
    assert "greater than or equal to 0" in response.content.decode()
    item.refresh_from_db()
    assert item.reorder_point == 3
    assert (
        staff_client.post(f"/items/{item.id}/reorder-point/", {"reorder_point": "1"}).status_code
        == 403
    )
    admin_client.post(f"/items/{item.id}/reorder-point/", {"reorder_point": ""})
    item.refresh_from_db()
    assert item.reorder_point is None


def test_search_by_amazon_order_id_or_sku(staff_client: Client) -> None:
    mug = ItemFactory.create(sku="MUG-1")
    with_mug = order(None, amazon_order_id="702-1111111-1111111")
    SalesOrderLine.objects.create(
        order=with_mug,
        amazon_order_item_id="1",
        item=mug,
        seller_sku="MUG-1",
        quantity=2,
        unit_price=5,
    )
    other = order(None, amazon_order_id="702-2222222-2222222")

    def listed(query: str) -> set[int]:
        return {o.id for o in staff_client.get(f"/sales-orders/?{query}").context["page"].orders}

    assert listed("q=MUG-1") == {with_mug.id}
    assert listed("q=702-2222222-2222222") == {other.id}
    assert listed("q=nothing") == set()


def test_sales_per_day_in_the_base_currency_and_a_missing_rate_named(staff_client: Client) -> None:
    ca = SalesChannelFactory.create(name="Amazon.ca")
    us = SalesChannelFactory.create(name="Amazon.com", currency="USD")
    order(None, channel=ca, total=Decimal("20.00"))
    order(None, channel=ca, total=Decimal("5.50"))
    order(None, channel=us, total=Decimal("10.00"), currency="USD")
    page = text(staff_client.get("/"))
    assert "Amazon.ca : 2 orders, 25.50 CAD" in page
    assert "Amazon.com : 1 order, 0.00 CAD without 1 day that has no exchange rate (USD on " in page


def test_the_home_page_costs_the_same_queries_with_more_data(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    now, due_today = shelves()

    def make() -> None:
        channel = SalesChannelFactory.create(status=SalesChannel.Status.NEEDS_REAUTHORIZATION)
        run = SyncRunFactory.create(channel=channel, status=SyncRun.Status.FAILED)
        SyncRecordFactory.create(run=run, outcome="failed", reason=f"reason {run.id}")
        order(now - timedelta(hours=1), channel=channel)
        order(due_today, channel=channel, status=SalesOrder.Status.ON_HOLD, hold_reason="x")
        order(None, channel=channel, buyer_cancel_request=SalesOrder.CancelRequest.OPEN)
        ListingFactory.create(
            channel=channel, amazon_quantity=1, pushed_quantity=2, amazon_quantity_checked_at=now
        )

    make()
    with django_assert_max_num_queries(40) as one:
        admin_client.get("/")
    for _ in range(5):
        make()
    with django_assert_max_num_queries(len(one.captured_queries)):
        response = admin_client.get("/")
    assert " 6 orders late to ship " in text(response)
    assert " 6 buyer cancellation requests " in text(response)


def test_amazons_ship_by_date_is_read_from_the_order() -> None:
    raw = {
        "orderId": "702-1234567-7654321",
        "createdTime": "2026-11-02T10:00:00Z",
        "lastUpdatedTime": "2026-11-02T10:05:00Z",
        "fulfillment": {
            "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT",
            "shipByWindow": {
                "earliestDateTime": "2026-11-02T10:00:00Z",
                "latestDateTime": "2026-11-04T07:59:59Z",
            },
        },
        "orderItems": [],
    }
    parsed = parse_order(raw)
    assert (
        parsed.latest_ship is not None
        and parsed.latest_ship.isoformat() == "2026-11-04T07:59:59+00:00"
    )
    del raw["fulfillment"]["shipByWindow"]  # type: ignore[attr-defined]
    assert parse_order(raw).latest_ship is None
