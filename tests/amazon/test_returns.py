"""Returns and refunds come in from the simulator's returns reports and Finances transactions."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from typing import Any

import httpx
import pytest
from django.utils import timezone

from marketplaces.amazon import return_sync
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import AmazonTransientError, WaitForAmazon
from marketplaces.models import SalesChannel, SalesOrder, SalesRefund, SalesReturn
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.fixtures.simulator import SimFactory
from tests.helpers.amazon import place_merchant_order, run_order_sync
from warehouses.models import Item, Stock

pytestmark = pytest.mark.django_db


@pytest.fixture
def live_sim(sim_factory: SimFactory) -> Simulator:
    """As the shared one, without the returns and concessions of the simulator's own history:
    each test makes the returns it reads."""
    return sim_factory(
        start_time=timezone.now().replace(microsecond=0),
        enforce_rate_limits=False,
        return_share=0,
        concession_share=0,
    )


def shipped_order(sim: Simulator, channel: SalesChannel, sku: str) -> SalesOrder:
    """A merchant order of ``sku`` imported, then shipped at Amazon and synced again."""
    created = place_merchant_order(sim, [sku])
    run_order_sync(channel)
    sim_post(sim, f"/_sim/orders/{created['orderId']}/status", {"fulfillmentStatus": "SHIPPED"})
    sim_post(sim, "/_sim/clock/advance", {"seconds": 300})
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    assert order.lines.get().quantity_shipped >= 1
    return order


def run_returns_sync(
    sim: Simulator, channel: SalesChannel, trigger: str = SyncRun.Trigger.AUTOMATIC, **window: Any
) -> SyncRun:
    run = history.start_run(channel.id, SyncRun.Kind.RETURNS, trigger, **window)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    client = client_for(channel)
    for _ in range(10):
        try:
            return_sync.sync_returns(run, client)
        except WaitForAmazon:
            sim_post(sim, "/_sim/clock/advance", {"seconds": 120})
            run.refresh_from_db()
            continue
        return history.finish_run(run)
    raise AssertionError("the returns reports never became ready")


def merchant_sku(stocked_items: dict[str, Item]) -> str:
    return next(sku for sku, item in stocked_items.items() if Stock.objects.filter(item=item))


def test_a_received_merchant_return_and_its_refund_are_recorded_on_the_order(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = shipped_order(live_sim, channel, merchant_sku(stocked_items))
    created = sim_post(
        live_sim,
        "/_sim/returns",
        {"orderId": order.amazon_order_id, "reason": "DEFECTIVE", "arrivesAfterSeconds": 0},
    )["return"]
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})

    run = run_returns_sync(live_sim, channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    sales_return = SalesReturn.objects.get(order=order)
    assert sales_return.amazon_return_id == created["returnId"]
    assert sales_return.fulfillment_channel == "merchant"
    assert sales_return.reason == "CR-DEFECTIVE"
    assert sales_return.tracking_id == created["trackingId"]
    assert sales_return.carrier == created["carrier"]
    assert sales_return.status == SalesReturn.Status.RECEIVED
    line = sales_return.lines.get()
    assert line.quantity == created["quantity"]
    # A defective unit waits for the seller's inspection.
    assert line.condition == "to_inspect"
    refund = SalesRefund.objects.get(order=order)
    assert refund.sales_return == sales_return
    assert not refund.is_concession
    assert refund.quantity == created["quantity"]
    assert refund.refunded > 0
    assert refund.tax == sum(t.amount for t in refund.taxes.all())
    assert refund.taxes.exists()
    assert run.orders_synced == 2  # the return and its refund
    types = set(run.records.values_list("record_type", flat=True))
    assert types == {SyncRecord.RecordType.RETURN, SyncRecord.RecordType.REFUND}


def test_seen_again_a_return_is_not_recorded_twice(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = shipped_order(live_sim, channel, merchant_sku(stocked_items))
    sim_post(live_sim, "/_sim/returns", {"orderId": order.amazon_order_id})
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    first = run_returns_sync(live_sim, channel)
    assert first.status == SyncRun.Status.SUCCEEDED, first.error
    assert SalesReturn.objects.get(order=order).status == SalesReturn.Status.REQUESTED

    # The parcel is delivered back 5 days later: the same return, now received and refunded.
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 6 * 86400})
    second = run_returns_sync(live_sim, channel, SyncRun.Trigger.MANUAL)

    assert second.status == SyncRun.Status.SUCCEEDED, second.error
    assert SalesReturn.objects.filter(order=order).count() == 1
    sales_return = SalesReturn.objects.get(order=order)
    assert sales_return.status == SalesReturn.Status.RECEIVED
    assert sales_return.received_at is not None
    assert SalesRefund.objects.get(order=order).sales_return == sales_return

    third = run_returns_sync(live_sim, channel, SyncRun.Trigger.MANUAL)
    assert third.status == SyncRun.Status.SUCCEEDED, third.error
    assert third.orders_synced == 0
    # The return, and the refund read again in the checkpoint's overlap: both up to date.
    assert third.orders_skipped == 2
    assert SalesReturn.objects.filter(order=order).count() == 1


def test_a_concession_is_a_refund_without_a_return(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = shipped_order(live_sim, channel, merchant_sku(stocked_items))
    line = order.lines.get()
    sim_post(
        live_sim,
        "/_sim/refunds",
        {"orderId": order.amazon_order_id, "orderItemId": line.amazon_order_item_id, "amount": 3},
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})

    run = run_returns_sync(live_sim, channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    refund = SalesRefund.objects.get(order=order)
    assert refund.is_concession
    assert refund.sales_return is None
    assert refund.principal == Decimal("3.00")
    assert not SalesReturn.objects.exists()


def test_a_return_for_an_order_never_imported_fails_alone(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    sku = merchant_sku(stocked_items)
    order = shipped_order(live_sim, channel, sku)
    sim_post(live_sim, "/_sim/returns", {"orderId": order.amazon_order_id})
    # An order shipped at Amazon and never imported here, returned too.
    stranger = sim_post(
        live_sim,
        "/_sim/orders",
        {"count": 1, "fulfillmentStatus": "SHIPPED", "fulfilledBy": "MERCHANT", "skus": [sku]},
    )["orders"][0]
    sim_post(live_sim, "/_sim/returns", {"orderId": stranger["orderId"], "arrivesAfterSeconds": 0})
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})

    run = run_returns_sync(live_sim, channel)

    assert run.status == SyncRun.Status.PARTIAL
    assert SalesReturn.objects.filter(order=order).count() == 1
    failed = run.records.filter(outcome="failed")
    assert {r.record_type for r in failed} == {"return", "refund"}
    for record in failed:
        assert stranger["orderId"] in record.external_id
        assert "was never imported here" in record.reason


def test_a_period_reads_returns_and_refunds_of_that_period_only(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = shipped_order(live_sim, channel, merchant_sku(stocked_items))
    sim_post(
        live_sim, "/_sim/returns", {"orderId": order.amazon_order_id, "arrivesAfterSeconds": 0}
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    now = timezone.now()

    earlier = run_returns_sync(
        live_sim,
        channel,
        SyncRun.Trigger.MANUAL,
        window_start=now - timedelta(days=20),
        window_end=now - timedelta(days=10),
    )

    assert earlier.status == SyncRun.Status.SUCCEEDED, earlier.error
    assert not SalesReturn.objects.exists()
    assert channel.refunds_checkpoint is None  # a period of its own moves no checkpoint
    counters = httpx.get(f"{live_sim.base_url}/_sim/counters", timeout=10).json()["operations"]
    assert counters["createReport"]["calls"] == 2
    assert counters["listTransactions"]["calls"] == 1


def test_an_fba_return_is_recorded_and_never_moves_stock(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    fba_sku = next(
        entry["sku"]
        for entry in sim_get(live_sim, "/_sim/listings")["listings"]
        if entry["fulfillmentChannelCode"] != "DEFAULT" and not entry.get("isParent")
    )
    created = sim_post(
        live_sim,
        "/_sim/orders",
        {"count": 1, "fulfillmentStatus": "SHIPPED", "fulfilledBy": "AMAZON", "skus": [fba_sku]},
    )["orders"][0]
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    from warehouses.models import Organization

    Organization.objects.filter(id=1).update(order_sync_preference="confirmed_and_fulfilled")
    run_order_sync(channel)
    order = SalesOrder.objects.get(amazon_order_id=created["orderId"])
    sim_post(
        live_sim,
        "/_sim/returns",
        {"orderId": order.amazon_order_id, "arrivesAfterSeconds": 0, "disposition": "SELLABLE"},
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    movements_before = order.warehouse.movements.count()

    run = run_returns_sync(live_sim, channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    sales_return = SalesReturn.objects.get(order=order)
    assert sales_return.fulfillment_channel == "amazon"
    assert sales_return.fulfillment_center_id
    line = sales_return.lines.get()
    assert (line.disposition, line.condition) == ("SELLABLE", "sellable")
    assert order.warehouse.movements.count() == movements_before


def test_a_run_that_fails_half_way_resumes_without_asking_for_its_reports_again(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    order = shipped_order(live_sim, channel, merchant_sku(stocked_items))
    sim_post(
        live_sim, "/_sim/returns", {"orderId": order.amazon_order_id, "arrivesAfterSeconds": 0}
    )
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
    sim_post(
        live_sim,
        "/_sim/faults",
        {"operation": "listTransactions", "kind": "server_error", "count": 1},
    )
    run = history.start_run(channel.id, SyncRun.Kind.RETURNS, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    failures = 0
    for _ in range(10):
        run.refresh_from_db()
        try:
            return_sync.sync_returns(run, client_for(channel))
        except WaitForAmazon:
            sim_post(live_sim, "/_sim/clock/advance", {"seconds": 120})
            continue
        except AmazonTransientError:
            failures += 1  # what the run policy retries
            continue
        break
    run = history.finish_run(run)

    assert failures == 1
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    counters = httpx.get(f"{live_sim.base_url}/_sim/counters", timeout=10).json()["operations"]
    assert counters["createReport"]["calls"] == 2
    assert SalesReturn.objects.count() == 1
    assert SalesRefund.objects.count() == 1
    assert run.orders_synced == 2
    channel.refresh_from_db()
    assert channel.refunds_checkpoint is not None
