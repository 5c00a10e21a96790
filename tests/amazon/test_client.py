"""The Amazon client against the simulator: typed results and the product's exceptions."""

from __future__ import annotations

from collections.abc import Callable
from datetime import timedelta
from typing import Any

import httpx
import pytest
import time_machine
from django.utils import timezone

from marketplaces.amazon import ratelimit
from marketplaces.amazon.client import (
    AmazonClient,
    exchange_authorization_code,
    verify_refresh_token,
)
from marketplaces.amazon.errors import (
    AmazonAuthError,
    AmazonRejected,
    AmazonThrottled,
    AmazonTransientError,
)
from marketplaces.amazon.types import AmazonOrder
from marketplaces.models import ApiQuota
from spapi_simulator import Simulator
from tests.helpers.amazon import SIM_START, connection_to
from tests.helpers.fake_clock import FakeClock


def control(sim: Simulator, path: str, body: dict | None = None, method: str = "POST") -> dict:
    answer = httpx.request(method, f"{sim.base_url}{path}", json=body or {}, timeout=10)
    answer.raise_for_status()
    return answer.json() if answer.content else {}


def test_it_pages_through_search_orders_with_typed_orders(amazon: AmazonClient) -> None:
    page = amazon.search_orders(last_updated_after=SIM_START - timedelta(days=30), page_size=10)
    assert len(page.orders) == 10
    assert page.next_token
    order = page.orders[0]
    assert order.order_id
    assert order.items and all(item.seller_sku for item in order.items)
    assert order.buyer_name == ""  # personal data only when asked for
    second = amazon.search_orders(next_token=page.next_token)
    assert {o.order_id for o in second.orders}.isdisjoint({o.order_id for o in page.orders})


def test_it_asks_for_personal_data_only_when_told(amazon: AmazonClient) -> None:
    page = amazon.search_orders(
        last_updated_after=SIM_START - timedelta(days=30),
        statuses=["UNSHIPPED"],
        fulfilled_by=["MERCHANT"],
        personal_data=True,
        page_size=5,
    )
    assert page.orders
    assert all(o.status == "UNSHIPPED" and o.is_merchant_fulfilled for o in page.orders)
    assert all(o.buyer_name and o.delivery_address for o in page.orders)


def test_it_counts_calls_in_the_shared_quota(amazon: AmazonClient) -> None:
    amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1), page_size=1)
    quota = ApiQuota.objects.get(seller_id="A3SIMULATORCA", operation="searchOrders")
    assert quota.calls == 1
    assert ratelimit.tokens_left(quota, timezone.now()) == pytest.approx(19, abs=0.01)


def test_it_defers_instead_of_exceeding_the_usage_plan(amazon: AmazonClient) -> None:
    ApiQuota.objects.create(
        seller_id="A3SIMULATORCA",
        operation="searchOrders",
        tokens=0.0,
        refilled_at=timezone.now(),
    )
    with pytest.raises(AmazonThrottled) as raised:
        amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1))
    assert raised.value.retry_after == pytest.approx(1 / 0.0056, rel=0.01)


def test_the_marketplaces_of_a_seller_draw_on_one_bucket_that_names_them(
    sim: Simulator, amazon: AmazonClient
) -> None:
    """Amazon's usage plans are per seller, not per marketplace: Amazon.com's call finds the
    bucket Amazon.ca emptied, and the bucket records both, also for a call it deferred."""
    from dataclasses import replace

    us = AmazonClient(replace(connection_to(sim), marketplace_id="ATVPDKIKX0DER"), max_wait=0)
    amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1), page_size=1)
    ApiQuota.objects.filter(operation="searchOrders").update(tokens=0.0, in_flight=[])
    with pytest.raises(AmazonThrottled):
        us.search_orders(last_updated_after=SIM_START - timedelta(days=1), page_size=1)
    quota = ApiQuota.objects.get()
    assert (quota.seller_id, quota.calls, quota.paced) == ("A3SIMULATORCA", 1, 1)
    assert quota.marketplace_ids == ["A2EUQ1WTGCTBG2", "ATVPDKIKX0DER"]


def test_it_waits_for_a_token_when_the_caller_accepts_the_wait(
    amazon: AmazonClient, fake_clock: FakeClock
) -> None:
    now = timezone.now()
    ApiQuota.objects.create(
        seller_id="A3SIMULATORCA", operation="getOrder", tokens=0.0, refilled_at=now
    )
    with time_machine.travel(now, tick=False):
        ratelimit.acquire("A3SIMULATORCA", "getOrder", max_wait=30)
    refill = 1 / ratelimit.USAGE_PLANS["getOrder"].rate
    assert fake_clock.slept == [pytest.approx(refill + ratelimit.CALL_SPREAD.total_seconds())]
    assert ApiQuota.objects.get(operation="getOrder").calls == 1


def test_it_turns_an_amazon_429_into_throttled(sim: Simulator, amazon: AmazonClient) -> None:
    control(sim, "/_sim/faults", {"operation": "searchOrders", "kind": "throttle", "count": 1})
    with pytest.raises(AmazonThrottled):
        amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1))
    assert ApiQuota.objects.get(operation="searchOrders").throttled == 1


@pytest.mark.parametrize("kind", ["server_error", "malformed", "empty_body"])
def test_it_treats_broken_answers_as_transient(
    sim: Simulator, amazon: AmazonClient, kind: str
) -> None:
    control(sim, "/_sim/faults", {"operation": "searchOrders", "kind": kind, "count": 1})
    with pytest.raises(AmazonTransientError):
        amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1))


def test_it_reports_a_revoked_refresh_token_as_an_auth_error(sim: Simulator, db: None) -> None:
    control(sim, "/_sim/auth/revoke")
    client = AmazonClient(connection_to(sim), max_wait=0)
    with pytest.raises(AmazonAuthError):
        client.search_orders(last_updated_after=SIM_START - timedelta(days=1))


def test_it_carries_amazons_reason_for_a_rejected_shipment(
    sim: Simulator, amazon: AmazonClient
) -> None:
    order = amazon.search_orders(
        last_updated_after=SIM_START - timedelta(days=30),
        statuses=["UNSHIPPED"],
        fulfilled_by=["MERCHANT"],
        page_size=1,
    ).orders[0]
    with pytest.raises(AmazonRejected) as raised:
        amazon.confirm_shipment(
            order.order_id,
            {
                "packageReferenceId": "1",
                "carrierCode": "Canada Post",
                "trackingNumber": "TRACK1",
                "shipDate": "2026-03-02T12:00:00Z",
                "orderItems": [{"orderItemId": "no-such-item", "quantity": 1}],
            },
        )
    assert raised.value.status == 400
    assert raised.value.reason


def test_an_order_amazon_holds_wrongly_is_rejected_not_retried(
    sim: Simulator, amazon: AmazonClient
) -> None:
    """A readable getOrder answer whose order breaks the model (a negative quantity) would be
    the same on every retry: it is that order's failure, so a page never waits on it."""
    order_id = control(sim, "/_sim/orders", {"count": 1})["orders"][0]["orderId"]
    sim.state.orders.by_id[order_id].lines[0].quantity = -1

    with pytest.raises(AmazonRejected) as rejected:
        amazon.get_order(order_id)

    assert "bad quantityOrdered" in rejected.value.reason


# -- every call's HTTP status ---------------------------------------------------------------
#
# python-amazon-sp-api turns a 5xx with an HTML body into an empty success. Each method of the
# client, and each Amazon request it makes, is walked here against an injected 5xx and a 429:
# none may return as if Amazon had answered. A new method fails the completeness check below
# until it is added to WALK.


def _merchant_sku(sim: Simulator) -> str:
    return next(
        listing.sku
        for listing in sim.state.listings.values()
        if not listing.is_parent and not listing.is_fba
    )


def _unshipped_order(client: AmazonClient) -> AmazonOrder:
    return client.search_orders(
        last_updated_after=SIM_START - timedelta(days=30),
        statuses=["UNSHIPPED"],
        fulfilled_by=["MERCHANT"],
        page_size=1,
    ).orders[0]


def _confirm(sim: Simulator, client: AmazonClient) -> Callable[[], object]:
    order = _unshipped_order(client)
    detail = {
        "packageReferenceId": "1",
        "carrierCode": "Canada Post",
        "trackingNumber": "TRACK1",
        "shipDate": "2026-03-02T12:00:00Z",
        "orderItems": [
            {"orderItemId": item.order_item_id, "quantity": item.quantity} for item in order.items
        ],
    }
    return lambda: client.confirm_shipment(order.order_id, detail)


def _report_document(sim: Simulator, client: AmazonClient) -> str:
    report_id = client.create_report("GET_MERCHANT_LISTINGS_ALL_DATA")
    control(sim, "/_sim/clock/advance", {"seconds": 120})
    document_id = client.get_report(report_id).document_id
    assert document_id
    return document_id


FEED = {"header": {"sellerId": "A3SIMULATORCA", "version": "2.0"}, "messages": []}


def _feed_result(sim: Simulator, client: AmazonClient) -> str:
    feed_id = client.submit_json_feed("JSON_LISTINGS_FEED", FEED)
    control(sim, "/_sim/clock/advance", {"seconds": 120})
    document_id = client.get_feed(feed_id).result_document_id
    assert document_id
    return document_id


Prepare = Callable[[Simulator, AmazonClient], Callable[[], object]]
QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:walk"


def _destination_id(client: AmazonClient) -> str:
    return client.create_destination("walk", QUEUE_ARN).destination_id


def _subscription_id(client: AmazonClient) -> str:
    return client.create_subscription(
        "ORDER_CHANGE", _destination_id(client), payload_version="1.0"
    ).subscription_id


# method -> (what its call needs first, done without faults; the Amazon requests it makes)
WALK: dict[str, tuple[Prepare, tuple[str, ...]]] = {
    "search_orders": (
        lambda sim, c: lambda: c.search_orders(last_updated_after=SIM_START - timedelta(days=1)),
        ("searchOrders",),
    ),
    "get_order": (
        lambda sim, c: (lambda order_id: lambda: c.get_order(order_id))(
            _unshipped_order(c).order_id
        ),
        ("getOrder",),
    ),
    "confirm_shipment": (_confirm, ("confirmShipment",)),
    "package_confirmed": (
        lambda sim, c: (lambda order_id: lambda: c.package_confirmed(order_id, "1"))(
            _unshipped_order(c).order_id
        ),
        ("getOrder",),
    ),
    "create_report": (
        lambda sim, c: lambda: c.create_report("GET_MERCHANT_LISTINGS_ALL_DATA"),
        ("createReport",),
    ),
    "get_report": (
        lambda sim, c: (lambda report_id: lambda: c.get_report(report_id))(
            c.create_report("GET_MERCHANT_LISTINGS_ALL_DATA")
        ),
        ("getReport",),
    ),
    "download_report": (
        lambda sim, c: (lambda document_id: lambda: c.download_report(document_id))(
            _report_document(sim, c)
        ),
        ("getReportDocument", "documentDownload"),
    ),
    "submit_json_feed": (
        lambda sim, c: lambda: c.submit_json_feed("JSON_LISTINGS_FEED", FEED),
        ("createFeedDocument", "documentUpload", "createFeed"),
    ),
    "get_feed": (
        lambda sim, c: (lambda feed_id: lambda: c.get_feed(feed_id))(
            c.submit_json_feed("JSON_LISTINGS_FEED", FEED)
        ),
        ("getFeed",),
    ),
    "submit_xml_feed": (
        lambda sim, c: (
            lambda: c.submit_xml_feed(
                "POST_ORDER_ACKNOWLEDGEMENT_DATA",
                b"<AmazonEnvelope><MessageType>OrderAcknowledgement</MessageType></AmazonEnvelope>",
            )
        ),
        ("createFeedDocument", "documentUpload", "createFeed"),
    ),
    "download_feed_text": (
        lambda sim, c: (lambda document_id: lambda: c.download_feed_text(document_id))(
            _feed_result(sim, c)
        ),
        ("getFeedDocument", "documentDownload"),
    ),
    "download_feed_result": (
        lambda sim, c: (lambda document_id: lambda: c.download_feed_result(document_id))(
            _feed_result(sim, c)
        ),
        ("getFeedDocument", "documentDownload"),
    ),
    "patch_listing_quantity": (
        lambda sim, c: lambda: c.patch_listing_quantity(_merchant_sku(sim), "PRODUCT", 3),
        ("patchListingsItem",),
    ),
    "get_listing_quantity": (
        lambda sim, c: lambda: c.get_listing_quantity(_merchant_sku(sim)),
        ("getListingsItem",),
    ),
    "search_listings": (
        lambda sim, c: lambda: c.search_listings(with_quantities=True),
        ("searchListingsItems",),
    ),
    "get_marketplace_participations": (
        lambda sim, c: lambda: c.get_marketplace_participations(),
        ("getMarketplaceParticipations",),
    ),
    "get_fba_inventory": (
        lambda sim, c: lambda: c.get_fba_inventory(),
        ("getInventorySummaries",),
    ),
    "list_transactions": (
        lambda sim, c: lambda: c.list_transactions(posted_after=SIM_START - timedelta(days=1)),
        ("listTransactions",),
    ),
    "get_destinations": (lambda sim, c: lambda: c.get_destinations(), ("getDestinations",)),
    "create_destination": (
        lambda sim, c: lambda: c.create_destination("walk", QUEUE_ARN),
        ("createDestination",),
    ),
    "get_destination": (
        lambda sim, c: (lambda found: lambda: c.get_destination(found))(_destination_id(c)),
        ("getDestination",),
    ),
    "delete_destination": (
        lambda sim, c: (lambda found: lambda: c.delete_destination(found))(_destination_id(c)),
        ("deleteDestination",),
    ),
    "create_subscription": (
        lambda sim, c: (
            lambda found: (
                lambda: c.create_subscription("ORDER_CHANGE", found, payload_version="1.0")
            )
        )(_destination_id(c)),
        ("createSubscription",),
    ),
    "get_subscription": (
        lambda sim, c: (lambda _made: lambda: c.get_subscription("ORDER_CHANGE"))(
            _subscription_id(c)
        ),
        ("getSubscription",),
    ),
    "get_subscription_by_id": (
        lambda sim, c: (lambda made: lambda: c.get_subscription_by_id("ORDER_CHANGE", made))(
            _subscription_id(c)
        ),
        ("getSubscriptionById",),
    ),
    "delete_subscription": (
        lambda sim, c: (lambda made: lambda: c.delete_subscription("ORDER_CHANGE", made))(
            _subscription_id(c)
        ),
        ("deleteSubscriptionById",),
    ),
}

FAULTS = {
    "503 HTML": {"kind": "server_error", "status": 503},
    "500 HTML": {"kind": "server_error", "status": 500},
    "503 empty": {"kind": "empty_body", "status": 503},
    "429": {"kind": "throttle"},
}


def test_the_walk_covers_every_method_of_the_client() -> None:
    public = {
        name
        for name, member in vars(AmazonClient).items()
        if callable(member) and not name.startswith("_")
    }
    assert public == set(WALK)


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize(
    ("method", "operation"),
    [(method, operation) for method, (_, operations) in WALK.items() for operation in operations],
)
def test_every_call_fails_transiently_when_amazon_answers_5xx_or_429(
    sim: Simulator, amazon: AmazonClient, method: str, operation: str, fault: dict[str, Any]
) -> None:
    prepare, _ = WALK[method]
    call = prepare(sim, amazon)
    control(sim, "/_sim/faults", {"operation": operation, "count": 1, **fault})

    with pytest.raises(AmazonTransientError):
        call()

    assert control(sim, "/_sim/faults", None, method="GET")["faults"] == []  # it was hit


@pytest.mark.parametrize("fault", FAULTS.values(), ids=FAULTS.keys())
@pytest.mark.parametrize(
    "call",
    [
        lambda sim: AmazonClient(connection_to(sim), max_wait=0).search_orders(
            last_updated_after=SIM_START - timedelta(days=1)
        ),
        lambda sim: verify_refresh_token(connection_to(sim)),
        lambda sim: exchange_authorization_code(
            "a-code",
            lwa_endpoint=sim.base_url,
            client_id="amzn1.application-oa2-client.simulator",
            client_secret="simulator-secret",
        ),
    ],
    ids=["an operation's access token", "verify_refresh_token", "exchange_authorization_code"],
)
def test_login_with_amazon_failing_5xx_or_429_is_transient(
    sim: Simulator, db: None, call: Callable[[Simulator], object], fault: dict[str, Any]
) -> None:
    control(sim, "/_sim/faults", {"operation": "lwaToken", "count": 1, **fault})

    with pytest.raises(AmazonTransientError):
        call(sim)


def test_an_expired_document_url_is_transient_so_the_document_is_asked_for_again(
    sim: Simulator, amazon: AmazonClient
) -> None:
    """S3 answers an expired pre-signed URL 403: not a rejection, a new URL will do."""
    document_id = _report_document(sim, amazon)
    control(sim, "/_sim/faults", {"kind": "expired_document", "count": 1})

    with pytest.raises(AmazonTransientError, match="403 AccessDenied"):
        amazon.download_report(document_id)

    assert "item-name" in amazon.download_report(document_id)


def test_grantless_calls_use_a_token_of_their_own_and_a_duplicate_is_409(
    sim: Simulator, amazon: AmazonClient
) -> None:
    from sp_api.auth import access_token_client

    made = amazon.create_destination("walk", QUEUE_ARN)

    with pytest.raises(AmazonRejected) as conflict:
        amazon.create_destination("again", QUEUE_ARN)
    assert conflict.value.status == 409
    assert [d.destination_id for d in amazon.get_destinations()] == [made.destination_id]
    assert amazon.get_destination(made.destination_id).queue_arn == QUEUE_ARN
    # Our cache (honouring expires_in, keyed by endpoint and client), never sp_api's.
    assert len(access_token_client.grantless_cache) == 0
    assert amazon.get_subscription("ORDER_CHANGE") is None
    assert amazon.delete_subscription("ORDER_CHANGE", "no-such-subscription") is False
