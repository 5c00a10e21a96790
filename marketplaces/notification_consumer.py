"""Amazon's notifications, read from the seller's SQS queue and applied: each at least once,
its effect exactly once.

One message, one outcome, recorded as a ``NotificationMessage`` whose unique NotificationId is
the guard against a repeat (SQS delivers at least once; Amazon may publish twice):

- **ORDER_CHANGE**: the channel of the notification's marketplace for that seller fetches the
  order (``getOrder`` through the channel's client, so the same rate limiter as polling) and
  imports it with polling's own code (``order_sync.import_order``), which never moves an order
  back to an older ``lastUpdatedTime``. A notification no newer than the order as we have it
  costs no call at all. The import commits first and the message is recorded right after, the
  unique id guarding it: a consumer killed in between gets the message again, imports the
  same order unchanged and records it then. A new order Amazon cannot be asked about now
  (getOrder's quota of one call per 2 s spent, Amazon down) is imported from the
  notification's Summary instead (lines, quantities, ship-by date; its stock committed at
  once), ``awaiting_details`` until Amazon's own view of it completes it: polling keeps
  Amazon's quota pace while any order awaits (``order_polling.poll_slowly``).
- **FBA_INVENTORY_AVAILABILITY_CHANGES**: the channel's FBA stock refresh is requested (an
  automatic run; one already queued or running is enough), in the record's transaction.
- Amazon throttling, down, or answering garbage (a transient failure), or our database down:
  nothing is recorded and the message stays in the queue; it comes back after its visibility
  timeout (after Amazon's wait when throttled).
- A message that cannot be read (not JSON, not Amazon's envelope) or applied (the order
  refused by Amazon, an order our import refuses) is recorded FAILED with the reason and its
  body, and deleted: reading it again gives the same answer, so keeping it in the queue would
  only hand it to every consumer until SQS' redrive policy or retention drops it, while Sync
  History shows it with its reason either way. Polling still lists that order.
- Other notification types, sellers or marketplaces without a channel: IGNORED with the reason.

A message is deleted from SQS only after its outcome is committed.
"""

from __future__ import annotations

import json
import logging
import threading
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from django.core.exceptions import ValidationError
from django.db import DatabaseError, IntegrityError, transaction

from marketplaces import orders as order_rules
from marketplaces.amazon import order_sync, sqs
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import AmazonError, AmazonPayloadError, AmazonThrottled
from marketplaces.amazon.types import order_from_notification
from marketplaces.models import NotificationMessage, SalesChannel, SalesOrder
from marketplaces.services import request_sync
from synchistory.models import SyncRecord, SyncRun
from warehouses.models import Organization

logger = logging.getLogger(__name__)

ORDER_CHANGE = "ORDER_CHANGE"
FBA_INVENTORY_AVAILABILITY_CHANGES = "FBA_INVENTORY_AVAILABILITY_CHANGES"
# What a failed message keeps of a body that is not Amazon's (the column is JSON).
BODY_KEPT = 10_000
# How long getOrder may wait for the seller's limiter before the message is left for later
# (a new order that its notification can stand for does not wait: ``_import_summary``).
MAX_PACING_WAIT = 5.0

# The ORDER_CHANGE Summary's OrderStatus (Orders v0 spelling) -> the Orders API's statuses.
SUMMARY_STATUS = {
    "Pending": "PENDING",
    "PendingAvailability": "PENDING_AVAILABILITY",
    "Unshipped": "UNSHIPPED",
    "PartiallyShipped": "PARTIALLY_SHIPPED",
    "Shipped": "SHIPPED",
    "Canceled": "CANCELLED",
    "Unfulfillable": "UNFULFILLABLE",
    "InvoiceUnconfirmed": "INVOICE_UNCONFIRMED",
}

APPLIED = NotificationMessage.Status.APPLIED
IGNORED = NotificationMessage.Status.IGNORED
FAILED = NotificationMessage.Status.FAILED
DUPLICATE = "duplicate"  # already recorded: deleted, nothing written
LATER = "later"  # left in the queue, nothing written


class Unreadable(Exception):
    """The message is not an Amazon notification the consumer can read; the reason says why."""


@dataclass
class Outcome:
    """What became of one message: ``status`` one of the record's or DUPLICATE / LATER."""

    status: str
    reason: str = ""
    retry_after: float | None = None  # LATER after a throttle: when Amazon takes calls again

    @property
    def delete(self) -> bool:
        return self.status != LATER


@dataclass
class Notification:
    """An Amazon notification envelope, as far as the consumer reads it."""

    notification_id: str
    notification_type: str
    event_time: datetime | None
    payload: dict[str, Any]
    body: dict[str, Any]


@dataclass
class Record:
    """The NotificationMessage to write (unless the outcome is DUPLICATE or LATER)."""

    notification_id: str
    notification_type: str = ""
    seller_id: str = ""
    channel: SalesChannel | None = None
    subject: str = ""
    event_time: datetime | None = None
    payload: dict[str, Any] = field(default_factory=dict)


@dataclass
class Batch:
    """One ReceiveMessage's worth: how many messages ended how."""

    received: int = 0
    outcomes: Counter[str] = field(default_factory=Counter)
    database_errors: int = 0

    def summary(self) -> str:
        parts = [f"{count} {status}" for status, count in sorted(self.outcomes.items())]
        return f"{self.received} received" + (f": {', '.join(parts)}" if parts else "")


# -- reading ---------------------------------------------------------------------------------


def parse(body: str) -> Notification:
    """Amazon's envelope (NotificationVersion 1.0); Unreadable naming what is missing."""
    try:
        data = json.loads(body)
    except ValueError as error:
        raise Unreadable(f"the message is not JSON ({error})") from None
    if not isinstance(data, dict):
        raise Unreadable("the message is not a JSON object")
    metadata = data.get("NotificationMetadata")
    notification_id = metadata.get("NotificationId") if isinstance(metadata, dict) else None
    if not isinstance(notification_id, str) or not notification_id.strip():
        raise Unreadable("the message has no NotificationMetadata.NotificationId")
    notification_type = data.get("NotificationType")
    if not isinstance(notification_type, str) or not notification_type:
        raise Unreadable("the message has no NotificationType")
    payload = data.get("Payload")
    if not isinstance(payload, dict):
        raise Unreadable("the message has no Payload object")
    return Notification(
        notification_id=notification_id.strip()[:100],
        notification_type=notification_type[:64],
        event_time=_moment(data.get("EventTime")),
        payload=payload,
        body=data,
    )


def _moment(value: Any) -> datetime | None:
    if not isinstance(value, str):
        return None
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError:
        return None
    return moment if moment.tzinfo is not None else None


def _text(value: Any) -> str:
    return value.strip() if isinstance(value, str) else ""


# -- applying --------------------------------------------------------------------------------


def handle(body: str, message_id: str = "") -> Outcome:
    """Read and apply one message and record what became of it; the caller deletes the
    message from SQS unless the outcome is LATER. Raises DatabaseError only (the database is
    down: nothing was recorded)."""
    try:
        notification = parse(body)
    except Unreadable as unreadable:
        # No NotificationId to guard with: SQS' own MessageId stands in, so the same broken
        # message received again is recorded once.
        record = Record(notification_id=f"sqs:{message_id}"[:100], payload=_kept(body))
        return _write(record, Outcome(FAILED, str(unreadable)))
    record = Record(
        notification_id=notification.notification_id,
        notification_type=notification.notification_type,
        event_time=notification.event_time,
        payload=notification.body,
    )
    if NotificationMessage.objects.filter(notification_id=notification.notification_id).exists():
        return Outcome(DUPLICATE)
    try:
        if notification.notification_type == ORDER_CHANGE:
            outcome = _order_change(notification, record)
        elif notification.notification_type == FBA_INVENTORY_AVAILABILITY_CHANGES:
            return _fba_changes(notification, record)
        else:
            outcome = Outcome(
                IGNORED, f"{notification.notification_type} notifications are not used here"
            )
    except Unreadable as unreadable:
        outcome = Outcome(FAILED, str(unreadable))
    except DatabaseError:
        raise
    except Exception as error:  # noqa: BLE001 - one message's failure never blocks the others
        logger.exception("Notification %s could not be applied", notification.notification_id)
        outcome = Outcome(FAILED, f"{type(error).__name__}: {error}")
    if outcome.status == LATER:
        return outcome
    return _write(record, outcome)


def _kept(body: str) -> dict[str, Any]:
    return {"body": body[:BODY_KEPT], "truncated": len(body) > BODY_KEPT}


def _write(record: Record, outcome: Outcome) -> Outcome:
    """The record, unless another consumer recorded this notification first (then DUPLICATE)."""
    try:
        with transaction.atomic():
            NotificationMessage.objects.create(
                notification_id=record.notification_id,
                notification_type=record.notification_type,
                seller_id=record.seller_id[:64],
                channel=record.channel,
                subject=record.subject[:200],
                event_time=record.event_time,
                status=outcome.status,
                reason=outcome.reason,
                payload=record.payload,
            )
    except IntegrityError:
        return Outcome(DUPLICATE)
    return outcome


def _order_change(notification: Notification, record: Record) -> Outcome:
    change = notification.payload.get("OrderChangeNotification")
    if not isinstance(change, dict):
        raise Unreadable("the ORDER_CHANGE payload has no OrderChangeNotification")
    record.seller_id = seller_id = _text(change.get("SellerId"))
    record.subject = order_id = _text(change.get("AmazonOrderId"))
    summary = change.get("Summary")
    marketplace_id = _text(summary.get("MarketplaceId")) if isinstance(summary, dict) else ""
    if not (seller_id and order_id and marketplace_id):
        raise Unreadable(
            "the ORDER_CHANGE payload lacks its SellerId, AmazonOrderId or Summary.MarketplaceId"
        )
    channel = (
        SalesChannel.objects.filter(seller_id__iexact=seller_id, marketplace_id=marketplace_id)
        .order_by("id")
        .first()
    )
    if channel is None:
        return Outcome(
            IGNORED, f"No sales channel here for seller {seller_id} on marketplace {marketplace_id}"
        )
    record.channel = channel
    if not channel.is_active:
        return Outcome(
            IGNORED,
            f"{channel.name} is {channel.get_status_display().lower()}: its orders are brought "
            "in by polling once it is enabled again",
        )
    if not channel.sync_orders:
        return Outcome(IGNORED, f"The Orders module is switched off for {channel.name}")
    have = (
        SalesOrder.objects.filter(channel=channel, amazon_order_id=order_id)
        .values_list("amazon_updated_at", flat=True)
        .first()
    )
    if have is not None and notification.event_time is not None and notification.event_time <= have:
        # A repeat of a change already imported (by polling, or an earlier notification) or one
        # that arrives after a newer one: asking Amazon would only bring what we have.
        return Outcome(IGNORED, f"The order is already as Amazon had it at {have.isoformat()}")
    status = SUMMARY_STATUS.get(_text(summary.get("OrderStatus")) if summary else "")
    organization = Organization.load()
    if have is None and status in order_rules.NEVER_IMPORTED:
        # Not paid yet: never imported, and Amazon notifies again once it is.
        return Outcome(IGNORED, f"Amazon status {status}: imported once Amazon has the payment")
    # A new merchant order to ship is imported with its buyer's address (Data Protection
    # Policy: only those): asked for in this one call rather than in a second by the import.
    personal_data = (
        have is None
        and isinstance(summary, dict)
        and summary.get("FulfillmentType") == "MFN"
        and status in order_rules.CONFIRMED_STATUSES
        and order_rules.skip_reason(organization, status) is None
    )
    # A new order to import that Amazon cannot be asked about now is imported from what the
    # notification says (OrderLevel: every item): its stock is committed within seconds, not
    # once the quota allows, and Amazon's next answer on it fills in the rest.
    summary_status = (
        status
        if status is not None
        and have is None
        and notification.event_time is not None
        and change.get("NotificationLevel") == "OrderLevel"
        and status in order_rules.CONFIRMED_STATUSES
        and order_rules.skip_reason(organization, status) is None
        else None
    )
    # A consumer handles one message at a time: a new order that has its summary never waits
    # for the quota (the wait would delay every message behind it); a change waits a little.
    client = client_for(channel, max_wait=0.0 if summary_status is not None else MAX_PACING_WAIT)
    try:
        amazon_order = client.get_order(order_id, personal_data=personal_data)
        result = order_sync.import_order(channel, organization, amazon_order, client)
    except AmazonThrottled as throttled:
        if summary_status is not None:
            return _import_summary(
                channel, organization, notification, summary_status, str(throttled)
            )
        return Outcome(LATER, str(throttled), retry_after=throttled.retry_after)
    except AmazonError as error:
        if not error.transient:
            return Outcome(FAILED, str(error))
        if summary_status is not None:
            return _import_summary(channel, organization, notification, summary_status, str(error))
        return Outcome(LATER, str(error))
    if result.outcome == SyncRecord.Outcome.FAILED:
        return Outcome(FAILED, result.reason)
    if result.outcome == SyncRecord.Outcome.SKIPPED:
        # Not imported (pending, shipped under "Confirmed only"…) or already as Amazon has it:
        # the same reasons a polling run records (marketplaces/orders.py).
        return Outcome(IGNORED, result.reason)
    return Outcome(APPLIED)


def _import_summary(
    channel: SalesChannel,
    organization: Organization,
    notification: Notification,
    status: str,
    why: str,
) -> Outcome:
    """The new order imported from the notification's Summary, ``awaiting_details``: polling
    runs at the quota's pace until Amazon's own view of it completes it (order_polling)."""
    change = notification.payload["OrderChangeNotification"]
    assert notification.event_time is not None  # checked by the caller
    try:
        amazon_order = order_from_notification(
            _text(change.get("AmazonOrderId")),
            change.get("Summary"),
            status=status,
            event_time=notification.event_time,
            currency=channel.currency,
        )
    except AmazonPayloadError as error:
        # Not enough to stand for the order: it waits in the queue for Amazon's answer.
        return Outcome(LATER, f"{why}; the notification cannot stand for the order: {error}")
    result = order_sync.import_order(channel, organization, amazon_order, None)
    if result.outcome == SyncRecord.Outcome.FAILED:
        return Outcome(FAILED, result.reason)
    if result.outcome == SyncRecord.Outcome.SKIPPED:
        return Outcome(IGNORED, result.reason)
    return Outcome(
        APPLIED,
        f"Imported from the notification, Amazon could not be asked now ({why}): its prices, "
        "taxes and buyer come with the next fetch of the order",
    )


def _fba_changes(notification: Notification, record: Record) -> Outcome:
    """Request each concerned channel's FBA stock refresh, recorded in the same transaction."""
    payload = notification.payload
    record.seller_id = seller_id = _text(payload.get("SellerId"))
    record.subject = _text(payload.get("SKU"))
    entries = payload.get("FulfillmentInventoryByMarketplace")
    if not seller_id or not isinstance(entries, list):
        return _write(
            record,
            Outcome(
                FAILED,
                "the FBA_INVENTORY_AVAILABILITY_CHANGES payload lacks its SellerId or "
                "FulfillmentInventoryByMarketplace",
            ),
        )
    marketplace_ids = {
        _text(entry.get("MarketplaceId")) for entry in entries if isinstance(entry, dict)
    }
    channels = list(
        SalesChannel.objects.filter(
            seller_id__iexact=seller_id,
            marketplace_id__in=marketplace_ids,
            status=SalesChannel.Status.ACTIVE,
            sync_items=True,
        ).order_by("id")
    )
    if not channels:
        return _write(
            record,
            Outcome(
                IGNORED,
                f"No active sales channel with the Items module for seller {seller_id} on "
                f"{', '.join(sorted(marketplace_ids)) or 'no marketplace'}",
            ),
        )
    record.channel = channels[0]
    try:
        with transaction.atomic():
            requested, running = [], []
            for channel in channels:
                try:
                    request_sync(channel, SyncRun.Kind.FBA_INVENTORY, SyncRun.Trigger.AUTOMATIC)
                except ValidationError:
                    running.append(channel.name)  # one queued or running reads the change too
                else:
                    requested.append(channel.name)
            reason = "; ".join(
                part
                for part in (
                    f"FBA stock refresh requested for {', '.join(requested)}" if requested else "",
                    f"already refreshing: {', '.join(running)}" if running else "",
                )
                if part
            )
            outcome = _write(record, Outcome(APPLIED, reason))
            if outcome.status == DUPLICATE:
                transaction.set_rollback(True)  # another consumer requested it already
            return outcome
    except IntegrityError:
        return Outcome(DUPLICATE)


# -- the queue -------------------------------------------------------------------------------


class Consumer:
    """The seller's queue and what reads it: :meth:`run_once` is one long poll and the
    handling of what it brought. Not thread-safe; one per process."""

    def __init__(self, queue_arn: str, *, client: Any = None) -> None:
        self.queue_arn = queue_arn
        self.sqs = client or sqs.client(sqs.parse_queue_arn(queue_arn).region)
        self._queue_url: str | None = None

    @property
    def queue_url(self) -> str:
        if self._queue_url is None:
            self._queue_url = sqs.queue_url_from_arn(self.sqs, self.queue_arn)
        return self._queue_url

    def run_once(
        self, *, wait_seconds: int = sqs.WAIT_SECONDS, receiving: threading.Event | None = None
    ) -> Batch:
        """Receive a batch and handle each message on its own; SqsUnavailable when SQS cannot
        be read (nothing was handled). A message whose record could not be written (the
        database is down) is left in the queue and counted in ``database_errors``.

        ``receiving`` is set while (and only while) the long poll waits: a signal handler may
        interrupt that wait, never the handling of a message."""
        try:
            queue_url = self.queue_url
            if receiving is not None:
                receiving.set()
            try:
                messages = sqs.receive(self.sqs, queue_url, wait_seconds=wait_seconds)
            finally:
                if receiving is not None:
                    receiving.clear()
        except sqs.SqsUnavailable:
            self._queue_url = None  # the queue may have been recreated: ask for its URL again
            raise
        batch = Batch(received=len(messages))
        for message in messages:
            try:
                outcome = handle(message.body, message.message_id)
            except DatabaseError as error:
                logger.warning("Notification %s left in the queue: %s", message.message_id, error)
                batch.database_errors += 1
                batch.outcomes[LATER] += 1
                continue
            batch.outcomes[outcome.status] += 1
            if outcome.delete:
                sqs.delete(self.sqs, self.queue_url, message)
            elif outcome.retry_after is not None:
                sqs.retry_in(self.sqs, self.queue_url, message, outcome.retry_after)
            if outcome.status in (LATER, FAILED):
                logger.info(
                    "Notification %s %s: %s", message.message_id, outcome.status, outcome.reason
                )
        return batch
