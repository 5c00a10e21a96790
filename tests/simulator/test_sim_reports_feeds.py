from __future__ import annotations

import gzip
import io
import json
from typing import Any

import httpx
from sp_api.api import Feeds, Reports

from spapi_simulator import Simulator


def create_report(http: httpx.Client, report_type: str, **body: Any) -> str:
    response = http.post(
        "/reports/2021-06-30/reports",
        json={"reportType": report_type, "marketplaceIds": ["A2EUQ1WTGCTBG2"], **body},
    )
    assert response.status_code == 202
    return str(response.json()["reportId"])


def test_it_moves_a_report_through_its_statuses(simulator: Simulator, http: httpx.Client) -> None:
    report_id = create_report(http, "GET_MERCHANT_LISTINGS_ALL_DATA")

    statuses = []
    for seconds in (0, 10, 50):
        simulator.clock.advance(seconds)
        statuses.append(
            http.get(f"/reports/2021-06-30/reports/{report_id}").json()["processingStatus"]
        )

    assert statuses == ["IN_QUEUE", "IN_PROGRESS", "DONE"]


def test_it_serves_the_listings_report_gzipped_in_windows_1252(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    reports = Reports(**sp_kwargs)
    report_id = reports.create_report(reportType="GET_MERCHANT_LISTINGS_ALL_DATA").payload[
        "reportId"
    ]
    simulator.clock.advance(60)
    document_id = reports.get_report(report_id).payload["reportDocumentId"]

    document = reports.get_report_document(
        document_id, download=True, character_code="windows-1252"
    )

    assert document.payload["compressionAlgorithm"] == "GZIP"
    rows = [line.split("\t") for line in document.payload["document"].splitlines()]
    header = rows[0]
    assert header[:6] == [
        "item-name",
        "item-description",
        "listing-id",
        "seller-sku",
        "price",
        "quantity",
    ]
    by_sku = {row[header.index("seller-sku")]: row for row in rows[1:]}
    listings = httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
    sellable = [e for e in listings if not e["isParent"]]
    assert set(by_sku) == {e["sku"] for e in sellable}
    mug = by_sku["MUG-0001"]
    assert mug[0].startswith("Tasse à café émaillée")
    assert any("’" in row[0] for row in rows[1:])
    fba = next(e for e in sellable if e["fulfillmentChannelCode"] == "AMAZON_NA")
    assert by_sku[fba["sku"]][header.index("fulfillment-channel")] == "AMAZON_NA"
    assert by_sku[fba["sku"]][header.index("quantity")] == ""


def test_it_writes_order_reports_one_row_per_item(simulator: Simulator, http: httpx.Client) -> None:
    report_id = create_report(
        http,
        "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL",
        dataStartTime="2026-02-25T00:00:00Z",
        dataEndTime="2026-03-02T00:00:00Z",
    )
    simulator.clock.advance(60)
    document_id = http.get(f"/reports/2021-06-30/reports/{report_id}").json()["reportDocumentId"]
    located = http.get(f"/reports/2021-06-30/documents/{document_id}").json()
    raw = httpx.get(located["url"]).content
    text = (gzip.decompress(raw) if located.get("compressionAlgorithm") == "GZIP" else raw).decode(
        "windows-1252"
    )

    rows = [line.split("\t") for line in text.splitlines()]
    header = rows[0]
    for column in (
        "amazon-order-id",
        "merchant-order-id",
        "purchase-date",
        "last-updated-date",
        "order-status",
        "fulfillment-channel",
        "sales-channel",
        "sku",
        "product-name",
        "quantity",
        "currency",
        "item-price",
        "item-tax",
        "shipping-price",
        "shipping-tax",
        "item-promotion-discount",
        "ship-promotion-discount",
    ):
        assert column in header
    orders = [
        o
        for o in httpx.get(f"{simulator.base_url}/_sim/orders").json()["orders"]
        if "2026-02-25T00:00:00Z" <= o["createdTime"] <= "2026-03-02T00:00:00Z"
    ]
    assert len(rows) - 1 == sum(len(o["orderItems"]) for o in orders)
    assert {r[header.index("amazon-order-id")] for r in rows[1:]} == {o["orderId"] for o in orders}
    assert {r[header.index("currency")] for r in rows[1:]} == {"CAD"}
    assert {r[header.index("sales-channel")] for r in rows[1:]} == {"Amazon.ca"}


def test_it_expires_document_urls_after_5_simulated_minutes(
    simulator: Simulator, http: httpx.Client
) -> None:
    report_id = create_report(http, "GET_MERCHANT_LISTINGS_ALL_DATA")
    simulator.clock.advance(60)
    document_id = http.get(f"/reports/2021-06-30/reports/{report_id}").json()["reportDocumentId"]
    url = http.get(f"/reports/2021-06-30/documents/{document_id}").json()["url"]

    simulator.clock.advance(299)
    assert httpx.get(url).status_code == 200
    simulator.clock.advance(1)
    expired = httpx.get(url)

    assert expired.status_code == 403
    assert "<Code>AccessDenied</Code>" in expired.text
    assert "<Message>Request has expired</Message>" in expired.text


def test_it_hands_out_an_already_expired_url_on_request(
    simulator: Simulator, http: httpx.Client
) -> None:
    report_id = create_report(http, "GET_MERCHANT_LISTINGS_ALL_DATA")
    simulator.clock.advance(60)
    document_id = http.get(f"/reports/2021-06-30/reports/{report_id}").json()["reportDocumentId"]
    httpx.post(f"{simulator.base_url}/_sim/faults", json={"kind": "expired_document", "count": 1})

    expired = http.get(f"/reports/2021-06-30/documents/{document_id}").json()["url"]
    fresh = http.get(f"/reports/2021-06-30/documents/{document_id}").json()["url"]

    assert httpx.get(expired).status_code == 403
    assert httpx.get(fresh).status_code == 200


def quantity_feed(*messages: tuple[str, int]) -> dict[str, Any]:
    return {
        "header": {"sellerId": "A3SIMULATORCA", "version": "2.0", "issueLocale": "en_US"},
        "messages": [
            {
                "messageId": index,
                "sku": sku,
                "operationType": "PATCH",
                "productType": "PRODUCT",
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
                    }
                ],
            }
            for index, (sku, quantity) in enumerate(messages, start=1)
        ],
    }


def submit(simulator: Simulator, sp_kwargs: dict[str, Any], content: bytes) -> dict[str, Any]:
    feeds = Feeds(**sp_kwargs)
    document = feeds.create_feed_document(
        io.BytesIO(content), content_type="application/json; charset=UTF-8"
    )
    feed_id = feeds.create_feed("JSON_LISTINGS_FEED", document.payload["feedDocumentId"]).payload[
        "feedId"
    ]
    assert feeds.get_feed(feed_id).payload["processingStatus"] == "IN_QUEUE"
    simulator.clock.advance(15)
    assert feeds.get_feed(feed_id).payload["processingStatus"] == "IN_PROGRESS"
    simulator.clock.advance(60)
    feed = feeds.get_feed(feed_id).payload
    report = json.loads(feeds.get_feed_document(feed["resultFeedDocumentId"]))
    return {"feed": feed, "report": report}


def listing_quantity(sim: Simulator, sku: str) -> int:
    listings = httpx.get(f"{sim.base_url}/_sim/listings").json()["listings"]
    return int(next(entry["quantity"] for entry in listings if entry["sku"] == sku))


def test_it_applies_good_feed_messages_and_rejects_bad_ones(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    listings = httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
    fba = next(
        e["sku"]
        for e in listings
        if e["fulfillmentChannelCode"] == "AMAZON_NA" and not e["isParent"]
    )
    before = listing_quantity(simulator, "SOCK-0002")
    content = json.dumps(
        quantity_feed(("MUG-0001", 17), ("NOPE-1", 3), ("SOCK-0002", -4), (fba, 5)),
        ensure_ascii=False,
    ).encode()

    result = submit(simulator, sp_kwargs, content)

    assert result["feed"]["processingStatus"] == "DONE"
    assert result["report"]["summary"] == {
        "errors": 3,
        "warnings": 0,
        "messagesProcessed": 4,
        "messagesAccepted": 1,
        "messagesInvalid": 3,
    }
    assert [(i["messageId"], i["sku"], i["code"]) for i in result["report"]["issues"]] == [
        (2, "NOPE-1", "4000001"),
        (3, "SOCK-0002", "99010"),
        (4, fba, "90111"),
    ]
    assert result["report"]["header"] == {
        "sellerId": "A3SIMULATORCA",
        "version": "2.0",
        "feedId": result["feed"]["feedId"],
    }
    assert listing_quantity(simulator, "MUG-0001") == 17
    assert listing_quantity(simulator, "SOCK-0002") == before


def test_it_ends_a_feed_fatal_when_the_document_is_not_json(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    result = submit(simulator, sp_kwargs, b'{"header": {"sellerId": ')

    assert result["feed"]["processingStatus"] == "FATAL"
    assert result["report"]["issues"][0]["message"].startswith(
        "The feed document is not valid JSON"
    )
    assert result["report"]["summary"]["messagesProcessed"] == 0


def test_it_ends_a_feed_fatal_when_the_document_breaks_the_schema(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    document = quantity_feed(("MUG-0001", 3))
    document["header"]["version"] = "1.0"

    result = submit(simulator, sp_kwargs, json.dumps(document).encode())

    assert result["feed"]["processingStatus"] == "FATAL"
    assert "header/version" in result["report"]["issues"][0]["message"]
    assert listing_quantity(simulator, "MUG-0001") != 3


def test_it_ends_a_feed_fatal_on_request(simulator: Simulator, sp_kwargs: dict[str, Any]) -> None:
    httpx.post(f"{simulator.base_url}/_sim/faults", json={"kind": "feed_fatal"})

    result = submit(simulator, sp_kwargs, json.dumps(quantity_feed(("MUG-0001", 3))).encode())

    assert result["feed"]["processingStatus"] == "FATAL"
    assert listing_quantity(simulator, "MUG-0001") != 3


def test_it_rejects_unsupported_report_and_feed_types(http: httpx.Client) -> None:
    report = http.post(
        "/reports/2021-06-30/reports",
        json={
            "reportType": "GET_V2_SETTLEMENT_REPORT_DATA_FLAT_FILE",
            "marketplaceIds": ["A2EUQ1WTGCTBG2"],
        },
    )
    feed = http.post(
        "/feeds/2021-06-30/feeds",
        json={
            "feedType": "JSON_LISTINGS_FEED",
            "marketplaceIds": ["A2EUQ1WTGCTBG2"],
            "inputFeedDocumentId": "nope",
        },
    )
    unknown = http.get("/reports/2021-06-30/reports/123")

    assert report.status_code == 400
    assert (
        feed.json()["errors"][0]["message"]
        == "inputFeedDocumentId 'nope' is not a feed document you created."
    )
    assert unknown.status_code == 404
