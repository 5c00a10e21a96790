"""One order stream per seller: one searchOrders call lists every marketplace, each order goes
to its own channel and is recorded in that channel's Sync History."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.utils import timezone

from marketplaces import connect, schedule
from marketplaces.models import NotificationSetup, SalesChannel, SalesOrder
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRun
from tests.helpers.amazon import run_order_sync

pytestmark = pytest.mark.django_db

SELLER = "A3SIMULATORCA"
MARKETPLACE_IDS: dict[str, str] = {
    SalesChannel.Marketplace.AMAZON_CA: "A2EUQ1WTGCTBG2",
    SalesChannel.Marketplace.AMAZON_COM: "ATVPDKIKX0DER",
    SalesChannel.Marketplace.AMAZON_COM_MX: "A1AM78C64UM0Y8",
}


def seller_on_three_marketplaces() -> dict[str, SalesChannel]:
    """Amazon.ca, .com and .com.mx of one seller, each synced once (their initial runs are
    replaced by a checkpoint a minute ago, as after a first sync)."""
    canada = connect.connect_channel(
        name="Amazon.ca", seller_id=SELLER, refresh_token="Atzr|simulator"
    )
    connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM_MX)
    SyncRun.objects.all().delete()
    SalesChannel.objects.update(orders_checkpoint=timezone.now() - timedelta(minutes=1))
    return {channel.marketplace: channel for channel in SalesChannel.objects.all()}


def place_orders(sim: Simulator, marketplace: str, count: int) -> set[str]:
    created = sim_post(
        sim,
        "/_sim/orders",
        {
            "count": count,
            "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT",
            "marketplaceId": MARKETPLACE_IDS[marketplace],
        },
    )
    return {order["orderId"] for order in created["orders"]}


def search_calls(sim: Simulator) -> int:
    counters = sim_get(sim, "/_sim/counters")["operations"]
    return int(counters.get("searchOrders", {}).get("calls", 0))


def orders_of(channel: SalesChannel) -> set[str]:
    return set(SalesOrder.objects.filter(channel=channel).values_list("amazon_order_id", flat=True))


def test_one_call_brings_every_marketplaces_orders_each_into_its_channel(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    channels = seller_on_three_marketplaces()
    placed = {
        marketplace: place_orders(amazon_settings, marketplace, 3) for marketplace in channels
    }
    sim_post(amazon_settings, "/_sim/clock/advance", {"seconds": 300})
    calls_before = search_calls(amazon_settings)

    lead = run_order_sync(channels[SalesChannel.Marketplace.AMAZON_CA])

    assert search_calls(amazon_settings) - calls_before == 1
    assert lead.status == SyncRun.Status.SUCCEEDED, lead.error
    for marketplace, channel in channels.items():
        assert placed[marketplace] <= orders_of(channel), marketplace
        assert not orders_of(channel) & set().union(
            *(ids for other, ids in placed.items() if other != marketplace)
        )
    companions = {run.channel.marketplace: run for run in lead.companions.all()}
    assert set(companions) == {
        SalesChannel.Marketplace.AMAZON_COM,
        SalesChannel.Marketplace.AMAZON_COM_MX,
    }
    for marketplace, run in companions.items():
        assert run.status == SyncRun.Status.SUCCEEDED, run.error
        assert (run.kind, run.trigger, run.window_start) == (
            SyncRun.Kind.ORDERS,
            SyncRun.Trigger.AUTOMATIC,
            lead.window_start,
        )
        assert run.orders_synced == len(orders_of(channels[marketplace])) >= 3
        assert run.records.filter(external_id__in=placed[marketplace]).count() == 3
        assert run.finished_at is not None
    assert lead.orders_synced == len(orders_of(channels[SalesChannel.Marketplace.AMAZON_CA]))
    checkpoints = set(SalesChannel.objects.values_list("orders_checkpoint", flat=True))
    assert len(checkpoints) == 1
    assert (checkpoints.pop() or timezone.now()) > timezone.now() - timedelta(minutes=1)


def test_the_scheduler_starts_one_stream_for_a_seller_whose_channels_are_due(
    amazon_settings: Simulator, warehouse: Any, settings: Any
) -> None:
    settings.CELERY_TASK_ALWAYS_EAGER = False  # the runs stay queued: we look at what started
    channels = seller_on_three_marketplaces()
    SalesChannel.objects.update(sync_items=False)

    schedule.start_due_syncs()

    started = SyncRun.objects.filter(kind=SyncRun.Kind.ORDERS)
    assert started.count() == 1
    assert started.get().channel == channels[SalesChannel.Marketplace.AMAZON_CA]


def test_a_channel_not_due_for_long_is_left_to_its_own_interval(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    channels = seller_on_three_marketplaces()
    # Healthy notifications: each channel polls at its own pace (without them every channel
    # polls as often as Amazon's quota allows, and all are due together).
    NotificationSetup.objects.create(
        seller_id=SELLER, status=NotificationSetup.Status.ENABLED, enabled_at=timezone.now()
    )
    us = channels[SalesChannel.Marketplace.AMAZON_COM]
    SalesChannel.objects.filter(id=us.id).update(sync_interval_minutes=240)
    polled = history.start_run(us.id, SyncRun.Kind.ORDERS, SyncRun.Trigger.AUTOMATIC)
    SyncRun.objects.filter(id=polled.id).update(status=SyncRun.Status.SUCCEEDED)
    placed_us = place_orders(amazon_settings, SalesChannel.Marketplace.AMAZON_COM, 2)

    lead = run_order_sync(channels[SalesChannel.Marketplace.AMAZON_CA])

    assert {run.channel_id for run in lead.companions.all()} == {
        channels[SalesChannel.Marketplace.AMAZON_COM_MX].id
    }
    assert not orders_of(us) & placed_us


def test_a_channel_far_behind_catches_up_on_its_own(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    channels = seller_on_three_marketplaces()
    mexico = channels[SalesChannel.Marketplace.AMAZON_COM_MX]
    SalesChannel.objects.filter(id=mexico.id).update(
        orders_checkpoint=timezone.now() - timedelta(days=2)
    )

    lead = run_order_sync(channels[SalesChannel.Marketplace.AMAZON_CA])

    assert lead.window_start is not None
    assert lead.window_start > timezone.now() - timedelta(hours=1)
    assert mexico.id not in {run.channel_id for run in lead.companions.all()}
    mexico.refresh_from_db()
    assert mexico.orders_checkpoint is not None
    assert mexico.orders_checkpoint < timezone.now() - timedelta(days=1)


def test_a_channel_with_its_own_run_going_and_a_switched_off_module_stay_out(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    channels = seller_on_three_marketplaces()
    us = channels[SalesChannel.Marketplace.AMAZON_COM]
    history.start_run(us.id, SyncRun.Kind.ORDERS, SyncRun.Trigger.MANUAL)  # queued
    SalesChannel.objects.filter(marketplace=SalesChannel.Marketplace.AMAZON_COM_MX).update(
        sync_orders=False
    )
    placed_us = place_orders(amazon_settings, SalesChannel.Marketplace.AMAZON_COM, 2)

    lead = run_order_sync(channels[SalesChannel.Marketplace.AMAZON_CA])

    assert lead.status == SyncRun.Status.SUCCEEDED, lead.error
    assert not lead.companions.exists()
    assert not SalesOrder.objects.filter(amazon_order_id__in=placed_us).exists()


def test_a_failed_stream_fails_every_channels_run_and_moves_no_checkpoint(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    channels = seller_on_three_marketplaces()
    before = dict(SalesChannel.objects.values_list("id", "orders_checkpoint"))
    sim_post(
        amazon_settings,
        "/_sim/faults",
        {"operation": "searchOrders", "kind": "server_error", "count": 100},
    )
    lead = history.start_run(
        channels[SalesChannel.Marketplace.AMAZON_CA].id,
        SyncRun.Kind.ORDERS,
        SyncRun.Trigger.AUTOMATIC,
    )
    claimed = history.claim_run(lead.id)
    assert claimed is not None
    from marketplaces import runs

    again = runs.attempt(claimed, runs.MAX_TRANSIENT_RETRIES)

    assert again is None
    lead.refresh_from_db()
    assert lead.status == SyncRun.Status.FAILED
    companions = list(lead.companions.all())
    assert len(companions) == 2
    assert {run.status for run in companions} == {SyncRun.Status.FAILED}
    assert {run.error for run in companions} == {lead.error}
    assert dict(SalesChannel.objects.values_list("id", "orders_checkpoint")) == before


def test_a_worker_that_claims_the_lead_again_takes_its_companions_and_fences_the_old_one(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    channels = seller_on_three_marketplaces()
    lead = history.start_run(
        channels[SalesChannel.Marketplace.AMAZON_CA].id,
        SyncRun.Kind.ORDERS,
        SyncRun.Trigger.AUTOMATIC,
    )
    first = history.claim_run(lead.id)
    assert first is not None
    companion = history.start_companion_run(first, channels[SalesChannel.Marketplace.AMAZON_COM].id)
    assert companion is not None
    assert history.claim_run(companion.id) is None  # never a task of its own

    # The first worker stalls past STALE_AFTER; another one claims the lead.
    SyncRun.objects.filter(id=lead.id).update(heartbeat_at=timezone.now() - timedelta(hours=1))
    second = history.claim_run(lead.id)
    assert second is not None
    taken = history.companions(second)

    assert [run.id for run in taken] == [companion.id]
    companion.claim = first.claim
    with pytest.raises(history.RunTakenOver):
        history.record_many(companion, [history.Entry("order", "111-1", "synced")])
    history.finish_run(second)
    assert SyncRun.objects.get(id=companion.id).status == SyncRun.Status.SUCCEEDED


def test_the_reaper_ends_companions_with_their_lead_only(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    channels = seller_on_three_marketplaces()
    lead = history.claim_run(
        history.start_run(
            channels[SalesChannel.Marketplace.AMAZON_CA].id,
            SyncRun.Kind.ORDERS,
            SyncRun.Trigger.AUTOMATIC,
        ).id
    )
    assert lead is not None
    companion = history.start_companion_run(lead, channels[SalesChannel.Marketplace.AMAZON_COM].id)
    assert companion is not None
    an_hour_ago = timezone.now() - timedelta(hours=1)
    SyncRun.objects.filter(id=companion.id).update(heartbeat_at=an_hour_ago)

    assert history.reap_dead_runs() == 0  # its lead is alive
    assert SyncRun.objects.get(id=companion.id).status == SyncRun.Status.RUNNING

    SyncRun.objects.filter(id=lead.id).update(heartbeat_at=an_hour_ago)
    assert history.reap_dead_runs() == 1
    assert set(SyncRun.objects.values_list("status", flat=True)) == {SyncRun.Status.FAILED}
