"""Helpers for tests that drive the product against the simulator (tests/amazon, e2e, ...).

The control API helpers themselves (``sim_get``, ``sim_post``) are the simulator's own
(``spapi_simulator.testing``), shared with the benchmarks.
"""

from __future__ import annotations

import io
from datetime import UTC, datetime
from typing import Any

from django.core.management import call_command

from marketplaces.amazon import shipment_push, stock_push
from marketplaces.amazon.client import Connection
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import WaitForAmazon
from marketplaces.models import Listing, SalesChannel, SalesOrder
from marketplaces.tasks import sync_orders_task
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRun
from warehouses import stock
from warehouses.models import Item, Stock, Warehouse

SIM_START = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
SELLER_ID = "A3SIMULATORCA"


def connection_to(sim: Simulator, refresh_token: str = "Atzr|simulator") -> Connection:
    return Connection(
        seller_id=SELLER_ID,
        marketplace_id="A2EUQ1WTGCTBG2",
        refresh_token=refresh_token,
        spapi_endpoint=sim.base_url,
        lwa_endpoint=sim.base_url,
        client_id="amzn1.application-oa2-client.simulator",
        client_secret="simulator-secret",
    )


def place_merchant_order(sim: Simulator, skus: list[str]) -> dict[str, Any]:
    """A buyer orders ``skus`` on Amazon (merchant-fulfilled, unshipped); the simulator's clock
    then moves past searchOrders' two-minute lag, so the next sync sees it."""
    created: dict[str, Any] = sim_post(
        sim,
        "/_sim/orders",
        {"count": 1, "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "skus": skus},
    )["orders"][0]
    sim_post(sim, "/_sim/clock/advance", {"seconds": 300})
    return created


def amazon_orders(sim: Simulator) -> list[dict[str, Any]]:
    orders: list[dict[str, Any]] = sim_get(sim, "/_sim/orders")["orders"]
    return orders


def listed_quantities(sim: Simulator) -> dict[str, int]:
    return {entry["sku"]: entry["quantity"] for entry in sim_get(sim, "/_sim/listings")["listings"]}


def run_order_sync(channel: SalesChannel, trigger: str = "automatic") -> SyncRun:
    run = history.start_run(channel.id, SyncRun.Kind.ORDERS, trigger)
    sync_orders_task.apply(args=(run.id,))
    run.refresh_from_db()
    return run


def stocked_skus(items: dict[str, Item], count: int) -> list[str]:
    """The first ``count`` SKUs of ``items`` with stock here (merchant-fulfilled listings)."""
    return [s for s, item in items.items() if Stock.objects.filter(item=item).exists()][:count]


def placed_order(sim: Simulator, channel: SalesChannel, items: dict[str, Item]) -> SalesOrder:
    sku = next(s for s, item in items.items() if Stock.objects.filter(item=item).exists())
    created = place_merchant_order(sim, [sku])
    run_order_sync(channel)
    return SalesOrder.objects.get(amazon_order_id=created["orderId"])


def push(channel: SalesChannel) -> SyncRun:
    """One shipments run: what is pending goes to Amazon as shipment confirmations."""
    run = history.start_run(channel.id, SyncRun.Kind.SHIPMENTS, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    shipment_push.push_shipments(run, client_for(channel))
    return history.finish_run(run)


def send_order_updates(sim: Simulator, channel: SalesChannel) -> SyncRun:
    """One shipments run (shipment confirmations, then the seller's cancellations), waiting
    for the cancellation feed as a worker would: the simulator's clock moves past Amazon's
    processing time instead of the wall clock."""
    run = history.start_run(channel.id, SyncRun.Kind.SHIPMENTS, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    for _ in range(3):
        try:
            shipment_push.push_shipments(run, client_for(channel))
        except WaitForAmazon:
            sim_post(sim, "/_sim/clock/advance", {"seconds": 80})
        else:
            break
    return history.finish_run(run)


def link_listings(
    sim: Simulator, channel: SalesChannel, warehouse: Warehouse, count: int
) -> list[Listing]:
    """``count`` merchant listings of the simulator, each with an item holding 7 units."""
    merchant = [
        entry
        for entry in sim_get(sim, "/_sim/listings")["listings"]
        if entry["fulfillmentChannelCode"] == "DEFAULT" and not entry["isParent"]
    ][:count]
    listings = []
    for entry in merchant:
        item = Item.objects.create(sku=entry["sku"], name=entry["title"])
        listings.append(
            Listing.objects.create(
                channel=channel,
                item=item,
                seller_sku=entry["sku"],
                product_type=entry["productType"],
                push_pending=True,
            )
        )
        stock.set_opening_stock(item, warehouse, 7)
    return listings


def run_push(sim: Simulator, channel: SalesChannel) -> SyncRun:
    """One stock push run, moving the simulator's clock while Amazon processes a feed."""
    run = history.start_run(channel.id, SyncRun.Kind.STOCK, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    client = client_for(channel)
    for _ in range(10):
        try:
            stock_push.push_stock(run, client)
        except WaitForAmazon:
            sim_post(sim, "/_sim/clock/advance", {"seconds": 120})
            continue
        return history.finish_run(run)
    raise AssertionError("the feed never finished")


def connect_from_the_shell(base_url: str, monkeypatch: Any, *extra: str) -> str:
    """``manage.py connect_amazon`` to a simulator, the refresh token on stdin; its output."""
    monkeypatch.delenv("AMAZON_REFRESH_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO("Atzr|simulator\n"))
    out = io.StringIO()
    call_command(
        "connect_amazon",
        "--name",
        "Shop",
        "--seller-id",
        "A3SIMULATORCA",
        "--endpoint",
        base_url,
        "--lwa-endpoint",
        base_url,
        *extra,
        stdout=out,
    )
    return out.getvalue()
