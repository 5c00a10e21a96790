"""Large windows go through Amazon's orders report, chosen automatically (issue: backfill)."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
from django.utils import timezone

from marketplaces.amazon import order_sync
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import WaitForAmazon
from marketplaces.models import SalesChannel, SalesOrder
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRun
from warehouses.models import Item, Organization

pytestmark = pytest.mark.django_db


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


def test_a_big_window_uses_the_report_and_imports_every_order(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(order_sync, "REPORT_THRESHOLD", 50)
    Organization.objects.filter(id=1).update(order_sync_preference="confirmed_and_fulfilled")

    run = run_backfill(live_sim, channel, days=29)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    counters = httpx.get(f"{live_sim.base_url}/_sim/counters", timeout=10).json()["operations"]
    assert counters["createReport"]["calls"] == 1
    assert counters["searchOrders"]["calls"] == 1  # the estimate only
    window_start = timezone.now() - timedelta(days=29)
    expected = {
        o["orderId"]: o["fulfillment"]["fulfillmentStatus"]
        for o in sim_get(live_sim, "/_sim/orders")["orders"]
        if o["fulfillment"]["fulfillmentStatus"] in {"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"}
        and o["lastUpdatedTime"] >= window_start.strftime("%Y-%m-%dT%H:%M:%SZ")
    }
    local = dict(SalesOrder.objects.values_list("amazon_order_id", "amazon_status"))
    assert local == expected
    # Orders still to ship carry Amazon's order item ids, needed to confirm their shipment.
    for order in SalesOrder.objects.filter(
        fulfillment_channel="merchant", amazon_status__in=["UNSHIPPED", "PARTIALLY_SHIPPED"]
    ):
        assert all(
            not line.amazon_order_item_id.startswith("report:") for line in order.lines.all()
        )
        assert order.buyer_name


def test_a_small_window_stays_on_search_orders(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run = run_backfill(live_sim, channel, days=3)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    counters = httpx.get(f"{live_sim.base_url}/_sim/counters", timeout=10).json()["operations"]
    assert "createReport" not in counters or counters["createReport"]["calls"] == 0
