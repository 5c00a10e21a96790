"""Duplicate triggers, fault storms, a revoked token, clock skew, Redis and PostgreSQL losses."""

from __future__ import annotations

import contextlib
import shutil
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from datetime import timedelta
from functools import partial

import pytest
import redis
from django.core.exceptions import ValidationError
from django.db import connection

from marketplaces.models import ApiQuota, SalesChannel
from marketplaces.services import request_sync
from synchistory.models import SyncRecord, SyncRun
from tests.chaos import invariants
from tests.chaos.rig import FINAL, MakeRig, Rig, wait_until
from tests.helpers.services import require_service
from warehouses import stock
from warehouses.models import Item

pytestmark = [pytest.mark.chaos, pytest.mark.services]


def adjust_some(rig: Rig, count: int) -> None:
    items = list(Item.objects.filter(listings__channel=rig.channel, stocks__isnull=False))
    for item in rig.rng.sample(items, count):
        stock.adjust_stock(item, rig.warehouse, rig.rng.choice([1, 2, 5]), note="Found")


def test_it_runs_a_sync_triggered_twice_at_once_exactly_once(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.start_worker()
    rig.start_worker()  # two workers on one queue: either may get either copy
    rig.final_sync(SyncRun.Kind.STOCK)
    rig.place_orders(80)
    rig.wait_searchable()

    # A manual click while beat queues the scheduled run (and a second beat by mistake).
    outcomes: list[object] = []
    barrier = threading.Barrier(6)

    def click(trigger: str) -> None:
        channel = SalesChannel.objects.get(pk=rig.channel.pk)
        barrier.wait()
        try:
            outcomes.append(request_sync(channel, SyncRun.Kind.ORDERS, trigger))
        except ValidationError as refused:
            outcomes.append(refused)
        finally:
            connection.close()

    triggers = [SyncRun.Trigger.AUTOMATIC, SyncRun.Trigger.MANUAL] * 3
    threads = [threading.Thread(target=click, args=(t,)) for t in triggers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    runs = [o for o in outcomes if isinstance(o, SyncRun)]
    assert len(runs) == 1, outcomes
    assert all("already" in str(o) for o in outcomes if isinstance(o, ValidationError))
    run = runs[0]
    # Its task delivered twice (a double beat, a redelivery): both workers get a copy.
    rig.dispatch(run)
    rig.dispatch(run)
    wait_until(
        lambda: SyncRun.objects.get(pk=run.pk).status in FINAL, 90, "the run", workers=rig.workers
    )
    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    order_records = SyncRecord.objects.filter(run=run, record_type=SyncRecord.RecordType.ORDER)
    assert order_records.count() == order_records.values("external_id").distinct().count()

    # Two beats at once: exactly one stock push is queued for the pending listings.
    rig.settle()
    adjust_some(rig, 30)
    before = SyncRun.objects.filter(kind=SyncRun.Kind.STOCK).count()
    rig.send("marketplaces.tasks.schedule_automatic_syncs_task")
    rig.send("marketplaces.tasks.schedule_automatic_syncs_task")
    time.sleep(3)
    rig.settle()
    assert SyncRun.objects.filter(kind=SyncRun.Kind.STOCK).count() - before <= 2
    rig.final_sync(SyncRun.Kind.ORDERS)
    rig.final_sync(SyncRun.Kind.STOCK)
    invariants.check_all(rig.sim.base_url, rig.channel)


STORM = [
    ("throttle", {}),
    ("server_error", {"status": 503}),
    ("server_error", {"status": 500}),
    ("timeout", {"seconds": 3}),  # longer than the workers' AMAZON_HTTP_TIMEOUT of 2 s
    ("malformed", {}),
    ("empty_body", {}),
]


def test_it_weathers_a_fault_storm(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.start_worker()
    rig.final_sync(SyncRun.Kind.STOCK)
    rig.place_orders(120, fba=10)
    rig.wait_searchable()
    storm_seconds = 15 * rig.sim.clock.time_scale  # 15 s of real time, 30 simulated minutes
    for kind, options in STORM:  # together about a third of all calls fail
        rig.sim_post(
            "/_sim/faults",
            {
                "operation": "*",
                "kind": kind,
                "probability": 0.065,
                "duration": storm_seconds,
                **options,
            },
        )
    storm_ends = time.monotonic() + 15
    rig.trigger(SyncRun.Kind.ORDERS)
    adjust_some(rig, 40)
    with contextlib.suppress(ValidationError):
        rig.trigger(SyncRun.Kind.STOCK)
    while time.monotonic() < storm_ends:  # beat keeps starting what is due meanwhile
        rig.send("marketplaces.tasks.schedule_automatic_syncs_task")
        time.sleep(3)
    calls = rig.sim_get("/_sim/counters")["operations"]
    assert sum(c["errors"] + c["throttled"] for c in calls.values()) > 0, "no storm happened"

    rig.final_sync(SyncRun.Kind.ORDERS)
    rig.final_sync(SyncRun.Kind.STOCK)
    invariants.check_all(rig.sim.base_url, rig.channel, storm=True)


def test_it_stops_cleanly_when_the_refresh_token_is_revoked_mid_run(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.start_worker()
    rig.place_orders(400)  # four pages of 100
    rig.wait_searchable()
    run = rig.trigger(SyncRun.Kind.ORDERS)
    rig.wait_running(run, progress=100)
    rig.sim_post("/_sim/auth/revoke")

    wait_until(
        lambda: SyncRun.objects.get(pk=run.pk).status in FINAL, 60, "the run", workers=rig.workers
    )
    run.refresh_from_db()
    rig.channel.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert "Re-authorize the channel" in run.error, run.error
    assert rig.channel.status == SalesChannel.Status.NEEDS_REAUTHORIZATION
    assert rig.channel.status_reason

    # Nothing retries forever: beat starts nothing, a click is refused, Amazon hears nothing.
    calls_before = rig.sim_get("/_sim/counters")["operations"]
    for _ in range(3):
        rig.send("marketplaces.tasks.schedule_automatic_syncs_task")
        time.sleep(1.5)
    with pytest.raises(ValidationError):
        request_sync(rig.channel, SyncRun.Kind.ORDERS, SyncRun.Trigger.MANUAL)
    assert rig.sim_get("/_sim/counters")["operations"] == calls_before
    assert list(SyncRun.objects.exclude(pk=run.pk).exclude(status__in=FINAL)) == []
    invariants.check_all(rig.sim.base_url, rig.channel, pushed=False, complete_orders=False)


@pytest.mark.parametrize("offset_minutes", [5, -5])
def test_it_misses_nothing_when_clocks_disagree(make_rig: MakeRig, offset_minutes: int) -> None:
    """Amazon's clock five minutes ahead of (or behind) the workers': checkpoints come from
    Amazon's own upper bound, so every order is imported exactly once.

    Real-time speed (time scale 1), since a faster simulated clock would drift from ours. Ten
    merchant SKUs, so stock pushes go as patches instead of feeds polled every 30 s.
    """
    rig = make_rig(
        time_scale=1, clock_offset=timedelta(minutes=offset_minutes), merchant_listings=10
    )
    rig.start_worker()
    for _batch in range(3):
        sim_now = rig.sim.clock.now()
        for minutes_ago in (9, 6, 3):  # already searchable: Amazon shows orders after 2 min
            rig.sim_post(
                "/_sim/orders",
                {
                    # Each new merchant order costs a getOrder (its address): 36 in all, so
                    # the last batch outruns the burst of 30 and is paced at 0.5 a second.
                    "count": 4,
                    "fulfilledBy": "MERCHANT",
                    "skus": rig.merchant_skus(),
                    "createdTime": (sim_now - timedelta(minutes=minutes_ago)).strftime(
                        "%Y-%m-%dT%H:%M:%SZ"
                    ),
                },
            )
        run = rig.final_sync(SyncRun.Kind.ORDERS)
        rig.channel.refresh_from_db()
        checkpoint = rig.channel.orders_checkpoint
        assert checkpoint is not None
        # Amazon's "now minus two minutes", by Amazon's clock, whatever ours says.
        assert abs((checkpoint - (rig.sim.clock.now() - timedelta(minutes=2))).total_seconds()) < 60
        assert run.orders_synced >= 12
        invariants.orders_match(rig.sim.base_url, rig.channel)
    get_order = ApiQuota.objects.get(operation="getOrder")
    print(f"getOrder: {get_order.calls} calls, {get_order.paced} paced")
    assert get_order.paced, "the scenario outruns the burst, so our pacing is part of it"
    rig.final_sync(SyncRun.Kind.STOCK)
    invariants.check_all(rig.sim.base_url, rig.channel)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture
def private_redis() -> Iterator[int]:
    """A redis-server of this test's own, which it may stop and start at will."""
    binary = shutil.which("redis-server")
    require_service(binary is not None, "redis-server (to restart a private Redis)")
    port = free_port()

    start_redis(port)
    yield port
    with contextlib.suppress(redis.RedisError):
        redis.Redis(port=port).shutdown(nosave=True)


def start_redis(port: int) -> None:
    """A redis-server without persistence on ``port``: what it holds dies with it."""
    subprocess.run(
        [
            shutil.which("redis-server") or "redis-server",
            *("--port", str(port), "--bind", "127.0.0.1"),
            *("--save", "", "--appendonly", "no", "--daemonize", "yes"),
        ],
        check=True,
        capture_output=True,
    )
    wait_until(lambda: _pings(port), 10, f"redis on port {port}")


def _pings(port: int) -> bool:
    try:
        return bool(redis.Redis(port=port, socket_timeout=1).ping())
    except redis.RedisError:
        return False


def restart_redis(port: int, down_seconds: float) -> None:
    with contextlib.suppress(redis.RedisError):
        redis.Redis(port=port).shutdown(nosave=True)  # every queued and unacked task is lost
    time.sleep(down_seconds)
    start_redis(port)


def test_it_recovers_when_redis_restarts_mid_run(make_rig: MakeRig, private_redis: int) -> None:
    rig = make_rig(redis_url=f"redis://127.0.0.1:{private_redis}/0")
    rig.start_worker()
    rig.final_sync(SyncRun.Kind.STOCK)
    rig.place_orders(300)
    rig.wait_searchable()
    adjust_some(rig, 80)
    stock_run = rig.trigger(SyncRun.Kind.STOCK)  # a feed: it waits for Amazon between polls
    orders_run = rig.trigger(SyncRun.Kind.ORDERS)
    rig.wait_running(stock_run)
    time.sleep(rig.rng.uniform(0.2, 1.5))
    restart_redis(private_redis, down_seconds=2)

    # Beat runs on: the scheduler hands runs whose task was lost back to the workers, the
    # reaper fails runs whose worker stopped reporting.
    def all_final() -> bool:
        rig.send("marketplaces.tasks.schedule_automatic_syncs_task")
        rig.send("synchistory.tasks.reap_dead_runs_task")
        return not rig.active()

    wait_until(all_final, 120, "runs to finish after Redis came back", every=2, workers=rig.workers)
    rig.workers[-1].assert_alive()
    for run in (stock_run, orders_run):
        run.refresh_from_db()
        assert run.status in FINAL
    rig.final_sync(SyncRun.Kind.ORDERS)
    rig.final_sync(SyncRun.Kind.STOCK)
    invariants.check_all(rig.sim.base_url, rig.channel)


# Long enough for a worker on a loaded machine to notice; without the fix the run stayed
# "running" until the reaper, which only settle() runs.
SETTLE_WITHOUT_REAPER = 30.0


def _left_running(run_id: int) -> bool:
    return SyncRun.objects.get(pk=run_id).status != SyncRun.Status.RUNNING


def terminate_other_backends() -> int:
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(pg_terminate_backend(pid)) FROM pg_stat_activity "
            "WHERE datname = current_database() AND pid <> pg_backend_pid()"
        )
        row = cursor.fetchone()
    return int(row[0]) if row else 0


def test_it_recovers_when_postgresql_drops_the_workers_connection(make_rig: MakeRig) -> None:
    """Every backend of the worker is terminated in the middle of an order sync, then in the
    middle of a stock push (a feed: usually while the run waits for Amazon)."""
    rig = make_rig()
    rig.start_worker()
    rig.final_sync(SyncRun.Kind.STOCK)
    for kind in (SyncRun.Kind.ORDERS, SyncRun.Kind.STOCK):
        if kind == SyncRun.Kind.ORDERS:
            rig.place_orders(150)
            rig.wait_searchable()
        else:
            adjust_some(rig, 40)
        rig.settle()
        run = rig.trigger(kind)
        rig.wait_running(run, progress=50 if kind == SyncRun.Kind.ORDERS else 0)
        assert terminate_other_backends() >= 1, "the worker had no connection to terminate"

        # The run ends, or goes back to the queue to be retried on a new connection, without
        # waiting for the reaper (which this test does not run).
        wait_until(
            partial(_left_running, run.pk),
            SETTLE_WITHOUT_REAPER,
            f"{kind} run #{run.pk} to leave 'running' after losing its connection",
            workers=rig.workers,
        )
        rig.settle(timeout=90)
        rig.workers[-1].assert_alive()
        run.refresh_from_db()
        assert run.status in FINAL
    rig.final_sync(SyncRun.Kind.ORDERS)
    rig.final_sync(SyncRun.Kind.STOCK)
    invariants.check_all(rig.sim.base_url, rig.channel)
