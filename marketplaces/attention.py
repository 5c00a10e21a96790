"""What needs the seller's attention, for the home page: a handful of aggregate queries, each
along an index, whose number does not grow with the orders, records or items."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db.models import Count, F, Max, OuterRef, Q, Subquery, Sum
from django.db.models.functions import TruncDate
from django.utils import timezone

from marketplaces import queries
from marketplaces.models import (
    FulfillmentChannel,
    Listing,
    NotificationSetup,
    SalesChannel,
    SalesOrder,
    SalesReturn,
)
from synchistory.models import SyncRecord, SyncRun
from warehouses import attention as inventory_attention
from warehouses import currency

FAILED_RECORDS_DAYS = 7
CHART_DAYS = 30
# Reasons listed on the home page; the rest are counted under "other reasons".
REASONS_SHOWN = 5
UNCONFIRMED_HOLD_PREFIX = "Waiting for unconfirmed items"


@dataclass(frozen=True)
class ToShip:
    late: int
    due_today: int
    later: int  # ship-by date after today, or not known (orders read from a report)

    @property
    def total(self) -> int:
        return self.late + self.due_today + self.later


@dataclass(frozen=True)
class Holds:
    unconfirmed_items: int
    other: int

    @property
    def total(self) -> int:
        return self.unconfirmed_items + self.other


@dataclass(frozen=True)
class ChannelProblem:
    channel: SalesChannel
    problem: str  # "needs_reauthorization", "inactive", "last_sync_failed"
    run: SyncRun | None = None


@dataclass(frozen=True)
class FailedReason:
    reason: str
    count: int
    run_id: int  # the latest run that failed a record for this reason


@dataclass
class ChartDay:
    day: date
    orders: int = 0
    sales: Decimal = Decimal("0")


@dataclass
class ChannelChart:
    channel: SalesChannel
    days: list[ChartDay]
    missing_rates: list[str] = field(default_factory=list)  # "USD on 2026-11-04", ...

    @property
    def total_orders(self) -> int:
        return sum(day.orders for day in self.days)

    @property
    def total_sales(self) -> Decimal:
        return sum((day.sales for day in self.days), Decimal("0"))


def to_ship(now: datetime) -> ToShip:
    _, end = queries.today_bounds(now)
    counts = SalesOrder.objects.filter(queries.TO_SHIP).aggregate(
        late=Count("id", filter=Q(latest_ship_date__lt=now)),
        due_today=Count("id", filter=Q(latest_ship_date__gte=now, latest_ship_date__lt=end)),
        total=Count("id"),
    )
    return ToShip(
        late=counts["late"],
        due_today=counts["due_today"],
        later=counts["total"] - counts["late"] - counts["due_today"],
    )


def buyer_cancel_requests() -> int:
    """Orders whose buyer asked to cancel and the seller has not acted on (a partial index)."""
    return SalesOrder.objects.filter(buyer_cancel_request=SalesOrder.CancelRequest.OPEN).count()


@dataclass(frozen=True)
class ReturnsToReceive:
    delivered: int  # back at the seller's: to receive into a warehouse (or write off)
    on_their_way: int

    @property
    def total(self) -> int:
        return self.delivered + self.on_their_way


def returns_to_receive() -> ReturnsToReceive:
    """Merchant returns not received into stock yet: delivered back first, then in transit."""
    counts = SalesReturn.objects.filter(fulfillment_channel=FulfillmentChannel.MERCHANT).aggregate(
        delivered=Count("id", filter=Q(status=SalesReturn.Status.RECEIVED)),
        on_their_way=Count("id", filter=Q(status=SalesReturn.Status.REQUESTED)),
    )
    return ReturnsToReceive(counts["delivered"], counts["on_their_way"])


def holds() -> Holds:
    counts = SalesOrder.objects.filter(status=SalesOrder.Status.ON_HOLD).aggregate(
        unconfirmed=Count("id", filter=Q(hold_reason__startswith=UNCONFIRMED_HOLD_PREFIX)),
        total=Count("id"),
    )
    return Holds(
        unconfirmed_items=counts["unconfirmed"], other=counts["total"] - counts["unconfirmed"]
    )


def channel_problems() -> list[ChannelProblem]:
    """Channels that need re-authorization or are inactive, and active ones whose latest
    finished run failed: one query for the channels with their latest run's id."""
    latest = (
        SyncRun.objects.filter(channel=OuterRef("pk"), status__in=SyncRun.FINAL_STATUSES)
        .order_by("-created_at", "-id")
        .values("id")[:1]
    )
    channels = list(SalesChannel.objects.annotate(latest_run_id=Subquery(latest)))
    runs = SyncRun.objects.in_bulk(
        [c.latest_run_id for c in channels if c.latest_run_id is not None]
    )
    problems = []
    for channel in channels:
        if channel.status == SalesChannel.Status.NEEDS_REAUTHORIZATION:
            problems.append(ChannelProblem(channel, "needs_reauthorization"))
        elif channel.status == SalesChannel.Status.INACTIVE:
            problems.append(ChannelProblem(channel, "inactive"))
        else:
            run = runs.get(channel.latest_run_id)
            if run is not None and run.status == SyncRun.Status.FAILED:
                problems.append(ChannelProblem(channel, "last_sync_failed", run))
    return problems


def failed_records(now: datetime) -> tuple[list[FailedReason], int]:
    """Failed records of the last 7 days by reason, most frequent first, and the count of
    the reasons not shown."""
    rows = list(
        SyncRecord.objects.filter(
            outcome=SyncRecord.Outcome.FAILED,
            created_at__gte=now - timedelta(days=FAILED_RECORDS_DAYS),
        )
        .values("reason")
        .annotate(count=Count("id"), latest_run=Max("run_id"))
        .order_by("-count", "reason")
    )
    shown = [
        FailedReason(row["reason"] or "No reason given", row["count"], row["latest_run"])
        for row in rows[:REASONS_SHOWN]
    ]
    return shown, sum(row["count"] for row in rows[REASONS_SHOWN:])


def drifted_listings() -> int:
    return (
        Listing.objects.filter(
            fulfillment_channel=FulfillmentChannel.MERCHANT,
            amazon_quantity_checked_at__isnull=False,
            pushed_quantity__isnull=False,
        )
        .filter(~Q(amazon_quantity=F("pushed_quantity")))
        .count()
    )


def low_stock_items() -> int:
    return inventory_attention.low_stock_items().count()


def failed_notifications() -> list[NotificationSetup]:
    """Sellers whose Amazon notifications could not be turned on."""
    return list(NotificationSetup.objects.filter(status=NotificationSetup.Status.FAILED))


@dataclass(frozen=True)
class UnhealthyNotifications:
    channel: SalesChannel  # the seller's first channel: its Notifications tab lists them
    health: queries.NotificationHealth


def unhealthy_notifications(now: datetime) -> list[UnhealthyNotifications]:
    """Sellers whose notifications are on but quiet for too long, or failing today: orders
    then arrive by polling only (every few minutes), and something may need fixing (the
    consumer stopped, the queue policy changed). Two queries per seller with notifications on
    (a handful), whatever the volume of messages."""
    unhealthy = []
    for setup in NotificationSetup.objects.filter(status=NotificationSetup.Status.ENABLED):
        channel = (
            SalesChannel.objects.filter(seller_id__iexact=setup.seller_id).order_by("id").first()
        )
        if channel is None:
            continue
        health = queries.notification_health(channel, now)
        if not health.healthy or health.failed_today:
            unhealthy.append(UnhealthyNotifications(channel, health))
    return unhealthy


def daily_sales(now: datetime) -> list[ChannelChart]:
    """Orders and sales per local day for the last 30 days, per channel, sales in the base
    currency: one aggregate query and the rates of the days with other currencies. A day
    without its rate is left out of the sales and named, never guessed."""
    today = timezone.localdate(now)
    first = today - timedelta(days=CHART_DAYS - 1)
    since = timezone.make_aware(datetime.combine(first, time.min))
    rows = list(
        SalesOrder.objects.filter(purchased_at__gte=since)
        .exclude(status=SalesOrder.Status.CANCELLED)
        .annotate(day=TruncDate("purchased_at"))
        .values("channel_id", "day", "currency")
        .annotate(orders=Count("id"), sales=Sum("total"))
        .order_by()
    )
    conversions = currency.convert_many(
        (row["sales"] or Decimal("0"), row["currency"], row["day"]) for row in rows
    )
    channels = {c.id: c for c in SalesChannel.objects.all()}
    charts: dict[int, ChannelChart] = {}
    for row, conversion in zip(rows, conversions, strict=True):
        channel = channels.get(row["channel_id"])
        if channel is None:
            continue
        chart = charts.get(channel.id)
        if chart is None:
            chart = charts[channel.id] = ChannelChart(
                channel,
                [ChartDay(first + timedelta(days=n)) for n in range(CHART_DAYS)],
            )
        index = (row["day"] - first).days
        if not 0 <= index < CHART_DAYS:
            continue
        day = chart.days[index]
        day.orders += row["orders"]
        if conversion.converted:
            day.sales += conversion.base_amount  # type: ignore[union-attr]
        else:
            chart.missing_rates.append(f"{row['currency']} on {row['day']:%Y-%m-%d}")
    return sorted(charts.values(), key=lambda chart: (chart.channel.name, chart.channel.id))
