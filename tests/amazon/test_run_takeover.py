"""A run taken over while its worker was stalled (frozen, swapped out, paused in a debugger).

The worker stalls past STALE_AFTER in the middle of a run, waiting on Amazon. Meanwhile another
worker claims the run again (a redelivered task) or the reaper fails it and a new run of the
same kind starts. When the stalled worker wakes up it must not send anything more to Amazon, nor
write outcomes, outbox rows, records, progress or a final status: the run is not its own any
more. Each test performs the takeover inside an Amazon call of the stalled worker.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from marketplaces import runs, shipments
from marketplaces.amazon import drift, item_sync
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.connection import client_for
from marketplaces.models import Listing, SalesChannel, SalesOrder, Shipment, StockPush
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.helpers.amazon import link_listings, listed_quantities, place_merchant_order
from warehouses.models import Item, Stock, Warehouse

pytestmark = pytest.mark.django_db

TAKEOVERS = ["claimed", "reaped"]


def claimed_run(channel: SalesChannel, kind: str) -> SyncRun:
    run = history.start_run(channel.id, kind, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    return run


def take_over(run_id: int, how: str) -> SyncRun:
    """While the worker of ``run_id`` is stalled, its heartbeat goes stale and either another
    worker claims the same run ("claimed") or the reaper fails it and another worker claims a
    new run of the same kind ("reaped"). Returns the run the other worker now holds."""
    SyncRun.objects.filter(id=run_id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    stalled = SyncRun.objects.get(id=run_id)
    if how == "claimed":
        assert history.claim_run(run_id)
        return SyncRun.objects.select_related("channel").get(id=run_id)
    assert history.reap_dead_runs() == 1
    return claimed_run(stalled.channel, stalled.kind)


@dataclass
class Stall:
    """The first call of one AmazonClient method stalls; the run is taken over meanwhile."""

    run_id: int
    how: str
    taken: SyncRun | None = None
    calls: list[tuple[Any, ...]] = field(default_factory=list)


def stall_in(
    monkeypatch: pytest.MonkeyPatch,
    method: str,
    run_id: int,
    how: str,
    *,
    before_answer: Callable[[], None] = lambda: None,
) -> Stall:
    stall = Stall(run_id, how)
    original = getattr(AmazonClient, method)

    def stalled(self: AmazonClient, *args: Any, **kwargs: Any) -> Any:
        stall.calls.append(args)
        if stall.taken is None:
            before_answer()
        answer = original(self, *args, **kwargs)
        if stall.taken is None:
            stall.taken = take_over(stall.run_id, how)
        return answer

    monkeypatch.setattr(AmazonClient, method, stalled)
    return stall


def finish(run: SyncRun, sim: Simulator) -> SyncRun:
    """The new owner carries the run to its end (moving the simulated clock while it waits)."""
    for _ in range(10):
        if runs.attempt(run) is None:
            run.refresh_from_db()
            return run
        sim_post(sim, "/_sim/clock/advance", {"seconds": 300})
        run.refresh_from_db()
    raise AssertionError("the run never finished")


def assert_left_to_its_new_owner(run: SyncRun, how: str, caplog: pytest.LogCaptureFixture) -> None:
    """The stalled worker wrote nothing on the run and recorded no error on it."""
    run.refresh_from_db()
    if how == "claimed":
        assert run.status == SyncRun.Status.RUNNING
        assert run.error == ""
    else:
        assert run.status == SyncRun.Status.FAILED
        assert "stopped reporting" in run.error
    assert run.finished_at is None or how == "reaped"
    assert not run.records.exists()
    assert (run.items_synced, run.items_failed, run.orders_synced, run.orders_failed) == (0,) * 4
    assert [r.getMessage() for r in caplog.records if "taken over" in r.getMessage()] == [
        f"Sync run {run.id} was taken over by another worker (or reaped) while this one "
        "was stalled; it stops without writing anything more."
    ]


@pytest.fixture
def warnings(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.WARNING, logger="marketplaces.runs")
    return caplog


@pytest.mark.parametrize("how", TAKEOVERS)
def test_a_stock_push_taken_over_mid_patches_sends_and_writes_nothing_more(
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    warnings: pytest.LogCaptureFixture,
    how: str,
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 3)
    run = claimed_run(channel, SyncRun.Kind.STOCK)
    stall = stall_in(monkeypatch, "patch_listing_quantity", run.id, how)

    assert runs.attempt(run) is None

    assert len(stall.calls) == 1, "nothing is sent after the takeover"
    push = StockPush.objects.get(run=run)
    assert push.status == StockPush.Status.PREPARED
    assert set(push.lines.values_list("outcome", flat=True)) == {"pending"}
    assert [
        (listing.pushed_quantity, listing.push_pending)
        for listing in Listing.objects.order_by("id")
    ] == [(None, True)] * 3
    assert_left_to_its_new_owner(run, how, warnings)

    # The new owner sends every quantity and finishes the run; each SKU is recorded once.
    assert stall.taken is not None
    done = finish(stall.taken, live_sim)
    assert done.status == SyncRun.Status.SUCCEEDED, done.error
    assert done.items_synced == 3 and done.records.count() == 3
    on_amazon = listed_quantities(live_sim)
    assert [on_amazon[listing.seller_sku] for listing in listings] == [7, 7, 7]
    assert [listing.pushed_quantity for listing in Listing.objects.order_by("id")] == [7, 7, 7]
    push.refresh_from_db()
    assert push.status == StockPush.Status.FAILED  # the stalled push, never finished
    assert StockPush.objects.get(status=StockPush.Status.DONE).run_id == done.id
    run.refresh_from_db()
    assert run.status == (SyncRun.Status.SUCCEEDED if how == "claimed" else SyncRun.Status.FAILED)


@pytest.mark.parametrize("how", TAKEOVERS)
def test_a_stock_feed_taken_over_while_amazon_processes_it_is_applied_once_by_the_new_owner(
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    warnings: pytest.LogCaptureFixture,
    how: str,
) -> None:
    link_listings(live_sim, channel, warehouse, 12)  # more than PATCH_LIMIT: one feed
    run = claimed_run(channel, SyncRun.Kind.STOCK)

    def feed_done() -> None:
        sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})

    stall = stall_in(monkeypatch, "get_feed", run.id, how, before_answer=feed_done)

    assert runs.attempt(run) is None

    push = StockPush.objects.get(run=run)
    assert push.status == StockPush.Status.SUBMITTED  # left for the next run to follow
    assert set(push.lines.values_list("outcome", flat=True)) == {"pending"}
    assert not Listing.objects.filter(pushed_quantity__isnull=False).exists()
    assert_left_to_its_new_owner(run, how, warnings)

    assert stall.taken is not None
    done = finish(stall.taken, live_sim)
    assert done.status == SyncRun.Status.SUCCEEDED, done.error
    assert done.items_synced == 12
    push.refresh_from_db()
    assert push.status == StockPush.Status.DONE
    assert StockPush.objects.count() == 1  # the new owner followed the same feed
    assert set(Listing.objects.values_list("pushed_quantity", flat=True)) == {7}


class RetryRequested(Exception):
    pass


@dataclass
class FakeTask:
    """A bound Celery task as ``run_in_worker`` sees it: records the retry it asks for."""

    retries: list[dict[str, int]] = field(default_factory=list)

    def retry(self, *, countdown: int, kwargs: dict[str, int]) -> Exception:
        self.retries.append(kwargs)
        return RetryRequested()


def test_a_worker_taken_over_while_waiting_for_amazon_does_not_requeue_the_run(
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    warnings: pytest.LogCaptureFixture,
) -> None:
    link_listings(live_sim, channel, warehouse, 12)
    run = history.start_run(channel.id, SyncRun.Kind.STOCK, SyncRun.Trigger.AUTOMATIC)
    stall_in(monkeypatch, "get_feed", run.id, "claimed")  # the feed is still being processed
    task = FakeTask()

    runs.run_in_worker(task, run.id)  # no retry: the new owner waits for the feed itself

    assert task.retries == []
    run.refresh_from_db()
    assert run.status == SyncRun.Status.RUNNING  # still the new owner's, not queued again
    assert_left_to_its_new_owner(run, "claimed", warnings)


@pytest.mark.parametrize("how", TAKEOVERS)
def test_an_order_sync_taken_over_mid_page_imports_nothing_of_it(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    monkeypatch: pytest.MonkeyPatch,
    warnings: pytest.LogCaptureFixture,
    how: str,
) -> None:
    skus = [sku for sku, item in stocked_items.items() if Stock.objects.filter(item=item).exists()]
    placed = [place_merchant_order(live_sim, [sku])["orderId"] for sku in skus[:3]]
    committed = sorted(Stock.objects.values_list("id", "committed"))
    run = claimed_run(channel, SyncRun.Kind.ORDERS)
    stall = stall_in(monkeypatch, "search_orders", run.id, how)

    assert runs.attempt(run) is None

    assert not SalesOrder.objects.exists()
    assert sorted(Stock.objects.values_list("id", "committed")) == committed
    channel.refresh_from_db()
    assert channel.orders_checkpoint is None
    run.refresh_from_db()
    assert run.cursor == "" and run.progress_done == 0
    assert_left_to_its_new_owner(run, how, warnings)

    assert stall.taken is not None
    done = finish(stall.taken, live_sim)
    assert done.status == SyncRun.Status.SUCCEEDED, done.error
    imported = list(SalesOrder.objects.values_list("amazon_order_id", flat=True))
    assert set(placed) <= set(imported) and len(imported) == len(set(imported))
    assert done.orders_synced == len(imported)  # nothing recorded twice


@pytest.mark.parametrize("how", TAKEOVERS)
def test_a_shipment_push_taken_over_mid_push_confirms_nothing_more(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    monkeypatch: pytest.MonkeyPatch,
    warnings: pytest.LogCaptureFixture,
    how: str,
) -> None:
    skus = [sku for sku, item in stocked_items.items() if Stock.objects.filter(item=item).exists()]
    placed = [place_merchant_order(live_sim, [sku])["orderId"] for sku in skus[:2]]
    finish(claimed_run(channel, SyncRun.Kind.ORDERS), live_sim)
    for order in SalesOrder.objects.filter(amazon_order_id__in=placed):
        line = order.lines.get()
        shipments.create_shipment(
            order,
            shipments.ShipmentRequest(
                carrier_code="Canada Post",
                tracking_number=f"7023 {order.id}",
                ship_date=timezone.now(),
                quantities={line.id: line.quantity},
            ),
        )
    run = claimed_run(channel, SyncRun.Kind.SHIPMENTS)
    stall = stall_in(monkeypatch, "confirm_shipment", run.id, how)

    assert runs.attempt(run) is None

    assert len(stall.calls) == 1, "no confirmation is sent after the takeover"
    assert sorted(Shipment.objects.values_list("amazon_status", flat=True)) == [
        Shipment.AmazonStatus.PENDING,
        Shipment.AmazonStatus.SENDING,  # Amazon has it; the new owner finds it there
    ]
    assert_left_to_its_new_owner(run, how, warnings)

    assert stall.taken is not None
    done = finish(stall.taken, live_sim)
    assert done.status == SyncRun.Status.SUCCEEDED, done.error
    assert set(Shipment.objects.values_list("amazon_status", flat=True)) == {
        Shipment.AmazonStatus.ACCEPTED
    }
    received = sim_get(live_sim, "/_sim/shipments")["shipments"]
    assert len(received) == 2  # each package confirmed once
    assert done.orders_synced == 2


@pytest.mark.parametrize("how", TAKEOVERS)
def test_an_item_sync_taken_over_mid_run_imports_nothing_more(
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
    warnings: pytest.LogCaptureFixture,
    how: str,
) -> None:
    run = claimed_run(channel, SyncRun.Kind.ITEMS)
    stall = stall_in(monkeypatch, "search_listings", run.id, how)

    while runs.attempt(run) is not None:  # Amazon prepares the listings report meanwhile
        sim_post(live_sim, "/_sim/clock/advance", {"seconds": 300})
        run.refresh_from_db()

    assert stall.taken is not None
    assert not Item.objects.exists() and not Listing.objects.exists()
    run.refresh_from_db()
    assert run.cursor.startswith(item_sync.REPORT_PREFIX)  # not cleared by the stalled worker
    assert_left_to_its_new_owner(run, how, warnings)

    done = finish(stall.taken, live_sim)
    assert done.status == SyncRun.Status.SUCCEEDED, done.error
    assert done.items_synced == Listing.objects.count() > 0
    synced = SyncRecord.objects.filter(run=done, outcome=SyncRecord.Outcome.SYNCED)
    assert synced.count() == done.items_synced  # nothing recorded twice


def test_a_stalled_drift_check_does_not_overwrite_a_newer_reading(
    live_sim: Simulator,
    channel: SalesChannel,
    warehouse: Warehouse,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A drift check's task is handed to another worker when its first worker stalls; the
    stalled one, waking up, must not write the quantities it read before the newer check."""
    (listing,) = link_listings(live_sim, channel, warehouse, 1)
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 1})
    original = AmazonClient.search_listings
    read_before_the_stall: dict[str | None, Any] = {}
    newer_check_running: list[bool] = []

    def stalled(self: AmazonClient, *, page_token: str | None = None, **kwargs: Any) -> Any:
        if newer_check_running:
            return original(self, page_token=page_token, **kwargs)
        if not read_before_the_stall:
            # The stalled check reads every page now; then the seller edits the quantity in
            # Seller Central and another worker checks again, before the stalled one writes.
            token = page_token
            while True:
                read_before_the_stall[token] = page = original(self, page_token=token, **kwargs)
                token = page[1]
                if not token:
                    break
            newer_check_running.append(True)
            client = client_for(channel)
            client.patch_listing_quantity(listing.seller_sku, listing.product_type, 99)
            drift.check_drift(channel, client)
            newer_check_running.clear()
        return read_before_the_stall[page_token]

    monkeypatch.setattr(AmazonClient, "search_listings", stalled)

    drift.check_drift(channel, client_for(channel))

    listing.refresh_from_db()
    assert listing.amazon_quantity == 99  # the newer reading stays
