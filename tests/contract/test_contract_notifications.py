"""Every notification the simulator sends to SQS validates against Amazon's schema for its
type (``OrderChangeNotification.json``, ``FBAInventoryAvailabilityChangeNotification.json``),
strictly: a field the schema does not declare fails. Read back from moto's SQS server."""

from __future__ import annotations

from typing import Any

import httpx

from spapi_simulator import Simulator
from spapi_simulator.contract import errors_of, notification_validator
from spapi_simulator.testing import authorized_client, sim_get, sim_post
from tests.helpers.sqs import SqsServer, receive_all

SCHEMAS = {
    "ORDER_CHANGE": "OrderChangeNotification.json",
    "FBA_INVENTORY_AVAILABILITY_CHANGES": "FBAInventoryAvailabilityChangeNotification.json",
}


def subscribe_everything(sim: Simulator, arn: str) -> None:
    token = httpx.post(
        f"{sim.base_url}/auth/o2/token",
        data={
            "grant_type": "client_credentials",
            "scope": "sellingpartnerapi::notifications",
            "client_id": "amzn1.application-oa2-client.simulator",
            "client_secret": "simulator-secret",
        },
    ).json()["access_token"]
    destination = httpx.post(
        f"{sim.base_url}/notifications/v1/destinations",
        headers={"x-amz-access-token": token},
        json={"name": "contract", "resourceSpecification": {"sqs": {"arn": arn}}},
    ).json()["payload"]["destinationId"]
    with authorized_client(sim) as seller:
        for kind in SCHEMAS:
            answer = seller.post(
                f"/notifications/v1/subscriptions/{kind}",
                json={"payloadVersion": "1.0", "destinationId": destination},
            )
            assert answer.status_code == 200, answer.text


def skus(sim: Simulator, market: str, channel: str) -> list[str]:
    return [
        e["sku"]
        for e in sim_get(sim, f"/_sim/listings?marketplaceId={market}")["listings"]
        if e["fulfillmentChannelCode"] == channel and not e["isParent"] and e["quantity"] > 2
    ]


def test_every_notification_sent_is_within_its_schema(
    sim_factory: Any,
    sqs_server: SqsServer,
    sqs: Any,
    sqs_queue: tuple[str, str],
    models_dir: Any,
) -> None:
    sim = sim_factory(
        enforce_rate_limits=False,
        order_interval_seconds=0,
        sqs_endpoint_url=sqs_server.endpoint_url,
    )
    url, arn = sqs_queue
    subscribe_everything(sim, arn)

    # Merchant orders through every status on Amazon.ca and Amazon.com; FBA orders (reserved,
    # shipped, cancelled units) on Amazon.ca and Amazon.com.mx (the US network).
    for market in ("A2EUQ1WTGCTBG2", "ATVPDKIKX0DER"):
        merchant = skus(sim, market, "DEFAULT")
        for status in ("PENDING", "UNSHIPPED", "SHIPPED", "CANCELLED"):
            sim_post(
                sim,
                "/_sim/orders",
                {"marketplaceId": market, "skus": merchant[:2], "fulfillmentStatus": status},
            )
        order = sim_post(sim, "/_sim/orders", {"marketplaceId": market, "skus": merchant[:2]})
        first = order["orders"][0]
        with authorized_client(sim) as seller:
            item = first["orderItems"][0]
            shipped = seller.post(
                f"/orders/v0/orders/{first['orderId']}/shipmentConfirmation",
                json={
                    "marketplaceId": market,
                    "packageDetail": {
                        "packageReferenceId": "1",
                        "carrierCode": "UPS",
                        "trackingNumber": "1Z1",
                        "shipDate": "2026-01-01T00:00:00Z",
                        "orderItems": [{"orderItemId": item["orderItemId"], "quantity": 1}],
                    },
                },
            )
            assert shipped.status_code == 204, shipped.text
    for market in ("A2EUQ1WTGCTBG2", "A1AM78C64UM0Y8"):
        fba = skus(sim, market, "AMAZON_NA")
        for status in ("UNSHIPPED", "SHIPPED", "CANCELLED"):
            sim_post(
                sim,
                "/_sim/orders",
                {"marketplaceId": market, "skus": fba[:1], "fulfillmentStatus": status},
            )
    fba_ca = skus(sim, "A2EUQ1WTGCTBG2", "AMAZON_NA")[0]
    sim_post(sim, "/_sim/fba-inventory", {"sku": fba_ca, "inbound": 12, "unfulfillable": 1})
    sim_post(sim, "/_sim/fba-inventory/receive", {"sku": fba_ca, "units": 5})

    expected = sim_get(sim, "/_sim/notifications")["counters"]["published"]
    messages = receive_all(sqs, url, expect=expected, timeout=30)

    assert len(messages) == expected
    failures = [
        f"{m['NotificationType']}: {error}"
        for m in messages
        for error in errors_of(notification_validator(SCHEMAS[m["NotificationType"]]), m)
    ]
    assert failures == []
    statuses = {
        m["Payload"]["OrderChangeNotification"]["Summary"]["OrderStatus"]
        for m in messages
        if m["NotificationType"] == "ORDER_CHANGE"
    }
    assert statuses == {"Pending", "Unshipped", "PartiallyShipped", "Shipped", "Canceled"}
    us_network = [
        m
        for m in messages
        if m["NotificationType"] == "FBA_INVENTORY_AVAILABILITY_CHANGES"
        and len(m["Payload"]["FulfillmentInventoryByMarketplace"]) > 1
    ]
    assert us_network, "an FBA SKU of the US network names Amazon.com and Amazon.com.mx"
    assert {"ATVPDKIKX0DER", "A1AM78C64UM0Y8"} == {
        e["MarketplaceId"] for e in us_network[0]["Payload"]["FulfillmentInventoryByMarketplace"]
    }


def test_the_strict_validator_catches_a_field_amazon_does_not_define(models_dir: Any) -> None:
    message: dict[str, Any] = {
        "NotificationVersion": "1.0",
        "NotificationType": "ORDER_CHANGE",
        "PayloadVersion": "1.0",
        "EventTime": "2026-01-01T00:00:00Z",
        "Payload": {
            "OrderChangeNotification": {
                "NotificationLevel": "OrderLevel",
                "SellerId": "A3SIMULATORCA",
                "AmazonOrderId": "702-0000000-0000000",
                "OrderChangeType": "OrderStatusChange",
                "OrderChangeTrigger": {"TimeOfOrderChange": None, "ChangeReason": "x"},
                "Summary": {
                    "MarketplaceId": "A2EUQ1WTGCTBG2",
                    "OrderStatus": "Unshipped",
                    "PurchaseDate": None,
                    "DestinationPostalCode": None,
                    "FulfillmentType": "MFN",
                    "OrderType": "StandardOrder",
                    "OrderItems": [],
                    "orderStatus": "UNSHIPPED",
                },
            }
        },
        "NotificationMetadata": {
            "ApplicationId": "a",
            "SubscriptionId": "s",
            "PublishTime": "2026-01-01T00:00:00Z",
            "NotificationId": "n",
        },
    }

    errors = errors_of(notification_validator("OrderChangeNotification.json"), message)

    assert any("orderStatus" in error for error in errors)
    del message["Payload"]["OrderChangeNotification"]["Summary"]["orderStatus"]
    assert errors_of(notification_validator("OrderChangeNotification.json"), message) == []
