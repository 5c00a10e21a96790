"""Everything the simulated Amazon knows, behind one lock.

The HTTP layer (``app.py`` and ``api/``) takes ``state.lock``, calls :meth:`SimState.tick` to
let simulated time act (orders arrive and progress, reports and feeds finish), then reads or
changes state.
"""

from __future__ import annotations

import gc
import heapq
import random
import secrets
import threading
import uuid
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from .clock import SimClock, isoformat
from .data import (
    FBA_CHANNEL,
    MARKETPLACE_ID,
    MARKETPLACES,
    MX_MARKETPLACE_ID,
    US_MARKETPLACE_ID,
    Listing,
    Order,
    OrderLine,
    Package,
    generate_catalogue,
    generate_marketplace_catalogue,
    make_marketplace_order,
    make_order,
)
from .documents import (
    LISTINGS_FEED,
    LISTINGS_REPORT,
    Document,
    FeedValidator,
    encode_report,
    listings_report,
    load_feed_validator,
    orders_report,
    process_listings_feed,
    report_window_orders,
)
from .notifications import (
    FBA_INVENTORY_AVAILABILITY_CHANGES,
    ORDER_CHANGE,
    Destination,
    NotificationSettings,
    Outbox,
    Outgoing,
    Subscription,
    encode,
    envelope,
    fba_inventory_payload,
    order_change_payload,
)
from .order_feeds import (
    BAD_MESSAGE,
    BAD_REASON,
    CANCEL_REASONS,
    NOT_CANCELLABLE,
    ORDER_ACKNOWLEDGEMENT_FEED,
    UNKNOWN_ITEM,
    UNKNOWN_ORDER,
    UNPARSEABLE,
    AckMessage,
    FeedRefused,
    MessageResult,
    parse_acknowledgements,
    processing_report,
)
from .orders import ALL_INCLUDED, ALL_ROLES, OrderBook, order_json
from .ratelimit import TokenBuckets
from .returns import (
    MERCHANT_RETURNS_REPORT,
    RECEIVED,
    REFUND,
    RETURNS_REPORTS,
    SHIPMENT,
    LineAmounts,
    Return,
    Transaction,
    draw_disposition,
    fba_returns_report,
    line_amounts,
    merchant_returns_report,
    new_return,
    tax_components,
    transaction_id,
)

# Default credentials, printed at start-up and documented in docs/SIMULATOR.md.
DEFAULT_CLIENT_ID = "amzn1.application-oa2-client.simulator"
DEFAULT_CLIENT_SECRET = "simulator-secret"  # noqa: S105 - a documented fake for the local simulator
DEFAULT_SELLER_ID = "A3SIMULATORCA"
DEFAULT_REFRESH_TOKEN = "Atzr|simulator"  # noqa: S105 - a documented fake for the local simulator
DEFAULT_APPLICATION_ID = "amzn1.sp.solution.simulator"
DEFAULT_REDIRECT_URI = "http://127.0.0.1:8000/integrations/amazon/callback/"


def redirect_uri_for(port: int | str) -> str:
    """The product's OAuth callback when its web server listens on ``port`` on this machine."""
    return f"http://127.0.0.1:{port}/integrations/amazon/callback/"


ACCESS_TOKEN_SECONDS = 3600
AUTH_CODE_SECONDS = 300
DOCUMENT_URL_SECONDS = 300
PAGINATION_TOKEN_SECONDS = 24 * 3600

FAULT_KINDS = (
    "throttle",
    "server_error",
    "timeout",
    "malformed",
    "empty_body",
    "feed_fatal",
    "expired_document",
    "gzip_bomb",
    "revoked_refresh_token",
    "listing_edit",
)
# The marketplaces a seller's authorization covers and whether it sells in each (Sellers API
# getMarketplaceParticipations); the control API changes them.
DEFAULT_PARTICIPATIONS = {MARKETPLACE_ID: True, US_MARKETPLACE_ID: True, MX_MARKETPLACE_ID: True}
# The marketplaces besides Amazon.ca whose listings and orders the simulator holds, and how
# many orders each gets for one Amazon.ca order (the seller sells mostly on Amazon.ca).
OTHER_MARKETPLACES: dict[str, float] = {US_MARKETPLACE_ID: 0.5, MX_MARKETPLACE_ID: 1 / 6}


@dataclass
class SimConfig:
    seed: int = 1
    time_scale: float = 1.0
    start_time: datetime | None = None
    redirect_uri: str = DEFAULT_REDIRECT_URI
    enforce_rate_limits: bool = True
    # Mean simulated seconds between two new buyer orders; 0 turns the live stream off.
    order_interval_seconds: float = 600.0
    history_days: int = 30
    history_orders: int = 120
    # Catalogue size: standalone listings and variation families (parent + 3-7 children).
    standalone_listings: int = 150
    variation_families: int = 18
    # The one seller this simulator serves (its default refresh token belongs to it); load
    # tests run several simulators as several sellers.
    seller_id: str = DEFAULT_SELLER_ID
    # searchOrders only sees orders older than this (Amazon: "at least two minutes before").
    search_lag_seconds: float = 120.0
    report_queue_seconds: float = 10.0
    report_processing_seconds: float = 50.0
    feed_queue_seconds: float = 15.0
    feed_processing_seconds: float = 60.0
    models_dir: Path | None = None
    # The restricted roles the application holds (``orders.RESTRICTED_ROLES``): they decide
    # which personal data orders carry. All of them by default; ``POST /_sim/roles`` changes it.
    restricted_roles: frozenset[str] = ALL_ROLES
    # Keep every SP-API response (operation, status, body) in ``SimState.recorded``: the
    # contract tests validate what the server sent, whichever client made the call.
    record_responses: bool = False
    # Where notifications go: the SQS API endpoint (moto's server on 127.0.0.1 locally); None
    # keeps them in the outbox, failing and logged, until one is set (POST /_sim/notifications).
    sqs_endpoint_url: str | None = None
    # Simulated seconds between an order or FBA change and its notification being sent.
    notification_delay_seconds: float = 0.0
    # Shares of shipped orders (of those progressing on their own) a buyer returns, and that
    # get a refund without a return (a concession); docs/SIMULATOR.md.
    return_share: float = 0.08
    concession_share: float = 0.02
    # Transactions per listTransactions page (Amazon does not document its page size).
    transactions_page_size: int = 100


@dataclass
class Report:
    report_id: str
    report_type: str
    marketplace_ids: list[str]
    data_start: datetime
    data_end: datetime
    created: datetime
    status: str = "IN_QUEUE"
    processing_start: datetime | None = None
    processing_end: datetime | None = None
    document_id: str | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "reportId": self.report_id,
            "reportType": self.report_type,
            "marketplaceIds": list(self.marketplace_ids),
            "dataStartTime": isoformat(self.data_start),
            "dataEndTime": isoformat(self.data_end),
            "createdTime": isoformat(self.created),
            "processingStatus": self.status,
        }
        if self.processing_start:
            body["processingStartTime"] = isoformat(self.processing_start)
        if self.processing_end:
            body["processingEndTime"] = isoformat(self.processing_end)
        if self.document_id:
            body["reportDocumentId"] = self.document_id
        return body


@dataclass
class Feed:
    feed_id: str
    feed_type: str
    marketplace_ids: list[str]
    input_document_id: str
    seller_id: str
    created: datetime
    status: str = "IN_QUEUE"
    processing_start: datetime | None = None
    processing_end: datetime | None = None
    result_document_id: str | None = None
    force_fatal: bool = False

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "feedId": self.feed_id,
            "feedType": self.feed_type,
            "marketplaceIds": list(self.marketplace_ids),
            "createdTime": isoformat(self.created),
            "processingStatus": self.status,
        }
        if self.processing_start:
            body["processingStartTime"] = isoformat(self.processing_start)
        if self.processing_end:
            body["processingEndTime"] = isoformat(self.processing_end)
        if self.result_document_id:
            body["resultFeedDocumentId"] = self.result_document_id
        return body


@dataclass
class RefreshToken:
    token: str
    seller_id: str
    client_id: str
    revoked: bool = False


@dataclass
class AccessToken:
    token: str
    seller_id: str  # "" for a grantless token: it acts for the application, not a seller
    refresh_token: str
    expires: datetime
    client_id: str = DEFAULT_CLIENT_ID
    # The LWA scope of a grantless (client_credentials) token; None for a seller's token.
    scope: str | None = None

    @property
    def rate_limit_key(self) -> str:
        """Whose usage plan the call draws on: the seller's, or the application's."""
        return self.seller_id if self.scope is None else f"application:{self.client_id}"


@dataclass
class AuthCode:
    code: str
    seller_id: str
    expires: datetime
    used: bool = False


@dataclass
class DocumentUrl:
    document_id: str
    method: str  # GET (download) or PUT (upload)
    expires: datetime


@dataclass
class Fault:
    operation: str
    kind: str
    remaining: int
    seconds: float = 6.0
    status: int | None = None
    # A storm: each matching call fails with this probability (count is ignored) until the
    # simulated time ``until``.
    probability: float | None = None
    until: datetime | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "operation": self.operation,
            "kind": self.kind,
            "count": self.remaining,
            "seconds": self.seconds,
        }
        if self.status is not None:
            body["status"] = self.status
        if self.probability is not None:
            body["probability"] = self.probability
            body["until"] = isoformat(self.until) if self.until else None
        return body


@dataclass
class Counter:
    calls: int = 0
    throttled: int = 0
    errors: int = 0
    bytes: int = 0

    def as_json(self) -> dict[str, int]:
        return {
            "calls": self.calls,
            "throttled": self.throttled,
            "errors": self.errors,
            "bytes": self.bytes,
        }


@dataclass(order=True)
class _Event:
    when: datetime
    seq: int
    kind: str = field(compare=False)
    ref: str = field(compare=False)


class SimState:
    """Catalogue, orders, reports, feeds, documents, tokens, counters and faults."""

    def __init__(
        self, config: SimConfig, clock: SimClock, base_url: str = "http://127.0.0.1"
    ) -> None:
        self.config = config
        self.clock = clock
        self.base_url = base_url
        self.lock = threading.RLock()
        self.feed_validator: FeedValidator = load_feed_validator(config.models_dir)
        self.refresh_tokens: dict[str, RefreshToken] = {}
        self.access_tokens: dict[str, AccessToken] = {}
        self.auth_codes: dict[str, AuthCode] = {}
        self.recorded: list[tuple[str, int, bytes]] = []
        # The application's restricted roles: its registration, not the seller's data, so a
        # reset keeps them.
        self.roles: frozenset[str] = frozenset(config.restricted_roles)
        # Notifications: destinations (the application's) and subscriptions (the application's
        # for one seller) are registrations too, kept across a reset. Their ids, and each
        # notification's, are random UUIDs, never from the seed: the product keeps them, and a
        # restarted simulator must not repeat a NotificationId it would take for a duplicate.
        self.destinations: dict[str, Destination] = {}
        self.subscriptions: dict[str, Subscription] = {}
        self.notification_settings = NotificationSettings(
            delay_seconds=config.notification_delay_seconds,
            sqs_endpoint_url=config.sqs_endpoint_url,
        )
        self.outbox = Outbox(clock)
        self.outbox.endpoint_url = config.sqs_endpoint_url
        # Off while a reset replays history: only changes from now on are news.
        self.publishing = False
        self._install_default_refresh_token()
        self.reset(config.seed)

    # -- lifecycle ---------------------------------------------------------------------

    def reset(self, seed: int) -> None:
        """Fresh data from ``seed`` at the current simulated time; issued tokens stay valid."""
        with self.lock:
            self.publishing = False
            self.config.seed = seed
            now = self.clock.now().replace(microsecond=0)
            self.rng = random.Random(f"{seed}:ids")
            self.stream_rng = random.Random(f"{seed}:stream")
            self.listings: dict[str, Listing] = {
                listing.sku: listing
                for listing in generate_catalogue(
                    seed,
                    now,
                    standalone=self.config.standalone_listings,
                    families=self.config.variation_families,
                )
            }
            # Amazon.com's and Amazon.com.mx's listings, from their own generators; an
            # Amazon.com.mx FBA listing shares its Amazon.com listing's US-network stock.
            us_listings = generate_marketplace_catalogue(
                seed, now, US_MARKETPLACE_ID, list(self.listings.values())
            )
            mx_listings = generate_marketplace_catalogue(seed, now, MX_MARKETPLACE_ID, us_listings)
            self.catalogues: dict[str, dict[str, Listing]] = {
                MARKETPLACE_ID: self.listings,
                US_MARKETPLACE_ID: {listing.sku: listing for listing in us_listings},
                MX_MARKETPLACE_ID: {listing.sku: listing for listing in mx_listings},
            }
            # Their orders: own sequence numbers, stream, ids and package numbers, so Amazon.ca's
            # orders of a seed stay exactly what they were.
            self.market_rng = random.Random(f"{seed}:marketplaces:ids")
            self.market_stream_rng = {
                market: random.Random(f"{seed}:{market}:stream") for market in OTHER_MARKETPLACES
            }
            self.market_order_seq = dict.fromkeys(OTHER_MARKETPLACES, 0)
            self._market_pkg_seq = 0
            self.orders = OrderBook()
            self.events: list[_Event] = []
            self._event_seq = 0
            self.order_seq = 0
            self.reports: dict[str, Report] = {}
            self.feeds: dict[str, Feed] = {}
            self.documents: dict[str, Document] = {}
            self.document_urls: dict[str, DocumentUrl] = {}
            self.counters: dict[str, Counter] = {}
            self.faults: list[Fault] = []
            self.fault_rng = random.Random(f"{seed}:faults")
            self.notification_rng = random.Random(f"{seed}:notifications:faults")
            self.shipments: list[dict[str, Any]] = []
            # Returns by id, in the order they were requested; Finances transactions in the
            # order they were posted (posting times never go back, so the list stays sorted).
            self.returns: dict[str, Return] = {}
            self.transactions: list[Transaction] = []
            self.finance_rng = random.Random(f"{seed}:finances")
            # Orders the control API made: they do not progress (nor get returned) on their own.
            self.driven_orders: set[str] = set()
            self._pending_returns: dict[str, Return] = {}
            self._forced_dispositions: dict[str, str | None] = {}
            self.participations: dict[str, bool] = dict(DEFAULT_PARTICIPATIONS)
            self.buckets = TokenBuckets()
            self._report_seq = 0
            self._feed_seq = 0
            self._pkg_seq = 0
            self._install_default_refresh_token()
            self._generate_history(now)
            self._generate_market_history(now)
            interval = self.config.order_interval_seconds
            self.next_order_at: datetime | None = (
                now + timedelta(seconds=self.stream_rng.expovariate(1 / interval))
                if interval > 0
                else None
            )
            self.market_next_order_at: dict[str, datetime] = (
                {
                    market: now + timedelta(seconds=self._market_gap(market))
                    for market in OTHER_MARKETPLACES
                }
                if interval > 0
                else {}
            )
            self.publishing = True

    def _install_default_refresh_token(self) -> None:
        self.refresh_tokens[DEFAULT_REFRESH_TOKEN] = RefreshToken(
            DEFAULT_REFRESH_TOKEN, self.config.seller_id, DEFAULT_CLIENT_ID
        )

    def _generate_history(self, now: datetime) -> None:
        """Orders of the last ``history_days``, replayed through their lifecycle up to now."""
        count = self.config.history_orders
        if count <= 0:
            return
        span = self.config.history_days * 86400
        offsets = sorted(self.stream_rng.uniform(0, span) for _ in range(count))
        for offset in offsets:
            created = (now - timedelta(seconds=span - offset)).replace(microsecond=0)
            order = self._new_order(created)
            if order.fulfilled_by == "MERCHANT" and now - created > timedelta(days=2):
                # The seller shipped these before the simulator started.
                self._schedule(
                    created + timedelta(hours=self._order_rng(order).uniform(20, 44)),
                    "merchant_ship",
                    order.order_id,
                )
        self._run_events(now)

    def _market_gap(self, market: str) -> float:
        """Simulated seconds to the next buyer order on ``market`` (not Amazon.ca)."""
        interval = self.config.order_interval_seconds / OTHER_MARKETPLACES[market]
        return self.market_stream_rng[market].expovariate(1 / interval)

    def _generate_market_history(self, now: datetime) -> None:
        """Amazon.com's and Amazon.com.mx's orders of the last ``history_days``."""
        span = self.config.history_days * 86400
        for market, share in OTHER_MARKETPLACES.items():
            count = round(self.config.history_orders * share)
            rng = self.market_stream_rng[market]
            for offset in sorted(rng.uniform(0, span) for _ in range(count)):
                created = (now - timedelta(seconds=span - offset)).replace(microsecond=0)
                order = self._new_order(created, marketplace_id=market)
                if order.fulfilled_by == "MERCHANT" and now - created > timedelta(days=2):
                    self._schedule(
                        created + timedelta(hours=self._order_rng(order).uniform(20, 44)),
                        "merchant_ship",
                        order.order_id,
                    )
        self._run_events(now)

    # -- time --------------------------------------------------------------------------

    def now(self) -> datetime:
        return self.clock.now()

    def tick(self) -> datetime:
        """Let simulated time act up to now; returns now. Call with the lock held."""
        now = self.clock.now()
        if self.next_order_at is not None:
            interval = self.config.order_interval_seconds
            while True:
                # The earliest next order of any marketplace (Amazon.ca first on a tie).
                market, due = MARKETPLACE_ID, self.next_order_at
                for other, at in self.market_next_order_at.items():
                    if at < due:
                        market, due = other, at
                if due > now:
                    break
                created = due.replace(microsecond=0)
                self._run_events(created)
                self._new_order(created, marketplace_id=market)
                if market == MARKETPLACE_ID:
                    self.next_order_at += timedelta(
                        seconds=self.stream_rng.expovariate(1 / interval)
                    )
                else:
                    self.market_next_order_at[market] = due + timedelta(
                        seconds=self._market_gap(market)
                    )
        self._run_events(now)
        return now

    def _schedule(self, when: datetime, kind: str, ref: str) -> None:
        self._event_seq += 1
        heapq.heappush(self.events, _Event(when.replace(microsecond=0), self._event_seq, kind, ref))

    def _run_events(self, until: datetime) -> None:
        while self.events and self.events[0].when <= until:
            event = heapq.heappop(self.events)
            self._handle_event(event)

    def _handle_event(self, event: _Event) -> None:
        kind, when = event.kind, event.when
        if kind in ("return_request", "return_receive"):
            self._handle_return_event(kind, event.ref, when)
            return
        if kind == "concession":
            order = self.orders.by_id.get(event.ref)
            if order is not None:
                self._concession(order, when, None, None)
            return
        if kind in (
            "confirm",
            "cancel",
            "fba_ship",
            "buyer_cancel",
            "merchant_ship",
            "honour_cancel_request",
        ):
            order = self.orders.by_id.get(event.ref)
            if order is None:
                return
            if kind == "confirm" and order.status == "PENDING":
                self._set_status(order, "UNSHIPPED", when)
            elif kind == "cancel" and order.status == "PENDING":
                self._cancel(order, when, "BUYER", "Ordered by mistake")
            elif kind == "buyer_cancel" and order.status == "UNSHIPPED":
                self.request_cancellation(order, when, "No longer needed")
                if not self.publishing:
                    # Before the simulator started, the seller honoured the request.
                    self._schedule(
                        when + timedelta(hours=self._order_rng(order).uniform(0.5, 4)),
                        "honour_cancel_request",
                        order.order_id,
                    )
            elif (
                kind == "honour_cancel_request"
                and order.status == "UNSHIPPED"
                and order.buyer_cancel_reason is not None
            ):
                self._cancel(order, when, "BUYER", order.buyer_cancel_reason)
            elif kind in ("fba_ship", "merchant_ship") and order.status in (
                "UNSHIPPED",
                "PARTIALLY_SHIPPED",
            ):
                self._ship_all(order, when)
        elif kind == "report_start":
            report = self.reports[event.ref]
            report.status, report.processing_start = "IN_PROGRESS", when
        elif kind == "report_done":
            self._finish_report(self.reports[event.ref], when)
        elif kind == "feed_start":
            feed = self.feeds[event.ref]
            feed.status, feed.processing_start = "IN_PROGRESS", when
        elif kind == "feed_done":
            self._finish_feed(self.feeds[event.ref], when)

    # -- orders ------------------------------------------------------------------------

    def _order_rng(self, order: Order) -> random.Random:
        if order.marketplace_id == MARKETPLACE_ID:
            return random.Random(f"{self.config.seed}:order:{order.seq}:life")
        return random.Random(f"{self.config.seed}:{order.marketplace_id}:order:{order.seq}:life")

    def catalogue(self, marketplace_id: str) -> dict[str, Listing]:
        """The seller's listings on one marketplace, by SKU."""
        return self.catalogues[marketplace_id]

    def fba_pool(self, marketplace_id: str) -> list[Listing]:
        """The FBA SKUs of the fulfilment network serving ``marketplace_id``, each the listing
        holding its counts: Amazon.ca's own, or the US network's (for Amazon.com and
        Amazon.com.mx alike)."""
        holder = (
            MARKETPLACE_ID
            if MARKETPLACES[marketplace_id].fba_pool == MARKETPLACES[MARKETPLACE_ID].fba_pool
            else US_MARKETPLACE_ID
        )
        return [listing for listing in self.catalogues[holder].values() if listing.is_fba]

    def receive_inbound(self, marketplace_id: str, sku: str, units: int | None) -> Listing:
        """Amazon's network receives an inbound shipment of ``sku``: ``units`` (all that are
        inbound when None) move from inbound to fulfillable."""
        stock = self.catalogues[marketplace_id][sku].stock
        received = stock.inbound if units is None else units
        stock.inbound -= received
        stock.quantity += received
        stock.last_updated = self.now().replace(microsecond=0)
        self.fba_changed(stock, stock.last_updated)
        return stock

    def _new_order(
        self,
        created: datetime,
        *,
        fulfilled_by: str | None = None,
        skus: list[str] | None = None,
        status: str = "PENDING",
        lifecycle: bool = True,
        marketplace_id: str = MARKETPLACE_ID,
    ) -> Order:
        catalogue = self.catalogues[marketplace_id]
        if marketplace_id == MARKETPLACE_ID:
            self.order_seq += 1
            rng = random.Random(f"{self.config.seed}:order:{self.order_seq}")
            order = make_order(
                rng,
                self.order_seq,
                created,
                list(self.listings.values()),
                fulfilled_by=fulfilled_by,
                status=status,
                skus=skus,
            )
        else:
            self.market_order_seq[marketplace_id] += 1
            seq = self.market_order_seq[marketplace_id]
            order = make_marketplace_order(
                random.Random(f"{self.config.seed}:{marketplace_id}:order:{seq}"),
                seq,
                created,
                list(catalogue.values()),
                marketplace_id,
                fulfilled_by=fulfilled_by,
                status=status,
                skus=skus,
            )
        while order.order_id in self.orders.by_id:  # astronomically rare, but ids must be unique
            order.order_id = order.order_id[:-1] + str((int(order.order_id[-1]) + 1) % 10)
        moved: list[Listing] = []
        for line in order.lines:
            listing = catalogue[line.sku]
            # FBA: the units leave fulfillable for reserved in the network's stock.
            stock = listing.stock
            stock.quantity = max(0, stock.quantity - line.quantity)
            if listing.is_fba:
                stock.reserved += line.quantity
                stock.last_updated = created
                moved.append(stock)
            listing.last_updated = created
        self.orders.add(order)
        if not lifecycle:
            self.driven_orders.add(order.order_id)
        self.order_changed(order, created, reason="New order")
        for stock in moved:
            self.fba_changed(stock, created)
        if lifecycle:
            life = self._order_rng(order)
            if life.random() < 0.05:
                self._schedule(
                    created + timedelta(minutes=life.uniform(5, 60)), "cancel", order.order_id
                )
            else:
                self._schedule(
                    created + timedelta(minutes=life.uniform(5, 30)), "confirm", order.order_id
                )
            if order.fulfilled_by == "AMAZON":
                self._schedule(
                    created + timedelta(hours=life.uniform(2, 24)), "fba_ship", order.order_id
                )
            elif life.random() < 0.03:
                self._schedule(
                    created + timedelta(hours=life.uniform(1, 12)), "buyer_cancel", order.order_id
                )
        return order

    def _set_status(
        self,
        order: Order,
        status: str,
        when: datetime,
        change_type: str = "OrderStatusChange",
        reason: str | None = None,
    ) -> None:
        order.status = status
        self.orders.touch(order, max(when, order.last_updated))
        self.order_changed(order, when, change_type, reason)

    def _cancel(self, order: Order, when: datetime, by: str, reason: str) -> None:
        moved: list[Listing] = []
        for line in order.lines:
            listing = self.catalogues[order.marketplace_id].get(line.sku)
            if listing is None:
                continue
            restored = line.unshipped
            stock = listing.stock
            stock.quantity += restored
            if listing.is_fba:
                stock.reserved = max(0, stock.reserved - restored)
                stock.last_updated = when
                moved.append(stock)
            listing.last_updated = when
        order.cancelled_by, order.cancel_reason = by, reason
        if by == "BUYER":
            self._set_status(
                order, "CANCELLED", when, "BuyerRequestedChange", "Buyer Requested Cancel"
            )
        else:
            self._set_status(order, "CANCELLED", when)
        for stock in moved:
            self.fba_changed(stock, when)

    def _ship_all(self, order: Order, when: datetime) -> None:
        items: list[tuple[str, int]] = []
        moved: list[Listing] = []
        for line in order.lines:
            if line.unshipped:
                items.append((line.order_item_id, line.unshipped))
                listing = self.catalogues[order.marketplace_id].get(line.sku)
                if listing is not None and listing.is_fba:
                    # Shipped: the units leave the network's reserved count.
                    stock = listing.stock
                    stock.reserved = max(0, stock.reserved - line.unshipped)
                    moved.append(stock)
                line.quantity_shipped = line.quantity
        if items:
            fba = order.fulfilled_by == "AMAZON"
            market = order.marketplace
            if order.marketplace_id == MARKETPLACE_ID:
                self._pkg_seq += 1
                reference, rng = str(self._pkg_seq), self.rng
            else:
                self._market_pkg_seq += 1
                reference, rng = f"{market.country}{self._market_pkg_seq}", self.market_rng
            order.packages.append(
                Package(
                    package_reference_id=reference,
                    carrier=market.fba_carrier if fba else market.merchant_carrier,
                    shipping_service="Amazon Shipping" if fba else market.merchant_service,
                    tracking_number=("TB" + market.country[0] if fba else "7023")
                    + "".join(rng.choice("0123456789") for _ in range(12)),
                    ship_time=when,
                    created=when,
                    items=items,
                )
            )
        self._set_status(order, "SHIPPED", when)
        for stock in moved:
            self.fba_changed(stock, when)
        self._shipped(order, items, when)

    def create_orders(
        self,
        count: int,
        *,
        status: str,
        fulfilled_by: str | None,
        skus: list[str] | None,
        created: datetime | None,
        marketplace_id: str = MARKETPLACE_ID,
    ) -> list[Order]:
        """Control API: orders that do not progress on their own (tests drive them)."""
        now = self.tick()
        when = (created or now).replace(microsecond=0)
        made: list[Order] = []
        for _ in range(count):
            order = self._new_order(
                when,
                fulfilled_by=fulfilled_by,
                skus=skus,
                status="PENDING",
                lifecycle=False,
                marketplace_id=marketplace_id,
            )
            if status != "PENDING":
                self.set_order_status(order, status, touch_time=order.last_updated)
            made.append(order)
        return made

    def set_order_status(
        self, order: Order, status: str, touch_time: datetime | None = None
    ) -> None:
        when = touch_time or self.clock.now().replace(microsecond=0)
        if status == "CANCELLED":
            self._cancel(
                order,
                when,
                "MERCHANT" if order.fulfilled_by == "MERCHANT" else "AMAZON",
                "Cancelled by the simulator control API",
            )
        elif status == "SHIPPED":
            self._ship_all(order, when)
        else:
            self._set_status(order, status, when)

    def bulk_load_orders(self, count: int, *, span_days: int = 700) -> None:
        """Benchmark helper: ``count`` settled historical orders, loaded with one index sort."""
        with self.lock:
            now = self.clock.now().replace(microsecond=0)
            rng = random.Random(f"{self.config.seed}:bulk")
            catalogue = list(self.listings.values())
            orders: list[Order] = []
            for _ in range(count):
                self.order_seq += 1
                created = now - timedelta(seconds=rng.uniform(3600, span_days * 86400))
                created = created.replace(microsecond=0)
                order = make_order(
                    random.Random(f"{self.config.seed}:bulk:{self.order_seq}"),
                    self.order_seq,
                    created,
                    catalogue,
                )
                order.status = rng.choices(
                    ["SHIPPED", "CANCELLED", "UNSHIPPED"], weights=[90, 5, 5]
                )[0]
                if order.status == "SHIPPED":
                    for line in order.lines:
                        line.quantity_shipped = line.quantity
                order.last_updated = created + timedelta(hours=rng.uniform(0, 48))
                if order.order_id not in self.orders.by_id:
                    orders.append(order)
            self.orders.add_sorted_batch(orders)
        # 100,000 long-lived orders make every full garbage collection walk millions of
        # objects (pauses of ~1 s mid-request); they never become garbage, so move them to
        # the permanent generation.
        gc.collect()
        gc.freeze()

    def confirm_shipment(
        self, order: Order, package: dict[str, Any], ship_date: datetime, quantities: dict[str, int]
    ) -> None:
        now = self.clock.now().replace(microsecond=0)
        items: list[tuple[str, int]] = []
        for line in order.lines:
            shipped = quantities.get(line.order_item_id, 0)
            if shipped:
                line.quantity_shipped += shipped
                items.append((line.order_item_id, shipped))
        self._pkg_seq += 1
        order.packages.append(
            Package(
                package_reference_id=str(package.get("packageReferenceId")),
                carrier=str(package.get("carrierName") or package.get("carrierCode")),
                shipping_service=str(package.get("shippingMethod") or ""),
                tracking_number=str(package.get("trackingNumber") or ""),
                ship_time=ship_date,
                created=now,
                items=items,
            )
        )
        done = all(line.unshipped == 0 for line in order.lines)
        self._set_status(order, "SHIPPED" if done else "PARTIALLY_SHIPPED", now)
        self.shipments.append(
            {"orderId": order.order_id, "packageDetail": package, "receivedTime": isoformat(now)}
        )
        self._shipped(order, items, now)

    def order_view(self, order: Order) -> dict[str, Any]:
        return order_json(order, ALL_INCLUDED, roles=None)

    # -- returns, refunds, cancellation requests ------------------------------------------

    def _return_rng(self, order: Order) -> random.Random:
        return random.Random(f"{self.config.seed}:{order.marketplace_id}:order:{order.seq}:return")

    def _post(
        self,
        kind: str,
        order: Order,
        lines: list[LineAmounts],
        when: datetime,
        *,
        return_id: str | None = None,
    ) -> Transaction:
        refund = kind == REFUND
        transaction = Transaction(
            transaction_id=transaction_id(self.finance_rng),
            transaction_type=kind,
            description="Refund Order" if refund else "Order Payment",
            order=order,
            posted=max(when, self.transactions[-1].posted) if self.transactions else when,
            lines=lines,
            refund_id=("RF" + transaction_id(self.finance_rng)[:12]) if refund else None,
            return_id=return_id,
            seller_id=self.config.seller_id,
        )
        self.transactions.append(transaction)
        return transaction

    def _shipped(self, order: Order, items: list[tuple[str, int]], when: datetime) -> None:
        """Amazon pays the shipped units (a Shipment transaction); an order progressing on
        its own may later come back (a return) or get a concession, drawn from its seed."""
        lines = {line.order_item_id: line for line in order.lines}
        amounts = [
            line_amounts(order, lines[item_id], quantity, shipping=True)
            for item_id, quantity in items
            if quantity
        ]
        if amounts:
            self._post(SHIPMENT, order, amounts, when)
        if order.order_id in self.driven_orders or order.status != "SHIPPED":
            return
        rng = self._return_rng(order)
        draw = rng.random()
        if draw < self.config.return_share:
            line = rng.choice(order.lines)
            requested = when + timedelta(days=rng.uniform(3, 20))
            arrives = requested + timedelta(days=rng.uniform(3, 8))
            item = self._make_return(order, line, rng.randint(1, line.quantity), requested, arrives)
            self._pending_returns[item.return_id] = item
            self._schedule(requested, "return_request", item.return_id)
        elif draw < self.config.return_share + self.config.concession_share:
            self._schedule(when + timedelta(days=rng.uniform(5, 25)), "concession", order.order_id)

    def _make_return(
        self,
        order: Order,
        line: OrderLine,
        quantity: int,
        requested: datetime,
        arrives: datetime,
        reason: str | None = None,
    ) -> Return:
        listing = self.catalogues[order.marketplace_id].get(line.sku)
        rng = random.Random(f"{self.config.seed}:return:{order.order_id}:{len(self.returns)}")
        item = new_return(
            rng,
            order,
            line,
            quantity,
            requested.replace(microsecond=0),
            arrives.replace(microsecond=0),
            reason=reason,
            fnsku=listing.fn_sku if listing else None,
        )
        while item.return_id in self.returns or item.return_id in self._pending_returns:
            item.return_id += "X"
        return item

    def _handle_return_event(self, kind: str, return_id: str, when: datetime) -> None:
        if kind == "return_request":
            item = self._pending_returns.pop(return_id, None)
            if item is not None:
                self.returns[item.return_id] = item
                self._schedule(item.arrives, "return_receive", item.return_id)
            return
        item = self.returns.get(return_id)
        if item is not None and item.status != RECEIVED:
            self.receive_return(item, when, self._forced_dispositions.pop(return_id, None))

    def receive_return(self, item: Return, when: datetime, disposition: str | None = None) -> None:
        """The units arrive: an FBA unit goes to fulfillable (SELLABLE) or unfulfillable stock;
        a merchant return waits for the seller. Amazon then refunds the buyer."""
        item.status, item.received = RECEIVED, when
        order = self.orders.by_id[item.order_id]
        if item.fulfilled_by == "AMAZON":
            item.disposition = disposition or draw_disposition(
                random.Random(f"{self.config.seed}:disposition:{item.return_id}")
            )
            listing = self.catalogues[item.marketplace_id].get(item.sku)
            if listing is not None:
                stock = listing.stock
                if item.disposition == "SELLABLE":
                    stock.quantity += item.quantity
                else:
                    stock.unfulfillable += item.quantity
                stock.last_updated = when
                self.fba_changed(stock, when)
        if item.refund:
            line = next(x for x in order.lines if x.order_item_id == item.order_item_id)
            whole = item.quantity == line.quantity
            refund = self._post(
                REFUND,
                order,
                [line_amounts(order, line, item.quantity, shipping=whole)],
                when,
                return_id=item.return_id,
            )
            item.refund_transaction_id = refund.transaction_id

    def create_return(
        self,
        order: Order,
        line: OrderLine,
        quantity: int,
        *,
        reason: str | None,
        arrives_after: float,
        disposition: str | None,
        refund: bool,
    ) -> Return:
        """Control API: a buyer returns ``quantity`` of ``line`` now."""
        now = self.tick().replace(microsecond=0)
        arrives = now + timedelta(seconds=arrives_after)
        item = self._make_return(order, line, quantity, now, arrives, reason or "UNWANTED_ITEM")
        item.refund = refund
        self.returns[item.return_id] = item
        if arrives_after <= 0:
            self.receive_return(item, now, disposition)
        else:
            self._forced_dispositions[item.return_id] = disposition
            self._schedule(arrives, "return_receive", item.return_id)
        return item

    def returned_quantity(self, order: Order, line: OrderLine) -> int:
        return sum(
            r.quantity
            for r in [*self.returns.values(), *self._pending_returns.values()]
            if r.order_id == order.order_id and r.order_item_id == line.order_item_id
        )

    def _concession(
        self, order: Order, when: datetime, line: OrderLine | None, cents: int | None
    ) -> Transaction:
        """A refund without a return: part of one line's price (and its tax) given back."""
        rng = self._return_rng(order)
        line = line or rng.choice(order.lines)
        principal = cents if cents is not None else round(line.item_cents * rng.uniform(0.1, 0.4))
        share = principal / line.item_cents if line.item_cents else 0
        amounts = LineAmounts(
            line=line,
            quantity=0,
            principal=principal,
            shipping=0,
            promotion=0,
            taxes=tax_components(order, round(line.item_tax_cents * share)),
            fee=round(principal * 0.15),
        )
        return self._post(REFUND, order, [amounts], when)

    def request_cancellation(self, order: Order, when: datetime, reason: str) -> None:
        """A buyer asks to cancel an unshipped merchant order: flagged on the order and its
        items (Orders API ``cancellationRequest``) and in ORDER_CHANGE, until the seller acts."""
        order.buyer_cancel_reason = reason
        self.orders.touch(order, max(when, order.last_updated))
        self.order_changed(order, when, "BuyerRequestedChange", "Buyer Requested Cancel")

    def seller_cancel(self, order: Order, reasons: dict[str, str], when: datetime) -> None:
        """The seller cancels the unshipped units of the lines in ``reasons`` (order item id
        -> CancelReason): listed units go back to the listing's quantity."""
        every_open = {line.order_item_id for line in order.lines if line.unshipped}
        if every_open <= set(reasons) and not any(x.quantity_shipped for x in order.lines):
            first = next(iter(reasons.values()))
            for line in order.lines:
                line.cancel_reason = reasons.get(line.order_item_id, first)
            units = {line.order_item_id: line.unshipped for line in order.lines}
            self._cancel(order, when, "MERCHANT", first)
            for line in order.lines:
                line.quantity_cancelled = units[line.order_item_id]
            return
        for line in order.lines:
            reason = reasons.get(line.order_item_id)
            if reason is None or not line.unshipped:
                continue
            listing = self.catalogues[order.marketplace_id].get(line.sku)
            if listing is not None:
                listing.stock.quantity += line.unshipped
                listing.last_updated = max(when, listing.last_updated)
            line.quantity_cancelled += line.unshipped
            line.cancel_reason = reason
        if all(line.unshipped == 0 for line in order.lines):
            self._set_status(order, "SHIPPED", when)
        else:
            self.orders.touch(order, max(when, order.last_updated))
            self.order_changed(order, when, reason="Order items cancelled by the seller")

    def _apply_acknowledgement(
        self, message: AckMessage, marketplaces: list[str], when: datetime
    ) -> MessageResult | None:
        def error(code: str, text: str) -> MessageResult:
            return MessageResult(message.message_id, "Error", code, text, message.order_id)

        order = self.orders.by_id.get(message.order_id)
        if order is None or order.marketplace_id not in marketplaces:
            return error(UNKNOWN_ORDER, f"Order {message.order_id} was not found.")
        if message.status_code == "Success":
            if message.merchant_order_id:
                order.seller_order_id = message.merchant_order_id
            return None
        if order.fulfilled_by != "MERCHANT":
            return error(
                NOT_CANCELLABLE, "The order is fulfilled by Amazon; it cannot be cancelled."
            )
        if order.status not in ("PENDING", "UNSHIPPED", "PARTIALLY_SHIPPED"):
            return error(
                NOT_CANCELLABLE, f"The order has status {order.status}; it cannot be cancelled."
            )
        if not message.items:
            return error(BAD_MESSAGE, "Name each Item to cancel, with its CancelReason.")
        lines = {line.order_item_id: line for line in order.lines}
        reasons: dict[str, str] = {}
        for item in message.items:
            line = lines.get(item.order_item_id)
            if line is None:
                return error(
                    UNKNOWN_ITEM, f"AmazonOrderItemCode {item.order_item_id!r} is not in the order."
                )
            if item.cancel_reason not in CANCEL_REASONS:
                return error(
                    BAD_REASON,
                    f"CancelReason {item.cancel_reason!r} is not valid; use one of "
                    f"{', '.join(CANCEL_REASONS)}.",
                )
            if not line.unshipped:
                return error(
                    NOT_CANCELLABLE,
                    f"Item {item.order_item_id} has no unshipped units left to cancel.",
                )
            reasons[item.order_item_id] = str(item.cancel_reason)
        self.seller_cancel(order, reasons, when)
        return None

    def _finish_acknowledgement_feed(self, feed: Feed, content: bytes, when: datetime) -> bytes:
        try:
            messages, results = parse_acknowledgements(content)
        except FeedRefused as exc:
            return processing_report(
                feed.seller_id,
                feed.feed_id,
                0,
                [MessageResult("0", "Error", UNPARSEABLE, str(exc))],
            )
        for message in messages:
            result = self._apply_acknowledgement(message, feed.marketplace_ids, when)
            if result is not None:
                results.append(result)
        refused = {r.message_id for r in results} - {m.message_id for m in messages}
        return processing_report(
            feed.seller_id, feed.feed_id, len(messages) + len(refused), results
        )

    def returns_report_text(self, report: Report) -> str | None:
        """A returns report's rows in its window, or None when there are none (Amazon
        cancels a report with no data)."""
        markets = set(report.marketplace_ids)
        start, end = report.data_start, report.data_end
        if report.report_type == MERCHANT_RETURNS_REPORT:
            rows = sorted(
                (
                    r
                    for r in self.returns.values()
                    if r.fulfilled_by == "MERCHANT"
                    and r.marketplace_id in markets
                    and start <= r.requested <= end
                ),
                key=lambda r: (r.requested, r.return_id),
            )
            if not rows:
                return None
            refunds = {
                t.return_id: -t.total_cents for t in self.transactions if t.return_id is not None
            }
            return merchant_returns_report(rows, self.orders.by_id, refunds)
        pools = {MARKETPLACES[m].fba_pool for m in markets if m in MARKETPLACES}
        rows = sorted(
            (
                r
                for r in self.returns.values()
                if r.fulfilled_by == "AMAZON"
                and r.received is not None
                and MARKETPLACES[r.marketplace_id].fba_pool in pools
                and start <= r.received <= end
            ),
            key=lambda r: (r.received or r.requested, r.return_id),
        )
        return fba_returns_report(rows) if rows else None

    # -- notifications -------------------------------------------------------------------

    def order_changed(
        self,
        order: Order,
        when: datetime,
        change_type: str = "OrderStatusChange",
        reason: str | None = None,
    ) -> None:
        """An order was created or changed status: ORDER_CHANGE to whoever subscribed."""
        if not self.publishing:
            return
        reason = reason or f"Order status changed to {order.status}"
        payload = order_change_payload(order, self.config.seller_id, change_type, reason, when)
        self._publish(ORDER_CHANGE, payload, when, order.marketplace_id, change_type)

    def fba_changed(self, stock: Listing, when: datetime) -> None:
        """An FBA SKU's counts moved in its network: FBA_INVENTORY_AVAILABILITY_CHANGES, one
        entry per marketplace that network serves and lists the SKU on."""
        if not self.publishing:
            return
        pool = MARKETPLACES[stock.marketplace_id].fba_pool
        listings = [
            listing
            for market in MARKETPLACES.values()
            if market.fba_pool == pool
            and (listing := self.catalogues[market.marketplace_id].get(stock.sku)) is not None
            and listing.is_fba
        ]
        payload = fba_inventory_payload(self.config.seller_id, stock, listings)
        self._publish(FBA_INVENTORY_AVAILABILITY_CHANGES, payload, when, None, None)

    def _publish(
        self,
        notification_type: str,
        payload: dict[str, Any],
        event_time: datetime,
        marketplace_id: str | None,
        change_type: str | None,
    ) -> None:
        """Queue one notification per matching subscription of this simulator's seller; the
        outbox sends it (never this thread). Delay, duplicates and reordering apply here."""
        settings = self.notification_settings
        now = self.clock.now().replace(microsecond=0)
        for subscription in self.subscriptions.values():
            if (
                subscription.notification_type != notification_type
                or subscription.seller_id != self.config.seller_id
                or not subscription.wants(marketplace_id, change_type)
            ):
                continue
            destination = self.destinations.get(subscription.destination_id)
            if destination is None:
                continue
            due = now + timedelta(seconds=settings.delay_seconds)
            held = settings.reorder_share > 0 and self.notification_rng.random() < (
                settings.reorder_share
            )
            if held:
                due += timedelta(seconds=settings.reorder_seconds)
            notification_id = str(uuid.uuid4())
            body = encode(
                envelope(
                    notification_type,
                    payload,
                    event_time=event_time,
                    publish_time=due,
                    subscription_id=subscription.subscription_id,
                    application_id=DEFAULT_APPLICATION_ID,
                    notification_id=notification_id,
                )
            )
            copies = 1
            if settings.duplicate_share > 0 and self.notification_rng.random() < (
                settings.duplicate_share
            ):
                copies = 2
            for copy in range(copies):
                self.outbox.push(
                    Outgoing(
                        due=due,
                        seq=0,
                        arn=destination.arn,
                        body=body,
                        notification_id=notification_id,
                        notification_type=notification_type,
                        subscription_id=subscription.subscription_id,
                        duplicate=copy > 0,
                        held_back=held,
                    )
                )

    # -- reports -----------------------------------------------------------------------

    def create_report(
        self, report_type: str, marketplace_ids: list[str], start: datetime, end: datetime
    ) -> Report:
        now = self.tick()
        self._report_seq += 1
        report = Report(
            report_id=str(50_000_000_000 + self._report_seq * 17),
            report_type=report_type,
            marketplace_ids=marketplace_ids,
            data_start=start,
            data_end=end,
            created=now,
        )
        self.reports[report.report_id] = report
        self._schedule(
            now + timedelta(seconds=self.config.report_queue_seconds),
            "report_start",
            report.report_id,
        )
        done_at = now + timedelta(
            seconds=self.config.report_queue_seconds + self.config.report_processing_seconds
        )
        self._schedule(done_at, "report_done", report.report_id)
        return report

    def _finish_report(self, report: Report, when: datetime) -> None:
        if report.report_type in RETURNS_REPORTS:
            returns_text = self.returns_report_text(report)
            if returns_text is None:
                if report.processing_start is None:
                    report.processing_start = when
                report.status, report.processing_end = "CANCELLED", when
                return
            text = returns_text
        elif report.report_type == LISTINGS_REPORT:
            # Amazon's listings report covers one marketplace: the first one asked for.
            text = listings_report(self.catalogues.get(report.marketplace_ids[0], {}).values())
        else:
            markets = set(report.marketplace_ids)
            orders = report_window_orders(
                [o for o in self.orders.all_orders() if o.marketplace_id in markets],
                report.report_type,
                report.data_start,
                report.data_end,
            )
            text = orders_report(orders)
        content, compression = encode_report(text)
        document = self.new_document("report", "text/tab-separated-values")
        document.content, document.compression, document.uploaded = content, compression, True
        if report.processing_start is None:
            report.processing_start = when
        report.status, report.processing_end, report.document_id = (
            "DONE",
            when,
            document.document_id,
        )

    # -- feeds and documents ------------------------------------------------------------

    def new_document(self, kind: str, content_type: str) -> Document:
        document_id = f"amzn1.tortuga.4.na.{uuid.UUID(int=self.rng.getrandbits(128), version=4)}"
        document = Document(document_id=document_id, kind=kind, content_type=content_type)
        self.documents[document_id] = document
        return document

    def document_url(self, document_id: str, method: str) -> str:
        """A fresh pre-signed-style URL, valid for 5 simulated minutes."""
        now = self.clock.now()
        expires = now + timedelta(seconds=DOCUMENT_URL_SECONDS)
        if self.take_special_fault("expired_document"):
            expires = now - timedelta(seconds=1)
        token = secrets.token_urlsafe(24)
        self.document_urls[token] = DocumentUrl(document_id, method, expires)
        return f"{self.base_url}/_documents/{token}"

    def create_feed(
        self, feed_type: str, marketplace_ids: list[str], document_id: str, seller_id: str
    ) -> Feed:
        now = self.tick()
        self._feed_seq += 1
        feed = Feed(
            feed_id=str(60_000_000_000 + self._feed_seq * 13),
            feed_type=feed_type,
            marketplace_ids=marketplace_ids,
            input_document_id=document_id,
            seller_id=seller_id,
            created=now,
            force_fatal=self.take_special_fault("feed_fatal"),
        )
        self.feeds[feed.feed_id] = feed
        self._schedule(
            now + timedelta(seconds=self.config.feed_queue_seconds), "feed_start", feed.feed_id
        )
        done_at = now + timedelta(
            seconds=self.config.feed_queue_seconds + self.config.feed_processing_seconds
        )
        self._schedule(done_at, "feed_done", feed.feed_id)
        return feed

    def _finish_feed(self, feed: Feed, when: datetime) -> None:
        import json

        source = self.documents.get(feed.input_document_id)
        content = source.content if source and source.uploaded else b""
        if feed.feed_type == ORDER_ACKNOWLEDGEMENT_FEED:
            xml_report = self._finish_acknowledgement_feed(feed, content, when)
            result = self.new_document("feed_result", "text/xml; charset=UTF-8")
            result.content, result.uploaded = xml_report, True
            if feed.processing_start is None:
                feed.processing_start = when
            feed.status, feed.processing_end, feed.result_document_id = (
                "FATAL" if feed.force_fatal else "DONE",
                when,
                result.document_id,
            )
            return
        outcome = process_listings_feed(
            content if content else b"",
            feed_id=feed.feed_id,
            seller_id=feed.seller_id,
            listings=self.catalogues[feed.marketplace_ids[0]],
            validate=self.feed_validator,
            force_fatal=feed.force_fatal,
        )
        if not content and not feed.force_fatal:
            outcome.report["issues"][0]["message"] = (
                "The feed document was never uploaded (empty document)."
            )
        for sku, quantity in outcome.quantities.items():
            self.set_listing_quantity(sku, quantity, when, feed.marketplace_ids[0])
        result = self.new_document("feed_result", "application/json; charset=UTF-8")
        result.content = json.dumps(outcome.report, ensure_ascii=False).encode("utf-8")
        result.uploaded = True
        if feed.processing_start is None:
            feed.processing_start = when
        feed.status, feed.processing_end, feed.result_document_id = (
            outcome.status,
            when,
            result.document_id,
        )

    def set_listing_quantity(
        self, sku: str, quantity: int, when: datetime, marketplace_id: str = MARKETPLACE_ID
    ) -> None:
        listing = self.catalogues[marketplace_id][sku]
        listing.quantity = quantity
        listing.last_updated = max(when.replace(microsecond=0), listing.last_updated)

    # -- auth --------------------------------------------------------------------------

    def issue_access_token(self, refresh: RefreshToken) -> AccessToken:
        now = self.clock.now()
        token = AccessToken(
            token="Atza|sim" + secrets.token_urlsafe(32),
            seller_id=refresh.seller_id,
            refresh_token=refresh.token,
            expires=now + timedelta(seconds=ACCESS_TOKEN_SECONDS),
            client_id=refresh.client_id,
        )
        self.access_tokens[token.token] = token
        return token

    def issue_grantless_token(self, client_id: str, scope: str) -> AccessToken:
        """LWA ``client_credentials``: a token for the application itself, no seller."""
        token = AccessToken(
            token="Atza|simgrantless" + secrets.token_urlsafe(32),
            seller_id="",
            refresh_token="",
            expires=self.clock.now() + timedelta(seconds=ACCESS_TOKEN_SECONDS),
            client_id=client_id,
            scope=scope,
        )
        self.access_tokens[token.token] = token
        return token

    def authenticate(self, token: str | None) -> AccessToken | None:
        if not token:
            return None
        access = self.access_tokens.get(token)
        if access is None or access.expires <= self.clock.now():
            return None
        if access.scope is not None:
            return access  # grantless: no refresh token behind it to revoke
        refresh = self.refresh_tokens.get(access.refresh_token)
        if refresh is None or refresh.revoked:
            return None
        return access

    def issue_auth_code(self, seller_id: str) -> AuthCode:
        code = AuthCode(
            code="ANsim" + secrets.token_urlsafe(18),
            seller_id=seller_id,
            expires=self.clock.now() + timedelta(seconds=AUTH_CODE_SECONDS),
        )
        self.auth_codes[code.code] = code
        return code

    def exchange_auth_code(self, code_value: str, client_id: str) -> RefreshToken | None:
        code = self.auth_codes.get(code_value)
        if code is None or code.used or code.expires <= self.clock.now():
            return None
        code.used = True
        refresh = RefreshToken("Atzr|sim" + secrets.token_urlsafe(32), code.seller_id, client_id)
        self.refresh_tokens[refresh.token] = refresh
        return refresh

    def revoke(self, refresh_token: str | None = None) -> int:
        revoked = 0
        for refresh in self.refresh_tokens.values():
            if (refresh_token is None or refresh.token == refresh_token) and not refresh.revoked:
                refresh.revoked = True
                revoked += 1
        return revoked

    # -- faults and counters -----------------------------------------------------------

    def add_fault(self, fault: Fault) -> None:
        if fault.kind == "revoked_refresh_token":
            self.revoke()
            return
        self.faults.append(fault)

    def _fires(self, fault: Fault) -> bool:
        """Whether a matching fault hits this call; counted faults are consumed, a storm
        (``probability``) draws from the seeded fault generator until it is over."""
        if fault.probability is not None:
            if fault.until is not None and self.clock.now() >= fault.until:
                self.faults.remove(fault)
                return False
            return self.fault_rng.random() < fault.probability
        fault.remaining -= 1
        if fault.remaining <= 0:
            self.faults.remove(fault)
        return True

    def take_fault(self, operation: str) -> Fault | None:
        """The first request fault matching ``operation`` that fires for this call. A
        ``listing_edit`` that fires is carried out here, before the call is answered, and the
        call goes on to the next fault (if any)."""
        for fault in list(self.faults):
            if fault.kind in ("feed_fatal", "expired_document", "gzip_bomb"):
                continue
            if fault.operation in ("*", operation) and self._fires(fault):
                if fault.kind == "listing_edit":
                    self.edit_least_recent_listing()
                    continue
                return fault
        return None

    def edit_least_recent_listing(self) -> None:
        """A seller edits a listing in Seller Central while the product reads: the buyable
        merchant listing Amazon updated longest ago gets one more unit. Being the last a
        newest-first read would reach, it jumps to the front of that order."""
        listing = min(
            (item for item in self.listings.values() if not item.is_parent and not item.is_fba),
            key=lambda item: (item.last_updated, item.sku),
        )
        self.set_listing_quantity(listing.sku, listing.quantity + 1, self.now())

    def take_special_fault(self, kind: str) -> bool:
        return any(fault.kind == kind and self._fires(fault) for fault in list(self.faults))

    def count(self, operation: str, *, status: int, size: int) -> None:
        counter = self.counters.setdefault(operation, Counter())
        counter.calls += 1
        counter.bytes += size
        if status == 429:
            counter.throttled += 1
        elif status >= 400:
            counter.errors += 1

    def listings_view(self, marketplace_id: str = MARKETPLACE_ID) -> list[dict[str, Any]]:
        return [
            {
                "sku": listing.sku,
                "asin": listing.asin,
                "title": listing.title,
                "productType": listing.product_type,
                "quantity": listing.stock.quantity,
                "fulfillmentChannelCode": listing.fulfillment_channel,
                "price": f"{listing.price_cents / 100:.2f}",
                "isParent": listing.is_parent,
                "parentSku": listing.parent_sku,
                "variationTheme": "/".join(listing.variation_theme) or None,
                "reservedQuantity": listing.stock.reserved,
                "lastUpdatedTime": isoformat(listing.last_updated),
                "marketplaceId": listing.marketplace_id,
            }
            for listing in self.catalogues[marketplace_id].values()
        ]


__all__ = [
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URI",
    "redirect_uri_for",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_SELLER_ID",
    "FAULT_KINDS",
    "FBA_CHANNEL",
    "LISTINGS_FEED",
    "SimConfig",
    "SimState",
]
