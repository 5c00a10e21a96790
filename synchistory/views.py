"""Sync History (per channel) and a run's page with its live progress and its records.

The channel is reached through ``SyncRun.channel`` so this app imports nothing of the
marketplaces app; Re-initiate posts to a marketplaces view.
"""

from __future__ import annotations

from typing import Any

from django.core.cache import cache
from django.db import models
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, render
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views.decorators.http import require_GET

from inventory_sync.paging import MAX_PAGE, choice_param, int_param
from synchistory import queries
from synchistory.models import SyncRun


def _channel_model() -> type[models.Model]:
    model = SyncRun._meta.get_field("channel").related_model
    assert isinstance(model, type) and issubclass(model, models.Model)
    return model


def _daily_chart(channel_id: int, kind: str) -> str:
    """The 30-day chart, as HTML: it sums every run of the month, so it is computed and drawn
    at most once a minute per channel and kind, not on every view and every page of the
    history. Measured with 100,000 runs (docs/PERFORMANCE.md): the query was 77 of the page's
    79 ms of SQL, and drawing its 30 bars about 40% of the page's rendering."""
    key = f"sync-chart:{channel_id}:{kind or 'all'}:{timezone.localdate().isoformat()}"
    html: str | None = cache.get(key)
    if html is None:
        chart = queries.daily_chart(queries.filtered_runs(channel_id, kind=kind))
        html = render_to_string(
            "synchistory/_chart.html",
            {
                "chart": chart,
                "chart_width": queries.CHART_WIDTH,
                "chart_height": queries.CHART_HEIGHT,
                "bar_width": queries.BAR_WIDTH,
            },
        )
        cache.set(key, html, CHART_CACHE_SECONDS)
    # Our own template's autoescaped output, kept as it was rendered.
    return mark_safe(html)  # noqa: S308


CHART_CACHE_SECONDS = 60


@require_GET
def sync_history(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel: Any = get_object_or_404(_channel_model(), id=channel_id)
    kind = choice_param(request, "kind", SyncRun.Kind.values)
    status = choice_param(request, "status", SyncRun.Status.values)
    runs = queries.filtered_runs(channel.id, kind=kind, status=status)
    page = queries.run_page(
        runs,
        older_than=int_param(request, "older_than"),
        newer_than=int_param(request, "newer_than"),
    )
    return render(
        request,
        "synchistory/sync_history.html",
        {
            "channel": channel,
            "page": page,
            "kind": kind,
            "status": status,
            "kinds": SyncRun.Kind.choices,
            "statuses": SyncRun.Status.choices,
            "chart": _daily_chart(channel.id, kind),
        },
    )


@require_GET
def sync_run_detail(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(
        SyncRun.objects.select_related(
            "channel", "reinitiates", "requested_by", "fetched_with__channel"
        ),
        id=run_id,
    )
    page_number = int_param(request, "page", maximum=MAX_PAGE) or 1
    records, has_next = queries.run_records(run, page=page_number)
    return render(
        request,
        "synchistory/sync_run_detail.html",
        {
            "run": run,
            "records": records,
            "page_number": page_number,
            "has_next": has_next,
            "reinitiated_by": queries.reinitiated_by(run),
            "fetched_together": queries.fetched_together(run),
            "skipped_by_reason": queries.skipped_by_reason(run) if run.orders_skipped else [],
        },
    )


@require_GET
def sync_run_progress(request: HttpRequest, run_id: int) -> HttpResponse:
    """The live part of a run's page, polled by htmx every 2 s until the run is final."""
    run = get_object_or_404(SyncRun, id=run_id)
    response = render(request, "synchistory/_run_progress.html", {"run": run})
    if run.is_final and request.headers.get("HX-Request") == "true":
        # The page was opened while the run was going: reload it to show the records too.
        response["HX-Refresh"] = "true"
    return response
