from __future__ import annotations

from datetime import datetime
from typing import Any

from django.contrib.auth.decorators import login_not_required
from django.core.cache import cache
from django.core.exceptions import BadRequest
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.template.loader import render_to_string
from django.utils import timezone, translation
from django.utils.safestring import mark_safe
from django.views import defaults
from django.views.decorators.http import require_GET

from marketplaces import attention
from marketplaces.models import SalesChannel
from warehouses.models import Item, Organization

CHART_WIDTH = 600
CHART_HEIGHT = 80


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    """What needs attention, most urgent first, each a link to the list that fixes it; then
    orders and sales per day. A fixed number of aggregate queries, whatever the data."""
    now = timezone.now()
    to_ship = attention.to_ship(now)
    holds = attention.holds()
    returns = attention.returns_to_receive()
    cancel_requests = attention.buyer_cancel_requests()
    channel_problems = attention.channel_problems()
    failed, failed_other = attention.failed_records(now)
    drifted = attention.drifted_listings()
    low_stock = _low_stock()
    unconfirmed = Item.objects.filter(status=Item.Status.UNCONFIRMED).count()
    notifications = attention.failed_notifications()
    unhealthy_notifications = attention.unhealthy_notifications(now)
    organization = Organization.load()
    charts_html = _charts_html(now, organization)
    quiet = not (
        to_ship.late
        or to_ship.due_today
        or holds.total
        or cancel_requests
        or channel_problems
        or failed
        or failed_other
        or drifted
        or low_stock
        or unconfirmed
        or notifications
        or unhealthy_notifications
        or returns.delivered
    )
    context = {
        "organization": organization,
        "to_ship": to_ship,
        "holds": holds,
        "returns": returns,
        "cancel_requests": cancel_requests,
        "channel_problems": channel_problems,
        "failed_records": failed,
        "failed_other": failed_other,
        "failed_days": attention.FAILED_RECORDS_DAYS,
        "drifted": drifted,
        "low_stock": low_stock,
        "unconfirmed_count": unconfirmed,
        "notifications": notifications,
        "unhealthy_notifications": unhealthy_notifications,
        "quiet": quiet,
        "charts_html": charts_html,
        "has_channels": SalesChannel.objects.exists(),
    }
    return render(request, "home.html", context)


# The charts sum 30 days of orders, the low-stock count every item: each computed at most once
# a minute (as Sync History's chart), not on every view. Measured with 100,000 orders
# (docs/PERFORMANCE.md, load_web): 19 and 15 ms of the page's SQL on a busy 2-core machine.
CHARTS_CACHE_SECONDS = 60


def _charts_html(now: datetime, organization: Organization) -> str:
    """The charts' section, drawn (its 30 bars a channel are most of the page's rendering),
    once a minute per day and language."""
    key = f"home-charts:{timezone.localdate(now).isoformat()}:{translation.get_language()}"
    html = str(
        cache.get_or_set(
            key,
            lambda: render_to_string(
                "_home_charts.html",
                {
                    "charts": [_chart(chart) for chart in attention.daily_sales(now)],
                    "chart_days": attention.CHART_DAYS,
                    "organization": organization,
                },
            ),
            CHARTS_CACHE_SECONDS,
        )
    )
    # Our own template's autoescaped output, kept as it was rendered.
    return mark_safe(html)  # noqa: S308


def _low_stock() -> int:
    """Items out of stock or at their reorder point: the available units of every item summed
    (15 ms at 10,000 items), so also counted at most once a minute."""
    count = cache.get_or_set(LOW_STOCK_CACHE_KEY, attention.low_stock_items, CHARTS_CACHE_SECONDS)
    return count or 0


LOW_STOCK_CACHE_KEY = "home-low-stock"


def _chart(chart: attention.ChannelChart) -> dict[str, Any]:
    """Bar geometry for one channel's orders per day (as Sync History's chart draws it)."""
    most = max((day.orders for day in chart.days), default=0) or 1
    step = CHART_WIDTH / len(chart.days)
    bars = []
    for index, day in enumerate(chart.days):
        height = round(day.orders / most * CHART_HEIGHT, 1)
        bars.append(
            {
                "day": day,
                "x": round(index * step, 1),
                "y": round(CHART_HEIGHT - height, 1),
                "height": height,
                "show_label": index % 7 == 0,
                "label_x": round(index * step + step / 2, 1),
            }
        )
    return {
        "chart": chart,
        "bars": bars,
        "bar_width": round(step * 0.8, 1),
        "width": CHART_WIDTH,
        "height": CHART_HEIGHT,
    }


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers and compose health checks: the process serves and the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 400 page (``handler400``). A ``BadRequest`` comes from the product's own parsing of a
    query string (inventory_sync.paging), whose message says which parameter is wrong; Django's
    other 400s (a suspicious host, say) keep Django's plain page, which says nothing."""
    if isinstance(exception, BadRequest):
        return render(request, "400.html", {"reason": str(exception)}, status=400)
    return defaults.bad_request(request, exception)
