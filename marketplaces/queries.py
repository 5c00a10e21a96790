"""Read-only queries for the marketplace settings pages (no business rules here)."""

from __future__ import annotations

import math
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import date, datetime, time, timedelta

from django.db.models import Case, Count, F, IntegerField, Max, Q, QuerySet, Sum, Value, When
from django.db.models.functions import TruncDate
from django.utils import timezone

from inventory_sync.paging import keyset_page
from marketplaces import fba
from marketplaces.models import (
    MARKETPLACES,
    ApiQuota,
    FulfillmentChannel,
    Listing,
    NotificationMessage,
    NotificationSetup,
    SalesChannel,
    SalesOrder,
    SalesOrderLine,
)
from synchistory.models import SyncRun
from warehouses import currency
from warehouses.models import Stock, Warehouse


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
    has_fba = Listing.objects.filter(
        channel=channel, fulfillment_channel=FulfillmentChannel.AMAZON
    ).exists()
    for kind, label in SyncRun.Kind.choices:
        if kind == SyncRun.Kind.FBA_INVENTORY and not has_fba:
            continue  # a seller who ships everything himself has no FBA stock to refresh
        run = (
            SyncRun.objects.filter(channel=channel, kind=kind, status__in=SyncRun.FINAL_STATUSES)
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


@dataclass(frozen=True)
class QuotaRow:
    quota: ApiQuota
    used_by: list[str]  # the marketplaces whose channels called it, by name
    wait_seconds: int  # until the next call is allowed; 0 for now

    @property
    def wait_under_a_minute(self) -> bool:
        # Django's timeuntil says "0 minutes" for a wait of seconds: give those as seconds.
        return 0 < self.wait_seconds < 60


@dataclass(frozen=True)
class ApiQuotas:
    """The seller's buckets, as seen from one of its channels."""

    channel: SalesChannel
    sharing: list[SalesChannel]  # every channel of the seller, this one included
    rows: list[QuotaRow]

    @property
    def shared(self) -> bool:
        return len(self.sharing) > 1


def api_quotas(channel: SalesChannel) -> ApiQuotas:
    """Our token bucket per operation of this seller account. Amazon's usage plans are per
    seller and application across marketplaces, so the buckets are those of every channel of
    the seller: each row says which marketplaces called it."""
    order = list(MARKETPLACES)
    sharing = sorted(
        SalesChannel.objects.filter(seller_id__iexact=channel.seller_id),
        key=lambda c: (order.index(c.marketplace) if c.marketplace in order else len(order), c.pk),
    )
    quotas = ApiQuota.objects.filter(seller_id=channel.seller_id).order_by("operation")
    now = timezone.now()
    rows = [
        QuotaRow(
            quota,
            _marketplace_names(quota.marketplace_ids),
            wait_seconds=max(0, math.ceil((quota.next_allowed_at - now).total_seconds()))
            if quota.next_allowed_at
            else 0,
        )
        for quota in quotas
    ]
    return ApiQuotas(channel=channel, sharing=sharing, rows=rows)


def _marketplace_names(marketplace_ids: list[str]) -> list[str]:
    """Amazon.ca, Amazon.com, Amazon.com.mx in that order; an id we do not know as itself."""
    known = {info.marketplace_id: info.name for info in MARKETPLACES.values()}
    names = [name for marketplace_id, name in known.items() if marketplace_id in marketplace_ids]
    return names + sorted(m for m in marketplace_ids if m not in known)


# -- Stock on Amazon (drift) ----------------------------------------------------------------

DRIFT_ROWS_SHOWN = 200


@dataclass(frozen=True)
class DriftSummary:
    checked_at: datetime | None
    listings: list[Listing]
    more: bool  # more drifted SKUs than shown


def drifted_listings(channel: SalesChannel) -> QuerySet[Listing]:
    """Merchant-fulfilled listings whose Amazon quantity, when last read, was not the one we
    last pushed (the same rule as ``Listing.drifted``, in SQL)."""
    return (
        Listing.objects.filter(
            channel=channel,
            fulfillment_channel=FulfillmentChannel.MERCHANT,
            amazon_quantity_checked_at__isnull=False,
            pushed_quantity__isnull=False,
        )
        # Django's negation keeps NULLs: a SKU Amazon listed with no quantity has drifted.
        .filter(~Q(amazon_quantity=F("pushed_quantity")))
        .select_related("item")
        .order_by("seller_sku")
    )


def drift_summary(channel: SalesChannel) -> DriftSummary:
    checked_at = Listing.objects.filter(channel=channel).aggregate(
        at=Max("amazon_quantity_checked_at")
    )["at"]
    rows = list(drifted_listings(channel)[: DRIFT_ROWS_SHOWN + 1])
    return DriftSummary(
        checked_at=checked_at,
        listings=rows[:DRIFT_ROWS_SHOWN],
        more=len(rows) > DRIFT_ROWS_SHOWN,
    )


@dataclass(frozen=True)
class FbaSummary:
    warehouse: Warehouse | None
    skus: int
    fulfillable: int
    inbound: int
    last_refresh: SyncRun | None


def fba_summary(channel: SalesChannel) -> FbaSummary | None:
    """The channel's FBA stock at a glance, or None when it has no FBA listing."""
    skus = Listing.objects.filter(
        channel=channel, fulfillment_channel=FulfillmentChannel.AMAZON
    ).count()
    if not skus:
        return None
    warehouse = Warehouse.objects.filter(amazon_pool=fba.pool_of(channel)).first()
    totals = Stock.objects.filter(warehouse=warehouse).aggregate(
        fulfillable=Sum("on_hand"), inbound=Sum("amazon_inbound")
    )
    return FbaSummary(
        warehouse=warehouse,
        skus=skus,
        fulfillable=totals["fulfillable"] or 0,
        inbound=totals["inbound"] or 0,
        last_refresh=SyncRun.objects.filter(
            channel=channel,
            kind=SyncRun.Kind.FBA_INVENTORY,
            status__in=SyncRun.FINAL_STATUSES,
        )
        .order_by("-created_at", "-id")
        .first(),
    )


# -- Amazon notifications ---------------------------------------------------------------------

# Notifications on, and nothing from Amazon for this long: not healthy. A quiet seller can go
# that long without an order change; the sentence says to check rather than that it is broken.
NOTIFICATIONS_QUIET_AFTER = timedelta(hours=2)


@dataclass(frozen=True)
class NotificationHealth:
    setup: NotificationSetup | None
    last_received_at: datetime | None
    received_today: int
    failed_today: int
    quiet_since: datetime | None  # on, and nothing received since then, longer than allowed

    @property
    def enabled(self) -> bool:
        return self.setup is not None and self.setup.status == NotificationSetup.Status.ENABLED

    @property
    def healthy(self) -> bool:
        return self.enabled and self.quiet_since is None


def notification_health(channel: SalesChannel, now: datetime) -> NotificationHealth:
    """The seller's notifications and what came of them: the last message received, the
    messages received and failed since local midnight. Two queries, whatever the volume."""
    setup = NotificationSetup.objects.filter(seller_id__iexact=channel.seller_id).first()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = Q(received_at__gte=midnight)
    figures = NotificationMessage.objects.filter(seller_id=channel.seller_id).aggregate(
        last=Max("received_at"),
        received=Count("id", filter=today),
        failed=Count("id", filter=today & Q(status=NotificationMessage.Status.FAILED)),
    )
    last: datetime | None = figures["last"]
    quiet_since = None
    if setup is not None and setup.status == NotificationSetup.Status.ENABLED:
        # Counted from the last message, or from turning on when none came since.
        since = max([moment for moment in (last, setup.enabled_at) if moment], default=None)
        if since is not None and now - since > NOTIFICATIONS_QUIET_AFTER:
            quiet_since = since
    return NotificationHealth(
        setup=setup,
        last_received_at=last,
        received_today=figures["received"] or 0,
        failed_today=figures["failed"] or 0,
        quiet_since=quiet_since,
    )


# -- Sales orders list ----------------------------------------------------------------------


@dataclass
class OrderPage:
    orders: list[SalesOrder]
    newer_cursor: int | None = None  # id of the newest order shown, when newer ones exist
    older_cursor: int | None = None  # id of the oldest order shown, when older ones exist


# Open merchant orders: what the seller still has to ship himself (the ``order_to_ship`` index).
TO_SHIP = Q(
    status__in=[SalesOrder.Status.CONFIRMED, SalesOrder.Status.PARTIALLY_SHIPPED],
    fulfillment_channel=FulfillmentChannel.MERCHANT,
)


def today_bounds(now: datetime) -> tuple[datetime, datetime]:
    """The start and end of today, local time: "due today" is a ship-by date within them."""
    today = timezone.localdate(now)
    start = timezone.make_aware(datetime.combine(today, time.min))
    return start, timezone.make_aware(datetime.combine(today + timedelta(days=1), time.min))


def to_ship(ship: str, now: datetime) -> Q:
    """``to_ship``: every open merchant order; ``late``: its ship-by date has passed;
    ``due_today``: it falls later today."""
    start, end = today_bounds(now)
    if ship == "late":
        return TO_SHIP & Q(latest_ship_date__lt=now)
    if ship == "due_today":
        return TO_SHIP & Q(latest_ship_date__gte=now, latest_ship_date__lt=end)
    return TO_SHIP


def filtered_orders(
    *,
    status: str = "",
    channel: SalesChannel | None = None,
    purchased_from: date | None = None,
    purchased_to: date | None = None,
    ship: str = "",
    search: str = "",
    cancel_request: bool = False,
    now: datetime | None = None,
) -> QuerySet[SalesOrder]:
    """Purchase dates are local days: from the start of ``purchased_from`` to the end of
    ``purchased_to``. ``search``: an Amazon order id or a SKU of one of
    the order's lines (exactly). ``cancel_request``: only orders whose buyer asked to cancel
    and the seller has not acted yet."""
    orders = SalesOrder.objects.select_related("channel", "warehouse")
    if status:
        orders = orders.filter(status=status)
    if cancel_request:
        orders = orders.filter(buyer_cancel_request=SalesOrder.CancelRequest.OPEN)
    if ship:
        orders = orders.filter(to_ship(ship, now or timezone.now()))
    if search:
        # The orders of either index (the order id's, the line SKU's) as one subquery: with an
        # OR, PostgreSQL walks every order newest first to test each (28 ms at 100,000
        # orders, docs/PERFORMANCE.md); the UNION drives primary-key lookups (0.2 ms).
        matching = (
            SalesOrder.objects.filter(amazon_order_id=search)
            .order_by()
            .values("id")
            .union(SalesOrderLine.objects.filter(seller_sku=search).order_by().values("order_id"))
        )
        orders = orders.filter(id__in=matching)
    if channel is not None:
        orders = orders.filter(channel=channel)
    if purchased_from is not None:
        orders = orders.filter(
            purchased_at__gte=timezone.make_aware(datetime.combine(purchased_from, time.min))
        )
    if purchased_to is not None:
        end = datetime.combine(purchased_to + timedelta(days=1), time.min)
        orders = orders.filter(purchased_at__lt=timezone.make_aware(end))
    return orders


def order_page(
    orders: QuerySet[SalesOrder],
    *,
    older_than: int | None = None,
    newer_than: int | None = None,
    per_page: int = 50,
) -> OrderPage:
    """One page, newest purchase first, along the ``order_recent`` index; no COUNT, so
    100,000s of orders cost nothing."""
    page = keyset_page(
        orders, "purchased_at", older_than=older_than, newer_than=newer_than, per_page=per_page
    )
    return OrderPage(
        orders=page.rows, newer_cursor=page.newer_cursor, older_cursor=page.older_cursor
    )


# Show Details warns of withheld buyer data when orders of this recent a purchase lack it.
WITHHELD_LOOKBACK = timedelta(days=7)


@dataclass(frozen=True)
class WithheldSummary:
    """Recent orders Amazon sent without some of the buyer's data (no restricted role)."""

    orders: int
    codes: tuple[str, ...]  # the distinct stored values, e.g. ("address,email,name",)
    since: datetime


def withheld_personal_data(channel: SalesChannel, now: datetime) -> WithheldSummary | None:
    since = now - WITHHELD_LOOKBACK
    groups = (
        SalesOrder.objects.filter(channel=channel, purchased_at__gte=since)
        .exclude(personal_data_withheld="")
        .values("personal_data_withheld")
        .annotate(orders=Count("id"))
        .order_by("personal_data_withheld")
    )
    rows = [(row["personal_data_withheld"], row["orders"]) for row in groups]
    if not rows:
        return None
    return WithheldSummary(
        orders=sum(count for _, count in rows), codes=tuple(code for code, _ in rows), since=since
    )


def order_day(order: SalesOrder) -> date:
    """The day whose exchange rate converts an order: its purchase date in our time zone
    (America/Toronto by default, the Bank of Canada's)."""
    return timezone.localdate(order.purchased_at)


def order_totals_in_base_currency(orders: Iterable[SalesOrder]) -> dict[int, currency.Conversion]:
    """Each order's total in the base currency, by order id: two queries for any number."""
    orders = list(orders)
    conversions = currency.convert_many(
        (order.total, order.currency, order_day(order)) for order in orders
    )
    return {order.id: conversion for order, conversion in zip(orders, conversions, strict=True)}


def order_days_by_currency(base_currency: str) -> dict[str, set[date]]:
    """The days with orders in each currency other than ``base_currency``: the days that need
    an exchange rate."""
    days: dict[str, set[date]] = {}
    rows = (
        SalesOrder.objects.exclude(currency=base_currency)
        .annotate(day=TruncDate("purchased_at"))  # in the current (local) time zone
        .values_list("currency", "day")
        .distinct()
    )
    for code, day in rows:
        days.setdefault(code, set()).add(day)
    return days


NOTIFICATIONS_SHOWN = 100


def recent_notifications(channel: SalesChannel) -> list[NotificationMessage]:
    """The channel's most recent notifications, failures first (newest first within each):
    one query, without the payloads.

    With them, those of no channel: a message that could not be read names no seller or
    marketplace, and one for a seller or marketplace without a channel here has none either.
    They came through the deployment's one queue, and this tab is where a failed message is
    shown with its reason."""
    return list(
        NotificationMessage.objects.filter(Q(channel=channel) | Q(channel__isnull=True))
        .defer("payload")
        .annotate(
            failed_first=Case(
                When(status=NotificationMessage.Status.FAILED, then=Value(0)),
                default=Value(1),
                output_field=IntegerField(),
            )
        )
        .order_by("failed_first", "-received_at", "-id")[:NOTIFICATIONS_SHOWN]
    )
