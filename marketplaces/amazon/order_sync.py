"""Amazon orders in, as sales orders.

Idempotent by the database: one sales order per (channel, Amazon order id), lines unique per
Amazon order item; an order seen again is updated, never duplicated. Stock moves only through
``warehouses.stock``. A page of orders is one transaction written in a constant number of
statements: new orders, their lines, taxes, comments, stock movements and sync records in one
INSERT each. A bad order still fails alone: what Python can refuse (amounts, no warehouse) is
refused before anything is written, and a row the database refuses sends the page back through
the order-by-order path, a savepoint per order. Amazon is never called inside a transaction.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import DatabaseError, IntegrityError, transaction
from django.utils import timezone

from marketplaces import buyer_data, fba, order_stream
from marketplaces import orders as order_rules
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.errors import AmazonError, AmazonRejected, WaitForAmazon
from marketplaces.amazon.types import (
    MAX_AMOUNT,
    AmazonOrder,
    AmazonOrderItem,
    parse_orders_report,
)
from marketplaces.models import (
    FulfillmentChannel,
    Listing,
    SalesChannel,
    SalesOrder,
    SalesOrderComment,
    SalesOrderLine,
    SalesOrderTax,
)
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from warehouses import stock
from warehouses.models import Item, Organization, Warehouse

logger = logging.getLogger(__name__)

# lastUpdatedAfter goes back this far behind the checkpoint: orders Amazon commits late (its
# own replication, a clock five minutes off) are still seen; seeing one twice is harmless.
OVERLAP = timedelta(minutes=10)
INITIAL_LOOKBACK = timedelta(days=7)
AMAZON_RETENTION = timedelta(days=730)
# searchOrders refuses an upper bound less than two minutes before the request.
SEARCH_LAG = timedelta(minutes=3)
# Above this many orders (searchOrders' burst of 20 pages of 100), a window uses the report.
REPORT_THRESHOLD = 2000
REPORT_MIN_WINDOW = timedelta(days=2)
ORDERS_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
REPORT_CURSOR = "orders-report:"
REPORT_BATCH = 100
# Orders ``complete_awaiting_orders`` reads at once (more than a minute of getOrder's quota).
COMPLETE_BATCH = 100

PAYMENT_COMMENT = "Payment status: Paid"


@dataclass
class PageContext:
    """What a page of orders needs from the database, read once per page instead of once per
    order: the orders already imported and the items the page's SKUs map to."""

    existing: dict[str, SalesOrder]
    items: dict[str, Item]
    _fba_warehouse: Warehouse | None = None

    def warehouse_for(
        self, channel: SalesChannel, organization: Organization, amazon_order: AmazonOrder
    ) -> Warehouse:
        """Merchant orders take stock from the channel's warehouse; Amazon's are recorded
        against its FBA warehouse (looked up once per page)."""
        if amazon_order.is_merchant_fulfilled:
            return order_rules.warehouse_for(channel, organization)
        if self._fba_warehouse is None:
            self._fba_warehouse = fba.fba_warehouse(channel)
        return self._fba_warehouse

    @classmethod
    def load(cls, channel: SalesChannel, orders: Sequence[AmazonOrder]) -> PageContext:
        order_ids = [order.order_id for order in orders]
        skus = {line.seller_sku for order in orders for line in order.items}
        existing = {
            order.amazon_order_id: order
            for order in SalesOrder.objects.filter(channel=channel, amazon_order_id__in=order_ids)
        }
        items = {item.sku: item for item in Item.objects.filter(sku__in=skus)}
        # A channel's listing decides over a same-named SKU (it may be linked to another item).
        for listing in Listing.objects.select_related("item").filter(
            channel=channel, seller_sku__in=skus
        ):
            items[listing.seller_sku] = listing.item
        return cls(existing=existing, items=items)


@dataclass(frozen=True)
class OrderOutcome:
    outcome: str  # SyncRecord.Outcome
    order: SalesOrder | None
    reason: str = ""
    # Seen before exactly as Amazon has it now: nothing was written.
    unchanged: bool = False

    def entries(self, order_id: str) -> list[history.Entry]:
        """The sync record to write: synced, failed, or skipped with the reason."""
        record_type = SyncRecord.RecordType.ORDER
        return [history.Entry(record_type, order_id, self.outcome, self.reason, self.order)]


def order_window(channel: SalesChannel, now: datetime) -> datetime:
    """Where an automatic sync starts: the checkpoint minus the overlap, or the initial
    look-back for a channel that never synced; never beyond what Amazon keeps."""
    start = (
        channel.orders_checkpoint - OVERLAP if channel.orders_checkpoint else now - INITIAL_LOOKBACK
    )
    return max(start, now - AMAZON_RETENTION + timedelta(hours=1))


def sync_orders(run: SyncRun, client: AmazonClient) -> None:
    """One order sync run: every order Amazon changed in the run's window, page by page.

    The checkpoint moves to the end of the window Amazon says it covered (its own clock, not
    ours) only after every order of every page has been committed. An automatic run lists
    the seller's other marketplaces too, when their channels join its stream
    (``_order_stream``); their checkpoints move with it.
    """
    organization = Organization.load()
    if run.reinitiates_id:
        _refetch_recorded_orders(run, client, organization)
        return
    if run.cursor.startswith(REPORT_CURSOR) or (not run.cursor and _wants_report(run, client)):
        _sync_from_orders_report(run, client, organization)
        return
    now = timezone.now()
    stream = _order_stream(run, now)
    end = run.window_end
    if end is not None and end > now - SEARCH_LAG:
        end = None  # Amazon wants the upper bound in the past; without one it uses its own
    newest_seen: datetime | None = None
    upper_bound: datetime | None = None
    # A retried run (throttled, worker restarted) resumes at the page it had reached.
    next_token: str | None = run.cursor or None
    done = run.progress_done if next_token else 0
    listed_again = False
    while True:
        try:
            page = client.search_orders(
                last_updated_after=None if next_token else run.window_start,
                last_updated_before=None if next_token else end,
                next_token=next_token,
                marketplace_ids=list(stream),
            )
        except AmazonRejected as rejected:
            if next_token is None or listed_again or not _token_refused(rejected):
                raise
            # Amazon's pagination tokens expire after 24 hours (a run re-queued that long, a
            # worker down overnight). The window is listed again from its start: the orders
            # already imported are seen unchanged and recorded once.
            logger.info("Run %s lists its window again: %s", run.id, rejected)
            next_token, upper_bound, listed_again = None, None, True
            history.heartbeat(run, cursor="")
            continue
        invalid = [
            history.Entry(SyncRecord.RecordType.ORDER, order_id, "failed", reason)
            for order_id, reason in page.invalid
        ]
        _import_streamed_page(run, stream, organization, page.orders, client, invalid)
        for amazon_order in page.orders:
            if newest_seen is None or amazon_order.last_updated > newest_seen:
                newest_seen = amazon_order.last_updated
        upper_bound = upper_bound or page.last_updated_before
        done += len(page.orders) + len(page.invalid)
        next_token = page.next_token
        history.heartbeat(run, done=done, cursor=next_token or "")
        if not next_token:
            break
    if run.trigger in (SyncRun.Trigger.AUTOMATIC, SyncRun.Trigger.INITIAL) and end is None:
        for streamed_run in stream.values():
            advance_checkpoint(streamed_run.channel, newest_seen, page_upper_bound=upper_bound)


def _order_stream(run: SyncRun, now: datetime) -> dict[str, SyncRun]:
    """The marketplaces the run lists, each with the run its orders are recorded in: its own
    channel's; for an automatic run, also those of the seller's other channels that join it
    (``order_stream``), each in a run of its own fetched with this one.

    Decided once, when the run first starts, and kept through its retries and a takeover: the
    companions' window is the run's, which begins at the earliest of their checkpoints."""
    stream = {run.channel.marketplace_id: run}
    if run.window_start is not None:  # a retry: the stream was made up when the run started
        for companion in history.companions(run):
            stream[companion.channel.marketplace_id] = companion
        return stream
    own_start = window_start = order_window(run.channel, now)
    partners: list[SalesChannel] = []
    if run.trigger == SyncRun.Trigger.AUTOMATIC and run.window_end is None:
        for partner in order_stream.stream_partners(run.channel, now):
            partner_start = order_window(partner, now)
            if abs(partner_start - own_start) <= order_stream.CATCH_UP:
                partners.append(partner)
                window_start = min(window_start, partner_start)
    run.window_start = window_start
    history.heartbeat(run, window_start=window_start)
    for partner in partners:
        joined = history.start_companion_run(run, partner.id)
        if joined is not None:  # else it has a run of its own going
            joined.channel = partner
            stream[partner.marketplace_id] = joined
    return stream


def _import_streamed_page(
    run: SyncRun,
    stream: dict[str, SyncRun],
    organization: Organization,
    orders: Sequence[AmazonOrder],
    client: AmazonClient,
    unreadable: list[history.Entry],
) -> None:
    """Each order of a page into its own marketplace's channel, recorded in that channel's run
    (a transaction per channel). What cannot be placed is the lead run's failure."""
    by_run: dict[int, list[AmazonOrder]] = {}
    for amazon_order in orders:
        streamed_run = stream.get(amazon_order.marketplace_id)
        if streamed_run is None and len(stream) == 1:
            streamed_run = run  # one marketplace asked for: Amazon's answer is that one's
        if streamed_run is None:
            unreadable.append(
                history.Entry(
                    SyncRecord.RecordType.ORDER,
                    amazon_order.order_id,
                    "failed",
                    f"Amazon gave this order for marketplace {amazon_order.marketplace_id!r}, "
                    "which this request did not ask for",
                )
            )
            continue
        by_run.setdefault(streamed_run.id, []).append(amazon_order)
    for streamed_run in stream.values():
        batch = by_run.get(streamed_run.id, [])
        records = unreadable if streamed_run is run else []
        if batch or records:
            import_orders(
                streamed_run.channel, organization, batch, client, run=streamed_run, records=records
            )


def _token_refused(rejected: AmazonRejected) -> bool:
    """Amazon refused the paginationToken: a request that carries one has nothing else to
    refuse. Expired or not, the answer is the same 400 InvalidInput, whose message names no
    reason, so it is never parsed."""
    return rejected.operation == "searchOrders" and (rejected.status, rejected.code) == (
        400,
        "InvalidInput",
    )


def _wants_report(run: SyncRun, client: AmazonClient) -> bool:
    """A window holding more orders than searchOrders' burst serves at once goes through the
    orders report: a few calls for any number of orders instead of one call per 100 orders
    at one call per three minutes. Decided from a one-page estimate."""
    if run.window_start is None or run.trigger == SyncRun.Trigger.AUTOMATIC:
        return False
    if timezone.now() - run.window_start < REPORT_MIN_WINDOW:
        return False
    estimate = estimate_orders(client, run.window_start, run.window_end)
    return not estimate.exact and estimate.count > REPORT_THRESHOLD


def _sync_from_orders_report(
    run: SyncRun, client: AmazonClient, organization: Organization
) -> None:
    # The cursor is "orders-report:<report id>:<orders already imported>", so that a retried
    # run resumes at the batch it had reached instead of asking for every order again.
    report_id, _, position = run.cursor.removeprefix(REPORT_CURSOR).partition(":")
    resume_at = int(position or 0)
    if not report_id:
        assert run.window_start is not None
        end = run.window_end
        if end is not None and end > timezone.now() - SEARCH_LAG:
            end = None
        history.heartbeat(run)  # no report is asked for by a worker taken over meanwhile
        report_id = client.create_report(ORDERS_REPORT, start=run.window_start, end=end)
        history.heartbeat(run, cursor=REPORT_CURSOR + report_id)
    status = client.get_report(report_id)
    if status.status in {"IN_QUEUE", "IN_PROGRESS"}:
        raise WaitForAmazon(f"Amazon is preparing orders report {report_id}", _report_poll())
    if status.status != "DONE" or not status.document_id:
        history.heartbeat(run, cursor="")
        raise AmazonRejected(
            "getReport", 200, status.status, f"the orders report ended {status.status}"
        )
    orders, unreadable = parse_orders_report(client.download_report(status.document_id))
    history.heartbeat(run, done=resume_at, total=len(orders) + len(unreadable))
    if not resume_at:
        history.record_many(
            run,
            [
                history.Entry(SyncRecord.RecordType.ORDER, order_id, "failed", reason)
                for order_id, reason in unreadable
            ],
        )
    newest: datetime | None = max(
        (order.last_updated for order in orders[:resume_at]), default=None
    )
    for start in range(resume_at, len(orders), REPORT_BATCH):
        failed: list[history.Entry] = []
        batch: list[AmazonOrder] = []
        settled = _buyer_data_settled(run.channel, orders[start : start + REPORT_BATCH])
        for amazon_order in orders[start : start + REPORT_BATCH]:
            if (
                amazon_order.is_merchant_fulfilled
                and amazon_order.status in order_rules.CONFIRMED_STATUSES
                and amazon_order.order_id not in settled
            ):
                # To ship: the report lacks the order item ids confirmShipment needs (and the
                # address); ask for this order itself, before the batch's transaction opens.
                try:
                    amazon_order = client.get_order(amazon_order.order_id, personal_data=True)
                except AmazonRejected as rejected:
                    failed.append(
                        history.Entry(
                            SyncRecord.RecordType.ORDER,
                            amazon_order.order_id,
                            "failed",
                            str(rejected),
                        )
                    )
                    continue
            batch.append(amazon_order)
            if newest is None or amazon_order.last_updated > newest:
                newest = amazon_order.last_updated
        import_orders(run.channel, organization, batch, client, run=run, records=failed)
        done = min(start + REPORT_BATCH, len(orders))
        history.heartbeat(run, done=done, cursor=f"{REPORT_CURSOR}{report_id}:{done}")
    history.heartbeat(run, done=len(orders) + len(unreadable), cursor="")
    if run.trigger == SyncRun.Trigger.INITIAL and run.window_end is None:
        advance_checkpoint(run.channel, newest, page_upper_bound=None)


def _buyer_data_settled(channel: SalesChannel, orders: Sequence[AmazonOrder]) -> set[str]:
    """Orders of a report batch already imported with their address, or with what Amazon
    withheld of it recorded: they have Amazon's order item ids, and asking Amazon for them again
    would bring nothing new."""
    return {
        order.amazon_order_id
        for order in SalesOrder.objects.filter(
            channel=channel, amazon_order_id__in=[o.order_id for o in orders]
        ).only("amazon_order_id", "shipping_address", "personal_data_withheld")
        if order.personal_data_withheld or _has_address(order.shipping_address)
    }


def _has_address(address: Any) -> bool:
    return isinstance(address, dict) and bool(
        address.get("addressLine1") or address.get("postalCode")
    )


def _report_poll() -> float:
    return max(1.0, 30.0 / float(getattr(settings, "AMAZON_RATE_SCALE", 1.0)))


def _refetch_recorded_orders(
    run: SyncRun, client: AmazonClient, organization: Organization
) -> None:
    """Re-initiate: fetch again exactly the orders the earlier run brought in (getOrder each)."""
    order_ids = list(
        dict.fromkeys(
            SyncRecord.objects.filter(
                run_id=run.reinitiates_id, record_type=SyncRecord.RecordType.ORDER
            )
            .exclude(external_id="?")
            .order_by("id")
            .values_list("external_id", flat=True)
        )
    )
    position = int(run.cursor or 0)
    history.heartbeat(run, done=position, total=len(order_ids))
    for index in range(position, len(order_ids)):
        order_id = order_ids[index]
        try:
            amazon_order = client.get_order(order_id)
        except AmazonRejected as rejected:  # e.g. 404: the order is gone from Amazon
            history.record(
                run, SyncRecord.RecordType.ORDER, order_id, "failed", reason=str(rejected)
            )
        else:
            history.heartbeat(run)  # a worker taken over meanwhile imports nothing more
            outcome = import_order(run.channel, organization, amazon_order, client)
            history.record(
                run,
                SyncRecord.RecordType.ORDER,
                order_id,
                outcome.outcome,
                reason=outcome.reason,
                local_object=outcome.order,
            )
        history.heartbeat(run, done=index + 1, cursor=str(index + 1))


@dataclass(frozen=True)
class Estimate:
    count: int
    exact: bool
    # Of ``count``, how many would be imported or updated under the current order preference,
    # and why the others would not, most first (extrapolated like the count).
    imported: int = 0
    not_imported: tuple[tuple[str, int], ...] = ()


def estimate_orders(
    client: AmazonClient,
    start: datetime,
    end: datetime | None,
    *,
    channel: SalesChannel | None = None,
) -> Estimate:
    """Dry run: one searchOrders page of 100; exact when it is the only page, otherwise
    extrapolated from how much of the window those 100 orders cover. With ``channel``, the
    page's orders are also sorted into those a run would import and those it would skip."""
    now = timezone.now()
    if end is not None and end > now - SEARCH_LAG:
        end = None
    page = client.search_orders(last_updated_after=start, last_updated_before=end)
    count = len(page.orders) + len(page.invalid)
    scale = 1.0
    exact = not page.next_token or not page.orders
    if not exact:
        window_end = end or page.last_updated_before or now
        covered = max(o.last_updated for o in page.orders) - start
        if covered.total_seconds() > 0:
            scale = (window_end - start) / covered
    if channel is None:
        return Estimate(int(count * scale), exact=exact)
    reasons: dict[str, int] = {}
    imported = 0
    organization = Organization.load()
    existing = {
        order.amazon_order_id: order
        for order in SalesOrder.objects.filter(
            channel=channel, amazon_order_id__in=[o.order_id for o in page.orders]
        )
    }
    for amazon_order in page.orders:
        known = existing.get(amazon_order.order_id)
        if known is not None:
            reason = order_rules.UP_TO_DATE_REASON if _unchanged(known, amazon_order) else None
        else:
            reason = order_rules.skip_reason(organization, amazon_order.status)
        if reason is None:
            imported += 1
        else:
            reasons[reason] = reasons.get(reason, 0) + 1
    if page.invalid:
        reasons["Amazon's answer for it could not be read"] = len(page.invalid)
    ranked = sorted(reasons.items(), key=lambda entry: (-entry[1], entry[0]))
    return Estimate(
        int(count * scale),
        exact=exact,
        imported=int(imported * scale),
        not_imported=tuple((reason, int(number * scale)) for reason, number in ranked),
    )


def advance_checkpoint(
    channel: SalesChannel, newest_seen: datetime | None, *, page_upper_bound: datetime | None
) -> None:
    """Move forward only: Amazon's own upper bound when it gives one, else the newest order."""
    candidate = page_upper_bound or newest_seen
    if candidate is None:
        return
    with transaction.atomic():
        locked = SalesChannel.objects.select_for_update().get(id=channel.id)
        if locked.orders_checkpoint is None or candidate > locked.orders_checkpoint:
            locked.orders_checkpoint = candidate
            locked.save(update_fields=["orders_checkpoint", "updated_at"])
            channel.orders_checkpoint = candidate


def import_order(
    channel: SalesChannel,
    organization: Organization,
    amazon_order: AmazonOrder,
    client: AmazonClient | None,
) -> OrderOutcome:
    """Create or update one sales order; never raises for a bad order, returns the failure."""
    return import_orders(channel, organization, (amazon_order,), client)[0]


def import_orders(
    channel: SalesChannel,
    organization: Organization,
    amazon_orders: Sequence[AmazonOrder],
    client: AmazonClient | None,
    *,
    run: SyncRun | None = None,
    records: Sequence[history.Entry] = (),
) -> list[OrderOutcome]:
    """Create or update a page of sales orders in one transaction; with ``run``, the page's
    sync records (``records`` first, then one per order) are written in it too.

    Never raises for a bad order: returns its failure, one outcome per order. Buyer data is
    asked of Amazon before the transaction opens."""
    context = PageContext.load(channel, amazon_orders)
    orders, interrupted = _with_buyer_data(organization, amazon_orders, context, client)
    if interrupted is not None:
        records = ()  # written by the attempt that finishes the page
    try:
        with transaction.atomic():
            outcomes = _import_page(channel, organization, orders, context)
            _record(run, records, orders, outcomes)
    except DatabaseError as error:
        # The database refused a row of the page (an order another worker inserted meanwhile,
        # a value too long for its column): again, order by order, so that only the bad one
        # fails. The rolled-back page may have created items: read everything again.
        logger.warning("Orders imported one by one: the page's batch was refused: %s", error)
        context = PageContext.load(channel, orders)
        with transaction.atomic():
            outcomes = [_import_one(channel, organization, order, context) for order in orders]
            _record(run, records, orders, outcomes)
    if interrupted is not None:
        # The orders before the failure are in; the page (its cursor unchanged) is read again
        # when the run is retried, and those orders are then seen unchanged.
        raise interrupted
    return outcomes


def _with_buyer_data(
    organization: Organization,
    amazon_orders: Sequence[AmazonOrder],
    context: PageContext,
    client: AmazonClient | None,
) -> tuple[list[AmazonOrder], AmazonError | None]:
    """Buyer and address, only for new merchant orders still to ship (Data Protection Policy),
    one ``getOrder`` each, as far as its quota allows right now.

    getOrder sustains one call per 2 s: waiting for it would hold a page of 100 new orders
    (their stock uncommitted) for minutes. An order Amazon cannot be asked about now
    (throttled, down) is imported without its buyer, ``buyer_data_deferred``, and marked
    ``awaiting_details``; ``complete_awaiting_orders`` asks for it at the quota's pace. Only
    Amazon refusing this one order lets it in without buyer data for good; an expired or
    revoked authorization stops the page (returned with the orders before it).

    Amazon withholds the buyer's data from an application without its restricted roles (the
    fields are simply absent, see ``marketplaces.buyer_data``): once an answer came with none
    of it, the page's other orders are not asked for, and are recorded as withheld too."""
    orders: list[AmazonOrder] = []
    withheld_from_app = False
    deferred = False
    for amazon_order in amazon_orders:
        existing = context.existing.get(amazon_order.order_id)
        if (
            client is not None
            # New, or imported without its buyer (``awaiting_details``).
            and (existing is None or existing.awaiting_details)
            and _needs_buyer_data(organization, amazon_order)
        ):
            if withheld_from_app:
                # The same application and roles a moment later: Amazon's answer would be the
                # same, so the order is taken as asked for and answered without buyer data.
                amazon_order = dataclasses.replace(amazon_order, personal_data_requested=True)
            elif deferred:
                amazon_order = dataclasses.replace(amazon_order, buyer_data_deferred=True)
            else:
                try:
                    with _waiting_at_most(client, 0.0):
                        amazon_order = client.get_order(amazon_order.order_id, personal_data=True)
                except AmazonRejected as error:
                    logger.warning(
                        "Order %s imported without buyer data: %s", amazon_order.order_id, error
                    )
                except AmazonError as error:
                    if not error.transient:
                        return orders, error
                    # The rest of the page is not asked for either: the quota is spent.
                    deferred = True
                    amazon_order = dataclasses.replace(amazon_order, buyer_data_deferred=True)
                else:
                    withheld_from_app = not (
                        amazon_order.buyer_name
                        or amazon_order.buyer_email
                        or amazon_order.has_address
                    )
        orders.append(amazon_order)
    return orders, None


def _needs_buyer_data(organization: Organization, amazon_order: AmazonOrder) -> bool:
    """A merchant order to ship that is (or will be) imported, asked without buyer data."""
    return (
        amazon_order.is_merchant_fulfilled
        and amazon_order.status in order_rules.CONFIRMED_STATUSES
        and not amazon_order.personal_data_requested
        and order_rules.skip_reason(organization, amazon_order.status) is None
    )


@contextmanager
def _waiting_at_most(client: AmazonClient, seconds: float) -> Iterator[None]:
    """Calls made inside wait at most ``seconds`` for the seller's limiter: AmazonThrottled
    beyond, without a call."""
    previous = client.max_wait
    client.max_wait = min(previous, seconds)
    try:
        yield
    finally:
        client.max_wait = previous


def complete_awaiting_orders(channel: SalesChannel, client: AmazonClient, *, seconds: float) -> int:
    """Ask Amazon, oldest first, for the orders of ``channel`` that await its details (imported
    from their notification, or without their buyer while getOrder's quota was spent), for at
    most ``seconds`` at the quota's pace; returns how many were completed. A transient failure
    ends the turn (the next one goes on); Amazon refusing an order ends its wait for good."""
    organization = Organization.load()
    deadline = time.monotonic() + seconds
    awaiting = SalesOrder.objects.filter(channel=channel, awaiting_details=True).order_by(
        "purchased_at", "id"
    )
    completed = 0
    for order_id, fulfillment, status in awaiting.values_list(
        "amazon_order_id", "fulfillment_channel", "status"
    )[:COMPLETE_BATCH]:
        remaining = deadline - time.monotonic()
        if remaining <= 0:
            break
        to_ship = fulfillment == FulfillmentChannel.MERCHANT and status in (
            SalesOrder.Status.CONFIRMED,
            SalesOrder.Status.PARTIALLY_SHIPPED,
            SalesOrder.Status.ON_HOLD,
        )
        try:
            with _waiting_at_most(client, remaining):
                amazon_order = client.get_order(order_id, personal_data=to_ship)
        except AmazonRejected as error:
            logger.warning("Order %s keeps what it has of Amazon's details: %s", order_id, error)
            SalesOrder.objects.filter(channel=channel, amazon_order_id=order_id).update(
                awaiting_details=False
            )
            continue
        except AmazonError as error:
            if not error.transient:
                raise
            logger.info("Orders awaiting Amazon's details wait for the next turn: %s", error)
            break
        outcome = import_order(channel, organization, amazon_order, None)
        if outcome.outcome == SyncRecord.Outcome.FAILED:
            logger.warning("Order %s could not be completed: %s", order_id, outcome.reason)
            continue
        completed += 1
    return completed


def _withheld(amazon_order: AmazonOrder) -> str:
    """What Amazon withheld of the buyer's data from this answer (nothing when not asked)."""
    if not amazon_order.personal_data_requested:
        return ""
    return buyer_data.withheld_codes(
        merchant=amazon_order.is_merchant_fulfilled,
        status=amazon_order.status,
        has_name=bool(amazon_order.buyer_name),
        has_email=bool(amazon_order.buyer_email),
        has_address=amazon_order.has_address,
    )


def _buyer_data_changes(order: SalesOrder, amazon_order: AmazonOrder) -> dict[str, Any]:
    """The buyer fields Amazon's answer brings that the order lacks or holds otherwise, and
    what Amazon still withholds. What Amazon leaves out never blanks what the order holds
    (erasure 30 days after delivery does that)."""
    if not amazon_order.personal_data_requested:
        return {}
    changes: dict[str, Any] = {
        name: value
        for name, value in (
            ("buyer_name", amazon_order.buyer_name),
            ("buyer_email", amazon_order.buyer_email),
            ("buyer_phone", amazon_order.buyer_phone),
        )
        if value and value != getattr(order, name)
    }
    address = amazon_order.delivery_address
    if (
        address
        and address != order.shipping_address
        and (amazon_order.has_address or not _has_address(order.shipping_address))
    ):
        changes["shipping_address"] = address
    withheld = buyer_data.withheld_codes(
        merchant=amazon_order.is_merchant_fulfilled,
        status=amazon_order.status,
        has_name=bool(amazon_order.buyer_name or order.buyer_name),
        has_email=bool(amazon_order.buyer_email or order.buyer_email),
        has_address=amazon_order.has_address or _has_address(order.shipping_address),
    )
    if withheld != order.personal_data_withheld:
        changes["personal_data_withheld"] = withheld
    return changes


def _record(
    run: SyncRun | None,
    records: Sequence[history.Entry],
    orders: Sequence[AmazonOrder],
    outcomes: Sequence[OrderOutcome],
) -> None:
    if run is None:
        return
    # A page read again (a retried page, or a window listed again after its pagination token
    # expired) meets orders this run already recorded: one seen unchanged, or skipped again for
    # the same reason, is recorded in this run once.
    seen_before = [
        amazon_order.order_id
        for amazon_order, outcome in zip(orders, outcomes, strict=True)
        if outcome.unchanged or outcome.outcome == SyncRecord.Outcome.SKIPPED
    ]
    recorded = (
        set(
            SyncRecord.objects.filter(
                run=run, record_type=SyncRecord.RecordType.ORDER, external_id__in=seen_before
            ).values_list("external_id", "outcome", "reason")
        )
        if seen_before
        else set()
    )
    recorded_ids = {order_id for order_id, _, _ in recorded}
    entries = list(records)
    for amazon_order, outcome in zip(orders, outcomes, strict=True):
        order_id = amazon_order.order_id
        if outcome.unchanged and order_id in recorded_ids:
            continue
        if (order_id, outcome.outcome, outcome.reason) in recorded:
            continue
        entries.extend(outcome.entries(order_id))
    # In the page's transaction: a run taken over meanwhile (RunTakenOver) writes none of it.
    history.record_many(run, entries)


def _import_page(
    channel: SalesChannel,
    organization: Organization,
    orders: Sequence[AmazonOrder],
    context: PageContext,
) -> list[OrderOutcome]:
    """New orders are built in memory and written for the whole page at once; an order seen
    again unchanged costs nothing; a changed one (shipped, cancelled) is updated in its own
    savepoint. Must run inside ``transaction.atomic``."""
    outcomes: list[OrderOutcome | None] = [None] * len(orders)
    wanted: list[tuple[int, SalesOrder]] = []
    for index, amazon_order in enumerate(orders):
        existing = context.existing.get(amazon_order.order_id)
        if existing is not None:
            if _unchanged(existing, amazon_order):
                outcomes[index] = _up_to_date(existing)
            else:
                outcomes[index] = _import_one(channel, organization, amazon_order, context)
            continue
        skip = order_rules.skip_reason(organization, amazon_order.status)
        if skip is not None:
            outcomes[index] = OrderOutcome(SyncRecord.Outcome.SKIPPED, None, skip)
            continue
        try:
            order = _new_order(channel, organization, amazon_order, context)
        except Exception as error:  # noqa: BLE001 - recorded with its reason, the page goes on
            logger.exception("Order %s could not be imported", amazon_order.order_id)
            outcomes[index] = OrderOutcome(SyncRecord.Outcome.FAILED, None, _reason(error))
        else:
            wanted.append((index, order))
    _create_missing_items([orders[index] for index, _ in wanted], context)
    _write([_build(order, orders[index], context) for index, order in wanted])
    for index, order in wanted:
        outcomes[index] = OrderOutcome(SyncRecord.Outcome.SYNCED, order)
    return [outcome for outcome in outcomes if outcome is not None]


def _import_one(
    channel: SalesChannel,
    organization: Organization,
    amazon_order: AmazonOrder,
    context: PageContext,
) -> OrderOutcome:
    """One order in its own savepoint (a changed order, or a page the batch could not write)."""
    existing = context.existing.get(amazon_order.order_id)
    if existing is None:
        skip = order_rules.skip_reason(organization, amazon_order.status)
        if skip is not None:
            return OrderOutcome(SyncRecord.Outcome.SKIPPED, None, skip)
    elif _unchanged(existing, amazon_order):
        return _up_to_date(existing)
    try:
        with transaction.atomic():
            if existing is None:
                order = _create(channel, organization, amazon_order, context)
            else:
                order = _upsert(channel, organization, amazon_order, context)
    except IntegrityError:
        # Another worker inserted it between our read and our insert: update theirs.
        try:
            with transaction.atomic():
                order = _upsert(channel, organization, amazon_order, context)
        except Exception as error:  # noqa: BLE001 - one order's failure never stops the run
            return OrderOutcome(SyncRecord.Outcome.FAILED, None, _reason(error))
    except Exception as error:  # noqa: BLE001 - recorded with its reason, the run goes on
        logger.exception("Order %s could not be imported", amazon_order.order_id)
        return OrderOutcome(SyncRecord.Outcome.FAILED, None, _reason(error))
    return OrderOutcome(SyncRecord.Outcome.SYNCED, order)


def _up_to_date(order: SalesOrder) -> OrderOutcome:
    return OrderOutcome(
        SyncRecord.Outcome.SKIPPED, order, order_rules.UP_TO_DATE_REASON, unchanged=True
    )


def _unchanged(order: SalesOrder, amazon_order: AmazonOrder) -> bool:
    """Amazon's view is older than ours (an out-of-order page) or the one we already applied
    (the overlap window, a retried page): nothing to write. Amazon's lastUpdatedTime moves
    with every change; buyer data it may add without one."""
    if amazon_order.last_updated < order.amazon_updated_at:
        return True
    if order.awaiting_details:
        # Imported while getOrder's quota was spent: Amazon's own view of the order completes
        # it (a notification or a report does not).
        return not amazon_order.completes_details
    return (
        amazon_order.last_updated == order.amazon_updated_at
        and amazon_order.status == order.amazon_status
        and (amazon_order.latest_ship is None or amazon_order.latest_ship == order.latest_ship_date)
        and (
            order.personal_data_erased_at is not None
            or not _buyer_data_changes(order, amazon_order)
        )
    )


@dataclass
class NewOrder:
    """A sales order built in memory, with everything to write for it."""

    order: SalesOrder
    lines: list[SalesOrderLine]
    taxes: list[SalesOrderTax]
    stock_changes: list[stock.OrderStockChange] = field(default_factory=list)


def _create_missing_items(orders: Sequence[AmazonOrder], context: PageContext) -> None:
    """SKUs nobody knows become unconfirmed items: one INSERT and one SELECT for the page."""
    names: dict[str, str] = {}
    for amazon_order in orders:
        for line in amazon_order.items:
            if line.seller_sku not in context.items:
                names.setdefault(line.seller_sku, line.title or line.seller_sku)
    if not names:
        return
    Item.objects.bulk_create(
        [Item(sku=sku, name=name, status=Item.Status.UNCONFIRMED) for sku, name in names.items()],
        ignore_conflicts=True,
    )
    context.items.update({item.sku: item for item in Item.objects.filter(sku__in=names)})


def _new_order(
    channel: SalesChannel,
    organization: Organization,
    amazon_order: AmazonOrder,
    context: PageContext,
) -> SalesOrder:
    """The sales order without its lines, in memory; a bad order (amounts out of range, no
    warehouse to take stock from) raises here, before anything of the page is written."""
    merchant = amazon_order.is_merchant_fulfilled
    order = SalesOrder(
        channel=channel,
        amazon_order_id=amazon_order.order_id,
        amazon_status=amazon_order.status,
        fulfillment_channel=FulfillmentChannel.MERCHANT if merchant else FulfillmentChannel.AMAZON,
        warehouse=context.warehouse_for(channel, organization, amazon_order),
        currency=amazon_order.currency,
        purchased_at=amazon_order.created,
        amazon_updated_at=amazon_order.last_updated,
        latest_ship_date=amazon_order.latest_ship,
        awaiting_details=amazon_order.from_notification or amazon_order.buyer_data_deferred,
        buyer_name=amazon_order.buyer_name,
        buyer_email=amazon_order.buyer_email,
        buyer_phone=amazon_order.buyer_phone,
        shipping_address=amazon_order.delivery_address,
        personal_data_withheld=_withheld(amazon_order),
    )
    if amazon_order.buyer_cancel_requested:
        order_rules.note_buyer_cancel_request(
            order, amazon_order.buyer_cancel_reason, amazon_order.last_updated
        )
    _compute_totals(order, amazon_order)
    return order


def _build(order: SalesOrder, amazon_order: AmazonOrder, context: PageContext) -> NewOrder:
    """What ``_create`` and ``_apply_amazon_status`` write for a new order, built in memory."""
    lines = [_new_line(amazon_line, context) for amazon_line in amazon_order.items]
    new_order = NewOrder(
        order,
        lines,
        [
            tax
            for line, amazon_line in zip(lines, amazon_order.items, strict=True)
            for tax in _taxes(line, amazon_line)
        ],
    )
    if order_rules.hold_for_unconfirmed_items(order, lines):
        return new_order  # nothing is committed while on hold
    new_order.stock_changes = order_rules.plan_new_order(
        order,
        lines,
        [_shipped_on_amazon(line, amazon_order) for line in lines],
        shipped_at=amazon_order.shipped or amazon_order.last_updated,
    )
    return new_order


def _new_line(amazon_line: AmazonOrderItem, context: PageContext) -> SalesOrderLine:
    return SalesOrderLine(
        amazon_order_item_id=amazon_line.order_item_id,
        item=_item_for(amazon_line, context),
        seller_sku=amazon_line.seller_sku,
        title=amazon_line.title[:500],
        quantity=amazon_line.quantity,
        unit_price=amazon_line.unit_price,
        shipping_price=amazon_line.shipping,
        promotion_discount=amazon_line.item_discount,
        shipping_discount=amazon_line.shipping_discount,
        quantity_cancelled=_cancelled_units(amazon_line),
        buyer_cancel_requested=amazon_line.buyer_cancel_requested,
    )


def _cancelled_units(amazon_line: AmazonOrderItem) -> int:
    """Units Amazon counts as cancelled on a line cancelled on its own: all it had not shipped."""
    if not amazon_line.cancelled_by:
        return 0
    return max(0, amazon_line.quantity - amazon_line.quantity_shipped)


def _write(new_orders: list[NewOrder]) -> None:
    """The page's new orders, lines, taxes and comments, one INSERT each; the listings Amazon
    lowered by itself in one UPDATE; the stock through the stock service's batch."""
    if not new_orders:
        return
    SalesOrder.objects.bulk_create([new_order.order for new_order in new_orders])
    lines = []
    for new_order in new_orders:
        for line in new_order.lines:
            line.order = new_order.order
            lines.append(line)
    SalesOrderLine.objects.bulk_create(lines)
    SalesOrderTax.objects.bulk_create([tax for new_order in new_orders for tax in new_order.taxes])
    SalesOrderComment.objects.bulk_create(
        [SalesOrderComment(order=new_order.order, text=PAYMENT_COMMENT) for new_order in new_orders]
    )
    order_rules.forget_pushed_quantities(
        new_orders[0].order.channel_id,
        {
            line.item_id
            for new_order in new_orders
            if new_order.order.fulfillment_channel == FulfillmentChannel.MERCHANT
            for line in new_order.lines
        },
    )
    stock.apply_order_changes([change for o in new_orders for change in o.stock_changes])


def _reason(error: Exception) -> str:
    messages = getattr(error, "messages", None)
    if messages:
        return " ".join(str(m) for m in messages)
    return f"{type(error).__name__}: {error}"


def _item_for(line: AmazonOrderItem, context: PageContext) -> Item:
    """The listing's item, else the item with that SKU, else a new unconfirmed item."""
    item = context.items.get(line.seller_sku)
    if item is None:
        item, _ = Item.objects.get_or_create(
            sku=line.seller_sku,
            defaults={"name": line.title or line.seller_sku, "status": Item.Status.UNCONFIRMED},
        )
        context.items[line.seller_sku] = item
    return item


def _upsert(
    channel: SalesChannel,
    organization: Organization,
    amazon_order: AmazonOrder,
    context: PageContext,
) -> SalesOrder:
    order = (
        SalesOrder.objects.select_for_update()
        .filter(channel=channel, amazon_order_id=amazon_order.order_id)
        .first()
    )
    if order is None:
        return _create(channel, organization, amazon_order, context)
    if amazon_order.last_updated < order.amazon_updated_at:
        return order  # an older view of the order (overlap, out-of-order page): ignore
    if order.awaiting_details and amazon_order.completes_details:
        _complete_details(order, amazon_order, context)
    _update(order, amazon_order)
    return order


def _create(
    channel: SalesChannel,
    organization: Organization,
    amazon_order: AmazonOrder,
    context: PageContext,
) -> SalesOrder:
    """A new sales order, its lines, taxes and comment in a handful of statements; stock is
    committed (or shipped) through the stock services as for any other change."""
    order = _new_order(channel, organization, amazon_order, context)
    lines = [_new_line(amazon_line, context) for amazon_line in amazon_order.items]
    held = order_rules.hold_for_unconfirmed_items(order, lines)
    order.save()
    for line in lines:
        line.order = order
    SalesOrderLine.objects.bulk_create(lines)
    SalesOrderTax.objects.bulk_create(
        tax
        for line, amazon_line in zip(lines, amazon_order.items, strict=True)
        for tax in _taxes(line, amazon_line)
    )
    SalesOrderComment.objects.create(order=order, text=PAYMENT_COMMENT)
    order_rules.amazon_moved_its_quantity(order, {line.item_id for line in lines})
    if not held:
        _apply_amazon_status(order, amazon_order, lines)
    return order


def _taxes(line: SalesOrderLine, amazon_line: AmazonOrderItem) -> list[SalesOrderTax]:
    collector = (
        SalesOrderTax.Collector.MARKETPLACE
        if amazon_line.marketplace_collects_tax
        else SalesOrderTax.Collector.SELLER
    )
    return [
        SalesOrderTax(line=line, component=component, collector=collector, amount=amount)
        for component, amount in (
            (SalesOrderTax.Component.ITEM, amazon_line.item_tax),
            (SalesOrderTax.Component.SHIPPING, amazon_line.shipping_tax),
            (SalesOrderTax.Component.GIFT_WRAP, amazon_line.gift_wrap_tax),
        )
        if amount
    ]


def _compute_totals(order: SalesOrder, amazon_order: AmazonOrder) -> None:
    items = amazon_order.items
    order.subtotal = sum((i.item_subtotal for i in items), Decimal("0"))
    order.shipping_total = sum((i.shipping for i in items), Decimal("0"))
    order.discount_total = sum((i.item_discount + i.shipping_discount for i in items), Decimal("0"))
    order.tax_total = sum(
        (i.item_tax + i.shipping_tax + i.gift_wrap_tax for i in items), Decimal("0")
    )
    computed = order.subtotal + order.shipping_total + order.tax_total - order.discount_total
    order.total = amazon_order.grand_total if amazon_order.grand_total is not None else computed
    for amount in (
        order.subtotal,
        order.shipping_total,
        order.discount_total,
        order.tax_total,
        order.total,
    ):
        if abs(amount) >= MAX_AMOUNT:
            # Rolled back with the rest of the order: it is a failed record with this reason.
            raise ValueError(f"the order's amounts are out of range ({amount} CAD)")


def _complete_details(order: SalesOrder, amazon_order: AmazonOrder, context: PageContext) -> None:
    """An order awaiting Amazon's details gets them from Amazon's own view of it: titles, prices,
    discounts, taxes, totals (the buyer follows in ``_update``, unless this page could not ask
    for it either: it then keeps awaiting). Amazon's lines decide: one the notification did not
    list is added (``_update`` commits its stock), a quantity Amazon counts otherwise is
    Amazon's."""
    lines = {line.amazon_order_item_id: line for line in order.lines.select_for_update()}
    completed, added = [], []
    for amazon_line in amazon_order.items:
        line = lines.get(amazon_line.order_item_id)
        if line is None:
            line = _new_line(amazon_line, context)
            line.order = order
            added.append(line)
            continue
        line.title = amazon_line.title[:500] or line.title
        line.quantity = max(amazon_line.quantity, line.quantity_shipped + line.quantity_cancelled)
        line.unit_price = amazon_line.unit_price
        line.shipping_price = amazon_line.shipping
        line.promotion_discount = amazon_line.item_discount
        line.shipping_discount = amazon_line.shipping_discount
        completed.append(line)
    SalesOrderLine.objects.bulk_update(
        completed,
        [
            "title",
            "quantity",
            "unit_price",
            "shipping_price",
            "promotion_discount",
            "shipping_discount",
        ],
    )
    SalesOrderLine.objects.bulk_create(added)
    by_id = {line.amazon_order_item_id: line for line in [*completed, *added]}
    SalesOrderTax.objects.filter(line__order=order).delete()
    SalesOrderTax.objects.bulk_create(
        tax
        for amazon_line in amazon_order.items
        for tax in _taxes(by_id[amazon_line.order_item_id], amazon_line)
    )
    order.currency = amazon_order.currency
    _compute_totals(order, amazon_order)
    # Still without its buyer when getOrder's quota was spent again for this page.
    order.awaiting_details = amazon_order.buyer_data_deferred
    # Saved with the rest of the order by ``_update``.


def _update(order: SalesOrder, amazon_order: AmazonOrder) -> None:
    order.amazon_status = amazon_order.status
    order.amazon_updated_at = amazon_order.last_updated
    if amazon_order.latest_ship is not None:
        # Amazon moves the ship-by date (a delayed shipment); a report says nothing of it.
        order.latest_ship_date = amazon_order.latest_ship
    if not order.personal_data_erased_at:
        for name, value in _buyer_data_changes(order, amazon_order).items():
            setattr(order, name, value)
    if amazon_order.buyer_cancel_requested:
        order_rules.note_buyer_cancel_request(
            order, amazon_order.buyer_cancel_reason, amazon_order.last_updated
        )
        order.lines.filter(
            amazon_order_item_id__in=[
                item.order_item_id for item in amazon_order.items if item.buyer_cancel_requested
            ],
            buyer_cancel_requested=False,
        ).update(buyer_cancel_requested=True)
    order.save()
    if order.status == SalesOrder.Status.ON_HOLD:
        if amazon_order.status == order_rules.CANCELLED:
            order_rules.cancel(order)
        return  # nothing is committed while on hold; release_hold applies Amazon's status
    _apply_amazon_status(order, amazon_order)


def _apply_amazon_status(
    order: SalesOrder, amazon_order: AmazonOrder, lines: list[SalesOrderLine] | None = None
) -> None:
    """Amazon's view of a confirmed order, in the domain's terms: its status and the units it
    counts as shipped per line. ``lines``: the order's lines when the caller just created them
    (nobody else can hold them yet); otherwise they are read and locked here."""
    if amazon_order.status == order_rules.CANCELLED:
        order_rules.cancel(order)
        return
    if lines is None:
        lines = order_rules.lock_lines(order)
    order_rules.apply_amazon_status(
        order,
        amazon_order.status,
        lines,
        [_shipped_on_amazon(line, amazon_order) for line in lines],
        shipped_at=amazon_order.shipped or amazon_order.last_updated,
        cancelled_units=[_cancelled_on_amazon(line, amazon_order) for line in lines],
    )


def _cancelled_on_amazon(line: SalesOrderLine, amazon_order: AmazonOrder) -> int:
    """Units of this line Amazon counts as cancelled (a line cancelled on its own). An orders
    report says nothing of it: 0, which never undoes a cancellation made here."""
    for item in amazon_order.items:
        if item.order_item_id == line.amazon_order_item_id:
            return _cancelled_units(item)
    return 0


def _shipped_on_amazon(line: SalesOrderLine, amazon_order: AmazonOrder) -> int:
    """Units of this line Amazon counts as shipped. Lines are matched by Amazon's order item
    id, or by SKU when one side came from an orders report (which has no item ids)."""
    if amazon_order.status == order_rules.SHIPPED:
        cancelled = max(line.quantity_cancelled, _cancelled_on_amazon(line, amazon_order))
        return line.quantity - cancelled
    for item in amazon_order.items:
        if item.order_item_id == line.amazon_order_item_id:
            return item.quantity_shipped
    same_sku = [item for item in amazon_order.items if item.seller_sku == line.seller_sku]
    return min(line.quantity, sum(item.quantity_shipped for item in same_sku))
