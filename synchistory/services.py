"""Sync-history services. Retention (successful runs kept a month, failed runs two) lives here."""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.contrib.contenttypes.models import ContentType
from django.db import IntegrityError, models, transaction
from django.db.models import F, Q, QuerySet
from django.utils import timezone

from synchistory.models import SyncRecord, SyncRun

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class PruneResult:
    runs_deleted: int
    records_deleted: int


def expired_runs_filter(now: datetime) -> Q:
    """Successful runs older than a month, failed ones older than two (by finish time).

    A run that finished with some failed records is kept as long as a failed run: its failures
    are what a user comes back to read.
    """
    return Q(
        status=SyncRun.Status.SUCCEEDED,
        finished_at__lt=now - settings.SYNC_HISTORY_KEEP_SUCCEEDED,
    ) | Q(
        status__in=[SyncRun.Status.FAILED, SyncRun.Status.PARTIAL],
        finished_at__lt=now - settings.SYNC_HISTORY_KEEP_FAILED,
    )


def prune_sync_history(now: datetime | None = None, batch_size: int | None = None) -> PruneResult:
    """Delete expired runs and their records in small batches.

    Each batch is its own short transaction, so the history pages (and the sync jobs writing
    new runs) never wait behind one huge DELETE. Records go first, by id ranges of their run,
    so no single statement cascades over millions of rows.
    """
    now = now or timezone.now()
    batch_size = batch_size or settings.SYNC_HISTORY_DELETE_BATCH
    expired = expired_runs_filter(now)
    runs_deleted = records_deleted = 0
    while True:
        run_ids = list(
            SyncRun.objects.filter(expired).order_by("id").values_list("id", flat=True)[:batch_size]
        )
        if not run_ids:
            break
        while True:
            record_ids = list(
                SyncRecord.objects.filter(run_id__in=run_ids).values_list("id", flat=True)[
                    :batch_size
                ]
            )
            if not record_ids:
                break
            with transaction.atomic():
                records_deleted += SyncRecord.objects.filter(id__in=record_ids).delete()[0]
        with transaction.atomic():
            # Runs that re-initiated one of these keep existing; their link is cleared (SET_NULL).
            runs_deleted += (
                SyncRun.objects.filter(id__in=run_ids).delete()[1].get(SyncRun._meta.label, 0)
            )
    logger.info(
        "Sync history pruned: %d runs and %d records deleted", runs_deleted, records_deleted
    )
    return PruneResult(runs_deleted=runs_deleted, records_deleted=records_deleted)


class SyncAlreadyRunning(Exception):
    """A run of this kind is already queued or running for the channel."""

    def __init__(self, run: SyncRun) -> None:
        self.run = run
        super().__init__(
            f"A {run.get_kind_display().lower()} sync is already "
            f"{run.get_status_display().lower()} for this channel (run #{run.pk})."
        )


# A running run whose worker has not reported for this long is dead (SIGKILL, OOM, a lost
# machine): it may be claimed again and is finally marked failed. The default; the setting
# SYNC_RUN_STALE_AFTER_SECONDS overrides it (chaos tests use seconds).
STALE_AFTER = timedelta(minutes=10)


def stale_after() -> timedelta:
    seconds = getattr(settings, "SYNC_RUN_STALE_AFTER_SECONDS", None)
    return timedelta(seconds=seconds) if seconds else STALE_AFTER


def start_run(
    channel_id: int,
    kind: str,
    trigger: str,
    *,
    window_start: datetime | None = None,
    window_end: datetime | None = None,
    reinitiates: SyncRun | None = None,
    requested_by_id: int | None = None,
) -> SyncRun:
    """Queue a run. The database refuses a second active run of the same kind and channel."""
    try:
        with transaction.atomic():
            run = SyncRun.objects.create(
                channel_id=channel_id,
                kind=kind,
                trigger=trigger,
                window_start=window_start,
                window_end=window_end,
                reinitiates=reinitiates,
                requested_by_id=requested_by_id,
            )
    except IntegrityError:
        active = SyncRun.objects.filter(
            channel_id=channel_id, kind=kind, status__in=ACTIVE_STATUSES
        ).first()
        if active is None:  # it finished in between: try once more
            return start_run(
                channel_id,
                kind,
                trigger,
                window_start=window_start,
                window_end=window_end,
                reinitiates=reinitiates,
                requested_by_id=requested_by_id,
            )
        raise SyncAlreadyRunning(active) from None
    # One line when a run starts and one when it ends (finish_run), whatever its retries.
    logger.info("Sync run %s started: %s of channel %s (%s)", run.id, kind, channel_id, trigger)
    return run


ACTIVE_STATUSES = (SyncRun.Status.QUEUED, SyncRun.Status.RUNNING)


def start_companion_run(lead: SyncRun, channel_id: int) -> SyncRun | None:
    """A run of ``channel_id`` fetched with ``lead`` (see ``SyncRun.fetched_with``): running at
    once, under the lead's claim, with the lead's window. ``None`` when the channel already has
    an active run of the kind (it then fetches its own)."""
    now = timezone.now()
    try:
        with transaction.atomic():
            heartbeat(lead)  # a lead taken over starts nothing
            companion = SyncRun.objects.create(
                channel_id=channel_id,
                kind=lead.kind,
                trigger=lead.trigger,
                status=SyncRun.Status.RUNNING,
                window_start=lead.window_start,
                window_end=lead.window_end,
                fetched_with=lead,
                claim=lead.claim,
                started_at=now,
                heartbeat_at=now,
            )
    except IntegrityError:
        return None
    logger.info(
        "Sync run %s started: %s of channel %s, fetched with run %s",
        companion.id,
        lead.kind,
        channel_id,
        lead.id,
    )
    return companion


def companions(lead: SyncRun) -> list[SyncRun]:
    """The lead's running companions, handed this worker's claim: a worker that claims the lead
    again (after a retry, or taking over a stalled one) takes its companions with it, and the
    worker it replaced can write to none of them any more."""
    with transaction.atomic():
        heartbeat(lead)  # holds the lead's row: no other claim slips in before the UPDATE
        lead.companions.filter(status=SyncRun.Status.RUNNING).update(claim=lead.claim)
    runs = list(
        lead.companions.filter(status=SyncRun.Status.RUNNING, claim=lead.claim)
        .select_related("channel")
        .order_by("id")
    )
    for run in runs:
        run.claim = lead.claim
    return runs


class RunTakenOver(Exception):
    """This worker no longer holds the run: it stalled past STALE_AFTER (frozen, swapped out,
    paused) and meanwhile the reaper failed the run or another worker claimed it again. The
    worker stops without writing anything more; the run is left to whoever has it now."""

    def __init__(self, run: SyncRun) -> None:
        self.run = run
        super().__init__(f"Sync run {run.pk} is no longer held by this worker.")


def claim_run(run_id: int) -> SyncRun | None:
    """Take a queued run, or a running one whose worker died, for this worker; ``None`` when
    it is not to be had.

    A conditional UPDATE decides: of two workers handed the same task (a redelivery, a double
    beat), exactly one gets row count 1 and runs it. The run comes back with the claim this
    worker wrote, which every later write of its work checks (``heartbeat``, ``record``,
    ``finish_run``): a worker taken for dead and replaced then writes nothing more.
    """
    now = timezone.now()
    claim = uuid.uuid4()
    claimable = Q(status=SyncRun.Status.QUEUED) | Q(
        status=SyncRun.Status.RUNNING, heartbeat_at__lt=now - stale_after()
    )
    claimed = SyncRun.objects.filter(claimable, id=run_id, fetched_with__isnull=True).update(
        status=SyncRun.Status.RUNNING, started_at=now, heartbeat_at=now, claim=claim
    )
    if claimed != 1:
        return None
    run = SyncRun.objects.select_related("channel").get(id=run_id)
    run.claim = claim  # this worker's, even if another one has taken the run since the UPDATE
    return run


def held(run: SyncRun) -> QuerySet[SyncRun]:
    """The run's row, as long as this worker holds it: running, with this worker's claim. Every
    UPDATE a run's worker makes to its run goes through this filter."""
    return SyncRun.objects.filter(id=run.id, claim=run.claim, status=SyncRun.Status.RUNNING)


def heartbeat(
    run: SyncRun,
    *,
    done: int | None = None,
    total: int | None = None,
    cursor: str | None = None,
    window_start: datetime | None = None,
) -> None:
    """Report that the run's worker is alive (and its progress, where it resumes), and check
    that the run is still its own: raises ``RunTakenOver`` otherwise.

    The one ownership check of a run's work: called before each write to Amazon and first in
    each transaction that writes the run's results, so a worker taken over writes nothing. In a
    transaction the UPDATE holds the run's row until commit, so no claim or reaping slips in
    between the check and the writes.
    """
    fields: dict[str, object] = {"heartbeat_at": timezone.now()}
    if done is not None:
        fields["progress_done"] = done
    if total is not None:
        fields["progress_total"] = total
    if cursor is not None:
        fields["cursor"] = cursor
    if window_start is not None:
        fields["window_start"] = window_start
    if not held(run).update(**fields):
        raise RunTakenOver(run)


def record(
    run: SyncRun,
    record_type: str,
    external_id: str,
    outcome: str,
    *,
    reason: str = "",
    local_object: models.Model | None = None,
) -> SyncRecord:
    """Write one record and bump the run's counters (F(), no race), if the run is still this
    worker's (``RunTakenOver`` otherwise, and nothing is written)."""
    counter = _COUNTERS.get((record_type, outcome))
    with transaction.atomic():
        sync_record = SyncRecord.objects.create(
            run=run,
            record_type=record_type,
            external_id=external_id[:200],
            outcome=outcome,
            reason=reason[:2000],
            local_type=ContentType.objects.get_for_model(local_object) if local_object else None,
            local_id=local_object.pk if local_object else None,
        )
        if not held(run).update(
            heartbeat_at=timezone.now(), **({counter: F(counter) + 1} if counter else {})
        ):
            raise RunTakenOver(run)  # rolls the record back
    return sync_record


@dataclass(frozen=True)
class Entry:
    """One record to write with ``record_many``."""

    record_type: str
    external_id: str
    outcome: str
    reason: str = ""
    local_object: models.Model | None = None


def record_many(run: SyncRun, entries: list[Entry]) -> None:
    """A page's records in one INSERT and the run's counters in one UPDATE, if the run is still
    this worker's (``RunTakenOver`` otherwise, and nothing is written). Called in the page's
    transaction: a run taken over meanwhile writes none of the page."""
    if not entries:
        return
    counts: dict[str, int] = {}
    rows = []
    for entry in entries:
        local = entry.local_object
        rows.append(
            SyncRecord(
                run=run,
                record_type=entry.record_type,
                external_id=entry.external_id[:200],
                outcome=entry.outcome,
                reason=entry.reason[:2000],
                local_type=ContentType.objects.get_for_model(local) if local else None,
                local_id=local.pk if local else None,
            )
        )
        counter = _COUNTERS.get((entry.record_type, entry.outcome))
        if counter:
            counts[counter] = counts.get(counter, 0) + 1
    with transaction.atomic():
        SyncRecord.objects.bulk_create(rows)
        if not held(run).update(
            heartbeat_at=timezone.now(),
            **{counter: F(counter) + number for counter, number in counts.items()},
        ):
            raise RunTakenOver(run)  # rolls the records back


_COUNTERS: dict[tuple[str, str], str] = {
    (SyncRecord.RecordType.ITEM, SyncRecord.Outcome.SYNCED): "items_synced",
    (SyncRecord.RecordType.ITEM, SyncRecord.Outcome.FAILED): "items_failed",
    (SyncRecord.RecordType.ORDER, SyncRecord.Outcome.SYNCED): "orders_synced",
    (SyncRecord.RecordType.ORDER, SyncRecord.Outcome.FAILED): "orders_failed",
    (SyncRecord.RecordType.ORDER, SyncRecord.Outcome.SKIPPED): "orders_skipped",
    (SyncRecord.RecordType.STOCK, SyncRecord.Outcome.SYNCED): "items_synced",
    (SyncRecord.RecordType.STOCK, SyncRecord.Outcome.FAILED): "items_failed",
    (SyncRecord.RecordType.SHIPMENT, SyncRecord.Outcome.SYNCED): "orders_synced",
    (SyncRecord.RecordType.SHIPMENT, SyncRecord.Outcome.FAILED): "orders_failed",
    (SyncRecord.RecordType.CANCELLATION, SyncRecord.Outcome.SYNCED): "orders_synced",
    (SyncRecord.RecordType.CANCELLATION, SyncRecord.Outcome.FAILED): "orders_failed",
    # A returns sync counts returns and refunds on the order counters: both belong to orders.
    (SyncRecord.RecordType.RETURN, SyncRecord.Outcome.SYNCED): "orders_synced",
    (SyncRecord.RecordType.RETURN, SyncRecord.Outcome.FAILED): "orders_failed",
    (SyncRecord.RecordType.RETURN, SyncRecord.Outcome.SKIPPED): "orders_skipped",
    (SyncRecord.RecordType.REFUND, SyncRecord.Outcome.SYNCED): "orders_synced",
    (SyncRecord.RecordType.REFUND, SyncRecord.Outcome.FAILED): "orders_failed",
    (SyncRecord.RecordType.REFUND, SyncRecord.Outcome.SKIPPED): "orders_skipped",
}


def finish_run(run: SyncRun, *, error: str = "") -> SyncRun:
    """Final status from what happened: failed as a whole, with failed records, or clean.

    Only by the worker that holds the run: a reaped run stays failed, one another worker claimed
    stays that worker's (``RunTakenOver``).
    """
    claim = run.claim
    run.refresh_from_db()
    run.claim = claim
    if error:
        status = SyncRun.Status.FAILED
    elif run.items_failed or run.orders_failed:
        status = SyncRun.Status.PARTIAL
    else:
        status = SyncRun.Status.SUCCEEDED
    now = timezone.now()
    if not held(run).update(status=status, error=error[:2000], finished_at=now, heartbeat_at=now):
        raise RunTakenOver(run)
    run.refresh_from_db()
    if error:
        logger.warning("Sync run %s failed: %s", run.id, error)
    else:
        logger.info("Sync run %s %s: %s", run.id, status, _counts(run))
    for companion in run.companions.filter(status=SyncRun.Status.RUNNING, claim=claim):
        companion.claim = claim
        finish_run(companion, error=error)
    return run


# What a run of each kind counts, and on which counters (see _COUNTERS).
_COUNTED = {
    SyncRun.Kind.ITEMS: ("items", "items"),
    SyncRun.Kind.STOCK: ("SKUs", "items"),
    SyncRun.Kind.ORDERS: ("orders", "orders"),
    SyncRun.Kind.SHIPMENTS: ("shipments", "orders"),
    SyncRun.Kind.FBA_INVENTORY: ("SKUs", "items"),
    SyncRun.Kind.RETURNS: ("returns and refunds", "orders"),
}
# Kinds whose records can be skipped (fetched, not imported, each record saying why).
KINDS_WITH_SKIPS = (SyncRun.Kind.ORDERS, SyncRun.Kind.RETURNS)


def _counts(run: SyncRun) -> str:
    noun, counter = _COUNTED.get(SyncRun.Kind(run.kind), ("records", "orders"))
    synced = getattr(run, f"{counter}_synced")
    failed = getattr(run, f"{counter}_failed")
    skipped = f", {run.orders_skipped} skipped" if run.kind in KINDS_WITH_SKIPS else ""
    return f"{synced} {noun} synced, {failed} failed{skipped}"


def reap_dead_runs(now: datetime | None = None) -> int:
    """Mark runs whose worker died as failed, with the reason, so the next run redoes them."""
    now = now or timezone.now()
    error = (
        "The worker running this sync stopped reporting (it died or was killed); "
        "the next run picks up its work."
    )
    # A companion lives as long as its lead, whatever its own heartbeat says.
    reaped = SyncRun.objects.filter(
        status=SyncRun.Status.RUNNING,
        heartbeat_at__lt=now - stale_after(),
        fetched_with__isnull=True,
    ).update(status=SyncRun.Status.FAILED, finished_at=now, error=error)
    SyncRun.objects.filter(
        status=SyncRun.Status.RUNNING, fetched_with__status__in=SyncRun.FINAL_STATUSES
    ).update(status=SyncRun.Status.FAILED, finished_at=now, error=error)
    return reaped
