"""The chaos rig: real PostgreSQL, real Redis, real `celery worker` processes, the simulator.
Its fixture, ``make_rig``, is in tests/chaos/conftest.py; the tests import the rest from here.

The simulator runs in this process on 127.0.0.1 and the workers reach it over HTTP, on a clock
TIME_SCALE times faster than real time, enforcing Amazon's usage plans scaled the same way;
the workers pace with AMAZON_RATE_SCALE = TIME_SCALE. Each test gets its own Celery queue (set as
the workers' default queue, so what a worker queues itself, such as a debounced stock push,
comes back to the same workers and to no one else). This process plays beat: it starts runs
with the product's ``request_sync`` and sends their tasks through Redis, and it runs the reaper.
"""

from __future__ import annotations

import contextlib
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import partial
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import httpx
import pytest
import redis
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import connection
from django.utils import timezone

from inventory_sync.celery import app
from marketplaces.jobs import TASK_FOR_KIND
from marketplaces.models import FulfillmentChannel, Listing, NotificationSetup, SalesChannel
from marketplaces.services import request_sync
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRun
from tests.helpers.services import require_service
from tests.helpers.workers import StartWorker, Worker, database_url
from warehouses import stock
from warehouses.models import Item, Organization, Warehouse

TIME_SCALE = 120.0
STALE_SECONDS = 6
VISIBILITY_SECONDS = 12
# How often settle() plays beat's scheduler (real seconds).
SCHEDULER_EVERY = 3.0
SELLER_ID = "A3SIMULATORCA"
# CI runs a few trials of each random scenario; a soak sets CHAOS_TRIALS=50.
TRIALS = int(os.environ.get("CHAOS_TRIALS", "3"))
# The rig's Redis database: not the one of the rest of the suite (or of anyone else's workers
# on this Redis), because its workers' 12-second visibility timeout hands every unacknowledged
# task of the whole database, whoever's, to another worker. CHAOS_REDIS_URL overrides it.
CHAOS_REDIS_DB = 13
FINAL = {SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL, SyncRun.Status.FAILED}
ACTIVE = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


def redis_answers(url: str) -> bool:
    try:
        return bool(redis.Redis.from_url(url, socket_connect_timeout=2, socket_timeout=2).ping())
    except (redis.RedisError, OSError, ValueError):
        return False


def wait_until(
    predicate: Callable[[], Any],
    timeout: float,
    what: str,
    *,
    every: float = 0.2,
    workers: list[Worker] | None = None,
) -> Any:
    deadline = time.monotonic() + timeout
    while True:
        value = predicate()
        if value:
            return value
        if time.monotonic() > deadline:
            logs = "\n".join(w.log_tail(40) for w in workers or [])
            pytest.fail(f"timed out after {timeout:.0f}s waiting for {what}\n{logs}")
        time.sleep(every)


@dataclass
class Rig:
    sim: Simulator
    channel: SalesChannel
    warehouse: Warehouse
    queue: str
    redis_url: str
    spawn: StartWorker
    rng: random.Random
    workers: list[Worker] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)

    # -- workers ------------------------------------------------------------------------

    def env(self) -> dict[str, str]:
        return {
            "DATABASE_URL": database_url(connection.settings_dict),
            "REDIS_URL": self.redis_url,
            "CELERY_TASK_DEFAULT_QUEUE": self.queue,
            "CELERY_VISIBILITY_TIMEOUT": str(VISIBILITY_SECONDS),
            "SYNC_RUN_STALE_AFTER_SECONDS": str(STALE_SECONDS),
            "AMAZON_RATE_SCALE": str(self.sim.clock.time_scale or 1),
            "AMAZON_MAX_PACING_WAIT": "2",
            "AMAZON_HTTP_TIMEOUT": "2",
            "STOCK_PUSH_DEBOUNCE_SECONDS": "5",
            # With the setup connect_channel makes, notifications count as healthy for the
            # whole scenario: orders keep the channel's own (day-long) interval instead of
            # being polled every 3 minutes, so this rig's beat decides when orders sync.
            "AMAZON_NOTIFICATIONS_HEALTHY_MINUTES": str(24 * 60),
            "AMAZON_LWA_CLIENT_ID": "amzn1.application-oa2-client.simulator",
            "AMAZON_LWA_CLIENT_SECRET": "simulator-secret",
            **self.extra_env,
        }

    def start_worker(self) -> Worker:
        worker = self.spawn(queue=self.queue, env=self.env())
        self.workers.append(worker)
        return worker

    def kill(self, worker: Worker) -> None:
        worker.process.kill()  # SIGKILL: no warm shutdown, no ack, no finally
        worker.process.wait()

    # -- the simulator ------------------------------------------------------------------

    def sim_get(self, path: str) -> Any:
        return sim_get(self.sim, path, timeout=30)

    def sim_post(self, path: str, body: dict[str, Any] | None = None) -> Any:
        return sim_post(self.sim, path, body, timeout=30)

    def merchant_skus(self) -> list[str]:
        return sorted(
            Listing.objects.filter(
                channel=self.channel, fulfillment_channel=FulfillmentChannel.MERCHANT
            ).values_list("seller_sku", flat=True)
        )

    def place_orders(self, count: int, *, fba: int = 0) -> list[str]:
        """New Amazon orders (and a few status changes of earlier ones), as buyers would."""
        skus = self.merchant_skus()
        created = self.sim_post(
            "/_sim/orders",
            {"count": count, "fulfilledBy": "MERCHANT", "skus": self.rng.sample(skus, 20)},
        )["orders"]
        if fba:
            self.sim_post("/_sim/orders", {"count": fba, "fulfilledBy": "AMAZON"})
        earlier = [
            o["orderId"]
            for o in self.sim_get("/_sim/orders")["orders"]
            if o["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
            and o["fulfillment"]["fulfilledBy"] == "MERCHANT"
        ]
        for order_id in self.rng.sample(earlier, min(4, len(earlier))):
            status = self.rng.choice(["CANCELLED", "SHIPPED"])
            self.sim_post(f"/_sim/orders/{order_id}/status", {"fulfillmentStatus": status})
        return [o["orderId"] for o in created]

    def wait_searchable(self) -> None:
        """searchOrders sees an order two simulated minutes after it changed."""
        lag = self.sim.state.config.search_lag_seconds + 5
        time.sleep(lag / (self.sim.clock.time_scale or 1))

    # -- beat ---------------------------------------------------------------------------

    def send(self, task_name: str, *args: Any) -> None:
        with app.connection_for_write(self.redis_url) as broker:
            app.send_task(task_name, args=list(args), queue=self.queue, connection=broker)

    def dispatch(self, run: SyncRun) -> None:
        self.send(TASK_FOR_KIND[SyncRun.Kind(run.kind)], run.pk)

    def trigger(self, kind: str, trigger: str = SyncRun.Trigger.AUTOMATIC) -> SyncRun:
        """Like beat or the Sync Manually button: queue a run, hand its task to the workers."""
        self.channel.refresh_from_db()
        run = request_sync(self.channel, kind, trigger)
        self.dispatch(run)
        return run

    def active(self, kind: str | None = None) -> list[SyncRun]:
        runs = SyncRun.objects.filter(channel=self.channel, status__in=ACTIVE)
        return list(runs.filter(kind=kind) if kind else runs)

    def settle(self, timeout: float = 90) -> None:
        """Wait until no run is active; meanwhile reap dead ones, as the beat job does, and
        send the scheduler task every few seconds, as beat does every minute: it hands a queued
        run whose task was lost back to the workers. (Without it such a run waited for Redis
        to hand the dead worker's task on, which the worker checks only every 100 s.)"""
        scheduled = [time.monotonic()]

        def settled() -> bool:
            history.reap_dead_runs()
            if time.monotonic() - scheduled[0] > SCHEDULER_EVERY:
                self.send("marketplaces.tasks.schedule_automatic_syncs_task")
                scheduled[0] = time.monotonic()
            return not self.active()

        wait_until(
            settled,
            timeout,
            "every sync run to reach a final state",
            every=0.5,
            workers=self.workers,
        )

    def final_sync(self, kind: str, timeout: float = 120) -> SyncRun:
        """One clean run of ``kind`` that starts after everything else has settled."""
        deadline = time.monotonic() + timeout
        while True:
            self.settle(timeout=max(5.0, deadline - time.monotonic()))
            try:
                run = self.trigger(kind)
            except ValidationError:
                continue  # a worker queued one itself in between (a debounced stock push)
            wait_until(
                partial(_is_final, run.pk),
                max(5.0, deadline - time.monotonic()),
                f"final {kind} run #{run.pk}",
                every=0.3,
                workers=self.workers,
            )
            run.refresh_from_db()
            print(
                f"  {kind} run #{run.pk} {run.status} after "
                f"{timeout - (deadline - time.monotonic()):.1f}s {run.error[:120]}"
            )
            if run.status == SyncRun.Status.SUCCEEDED:
                return run
            if time.monotonic() > deadline:
                pytest.fail(f"no clean {kind} run: last #{run.pk} {run.status} {run.error}")

    def wait_running(self, run: SyncRun, *, progress: int = 0, timeout: float = 60) -> None:
        def started() -> bool:
            run.refresh_from_db()
            return run.status in FINAL or (
                run.status == SyncRun.Status.RUNNING and run.progress_done >= progress
            )

        wait_until(started, timeout, f"run #{run.pk} to start", every=0.02, workers=self.workers)


def _is_final(run_id: int) -> bool:
    return SyncRun.objects.get(pk=run_id).status in FINAL


def chaos_redis_url() -> str:
    """CHAOS_REDIS_URL, or REDIS_URL's server with the rig's own database number."""
    if os.environ.get("CHAOS_REDIS_URL"):
        return os.environ["CHAOS_REDIS_URL"]
    if not settings.REDIS_URL:
        return ""
    parts = urlsplit(settings.REDIS_URL)
    return urlunsplit(parts._replace(path=f"/{CHAOS_REDIS_DB}"))


def require_chaos_services() -> None:
    """Skip without PostgreSQL or Redis on a laptop; fail when CI=true (require_service)."""
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    url = chaos_redis_url()
    require_service(bool(url), "Redis (REDIS_URL is not set)")
    require_service(redis_answers(url), f"Redis at {url}")


def forget_queue(redis_url: str, queue: str) -> None:
    """Drop what a test's queue left in Redis (a killed worker's unacknowledged task, a
    retry nobody was left to run), so the rig's database does not fill up across runs."""
    with contextlib.suppress(redis.RedisError, OSError):
        client = redis.Redis.from_url(redis_url, socket_connect_timeout=2, socket_timeout=5)
        for key in client.scan_iter(match=f"{queue}*"):
            client.delete(key)
        for binding in client.scan_iter(match="_kombu.binding.*"):
            stale = [m for m in client.smembers(binding) if queue.encode() in m]
            if stale:
                client.srem(binding, *stale)


def connect_channel(
    sim: Simulator, merchant_listings: int | None = None
) -> tuple[SalesChannel, Warehouse]:
    """A channel on the simulator whose listings are all known: every item confirmed, merchant
    items with opening stock, every merchant listing waiting for its first push.

    ``merchant_listings``: only that many merchant SKUs (and no FBA ones) are linked, so that
    a push goes as patches, not as a feed followed every 30 s at real-time speed.
    """
    warehouse = Warehouse.objects.create(name="Main warehouse")
    organization = Organization.load()
    organization.primary_warehouse = warehouse
    organization.save()
    channel = SalesChannel.objects.create(
        name="Amazon.ca",
        seller_id=SELLER_ID,
        refresh_token="Atzr|simulator",
        spapi_endpoint=sim.base_url,
        lwa_endpoint=sim.base_url,
        sync_items=False,  # listings are set up here; the item sync has its own tests
        sync_interval_minutes=24 * 60,  # this rig's beat decides when orders sync
    )
    # Healthy notifications (with the workers' AMAZON_NOTIFICATIONS_HEALTHY_MINUTES): the
    # scheduler then keeps the day-long interval above rather than Amazon's 3-minute rate.
    NotificationSetup.objects.create(
        seller_id=SELLER_ID, status=NotificationSetup.Status.ENABLED, enabled_at=timezone.now()
    )
    listings = httpx.get(f"{sim.base_url}/_sim/listings", timeout=30).json()["listings"]
    listings = [row for row in listings if not row["isParent"]]
    if merchant_listings is not None:
        listings = sorted(
            (row for row in listings if row["fulfillmentChannelCode"] == "DEFAULT"),
            key=lambda row: str(row["sku"]),
        )[:merchant_listings]
    for row in listings:
        merchant = row["fulfillmentChannelCode"] == "DEFAULT"
        item = Item.objects.create(sku=row["sku"], name=row["title"][:200] or row["sku"])
        if merchant:
            stock.set_opening_stock(item, warehouse, 40)
        Listing.objects.create(
            channel=channel,
            item=item,
            seller_sku=row["sku"],
            asin=row["asin"],
            product_type=row.get("productType") or "",
            fulfillment_channel=(
                FulfillmentChannel.MERCHANT if merchant else FulfillmentChannel.AMAZON
            ),
            push_pending=merchant,
        )
    return channel, warehouse


MakeRig = Callable[..., Rig]


def now() -> datetime:
    return timezone.now()
