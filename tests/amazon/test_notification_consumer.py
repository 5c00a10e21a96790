"""Amazon's notifications through a real SQS server (moto's) into the product: the simulator
publishes them as orders change, the consumer reads, fetches and imports them.

One loop iteration (``Consumer.run_once``) is called directly; the process around it is tested
in tests/commands/test_consume_notifications.py.
"""

from __future__ import annotations

import json
import time
from collections import Counter
from typing import Any

import pytest
from django.utils import timezone

from marketplaces import orders
from marketplaces.amazon import order_sync, ratelimit
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.types import parse_order
from marketplaces.models import NotificationMessage, SalesChannel, SalesOrder
from marketplaces.notification_consumer import Consumer, handle, parse
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from synchistory.models import SyncRun
from tests.helpers.amazon import run_order_sync, stocked_skus
from tests.helpers.notifications import subscribe
from tests.helpers.sqs import CREDENTIALS, REGION, SqsServer, receive_all
from warehouses.models import Item, Stock

pytestmark = pytest.mark.django_db

FBA_CHANGES = "/notifications/v1/subscriptions/FBA_INVENTORY_AVAILABILITY_CHANGES"


@pytest.fixture
def live_sim(sim_factory: Any, sqs_server: SqsServer) -> Simulator:
    """The channel fixtures' simulator (manual clock at the real now, usage plans off), with
    no order stream of its own and its notifications sent to moto's SQS server."""
    return sim_factory(
        start_time=timezone.now().replace(microsecond=0),
        enforce_rate_limits=False,
        order_interval_seconds=0,
        sqs_endpoint_url=sqs_server.endpoint_url,
    )


@pytest.fixture
def product_sqs(settings: Any, monkeypatch: pytest.MonkeyPatch, sqs_server: SqsServer) -> None:
    """The product's SQS settings on moto's server; boto3's key chain gets dummy keys from the
    environment (never an instance-metadata lookup)."""
    settings.SQS_ENDPOINT_URL = sqs_server.endpoint_url
    settings.AWS_REGION = REGION
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", CREDENTIALS["aws_access_key_id"])
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", CREDENTIALS["aws_secret_access_key"])


@pytest.fixture
def queue(
    amazon_settings: Simulator, channel: SalesChannel, product_sqs: None, sqs_queue: Any
) -> tuple[str, str]:
    """A fresh queue the simulator's seller is subscribed to for ORDER_CHANGE."""
    subscribe(amazon_settings, sqs_queue[1])
    return sqs_queue


def place_order(sim: Simulator, **body: Any) -> str:
    created = sim_post(sim, "/_sim/orders", {"count": 1, "fulfilledBy": "MERCHANT", **body})
    return str(created["orders"][0]["orderId"])


def wait_sent(sim: Simulator, count: int, timeout: float = 10.0) -> None:
    """Until the simulator's outbox has sent ``count`` messages (its sender is a thread)."""
    deadline = time.monotonic() + timeout
    while sim_get(sim, "/_sim/notifications")["counters"]["sent"] < count:
        assert time.monotonic() < deadline, sim_get(sim, "/_sim/notifications")
        time.sleep(0.02)


def consume(consumer: Consumer, expect: int, timeout: float = 15.0) -> Counter[str]:
    """Run the consumer's loop body until ``expect`` messages were handled (or the time is up:
    the caller's assertion then says what is missing); the outcomes counted."""
    outcomes: Counter[str] = Counter()
    deadline = time.monotonic() + timeout
    while sum(outcomes.values()) < expect and time.monotonic() < deadline:
        outcomes.update(consumer.run_once(wait_seconds=1).outcomes)
    return outcomes


def committed(order: SalesOrder) -> dict[str, int]:
    return dict(
        Stock.objects.filter(item__order_lines__order=order, warehouse=order.warehouse).values_list(
            "item__sku", "committed"
        )
    )


def get_order_calls(sim: Simulator) -> int:
    counters = sim_get(sim, "/_sim/counters")["operations"]
    return int(counters.get("getOrder", {}).get("calls", 0))


def queue_depth(sqs: Any, url: str) -> int:
    attributes = sqs.get_queue_attributes(
        QueueUrl=url,
        AttributeNames=["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"],
    )["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]) + int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_an_order_placed_on_amazon_arrives_through_sqs_and_is_imported(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    url, arn = queue
    order_id = place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")

    outcomes = consume(Consumer(arn), expect=2)

    # Amazon tells of the order twice (created Pending, then paid): whichever comes first,
    # one is no news.
    assert outcomes == {"applied": 1, "ignored": 1}
    order = SalesOrder.objects.get(amazon_order_id=order_id)
    assert (order.channel, order.amazon_status) == (channel, "UNSHIPPED")
    assert order.shipping_address.get("postalCode")  # a merchant order to ship: its address
    message = NotificationMessage.objects.get(status="applied")
    assert (message.notification_type, message.status, message.subject) == (
        "ORDER_CHANGE",
        "applied",
        order_id,
    )
    assert (message.channel, message.seller_id) == (channel, channel.seller_id)
    assert message.event_time == order.amazon_updated_at
    assert queue_depth(sqs, url) == 0  # deleted once applied


def test_a_duplicated_notification_is_applied_once(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    url, arn = queue
    sim_post(amazon_settings, "/_sim/notifications", {"duplicateShare": 1})
    order_id = place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
    wait_sent(amazon_settings, 4)
    calls_before = get_order_calls(amazon_settings)

    outcomes = consume(Consumer(arn), expect=4)

    assert outcomes == {"applied": 1, "ignored": 1, "duplicate": 2}
    assert SalesOrder.objects.filter(amazon_order_id=order_id).count() == 1
    assert NotificationMessage.objects.count() == 2
    # One call: the Pending notification needs none, the order comes with its buyer's address.
    assert get_order_calls(amazon_settings) - calls_before == 1
    assert queue_depth(sqs, url) == 0


def overtaken(sim: Simulator, sqs: Any, url: str, consumer: Consumer) -> tuple[str, Any]:
    """An order created (Pending, then Unshipped) and shipped, whose first notification is held
    back until the other two were applied (SQS does not keep order): the order id and that
    held-back message, not yet sent to the queue again."""
    order_id = place_order(sim, fulfillmentStatus="UNSHIPPED")
    pending, unshipped = receive_all(sqs, url, expect=2)
    assert [
        m["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"]
        for m in (pending, unshipped)
    ] == ["Pending", "Unshipped"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(unshipped))
    assert consume(consumer, expect=1) == {"applied": 1}
    sim.clock.advance(60)
    sim_post(sim, f"/_sim/orders/{order_id}/status", {"fulfillmentStatus": "SHIPPED"})
    assert consume(consumer, expect=1) == {"applied": 1}
    assert SalesOrder.objects.get(amazon_order_id=order_id).amazon_status == "SHIPPED"
    return order_id, pending


def test_a_notification_arriving_after_newer_ones_changes_nothing(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    url, arn = queue
    consumer = Consumer(arn)
    order_id, pending = overtaken(amazon_settings, sqs, url, consumer)
    shipped = SalesOrder.objects.get(amazon_order_id=order_id)
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(pending))
    calls_before = get_order_calls(amazon_settings)

    outcomes = consume(consumer, expect=1)

    assert outcomes == {"ignored": 1}
    order = SalesOrder.objects.get(amazon_order_id=order_id)
    assert (order.amazon_status, order.amazon_updated_at) == ("SHIPPED", shipped.amazon_updated_at)
    ignored = NotificationMessage.objects.get(status="ignored")
    assert ignored.reason.startswith("The order is already as Amazon had it")
    assert get_order_calls(amazon_settings) == calls_before  # no call for old news


def test_an_older_notification_never_moves_an_order_back_even_when_it_is_fetched(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    """An older notification without an EventTime is fetched (Amazon answers with the order
    as it is now) and imported by polling's code, which refuses to go backwards."""
    url, arn = queue
    consumer = Consumer(arn)
    order_id, pending = overtaken(amazon_settings, sqs, url, consumer)
    del pending["EventTime"]
    sqs.send_message(QueueUrl=url, MessageBody=json.dumps(pending))

    outcomes = consume(consumer, expect=1)

    assert outcomes == {"ignored": 1}
    assert SalesOrder.objects.get(amazon_order_id=order_id).amazon_status == "SHIPPED"
    assert NotificationMessage.objects.get(status="ignored").reason == orders.UP_TO_DATE_REASON


@pytest.mark.parametrize(
    ("body", "reason"),
    [
        ("{not json", "the message is not JSON"),
        ('["a", "list"]', "the message is not a JSON object"),
        ('{"NotificationType": "ORDER_CHANGE", "Payload": {}}', "no NotificationMetadata"),
    ],
)
def test_an_unreadable_message_is_recorded_failed_and_the_next_one_applies(
    amazon_settings: Simulator,
    channel: SalesChannel,
    queue: tuple[str, str],
    sqs: Any,
    body: str,
    reason: str,
) -> None:
    url, arn = queue
    sent = sqs.send_message(QueueUrl=url, MessageBody=body)
    order_id = place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
    wait_sent(amazon_settings, 2)

    outcomes = consume(Consumer(arn), expect=3)

    assert outcomes == {"failed": 1, "applied": 1, "ignored": 1}
    failed = NotificationMessage.objects.get(status="failed")
    assert reason in failed.reason
    assert failed.notification_id == f"sqs:{sent['MessageId']}"
    assert failed.payload["body"] == body
    assert SalesOrder.objects.filter(amazon_order_id=order_id).exists()
    assert queue_depth(sqs, url) == 0  # a broken message does not come back for ever


def test_an_order_change_without_its_order_id_is_failed_with_the_reason(db: None) -> None:
    body = {
        "NotificationType": "ORDER_CHANGE",
        "EventTime": "2026-01-01T00:00:00Z",
        "Payload": {"OrderChangeNotification": {"SellerId": "A3SIMULATORCA", "Summary": {}}},
        "NotificationMetadata": {"NotificationId": "n-1"},
    }

    outcome = handle(json.dumps(body), "m-1")

    assert outcome.status == "failed" and outcome.delete
    record = NotificationMessage.objects.get(notification_id="n-1")
    assert "lacks its SellerId, AmazonOrderId or Summary.MarketplaceId" in record.reason


def test_a_503_on_get_order_leaves_the_message_for_later(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    url, arn = queue
    # Back a second after a failed attempt instead of SQS' default 30 s.
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "1"})
    order_id = place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
    consumer = Consumer(arn)
    assert consume(consumer, expect=2) == {"applied": 1, "ignored": 1}
    amazon_settings.clock.advance(60)
    sim_post(amazon_settings, f"/_sim/orders/{order_id}/status", {"fulfillmentStatus": "SHIPPED"})
    wait_sent(amazon_settings, 3)
    sim_post(
        amazon_settings,
        "/_sim/faults",
        {"operation": "getOrder", "kind": "server_error", "status": 503, "count": 1},
    )

    first = consume(consumer, expect=1)
    left = queue_depth(sqs, url)
    recorded = NotificationMessage.objects.count()
    later = consume(consumer, expect=1)

    assert first == {"later": 1}
    assert (left, recorded) == (1, 2)  # still in the queue, nothing recorded for it
    assert later == {"applied": 1}
    assert SalesOrder.objects.get(amazon_order_id=order_id).amazon_status == "SHIPPED"
    assert queue_depth(sqs, url) == 0


def test_a_marketplace_without_a_channel_is_ignored_with_the_reason(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    _, arn = queue
    order_id = place_order(
        amazon_settings, fulfillmentStatus="UNSHIPPED", marketplaceId="ATVPDKIKX0DER"
    )

    outcomes = consume(Consumer(arn), expect=2)

    assert outcomes == {"ignored": 2}
    assert set(NotificationMessage.objects.values_list("reason", flat=True)) == {
        f"No sales channel here for seller {channel.seller_id} on marketplace ATVPDKIKX0DER"
    }
    assert not SalesOrder.objects.filter(amazon_order_id=order_id).exists()


def test_a_pending_order_is_ignored_until_amazon_has_the_payment(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    _, arn = queue
    order_id = place_order(amazon_settings, fulfillmentStatus="PENDING")
    consumer = Consumer(arn)

    pending = consume(consumer, expect=1)
    sim_post(amazon_settings, f"/_sim/orders/{order_id}/status", {"fulfillmentStatus": "UNSHIPPED"})
    paid = consume(consumer, expect=1)

    assert (pending, paid) == ({"ignored": 1}, {"applied": 1})
    assert SalesOrder.objects.get(amazon_order_id=order_id).amazon_status == "UNSHIPPED"


def test_fba_stock_changes_request_one_fba_refresh(
    amazon_settings: Simulator, channel: SalesChannel, product_sqs: None, sqs_queue: Any
) -> None:
    url, arn = sqs_queue
    subscribe(amazon_settings, arn, FBA_CHANGES)
    fba = [
        listing
        for listing in sim_get(amazon_settings, "/_sim/listings")["listings"]
        if listing["fulfillmentChannelCode"] == "AMAZON_NA" and not listing["isParent"]
    ]
    for listing in fba[:2]:
        sim_post(amazon_settings, "/_sim/fba-inventory", {"sku": listing["sku"], "fulfillable": 7})
    wait_sent(amazon_settings, 2)

    outcomes = consume(Consumer(arn), expect=2)

    assert outcomes == {"applied": 2}
    runs = SyncRun.objects.filter(channel=channel, kind=SyncRun.Kind.FBA_INVENTORY)
    assert [(run.trigger, run.status) for run in runs] == [("automatic", "queued")]
    reasons = sorted(NotificationMessage.objects.values_list("reason", flat=True))
    assert reasons == [
        f"FBA stock refresh requested for {channel.name}",
        f"already refreshing: {channel.name}",
    ]


def test_parse_reads_amazons_envelope() -> None:
    body = {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "EventTime": "2026-03-01T12:00:00.250Z",
        "Payload": {"OrderChangeNotification": {}},
        "NotificationMetadata": {"NotificationId": " abc "},
    }

    notification = parse(json.dumps(body))

    assert (notification.notification_id, notification.notification_type) == (
        "abc",
        "ORDER_CHANGE",
    )
    assert notification.event_time is not None
    assert notification.event_time.isoformat() == "2026-03-01T12:00:00.250000+00:00"


def test_a_throttled_get_order_on_a_known_order_leaves_the_message_until_amazon_takes_calls(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    url, arn = queue
    order_id = place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
    consumer = Consumer(arn)
    assert consume(consumer, expect=2) == {"applied": 1, "ignored": 1}
    amazon_settings.clock.advance(60)
    sim_post(amazon_settings, f"/_sim/orders/{order_id}/status", {"fulfillmentStatus": "SHIPPED"})
    wait_sent(amazon_settings, 3)
    sim_post(
        amazon_settings,
        "/_sim/faults",
        {"operation": "getOrder", "kind": "throttle", "count": 5},
    )

    outcomes = consume(consumer, expect=1)

    # A change of an order we have needs Amazon's view: it waits in the queue, nothing recorded.
    assert outcomes == {"later": 1}
    assert NotificationMessage.objects.count() == 2
    assert queue_depth(sqs, url) == 1
    assert SalesOrder.objects.get(amazon_order_id=order_id).amazon_status == "UNSHIPPED"


def test_a_new_order_amazon_cannot_be_asked_about_is_imported_from_its_notification(
    amazon_settings: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    queue: tuple[str, str],
    sqs: Any,
) -> None:
    url, arn = queue
    body = {"count": 1, "fulfilledBy": "MERCHANT", "skus": stocked_skus(stocked_items, 2)}
    amazon = parse_order(sim_post(amazon_settings, "/_sim/orders", body)["orders"][0])
    wait_sent(amazon_settings, 2)
    sim_post(amazon_settings, "/_sim/faults", {"operation": "getOrder", "kind": "throttle"})

    outcomes = consume(Consumer(arn), expect=2)

    assert outcomes == {"applied": 1, "ignored": 1}
    assert queue_depth(sqs, url) == 0
    order = SalesOrder.objects.get(amazon_order_id=amazon.order_id)
    quantities = {line.seller_sku: line.quantity for line in amazon.items}
    # What the notification says is in, and the stock is committed at once ...
    assert order.awaiting_details
    assert (order.status, order.total, order.shipping_address) == ("confirmed", 0, None)
    assert {line.seller_sku: line.quantity for line in order.lines.all()} == quantities
    assert committed(order) == quantities
    assert order.latest_ship_date == amazon.latest_ship
    message = NotificationMessage.objects.get(status="applied")
    assert "Imported from the notification" in message.reason

    # ... the next poll brings Amazon's prices and taxes, committing nothing twice; the buyer
    # (a getOrder of its own, whose quota Amazon's 429 just emptied) follows at its pace.
    sim_post(amazon_settings, "/_sim/clock/advance", {"seconds": 300})
    run = run_order_sync(channel)
    order.refresh_from_db()
    priced = (order.total, order.awaiting_details, order.shipping_address)
    completed = order_sync.complete_awaiting_orders(channel, client_for(channel), seconds=30)

    order.refresh_from_db()
    assert run.status == "succeeded"
    assert priced == (amazon.grand_total, True, None)
    assert completed >= 1  # the poll's other new orders waited for their buyer too
    assert not SalesOrder.objects.filter(awaiting_details=True).exists()
    assert order.total == amazon.grand_total
    assert order.tax_total == sum(line.item_tax + line.shipping_tax for line in amazon.items)
    assert order.shipping_address and order.shipping_address.get("postalCode")
    assert {line.seller_sku: (line.unit_price, line.title) for line in order.lines.all()} == {
        line.seller_sku: (line.unit_price, line.title) for line in amazon.items
    }
    assert committed(order) == quantities


def test_an_order_item_level_notification_never_stands_for_the_order(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    """An OrderItemLevel notification lists one item of the order: it waits for Amazon."""
    place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
    paid = receive_all(sqs, queue[0], expect=2)[-1]
    paid["Payload"]["OrderChangeNotification"]["NotificationLevel"] = "OrderItemLevel"
    sim_post(amazon_settings, "/_sim/faults", {"operation": "getOrder", "kind": "throttle"})

    outcome = handle(json.dumps(paid))

    assert outcome.status == "later"
    assert not SalesOrder.objects.exists()


def test_a_notification_summary_that_cannot_stand_for_the_order_waits_for_amazon(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
    paid = receive_all(sqs, queue[0], expect=2)[-1]
    paid["Payload"]["OrderChangeNotification"]["Summary"]["OrderItems"][0]["Quantity"] = "two"
    sim_post(amazon_settings, "/_sim/faults", {"operation": "getOrder", "kind": "throttle"})

    outcome = handle(json.dumps(paid))

    assert outcome.status == "later"
    assert "Quantity is not a count" in outcome.reason
    assert not SalesOrder.objects.exists()


def test_a_new_order_never_waits_for_get_orders_quota(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    """One consumer handles one message at a time: waiting 2 s for each getOrder token would
    delay every message behind it. A new order is imported from its notification instead."""
    order_id = place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
    wait_sent(amazon_settings, 2)
    ratelimit.record_throttle(channel.seller_id, "getOrder")  # the seller's quota just spent
    calls = get_order_calls(amazon_settings)

    outcomes = consume(Consumer(queue[1]), expect=2)

    assert outcomes == {"applied": 1, "ignored": 1}
    assert SalesOrder.objects.get(amazon_order_id=order_id).awaiting_details
    assert get_order_calls(amazon_settings) == calls


def test_a_buyers_cancellation_request_arrives_through_sqs_and_is_flagged(
    amazon_settings: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    _, arn = queue
    consumer = Consumer(arn)
    order_id = place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
    consume(consumer, expect=2)

    sim_post(amazon_settings, "/_sim/clock/advance", {"seconds": 60})  # the request comes later
    sim_post(amazon_settings, f"/_sim/orders/{order_id}/cancel-request", {"reason": "Too late"})
    outcomes = consume(consumer, expect=1)

    assert outcomes == {"applied": 1}
    order = SalesOrder.objects.get(amazon_order_id=order_id)
    assert order.buyer_cancel_request == SalesOrder.CancelRequest.OPEN
    assert order.buyer_cancel_reason == "Too late"
    assert order.lines.filter(buyer_cancel_requested=True).exists()
