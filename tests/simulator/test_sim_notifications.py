"""Notifications: grantless tokens, destinations and subscriptions, and what the simulator
sends to a real SQS server (moto's, tests/fixtures/sqs.py) as orders and FBA stock change."""

from __future__ import annotations

import time
from typing import Any

import httpx
import pytest
from sp_api.api import Notifications

from spapi_simulator import Simulator
from spapi_simulator.state import DEFAULT_CLIENT_ID, RefreshToken
from spapi_simulator.testing import authorized_client, sim_get, sim_post, sp_api_kwargs
from tests.helpers.notifications import (
    DESTINATIONS,
    ORDER_CHANGE,
    grantless_client,
    lwa,
    subscribe,
)
from tests.helpers.sqs import SqsServer, receive_all
from tests.helpers.sqs import new_queue as make_queue

FBA_CHANGES = "/notifications/v1/subscriptions/FBA_INVENTORY_AVAILABILITY_CHANGES"
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}


@pytest.fixture
def notifying_sim(sim_factory: Any, sqs_server: SqsServer) -> Simulator:
    """Manual clock, no order stream, usage plans off, notifications sent to moto's SQS."""
    return sim_factory(
        enforce_rate_limits=False,
        order_interval_seconds=0,
        sqs_endpoint_url=sqs_server.endpoint_url,
    )


def merchant_order(sim: Simulator, **body: Any) -> dict[str, Any]:
    return sim_post(sim, "/_sim/orders", {"count": 1, "fulfilledBy": "MERCHANT", **body})["orders"][
        0
    ]


def outbox(sim: Simulator) -> dict[str, Any]:
    return sim_get(sim, "/_sim/notifications")


def wait_for_outbox(sim: Simulator, what: str, count: int, timeout: float = 10) -> dict[str, Any]:
    """The outbox once its counter ``what`` reached ``count`` (the sender is a thread)."""
    deadline = time.monotonic() + timeout
    state = outbox(sim)
    while state["counters"][what] < count and time.monotonic() < deadline:
        time.sleep(0.02)
        state = outbox(sim)
    return state


# -- tokens ------------------------------------------------------------------------------------


def test_lwa_gives_a_grantless_token_for_the_notifications_scope(simulator: Simulator) -> None:
    answer = lwa(
        simulator, grant_type="client_credentials", scope="sellingpartnerapi::notifications"
    )

    body = answer.json()
    assert answer.status_code == 200
    assert body["scope"] == "sellingpartnerapi::notifications"
    assert body["token_type"] == "bearer" and body["expires_in"] == 3600
    assert "refresh_token" not in body


@pytest.mark.parametrize(
    ("form", "status", "error"),
    [
        ({"grant_type": "client_credentials"}, 400, "invalid_request"),
        (
            {"grant_type": "client_credentials", "scope": "sellingpartnerapi::orders"},
            400,
            "invalid_scope",
        ),
        (
            {
                "grant_type": "client_credentials",
                "scope": "sellingpartnerapi::notifications",
                "client_secret": "no",
            },
            401,
            "invalid_client",
        ),
    ],
)
def test_lwa_refuses_a_bad_client_credentials_request(
    simulator: Simulator, form: dict[str, str], status: int, error: str
) -> None:
    answer = lwa(simulator, **form)

    assert (answer.status_code, answer.json()["error"]) == (status, error)


def test_destinations_take_only_a_grantless_token(simulator: Simulator, http: httpx.Client) -> None:
    body = {"name": "q", "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:1:q"}}}

    with_seller_token = http.post(DESTINATIONS, json=body)
    with grantless_client(simulator, "sellingpartnerapi::client_credential:rotation") as other:
        with_other_scope = other.get(DESTINATIONS)
    with grantless_client(simulator) as app:
        with_grantless = app.post(DESTINATIONS, json=body)

    assert (with_seller_token.status_code, with_seller_token.json()) == (403, UNAUTHORIZED)
    assert "x-amzn-RateLimit-Limit" not in with_seller_token.headers
    assert (with_other_scope.status_code, with_other_scope.json()) == (403, UNAUTHORIZED)
    assert with_grantless.status_code == 200
    assert with_grantless.headers["x-amzn-RateLimit-Limit"] == "1"


def test_subscribing_takes_the_sellers_token(simulator: Simulator) -> None:
    with grantless_client(simulator) as app:
        destination = app.post(
            DESTINATIONS,
            json={
                "name": "q",
                "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:1:q"}},
            },
        ).json()["payload"]["destinationId"]
        body = {"payloadVersion": "1.0", "destinationId": destination}
        refused = app.post(ORDER_CHANGE, json=body)
        refused_read = app.get(ORDER_CHANGE)
    with authorized_client(simulator) as seller:
        created = seller.post(ORDER_CHANGE, json=body)

    assert (refused.status_code, refused.json()) == (403, UNAUTHORIZED)
    assert refused_read.status_code == 403
    assert created.status_code == 200


# -- destinations and subscriptions -----------------------------------------------------------


def test_a_destination_is_created_read_listed_and_deleted(simulator: Simulator) -> None:
    arn = "arn:aws:sqs:us-east-2:444455556666:queue1"
    with grantless_client(simulator) as app:
        created = app.post(
            DESTINATIONS,
            json={"name": "SQSDestination", "resourceSpecification": {"sqs": {"arn": arn}}},
        )
        destination = created.json()["payload"]
        again = app.post(
            DESTINATIONS, json={"name": "other", "resourceSpecification": {"sqs": {"arn": arn}}}
        )
        listed = app.get(DESTINATIONS).json()
        read = app.get(f"{DESTINATIONS}/{destination['destinationId']}").json()
        deleted = app.delete(f"{DESTINATIONS}/{destination['destinationId']}")
        after = app.get(f"{DESTINATIONS}/{destination['destinationId']}")
        deleted_again = app.delete(f"{DESTINATIONS}/{destination['destinationId']}")

    assert destination["name"] == "SQSDestination"
    assert destination["resource"] == {"sqs": {"arn": arn}}
    assert again.status_code == 409 and again.json()["errors"][0]["code"] == "Conflict"
    assert listed == {"payload": [destination]}
    assert read == {"payload": destination}
    assert (deleted.status_code, deleted.json()) == (200, {})
    assert after.status_code == 404 and after.json()["errors"][0]["code"] == "NotFound"
    assert deleted_again.status_code == 404


@pytest.mark.parametrize(
    ("body", "message"),
    [
        (
            {"resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:1:q"}}},
            "name is required",
        ),
        ({"name": "q"}, "resourceSpecification is required"),
        (
            {"name": "q", "resourceSpecification": {"sqs": {"arn": "arn:aws:s3:::bucket"}}},
            "SQS queue ARN",
        ),
        (
            {
                "name": "q",
                "resourceSpecification": {"eventBridge": {"region": "us-east-1", "accountId": "1"}},
            },
            "Amazon SQS only",
        ),
    ],
)
def test_a_bad_destination_is_refused_with_a_reason(
    simulator: Simulator, body: dict[str, Any], message: str
) -> None:
    with grantless_client(simulator) as app:
        answer = app.post(DESTINATIONS, json=body)
        listed = app.get(DESTINATIONS).json()

    assert answer.status_code == 400
    assert answer.json()["errors"][0]["code"] == "InvalidInput"
    assert message in answer.json()["errors"][0]["message"]
    assert listed == {"payload": []}


def test_a_destination_in_use_cannot_be_deleted(simulator: Simulator) -> None:
    subscription = subscribe(simulator, "arn:aws:sqs:us-east-1:1:q")
    destination = sim_get(simulator, "/_sim/notifications")["destinations"][0]["destinationId"]

    with grantless_client(simulator) as app:
        refused = app.delete(f"{DESTINATIONS}/{destination}")
        removed = app.delete(f"{ORDER_CHANGE}/{subscription}")
        deleted = app.delete(f"{DESTINATIONS}/{destination}")

    assert (
        refused.status_code == 409
        and "deleteSubscriptionById" in refused.json()["errors"][0]["message"]
    )
    assert removed.status_code == 200
    assert deleted.status_code == 200


def test_a_subscription_is_the_sellers_own(simulator: Simulator) -> None:
    subscription = subscribe(simulator, "arn:aws:sqs:us-east-1:1:q")
    simulator.state.refresh_tokens["Atzr|other"] = RefreshToken(
        "Atzr|other", "A2OTHERSELLER", DEFAULT_CLIENT_ID
    )

    with authorized_client(simulator) as seller:
        mine = seller.get(ORDER_CHANGE).json()["payload"]
        by_id = seller.get(f"{ORDER_CHANGE}/{subscription}").json()["payload"]
        twice = seller.post(
            ORDER_CHANGE, json={"payloadVersion": "1.0", "destinationId": mine["destinationId"]}
        )
    with authorized_client(simulator, refresh_token="Atzr|other") as other:
        theirs = other.get(ORDER_CHANGE)
        theirs_by_id = other.get(f"{ORDER_CHANGE}/{subscription}")
        not_deleted = other.delete(f"{ORDER_CHANGE}/{subscription}")
        their_own = other.post(
            ORDER_CHANGE, json={"payloadVersion": "1.0", "destinationId": mine["destinationId"]}
        )
    with grantless_client(simulator) as app:
        seen_by_app = app.get(f"{ORDER_CHANGE}/{subscription}")

    assert (
        mine
        == by_id
        == {
            "subscriptionId": subscription,
            "payloadVersion": "1.0",
            "destinationId": mine["destinationId"],
        }
    )
    assert twice.status_code == 409
    assert theirs.status_code == 404 and theirs_by_id.status_code == 404
    assert not_deleted.status_code == 404
    assert their_own.status_code == 200  # one destination, a subscription per seller
    assert seen_by_app.status_code == 200


@pytest.mark.parametrize(
    ("path", "body", "message"),
    [
        (
            "/notifications/v1/subscriptions/NOT_A_TYPE",
            {"payloadVersion": "1.0"},
            "not a valid notificationType",
        ),
        (
            "/notifications/v1/subscriptions/REPORT_PROCESSING_FINISHED",
            {"payloadVersion": "2020-09-04"},
            "does not publish REPORT_PROCESSING_FINISHED",
        ),
        (ORDER_CHANGE, {"payloadVersion": "2.0"}, "payloadVersion"),
        (ORDER_CHANGE, {"payloadVersion": "1.0", "destinationId": "nope"}, "destinationId nope"),
        (
            ORDER_CHANGE,
            {"processingDirective": {"eventFilter": {"eventFilterType": "ANY_OFFER_CHANGED"}}},
            "eventFilterType must be ORDER_CHANGE",
        ),
        (
            ORDER_CHANGE,
            {
                "processingDirective": {
                    "eventFilter": {"eventFilterType": "ORDER_CHANGE", "orderChangeTypes": ["Nope"]}
                }
            },
            "orderChangeTypes",
        ),
        (
            FBA_CHANGES,
            {"processingDirective": {"eventFilter": {"eventFilterType": "ORDER_CHANGE"}}},
            "does not support a processingDirective",
        ),
    ],
)
def test_a_bad_subscription_is_refused_with_a_reason(
    simulator: Simulator, path: str, body: dict[str, Any], message: str
) -> None:
    with grantless_client(simulator) as app:
        destination = app.post(
            DESTINATIONS,
            json={
                "name": "q",
                "resourceSpecification": {"sqs": {"arn": "arn:aws:sqs:us-east-1:1:q"}},
            },
        ).json()["payload"]["destinationId"]
    with authorized_client(simulator) as seller:
        answer = seller.post(
            path, json={"payloadVersion": "1.0", "destinationId": destination, **body}
        )

    assert answer.status_code == 400
    assert message in answer.json()["errors"][0]["message"]
    assert sim_get(simulator, "/_sim/notifications")["subscriptions"] == []


def test_notification_operations_have_amazons_usage_plan(sim: Simulator) -> None:
    with grantless_client(sim) as app:
        statuses = [app.get(DESTINATIONS).status_code for _ in range(6)]
        sim.clock.advance(1)
        refilled = app.get(DESTINATIONS).status_code

    assert statuses == [200] * 5 + [429]
    assert refilled == 200


# -- sending -----------------------------------------------------------------------------------


def test_an_order_change_reaches_the_queue_through_the_sp_api_client(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    notifications = Notifications(**sp_api_kwargs(notifying_sim.base_url))
    destination = notifications.create_destination(name="orders", arn=arn).payload
    subscription = notifications.create_subscription(
        "ORDER_CHANGE", destination_id=destination["destinationId"]
    ).payload

    order = merchant_order(notifying_sim, fulfillmentStatus="PENDING")
    sim_post(
        notifying_sim, f"/_sim/orders/{order['orderId']}/status", {"fulfillmentStatus": "UNSHIPPED"}
    )
    messages = receive_all(sqs, url, expect=2)

    assert [m["NotificationType"] for m in messages] == ["ORDER_CHANGE"] * 2
    changes = [m["Payload"]["OrderChangeNotification"] for m in messages]
    assert {c["AmazonOrderId"] for c in changes} == {order["orderId"]}
    assert sorted(c["Summary"]["OrderStatus"] for c in changes) == ["Pending", "Unshipped"]
    assert {m["NotificationMetadata"]["SubscriptionId"] for m in messages} == {
        subscription["subscriptionId"]
    }
    assert len({m["NotificationMetadata"]["NotificationId"] for m in messages}) == 2
    assert all(c["SellerId"] == "A3SIMULATORCA" for c in changes)


def test_nothing_is_sent_without_a_subscription_or_to_a_deleted_one(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    merchant_order(notifying_sim)
    subscription = subscribe(notifying_sim, arn)
    with grantless_client(notifying_sim) as app:
        assert app.delete(f"{ORDER_CHANGE}/{subscription}").status_code == 200

    merchant_order(notifying_sim)

    assert outbox(notifying_sim)["counters"]["published"] == 0


def test_the_marketplace_filter_lets_only_its_marketplaces_orders_through(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    subscribe(
        notifying_sim,
        arn,
        processingDirective={
            "eventFilter": {"eventFilterType": "ORDER_CHANGE", "marketplaceIds": ["ATVPDKIKX0DER"]}
        },
    )

    merchant_order(notifying_sim, fulfillmentStatus="PENDING")  # Amazon.ca
    us = merchant_order(notifying_sim, fulfillmentStatus="PENDING", marketplaceId="ATVPDKIKX0DER")
    messages = receive_all(sqs, url, expect=1)

    assert [m["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for m in messages] == [
        us["orderId"]
    ]
    assert outbox(notifying_sim)["counters"]["published"] == 1


def test_a_buyer_cancellation_is_a_buyer_requested_change(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    order = merchant_order(notifying_sim)
    subscribe(notifying_sim, arn)

    with notifying_sim.state.lock:
        sim_order = notifying_sim.state.orders.by_id[order["orderId"]]
        notifying_sim.state._cancel(
            sim_order, notifying_sim.clock.now(), "BUYER", "No longer needed"
        )
    [message] = receive_all(sqs, url, expect=1)

    change = message["Payload"]["OrderChangeNotification"]
    assert change["OrderChangeType"] == "BuyerRequestedChange"
    assert change["OrderChangeTrigger"]["ChangeReason"] == "Buyer Requested Cancel"
    assert change["Summary"]["OrderStatus"] == "Canceled"
    assert all(item["IsBuyerRequestedCancel"] for item in change["Summary"]["OrderItems"])


def test_fba_stock_moves_reach_the_queue(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    subscribe(notifying_sim, arn, FBA_CHANGES)
    sku = next(
        e["sku"]
        for e in sim_get(notifying_sim, "/_sim/listings")["listings"]
        if e["fulfillmentChannelCode"] == "AMAZON_NA" and not e["isParent"]
    )

    sim_post(
        notifying_sim,
        "/_sim/fba-inventory",
        {"sku": sku, "fulfillable": 41, "reserved": 2, "inbound": 7},
    )
    [message] = receive_all(sqs, url, expect=1)

    payload = message["Payload"]
    assert message["NotificationType"] == "FBA_INVENTORY_AVAILABILITY_CHANGES"
    assert payload["SKU"] == sku
    [canada] = payload["FulfillmentInventoryByMarketplace"]
    assert canada["MarketplaceId"] == "A2EUQ1WTGCTBG2"
    inventory = canada["FulfillmentInventory"]
    assert inventory["Fulfillable"] == 41
    assert inventory["ReservedQuantityBreakdown"]["PendingCustomerOrder"] == 2
    assert inventory["InboundQuantityBreakdown"]["Shipped"] == 7


def test_a_reset_keeps_subscriptions_and_does_not_replay_history(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    subscribe(notifying_sim, arn)

    sim_post(notifying_sim, "/_sim/reset", {"seed": 2})
    published_by_reset = outbox(notifying_sim)["counters"]["published"]
    order = merchant_order(notifying_sim, fulfillmentStatus="PENDING")
    [message] = receive_all(sqs, url, expect=1)

    assert published_by_reset == 0
    assert message["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order["orderId"]


# -- faults ------------------------------------------------------------------------------------


def test_duplicates_carry_the_same_notification_id(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    subscribe(notifying_sim, arn)
    sim_post(notifying_sim, "/_sim/notifications", {"duplicateShare": 1})

    merchant_order(notifying_sim, fulfillmentStatus="PENDING")
    messages = receive_all(sqs, url, expect=2)

    assert len(messages) == 2
    assert messages[0] == messages[1]
    counters = outbox(notifying_sim)["counters"]
    assert (counters["published"], counters["duplicates"], counters["sent"]) == (1, 1, 2)


def test_a_delay_holds_notifications_until_the_simulated_clock_gets_there(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    subscribe(notifying_sim, arn)
    sim_post(notifying_sim, "/_sim/notifications", {"delaySeconds": 90})

    order = merchant_order(notifying_sim, fulfillmentStatus="PENDING")
    notifying_sim.clock.advance(89)
    waiting = outbox(notifying_sim)["counters"]
    notifying_sim.clock.advance(1)
    [message] = receive_all(sqs, url, expect=1)

    assert (waiting["pending"], waiting["sent"]) == (1, 0)
    assert message["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order["orderId"]
    metadata_time = message["NotificationMetadata"]["PublishTime"]
    assert metadata_time > message["EventTime"]


def test_a_held_back_notification_is_overtaken_by_later_ones(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    subscribe(notifying_sim, arn)
    sim_post(notifying_sim, "/_sim/notifications", {"reorderShare": 1, "reorderSeconds": 60})
    first = merchant_order(notifying_sim, fulfillmentStatus="PENDING")
    sim_post(notifying_sim, "/_sim/notifications", {"reorderShare": 0})
    second = merchant_order(notifying_sim, fulfillmentStatus="PENDING")

    early = receive_all(sqs, url, expect=1)
    notifying_sim.clock.advance(60)
    late = receive_all(sqs, url, expect=1)

    order_of = [m["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for m in early + late]
    assert order_of == [second["orderId"], first["orderId"]]
    sent = outbox(notifying_sim)["sent"]
    assert [entry["heldBack"] for entry in sent] == [False, True]


def test_a_share_of_held_back_notifications_reorders_a_stream_and_loses_none(
    notifying_sim: Simulator, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    subscribe(notifying_sim, arn)
    sim_post(notifying_sim, "/_sim/notifications", {"reorderShare": 0.5, "reorderSeconds": 30})

    made = [
        merchant_order(notifying_sim, fulfillmentStatus="PENDING")["orderId"] for _ in range(12)
    ]
    notifying_sim.clock.advance(30)
    messages = receive_all(sqs, url, expect=12)
    state = wait_for_outbox(notifying_sim, "sent", 12)

    ids = [m["Payload"]["OrderChangeNotification"]["AmazonOrderId"] for m in messages]
    assert sorted(ids) == sorted(made)
    assert 0 < state["counters"]["heldBack"] < 12
    sent_ids = [e["notificationId"] for e in state["sent"]]
    assert len(set(sent_ids)) == 12
    held = [e["heldBack"] for e in state["sent"]]
    assert held == sorted(held)  # every held-back one after every other


def test_an_unreachable_sqs_never_blocks_the_simulator_and_is_retried(
    sim_factory: Any, sqs_server: SqsServer, sqs: Any
) -> None:
    dead = "http://127.0.0.1:9"  # discard port: nothing listens
    sim = sim_factory(enforce_rate_limits=False, order_interval_seconds=0, sqs_endpoint_url=dead)
    url, arn = make_queue(sqs)
    subscribe(sim, arn)

    order = merchant_order(sim, fulfillmentStatus="PENDING")
    failing = wait_for_outbox(sim, "failedAttempts", 1)
    answered = httpx.get(f"{sim.base_url}/_sim/orders").status_code
    sim_post(sim, "/_sim/notifications", {"sqsEndpointUrl": sqs_server.endpoint_url})
    [message] = receive_all(sqs, url, expect=1, timeout=20)

    assert failing["counters"]["sent"] == 0
    assert failing["failures"][0]["error"] and not failing["failures"][0]["dropped"]
    assert answered == 200
    assert message["Payload"]["OrderChangeNotification"]["AmazonOrderId"] == order["orderId"]
    assert outbox(sim)["sent"][0]["attempts"] >= 2


def test_bad_notification_settings_are_refused_and_change_nothing(simulator: Simulator) -> None:
    before = sim_get(simulator, "/_sim/notifications")["settings"]

    answers = [
        httpx.post(f"{simulator.base_url}/_sim/notifications", json=body)
        for body in (
            {"duplicateShare": 1.5},
            {"delaySeconds": -1},
            {"reorderShare": "half"},
            {"delaySeconds": 5, "sqsEndpointUrl": "ftp://x"},
        )
    ]

    assert [a.status_code for a in answers] == [400] * 4
    assert "between 0 and 1" in answers[0].json()["errors"][0]["message"]
    assert sim_get(simulator, "/_sim/notifications")["settings"] == before


def test_a_running_clock_publishes_new_orders_without_any_request(
    sim_factory: Any, sqs_server: SqsServer, sqs: Any, sqs_queue: tuple[str, str]
) -> None:
    url, arn = sqs_queue
    sim = sim_factory(
        time_scale=600,  # ten simulated minutes a second: a new order every 0.1 s or so
        order_interval_seconds=60,
        enforce_rate_limits=False,
        sqs_endpoint_url=sqs_server.endpoint_url,
    )
    subscribe(sim, arn)

    # Nothing calls the simulator from here on: only its own ticking can publish.
    messages = receive_all(sqs, url, expect=1, timeout=20)

    assert messages and messages[0]["NotificationType"] == "ORDER_CHANGE"
