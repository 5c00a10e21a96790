"""Read-only queries of the history pages, built to stay fast with 100,000s of runs.

No COUNT over the whole history: pages are keyset slices of the ``run_channel_recent`` /
``run_channel_kind_status`` indexes, and the chart is one aggregate query.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta

from django.db.models import Count, F, QuerySet, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from inventory_sync.paging import keyset_page
from synchistory.models import SyncRecord, SyncRun

RUNS_PER_PAGE = 50
RECORDS_PER_PAGE = 50
CHART_DAYS = 30


@dataclass
class RunPage:
    runs: list[SyncRun]
    newer_cursor: int | None = None  # id of the newest run shown, when newer runs exist
    older_cursor: int | None = None  # id of the oldest run shown, when older runs exist


def filtered_runs(channel_id: int, *, kind: str = "", status: str = "") -> QuerySet[SyncRun]:
    runs = SyncRun.objects.filter(channel_id=channel_id)
    if kind:
        runs = runs.filter(kind=kind)
    if status:
        runs = runs.filter(status=status)
    return runs


def run_page(
    runs: QuerySet[SyncRun],
    *,
    older_than: int | None = None,
    newer_than: int | None = None,
    per_page: int = RUNS_PER_PAGE,
) -> RunPage:
    """One page, newest first, in one query along the ``run_channel_recent`` index."""
    page = keyset_page(
        runs, "created_at", older_than=older_than, newer_than=newer_than, per_page=per_page
    )
    return RunPage(runs=page.rows, newer_cursor=page.newer_cursor, older_cursor=page.older_cursor)


@dataclass
class ChartDay:
    day: date
    synced: int = 0
    failed: int = 0


@dataclass
class Chart:
    days: list[ChartDay]
    peak: int = 0
    total_synced: int = 0
    total_failed: int = 0
    bars: list[dict[str, object]] = field(default_factory=list)


CHART_HEIGHT = 120
BAR_WIDTH = 18
BAR_GAP = 6


def daily_chart(runs: QuerySet[SyncRun], *, days: int = CHART_DAYS) -> Chart:
    """Synced and failed records per local day over the last ``days`` days: one query."""
    today = timezone.localdate()
    first = today - timedelta(days=days - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    totals = (
        runs.filter(created_at__gte=since)
        .annotate(day=TruncDate("created_at"))
        .values("day")
        .annotate(
            synced=Sum(F("items_synced") + F("orders_synced")),
            failed=Sum(F("items_failed") + F("orders_failed")),
        )
        .order_by("day")
    )
    by_day = {row["day"]: row for row in totals}
    chart = Chart(days=[])
    for offset in range(days):
        day = first + timedelta(days=offset)
        row = by_day.get(day, {})
        chart.days.append(
            ChartDay(day=day, synced=row.get("synced") or 0, failed=row.get("failed") or 0)
        )
    chart.peak = max((d.synced + d.failed for d in chart.days), default=0)
    chart.total_synced = sum(d.synced for d in chart.days)
    chart.total_failed = sum(d.failed for d in chart.days)
    scale = CHART_HEIGHT / chart.peak if chart.peak else 0
    for index, d in enumerate(chart.days):
        synced_height = round(d.synced * scale, 1)
        failed_height = round(d.failed * scale, 1)
        x = index * (BAR_WIDTH + BAR_GAP)
        chart.bars.append(
            {
                "day": d,
                "x": x,
                "label_x": x + BAR_WIDTH / 2,
                # Rounded as the heights, so no float residue (1.4000000000000057) reaches the SVG.
                "synced_y": round(CHART_HEIGHT - synced_height, 1),
                "synced_height": synced_height,
                "failed_y": round(CHART_HEIGHT - synced_height - failed_height, 1),
                "failed_height": failed_height,
                "show_label": index % 5 == 0 or index == days - 1,
            }
        )
    return chart


CHART_WIDTH = CHART_DAYS * (BAR_WIDTH + BAR_GAP)


def run_records(
    run: SyncRun, *, page: int, per_page: int = RECORDS_PER_PAGE
) -> tuple[list[SyncRecord], bool]:
    """Failures first, then skipped, then synced ("failed" < "skipped" < "synced" sorts that
    way), by id: the order of the ``record_run_outcome`` index. Returns (records, has_next)."""
    offset = (page - 1) * per_page
    rows = list(
        SyncRecord.objects.filter(run=run).order_by("outcome", "id")[offset : offset + per_page + 1]
    )
    return rows[:per_page], len(rows) > per_page


def reinitiated_by(run: SyncRun) -> QuerySet[SyncRun]:
    return SyncRun.objects.filter(reinitiates=run).order_by("id")


def fetched_together(run: SyncRun) -> QuerySet[SyncRun]:
    """The other channels' runs whose orders came in this run's Amazon calls."""
    return SyncRun.objects.filter(fetched_with=run).select_related("channel").order_by("id")


def skipped_by_reason(run: SyncRun, *, limit: int = 10) -> list[tuple[str, int]]:
    """What the run fetched and did not import, by reason, most first: one aggregate over the
    run's skipped records (the ``record_run_outcome`` index)."""
    rows = (
        SyncRecord.objects.filter(run=run, outcome=SyncRecord.Outcome.SKIPPED)
        .values("reason")
        .annotate(count=Count("id"))
        .order_by("-count", "reason")[:limit]
    )
    return [(row["reason"] or "No reason given", row["count"]) for row in rows]
