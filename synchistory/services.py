"""Sync-history services. Retention (SPEC §7) lives here."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime

from django.conf import settings
from django.db import transaction
from django.db.models import Q
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
            runs_deleted += SyncRun.objects.filter(id__in=run_ids).delete()[1].get(
                SyncRun._meta.label, 0
            )
    logger.info(
        "Sync history pruned: %d runs and %d records deleted", runs_deleted, records_deleted
    )
    return PruneResult(runs_deleted=runs_deleted, records_deleted=records_deleted)
