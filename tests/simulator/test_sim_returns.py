"""Returns, refunds, buyer cancellation requests and seller cancellation in the simulator."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import httpx

from spapi_simulator import Simulator
from spapi_simulator.returns import FBA_RETURNS_COLUMNS, MERCHANT_RETURNS_COLUMNS

CA = "A2EUQ1WTGCTBG2"


def control(sim: Simulator) -> httpx.Client:
    return httpx.Client(base_url=sim.base_url)


def shipped_order(sim: Simulator, fulfilled_by: str = "MERCHANT") -> dict[str, Any]:
    response = control(sim).post(
        "/_sim/orders", json={"fulfillmentStatus": "SHIPPED", "fulfilledBy": fulfilled_by}
    )
    assert response.status_code == 201, response.text
    return dict(response.json()["orders"][0])


def report_rows(sim: Simulator, http: httpx.Client, kind: str, **window: str) -> list[list[str]]:
    created = http.post(
        "/reports/2021-06-30/reports",
        json={"reportType": kind, "marketplaceIds": [CA], **window},
    )
    assert created.status_code == 202, created.text
    sim.clock.advance(60)
    report = http.get(f"/reports/2021-06-30/reports/{created.json()['reportId']}").json()
    if report["processingStatus"] == "CANCELLED":
        return []
    assert report["processingStatus"] == "DONE"
    document = http.get(f"/reports/2021-06-30/documents/{report['reportDocumentId']}").json()
    raw = httpx.get(document["url"]).content
    if document.get("compressionAlgorithm") == "GZIP":
        import gzip

        raw = gzip.decompress(raw)
    return [line.split("\t") for line in raw.decode("windows-1252").splitlines()]


def test_history_returns_are_deterministic_from_the_seed(sim_factory: Any) -> None:
    first = sim_factory(seed=7)
    second = sim_factory(seed=7)

    def returns(sim: Simulator) -> list[tuple[str, str, int, str]]:
        body = control(sim).get("/_sim/returns").json()["returns"]
        return [(r["orderId"], r["reason"], r["quantity"], r["status"]) for r in body]

    assert returns(first) == returns(second)
    assert returns(first)  # a month of orders brings some back
    fulfilled = {r["fulfilledBy"] for r in control(first).get("/_sim/returns").json()["returns"]}
    assert fulfilled == {"MERCHANT", "AMAZON"}


def test_a_merchant_return_is_in_the_flat_file_with_its_rma_and_tracking(
    simulator: Simulator, http: httpx.Client
) -> None:
    order = shipped_order(simulator)
    line = order["orderItems"][0]
    made = control(simulator).post(
        "/_sim/returns",
        json={"orderId": order["orderId"], "quantity": 1, "reason": "DEFECTIVE"},
    )
    assert made.status_code == 201, made.text
    item = made.json()["return"]

    rows = report_rows(simulator, http, "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE")

    assert rows[0] == MERCHANT_RETURNS_COLUMNS
    row = dict(zip(rows[0], next(r for r in rows[1:] if r[0] == order["orderId"]), strict=True))
    assert row["Amazon RMA ID"] == item["returnId"]
    assert row["Tracking ID"] == item["trackingId"] != ""
    assert row["Merchant SKU"] == line["product"]["sellerSku"]
    assert row["Return Reason"] == "CR-DEFECTIVE"
    assert row["Return request status"] == "Approved"
    assert row["Return delivery date"] == ""


def test_an_fba_return_reaches_the_report_once_received_and_restocks_sellable_units(
    simulator: Simulator, http: httpx.Client
) -> None:
    order = shipped_order(simulator, "AMAZON")
    sku = order["orderItems"][0]["product"]["sellerSku"]
    before = simulator.state.listings[sku].stock.quantity
    control(simulator).post(
        "/_sim/returns",
        json={
            "orderId": order["orderId"],
            "quantity": 1,
            "disposition": "SELLABLE",
            "arrivesAfterSeconds": 1800,
        },
    )
    start = {"dataStartTime": "2000-01-01T00:00:00Z"}
    early = report_rows(simulator, http, "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA", **start)
    simulator.clock.advance(1800)
    rows = report_rows(simulator, http, "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA", **start)

    assert all(r[1] != order["orderId"] for r in early[1:])
    assert rows[0] == FBA_RETURNS_COLUMNS
    row = dict(zip(rows[0], next(r for r in rows[1:] if r[1] == order["orderId"]), strict=True))
    assert row["detailed-disposition"] == "SELLABLE"
    assert row["license-plate-number"].startswith("LPN")
    assert simulator.state.listings[sku].stock.quantity == before + 1


def test_the_returns_report_window_filters_by_return_date(
    simulator: Simulator, http: httpx.Client
) -> None:
    order = shipped_order(simulator)
    control(simulator).post("/_sim/returns", json={"orderId": order["orderId"], "quantity": 1})

    rows = report_rows(
        simulator,
        http,
        "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE",
        dataStartTime="2000-01-01T00:00:00Z",
        dataEndTime="2000-02-01T00:00:00Z",
    )

    assert rows == []  # no returns in the window: Amazon cancels the report


def test_bad_returns_are_refused_with_a_reason(simulator: Simulator) -> None:
    order = shipped_order(simulator)
    line = order["orderItems"][0]
    client = control(simulator)

    too_many = client.post(
        "/_sim/returns",
        json={"orderId": order["orderId"], "quantity": line["quantityOrdered"] + 1},
    )
    unknown = client.post("/_sim/returns", json={"orderId": "000-0000000-0000000"})
    unshipped = client.post("/_sim/orders", json={}).json()["orders"][0]
    not_shipped = client.post("/_sim/returns", json={"orderId": unshipped["orderId"]})

    assert too_many.status_code == 400 and "exceeds" in too_many.text
    assert unknown.status_code == 404
    assert not_shipped.status_code == 400
    assert client.get("/_sim/returns", params={"orderId": order["orderId"]}).json() == {
        "returns": []
    }


def list_all(sim: Simulator, http: httpx.Client, **params: str) -> tuple[list[dict[str, Any]], int]:
    """Every transaction of the last 90 days, page by page (Amazon: at most 180 days)."""
    after = (sim.clock.now() - timedelta(days=90)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pages, transactions = 0, []
    body = http.get(
        "/finances/2024-06-19/transactions", params={"postedAfter": after, **params}
    ).json()["payload"]
    while True:
        pages += 1
        transactions += body["transactions"]
        if "nextToken" not in body:
            return transactions, pages
        body = http.get(
            "/finances/2024-06-19/transactions", params={"nextToken": body["nextToken"]}
        ).json()["payload"]


def test_a_received_return_is_refunded_with_its_taxes_reversed(
    simulator: Simulator, http: httpx.Client
) -> None:
    order = shipped_order(simulator)
    line = order["orderItems"][0]
    control(simulator).post(
        "/_sim/returns",
        json={
            "orderId": order["orderId"],
            "quantity": line["quantityOrdered"],
            "arrivesAfterSeconds": 0,
        },
    )
    simulator.clock.advance(300)

    no_value = http.get(
        "/finances/2024-06-19/transactions", params={"relatedIdentifierName": "ORDER_ID"}
    )
    mine, _ = list_all(
        simulator,
        http,
        relatedIdentifierName="ORDER_ID",
        relatedIdentifierValue=order["orderId"],
    )

    assert [t["transactionType"] for t in mine] == ["Shipment", "Refund"]
    refund = mine[1]
    assert refund["totalAmount"]["currencyCode"] == "CAD"
    assert refund["totalAmount"]["currencyAmount"] < 0
    tax = next(b for b in refund["breakdowns"] if b["breakdownType"] == "Tax")
    paid_tax = sum(
        float(b["subtotal"]["amount"]) for b in line["proceeds"]["breakdowns"] if b["type"] == "TAX"
    )
    assert tax["breakdownAmount"]["currencyAmount"] == -round(paid_tax, 2)
    assert no_value.status_code == 400


def test_transactions_page_with_next_token_and_the_posted_window(
    sim_factory: Any,
) -> None:
    sim = sim_factory(enforce_rate_limits=False, transactions_page_size=7)
    from spapi_simulator.testing import authorized_client

    with authorized_client(sim) as http:
        every, pages = list_all(sim, http)
        late = http.get(
            "/finances/2024-06-19/transactions",
            params={"postedAfter": every[-1]["postedDate"]},
        ).json()["payload"]["transactions"]

    assert pages > 2
    ids = [t["transactionId"] for t in every]
    assert len(ids) == len(set(ids)) == len(sim.state.transactions)
    assert [t["postedDate"] for t in every] == sorted(t["postedDate"] for t in every)
    assert late and all(t["postedDate"] >= every[-1]["postedDate"] for t in late)


def ack_feed(order_id: str, items: list[tuple[str, str]], status: str = "Failure") -> bytes:
    item_xml = "".join(
        f"<Item><AmazonOrderItemCode>{code}</AmazonOrderItemCode>"
        f"<CancelReason>{reason}</CancelReason></Item>"
        for code, reason in items
    )
    return (
        '<?xml version="1.0" encoding="UTF-8"?><AmazonEnvelope><Header>'
        "<DocumentVersion>1.01</DocumentVersion><MerchantIdentifier>A3SIMULATORCA"
        "</MerchantIdentifier></Header><MessageType>OrderAcknowledgement</MessageType>"
        f"<Message><MessageID>1</MessageID><OrderAcknowledgement><AmazonOrderID>{order_id}"
        f"</AmazonOrderID><StatusCode>{status}</StatusCode>{item_xml}</OrderAcknowledgement>"
        "</Message></AmazonEnvelope>"
    ).encode()


def submit_feed(sim: Simulator, http: httpx.Client, content: bytes) -> str:
    document = http.post(
        "/feeds/2021-06-30/documents", json={"contentType": "text/xml; charset=UTF-8"}
    ).json()
    httpx.put(document["url"], content=content)
    feed = http.post(
        "/feeds/2021-06-30/feeds",
        json={
            "feedType": "POST_ORDER_ACKNOWLEDGEMENT_DATA",
            "marketplaceIds": [CA],
            "inputFeedDocumentId": document["feedDocumentId"],
        },
    )
    assert feed.status_code == 202, feed.text
    sim.clock.advance(80)
    done = http.get(f"/feeds/2021-06-30/feeds/{feed.json()['feedId']}").json()
    assert done["processingStatus"] == "DONE"
    result = http.get(f"/feeds/2021-06-30/documents/{done['resultFeedDocumentId']}").json()
    return httpx.get(result["url"]).text


def test_the_seller_cancels_one_line_and_its_units_go_back_to_the_listing(
    simulator: Simulator, http: httpx.Client
) -> None:
    skus = [
        e["sku"]
        for e in control(simulator).get("/_sim/listings").json()["listings"]
        if e["fulfillmentChannelCode"] == "DEFAULT" and not e["isParent"]
    ][:2]
    order = control(simulator).post("/_sim/orders", json={"skus": skus}).json()["orders"][0]
    first, second = order["orderItems"][0], order["orderItems"][1]
    sku = first["product"]["sellerSku"]
    before = simulator.state.listings[sku].quantity

    report = submit_feed(
        simulator, http, ack_feed(order["orderId"], [(first["orderItemId"], "NoInventory")])
    )
    after = http.get(
        f"/orders/2026-01-01/orders/{order['orderId']}",
        params={"includedData": "CANCELLATION,FULFILLMENT"},
    ).json()["order"]

    assert "<MessagesSuccessful>1</MessagesSuccessful>" in report
    assert after["fulfillment"]["fulfillmentStatus"] == "UNSHIPPED"
    assert after["lastUpdatedTime"] > order["lastUpdatedTime"]
    cancelled, kept = after["orderItems"]
    assert cancelled["cancellation"]["cancellationExecution"] == {
        "cancelledBy": "MERCHANT",
        "cancelReason": "NoInventory",
    }
    assert cancelled["fulfillment"]["quantityUnfulfilled"] == 0
    assert "cancellation" not in kept and kept["orderItemId"] == second["orderItemId"]
    assert simulator.state.listings[sku].quantity == before + first["quantityOrdered"]


def test_cancelling_every_line_cancels_the_order_and_a_shipped_one_is_refused(
    simulator: Simulator, http: httpx.Client
) -> None:
    order = (
        control(simulator)
        .post("/_sim/orders", json={"fulfilledBy": "MERCHANT"})
        .json()["orders"][0]
    )
    shipped = shipped_order(simulator)
    codes = [(i["orderItemId"], "BuyerCanceled") for i in order["orderItems"]]

    report = submit_feed(simulator, http, ack_feed(order["orderId"], codes))
    refused = submit_feed(
        simulator,
        http,
        ack_feed(shipped["orderId"], [(shipped["orderItems"][0]["orderItemId"], "NoInventory")]),
    )
    bad_reason = submit_feed(
        simulator, http, ack_feed(order["orderId"], [(codes[0][0], "Because")])
    )

    assert "<MessagesWithError>0</MessagesWithError>" in report
    assert simulator.state.orders.by_id[order["orderId"]].status == "CANCELLED"
    assert simulator.state.orders.by_id[order["orderId"]].cancelled_by == "MERCHANT"
    assert "<MessagesWithError>1</MessagesWithError>" in refused and "SHIPPED" in refused
    assert simulator.state.orders.by_id[shipped["orderId"]].status == "SHIPPED"
    assert "<MessagesWithError>1</MessagesWithError>" in bad_reason


def test_a_buyer_cancellation_request_is_flagged_until_the_seller_acts(
    simulator: Simulator, http: httpx.Client
) -> None:
    order = (
        control(simulator)
        .post("/_sim/orders", json={"fulfilledBy": "MERCHANT"})
        .json()["orders"][0]
    )
    requested = control(simulator).post(
        f"/_sim/orders/{order['orderId']}/cancel-request", json={"reason": "Found it cheaper"}
    )
    assert requested.status_code == 200
    seen = http.get(
        f"/orders/2026-01-01/orders/{order['orderId']}", params={"includedData": "CANCELLATION"}
    ).json()["order"]
    fba = shipped_order(simulator, "AMAZON")
    refused = control(simulator).post(f"/_sim/orders/{fba['orderId']}/cancel-request", json={})

    assert seen["orderItems"][0]["cancellation"] == {
        "cancellationRequest": {"requester": "BUYER", "cancelReason": "Found it cheaper"}
    }
    assert simulator.state.orders.by_id[order["orderId"]].status == "UNSHIPPED"
    assert refused.status_code == 400
