"""A worker frozen (SIGSTOP) in the middle of a stock push, taken over, then woken (SIGCONT).

The frozen worker's run goes stale and is reaped; a second worker pushes the quantities decided
since. When the first one wakes up with Amazon's answer to its patch, it must not send its
older patches, write its older pushed quantities, finish its outbox row or turn the reaped run
back to succeeded. Fast in-process versions for every kind of run:
tests/amazon/test_run_takeover.py.
"""

from __future__ import annotations

import re
import signal

import pytest

from marketplaces.models import FulfillmentChannel, Listing, StockPush, StockPushLine
from marketplaces.stock_levels import quantities_to_push
from synchistory import services as history
from synchistory.models import SyncRun
from tests.chaos import invariants
from tests.chaos.rig import MakeRig, wait_until
from tests.helpers.workers import Worker
from warehouses import stock
from warehouses.models import Item

pytestmark = [pytest.mark.chaos, pytest.mark.services]

SKUS = 6  # patches, one by one: the first is held by Amazon while the worker freezes
TASK_ENDED = re.compile(r"push_stock_task\[[^\]]+\] (succeeded|retry|raised)")


def tasks_ended(worker: Worker) -> int:
    return len(TASK_ENDED.findall(worker.log_tail(10_000)))


def test_a_worker_frozen_mid_push_and_taken_over_sends_nothing_when_it_wakes(
    make_rig: MakeRig,
) -> None:
    rig = make_rig(merchant_listings=SKUS)
    frozen = rig.start_worker()
    rig.final_sync(SyncRun.Kind.STOCK)  # every SKU listed at its opening 40
    items = list(Item.objects.filter(listings__channel=rig.channel))
    for item in items:
        stock.adjust_stock(item, rig.warehouse, -1, note="Cycle count")

    # Amazon holds the first patch for 1.5 s (under the 2 s HTTP timeout): the worker freezes
    # while it waits for the answer, as a worker swapped out or paused would.
    rig.sim_post(
        "/_sim/faults",
        {"operation": "patchListingsItem", "kind": "timeout", "seconds": 1.5, "count": 1},
    )
    ended_before = tasks_ended(frozen)
    stalled = rig.trigger(SyncRun.Kind.STOCK)
    wait_until(
        lambda: not rig.sim_get("/_sim/faults")["faults"],
        30,
        "the first patch to reach Amazon",
        every=0.02,
        workers=[frozen],
    )
    frozen.process.send_signal(signal.SIGSTOP)
    try:
        # Meanwhile: the stock changes again, the frozen run is reaped, and a second worker
        # pushes the new quantities.
        for item in items:
            stock.adjust_stock(item, rig.warehouse, -2, note="Cycle count")
        wait_until(history.reap_dead_runs, 30, "the frozen run to be reaped", every=0.2)
        rig.start_worker()
        rig.final_sync(SyncRun.Kind.STOCK)
    finally:
        frozen.process.send_signal(signal.SIGCONT)
    wait_until(
        lambda: tasks_ended(frozen) > ended_before,
        60,
        "the woken worker to end its task",
        workers=rig.workers,
    )

    listings = list(
        Listing.objects.filter(
            channel=rig.channel, fulfillment_channel=FulfillmentChannel.MERCHANT
        ).order_by("id")
    )
    decided = quantities_to_push(rig.channel, listings)
    older = dict(
        StockPushLine.objects.filter(push__run=stalled).values_list("listing_id", "quantity")
    )
    assert all(older[listing.id] == decided[listing.id] + 2 for listing in listings)
    on_amazon = {row["sku"]: row["quantity"] for row in rig.sim_get("/_sim/listings")["listings"]}
    assert {listing.seller_sku: on_amazon[listing.seller_sku] for listing in listings} == {
        listing.seller_sku: decided[listing.id] for listing in listings
    }, "the woken worker sent its older patches"
    assert [listing.pushed_quantity for listing in listings] == [
        decided[listing.id] for listing in listings
    ]
    assert not any(listing.push_pending for listing in listings)
    stalled.refresh_from_db()
    assert stalled.status == SyncRun.Status.FAILED
    assert "stopped reporting" in stalled.error
    assert StockPush.objects.get(run=stalled).status == StockPush.Status.FAILED
    assert StockPush.objects.exclude(run=stalled).filter(status=StockPush.Status.DONE).exists()
    assert f"Sync run {stalled.id} was taken over" in frozen.log_tail(10_000)
    invariants.listings_match(rig.sim.base_url, rig.channel)
    invariants.runs_final(rig.channel)
