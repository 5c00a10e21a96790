"""A worker SIGKILLed at a random point of an order sync or a stock push, then replaced."""

from __future__ import annotations

import contextlib
import time

import pytest
from django.core.exceptions import ValidationError

from marketplaces.amazon import stock_push
from synchistory.models import SyncRun
from tests.chaos import invariants
from tests.chaos.rig import TRIALS, MakeRig, Rig
from warehouses import stock
from warehouses.models import Item

pytestmark = [pytest.mark.chaos, pytest.mark.services]


def kill_at_random_point(rig: Rig, run: SyncRun, longest: float) -> str:
    """Let the run start, then SIGKILL its worker after a random moment of its work; a new
    worker process takes over. Says when the kill happened and what the run was doing."""
    worker = rig.workers[-1]
    rig.wait_running(run)
    delay = rig.rng.uniform(0, longest)
    time.sleep(delay)
    rig.kill(worker)
    run.refresh_from_db()
    rig.start_worker()
    return f"killed {delay:.2f}s into run #{run.pk} ({run.status}, {run.progress_done} done)"


def seconds_per_order(rig: Rig, orders: int) -> float:
    """How long an unkilled order sync takes per order on this machine, now."""
    rig.place_orders(orders)
    rig.wait_searchable()
    run = rig.final_sync(SyncRun.Kind.ORDERS)
    assert run.status == SyncRun.Status.SUCCEEDED and run.started_at and run.finished_at
    return (run.finished_at - run.started_at).total_seconds() / orders


def test_it_recovers_from_a_worker_killed_during_order_syncs(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.start_worker()
    rig.final_sync(SyncRun.Kind.STOCK)  # first full push, so listings start out right
    per_order = seconds_per_order(rig, 120)
    for trial in range(TRIALS):
        merchant, fba = rig.rng.randint(60, 180), rig.rng.randint(0, 20)
        rig.place_orders(merchant, fba=fba)
        rig.wait_searchable()
        run = rig.trigger(SyncRun.Kind.ORDERS)
        # The kill lands anywhere in the run, rarely just after it (the run's length varies).
        longest = 1.1 * per_order * (merchant + fba)
        print(f"trial {trial}: {kill_at_random_point(rig, run, longest=longest)}")

        rig.final_sync(SyncRun.Kind.ORDERS)
        rig.final_sync(SyncRun.Kind.STOCK)
        run.refresh_from_db()
        assert run.status in invariants.FINAL_STATUSES
        if run.status == SyncRun.Status.FAILED:
            assert run.error, "a failed run says why"
        invariants.check_all(rig.sim.base_url, rig.channel)


def test_it_recovers_from_a_worker_killed_during_stock_pushes(make_rig: MakeRig) -> None:
    rig = make_rig()
    rig.start_worker()
    rig.final_sync(SyncRun.Kind.STOCK)
    items = list(Item.objects.filter(listings__channel=rig.channel, stocks__isnull=False))
    for trial in range(TRIALS):
        changed = rig.rng.sample(items, rig.rng.choice([5, 40, 120]))  # patches or a feed
        for item in changed:
            with contextlib.suppress(ValidationError):  # not below what orders hold
                stock.adjust_stock(
                    item, rig.warehouse, rig.rng.choice([-3, -1, 2, 7]), note="Cycle count"
                )
        run = rig.trigger(SyncRun.Kind.STOCK)
        # Patches take a few tens of milliseconds, a feed (submit, wait, follow) about 1.5 s.
        longest = 0.05 if len(changed) <= stock_push.PATCH_LIMIT else 2.0
        killed = kill_at_random_point(rig, run, longest=longest)
        print(f"trial {trial}: {len(changed)} SKUs, {killed}")

        rig.final_sync(SyncRun.Kind.STOCK)
        invariants.check_all(rig.sim.base_url, rig.channel)
