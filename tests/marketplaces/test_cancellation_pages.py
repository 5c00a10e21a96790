"""Buyer cancellation requests on the home page, the Sales Orders list and the order page;
the seller's Cancel form on the order page."""

from __future__ import annotations

import re
from decimal import Decimal
from typing import Any

import pytest
from django.test import Client

from accounts.models import User
from marketplaces.models import SalesOrder, SalesOrderLine, SellerCancellation
from tests.factories import ItemFactory, SalesOrderFactory, WarehouseFactory
from warehouses import stock
from warehouses.models import Stock

pytestmark = pytest.mark.django_db


def text(response: Any) -> str:
    html = response.content.decode()
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def requested(**fields: Any) -> SalesOrder:
    fields.setdefault("buyer_cancel_request", SalesOrder.CancelRequest.OPEN)
    fields.setdefault("buyer_cancel_reason", "Found it cheaper")
    return SalesOrderFactory.create(**fields)


def test_the_home_page_counts_open_requests_and_links_to_them(staff_client: Client) -> None:
    first, second = requested(), requested()
    requested(buyer_cancel_request=SalesOrder.CancelRequest.DECLINED)
    requested(buyer_cancel_request=SalesOrder.CancelRequest.CANCELLED)
    SalesOrderFactory.create()

    response = staff_client.get("/")

    assert " 2 buyer cancellation requests " in text(response)
    assert 'href="/sales-orders/?cancel_request=1"' in response.content.decode()
    assert "A quiet day" not in text(response)
    listed = staff_client.get("/sales-orders/?cancel_request=1")
    assert {o.id for o in listed.context["page"].orders} == {first.id, second.id}
    assert "Buyer asked to cancel" in text(listed)


def test_a_request_answered_leaves_the_home_page_quiet(staff_client: Client) -> None:
    requested(buyer_cancel_request=SalesOrder.CancelRequest.DECLINED)
    assert "A quiet day" in text(staff_client.get("/"))
    assert "buyer cancellation request" not in text(staff_client.get("/"))


def test_the_order_page_shows_the_request_and_what_became_of_it(staff_client: Client) -> None:
    open_one = requested()
    declined = requested(buyer_cancel_request=SalesOrder.CancelRequest.DECLINED)

    page = text(staff_client.get(f"/sales-orders/{open_one.id}/"))
    assert "The buyer asked to cancel this order (Found it cheaper)" in page
    assert "Cancel it below, or ship it to decline the request." in page
    assert "Declined: the order shipped." in text(staff_client.get(f"/sales-orders/{declined.id}/"))
    assert "asked to cancel" not in text(
        staff_client.get(f"/sales-orders/{SalesOrderFactory.create().id}/")
    )


def test_the_filter_is_a_link_among_the_list_tabs(staff_client: Client) -> None:
    html = staff_client.get("/sales-orders/").content.decode()
    assert 'href="/sales-orders/?cancel_request=1"' in html


# -- the seller's Cancel form ---------------------------------------------------------------


@pytest.fixture
def order() -> SalesOrder:
    """A merchant order of two lines (3 and 2 units), their units committed in Toronto."""
    warehouse = WarehouseFactory.create(name="Toronto")
    order = SalesOrderFactory.create(warehouse=warehouse)
    for n, (sku, quantity) in enumerate((("MUG-1", 3), ("CUP-1", 2))):
        item = ItemFactory.create(sku=sku)
        stock.set_opening_stock(item, warehouse, 10)
        SalesOrderLine.objects.create(
            order=order,
            amazon_order_item_id=f"11{n}",
            item=item,
            seller_sku=sku,
            quantity=quantity,
            unit_price=Decimal("9.99"),
            stock_committed=quantity,
        )
        stock.commit_stock(item, warehouse, quantity, reference=order.amazon_order_id)
    return order


def committed(sku: str) -> int:
    return Stock.objects.get(item__sku=sku).committed


def test_an_admin_cancels_one_line_with_a_reason(admin_client: Client, order: SalesOrder) -> None:
    mug, cup = order.lines.all()
    assert (
        f'href="/sales-orders/{order.id}/cancel/"'
        in admin_client.get(f"/sales-orders/{order.id}/").content.decode()
    )

    response = admin_client.post(
        f"/sales-orders/{order.id}/cancel/",
        {"reason": "NoInventory", f"line_{mug.id}": "3", f"line_{cup.id}": "0"},
    )

    assert response.status_code == 302
    assert (committed("MUG-1"), committed("CUP-1")) == (0, 2)
    cancellation = SellerCancellation.objects.get()
    assert cancellation.reason == "NoInventory"
    assert cancellation.created_by is not None
    assert [(line.order_line_id, line.quantity) for line in cancellation.lines.all()] == [
        (mug.id, 3)
    ]
    page = text(admin_client.get(f"/sales-orders/{order.id}/"))
    assert "NoInventory MUG-1 × 3 Waiting to be sent" in page


def test_staff_cannot_cancel(staff_client: Client, order: SalesOrder) -> None:
    assert "/cancel/" not in staff_client.get(f"/sales-orders/{order.id}/").content.decode()
    response = staff_client.post(f"/sales-orders/{order.id}/cancel/", {"reason": "NoInventory"})
    assert response.status_code == 403
    assert not SellerCancellation.objects.exists()


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        ({"reason": "Because", "mug": "3"}, "Select a valid choice"),
        ({"reason": "NoInventory", "mug": "4"}, "MUG-1: only 3 left to ship"),
        ({"reason": "NoInventory", "mug": "1"}, "cancel all 3 or none"),
        ({"reason": "NoInventory", "mug": "0", "cup": "0"}, "Choose at least one line"),
        ({"reason": "NoInventory", "mug": "-1"}, "greater than or equal to 0"),
    ],
)
def test_bad_input_is_refused_with_a_reason_and_releases_nothing(
    admin_client: Client, order: SalesOrder, data: dict[str, str], reason: str
) -> None:
    mug, cup = order.lines.all()
    post = {"reason": data["reason"], f"line_{mug.id}": data["mug"]}
    post[f"line_{cup.id}"] = data.get("cup", "0")

    response = admin_client.post(f"/sales-orders/{order.id}/cancel/", post)

    assert response.status_code == 400
    assert reason in text(response)
    assert (committed("MUG-1"), committed("CUP-1")) == (3, 2)
    assert not SellerCancellation.objects.exists()


@pytest.mark.parametrize(
    ("fields", "reason"),
    [
        ({"status": SalesOrder.Status.SHIPPED}, "A shipped order cannot be cancelled"),
        ({"status": SalesOrder.Status.CANCELLED}, "This order is already cancelled"),
        ({"fulfillment_channel": "amazon"}, "Amazon fulfils this order (FBA)"),
    ],
)
def test_orders_that_cannot_be_cancelled_say_why(
    admin_client: Client, fields: dict[str, str], reason: str
) -> None:
    target = SalesOrderFactory.create(**fields)
    assert "/cancel/" not in admin_client.get(f"/sales-orders/{target.id}/").content.decode()

    response = admin_client.post(
        f"/sales-orders/{target.id}/cancel/", {"reason": "NoInventory"}, follow=True
    )

    assert reason in text(response)
    assert not SellerCancellation.objects.exists()


def test_amazons_answer_is_shown_on_the_order(admin_client: Client, order: SalesOrder) -> None:
    mug = order.lines.first()
    assert mug is not None
    for status, error in (("accepted", ""), ("rejected", "5003 Order is SHIPPED")):
        cancellation = SellerCancellation.objects.create(
            order=order, reason="NoInventory", amazon_status=status, amazon_error=error
        )
        cancellation.lines.create(order_line=mug, quantity=3)

    page = text(admin_client.get(f"/sales-orders/{order.id}/"))

    assert "Amazon confirmed" in page
    assert "Amazon rejected: 5003 Order is SHIPPED" in page


def test_with_the_shipments_module_off_the_seller_is_told_when_amazon_hears_of_it(
    admin_client: Client, order: SalesOrder
) -> None:
    order.channel.sync_shipments = False
    order.channel.save()
    mug, cup = order.lines.all()

    response = admin_client.post(
        f"/sales-orders/{order.id}/cancel/",
        {"reason": "NoInventory", f"line_{mug.id}": "3", f"line_{cup.id}": "2"},
        follow=True,
    )

    assert "Shipments module is on again" in text(response)
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CANCELLED


def test_the_django_admin_shows_cancellations_read_only(
    admin_client: Client, order: SalesOrder
) -> None:
    User.objects.filter(username="alice").update(is_staff=True, is_superuser=True)
    superuser_client = admin_client
    cancellation = SellerCancellation.objects.create(order=order, reason="NoInventory")

    base = "/admin/marketplaces/sellercancellation/"
    listed = superuser_client.get(base)
    shown = superuser_client.get(f"{base}{cancellation.id}/change/")

    assert listed.status_code == shown.status_code == 200
    assert superuser_client.get(f"{base}add/").status_code == 403
