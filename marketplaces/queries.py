"""Read-only queries for the marketplace settings pages (no business rules here)."""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Max, QuerySet

from marketplaces.models import ApiQuota, SalesChannel
from synchistory.models import SyncRun


def channels_with_last_sync() -> QuerySet[SalesChannel]:
    """Every channel with ``last_synced_at``: when its most recent run finished."""
    return SalesChannel.objects.select_related("mapped_warehouse").annotate(
        last_synced_at=Max("sync_runs__finished_at")
    )


@dataclass(frozen=True)
class LastSync:
    kind: str
    label: str
    run: SyncRun | None


def last_syncs(channel: SalesChannel) -> list[LastSync]:
    """The latest finished run of each kind (one small indexed query per kind)."""
    rows = []
    for kind, label in SyncRun.Kind.choices:
        run = (
            SyncRun.objects.filter(
                channel=channel, kind=kind, status__in=SyncRun.FINAL_STATUSES
            )
            .order_by("-created_at", "-id")
            .first()
        )
        rows.append(LastSync(kind=kind, label=label, run=run))
    return rows


def active_runs(channel: SalesChannel) -> list[SyncRun]:
    return list(
        SyncRun.objects.filter(
            channel=channel, status__in=[SyncRun.Status.QUEUED, SyncRun.Status.RUNNING]
        ).order_by("created_at")
    )


def api_quotas(channel: SalesChannel) -> QuerySet[ApiQuota]:
    """SPEC §10.4: our token bucket per operation of this seller account."""
    return ApiQuota.objects.filter(seller_id=channel.seller_id).order_by("operation")
