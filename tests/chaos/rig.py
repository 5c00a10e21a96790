"""The chaos rig: real PostgreSQL, real Redis, real `celery worker` processes, the simulator.
Its fixture, ``make_rig``, is in tests/chaos/conftest.py; the tests import the rest from here.

The simulator runs in this process on 127.0.0.1 and the workers reach it over HTTP, on a clock
TIME_SCALE times faster than real time, enforcing Amazon's usage plans scaled the same way;
the workers pace with AMAZON_RATE_SCALE = TIME_SCALE. Each test gets its own Celery queue (set as
the workers' default queue, so what a worker queues itself, such as a debounced stock push,
comes back to the same workers and to no one else). This process plays beat: it starts runs
with the product's ``request_sync`` and sends their tasks through Redis, and it runs the reaper.

For notifications, the simulator sends to a queue on a local SQS server (moto's, its own
process) that ``manage.py consume_notifications``, started by ``Rig.start_consumer`` as the
process it is in production, reads.
"""

from __future__ import annotations

import contextlib
import os
import random
import subprocess
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from functools import cached_property, partial
from pathlib import Path
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
from marketplaces.models import (
    FulfillmentChannel,
    Listing,
    NotificationSetup,
    SalesChannel,
    SalesOrder,
)
from marketplaces.services import request_sync
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory import services as history
from synchistory.models import SyncRun
from tests.chaos import invariants
from tests.helpers.notifications import subscribe
from tests.helpers.services import require_service
from tests.helpers.sqs import CREDENTIALS, REGION, SqsServer, new_queue, sqs_client
from tests.helpers.workers import ROOT, StartWorker, Worker, database_url, worker_env
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
# The notifications queue's visibility timeout (real seconds): a message received by a consumer
# that dies comes back this soon instead of after SQS' default 30 s.
NOTIFICATION_VISIBILITY_SECONDS = 4


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
    workdir: Path
    workers: list[Worker] = field(default_factory=list)
    extra_env: dict[str, str] = field(default_factory=dict)
    queue_of_notifications: NotificationQueue | None = None
    consumers: list[Worker] = field(default_factory=list)

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

    # -- Amazon's notifications and their consumer -------------------------------------

    def notify_through(self, server: SqsServer) -> NotificationQueue:
        """A fresh queue on ``server`` that the simulator's seller is subscribed to for
        ORDER_CHANGE, as ``marketplaces.notifications.enable`` leaves it."""
        client = sqs_client(server.endpoint_url)
        url, arn = new_queue(client, prefix="chaos-notifications")
        client.set_queue_attributes(
            QueueUrl=url,
            Attributes={"VisibilityTimeout": str(NOTIFICATION_VISIBILITY_SECONDS)},
        )
        self.sim_post("/_sim/notifications", {"sqsEndpointUrl": server.endpoint_url})
        subscription = subscribe(self.sim, arn)
        NotificationSetup.objects.filter(seller_id=SELLER_ID).update(
            queue_arn=arn, subscriptions={"ORDER_CHANGE": subscription}
        )
        self.queue_of_notifications = NotificationQueue(server, url, arn, subscription)
        return self.queue_of_notifications

    def consumer_env(self) -> dict[str, str]:
        queue = self.queue_of_notifications
        assert queue is not None, "notify_through() first"
        return {
            **self.env(),
            "AMAZON_NOTIFICATIONS_QUEUE_ARN": queue.arn,
            "SQS_ENDPOINT_URL": queue.server.endpoint_url,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AMAZON_ALLOW_SIMULATOR_HOSTS": "true",
            # Longer than the simulator holds a call (a `timeout` fault): a held getOrder is
            # answered, so a test decides whether the consumer dies inside it.
            "AMAZON_HTTP_TIMEOUT": "10",
            **self.extra_env,
        }

    def start_consumer(self) -> Worker:
        """``manage.py consume_notifications`` as its own process, its output in a log file."""
        log_path = self.workdir / f"consumer-{len(self.consumers)}.log"
        with log_path.open("wb") as log:
            process = subprocess.Popen(
                [sys.executable, str(ROOT / "manage.py"), "consume_notifications"],
                cwd=ROOT,
                env=worker_env(self.consumer_env()),
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        consumer = Worker(process, log_path)
        self.consumers.append(consumer)
        return consumer

    def stop_consumers(self) -> None:
        for consumer in self.consumers:
            consumer.stop()  # SIGTERM; SIGKILL if it does not stop within 20 s

    def orders_match(self) -> bool:
        """Whether every order Amazon has that is ours to import is here once, as Amazon has it
        now (invariants.orders_match)."""
        try:
            invariants.orders_match(self.sim.base_url, self.channel)
        except AssertionError:
            return False
        return True

    def wait_orders_match(self, timeout: float = 45) -> None:
        """Until every order Amazon has is here once with Amazon's status and lines; on a
        time-out, the differences left."""
        deadline = time.monotonic() + timeout
        while not self.orders_match():
            if time.monotonic() > deadline:
                logs = "\n".join(w.log_tail(40) for w in [*self.consumers, *self.workers])
                invariants.orders_match(self.sim.base_url, self.channel)  # says what differs
                pytest.fail(f"orders only matched Amazon's after {timeout:.0f}s\n{logs}")
            time.sleep(0.3)

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

    def place_orders(
        self, count: int, *, fba: int = 0, change_imported_only: bool = False
    ) -> list[str]:
        """New Amazon orders (and a few status changes of earlier ones), as buyers would.

        ``change_imported_only``: only orders already imported here are shipped or cancelled.
        Under "Confirmed only" an order shipped before it was ever imported is never imported,
        so its sale never reaches our stock while Amazon counted it in its listed quantity: a
        difference the listings invariant reports, which a scenario about how orders arrive
        keeps out of the way."""
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
        if change_imported_only:
            here = set(
                SalesOrder.objects.filter(
                    channel=self.channel, amazon_order_id__in=earlier
                ).values_list("amazon_order_id", flat=True)
            )
            earlier = [order_id for order_id in earlier if order_id in here]
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


@dataclass
class NotificationQueue:
    """The seller's queue on a local SQS server, and what Amazon's subscription to it is."""

    server: SqsServer
    url: str
    arn: str
    subscription_id: str

    @cached_property
    def client(self) -> Any:
        """boto3 on the queue's server (it reconnects by itself when the server restarts)."""
        return sqs_client(self.server.endpoint_url)

    def send(self, body: str) -> str:
        """A raw message straight to the queue (as anyone allowed to write to it could);
        its SQS MessageId."""
        return str(self.client.send_message(QueueUrl=self.url, MessageBody=body)["MessageId"])

    def depth(self) -> int:
        """Messages still in the queue, visible or being handled."""
        attributes = self.client.get_queue_attributes(
            QueueUrl=self.url,
            AttributeNames=[
                "ApproximateNumberOfMessages",
                "ApproximateNumberOfMessagesNotVisible",
                "ApproximateNumberOfMessagesDelayed",
            ],
        )["Attributes"]
        return sum(int(value) for value in attributes.values())


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
        sync_returns=False,  # and so has the returns sync (its scheduled runs are not waited for)
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
