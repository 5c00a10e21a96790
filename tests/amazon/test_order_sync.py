"""Amazon orders in: correct, idempotent, stock committed, shipped and released."""

from __future__ import annotations

from dataclasses import replace
from datetime import timedelta
from typing import Any

import pytest
from django.db.models import Sum
from django.utils import timezone

from marketplaces import orders
from marketplaces.amazon import order_sync
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import AmazonThrottled
from marketplaces.models import (
    ApiQuota,
    SalesChannel,
    SalesOrder,
    SalesOrderLine,
    SalesOrderTax,
)
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.helpers.amazon import amazon_orders, place_merchant_order, run_order_sync
from warehouses.models import Item, Organization, Stock

pytestmark = pytest.mark.django_db


def committed(item: Item) -> int:
    return Stock.objects.filter(item=item).aggregate(total=Sum("committed"))["total"] or 0


def test_it_imports_confirmed_orders_once(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run = run_order_sync(channel)

    expected = {
        o["orderId"]
        for o in amazon_orders(live_sim)
        if o["fulfillment"]["fulfillmentStatus"] in {"UNSHIPPED", "PARTIALLY_SHIPPED"}
    }
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert set(SalesOrder.objects.values_list("amazon_order_id", flat=True)) == expected
    assert run.orders_synced == len(expected)
    assert run.orders_failed == 0

    again = run_order_sync(channel)
    assert again.status == SyncRun.Status.SUCCEEDED
    assert SalesOrder.objects.count() == len(expected)


def test_it_keeps_lines_money_taxes_and_the_payment_comment(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run_order_sync(channel)
    raw = {o["orderId"]: o for o in amazon_orders(live_sim)}
    order = SalesOrder.objects.filter(fulfillment_channel="merchant").first()
    assert order is not None
    source = raw[order.amazon_order_id]
    assert [line.amazon_order_item_id for line in order.lines.all()] == [
        item["orderItemId"] for item in source["orderItems"]
    ]
    assert str(order.total) == source["proceeds"]["grandTotal"]["amount"]
    assert list(order.comments.values_list("text", flat=True)) == ["Payment status: Paid"]
    assert order.buyer_name == source["buyer"]["buyerName"]  # merchant order still to ship
    taxed = SalesOrderTax.objects.filter(line__order=order)
    assert taxed.exists()
    assert set(taxed.values_list("component", flat=True)) <= {"item", "shipping", "gift_wrap"}


def test_it_commits_stock_for_merchant_orders_only(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run_order_sync(channel)
    for line in SalesOrderLine.objects.select_related("order"):
        if line.order.fulfillment_channel == "merchant":
            assert line.stock_committed == line.quantity - line.quantity_shipped
        else:
            assert line.stock_committed == 0
    total_committed = sum(line.stock_committed for line in SalesOrderLine.objects.all())
    assert Stock.objects.aggregate(total=Sum("committed"))["total"] == total_committed


def test_a_cancellation_on_amazon_releases_the_stock(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    sku = next(s for s, i in stocked_items.items() if Stock.objects.filter(item=i).exists())
    created = place_merchant_order(live_sim, [sku])
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    item = stocked_items[sku]
    before = committed(item)
    assert before >= created["orderItems"][0]["quantityOrdered"]

    sim_post(
        live_sim, f"/_sim/orders/{order.amazon_order_id}/status", {"fulfillmentStatus": "CANCELLED"}
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)

    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CANCELLED
    assert committed(item) == before - created["orderItems"][0]["quantityOrdered"]


def test_a_shipment_on_amazon_moves_stock_out(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    sku = next(s for s, i in stocked_items.items() if Stock.objects.filter(item=i).exists())
    created = place_merchant_order(live_sim, [sku])
    quantity = created["orderItems"][0]["quantityOrdered"]
    run_order_sync(channel)
    stock_row = Stock.objects.get(item=stocked_items[sku])
    on_hand_before = stock_row.on_hand

    sim_post(
        live_sim, f"/_sim/orders/{created['orderId']}/status", {"fulfillmentStatus": "SHIPPED"}
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)

    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    stock_row.refresh_from_db()
    assert order.status == SalesOrder.Status.SHIPPED
    assert stock_row.on_hand == on_hand_before - quantity
    assert order.lines.get().stock_committed == 0


def test_orders_for_unknown_skus_wait_on_hold_until_the_item_is_confirmed(
    live_sim: Simulator, channel: SalesChannel, warehouse: Any
) -> None:
    sku = sim_get(live_sim, "/_sim/listings")["listings"][0]["sku"]
    created = place_merchant_order(live_sim, [sku])
    run_order_sync(channel)

    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    item = Item.objects.get(sku=sku)
    assert item.status == Item.Status.UNCONFIRMED
    assert order.status == SalesOrder.Status.ON_HOLD
    assert sku in order.hold_reason
    assert committed(item) == 0

    item.status = Item.Status.CONFIRMED
    item.save()
    assert orders.release_held_orders(item) >= 1
    order.refresh_from_db()
    assert order.status == SalesOrder.Status.CONFIRMED
    assert committed(item) == sum(line.quantity for line in order.lines.all() if line.item == item)


def test_the_preference_decides_whether_shipped_orders_come_in(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    shipped = {
        o["orderId"]
        for o in amazon_orders(live_sim)
        if o["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    }
    assert shipped, "the simulator's history should hold shipped orders"
    run_order_sync(channel)
    assert not SalesOrder.objects.filter(amazon_order_id__in=shipped).exists()

    organization = Organization.load()
    organization.order_sync_preference = Organization.OrderSyncPreference.CONFIRMED_AND_FULFILLED
    organization.save()
    SalesChannel.objects.filter(id=channel.id).update(orders_checkpoint=None)
    run_order_sync(channel, trigger="manual")
    imported = set(
        SalesOrder.objects.filter(amazon_order_id__in=shipped).values_list(
            "amazon_order_id", flat=True
        )
    )
    # Only those inside the 7-day initial look-back window.
    assert imported
    assert all(
        o.status == SalesOrder.Status.SHIPPED
        for o in SalesOrder.objects.filter(amazon_order_id__in=imported)
    )


def test_the_checkpoint_moves_to_amazons_bound_and_only_forward(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run_order_sync(channel)
    channel.refresh_from_db()
    first = channel.orders_checkpoint
    assert first is not None
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 600})
    run_order_sync(channel)
    channel.refresh_from_db()
    assert channel.orders_checkpoint is not None and channel.orders_checkpoint > first


def test_a_revoked_token_marks_the_channel_for_re_authorization(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    sim_post(live_sim, "/_sim/auth/revoke")
    run = run_order_sync(channel)
    channel.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "Re-authorize" in run.error
    assert channel.status == SalesChannel.Status.NEEDS_REAUTHORIZATION


def test_an_order_that_fails_is_recorded_and_the_others_carry_on(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    Organization.objects.filter(id=1).update(primary_warehouse=None)
    run = run_order_sync(channel)
    assert run.status == SyncRun.Status.PARTIAL
    failure = run.records.filter(outcome=SyncRecord.Outcome.FAILED).first()
    assert failure is not None
    assert "No primary warehouse is set" in failure.reason


@pytest.mark.parametrize("kind", ["throttle", "server_error"])
def test_an_order_whose_buyer_amazon_cannot_give_now_is_imported_and_completed_later(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    kind: str,
) -> None:
    """getOrder (the buyer and address of a new merchant order) throttled or down: the page is
    not held up (its stock would stay available for minutes); its orders come in awaiting
    Amazon's details, and ``complete_awaiting_orders`` brings them at the quota's pace."""
    run_order_sync(channel)
    merchant_skus = [
        listing["sku"]
        for listing in sim_get(live_sim, "/_sim/listings")["listings"]
        if listing["fulfillmentChannelCode"] == "DEFAULT" and not listing.get("isParent")
    ]
    placed = [place_merchant_order(live_sim, [sku]) for sku in merchant_skus[:3]]
    sim_post(live_sim, "/_sim/faults", {"operation": "getOrder", "kind": kind, "count": 1})

    run = run_order_sync(channel)

    new_ids = {order["orderId"] for order in placed}
    imported = SalesOrder.objects.filter(amazon_order_id__in=new_ids)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert imported.count() == 3
    # The quota was spent at the first: the page's others were not asked for either.
    assert all(order.awaiting_details and not order.shipping_address for order in imported)
    assert all(line.stock_committed == line.quantity for o in imported for line in o.lines.all())
    recorded = list(run.records.values_list("external_id", flat=True))
    assert len(recorded) == len(set(recorded))
    assert new_ids <= set(recorded)

    completed = order_sync.complete_awaiting_orders(channel, client_for(channel), seconds=30)

    assert completed == 3
    assert all(
        order.buyer_name and order.shipping_address and not order.awaiting_details
        for order in imported.all()
    )
    assert all(line.stock_committed == line.quantity for o in imported for line in o.lines.all())
    assert order_sync.complete_awaiting_orders(channel, client_for(channel), seconds=30) == 0


def test_an_order_amazon_refuses_to_detail_stops_awaiting(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run_order_sync(channel)
    sku = next(
        listing["sku"]
        for listing in sim_get(live_sim, "/_sim/listings")["listings"]
        if listing["fulfillmentChannelCode"] == "DEFAULT" and not listing.get("isParent")
    )
    order_id = place_merchant_order(live_sim, [sku])["orderId"]
    sim_post(live_sim, "/_sim/faults", {"operation": "getOrder", "kind": "throttle", "count": 1})
    run_order_sync(channel)
    # An order Amazon answers 404 for (here: one it never had) is refused for good.
    unknown = "702-0000000-0000000"
    SalesOrder.objects.filter(amazon_order_id=order_id).update(amazon_order_id=unknown)

    completed = order_sync.complete_awaiting_orders(channel, client_for(channel), seconds=30)

    order = SalesOrder.objects.get(amazon_order_id=unknown)
    assert (completed, order.awaiting_details, order.status) == (0, False, "confirmed")


def test_a_run_resumed_after_its_pagination_token_expired_lists_its_window_again(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    """Amazon's paginationToken lives 24 hours: a run re-queued (here: paced out of
    searchOrders' quota) and resumed a day later starts its window over, and imports carry on
    where they are idempotent."""
    Organization.objects.filter(id=1).update(order_sync_preference="confirmed_and_fulfilled")
    created = sim_post(
        live_sim,
        "/_sim/orders",
        {"count": 150, "fulfillmentStatus": "SHIPPED", "fulfilledBy": "AMAZON"},
    )
    placed = {order["orderId"] for order in created["orders"]}
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    run = history.start_run(channel.id, SyncRun.Kind.ORDERS, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    # One searchOrders call left in our bucket: the second page has to wait three minutes,
    # longer than a worker may pace, so the run is re-queued with the page's token.
    ApiQuota.objects.create(
        seller_id=channel.seller_id,
        operation="searchOrders",
        tokens=1.0,
        refilled_at=timezone.now(),
    )
    with pytest.raises(AmazonThrottled):
        order_sync.sync_orders(run, client_for(channel))
    run.refresh_from_db()
    assert run.cursor  # Amazon's pagination token, kept for the retry
    first_attempt = set(run.records.values_list("external_id", flat=True))

    ApiQuota.objects.filter(operation="searchOrders").delete()
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 25 * 3600})
    order_sync.sync_orders(run, client_for(channel))
    run = history.finish_run(run)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.cursor == ""
    recorded = list(run.records.values_list("external_id", flat=True))
    # Orders seen again unchanged are recorded once; only those Amazon changed during the day
    # (their update is news) are recorded again.
    twice = {order_id for order_id in recorded if recorded.count(order_id) > 1}
    changed_since = SalesOrder.objects.filter(amazon_updated_at__gt=timezone.now())
    assert twice <= set(changed_since.values_list("amazon_order_id", flat=True))
    assert len(twice) < 10
    assert first_attempt < set(recorded)
    assert placed <= set(recorded)
    assert placed <= set(SalesOrder.objects.values_list("amazon_order_id", flat=True))


def test_a_run_counts_and_lists_what_it_fetched_and_did_not_import(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    staff_client: Any,
) -> None:
    """Under "Confirmed only", shipped orders are fetched and skipped: the run says so."""
    status = {o["orderId"]: o["fulfillment"]["fulfillmentStatus"] for o in amazon_orders(live_sim)}

    run = run_order_sync(channel)

    skipped = run.records.filter(outcome=SyncRecord.Outcome.SKIPPED)
    assert run.orders_skipped == skipped.count() > 0
    for record in skipped:
        expected = {
            "SHIPPED": orders.SHIPPED_REASON,
            "PENDING": orders.PENDING_REASON,
            "CANCELLED": orders.CANCELLED_REASON,
        }[status[record.external_id]]
        assert record.reason == expected, record.external_id
    assert not SalesOrder.objects.filter(
        amazon_order_id__in=skipped.values_list("external_id", flat=True)
    ).exists()
    assert skipped.filter(reason=orders.SHIPPED_REASON).exists()
    page = staff_client.get(f"/sync-runs/{run.id}/").content.decode()
    assert "Fetched and not imported" in page
    assert orders.SHIPPED_REASON.replace('"', "&quot;") in page

    SalesChannel.objects.filter(id=channel.id).update(orders_checkpoint=None)  # same window
    again = run_order_sync(channel)
    up_to_date = again.records.filter(reason=orders.UP_TO_DATE_REASON)
    assert up_to_date.count() == SalesOrder.objects.filter(channel=channel).count()
    assert again.orders_synced == 0


def test_the_estimate_says_how_many_would_be_imported_and_why_not_the_rest(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    start = timezone.now() - timedelta(days=3)
    confirmed_only = order_sync.estimate_orders(client_for(channel), start, None, channel=channel)
    by_reason = dict(confirmed_only.not_imported)
    assert by_reason.get(orders.SHIPPED_REASON, 0) > 0
    assert confirmed_only.imported + sum(by_reason.values()) == confirmed_only.count

    Organization.objects.filter(id=Organization.SINGLETON_ID).update(
        order_sync_preference=Organization.OrderSyncPreference.CONFIRMED_AND_FULFILLED
    )
    everything = order_sync.estimate_orders(client_for(channel), start, None, channel=channel)
    assert orders.SHIPPED_REASON not in dict(everything.not_imported)
    assert everything.imported > confirmed_only.imported


def test_orders_keep_amazons_ship_by_date_and_follow_its_changes(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run_order_sync(channel)
    windows = {
        o["orderId"]: o["fulfillment"]["shipByWindow"]["latestDateTime"]
        for o in amazon_orders(live_sim)
    }
    orders_ = list(SalesOrder.objects.all())
    assert orders_
    for order in orders_:
        assert order.latest_ship_date is not None
        assert order.latest_ship_date.strftime("%Y-%m-%dT%H:%M:%SZ") == windows[
            order.amazon_order_id
        ].replace(".000Z", "Z")

    # Amazon moves the date (a later lastUpdatedTime): the order follows; a report, which has
    # no ship-by column, leaves it alone.
    order = orders_[0]
    amazon_order = client_for(channel).get_order(order.amazon_order_id)
    assert amazon_order.latest_ship is not None
    moved = amazon_order.latest_ship + timedelta(days=1)
    organization = Organization.load()
    order_sync.import_order(
        channel,
        organization,
        replace(
            amazon_order,
            latest_ship=moved,
            last_updated=amazon_order.last_updated + timedelta(minutes=5),
        ),
        None,
    )
    order.refresh_from_db()
    assert order.latest_ship_date == moved
    order_sync.import_order(
        channel,
        organization,
        replace(
            amazon_order,
            latest_ship=None,
            last_updated=amazon_order.last_updated + timedelta(minutes=10),
        ),
        None,
    )
    order.refresh_from_db()
    assert order.latest_ship_date == moved
