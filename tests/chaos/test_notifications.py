"""Amazon's notifications under faults, on real services: the simulator sends ORDER_CHANGE
notifications to a queue on moto's SQS server (its own process), ``manage.py
consume_notifications`` reads them as its own process, Celery workers and PostgreSQL as in
production. After each scenario: every Amazon order exactly once locally, with Amazon's status
and lines, and committed stock equal to what open orders hold (tests/chaos/invariants.py).

Orders are polled once at the start; with healthy notifications the next poll is a day away,
so what arrives afterwards arrived through the queue (except in the scenario where
notifications stop and polling must catch up).
"""

from __future__ import annotations

import json
import time
import uuid
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from django.db.models import F
from django.test import Client
from django.utils import timezone

from marketplaces.models import (
    AMAZON_CA_MARKETPLACE_ID,
    NotificationMessage,
    NotificationSetup,
    SalesOrder,
)
from marketplaces.queries import NOTIFICATIONS_QUIET_AFTER
from synchistory.models import SyncRun
from tests.amazon.test_notification_consumer import get_order_calls, place_order
from tests.chaos import invariants
from tests.chaos.rig import (
    NOTIFICATION_VISIBILITY_SECONDS,
    SELLER_ID,
    TRIALS,
    MakeRig,
    Rig,
    wait_until,
)
from tests.helpers.notifications import grantless_client
from tests.helpers.sqs import SqsServer

pytestmark = [pytest.mark.chaos, pytest.mark.services]

# Enough merchant listings for place_orders' 20 SKUs; few enough that a push is quick.
MERCHANT_LISTINGS = 30
# How long the simulator holds the getOrder call the consumer is killed in (real seconds).
HOLD = 3.0


def notified_rig(make_rig: MakeRig, server: SqsServer, **options: Any) -> Rig:
    """A rig whose seller is subscribed to ORDER_CHANGE on a queue of ``server``, with one
    worker and listings pushed once; the consumer is the test's to start."""
    rig = make_rig(merchant_listings=MERCHANT_LISTINGS, **options)
    rig.start_worker()
    rig.notify_through(server)
    # One clean poll and push first: the next poll is a day away while notifications are
    # healthy, and what the orders change is pushed from listings that start out right.
    rig.final_sync(SyncRun.Kind.ORDERS)
    rig.final_sync(SyncRun.Kind.STOCK)
    return rig


def sim_notifications(rig: Rig) -> dict[str, Any]:
    return rig.sim_get("/_sim/notifications")


def drained(rig: Rig, timeout: float = 30) -> None:
    """Until the simulator has sent everything it published and the queue is empty (each
    message deleted, so its outcome is committed)."""
    queue = rig.queue_of_notifications
    assert queue is not None

    def empty() -> bool:
        return sim_notifications(rig)["counters"]["pending"] == 0 and queue.depth() == 0

    wait_until(
        empty,
        timeout,
        "the notifications to be sent and consumed",
        every=0.3,
        workers=rig.consumers,
    )


def check_after(rig: Rig) -> None:
    """Every consumer the test did not kill still running, the queue drained, then one clean
    push and the invariants."""
    for consumer in rig.consumers:
        if consumer.process.returncode is None:  # not reaped after a kill
            consumer.assert_alive()
    drained(rig)
    rig.final_sync(SyncRun.Kind.STOCK)
    invariants.check_all(rig.sim.base_url, rig.channel)
    ids = list(NotificationMessage.objects.values_list("notification_id", flat=True))
    assert len(ids) == len(set(ids))


def order_change(
    order_id: str,
    *,
    seller_id: str = SELLER_ID,
    status: str = "Unshipped",
    event_time: str | None = None,
    dated: bool = True,
    marketplace_id: str = AMAZON_CA_MARKETPLACE_ID,
) -> str:
    """An ORDER_CHANGE message as Amazon shapes it (OrderChangeNotification.json), with a
    NotificationId of its own; Amazon's ``event_time`` (now by default), none unless
    ``dated``."""
    body: dict[str, Any] = {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": event_time or timezone.now().isoformat().replace("+00:00", "Z"),
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": seller_id,
                "AmazonOrderId": order_id,
                "OrderChangeType": "OrderStatusChange",
                "Summary": {
                    "MarketplaceId": marketplace_id,
                    "OrderStatus": status,
                    "FulfillmentType": "MFN",
                    "OrderType": "StandardOrder",
                },
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "amzn1.sp.solution.simulator",
            "SubscriptionId": "raw",
            "PublishTime": timezone.now().isoformat().replace("+00:00", "Z"),
            "NotificationId": str(uuid.uuid4()),
        },
    }
    if not dated:
        del body["EventTime"]
    return json.dumps(body)


# -- 1. the consumer SIGKILLed while applying a message ---------------------------------------


def test_a_consumer_killed_while_applying_a_message_gets_it_again_and_applies_it_once(
    make_rig: MakeRig, sqs_server: SqsServer
) -> None:
    rig = notified_rig(make_rig, sqs_server)
    rig.start_consumer()
    calls = get_order_calls(rig.sim)
    # The consumer's next getOrder is answered only after HOLD seconds: it is killed inside.
    rig.sim_post(
        "/_sim/faults", {"operation": "getOrder", "kind": "timeout", "seconds": HOLD, "count": 1}
    )
    order_id = place_order(rig.sim, fulfillmentStatus="UNSHIPPED")
    wait_until(
        lambda: not rig.sim_get("/_sim/faults")["faults"],
        20,
        "the consumer to call getOrder",
        workers=rig.consumers,
    )
    time.sleep(rig.rng.uniform(0, HOLD / 2))
    rig.kill(rig.consumers[-1])
    assert not SalesOrder.objects.filter(amazon_order_id=order_id).exists()

    rig.start_consumer()
    rig.wait_orders_match()

    # Back after its visibility timeout: fetched twice (the held call, then again), imported
    # and recorded once.
    assert get_order_calls(rig.sim) - calls == 2
    records = NotificationMessage.objects.filter(subject=order_id)
    assert sorted(records.values_list("status", flat=True)) == ["applied", "ignored"]
    assert SalesOrder.objects.filter(amazon_order_id=order_id).count() == 1

    # Then killed at random moments of a stream of messages, some mid-import.
    for trial in range(TRIALS):
        before = NotificationMessage.objects.count()
        placed = rig.place_orders(rig.rng.randint(8, 20), change_imported_only=True)
        handled = rig.rng.randint(1, len(placed))
        target = before + handled
        wait_until(
            lambda: NotificationMessage.objects.count() >= target,  # noqa: B023
            30,
            f"{handled} notifications handled",
            every=0.05,
            workers=rig.consumers,
        )
        rig.kill(rig.consumers[-1])
        print(f"trial {trial}: {len(placed)} orders, killed after {handled} notifications")
        rig.start_consumer()
        rig.wait_orders_match()

    check_after(rig)


# -- 2. SQS unreachable for a while -------------------------------------------------------------


def test_the_consumer_outlives_sqs_being_unreachable_and_then_brings_every_order(
    make_rig: MakeRig, tmp_path: Path
) -> None:
    server = SqsServer(tmp_path / "moto.log").start()  # this test's own: it is stopped
    try:
        rig = notified_rig(make_rig, server)
        consumer = rig.start_consumer()
        rig.place_orders(5, change_imported_only=True)
        rig.wait_orders_match()
        drained(rig)  # moto keeps its queues in memory: what it holds when stopped is gone

        server.stop()
        during = rig.place_orders(5, change_imported_only=True)
        outage = time.monotonic()
        while time.monotonic() - outage < 8:
            consumer.assert_alive()
            time.sleep(0.5)
        log = consumer.log_path.read_text()
        pauses = [
            line.rsplit("trying again in ", 1)[1]
            for line in log.splitlines()
            if "trying again in" in line
        ]
        print("consumer's pauses:", pauses)
        # Logged and backed off (2 s, 4 s, 8 s ...), not a crash loop.
        assert 1 <= len(pauses) <= 4, log
        assert pauses[:2] == ["2 s", "4 s"][: len(pauses[:2])], log
        assert not SalesOrder.objects.filter(amazon_order_id__in=during).exists()

        # SQS back on the same port, the queue as the seller set it up (same name, same ARN);
        # the simulator still holds what it could not send meanwhile.
        server = SqsServer(tmp_path / "moto-again.log", port=server.port).start()
        queue = rig.queue_of_notifications
        assert queue is not None
        name = queue.arn.rsplit(":", 1)[1]
        queue.client.create_queue(
            QueueName=name,
            Attributes={"VisibilityTimeout": str(NOTIFICATION_VISIBILITY_SECONDS)},
        )
        rig.place_orders(5, change_imported_only=True)
        rig.wait_orders_match(timeout=50)
        consumer.assert_alive()
        check_after(rig)
        assert "Notifications: " in consumer.log_path.read_text().split("trying again in")[-1]
    finally:
        server.stop()


# -- 3. duplicated, reordered and malformed messages -------------------------------------------

# (body, the reason recorded, its NotificationId: None for those without one, recorded
# under SQS' MessageId)
MALFORMED = [
    ("{not json", "the message is not JSON", None),
    ('["a", "list"]', "the message is not a JSON object", None),
    (
        json.dumps({"NotificationType": "ORDER_CHANGE", "Payload": {}}),
        "the message has no NotificationMetadata.NotificationId",
        None,
    ),
    (
        json.dumps(
            {
                "NotificationType": "ORDER_CHANGE",
                "Payload": {"Summary": {}},
                "NotificationMetadata": {"NotificationId": "wrong-schema-1"},
            }
        ),
        "the ORDER_CHANGE payload has no OrderChangeNotification",
        "wrong-schema-1",
    ),
    (
        json.dumps(
            {
                "NotificationType": "ORDER_CHANGE",
                "Payload": {"OrderChangeNotification": {"SellerId": SELLER_ID, "Summary": {}}},
                "NotificationMetadata": {"NotificationId": "wrong-schema-2"},
            }
        ),
        "lacks its SellerId, AmazonOrderId or Summary.MarketplaceId",
        "wrong-schema-2",
    ),
]


def test_duplicated_reordered_and_malformed_messages(
    make_rig: MakeRig, sqs_server: SqsServer, admin_client: Client
) -> None:
    rig = notified_rig(make_rig, sqs_server)
    queue = rig.queue_of_notifications
    assert queue is not None
    # Half sent twice; a third held back 10 simulated minutes (5 s), so later ones overtake.
    rig.sim_post(
        "/_sim/notifications",
        {"duplicateShare": 0.5, "reorderShare": 0.3, "reorderSeconds": 600},
    )
    broken: dict[str, str] = {}  # the id each is recorded under -> its reason
    for body, reason, notification_id in MALFORMED:
        message_id = queue.send(body)
        broken[notification_id or f"sqs:{message_id}"] = reason
    unknown_type = json.loads(order_change("n/a"))
    unknown_type["NotificationType"] = "NOT_A_NOTIFICATION_TYPE"
    queue.send(json.dumps(unknown_type))
    rig.start_consumer()

    for _ in range(3):
        rig.place_orders(
            rig.rng.randint(5, 10), change_imported_only=True
        )  # and some earlier ones change
        time.sleep(1.0)  # ten simulated minutes: changes of the next round are newer
    drained(rig, timeout=45)
    rig.wait_orders_match()

    # An old change arriving now (a new NotificationId, Amazon's time before the order's last
    # change) moves nothing back, whether it says when it happened or not.
    unshipped = SalesOrder.objects.filter(channel=rig.channel, amazon_status="UNSHIPPED").first()
    assert unshipped is not None
    rig.sim_post(
        f"/_sim/orders/{unshipped.amazon_order_id}/status", {"fulfillmentStatus": "SHIPPED"}
    )
    drained(rig)
    rig.wait_orders_match()
    shipped = SalesOrder.objects.get(pk=unshipped.pk)
    assert shipped.amazon_status == "SHIPPED" and shipped.amazon_updated_at is not None
    old = (shipped.amazon_updated_at - timedelta(minutes=5)).isoformat().replace("+00:00", "Z")
    queue.send(order_change(shipped.amazon_order_id, event_time=old))
    queue.send(order_change(shipped.amazon_order_id, dated=False))
    drained(rig)
    shipped_now = SalesOrder.objects.get(pk=shipped.pk)
    assert (shipped_now.amazon_status, shipped_now.amazon_updated_at) == (
        "SHIPPED",
        shipped.amazon_updated_at,
    )

    counters = sim_notifications(rig)["counters"]
    assert counters["duplicates"] > 0 and counters["heldBack"] > 0, counters
    # Every malformed message kept with its reason, none left in the queue.
    failed = {
        m.notification_id: m.reason
        for m in NotificationMessage.objects.filter(status=NotificationMessage.Status.FAILED)
    }
    assert set(failed) == set(broken), failed
    for notification_id, reason in broken.items():
        assert reason in failed[notification_id], (reason, failed[notification_id])
    ignored = NotificationMessage.objects.get(notification_type="NOT_A_NOTIFICATION_TYPE")
    assert ignored.status == NotificationMessage.Status.IGNORED
    assert ignored.reason == "NOT_A_NOTIFICATION_TYPE notifications are not used here"
    # ... and shown in Sync History › Notifications with it.
    page = admin_client.get(
        f"/settings/integrations/marketplaces/{rig.channel.pk}/history/notifications/"
    ).content.decode()
    for reason in broken.values():
        assert reason in page, reason
    check_after(rig)


# -- 4. unknown orders, another seller ---------------------------------------------------------


def test_notifications_for_unknown_orders_and_another_seller_are_recorded_and_block_nothing(
    make_rig: MakeRig, sqs_server: SqsServer
) -> None:
    rig = notified_rig(make_rig, sqs_server)
    queue = rig.queue_of_notifications
    assert queue is not None
    rig.start_consumer()
    ours = place_order(rig.sim, fulfillmentStatus="UNSHIPPED")
    rig.wait_orders_match()
    calls = get_order_calls(rig.sim)

    unknown = "702-0000000-0000000"
    other = "A1OTHERSELLER99"

    def send_foreign() -> None:
        queue.send(order_change(unknown))
        # Another seller's, even one naming an order of ours: not ours to fetch or import.
        queue.send(order_change(ours, seller_id=other))
        queue.send(order_change("702-1111111-1111111", seller_id=other))

    send_foreign()
    drained(rig)
    # Only the unknown order was asked for (Amazon does not know it); never the other seller's.
    assert get_order_calls(rig.sim) - calls == 1
    # Again, amid new orders: they all arrive.
    send_foreign()
    rig.place_orders(10, change_imported_only=True)
    rig.wait_orders_match()
    drained(rig)

    assert not SalesOrder.objects.filter(
        amazon_order_id__in=[unknown, "702-1111111-1111111"]
    ).exists()
    not_ours = NotificationMessage.objects.filter(seller_id=other)
    assert [(m.status, m.reason, m.channel) for m in not_ours] == [
        (
            NotificationMessage.Status.IGNORED,
            f"No sales channel here for seller {other} on marketplace {AMAZON_CA_MARKETPLACE_ID}",
            None,
        )
    ] * 4
    lost = list(NotificationMessage.objects.filter(subject=unknown))
    assert [(m.status, m.channel) for m in lost] == [
        (NotificationMessage.Status.FAILED, rig.channel)
    ] * 2
    assert all(m.reason for m in lost)
    print("unknown order:", lost[0].reason)
    check_after(rig)


# -- 5. notifications stop silently: polling catches up ----------------------------------------

HEALTHY_MINUTES = 30


def test_when_notifications_stop_silently_polling_catches_up_and_health_says_so(
    make_rig: MakeRig, sqs_server: SqsServer, admin_client: Client, settings: Any
) -> None:
    settings.AMAZON_NOTIFICATIONS_HEALTHY_MINUTES = HEALTHY_MINUTES
    rig = make_rig(merchant_listings=MERCHANT_LISTINGS)
    rig.extra_env["AMAZON_NOTIFICATIONS_HEALTHY_MINUTES"] = str(HEALTHY_MINUTES)
    rig.start_worker()
    queue = rig.notify_through(sqs_server)
    rig.final_sync(SyncRun.Kind.ORDERS)
    rig.final_sync(SyncRun.Kind.STOCK)
    rig.start_consumer()
    rig.place_orders(5, change_imported_only=True)
    rig.wait_orders_match()
    detail = f"/settings/integrations/marketplaces/{rig.channel.pk}/"
    assert 'id="notifications-healthy"' in admin_client.get(detail).content.decode()

    # Amazon stops sending, telling no one (a subscription deleted in Seller Central).
    with grantless_client(rig.sim) as app:
        gone = app.delete(f"/notifications/v1/subscriptions/ORDER_CHANGE/{queue.subscription_id}")
        assert gone.status_code == 200, gone.text
    published = sim_notifications(rig)["counters"]["published"]
    after = rig.place_orders(8, change_imported_only=True)
    rig.wait_searchable()
    # Still healthy by the figures: the scheduler keeps the slow interval, nothing arrives.
    for _ in range(2):
        rig.send("marketplaces.tasks.schedule_automatic_syncs_task")
        time.sleep(1)
    assert not SalesOrder.objects.filter(amazon_order_id__in=after).exists()
    assert sim_notifications(rig)["counters"]["published"] == published

    # HEALTHY_MINUTES and a minute of silence go by (everything dated that much earlier, rather
    # than waited for): the scheduler polls at Amazon's quota rate again and brings every order.
    age(rig, timedelta(minutes=HEALTHY_MINUTES + 1))
    last_run = SyncRun.objects.filter(channel=rig.channel).latest("id").id
    deadline = time.monotonic() + 40
    while time.monotonic() < deadline and not rig.orders_match():
        rig.send("marketplaces.tasks.schedule_automatic_syncs_task")  # beat's minute tick
        time.sleep(1.5)
    rig.wait_orders_match(timeout=5)
    polls = SyncRun.objects.filter(
        channel=rig.channel, kind=SyncRun.Kind.ORDERS, id__gt=last_run
    ).values_list("trigger", "status")
    assert list(polls) == [(SyncRun.Trigger.AUTOMATIC, SyncRun.Status.SUCCEEDED)]

    # Show Details says they are not healthy once Amazon has been quiet long enough.
    age(rig, NOTIFICATIONS_QUIET_AFTER)
    html = admin_client.get(detail).content.decode()
    assert 'id="notifications-quiet"' in html
    assert 'id="notifications-healthy"' not in html
    rig.settle()
    check_after(rig)


def age(rig: Rig, by: timedelta) -> None:
    """As if ``by`` had gone by: the messages, the setup and the runs dated that much earlier."""
    NotificationMessage.objects.update(received_at=F("received_at") - by)
    NotificationSetup.objects.update(enabled_at=F("enabled_at") - by)
    SyncRun.objects.filter(channel=rig.channel).update(created_at=F("created_at") - by)
