"""What must hold after every chaos scenario, written once (docs/RELIABILITY.md).

Each check reads Amazon's side from the simulator's control API and ours from the database,
and raises AssertionError with the first few differences.
"""

from __future__ import annotations

from collections import Counter, defaultdict

from django.db.models import Sum

from marketplaces.amazon.types import parse_order
from marketplaces.models import (
    FulfillmentChannel,
    Listing,
    SalesChannel,
    SalesOrder,
    SalesOrderLine,
    Shipment,
)
from marketplaces.orders import importable_statuses
from marketplaces.stock_levels import quantities_to_push
from spapi_simulator.testing import sim_get
from synchistory.models import SyncRun
from warehouses.models import Organization, Stock, StockMovement

FINAL_STATUSES = {SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL, SyncRun.Status.FAILED}


def _first(problems: list[str], what: str) -> None:
    assert not problems, f"{what}: {len(problems)} problem(s):\n  " + "\n  ".join(problems[:15])


def orders_match(base_url: str, channel: SalesChannel, *, complete: bool = True) -> int:
    """Every Amazon order exists once locally with Amazon's status and lines.

    ``complete``: every importable order must be there (after a final clean sync); without it
    only the orders we have must agree with Amazon (a run that stopped half-way).
    """
    importable = importable_statuses(Organization.load())
    amazon = {
        o.order_id: o
        for o in map(parse_order, sim_get(base_url, "/_sim/orders", timeout=30)["orders"])
    }
    local_counts = Counter(
        SalesOrder.objects.filter(channel=channel).values_list("amazon_order_id", flat=True)
    )
    problems = [f"{oid} imported {n} times" for oid, n in local_counts.items() if n > 1]
    problems += [f"{oid} local only, not on Amazon" for oid in local_counts if oid not in amazon]
    lines: dict[str, list[tuple[str, str, int]]] = defaultdict(list)
    for order_id, item_id, sku, quantity in SalesOrderLine.objects.filter(
        order__channel=channel
    ).values_list("order__amazon_order_id", "amazon_order_item_id", "seller_sku", "quantity"):
        lines[order_id].append((item_id, sku, quantity))
    statuses = dict(
        SalesOrder.objects.filter(channel=channel).values_list("amazon_order_id", "amazon_status")
    )
    for order_id, order in amazon.items():
        if order_id not in statuses:
            if complete and order.status in importable:
                problems.append(f"{order_id} ({order.status}) missing locally")
            continue
        if statuses[order_id] != order.status:
            problems.append(f"{order_id}: local {statuses[order_id]}, Amazon {order.status}")
        expected = sorted((i.order_item_id, i.seller_sku, i.quantity) for i in order.items)
        if sorted(lines[order_id]) != expected:
            problems.append(f"{order_id}: lines {sorted(lines[order_id])} != Amazon {expected}")
    _first(problems, "orders")
    return len(statuses)


def stock_matches_movements() -> None:
    """Every Stock row is its opening stock plus its recorded movements, and what is committed
    is exactly what open orders still hold."""
    moved = {
        (row["item_id"], row["warehouse_id"]): (row["on_hand"] or 0, row["committed"] or 0)
        for row in StockMovement.objects.values("item_id", "warehouse_id").annotate(
            on_hand=Sum("on_hand_change"), committed=Sum("committed_change")
        )
    }
    held = {
        (row["item_id"], row["order__warehouse_id"]): row["held"] or 0
        for row in SalesOrderLine.objects.exclude(order__status=SalesOrder.Status.CANCELLED)
        .values("item_id", "order__warehouse_id")
        .annotate(held=Sum("stock_committed"))
    }
    problems = []
    for stock in Stock.objects.all():
        key = (stock.item_id, stock.warehouse_id)
        if moved.get(key, (0, 0)) != (stock.on_hand, stock.committed):
            problems.append(
                f"item {key}: stock {stock.on_hand}/{stock.committed}, movements {moved.get(key)}"
            )
        if held.get(key, 0) != stock.committed:
            problems.append(f"item {key}: committed {stock.committed}, orders hold {held.get(key)}")
    _first(problems, "stock")


def listings_match(base_url: str, channel: SalesChannel) -> None:
    """After a final clean push, Amazon lists what the product decided for every merchant SKU."""
    rows = sim_get(base_url, "/_sim/listings", timeout=30)["listings"]
    amazon = {row["sku"]: row["quantity"] for row in rows}
    listings = list(
        Listing.objects.filter(channel=channel, fulfillment_channel=FulfillmentChannel.MERCHANT)
    )
    wanted = quantities_to_push(channel, listings)
    problems = [
        f"{listing.seller_sku}: Amazon {amazon.get(listing.seller_sku)}, ours {wanted[listing.pk]}"
        for listing in listings
        if amazon.get(listing.seller_sku) != wanted[listing.pk]
    ]
    problems += [f"{lst.seller_sku} still pending" for lst in listings if lst.push_pending]
    _first(problems, "listed quantities")


def shipments_unique(base_url: str, channel: SalesChannel) -> None:
    """No package confirmed twice; one confirmation per accepted local shipment."""
    received = [
        s["packageDetail"]["packageReferenceId"]
        for s in sim_get(base_url, "/_sim/shipments", timeout=30)["shipments"]
    ]
    twice = [ref for ref, n in Counter(received).items() if n > 1]
    accepted = set(
        Shipment.objects.filter(
            order__channel=channel, amazon_status=Shipment.AmazonStatus.ACCEPTED
        ).values_list("package_reference_id", flat=True)
    )
    problems = [f"package {ref} confirmed twice" for ref in twice]
    problems += [
        f"package {ref} accepted locally, unknown to Amazon" for ref in accepted - set(received)
    ]
    _first(problems, "shipments")


def runs_final(channel: SalesChannel) -> None:
    """No run is left queued or running, and every failed run says why."""
    problems = [
        f"run #{run.pk} {run.kind} is still {run.status}"
        for run in SyncRun.objects.filter(channel=channel).exclude(status__in=FINAL_STATUSES)
    ]
    problems += [
        f"run #{run.pk} {run.kind} failed without a reason"
        for run in SyncRun.objects.filter(channel=channel, status=SyncRun.Status.FAILED, error="")
    ]
    _first(problems, "sync runs")


def throttled_calls(base_url: str) -> dict[str, int]:
    operations = sim_get(base_url, "/_sim/counters", timeout=30)["operations"]
    return {name: c["throttled"] for name, c in operations.items() if c["throttled"]}


def check_all(
    base_url: str,
    channel: SalesChannel,
    *,
    pushed: bool = True,
    complete_orders: bool = True,
    storm: bool = False,
) -> None:
    channel.refresh_from_db()
    runs_final(channel)
    orders_match(base_url, channel, complete=complete_orders)
    stock_matches_movements()
    if pushed:
        listings_match(base_url, channel)
    shipments_unique(base_url, channel)
    if not storm:
        throttled = throttled_calls(base_url)
        assert throttled == {}, f"our own pacing met Amazon's 429: {throttled}"
