"""Celery tasks: thin, primitive ids in, safe to run twice (DESIGN, Shape)."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery import Task, shared_task
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import InterfaceError, OperationalError, connection
from django.db.models import Q
from django.utils import timezone

from marketplaces.amazon import drift, item_sync, order_sync, shipment_push, stock_push
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import (
    AmazonAuthError,
    AmazonThrottled,
    AmazonTransientError,
    WaitForAmazon,
)
from marketplaces.models import Listing, SalesChannel, Shipment, StockPush
from marketplaces.services import MODULE_FOR_KIND, request_sync
from synchistory import services as history
from synchistory.models import SyncRun

logger = logging.getLogger(__name__)

# Real failures (Amazon errors, a lost database connection) a run survives; waiting for a feed
# or report and our own pacing are not failures and do not count.
MAX_TRANSIENT_RETRIES = 8
# A report or feed Amazon has not finished after this long is not coming.
MAX_RUN_AGE = timedelta(hours=3)


def _backoff(failures: int) -> int:
    return min(600, 15 * 2**failures)


def execute_run(
    task: Task,
    run_id: int,
    work: Callable[[SyncRun, AmazonClient], None],
    transient_failures: int = 0,
) -> None:
    """Run ``work`` for the run, then finish it, or requeue it and retry the task later.

    The sync tasks retry without Celery's limit (``max_retries=None``: a retry's own
    ``max_retries=None`` means "the task's default", 3, which a feed's polls used up, leaving
    the run queued with no task). ``transient_failures`` counts the real failures so far; it
    travels in the retried task's arguments (``task.request.retries`` counts every wait too).
    """
    if not history.claim_run(run_id):
        return  # another worker has it, or it already finished: running twice is a no-op
    run = SyncRun.objects.select_related("channel").get(id=run_id)
    channel = run.channel
    if not channel.is_active:
        history.finish_run(run, error=f"{channel.name} is {channel.get_status_display()}.")
        return
    try:
        work(run, client_for(channel))
    except WaitForAmazon as waiting:
        if run.created_at < timezone.now() - MAX_RUN_AGE:
            history.finish_run(run, error=f"Gave up waiting for Amazon: {waiting}")
            return
        _requeue(run)
        raise task.retry(countdown=max(1, int(waiting.retry_after))) from None
    except AmazonThrottled as throttled:
        _requeue(run)
        raise task.retry(countdown=max(1, int(throttled.retry_after) + 1)) from None
    except AmazonTransientError as error:
        _retry_after_failure(task, run, transient_failures, f"Amazon kept failing: {error}")
    except (OperationalError, InterfaceError) as error:
        # The connection is gone (a database restart or failover, a terminated backend) or the
        # transaction lost a deadlock. The broken connection would fail every later query of
        # this task, including the ones that end or requeue the run, leaving it "running"
        # until the reaper; a new one is opened on the next query.
        logger.warning("Sync run %s lost its database connection: %s", run_id, error)
        connection.close()
        reason = str(error).strip() or type(error).__name__
        _retry_after_failure(task, run, transient_failures, f"The database kept failing: {reason}")
    except AmazonAuthError as error:
        SalesChannel.objects.filter(id=channel.id).update(
            status=SalesChannel.Status.NEEDS_REAUTHORIZATION, status_reason=str(error)[:500]
        )
        history.finish_run(run, error=f"{error}. Re-authorize the channel to resume syncing.")
    except Exception as error:
        logger.exception("Sync run %s failed", run_id)
        history.finish_run(run, error=f"Unexpected error: {type(error).__name__}: {error}")
    else:
        history.finish_run(run)


def _retry_after_failure(task: Task, run: SyncRun, failures: int, reason: str) -> None:
    """Retry later with a growing backoff, or, after MAX_TRANSIENT_RETRIES, end with ``reason``."""
    if failures >= MAX_TRANSIENT_RETRIES:
        history.finish_run(run, error=reason)
        return
    _requeue(run)
    raise task.retry(countdown=_backoff(failures), kwargs={"transient_failures": failures + 1})


def _requeue(run: SyncRun) -> None:
    """Back to queued: it stays the channel's active run, so nothing else starts meanwhile."""
    SyncRun.objects.filter(id=run.id, status=SyncRun.Status.RUNNING).update(
        status=SyncRun.Status.QUEUED
    )


@shared_task(bind=True, acks_late=True, max_retries=None)
def sync_orders_task(self: Task, run_id: int, transient_failures: int = 0) -> None:
    execute_run(self, run_id, order_sync.sync_orders, transient_failures)


@shared_task(bind=True, acks_late=True, max_retries=None)
def sync_items_task(self: Task, run_id: int, transient_failures: int = 0) -> None:
    execute_run(self, run_id, item_sync.sync_items, transient_failures)


@shared_task(bind=True, acks_late=True, max_retries=None)
def push_stock_task(self: Task, run_id: int, transient_failures: int = 0) -> None:
    execute_run(self, run_id, stock_push.push_stock, transient_failures)


@shared_task
def push_stock_soon_task(channel_id: int) -> None:
    """Debounced by its countdown: many stock changes in a burst make one push."""
    channel = SalesChannel.objects.filter(id=channel_id).first()
    if channel is None or not channel.sync_stock or not channel.is_active:
        return
    # Every stock transaction queues one of these (an order sync: one per order). A push
    # started within the debounce window already took, or will take, those changes: without
    # this a burst of N orders made up to N stock runs, flooding the queue and the history.
    recent = timezone.now() - timedelta(seconds=settings.STOCK_PUSH_DEBOUNCE_SECONDS)
    if SyncRun.objects.filter(
        channel_id=channel_id, kind=SyncRun.Kind.STOCK, created_at__gte=recent
    ).exists():
        return
    # A push already queued or running refuses a second; what it misses stays pending.
    with contextlib.suppress(ValidationError):
        request_sync(channel, SyncRun.Kind.STOCK, SyncRun.Trigger.AUTOMATIC)


@shared_task(bind=True, acks_late=True, max_retries=None)
def push_shipments_task(self: Task, run_id: int, transient_failures: int = 0) -> None:
    execute_run(self, run_id, shipment_push.push_shipments, transient_failures)


@shared_task
def push_shipments_soon_task(channel_id: int) -> None:
    channel = SalesChannel.objects.filter(id=channel_id).first()
    if channel is None or not channel.sync_shipments or not channel.is_active:
        return
    with contextlib.suppress(ValidationError):  # one already running picks it up next time
        request_sync(channel, SyncRun.Kind.SHIPMENTS, SyncRun.Trigger.AUTOMATIC)


TASK_FOR_KIND: dict[str, Any] = {
    SyncRun.Kind.SHIPMENTS: push_shipments_task,
    SyncRun.Kind.ORDERS: sync_orders_task,
    SyncRun.Kind.ITEMS: sync_items_task,
    SyncRun.Kind.STOCK: push_stock_task,
}


@shared_task
def schedule_automatic_syncs_task() -> int:
    """Beat calls this every minute: start each active channel's due order sync."""
    started = 0
    now = timezone.now()
    _redispatch_lost_runs(now)
    item_interval = timedelta(hours=settings.AMAZON_ITEM_SYNC_HOURS)
    for channel in SalesChannel.objects.filter(status=SalesChannel.Status.ACTIVE):
        intervals = {
            SyncRun.Kind.ORDERS: timedelta(minutes=channel.sync_interval_minutes),
            SyncRun.Kind.ITEMS: item_interval,
        }
        if _has_stock_work(channel):
            intervals[SyncRun.Kind.STOCK] = timedelta(0)
        if Shipment.objects.filter(
            order__channel=channel,
            amazon_status__in=[Shipment.AmazonStatus.PENDING, Shipment.AmazonStatus.SENDING],
        ).exists():
            intervals[SyncRun.Kind.SHIPMENTS] = timedelta(0)
        for kind, interval in intervals.items():
            if not getattr(channel, MODULE_FOR_KIND[kind]):
                continue
            last = (
                SyncRun.objects.filter(channel=channel, kind=kind)
                .order_by("-created_at")
                .values_list("created_at", flat=True)
                .first()
            )
            if interval and last and last > now - interval:
                continue
            try:
                request_sync(channel, kind, SyncRun.Trigger.AUTOMATIC)
            except ValidationError:
                continue  # one is already queued or running
            started += 1
    return started


def _redispatch_lost_runs(now: datetime) -> int:
    """Hand a queued run whose task is gone back to the workers.

    A queued run blocks every other run of its kind on its channel. Its task can vanish: Redis
    restarted without persistence, a queue purged, a retry that could not be published while
    the broker was down. No retry countdown is longer than twice STALE_AFTER, so a queued run
    untouched for that long has lost its task. Sending it again is safe: claim_run lets one
    delivery run it and makes any other a no-op.
    """
    cutoff = now - 2 * history.stale_after()
    lost = list(
        SyncRun.objects.filter(status=SyncRun.Status.QUEUED)
        .filter(Q(heartbeat_at__lt=cutoff) | Q(heartbeat_at__isnull=True, created_at__lt=cutoff))
        .values_list("id", "kind")
    )
    for run_id, kind in lost:
        # Touched, so it is sent again only if this copy is lost too.
        SyncRun.objects.filter(id=run_id, status=SyncRun.Status.QUEUED).update(heartbeat_at=now)
        logger.warning("Sync run %s was queued with no task in sight; sending it again", run_id)
        TASK_FOR_KIND[kind].delay(run_id)
    return len(lost)


def _has_stock_work(channel: SalesChannel) -> bool:
    return (
        Listing.objects.filter(channel=channel, push_pending=True).exists()
        or StockPush.objects.filter(channel=channel, status=StockPush.Status.SUBMITTED).exists()
    )


@shared_task(bind=True, acks_late=True, max_retries=5)
def check_drift_task(self: Task, channel_id: int) -> dict[str, Any]:
    """Daily, and on demand from Show Details: compare Amazon's quantities with ours."""
    channel = SalesChannel.objects.filter(id=channel_id, status=SalesChannel.Status.ACTIVE).first()
    if channel is None:
        return {"checked": 0, "drifted": []}
    try:
        report = drift.check_drift(channel, client_for(channel))
    except (AmazonThrottled, AmazonTransientError) as error:
        raise self.retry(countdown=getattr(error, "retry_after", 60) or 60) from None
    return {"checked": report.checked, "drifted": report.drifted}


@shared_task
def check_drift_all_task() -> int:
    ids = list(
        SalesChannel.objects.filter(status=SalesChannel.Status.ACTIVE, sync_stock=True).values_list(
            "id", flat=True
        )
    )
    for channel_id in ids:
        check_drift_task.delay(channel_id)
    return len(ids)
