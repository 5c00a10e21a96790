"""Amazon's Notifications side: destinations, subscriptions, the notifications the simulated
Amazon publishes as orders and FBA stock change, and their delivery to Amazon SQS.

What belongs to whom, as on Amazon: a destination (an SQS queue's ARN) is the application's,
created and read with a grantless token; a subscription is the application's *for one seller*
(created with that seller's token), so two sellers of one application each have their own.

Delivery never runs on a request's thread: publishing only puts the notification in the
:class:`Outbox`, whose own thread sends it with boto3 ``send_message`` to the queue the ARN
names, through the configured SQS endpoint (moto's server on 127.0.0.1 in the demo and the
tests). An SQS endpoint that is down or refuses is logged and retried on real time for
``retry_seconds``, then the notification is dropped (and counted), as Amazon gives up on a
queue it cannot write to; the simulator's requests never wait for it.

Faults (``NotificationSettings``): every notification waits ``delay_seconds`` (simulated)
before it is sent; a ``duplicate_share`` of them is sent twice (same NotificationId, as SQS'
at-least-once delivery and Amazon's retries do); a ``reorder_share`` is held back
``reorder_seconds`` more, so notifications published after them arrive first.
"""

from __future__ import annotations

import json
import logging
import re
import threading
import time
from collections import deque
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from .clock import SimClock, isoformat

if TYPE_CHECKING:
    from .data import Listing, Order, OrderLine

log = logging.getLogger("spapi_simulator.notifications")

ORDER_CHANGE = "ORDER_CHANGE"
FBA_INVENTORY_AVAILABILITY_CHANGES = "FBA_INVENTORY_AVAILABILITY_CHANGES"
# The notification types the simulator publishes, with the one payload version of each.
PUBLISHED_TYPES: dict[str, str] = {ORDER_CHANGE: "1.0", FBA_INVENTORY_AVAILABILITY_CHANGES: "1.0"}
# Amazon's other notification types (Notification Type Values): valid names the simulator
# answers with a clear "not published here" rather than Amazon's "not a valid type".
OTHER_AMAZON_TYPES = frozenset(
    {
        "ACCOUNT_STATUS_CHANGED",
        "ANY_OFFER_CHANGED",
        "B2B_ANY_OFFER_CHANGED",
        "BRANDED_ITEM_CONTENT_CHANGE",
        "DATA_KIOSK_QUERY_PROCESSING_FINISHED",
        "DETAIL_PAGE_TRAFFIC_EVENT",
        "EXTERNAL_FULFILLMENT_SHIPMENT_STATUS_CHANGE",
        "FEE_PROMOTION",
        "FEED_PROCESSING_FINISHED",
        "FULFILLMENT_ORDER_STATUS",
        "ITEM_INVENTORY_EVENT_CHANGE",
        "ITEM_SALES_EVENT_CHANGE",
        "ITEM_PRODUCT_TYPE_CHANGE",
        "LISTINGS_ITEM_ISSUES_CHANGE",
        "LISTINGS_ITEM_MFN_QUANTITY_CHANGE",
        "LISTINGS_ITEM_STATUS_CHANGE",
        "PRICING_HEALTH",
        "PRODUCT_TYPE_DEFINITIONS_CHANGE",
        "REPORT_PROCESSING_FINISHED",
        "TRANSACTION_UPDATE",
    }
)
# LWA client_credentials scopes; only the notifications one opens the grantless operations.
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"
LWA_SCOPES = frozenset({NOTIFICATIONS_SCOPE, "sellingpartnerapi::client_credential:rotation"})
# The model's SqsResource.arn pattern, with its three parts captured.
SQS_ARN = re.compile(r"^arn:aws:sqs:(\S+?):(\S+?):(\S+)$")
ORDER_CHANGE_TYPES = ("BuyerRequestedChange", "DeliveryTipChange", "OrderStatusChange")
# Orders 2026-01-01 status -> the ORDER_CHANGE Summary's OrderStatus (Orders v0 spelling).
SUMMARY_STATUS = {
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Canceled",
}
# How long (real seconds) the outbox keeps retrying a notification SQS will not take.
RETRY_SECONDS = 300.0
RECENT = 1000  # delivered notifications and failures kept for GET /_sim/notifications


@dataclass
class Destination:
    destination_id: str
    name: str
    arn: str
    client_id: str

    def as_json(self) -> dict[str, Any]:
        return {
            "destinationId": self.destination_id,
            "name": self.name,
            "resource": {"sqs": {"arn": self.arn}},
        }


@dataclass
class Subscription:
    subscription_id: str
    notification_type: str
    payload_version: str
    destination_id: str
    client_id: str
    seller_id: str
    processing_directive: dict[str, Any] | None = None

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "subscriptionId": self.subscription_id,
            "payloadVersion": self.payload_version,
            "destinationId": self.destination_id,
        }
        if self.processing_directive is not None:
            body["processingDirective"] = self.processing_directive
        return body

    def wants(self, marketplace_id: str | None, change_type: str | None) -> bool:
        """Whether the subscription's event filter lets this event through."""
        event_filter = (self.processing_directive or {}).get("eventFilter") or {}
        markets = event_filter.get("marketplaceIds")
        if markets and marketplace_id is not None and marketplace_id not in markets:
            return False
        changes = event_filter.get("orderChangeTypes")
        return not (changes and change_type is not None and change_type not in changes)


@dataclass
class NotificationSettings:
    """What ``POST /_sim/notifications`` changes; seconds are simulated seconds."""

    delay_seconds: float = 0.0
    duplicate_share: float = 0.0
    reorder_share: float = 0.0
    reorder_seconds: float = 30.0
    sqs_endpoint_url: str | None = None

    FIELDS = {
        "delaySeconds": "delay_seconds",
        "duplicateShare": "duplicate_share",
        "reorderShare": "reorder_share",
        "reorderSeconds": "reorder_seconds",
    }

    def as_json(self) -> dict[str, Any]:
        body: dict[str, Any] = {name: getattr(self, attr) for name, attr in self.FIELDS.items()}
        body["sqsEndpointUrl"] = self.sqs_endpoint_url
        return body

    def update(self, body: dict[str, Any]) -> None:
        """Apply a control call's fields; ValueError (nothing changed) on a bad one."""
        changes: dict[str, Any] = {}
        for name, attr in self.FIELDS.items():
            if name not in body:
                continue
            value = body[name]
            if isinstance(value, bool) or not isinstance(value, int | float) or value < 0:
                raise ValueError(f"{name} must be a number of at least 0.")
            if name.endswith("Share") and value > 1:
                raise ValueError(f"{name} must be between 0 and 1.")
            changes[attr] = float(value)
        if "sqsEndpointUrl" in body:
            url = body["sqsEndpointUrl"]
            if url is not None and (
                not isinstance(url, str) or not url.startswith(("http://", "https://"))
            ):
                raise ValueError("sqsEndpointUrl must be an http:// or https:// URL, or null.")
            changes["sqs_endpoint_url"] = url
        for attr, value in changes.items():
            setattr(self, attr, value)


# -- payloads ---------------------------------------------------------------------------------


def envelope(
    notification_type: str,
    payload: dict[str, Any],
    *,
    event_time: datetime,
    publish_time: datetime,
    subscription_id: str,
    application_id: str,
    notification_id: str,
) -> dict[str, Any]:
    """Amazon's notification envelope (NotificationVersion 1.0) around one payload."""
    return {
        "NotificationVersion": "1.0",
        "NotificationType": notification_type,
        "PayloadVersion": PUBLISHED_TYPES[notification_type],
        "EventTime": isoformat(event_time),
        "Payload": payload,
        "NotificationMetadata": {
            "ApplicationId": application_id,
            "SubscriptionId": subscription_id,
            "PublishTime": isoformat(publish_time),
            "NotificationId": notification_id,
        },
    }


def _item_status(order: Order, line: OrderLine) -> str:
    # The model knows only these two: a cancelled line stays "Unshipped", the summary's
    # OrderStatus and NumberOfItemsUnshipped say the rest.
    shipped = line.quantity_shipped
    done = shipped > 0 and shipped == line.quantity - line.quantity_cancelled
    return "Shipped" if done else "Unshipped"


def order_change_payload(
    order: Order, seller_id: str, change_type: str, reason: str, when: datetime
) -> dict[str, Any]:
    """The ORDER_CHANGE payload for ``order`` as it is now (OrderChangeNotification.json)."""
    shipped = sum(line.quantity_shipped for line in order.lines)
    ordered = sum(line.quantity for line in order.lines)
    # A buyer's request stays flagged on every change until the order is cancelled or shipped.
    buyer_cancel = change_type == "BuyerRequestedChange" or (
        order.buyer_cancel_reason is not None and order.status != "SHIPPED"
    )
    ship_from, ship_to = order.ship_by
    deliver_from, deliver_to = order.deliver_by
    summary: dict[str, Any] = {
        "MarketplaceId": order.marketplace_id,
        "OrderStatus": SUMMARY_STATUS[order.status],
        "PurchaseDate": isoformat(order.created),
        "DestinationPostalCode": order.address.get("postalCode"),
        "FulfillmentType": "AFN" if order.fulfilled_by == "AMAZON" else "MFN",
        "OrderType": "StandardOrder",
        "NumberOfItemsShipped": shipped,
        "NumberOfItemsUnshipped": 0 if order.status == "CANCELLED" else ordered - shipped,
        "EarliestDeliveryDate": isoformat(deliver_from),
        "LatestDeliveryDate": isoformat(deliver_to),
        "EarliestShipDate": isoformat(ship_from),
        "LatestShipDate": isoformat(ship_to),
        "OrderItems": [
            {
                "OrderItemId": line.order_item_id,
                "SellerSKU": line.sku,
                "SupplySourceId": None,
                "OrderItemStatus": _item_status(order, line),
                "Quantity": line.quantity,
                "QuantityShipped": line.quantity_shipped,
                "IsBuyerRequestedCancel": buyer_cancel,
            }
            for line in order.lines
        ],
    }
    if "BUSINESS" in {p.upper() for p in order.programs}:
        summary["OrderPrograms"] = ["Business"]
    if order.status == "CANCELLED":
        summary["CancelNotifyDate"] = isoformat(when)
    return {
        "OrderChangeNotification": {
            "NotificationLevel": "OrderLevel",
            "SellerId": seller_id,
            "AmazonOrderId": order.order_id,
            "OrderChangeType": change_type,
            "OrderChangeTrigger": {"TimeOfOrderChange": isoformat(when), "ChangeReason": reason},
            "Summary": summary,
        }
    }


def fba_inventory_payload(
    seller_id: str, stock: Listing, listings: list[Listing]
) -> dict[str, Any]:
    """The FBA_INVENTORY_AVAILABILITY_CHANGES payload: ``stock`` holds the network's counts,
    ``listings`` are the SKU's listings on the marketplaces that network serves."""
    inventory = {
        "InboundQuantityBreakdown": {"Working": 0, "Shipped": stock.inbound, "Receiving": 0},
        "Fulfillable": stock.quantity,
        "Unfulfillable": stock.unfulfillable,
        "Researching": 0,
        "ReservedQuantityBreakdown": {
            "WarehouseProcessing": 0,
            "WarehouseTransfer": 0,
            "PendingCustomerOrder": stock.reserved,
        },
        "FutureSupplyBuyable": 0,
        "PendingCustomerOrderInTransit": 0,
    }
    return {
        "SellerId": seller_id,
        "FNSKU": stock.fn_sku or "",
        "ASIN": stock.asin,
        "SKU": stock.sku,
        "FulfillmentInventoryByMarketplace": [
            {
                "MarketplaceId": listing.marketplace_id,
                "ItemName": listing.title,
                "FulfillmentInventory": dict(inventory),
            }
            for listing in listings
        ],
    }


# -- delivery ----------------------------------------------------------------------------------


@dataclass(order=True)
class Outgoing:
    """One SQS message to send: due on the simulated clock, retried on the real one."""

    due: datetime
    seq: int
    arn: str = field(compare=False)
    body: str = field(compare=False)
    notification_id: str = field(compare=False)
    notification_type: str = field(compare=False)
    subscription_id: str = field(compare=False)
    duplicate: bool = field(default=False, compare=False)
    held_back: bool = field(default=False, compare=False)
    attempts: int = field(default=0, compare=False)
    not_before: float = field(default=0.0, compare=False)  # time.monotonic()
    first_failure: float | None = field(default=None, compare=False)


class Outbox:
    """Notifications waiting to be sent, and the thread that sends them (started on the first
    one, stopped by :meth:`close`). Its own lock: the simulator's state lock is never held
    while SQS is called."""

    def __init__(self, clock: SimClock, *, retry_seconds: float = RETRY_SECONDS) -> None:
        self.clock = clock
        self.retry_seconds = retry_seconds
        self.endpoint_url: str | None = None
        self._pending: list[Outgoing] = []
        self._seq = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closed = False
        self._clients: dict[tuple[str | None, str], Any] = {}
        self._queue_urls: dict[tuple[str, str], str] = {}  # (endpoint, ARN) -> queue URL
        self.sent: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.failures: deque[dict[str, Any]] = deque(maxlen=RECENT)
        self.counters = dict.fromkeys(
            ("published", "sent", "duplicates", "heldBack", "failedAttempts", "dropped"), 0
        )

    # -- the request side (called under the state lock: never blocks) ----------------------

    def push(self, item: Outgoing) -> None:
        with self._cond:
            if self._closed:
                return
            self._seq += 1
            item.seq = self._seq
            self._pending.append(item)
            if not item.duplicate:
                self.counters["published"] += 1
            else:
                self.counters["duplicates"] += 1
            if item.held_back:
                self.counters["heldBack"] += 1
            if self._thread is None:
                self._thread = threading.Thread(
                    target=self._run, name="amazon-simulator-notifications", daemon=True
                )
                self._thread.start()
            self._cond.notify()

    def snapshot(self) -> dict[str, Any]:
        with self._cond:
            return {
                "counters": {**self.counters, "pending": len(self._pending)},
                "sent": list(self.sent),
                "failures": list(self.failures),
            }

    def clear_log(self) -> None:
        with self._cond:
            self.sent.clear()
            self.failures.clear()

    def close(self) -> None:
        with self._cond:
            self._closed = True
            self._cond.notify()
        if self._thread is not None:
            self._thread.join(timeout=5)

    # -- the sending thread -----------------------------------------------------------------

    def _next_ready(self) -> Outgoing | None:
        """The earliest due notification whose retry wait is over, taken off the list; waits
        a little when there is none (the simulated clock may be moved by hand at any time)."""
        with self._cond:
            while not self._closed:
                now, monotonic = self.clock.now(), time.monotonic()
                ready = [i for i in self._pending if i.due <= now and i.not_before <= monotonic]
                if ready:
                    item = min(ready)
                    self._pending.remove(item)
                    return item
                # Nothing sendable: sleep until pushed to, or poll for the clock moving.
                self._cond.wait(timeout=0.02 if self._pending else None)
            return None

    def _run(self) -> None:
        while True:
            item = self._next_ready()
            if item is None:
                return
            try:
                self._send(item)
            except Exception as error:  # noqa: BLE001 - any SQS failure is logged, never raised
                self._failed(item, error)
            else:
                with self._cond:
                    self.counters["sent"] += 1
                    self.sent.append(
                        {
                            "notificationId": item.notification_id,
                            "notificationType": item.notification_type,
                            "subscriptionId": item.subscription_id,
                            "queueArn": item.arn,
                            "duplicate": item.duplicate,
                            "heldBack": item.held_back,
                            "attempts": item.attempts + 1,
                            "sentTime": isoformat(self.clock.now()),
                        }
                    )

    def _failed(self, item: Outgoing, error: Exception) -> None:
        monotonic = time.monotonic()
        item.attempts += 1
        if item.first_failure is None:
            item.first_failure = monotonic
        # The queue may have been recreated (or the endpoint changed): look it up again.
        self._queue_urls = {k: v for k, v in self._queue_urls.items() if k[1] != item.arn}
        gave_up = monotonic - item.first_failure >= self.retry_seconds
        log.warning(
            "notification %s to %s failed (attempt %d)%s: %s",
            item.notification_id,
            item.arn,
            item.attempts,
            ", dropped" if gave_up else "",
            error,
        )
        with self._cond:
            self.counters["failedAttempts"] += 1
            self.failures.append(
                {
                    "notificationId": item.notification_id,
                    "queueArn": item.arn,
                    "attempt": item.attempts,
                    "error": str(error) or type(error).__name__,
                    "dropped": gave_up,
                    "time": isoformat(self.clock.now()),
                }
            )
            if gave_up:
                self.counters["dropped"] += 1
                return
            item.not_before = monotonic + min(10.0, 0.25 * 2 ** min(item.attempts, 6))
            self._pending.append(item)

    def _send(self, item: Outgoing) -> None:
        endpoint = self.endpoint_url
        if endpoint is None:
            raise RuntimeError(
                "no SQS endpoint is configured (--sqs-endpoint, SPAPI_SIMULATOR_SQS_ENDPOINT "
                "or POST /_sim/notifications {sqsEndpointUrl})"
            )
        match = SQS_ARN.match(item.arn)
        if match is None:  # createDestination checked it; kept for safety
            raise ValueError(f"not an SQS queue ARN: {item.arn}")
        region, account, name = match.groups()
        client = self._client(endpoint, region)
        url = self._queue_urls.get((endpoint, item.arn))
        if url is None:
            url = client.get_queue_url(QueueName=name, QueueOwnerAWSAccountId=account)["QueueUrl"]
            self._queue_urls[(endpoint, item.arn)] = url
        client.send_message(QueueUrl=url, MessageBody=item.body)

    def _client(self, endpoint: str, region: str) -> Any:
        key = (endpoint, region)
        client = self._clients.get(key)
        if client is None:
            import boto3
            from botocore.config import Config

            client = boto3.client(
                "sqs",
                endpoint_url=endpoint,
                region_name=region,
                # Amazon writes to the seller's queue as its own principal; a local SQS takes
                # any keys, so the simulator brings dummy ones rather than reading the seller's.
                aws_access_key_id="simulator",
                aws_secret_access_key="simulator",  # noqa: S106 - a local SQS ignores it
                config=Config(
                    connect_timeout=2,
                    read_timeout=5,
                    retries={"max_attempts": 1, "mode": "standard"},
                ),
            )
            self._clients[key] = client
        return client


def encode(body: dict[str, Any]) -> str:
    return json.dumps(body, ensure_ascii=False, separators=(",", ":"))
