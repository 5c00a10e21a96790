"""Every response the simulator sends validates against its operation's schema in spapi-models."""

from __future__ import annotations

import io
import json
from collections import defaultdict
from datetime import timedelta
from typing import Any

import httpx
import pytest
from sp_api.api import (
    Feeds,
    FinancesV20240619,
    Inventories,
    ListingsItems,
    Notifications,
    Orders,
    Reports,
    Sellers,
)
from sp_api.base.exceptions import SellingApiException

from spapi_simulator import Simulator
from spapi_simulator.app import OPERATION_IDS
from spapi_simulator.testing import authorized_client, sp_api_kwargs

SELLER = "A3SIMULATORCA"


def drive_every_operation(sim: Simulator) -> dict[str, Any]:
    """Successful calls through the real sp_api client, errors through raw httpx."""
    kw = sp_api_kwargs(sim.base_url)
    control = httpx.Client(base_url=sim.base_url)
    orders = Orders(version="2026-01-01", **kw)
    everything = [
        "BUYER",
        "RECIPIENT",
        "PROCEEDS",
        "EXPENSE",
        "PROMOTION",
        "CANCELLATION",
        "FULFILLMENT",
        "PACKAGES",
        "TAX",
        "PAYMENT",
        "FULFILLMENT_ORDERS",
    ]
    page = orders.search_orders(
        lastUpdatedAfter="2025-01-01T00:00:00Z", includedData=everything, maxResultsPerPage=50
    )
    orders.search_orders(paginationToken=page.next_token)
    orders.search_orders(createdAfter="2025-01-01T00:00:00Z")
    for order in control.get("/_sim/orders").json()["orders"][:25]:
        orders.get_order(order["orderId"], includedData=everything)
    # An application without Amazon's restricted roles: the same orders, their personal data
    # left out, still within the contract.
    control.post("/_sim/roles", json={"roles": []})
    orders.search_orders(lastUpdatedAfter="2025-01-01T00:00:00Z", includedData=everything)
    for order in control.get("/_sim/orders").json()["orders"][25:28]:  # getOrder's burst: 30
        orders.get_order(order["orderId"], includedData=everything)
    control.post("/_sim/roles", json={"roles": ["directToConsumerDelivery", "taxInvoicing"]})

    merchant = [
        e["sku"]
        for e in control.get("/_sim/listings").json()["listings"]
        if e["fulfillmentChannelCode"] == "DEFAULT" and not e["isParent"]
    ]
    merchant_sku = merchant[0]
    new = control.post("/_sim/orders", json={"count": 1, "skus": merchant[:2]}).json()["orders"][0]
    Orders(version="v0", **kw).confirm_shipment(
        new["orderId"],
        marketplaceId="A2EUQ1WTGCTBG2",
        packageDetail={
            "packageReferenceId": "1",
            "carrierCode": "Canada Post",
            "trackingNumber": "7023",
            "shipDate": "2026-01-01T00:00:00Z",
            "orderItems": [
                {"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]}
                for i in new["orderItems"]
            ],
        },
    )

    reports = Reports(**kw)
    report_ids = [
        reports.create_report(reportType=kind, dataStartTime="2025-01-01T00:00:00Z").payload[
            "reportId"
        ]
        for kind in (
            "GET_MERCHANT_LISTINGS_ALL_DATA",
            "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL",
            "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        )
    ]
    reports.get_report(report_ids[0])
    sim.clock.advance(20)
    reports.get_report(report_ids[0])
    sim.clock.advance(60)
    for report_id in report_ids:
        reports.get_report_document(
            reports.get_report(report_id).payload["reportDocumentId"],
            download=True,
            character_code="windows-1252",
        )

    # Returns reports (CANCELLED when the window holds no return), refunds and sales in
    # Finances transactions, a cancellation through the order acknowledgement feed.
    returned = control.post("/_sim/orders", json={"fulfillmentStatus": "SHIPPED"}).json()
    control.post(
        "/_sim/returns",
        json={"orderId": returned["orders"][0]["orderId"], "quantity": 1, "arrivesAfterSeconds": 0},
    )
    control.post("/_sim/refunds", json={"orderId": returned["orders"][0]["orderId"]})
    for kind in (
        "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE",
        "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA",
    ):
        report_id = reports.create_report(
            reportType=kind, dataStartTime="2025-01-01T00:00:00Z"
        ).payload["reportId"]
        sim.clock.advance(60)
        report = reports.get_report(report_id).payload
        if report["processingStatus"] == "DONE":
            reports.get_report_document(report["reportDocumentId"], character_code="windows-1252")
    sim.clock.advance(180)
    finances = FinancesV20240619(**kw)
    after = (sim.clock.now() - timedelta(days=60)).strftime("%Y-%m-%dT%H:%M:%SZ")
    page = finances.list_transactions(postedAfter=after)
    if page.payload.get("nextToken"):
        finances.list_transactions(nextToken=page.payload["nextToken"])
    finances.list_transactions(
        relatedIdentifierName="ORDER_ID", relatedIdentifierValue=returned["orders"][0]["orderId"]
    )

    feeds = Feeds(**kw)
    feed_document = {
        "header": {"sellerId": SELLER, "version": "2.0"},
        "messages": [
            {
                "messageId": 1,
                "sku": merchant_sku,
                "operationType": "PATCH",
                "productType": "DRINKING_CUP",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 5}],
                    }
                ],
            },
            {
                "messageId": 2,
                "sku": "NOPE",
                "operationType": "PARTIAL_UPDATE",
                "productType": "DRINKING_CUP",
                "attributes": {
                    "fulfillment_availability": [
                        {"fulfillment_channel_code": "DEFAULT", "quantity": 5}
                    ]
                },
            },
        ],
    }
    processing_reports: list[Any] = []
    feed_ids = []
    for content in (json.dumps(feed_document).encode(), b"not json"):
        document = feeds.create_feed_document(
            io.BytesIO(content), content_type="application/json; charset=UTF-8"
        )
        feed_ids.append(
            feeds.create_feed("JSON_LISTINGS_FEED", document.payload["feedDocumentId"]).payload[
                "feedId"
            ]
        )
    feeds.get_feed(feed_ids[0])
    sim.clock.advance(80)
    for feed_id in feed_ids:
        result = feeds.get_feed(feed_id).payload["resultFeedDocumentId"]
        processing_reports.append(json.loads(feeds.get_feed_document(result)))

    listings = ListingsItems(version="2021-08-01", **kw)
    every = [
        "summaries",
        "attributes",
        "issues",
        "offers",
        "fulfillmentAvailability",
        "procurement",
        "relationships",
        "productTypes",
    ]
    catalogue = control.get("/_sim/listings").json()["listings"]
    for entry in catalogue[::10] + [e for e in catalogue if e["isParent"]][:3]:
        sim.clock.advance(1)  # getListingsItem restores 5 requests per second
        listings.get_listings_item(SELLER, entry["sku"], includedData=every)
    listings.search_listings_items(SELLER, includedData=every, pageSize=20)
    listings.search_listings_items(
        SELLER,
        includedData=every,
        pageSize=20,
        pageToken=listings.search_listings_items(SELLER, pageSize=20).next_token,
    )
    patch = {
        "productType": "DRINKING_CUP",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": 4}],
            }
        ],
    }
    listings.patch_listings_item(SELLER, merchant_sku, body=patch)
    listings.patch_listings_item(
        SELLER,
        merchant_sku,
        body=patch,
        mode="VALIDATION_PREVIEW",
        includedData=["identifiers", "issues"],
    )
    listings.patch_listings_item(SELLER, "NOPE", body=patch)

    sellers = Sellers(**kw)
    sellers.get_marketplace_participation()
    control.post(
        "/_sim/participations", json={"marketplaceId": "A1AM78C64UM0Y8", "isParticipating": False}
    )
    sellers.get_marketplace_participation()

    inventories = Inventories(**kw)
    first = inventories.get_inventory_summary_marketplace(details=True)
    sim.clock.advance(1)
    inventories.get_inventory_summary_marketplace(details=False, nextToken=first.next_token)

    drive_notifications(sim, kw)

    # Errors, through raw HTTP so every status is seen whatever the client library does.
    token = orders._auth.get_auth().access_token
    http = httpx.Client(base_url=sim.base_url, headers={"x-amz-access-token": token})
    bad_calls: list[tuple[str, str, Any]] = [
        ("GET", "/orders/2026-01-01/orders", None),
        ("GET", "/orders/2026-01-01/orders/702-0000000-0000000", None),
        (
            "POST",
            f"/orders/v0/orders/{new['orderId']}/shipmentConfirmation",
            {"marketplaceId": "A2EUQ1WTGCTBG2"},
        ),
        ("POST", "/orders/v0/orders/702-0000000-0000000/shipmentConfirmation", {}),
        (
            "POST",
            "/reports/2021-06-30/reports",
            {"reportType": "NOPE", "marketplaceIds": ["A2EUQ1WTGCTBG2"]},
        ),
        ("GET", "/reports/2021-06-30/reports/1", None),
        ("GET", "/reports/2021-06-30/documents/nope", None),
        ("POST", "/feeds/2021-06-30/documents", {}),
        (
            "POST",
            "/feeds/2021-06-30/feeds",
            {
                "feedType": "JSON_LISTINGS_FEED",
                "marketplaceIds": ["A2EUQ1WTGCTBG2"],
                "inputFeedDocumentId": "x",
            },
        ),
        ("GET", "/feeds/2021-06-30/feeds/1", None),
        ("GET", "/feeds/2021-06-30/documents/nope", None),
        (
            "PATCH",
            f"/listings/2021-08-01/items/{SELLER}/{merchant_sku}?marketplaceIds=A2EUQ1WTGCTBG2",
            {"patches": []},
        ),
        ("GET", f"/listings/2021-08-01/items/{SELLER}/NOPE?marketplaceIds=A2EUQ1WTGCTBG2", None),
        (
            "GET",
            f"/listings/2021-08-01/items/{SELLER}?marketplaceIds=A2EUQ1WTGCTBG2&pageSize=50",
            None,
        ),
        ("GET", "/fba/inventory/v1/summaries?granularityType=Country", None),
    ]
    for method, path, body in bad_calls:
        http.request(method, path, json=body)
    for path in (
        "/orders/2026-01-01/orders/702-0000000-0000000",
        "/reports/2021-06-30/reports/1",
        "/feeds/2021-06-30/feeds/1",
        "/fba/inventory/v1/summaries",
    ):
        httpx.get(f"{sim.base_url}{path}")  # 403 without a token
    for _ in range(3):  # exhaust getInventorySummaries' burst of 2 -> 429
        http.get(
            "/fba/inventory/v1/summaries?granularityType=Marketplace&granularityId=A2EUQ1WTGCTBG2&marketplaceIds=A2EUQ1WTGCTBG2"
        )
    for _ in range(6):  # patchListingsItem burst of 5 -> 429
        http.patch(
            f"/listings/2021-08-01/items/{SELLER}/{merchant_sku}?marketplaceIds=A2EUQ1WTGCTBG2",
            json=patch,
        )
    return {"processing_reports": processing_reports, "feed_document": feed_document}


def drive_notifications(sim: Simulator, kw: dict[str, Any]) -> None:
    """Every Notifications operation: successes through sp_api (grantless where Amazon's model
    says so), errors and the usage plan through raw httpx with both kinds of token."""
    notifications = Notifications(**kw)
    arn = "arn:aws:sqs:us-east-1:123456789012:contract"
    destination = notifications.create_destination(name="orders", arn=arn).payload["destinationId"]
    notifications.get_destinations()
    notifications.get_destination(destination)
    order_change = notifications.create_subscription(
        "ORDER_CHANGE",
        destination_id=destination,
        processingDirective={
            "eventFilter": {
                "eventFilterType": "ORDER_CHANGE",
                "orderChangeTypes": ["OrderStatusChange", "BuyerRequestedChange"],
                "marketplaceIds": ["A2EUQ1WTGCTBG2"],
            }
        },
    ).payload["subscriptionId"]
    fba = notifications.create_subscription(
        "FBA_INVENTORY_AVAILABILITY_CHANGES", destination_id=destination
    ).payload["subscriptionId"]
    notifications.get_subscription("ORDER_CHANGE")
    notifications.get_subscription_by_id("ORDER_CHANGE", order_change)

    seller_token = notifications._auth.get_auth().access_token
    grantless_token = notifications.grantless_auth.access_token
    seller = httpx.Client(base_url=sim.base_url, headers={"x-amz-access-token": seller_token})
    app = httpx.Client(base_url=sim.base_url, headers={"x-amz-access-token": grantless_token})
    subscriptions = "/notifications/v1/subscriptions"
    app.post("/notifications/v1/destinations", json={"name": "x", "resourceSpecification": {}})
    app.post(
        "/notifications/v1/destinations",
        json={"name": "again", "resourceSpecification": {"sqs": {"arn": arn}}},
    )
    app.get("/notifications/v1/destinations/nope")
    app.delete(f"/notifications/v1/destinations/{destination}")  # in use: 409
    seller.post("/notifications/v1/destinations", json={})  # a seller's token: 403
    seller.post(
        f"{subscriptions}/ORDER_CHANGE",
        json={"payloadVersion": "1.0", "destinationId": destination},
    )  # already subscribed: 409
    seller.post(f"{subscriptions}/ORDER_CHANGE", json={"payloadVersion": "9"})
    seller.get(f"{subscriptions}/NOT_A_TYPE")
    seller.get(f"{subscriptions}/ORDER_CHANGE/nope")
    app.get(f"{subscriptions}/ORDER_CHANGE/{fba}")  # another type's id: 404
    app.delete(f"{subscriptions}/ORDER_CHANGE/nope")
    app.get(f"{subscriptions}/ORDER_CHANGE")  # grantless on a seller's operation: 403

    notifications.delete_notification_subscription("ORDER_CHANGE", order_change)
    app.delete(f"{subscriptions}/FBA_INVENTORY_AVAILABILITY_CHANGES/{fba}")
    seller.get(f"{subscriptions}/ORDER_CHANGE")  # none left: 404
    notifications.delete_destination(destination)
    for _ in range(6):  # getDestinations' burst of 5 (one spent above) -> 429
        app.get("/notifications/v1/destinations")
    for _ in range(6):  # getSubscription's burst of 5, the seller's bucket -> 429
        seller.get(f"{subscriptions}/ORDER_CHANGE")


def test_it_answers_every_operation_within_its_contract(
    recording_simulator: Simulator, validators: dict[str, Any]
) -> None:
    try:
        extra = drive_every_operation(recording_simulator)
    except SellingApiException as exc:  # pragma: no cover - shows the body on failure
        pytest.fail(f"sp_api raised {exc!r}")

    seen: dict[str, set[int]] = defaultdict(set)
    failures: list[str] = []
    for operation, status, body in recording_simulator.state.recorded:
        seen[operation].add(status)
        validator = validators["response"](operation, str(status))
        if validator is None:
            if body:
                failures.append(f"{operation} {status}: expected no body, got {body[:80]!r}")
            continue
        for error in validators["errors_of"](validator, json.loads(body)):
            failures.append(f"{operation} {status}: {error}")

    assert failures == []
    assert set(seen) == set(OPERATION_IDS)
    assert all(any(200 <= s < 300 for s in statuses) for statuses in seen.values())
    errors_seen = {s for statuses in seen.values() for s in statuses if s >= 400}
    assert errors_seen == {400, 403, 404, 409, 429}

    report_schema = validators["json_schema"]("listings-feed-processing-report-schema-v2.json")
    for report in extra["processing_reports"]:
        assert validators["errors_of"](report_schema, report) == []
    assert [r["summary"]["messagesAccepted"] for r in extra["processing_reports"]] == [1, 0]
    assert (
        validators["errors_of"](
            validators["json_schema"]("listings-feed-schema-v2.json"), extra["feed_document"]
        )
        == []
    )


def test_it_serves_control_api_orders_exactly_as_search_orders_returns_them(
    recording_simulator: Simulator, validators: dict[str, Any]
) -> None:
    orders = httpx.get(f"{recording_simulator.base_url}/_sim/orders").json()["orders"]
    validator = validators["response"]("searchOrders", "200")

    assert validators["errors_of"](validator, {"orders": orders}) == []


def test_amazon_com_and_com_mx_answers_are_within_the_contract(
    recording_simulator: Simulator, validators: dict[str, Any]
) -> None:
    """Orders, listings and FBA stock of Amazon.com and Amazon.com.mx: USD and MXN amounts,
    US and Mexican addresses, US sales tax collected by Amazon, the shared US network."""
    sim = recording_simulator
    control = httpx.Client(base_url=sim.base_url)
    markets = ["ATVPDKIKX0DER", "A1AM78C64UM0Y8"]
    everything = "BUYER,RECIPIENT,PROCEEDS,PROMOTION,CANCELLATION,FULFILLMENT,PACKAGES,TAX"
    with authorized_client(sim) as http:
        page = http.get(
            "/orders/2026-01-01/orders",
            params={
                "createdAfter": "2025-01-01T00:00:00Z",
                "marketplaceIds": ",".join(markets),
                "includedData": everything,
                "maxResultsPerPage": 50,
            },
        ).json()
        assert {o["salesChannel"]["marketplaceId"] for o in page["orders"]} == set(markets)
        http.get(
            "/orders/2026-01-01/orders", params={"paginationToken": page["pagination"]["nextToken"]}
        )
        for market in markets:
            order = control.get("/_sim/orders", params={"marketplaceId": market}).json()["orders"][
                -1
            ]
            http.get(
                f"/orders/2026-01-01/orders/{order['orderId']}", params={"includedData": everything}
            )
            merchant = [
                e["sku"]
                for e in control.get("/_sim/listings", params={"marketplaceId": market}).json()[
                    "listings"
                ]
                if e["fulfillmentChannelCode"] == "DEFAULT" and not e["isParent"] and e["quantity"]
            ]
            new = control.post(
                "/_sim/orders", json={"marketplaceId": market, "skus": merchant[:1]}
            ).json()["orders"][0]
            shipped = http.post(
                f"/orders/v0/orders/{new['orderId']}/shipmentConfirmation",
                json={
                    "marketplaceId": market,
                    "packageDetail": {
                        "packageReferenceId": "1",
                        "carrierCode": "UPS",
                        "trackingNumber": "1Z999",
                        "shipDate": "2026-01-01T00:00:00Z",
                        "orderItems": [
                            {"orderItemId": i["orderItemId"], "quantity": i["quantityOrdered"]}
                            for i in new["orderItems"]
                        ],
                    },
                },
            )
            assert shipped.status_code == 204
            http.get(
                f"/orders/2026-01-01/orders/{new['orderId']}", params={"includedData": everything}
            )
            listing_path = f"/listings/2021-08-01/items/{SELLER}"
            all_data = (
                "summaries,attributes,issues,offers,fulfillmentAvailability,relationships,"
                "productTypes"
            )
            http.get(
                listing_path,
                params={"marketplaceIds": market, "includedData": all_data, "pageSize": 20},
            )
            http.get(
                f"{listing_path}/{merchant[0]}",
                params={"marketplaceIds": market, "includedData": all_data},
            )
            http.get(
                "/fba/inventory/v1/summaries",
                params={
                    "granularityType": "Marketplace",
                    "granularityId": market,
                    "marketplaceIds": market,
                    "details": "true",
                },
            )

    failures: list[str] = []
    for operation, status, body in sim.state.recorded:
        assert status < 400, (operation, status, body[:200])
        validator = validators["response"](operation, str(status))
        if validator is None:
            continue
        for error in validators["errors_of"](validator, json.loads(body)):
            failures.append(f"{operation} {status}: {error}")
    assert failures == []
    recorded = {operation for operation, _, _ in sim.state.recorded}
    assert recorded == {
        "searchOrders",
        "getOrder",
        "confirmShipment",
        "searchListingsItems",
        "getListingsItem",
        "getInventorySummaries",
    }
