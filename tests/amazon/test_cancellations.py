"""Cancellations both ways: a buyer's request flagged until the seller acts, and the seller's
own cancellation released here and sent to Amazon as an order acknowledgement feed."""

from __future__ import annotations

import pytest
from django.db.models import Sum

from marketplaces.models import SalesChannel, SalesOrder
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_post
from tests.helpers.amazon import place_merchant_order, run_order_sync
from warehouses.models import Item, Stock

pytestmark = pytest.mark.django_db


def committed(item: Item) -> int:
    return Stock.objects.filter(item=item).aggregate(total=Sum("committed"))["total"] or 0


def stocked_skus(items: dict[str, Item], count: int) -> list[str]:
    return [s for s, item in items.items() if Stock.objects.filter(item=item).exists()][:count]


def buyer_asks_to_cancel(sim: Simulator, order_id: str, reason: str = "Found it cheaper") -> None:
    sim_post(sim, f"/_sim/orders/{order_id}/cancel-request", {"reason": reason})
    sim_post(sim, "/_sim/clock/advance", {"seconds": 300})


def test_a_buyers_request_is_recorded_on_the_order_and_its_lines(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    created = place_merchant_order(live_sim, stocked_skus(stocked_items, 2))
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    assert order.buyer_cancel_request == SalesOrder.CancelRequest.NONE

    buyer_asks_to_cancel(live_sim, order.amazon_order_id)
    run_order_sync(channel)

    order.refresh_from_db()
    assert order.buyer_cancel_request == SalesOrder.CancelRequest.OPEN
    assert order.buyer_cancel_reason == "Found it cheaper"
    assert order.buyer_cancel_requested_at == order.amazon_updated_at
    assert all(line.buyer_cancel_requested for line in order.lines.all())
    assert order.status == SalesOrder.Status.CONFIRMED  # a request cancels nothing by itself


def test_a_new_order_can_arrive_with_the_request_already_on_it(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    created = place_merchant_order(live_sim, stocked_skus(stocked_items, 1))
    buyer_asks_to_cancel(live_sim, created["orderId"], "Ordered by mistake")

    run_order_sync(channel)

    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    assert order.buyer_cancel_request == SalesOrder.CancelRequest.OPEN
    assert order.buyer_cancel_reason == "Ordered by mistake"
    assert order.lines.get().buyer_cancel_requested


def test_shipping_declines_the_request_and_amazon_cancelling_answers_it(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    ship_sku, cancel_sku = stocked_skus(stocked_items, 2)
    shipped = place_merchant_order(live_sim, [ship_sku])
    cancelled = place_merchant_order(live_sim, [cancel_sku])
    for created in (shipped, cancelled):
        buyer_asks_to_cancel(live_sim, created["orderId"])
    run_order_sync(channel)
    item = stocked_items[cancel_sku]
    held = committed(item)

    sim_post(
        live_sim, f"/_sim/orders/{shipped['orderId']}/status", {"fulfillmentStatus": "SHIPPED"}
    )
    sim_post(
        live_sim, f"/_sim/orders/{cancelled['orderId']}/status", {"fulfillmentStatus": "CANCELLED"}
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)
    run_order_sync(channel)  # seen again: nothing changes, nothing is released twice

    declined = SalesOrder.objects.get(amazon_order_id=shipped["orderId"])
    answered = SalesOrder.objects.get(amazon_order_id=cancelled["orderId"])
    assert declined.buyer_cancel_request == SalesOrder.CancelRequest.DECLINED
    assert answered.buyer_cancel_request == SalesOrder.CancelRequest.CANCELLED
    assert answered.status == SalesOrder.Status.CANCELLED
    assert committed(item) == held - cancelled["orderItems"][0]["quantityOrdered"]
