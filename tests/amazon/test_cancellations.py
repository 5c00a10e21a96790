"""Cancellations both ways: a buyer's request flagged until the seller acts, and the seller's
own cancellation released here and sent to Amazon as an order acknowledgement feed."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db.models import Sum
from django.utils import timezone

from marketplaces import cancellations, schedule, shipments
from marketplaces.amazon import cancellation_push
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import AmazonPayloadError, AmazonTransientError
from marketplaces.amazon.types import parse_xml_processing_report
from marketplaces.models import SalesChannel, SalesOrder, SellerCancellation
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory.models import SyncRun
from tests.factories import ItemFactory, SalesOrderFactory
from tests.helpers.amazon import (
    place_merchant_order,
    placed_order,
    run_order_sync,
    send_order_updates,
    stocked_skus,
)
from warehouses.models import Item, Stock, StockMovement

pytestmark = pytest.mark.django_db


def committed(item: Item) -> int:
    return Stock.objects.filter(item=item).aggregate(total=Sum("committed"))["total"] or 0


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


# -- the seller cancels ----------------------------------------------------------------------


def amazon_order(sim: Simulator, order_id: str) -> dict[str, Any]:
    return next(o for o in sim_get(sim, "/_sim/orders")["orders"] if o["orderId"] == order_id)


def everything(order: SalesOrder, reason: str = "NoInventory") -> cancellations.CancellationRequest:
    return cancellations.CancellationRequest(
        reason, {line.id: line.quantity_open for line in order.lines.all()}
    )


def test_a_cancelled_order_releases_its_stock_once_and_amazon_cancels_it(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    line = order.lines.get()
    held = committed(line.item)

    cancellation = cancellations.cancel_order(order, everything(order))

    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CANCELLED
    assert committed(line.item) == held - line.quantity
    assert StockMovement.objects.filter(
        item=line.item, kind=StockMovement.Kind.RELEASE, reference=order.amazon_order_id
    ).exists()
    assert cancellation.amazon_status == SellerCancellation.AmazonStatus.PENDING

    run = send_order_updates(live_sim, channel)

    cancellation.refresh_from_db()
    assert cancellation.amazon_status == SellerCancellation.AmazonStatus.ACCEPTED
    assert cancellation.feed_id
    assert run.orders_synced == 1
    on_amazon = amazon_order(live_sim, order.amazon_order_id)
    assert on_amazon["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert on_amazon["orderItems"][0]["cancellation"]["cancellationExecution"] == {
        "cancelledBy": "MERCHANT",
        "cancelReason": "NoInventory",
    }
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)  # Amazon reports the order cancelled: nothing is released twice
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CANCELLED
    assert committed(line.item) == held - line.quantity
    assert send_order_updates(live_sim, channel).orders_synced == 0  # nothing is sent again


def test_a_partial_cancellation_releases_only_its_line(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    created = place_merchant_order(live_sim, stocked_skus(stocked_items, 2))
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    dropped, kept = order.lines.all()
    dropped_held, kept_held = committed(dropped.item), committed(kept.item)

    cancellations.cancel_order(
        order, cancellations.CancellationRequest("NoInventory", {dropped.id: dropped.quantity})
    )
    send_order_updates(live_sim, channel)
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)  # Amazon shows the line cancelled: the same units, not again

    order.refresh_from_db()
    dropped.refresh_from_db()
    assert order.status == SalesOrder.Status.CONFIRMED
    assert (dropped.quantity_cancelled, dropped.stock_committed) == (dropped.quantity, 0)
    assert committed(dropped.item) == dropped_held - dropped.quantity
    assert committed(kept.item) == kept_held
    on_amazon = amazon_order(live_sim, order.amazon_order_id)
    assert on_amazon["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert "cancellation" in on_amazon["orderItems"][0]
    assert "cancellation" not in on_amazon["orderItems"][1]

    shipments.create_shipment(
        order,
        shipments.ShipmentRequest(
            carrier_code="Canada Post",
            tracking_number="7023 4567 8901",
            ship_date=timezone.now(),
            quantities={kept.id: kept.quantity},
        ),
    )
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.SHIPPED  # what was not cancelled has shipped


def test_bad_cancellations_are_refused_with_a_reason(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    line = order.lines.get()
    shipped = SalesOrderFactory.create(channel=channel, status=SalesOrder.Status.SHIPPED)
    fba = SalesOrderFactory.create(channel=channel, fulfillment_channel="amazon")
    held = committed(line.item)

    def refused(target: SalesOrder, quantities: dict[int, int], reason: str = "NoInventory") -> str:
        with pytest.raises(ValidationError) as error:
            cancellations.cancel_order(
                target, cancellations.CancellationRequest(reason, quantities)
            )
        return " ".join(error.value.messages)

    assert "shipped order cannot be cancelled" in refused(shipped, {0: 1})
    assert "Amazon fulfils this order (FBA)" in refused(fba, {0: 1})
    assert f"only {line.quantity} left to ship" in refused(order, {line.id: line.quantity + 1})
    assert "Choose one of Amazon's cancellation reasons" in refused(
        order, {line.id: line.quantity}, reason="Because"
    )
    assert "Choose at least one line" in refused(order, {line.id: 0})
    if line.quantity > 1:
        assert f"cancel all {line.quantity} or none" in refused(order, {line.id: 1})
    assert committed(line.item) == held  # nothing refused touched the stock

    cancellations.cancel_order(order, everything(order))
    assert "already cancelled" in refused(order, {line.id: line.quantity})
    assert committed(line.item) == held - line.quantity
    assert SellerCancellation.objects.count() == 1


def test_a_cancellation_amazon_rejects_shows_why_and_the_order_is_open_again(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    created = place_merchant_order(live_sim, stocked_skus(stocked_items, 1))
    buyer_asks_to_cancel(live_sim, created["orderId"])
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    line = order.lines.get()
    held = committed(line.item)
    cancellation = cancellations.cancel_order(order, everything(order, "BuyerCanceled"))
    order.refresh_from_db()
    assert order.buyer_cancel_request == SalesOrder.CancelRequest.CANCELLED
    # Meanwhile the order shipped from Seller Central: Amazon refuses the cancellation.
    sim_post(
        live_sim, f"/_sim/orders/{created['orderId']}/status", {"fulfillmentStatus": "SHIPPED"}
    )

    run = send_order_updates(live_sim, channel)

    cancellation.refresh_from_db()
    order.refresh_from_db()
    assert cancellation.amazon_status == SellerCancellation.AmazonStatus.REJECTED
    assert "SHIPPED" in cancellation.amazon_error
    assert run.status == SyncRun.Status.PARTIAL
    assert "Amazon rejected the cancellation" in run.records.get().reason
    assert order.status == SalesOrder.Status.CONFIRMED
    assert order.buyer_cancel_request == SalesOrder.CancelRequest.OPEN
    assert committed(line.item) == held
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)  # and Amazon's shipment then ships it here
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.SHIPPED
    assert order.buyer_cancel_request == SalesOrder.CancelRequest.DECLINED


def test_a_cancellation_whose_answer_was_lost_is_not_sent_again(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    cancellation = cancellations.cancel_order(order, everything(order))
    # A worker sent the feed and died before it could write down the answer.
    client_for(channel).submit_xml_feed(
        cancellation_push.FEED_TYPE,
        cancellation_push.acknowledgement_feed(channel.seller_id, [cancellation]),
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 80})
    SellerCancellation.objects.filter(id=cancellation.id).update(
        amazon_status=SellerCancellation.AmazonStatus.SENDING
    )

    send_order_updates(live_sim, channel)

    cancellation.refresh_from_db()
    assert cancellation.amazon_status == SellerCancellation.AmazonStatus.ACCEPTED
    assert cancellation.feed_id == ""  # confirmed from Amazon's order, no second feed


def test_transient_failures_are_retried_and_the_feed_goes_out_once(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    cancellation = cancellations.cancel_order(order, everything(order))
    sim_post(live_sim, "/_sim/faults", {"operation": "createFeed", "kind": "server_error"})

    with pytest.raises(AmazonTransientError):
        send_order_updates(live_sim, channel)
    cancellation.refresh_from_db()
    assert cancellation.amazon_status == SellerCancellation.AmazonStatus.SENDING
    SyncRun.objects.update(status=SyncRun.Status.FAILED)  # the run gave up; a new one follows

    send_order_updates(live_sim, channel)

    cancellation.refresh_from_db()
    assert cancellation.amazon_status == SellerCancellation.AmazonStatus.ACCEPTED
    assert amazon_order(live_sim, order.amazon_order_id)["fulfillment"]["fulfillmentStatus"] == (
        "CANCELLED"
    )


def test_the_feed_is_amazons_order_acknowledgement() -> None:
    order = SalesOrderFactory.create(amazon_order_id="702-1111111-2222222")
    line = order.lines.create(
        amazon_order_item_id="OI-1<&>",
        item=ItemFactory.create(),
        seller_sku="S",
        quantity=2,
        unit_price=1,
    )
    cancellation = SellerCancellation.objects.create(order=order, reason="NoInventory")
    cancellation.lines.create(order_line=line, quantity=2)

    feed = cancellation_push.acknowledgement_feed("A1SELLER", [cancellation]).decode()

    assert "<MessageType>OrderAcknowledgement</MessageType>" in feed
    assert f"<MessageID>{cancellation.id}</MessageID>" in feed
    assert "<AmazonOrderID>702-1111111-2222222</AmazonOrderID>" in feed
    assert "<StatusCode>Failure</StatusCode>" in feed
    assert "<AmazonOrderItemCode>OI-1&lt;&amp;&gt;</AmazonOrderItemCode>" in feed
    assert "<CancelReason>NoInventory</CancelReason>" in feed


def test_a_processing_report_that_declares_entities_is_refused() -> None:
    with pytest.raises(AmazonPayloadError, match="DOCTYPE"):
        parse_xml_processing_report('<!DOCTYPE x [<!ENTITY a "b">]><AmazonEnvelope/>')


def test_a_pending_cancellation_starts_a_shipments_run(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    schedule.start_due_syncs()
    assert not SyncRun.objects.filter(kind=SyncRun.Kind.SHIPMENTS).exists()  # nothing to send

    cancellations.cancel_order(order, everything(order))
    schedule.start_due_syncs()

    assert SyncRun.objects.filter(kind=SyncRun.Kind.SHIPMENTS, channel=channel).exists()


def test_a_rejection_leaves_an_order_amazon_cancelled_meanwhile_cancelled(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = placed_order(live_sim, channel, stocked_items)
    line = order.lines.get()
    held = committed(line.item)
    cancellation = cancellations.cancel_order(order, everything(order))
    # The buyer cancels on Amazon first, and the import sees it before the feed goes out.
    sim_post(
        live_sim, f"/_sim/orders/{order.amazon_order_id}/status", {"fulfillmentStatus": "CANCELLED"}
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)

    send_order_updates(live_sim, channel)

    cancellation.refresh_from_db()
    order.refresh_from_db()
    assert cancellation.amazon_status == SellerCancellation.AmazonStatus.REJECTED
    assert order.status == SalesOrder.Status.CANCELLED
    assert committed(line.item) == held - line.quantity  # released once, never held again
