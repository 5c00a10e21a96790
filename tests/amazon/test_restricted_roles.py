"""An application without Amazon's restricted roles: orders come in without the buyer's
personal data, and the product neither stalls on it nor asks Amazon again and again."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from marketplaces import shipments
from marketplaces.amazon import order_sync
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import WaitForAmazon
from marketplaces.models import SalesChannel, SalesOrder
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRun
from tests.helpers.amazon import place_merchant_order, placed_order, push, run_order_sync
from warehouses.models import Item, Organization

pytestmark = pytest.mark.django_db

TO_SHIP = ("UNSHIPPED", "PARTIALLY_SHIPPED")


def calls(sim: Simulator, operation: str) -> int:
    counters = sim_get(sim, "/_sim/counters")["operations"]
    return int(counters.get(operation, {}).get("calls", 0))


def merchant_skus(sim: Simulator) -> list[str]:
    return [
        listing["sku"]
        for listing in sim_get(sim, "/_sim/listings")["listings"]
        if listing["fulfillmentChannelCode"] == "DEFAULT" and not listing.get("isParent")
    ]


def merchant_orders_to_ship() -> list[SalesOrder]:
    return list(
        SalesOrder.objects.filter(fulfillment_channel="merchant", amazon_status__in=TO_SHIP)
    )


def test_orders_come_in_without_what_amazon_withholds_and_it_is_asked_for_once_a_page(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    sim_post(live_sim, "/_sim/roles", {"roles": []})
    placed = [place_merchant_order(live_sim, [sku]) for sku in merchant_skus(live_sim)[:3]]

    run = run_order_sync(channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    to_ship = merchant_orders_to_ship()
    assert {order["orderId"] for order in placed} <= {o.amazon_order_id for o in to_ship}
    for order in to_ship:
        assert order.personal_data_withheld == "address,email,name"
        assert (order.buyer_name, order.buyer_email, order.buyer_phone) == ("", "", "")
        assert not {"name", "addressLine1", "postalCode", "phone"} & set(
            order.shipping_address or {}
        )
    # What is not personal Amazon gives any app: the asked order keeps its city and province.
    (asked,) = [order for order in to_ship if order.shipping_address]
    assert asked.shipping_address["countryCode"] == "CA"
    assert asked.shipping_address["city"]
    # One page of orders, one getOrder: the first answer showed what this app is not given.
    assert calls(live_sim, "getOrder") == 1

    again = run_order_sync(channel)
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert calls(live_sim, "getOrder") == 1  # orders known to be withheld: never asked again


def test_orders_with_the_roles_carry_the_address_and_nothing_is_recorded_withheld(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run = run_order_sync(channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    to_ship = merchant_orders_to_ship()
    assert to_ship
    for order in to_ship:
        assert order.personal_data_withheld == ""
        assert order.shipping_address and order.shipping_address["addressLine1"]
        assert order.buyer_name and order.buyer_email
    assert calls(live_sim, "getOrder") == len(to_ship)  # one each, for the address


def run_backfill(sim: Simulator, channel: SalesChannel, days: int) -> SyncRun:
    run = history.start_run(
        channel.id,
        SyncRun.Kind.ORDERS,
        SyncRun.Trigger.MANUAL,
        window_start=timezone.now() - timedelta(days=days),
    )
    assert history.claim_run(run.id)
    run.refresh_from_db()
    client = client_for(channel)
    for _ in range(10):
        try:
            order_sync.sync_orders(run, client)
        except WaitForAmazon:
            sim_post(sim, "/_sim/clock/advance", {"seconds": 120})
            run.refresh_from_db()
            continue
        return history.finish_run(run)
    raise AssertionError("the orders report never became ready")


def test_the_orders_report_asks_each_order_once_and_known_ones_never_again(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(order_sync, "REPORT_THRESHOLD", 50)
    Organization.objects.filter(id=1).update(order_sync_preference="confirmed_and_fulfilled")
    sim_post(live_sim, "/_sim/roles", {"roles": []})

    run = run_backfill(live_sim, channel, days=29)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    to_ship = merchant_orders_to_ship()
    assert to_ship
    assert {order.personal_data_withheld for order in to_ship} == {"address,email,name"}
    # getOrder gives the order item ids the report lacks; its answer is the buyer data too.
    assert calls(live_sim, "getOrder") == len(to_ship)

    again = run_backfill(live_sim, channel, days=29)
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert calls(live_sim, "getOrder") == len(to_ship)


def test_an_order_without_its_address_still_ships(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    """confirmShipment needs Amazon's order item ids, which come without any role."""
    sim_post(live_sim, "/_sim/roles", {"roles": []})
    order = placed_order(live_sim, channel, stocked_items)
    assert order.personal_data_withheld == "address,email,name"
    line = order.lines.get()

    shipments.create_shipment(
        order,
        shipments.ShipmentRequest(
            carrier_code="Canada Post",
            tracking_number="7023 1234",
            ship_date=timezone.now(),
            quantities={line.id: line.quantity},
        ),
    )
    run = push(channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    (received,) = sim_get(live_sim, "/_sim/shipments")["shipments"]
    assert received["orderId"] == order.amazon_order_id
    assert received["packageDetail"]["orderItems"] == [
        {"orderItemId": line.amazon_order_item_id, "quantity": line.quantity}
    ]
