"""How a sync run is carried out: one attempt at its work, then finish it or try again later.

The one run policy, used by the Celery tasks (``run_in_worker``, which retries through Celery)
and by ``manage.py sync_channel`` (which waits in the foreground and tries again). What counts
as a failure, how long to wait, when to give up and what a revoked authorization does are
decided in ``attempt`` and nowhere else.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import timedelta
from typing import Protocol

from django.db import InterfaceError, OperationalError, connection
from django.db.models import Q
from django.utils import timezone

from marketplaces.amazon import (
    fba_inventory,
    item_sync,
    order_sync,
    return_sync,
    shipment_push,
    stock_push,
)
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import (
    AmazonAuthError,
    AmazonThrottled,
    AmazonTransientError,
    AmazonUnsafe,
    WaitForAmazon,
)
from marketplaces.models import SalesChannel
from synchistory import services as history
from synchistory.models import SyncRun

logger = logging.getLogger(__name__)

Work = Callable[[SyncRun, AmazonClient], None]

# Real failures (Amazon errors, a lost database connection) a run survives; waiting for a feed
# or report and our own pacing are not failures and do not count.
MAX_TRANSIENT_RETRIES = 8
# A report or feed Amazon has not finished after this long is not coming.
MAX_RUN_AGE = timedelta(hours=3)


def work_for(kind: str) -> Work:
    """The connector's function that does a run of this kind (looked up at call time)."""
    return {
        SyncRun.Kind.ITEMS: item_sync.sync_items,
        SyncRun.Kind.ORDERS: order_sync.sync_orders,
        SyncRun.Kind.STOCK: stock_push.push_stock,
        SyncRun.Kind.SHIPMENTS: shipment_push.push_shipments,
        SyncRun.Kind.FBA_INVENTORY: fba_inventory.refresh_fba_inventory,
        SyncRun.Kind.RETURNS: return_sync.sync_returns,
    }[SyncRun.Kind(kind)]


def worker_backoff(failures: int) -> float:
    """A worker's pause after its ``failures``-th failure in a row: 15 s, 30 s … 10 minutes."""
    return float(min(600, 15 * 2**failures))


def foreground_backoff(failures: int) -> float:
    """Shorter for an operator who is watching, still bounded: 2, 4, 8 … 60 s."""
    return float(min(60, 2 * 2**failures))


@dataclass(frozen=True)
class TryAgain:
    """The run is not finished: try again after ``seconds``."""

    seconds: float
    failures: int  # real failures so far, the next attempt's ``failures``
    reason: str  # what the operator is told ("Waiting: …", "Amazon failed (…)")


def attempt(
    run: SyncRun,
    failures: int = 0,
    *,
    backoff: Callable[[int], float] = worker_backoff,
) -> TryAgain | None:
    """Do the run's work once. ``None``: the run is finished (succeeded or failed, recorded on
    the run), or it is no longer this worker's. ``TryAgain``: it is still running and should be
    attempted again later.

    ``failures`` counts the real failures so far: waiting for Amazon and our own pacing do not
    count, so a long feed never uses up the retries a flaky Amazon needs.
    """
    try:
        return _attempt(run, failures, backoff)
    except history.RunTakenOver:
        # Found by the work or by the write that ends the run: whoever has the run now (or the
        # reaper, which failed it) decides its outcome, so nothing is recorded on it here.
        log_taken_over(run)
        return None


def log_taken_over(run: SyncRun) -> None:
    logger.warning(
        "Sync run %s was taken over by another worker (or reaped) while this one was stalled; "
        "it stops without writing anything more.",
        run.id,
    )


def _attempt(run: SyncRun, failures: int, backoff: Callable[[int], float]) -> TryAgain | None:
    channel = run.channel
    if not channel.is_active:
        history.finish_run(run, error=f"{channel.name} is {channel.get_status_display()}.")
        return None
    try:
        work_for(run.kind)(run, client_for(channel))
    except history.RunTakenOver:
        raise
    except WaitForAmazon as waiting:
        if run.created_at < timezone.now() - MAX_RUN_AGE:
            history.finish_run(run, error=f"Gave up waiting for Amazon: {waiting}")
            return None
        return TryAgain(waiting.retry_after, failures, f"Waiting: {waiting}")
    except AmazonThrottled as throttled:
        return TryAgain(throttled.retry_after + 1, failures, f"Throttled: {throttled}")
    except AmazonTransientError as error:
        return _after_failure(run, failures, backoff, f"Amazon kept failing: {error}", error)
    except (OperationalError, InterfaceError) as error:
        # The connection is gone (a database restart or failover, a terminated backend) or the
        # transaction lost a deadlock. The broken connection would fail every later query of
        # this attempt, including the ones that end or requeue the run, leaving it "running"
        # until the reaper; a new one is opened on the next query.
        logger.warning("Sync run %s lost its database connection: %s", run.id, error)
        connection.close()
        reason = str(error).strip() or type(error).__name__
        return _after_failure(run, failures, backoff, f"The database kept failing: {reason}", error)
    except AmazonAuthError as error:
        # One authorization serves every marketplace of the seller: all of them need it again.
        SalesChannel.objects.filter(
            Q(id=channel.id)
            | Q(seller_id__iexact=channel.seller_id, status=SalesChannel.Status.ACTIVE)
        ).update(status=SalesChannel.Status.NEEDS_REAUTHORIZATION, status_reason=str(error)[:500])
        history.finish_run(run, error=f"{error}. Re-authorize the channel to resume syncing.")
    except AmazonUnsafe as error:
        # An untrusted host or a document past the limits: asking again gives the same.
        history.finish_run(run, error=f"Refused: {error}")
    except Exception as error:
        logger.exception("Sync run %s failed", run.id)
        history.finish_run(run, error=f"Unexpected error: {type(error).__name__}: {error}")
    else:
        history.finish_run(run)
    return None


def _after_failure(
    run: SyncRun,
    failures: int,
    backoff: Callable[[int], float],
    final_error: str,
    error: Exception,
) -> TryAgain | None:
    """Try again after a growing pause, or, after MAX_TRANSIENT_RETRIES, end with the error."""
    if failures >= MAX_TRANSIENT_RETRIES:
        history.finish_run(run, error=final_error)
        return None
    pause = backoff(failures)
    return TryAgain(pause, failures + 1, f"Amazon failed ({error}); retrying in {pause:.0f} s")


class RetryingTask(Protocol):
    """What ``run_in_worker`` needs of a bound Celery task."""

    def retry(self, *, countdown: int, kwargs: dict[str, int]) -> Exception: ...


def run_in_worker(task: RetryingTask, run_id: int, failures: int = 0) -> None:
    """A sync task's body: claim the run, attempt it, and on ``TryAgain`` put it back in the
    queue and have Celery retry the task.

    The sync tasks retry without Celery's limit (``max_retries=None``: a retry's own
    ``max_retries=None`` means "the task's default", 3, which a feed's polls used up, leaving
    the run queued with no task). ``failures`` travels in the retried task's arguments
    (``task.request.retries`` counts every wait too).
    """
    run = history.claim_run(run_id)
    if run is None:
        return  # another worker has it, or it already finished: running twice is a no-op
    again = attempt(run, failures)
    if again is None:
        return
    if not requeue(run):
        log_taken_over(run)  # its new owner retries it, or the reaper failed it
        return
    raise task.retry(
        countdown=max(1, int(again.seconds)), kwargs={"transient_failures": again.failures}
    ) from None


def requeue(run: SyncRun) -> bool:
    """Back to queued: it stays the channel's active run, so nothing else starts meanwhile.
    False when the run is no longer this worker's (then it is left as it is)."""
    return bool(history.held(run).update(status=SyncRun.Status.QUEUED))
