"""``manage.py sync_channel``: a sync in the foreground through the tasks' code."""

from __future__ import annotations

from datetime import timedelta
from io import StringIO
from typing import Any

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.utils import timezone

from accounts.models import AuditEvent
from marketplaces import runs, services
from marketplaces.amazon import item_sync
from marketplaces.management.commands import sync_channel
from marketplaces.models import Listing, SalesChannel, SalesOrder
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.helpers.fake_clock import FakeClock
from warehouses import stock
from warehouses.models import Item, Warehouse

pytestmark = pytest.mark.django_db


def sync(*args: str, **options: Any) -> str:
    out = StringIO()
    options.setdefault("refresh", 0)
    call_command("sync_channel", *args, stdout=out, stderr=StringIO(), **options)
    return out.getvalue()


def test_it_imports_orders_and_prints_progress_and_counts(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    output = sync(str(channel.id), kind="orders")

    run = SyncRun.objects.get()
    assert run.kind == SyncRun.Kind.ORDERS
    assert run.trigger == SyncRun.Trigger.MANUAL
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert run.orders_synced > 0
    assert SalesOrder.objects.filter(channel=channel).count() == run.orders_synced
    assert f"[{'.' * 30}] {run.progress_done} done" in output
    assert (
        f"Run #{run.id} succeeded: items synced 0, failed 0; "
        f"orders synced {run.orders_synced}, failed 0" in output
    )
    assert f"Run #{run.id} succeeded." in output


def test_it_finds_the_channel_by_name_and_waits_for_the_listings_report(
    live_sim: Simulator, channel: SalesChannel, fake_clock: FakeClock
) -> None:
    live_sim.state.config.report_processing_seconds = 1.5  # long enough to be waited for

    output = sync("amazon.ca", kind="items")

    run = SyncRun.objects.get()
    assert run.status in {SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL}, run.error
    assert "Waiting: Amazon is preparing listings report" in output
    poll = pytest.approx(item_sync.report_poll_seconds(), abs=0.05)
    assert any(seconds == poll for seconds in fake_clock.slept)  # the poll interval, slept
    assert run.progress_total
    assert f"{run.progress_total}/{run.progress_total} (100%)" in output
    assert Listing.objects.filter(channel=channel).count() == run.items_synced


def test_stock_push_prints_each_skus_result(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    merchant = [
        entry
        for entry in sim_get(live_sim, "/_sim/listings")["listings"]
        if entry["fulfillmentChannelCode"] == "DEFAULT" and not entry["isParent"]
    ][:12]
    for number, entry in enumerate(merchant):
        item = Item.objects.create(sku=entry["sku"], name=entry["title"])
        Listing.objects.create(
            channel=channel,
            item=item,
            seller_sku=entry["sku"],
            product_type=entry["productType"],
            push_pending=True,
        )
        stock.set_opening_stock(item, warehouse, 10 + number)
    # A SKU Amazon does not know: its rejection is printed with Amazon's reason.
    ghost = Item.objects.create(sku="NOT-ON-AMAZON", name="Ghost")
    Listing.objects.create(
        channel=channel,
        item=ghost,
        seller_sku="NOT-ON-AMAZON",
        product_type="HOME",
        push_pending=True,
    )
    stock.set_opening_stock(ghost, warehouse, 3)

    with pytest.raises(CommandError) as raised:
        sync(str(channel.id), kind="stock")

    assert raised.value.returncode == sync_channel.EXIT_PARTIAL
    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.PARTIAL
    assert run.items_synced == 12
    assert run.items_failed == 1
    on_amazon = {e["sku"]: e["quantity"] for e in sim_get(live_sim, "/_sim/listings")["listings"]}
    assert [on_amazon[e["sku"]] for e in merchant] == list(range(10, 22))


def test_stock_push_output_lists_skus(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    entry = next(
        e
        for e in sim_get(live_sim, "/_sim/listings")["listings"]
        if e["fulfillmentChannelCode"] == "DEFAULT" and not e["isParent"]
    )
    item = Item.objects.create(sku=entry["sku"], name=entry["title"])
    Listing.objects.create(
        channel=channel,
        item=item,
        seller_sku=entry["sku"],
        product_type=entry["productType"],
        push_pending=True,
    )
    stock.set_opening_stock(item, warehouse, 4)

    output = sync(str(channel.id), kind="stock")

    assert "SKU" in output and "qty" in output
    assert any(line.split() == [entry["sku"], "4", "synced"] for line in output.splitlines()), (
        output
    )


def test_a_rejected_sku_is_printed_with_amazons_reason(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    ghost = Item.objects.create(sku="NOT-ON-AMAZON", name="Ghost")
    Listing.objects.create(
        channel=channel,
        item=ghost,
        seller_sku="NOT-ON-AMAZON",
        product_type="HOME",
        push_pending=True,
    )
    stock.set_opening_stock(ghost, warehouse, 3)
    out = StringIO()

    with pytest.raises(CommandError):
        call_command("sync_channel", str(channel.id), kind="stock", refresh=0, stdout=out)

    line = next(line for line in out.getvalue().splitlines() if "NOT-ON-AMAZON" in line)
    assert line.split()[:3] == ["NOT-ON-AMAZON", "3", "failed"]
    assert "Amazon rejected quantity 3" in line


def test_it_refuses_while_a_sync_of_the_same_kind_is_running(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    running = history.start_run(channel.id, SyncRun.Kind.ORDERS, SyncRun.Trigger.AUTOMATIC)
    assert history.claim_run(running.id)  # a live worker has it

    expected = rf"already running for this channel \(run #{running.id}\)"
    with pytest.raises(CommandError, match=expected):
        sync(str(channel.id), kind="orders")

    assert SyncRun.objects.count() == 1


def test_a_run_queued_for_a_worker_that_never_came_is_run_here(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    """connect_amazon queues the initial syncs; with no worker running, the operator's
    sync_channel used to refuse ("already queued") for ever."""
    queued = services.request_sync(channel, SyncRun.Kind.ORDERS, SyncRun.Trigger.AUTOMATIC)

    output = sync(str(channel.id), kind="orders")

    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.SUCCEEDED, queued.error
    assert queued.orders_synced > 0
    assert SyncRun.objects.count() == 1  # the queued run did the work; none was added
    assert f"Run #{queued.id} is waiting for a worker: running it here." in output
    assert f"Run #{queued.id} succeeded." in output


def test_a_specific_period_runs_after_the_queued_run_it_waited_behind(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    queued = services.request_sync(channel, SyncRun.Kind.ORDERS, SyncRun.Trigger.AUTOMATIC)
    today = timezone.localdate()

    sync(str(channel.id), kind="orders", start=(today - timedelta(days=3)).isoformat())

    queued.refresh_from_db()
    assert queued.status == SyncRun.Status.SUCCEEDED, queued.error
    period = SyncRun.objects.exclude(id=queued.id).get()
    assert period.trigger == SyncRun.Trigger.MANUAL
    assert period.window_start is not None
    assert period.status == SyncRun.Status.SUCCEEDED, period.error


def test_it_refuses_an_inactive_channel(live_sim: Simulator, channel: SalesChannel) -> None:
    SalesChannel.objects.filter(id=channel.id).update(status=SalesChannel.Status.INACTIVE)

    with pytest.raises(CommandError, match="is inactive: nothing syncs until it is re-enabled"):
        sync(str(channel.id), kind="orders")

    assert not SyncRun.objects.exists()


@pytest.mark.parametrize(
    ("start", "end", "message"),
    [
        (3, 5, "The end date is before the start date."),
        (-1, None, "This date is in the future."),
        (731, 5, "Amazon keeps two years of orders"),
    ],
)
def test_it_checks_the_period_as_the_sync_page_does(
    live_sim: Simulator, channel: SalesChannel, start: int, end: int | None, message: str
) -> None:
    today = timezone.localdate()
    options = {"start": (today - timedelta(days=start)).isoformat()}
    if end is not None:
        options["end"] = (today - timedelta(days=end)).isoformat()

    with pytest.raises(CommandError, match=message):
        sync(str(channel.id), kind="orders", **options)

    assert not SyncRun.objects.exists()


def test_it_rejects_malformed_or_misplaced_dates(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    with pytest.raises(CommandError, match="YYYY-MM-DD"):
        sync(str(channel.id), kind="orders", start="01/02/2026")
    with pytest.raises(CommandError, match="item, order and returns syncs only"):
        sync(str(channel.id), kind="stock", start="2026-01-01")
    with pytest.raises(CommandError, match="No sales channel 'eBay'"):
        sync("eBay", kind="orders")


def test_a_specific_period_is_fetched_in_local_time(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    today = timezone.localdate()
    start, end = today - timedelta(days=20), today - timedelta(days=2)

    sync(str(channel.id), kind="orders", start=start.isoformat(), end=end.isoformat())

    run = SyncRun.objects.get()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert timezone.localtime(run.window_start).date() == start
    assert timezone.localtime(run.window_start).time().hour == 0
    assert timezone.localtime(run.window_end).date() == end
    assert run.window_start is not None and run.window_end is not None
    for order in SalesOrder.objects.all():
        assert run.window_start <= order.amazon_updated_at <= run.window_end
    channel.refresh_from_db()
    assert channel.orders_checkpoint is None  # a custom range never moves the checkpoint


def test_it_retries_a_transient_failure(
    live_sim: Simulator, channel: SalesChannel, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(runs, "foreground_backoff", lambda failures: 0.0)
    sim_post(
        live_sim,
        "/_sim/faults",
        {"operation": "searchOrders", "kind": "server_error", "count": 2},
    )

    output = sync(str(channel.id), kind="orders")

    assert output.count("Amazon failed (searchOrders") == 2
    assert SyncRun.objects.get().status == SyncRun.Status.SUCCEEDED


def test_a_revoked_authorization_fails_the_run_and_marks_the_channel(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    sim_post(live_sim, "/_sim/auth/revoke")

    with pytest.raises(CommandError, match="Re-authorize the channel") as raised:
        sync(str(channel.id), kind="orders")

    assert raised.value.returncode == 1
    channel.refresh_from_db()
    assert channel.status == SalesChannel.Status.NEEDS_REAUTHORIZATION
    assert SyncRun.objects.get().status == SyncRun.Status.FAILED


def test_it_reinitiates_a_run(live_sim: Simulator, channel: SalesChannel) -> None:
    sync(str(channel.id), kind="orders")
    first = SyncRun.objects.get()
    SalesOrder.objects.all().delete()

    output = sync(str(channel.id), reinitiate=first.id)

    again = SyncRun.objects.exclude(id=first.id).get()
    assert again.trigger == SyncRun.Trigger.REINITIATED
    assert again.reinitiates_id == first.id
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    assert again.orders_synced == first.orders_synced
    assert SalesOrder.objects.count() == first.orders_synced
    assert "(re-initiated)" in output.lower()


def test_it_refuses_to_reinitiate_a_stock_push(live_sim: Simulator, channel: SalesChannel) -> None:
    run = history.start_run(channel.id, SyncRun.Kind.STOCK, SyncRun.Trigger.AUTOMATIC)
    claimed = history.claim_run(run.id)
    assert claimed is not None
    history.finish_run(claimed)
    SyncRecord.objects.create(run=run, record_type="stock", external_id="X", outcome="synced")

    with pytest.raises(CommandError, match="Only item, order and returns syncs can be re-init"):
        sync(str(channel.id), reinitiate=run.id)


def test_the_progress_bar() -> None:
    assert sync_channel.progress_bar(5, 10) == f"[{'#' * 15}{'.' * 15}] 5/10 (50%)"
    assert sync_channel.progress_bar(0, None) == f"[{'.' * 30}] 0 done"
    assert sync_channel.progress_bar(12, 10).endswith("10/10 (100%)")


def test_a_sync_started_from_the_command_line_is_audited(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    sync(str(channel.id), kind="orders")

    run = SyncRun.objects.get()
    event = AuditEvent.objects.get(action="sync-started")
    assert event.user is None
    assert event.user_agent == "manage.py sync_channel"
    assert event.detail == {"kind": "orders", "channel": channel.pk}
    assert event.target_id == str(run.pk)
