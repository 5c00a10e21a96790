"""Turning a seller's Amazon notifications on and off, against the simulator's Notifications API
and a real SQS server (moto's, tests/fixtures/sqs.py): the destination and subscriptions as
the simulator records them, reuse, Amazon's refusals, and channels being disabled."""

from __future__ import annotations

from typing import Any

import pytest

from accounts.models import AuditEvent
from marketplaces import channel_settings, notifications
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.sqs import parse_queue_arn
from marketplaces.models import FulfillmentChannel, NotificationSetup, SalesChannel
from spapi_simulator import Simulator
from spapi_simulator.testing import authorized_client, sim_get, sim_post
from tests.factories import ListingFactory
from tests.helpers.amazon import SELLER_ID
from tests.helpers.sqs import SqsServer, receive_all

pytestmark = pytest.mark.django_db

ORDER_FILTER = {
    "eventFilter": {
        "eventFilterType": "ORDER_CHANGE",
        "orderChangeTypes": ["OrderStatusChange", "BuyerRequestedChange"],
    }
}


@pytest.fixture
def queue(
    amazon_settings: Simulator, sqs_server: SqsServer, sqs_queue: tuple[str, str], settings: Any
) -> tuple[str, str]:
    """A fresh queue, configured as the seller's, that the simulator sends to."""
    sim_post(amazon_settings, "/_sim/notifications", {"sqsEndpointUrl": sqs_server.endpoint_url})
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = sqs_queue[1]
    return sqs_queue


def registrations(sim: Simulator) -> dict[str, Any]:
    answer = sim_get(sim, "/_sim/notifications")
    return {"destinations": answer["destinations"], "subscriptions": answer["subscriptions"]}


def test_enable_creates_the_destination_and_the_order_subscription(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str], sqs: Any
) -> None:
    setup = notifications.enable(channel, actor=None)

    assert setup.status == NotificationSetup.Status.ENABLED, setup.status_reason
    found = registrations(live_sim)
    assert [d["resource"]["sqs"]["arn"] for d in found["destinations"]] == [queue[1]]
    assert setup.destination_id == found["destinations"][0]["destinationId"]
    assert setup.queue_arn == queue[1]
    [subscription] = found["subscriptions"]
    assert subscription["notificationType"] == "ORDER_CHANGE"
    assert subscription["sellerId"] == SELLER_ID
    assert subscription["payloadVersion"] == "1.0"
    assert subscription["processingDirective"] == ORDER_FILTER
    assert setup.subscriptions == {"ORDER_CHANGE": subscription["subscriptionId"]}
    assert setup.enabled_at is not None
    event = AuditEvent.objects.get(action="notifications-enabled")
    assert event.detail["types"] == ["ORDER_CHANGE"]

    # The subscription works: a new order lands in the seller's queue.
    order = sim_post(live_sim, "/_sim/orders", {"count": 1, "fulfilledBy": "MERCHANT"})
    [message] = receive_all(sqs, queue[0], expect=1)
    assert message["NotificationType"] == "ORDER_CHANGE"
    assert (
        message["Payload"]["OrderChangeNotification"]["AmazonOrderId"]
        == (order["orders"][0]["orderId"])
    )


def test_fba_listings_subscribe_to_fba_stock_changes_too(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    ListingFactory(channel=channel, fulfillment_channel=FulfillmentChannel.AMAZON)

    setup = notifications.enable(channel, actor=None)

    assert setup.status == NotificationSetup.Status.ENABLED, setup.status_reason
    kinds = {s["notificationType"]: s for s in registrations(live_sim)["subscriptions"]}
    assert set(kinds) == {"ORDER_CHANGE", "FBA_INVENTORY_AVAILABILITY_CHANGES"}
    assert "processingDirective" not in kinds["FBA_INVENTORY_AVAILABILITY_CHANGES"]
    assert setup.subscriptions == {kind: s["subscriptionId"] for kind, s in kinds.items()}


def test_enabling_twice_reuses_the_destination_and_the_subscription(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    first = notifications.enable(channel, actor=None)
    enabled_at = first.enabled_at
    second = notifications.enable(channel, actor=None)

    assert second.status == NotificationSetup.Status.ENABLED, second.status_reason
    assert second.destination_id == first.destination_id
    assert second.subscriptions == first.subscriptions
    assert second.enabled_at == enabled_at  # still on since the first time
    found = registrations(live_sim)
    assert len(found["destinations"]) == 1
    assert len(found["subscriptions"]) == 1
    assert NotificationSetup.objects.count() == 1


def test_what_amazon_already_has_is_reused(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    """A destination and a subscription made before (another install, a lost answer): Amazon
    answers 409 to making them again; they are looked up and recorded."""
    client_made = client_for(channel)
    destination = client_made.create_destination("made-elsewhere", queue[1])
    with authorized_client(live_sim) as seller:
        made = seller.post(
            "/notifications/v1/subscriptions/ORDER_CHANGE",
            json={"payloadVersion": "1.0", "destinationId": destination.destination_id},
        )
        assert made.status_code == 200, made.text

    setup = notifications.enable(channel, actor=None)

    assert setup.status == NotificationSetup.Status.ENABLED, setup.status_reason
    assert setup.destination_id == destination.destination_id
    assert setup.subscriptions == {"ORDER_CHANGE": made.json()["payload"]["subscriptionId"]}
    assert len(registrations(live_sim)["subscriptions"]) == 1


def test_a_subscription_to_another_queue_is_replaced(
    live_sim: Simulator,
    channel: SalesChannel,
    queue: tuple[str, str],
    sqs: Any,
    settings: Any,
) -> None:
    old = notifications.enable(channel, actor=None)
    new_url = sqs.create_queue(QueueName=f"{parse_queue_arn(queue[1]).name}-new")["QueueUrl"]
    new_arn = sqs.get_queue_attributes(QueueUrl=new_url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = new_arn

    setup = notifications.enable(channel, actor=None)

    assert setup.status == NotificationSetup.Status.ENABLED, setup.status_reason
    assert setup.destination_id != old.destination_id
    [subscription] = registrations(live_sim)["subscriptions"]
    assert subscription["destinationId"] == setup.destination_id
    assert setup.subscriptions == {"ORDER_CHANGE": subscription["subscriptionId"]}


def test_amazon_refusing_the_destination_is_recorded_with_its_reason(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str], settings: Any
) -> None:
    # Amazon's model takes ARNs of at most 1000 characters.
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:" + "q" * 1000

    setup = notifications.enable(channel, actor=None)

    assert setup.status == NotificationSetup.Status.FAILED
    assert "createDestination" in setup.status_reason
    assert "resourceSpecification.sqs.arn must be an SQS queue ARN" in setup.status_reason
    assert registrations(live_sim) == {"destinations": [], "subscriptions": []}
    assert AuditEvent.objects.get(action="notifications-failed").detail["reason"] == (
        setup.status_reason
    )


def test_a_revoked_authorization_fails_the_subscription_with_amazons_reason(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    sim_post(live_sim, "/_sim/auth/revoke", {})

    setup = notifications.enable(channel, actor=None)

    assert setup.status == NotificationSetup.Status.FAILED
    assert "invalid_grant" in setup.status_reason
    # The destination is the application's (grantless): it was made all the same.
    assert setup.destination_id
    assert registrations(live_sim)["subscriptions"] == []


def test_enable_is_refused_without_a_queue(channel: SalesChannel, settings: Any) -> None:
    from django.core.exceptions import ValidationError

    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = ""
    with pytest.raises(ValidationError, match="Set AMAZON_NOTIFICATIONS_QUEUE_ARN"):
        notifications.enable(channel, actor=None)
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = "my-queue"
    with pytest.raises(ValidationError, match="is not an SQS queue ARN"):
        notifications.enable(channel, actor=None)
    assert not NotificationSetup.objects.exists()


def test_disable_deletes_the_subscriptions(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    ListingFactory(channel=channel, fulfillment_channel=FulfillmentChannel.AMAZON)
    notifications.enable(channel, actor=None)
    assert len(registrations(live_sim)["subscriptions"]) == 2

    setup = notifications.disable(channel, actor=None)

    assert setup.status == NotificationSetup.Status.DISABLED
    assert setup.subscriptions == {}
    found = registrations(live_sim)
    assert found["subscriptions"] == []
    assert len(found["destinations"]) == 1  # the application's, kept for its other sellers
    assert AuditEvent.objects.filter(action="notifications-disabled").count() == 1


def test_disable_when_amazon_fails_keeps_what_is_left_to_delete(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    enabled = notifications.enable(channel, actor=None)
    sim_post(
        live_sim,
        "/_sim/faults",
        {"operation": "deleteSubscriptionById", "kind": "server_error", "count": 1},
    )

    setup = notifications.disable(channel, actor=None)

    assert setup.status == NotificationSetup.Status.ENABLED
    assert setup.subscriptions == enabled.subscriptions
    assert setup.status_reason.startswith("Could not turn them off")
    assert len(registrations(live_sim)["subscriptions"]) == 1

    assert notifications.disable(channel, actor=None).status == NotificationSetup.Status.DISABLED
    assert registrations(live_sim)["subscriptions"] == []


def test_disabling_the_last_channel_deletes_them_and_re_enabling_turns_them_on(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    notifications.enable(channel, actor=None)

    channel_settings.disable_channel(channel, actor=None)

    setup = NotificationSetup.objects.get()
    assert setup.status == NotificationSetup.Status.DISABLED
    assert setup.resume_with_channel
    assert registrations(live_sim)["subscriptions"] == []

    channel_settings.enable_channel(channel, actor=None)

    setup.refresh_from_db()
    assert setup.status == NotificationSetup.Status.ENABLED, setup.status_reason
    assert not setup.resume_with_channel
    [subscription] = registrations(live_sim)["subscriptions"]
    assert setup.subscriptions == {"ORDER_CHANGE": subscription["subscriptionId"]}


def test_re_enabling_a_channel_does_not_turn_on_notifications_that_were_off(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    notifications.enable(channel, actor=None)
    notifications.disable(channel, actor=None)
    channel_settings.disable_channel(channel, actor=None)
    channel_settings.enable_channel(channel, actor=None)

    assert NotificationSetup.objects.get().status == NotificationSetup.Status.DISABLED
    assert registrations(live_sim)["subscriptions"] == []


def test_another_active_channel_of_the_seller_keeps_them_on(
    live_sim: Simulator, channel: SalesChannel, queue: tuple[str, str]
) -> None:
    notifications.enable(channel, actor=None)
    SalesChannel.objects.create(
        name="Amazon.com",
        seller_id=SELLER_ID,
        marketplace=SalesChannel.Marketplace.AMAZON_COM,
        marketplace_id="ATVPDKIKX0DER",
        currency="USD",
        refresh_token="Atzr|simulator",
        spapi_endpoint=live_sim.base_url,
        lwa_endpoint=live_sim.base_url,
    )

    channel_settings.disable_channel(channel, actor=None)

    assert NotificationSetup.objects.get().status == NotificationSetup.Status.ENABLED
    assert len(registrations(live_sim)["subscriptions"]) == 1


def test_a_queue_arn_is_read_or_refused_with_what_it_looks_like() -> None:
    queue = parse_queue_arn("arn:aws:sqs:ca-central-1:123456789012:inventory-sync")
    assert (queue.region, queue.account, queue.name) == (
        "ca-central-1",
        "123456789012",
        "inventory-sync",
    )
    with pytest.raises(ValueError, match="not an SQS queue ARN"):
        parse_queue_arn("arn:aws:sns:ca-central-1:123456789012:topic")
