"""Shipments: stock out, confirmShipment to Amazon, partial packages, never sent twice."""

from __future__ import annotations

import pytest
from django.core.exceptions import ValidationError
from django.test import Client
from django.utils import timezone

from marketplaces import runs, shipments
from marketplaces.amazon import shipment_push
from marketplaces.amazon.connection import client_for
from marketplaces.models import SalesChannel, SalesOrder, Shipment
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRun
from tests.helpers.amazon import place_merchant_order, placed_order, push, run_order_sync
from warehouses.models import Item, Stock

pytestmark = pytest.mark.django_db


def request(order: SalesOrder, units: int, **overrides: object) -> shipments.ShipmentRequest:
    values: dict[str, object] = {
        "carrier_code": "Canada Post",
        "tracking_number": "7023 4567 8901",
        "ship_date": timezone.now(),
    }
    if "quantities" not in overrides:
        values["quantities"] = {order.lines.get().id: units}
    values.update(overrides)
    return shipments.ShipmentRequest(**values)  # type: ignore[arg-type]


def test_a_shipment_moves_stock_out_and_is_confirmed_to_amazon(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    line = order.lines.get()
    stock_row = Stock.objects.get(item=line.item, warehouse=order.warehouse)
    on_hand = stock_row.on_hand

    shipment = shipments.create_shipment(order, request(order, line.quantity))
    run = push(channel)

    stock_row.refresh_from_db()
    shipment.refresh_from_db()
    order.refresh_from_db()
    assert stock_row.on_hand == on_hand - line.quantity
    assert order.status == SalesOrder.Status.SHIPPED
    assert shipment.amazon_status == Shipment.AmazonStatus.ACCEPTED
    assert run.orders_synced == 1
    received = sim_get(live_sim, "/_sim/shipments")["shipments"]
    assert [s["orderId"] for s in received] == [order.amazon_order_id]
    assert received[0]["packageDetail"]["carrierCode"] == "Canada Post"

    push(channel)  # nothing pending: nothing sent again
    assert len(sim_get(live_sim, "/_sim/shipments")["shipments"]) == 1


def test_partial_shipments_work(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    skus = [s for s, item in stocked_items.items() if Stock.objects.filter(item=item).exists()][:2]
    created = place_merchant_order(live_sim, skus)
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    first, second = order.lines.all()

    shipments.create_shipment(order, request(order, 0, quantities={first.id: first.quantity}))
    push(channel)

    order.refresh_from_db()
    assert order.status == SalesOrder.Status.PARTIALLY_SHIPPED
    on_amazon = next(
        o
        for o in sim_get(live_sim, "/_sim/orders")["orders"]
        if o["orderId"] == order.amazon_order_id
    )
    assert on_amazon["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    with pytest.raises(ValidationError, match="left to ship"):
        shipments.create_shipment(order, request(order, 0, quantities={first.id: 1}))
    shipments.create_shipment(order, request(order, 0, quantities={second.id: second.quantity}))
    push(channel)
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.SHIPPED
    assert len(sim_get(live_sim, "/_sim/shipments")["shipments"]) == 2


def test_a_rejection_shows_amazons_reason_and_can_be_retried(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    line = order.lines.get()
    shipment = shipments.create_shipment(order, request(order, line.quantity))
    sim_post(
        live_sim, f"/_sim/orders/{order.amazon_order_id}/status", {"fulfillmentStatus": "CANCELLED"}
    )

    run = push(channel)

    shipment.refresh_from_db()
    assert shipment.amazon_status == Shipment.AmazonStatus.REJECTED
    assert shipment.amazon_error
    assert run.status == SyncRun.Status.PARTIAL
    assert shipment.amazon_error in run.records.get().reason
    shipments.retry_confirmation(shipment)
    shipment.refresh_from_db()
    assert shipment.amazon_status == Shipment.AmazonStatus.PENDING


def test_a_confirmation_whose_answer_was_lost_is_not_sent_again(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    line = order.lines.get()
    shipment = shipments.create_shipment(order, request(order, line.quantity))
    client_for(channel).confirm_shipment(
        order.amazon_order_id, shipment_push.package_detail(shipment)
    )
    Shipment.objects.filter(id=shipment.id).update(amazon_status=Shipment.AmazonStatus.SENDING)

    push(channel)

    shipment.refresh_from_db()
    assert shipment.amazon_status == Shipment.AmazonStatus.ACCEPTED
    assert len(sim_get(live_sim, "/_sim/shipments")["shipments"]) == 1


def test_a_confirmation_amazon_answers_503_is_not_accepted_and_is_sent_again(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    admin_client: Client,
) -> None:
    """Amazon's edge answers confirmShipment 503 with an HTML page: the shipment is not
    "Accepted by Amazon", the run tries again, and the next answer confirms it."""
    order = placed_order(live_sim, channel, stocked_items)
    shipment = shipments.create_shipment(order, request(order, order.lines.get().quantity))
    sim_post(
        live_sim,
        "/_sim/faults",
        {"operation": "confirmShipment", "kind": "server_error", "status": 503, "count": 1},
    )
    run = history.start_run(channel.id, SyncRun.Kind.SHIPMENTS, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    run.refresh_from_db()

    again = runs.attempt(run)

    assert again is not None, "the run ended as if Amazon had confirmed the shipment"
    assert "503" in again.reason
    shipment.refresh_from_db()
    assert shipment.amazon_status != Shipment.AmazonStatus.ACCEPTED
    assert shipment.confirmed_at is None
    assert sim_get(live_sim, "/_sim/shipments")["shipments"] == []
    page = admin_client.get(f"/sales-orders/{order.id}/").content.decode()
    assert "Accepted by Amazon" not in page
    assert shipment.get_amazon_status_display() in page

    runs.requeue(run)  # what the worker does before Celery's retry
    assert history.claim_run(run.id)
    run.refresh_from_db()
    assert runs.attempt(run, again.failures) is None

    run.refresh_from_db()
    shipment.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert shipment.amazon_status == Shipment.AmazonStatus.ACCEPTED
    received = sim_get(live_sim, "/_sim/shipments")["shipments"]
    assert [s["orderId"] for s in received] == [order.amazon_order_id]
    assert "Accepted by Amazon" in admin_client.get(f"/sales-orders/{order.id}/").content.decode()


def test_bad_input_is_refused_with_field_errors(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    with pytest.raises(ValidationError) as refused:
        shipments.create_shipment(
            order, request(order, 1, carrier_code="Pigeon", tracking_number=" ")
        )
    assert set(refused.value.message_dict) == {"carrier_code", "tracking_number"}
    assert not Shipment.objects.exists()


def test_amazon_fulfilled_orders_are_not_sent(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run_order_sync(channel)
    order = SalesOrder.objects.filter(fulfillment_channel="amazon", status="confirmed").first()
    if order is None:
        pytest.skip("no Amazon-fulfilled order still to ship in the seeded window")
    line = order.lines.first()
    assert line is not None
    shipment = shipments.create_shipment(
        order, request(order, line.quantity, quantities={line.id: line.quantity})
    )
    assert shipment.amazon_status == Shipment.AmazonStatus.NOT_SENT
