"""Buyer cancellation requests on the home page, the Sales Orders list and the order page;
the seller's Cancel form on the order page."""

from __future__ import annotations

import re
from typing import Any

import pytest
from django.test import Client

from marketplaces.models import SalesOrder
from tests.factories import SalesOrderFactory

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
