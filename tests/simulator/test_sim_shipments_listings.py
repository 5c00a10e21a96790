from __future__ import annotations

from typing import Any

import httpx
import pytest
from sp_api.api import Inventories, ListingsItems, Orders

from spapi_simulator import Simulator


def new_order(sim: Simulator, **body: Any) -> dict[str, Any]:
    response = httpx.post(f"{sim.base_url}/_sim/orders", json={"count": 1, **body})
    assert response.status_code == 201
    return response.json()["orders"][0]


def package(
    order: dict[str, Any], quantities: dict[str, int] | None = None, **overrides: Any
) -> dict[str, Any]:
    items = [
        {
            "orderItemId": item["orderItemId"],
            "quantity": (quantities or {}).get(item["orderItemId"], item["quantityOrdered"]),
        }
        for item in order["orderItems"]
        if quantities is None or item["orderItemId"] in quantities
    ]
    detail = {
        "packageReferenceId": "PKG-1",
        "carrierCode": "Canada Post",
        "shippingMethod": "Expedited Parcel",
        "trackingNumber": "7023123456789012",
        "shipDate": "2026-03-02T12:00:00Z",
        "orderItems": items,
    }
    detail.update(overrides)
    return detail


def confirm(
    http: httpx.Client, order_id: str, detail: dict[str, Any], marketplace: str = "A2EUQ1WTGCTBG2"
) -> httpx.Response:
    return http.post(
        f"/orders/v0/orders/{order_id}/shipmentConfirmation",
        json={"marketplaceId": marketplace, "packageDetail": detail},
    )


def test_it_confirms_a_shipment_through_sp_api(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    order = new_order(simulator, skus=["MUG-0001", "SOCK-0002"])
    simulator.clock.advance(60)

    response = Orders(version="v0", **sp_kwargs).confirm_shipment(
        order["orderId"], marketplaceId="A2EUQ1WTGCTBG2", packageDetail=package(order)
    )

    assert response.payload == {"status_code": 204}
    after = httpx.get(f"{simulator.base_url}/_sim/orders").json()["orders"]
    shipped = next(o for o in after if o["orderId"] == order["orderId"])
    assert shipped["fulfillment"]["fulfillmentStatus"] == "SHIPPED"
    assert shipped["lastUpdatedTime"] == "2026-03-02T12:01:00Z"
    assert shipped["packages"][0]["trackingNumber"] == "7023123456789012"
    assert shipped["packages"][0]["carrier"] == "Canada Post"
    shipments = httpx.get(f"{simulator.base_url}/_sim/shipments").json()["shipments"]
    assert shipments == [
        {
            "orderId": order["orderId"],
            "packageDetail": package(order),
            "receivedTime": "2026-03-02T12:01:00Z",
        }
    ]


def test_it_ships_partially_then_fully(simulator: Simulator, http: httpx.Client) -> None:
    order = new_order(simulator, skus=["MUG-0001", "SOCK-0002"])
    first, second = (item["orderItemId"] for item in order["orderItems"])

    assert (
        confirm(
            http,
            order["orderId"],
            package(order, {first: order["orderItems"][0]["quantityOrdered"]}),
        ).status_code
        == 204
    )
    middle = http.get(
        f"/orders/2026-01-01/orders/{order['orderId']}", params={"includedData": "FULFILLMENT"}
    ).json()["order"]
    assert middle["fulfillment"]["fulfillmentStatus"] == "PARTIALLY_SHIPPED"
    assert [i["fulfillment"]["quantityUnfulfilled"] for i in middle["orderItems"]] == [
        0,
        order["orderItems"][1]["quantityOrdered"],
    ]

    assert (
        confirm(
            http,
            order["orderId"],
            package(order, {second: order["orderItems"][1]["quantityOrdered"]}),
        ).status_code
        == 204
    )
    done = http.get(
        f"/orders/2026-01-01/orders/{order['orderId']}", params={"includedData": "FULFILLMENT"}
    ).json()["order"]
    assert done["fulfillment"]["fulfillmentStatus"] == "SHIPPED"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"carrierCode": None}, "packageDetail.carrierCode is required (mandatory on Amazon.ca)."),
        (
            {"carrierCode": "Other"},
            "packageDetail.carrierName is required when carrierCode is 'Other'.",
        ),
        ({"shipDate": "soon"}, "packageDetail.shipDate must be an ISO 8601 date-time."),
        (
            {"orderItems": [{"orderItemId": "99999999999999", "quantity": 1}]},
            "orderItemId 99999999999999 is not part of order {order_id}.",
        ),
        ({"orderItems": "ITEM"}, "packageDetail.orderItems must be a list."),
    ],
)
def test_it_rejects_invalid_shipment_confirmations(
    simulator: Simulator, http: httpx.Client, change: dict[str, Any], message: str
) -> None:
    order = new_order(simulator)
    detail = package(order, **change)

    response = confirm(http, order["orderId"], detail)

    assert response.status_code == 400
    assert response.json() == {
        "errors": [
            {
                "code": "InvalidInput",
                "message": message.format(order_id=order["orderId"]),
                "details": "",
            }
        ]
    }
    assert httpx.get(f"{simulator.base_url}/_sim/shipments").json() == {"shipments": []}


def test_it_rejects_more_than_the_unshipped_quantity_and_wrong_states(
    simulator: Simulator, http: httpx.Client
) -> None:
    order = new_order(simulator, skus=["MUG-0001"])
    item = order["orderItems"][0]
    too_many = package(order, {item["orderItemId"]: item["quantityOrdered"] + 1})
    cancelled = new_order(simulator, fulfillmentStatus="CANCELLED")
    fba = new_order(simulator, fulfilledBy="AMAZON")

    assert confirm(http, order["orderId"], too_many).json()["errors"][0]["message"] == (
        f"quantity {item['quantityOrdered'] + 1} for orderItemId {item['orderItemId']} "
        f"exceeds the unshipped quantity {item['quantityOrdered']}."
    )
    assert (
        confirm(http, order["orderId"], package(order), marketplace="ATVPDKIKX0DER").status_code
        == 400
    )
    assert confirm(http, cancelled["orderId"], package(cancelled)).json()["errors"][0][
        "message"
    ] == (
        f"Order {cancelled['orderId']} has status CANCELLED; "
        "only UNSHIPPED or PARTIALLY_SHIPPED orders can be confirmed."
    )
    assert confirm(http, fba["orderId"], package(fba)).status_code == 400
    assert confirm(http, "702-0000000-0000000", package(order)).status_code == 404


def test_it_changes_order_status_through_the_control_api(simulator: Simulator) -> None:
    order = new_order(simulator, skus=["MUG-0001"])
    before = next(
        e
        for e in httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
        if e["sku"] == "MUG-0001"
    )
    simulator.clock.advance(30)

    cancelled = httpx.post(
        f"{simulator.base_url}/_sim/orders/{order['orderId']}/status",
        json={"fulfillmentStatus": "CANCELLED"},
    ).json()

    after = next(
        e
        for e in httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
        if e["sku"] == "MUG-0001"
    )
    assert cancelled["fulfillment"]["fulfillmentStatus"] == "CANCELLED"
    assert cancelled["lastUpdatedTime"] == "2026-03-02T12:00:30Z"
    assert after["quantity"] == before["quantity"] + order["orderItems"][0]["quantityOrdered"]


def listing_quantity(sim: Simulator, sku: str) -> int:
    listings = httpx.get(f"{sim.base_url}/_sim/listings").json()["listings"]
    return int(next(entry["quantity"] for entry in listings if entry["sku"] == sku))


def availability(quantity: int, channel: str = "DEFAULT") -> dict[str, Any]:
    return {
        "productType": "DRINKING_CUP",
        "patches": [
            {
                "op": "replace",
                "path": "/attributes/fulfillment_availability",
                "value": [{"fulfillment_channel_code": channel, "quantity": quantity}],
            }
        ],
    }


def fba_sku(sim: Simulator) -> str:
    listings = httpx.get(f"{sim.base_url}/_sim/listings").json()["listings"]
    return str(
        next(
            e["sku"]
            for e in listings
            if e["fulfillmentChannelCode"] == "AMAZON_NA" and not e["isParent"]
        )
    )


def test_it_patches_and_reads_a_listing_through_sp_api(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    listings = ListingsItems(version="2021-08-01", **sp_kwargs)

    patched = listings.patch_listings_item("A3SIMULATORCA", "MUG-0001", body=availability(42))
    item = listings.get_listings_item(
        "A3SIMULATORCA", "MUG-0001", includedData=["summaries", "fulfillmentAvailability"]
    )

    assert patched.payload["status"] == "ACCEPTED"
    assert patched.payload["issues"] == []
    assert item.payload["fulfillmentAvailability"] == [
        {"fulfillmentChannelCode": "DEFAULT", "quantity": 42}
    ]
    assert item.payload["summaries"][0]["itemName"].startswith("Tasse à café émaillée")
    assert listing_quantity(simulator, "MUG-0001") == 42


def test_it_rejects_bad_listing_patches_per_issue(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    listings = ListingsItems(version="2021-08-01", **sp_kwargs)
    before = listing_quantity(simulator, "MUG-0001")
    fba = fba_sku(simulator)

    negative = listings.patch_listings_item(
        "A3SIMULATORCA", "MUG-0001", body=availability(-1)
    ).payload
    unknown = listings.patch_listings_item("A3SIMULATORCA", "NOPE-1", body=availability(1)).payload
    amazon = listings.patch_listings_item("A3SIMULATORCA", fba, body=availability(5)).payload
    preview = listings.patch_listings_item(
        "A3SIMULATORCA", "MUG-0001", body=availability(9), mode="VALIDATION_PREVIEW"
    ).payload

    assert (negative["status"], negative["issues"][0]["code"]) == ("INVALID", "99010")
    assert (unknown["status"], unknown["issues"][0]["code"]) == ("INVALID", "4000001")
    assert (amazon["status"], amazon["issues"][0]["code"]) == ("INVALID", "90111")
    assert preview["status"] == "VALID"
    assert listing_quantity(simulator, "MUG-0001") == before


def test_it_404s_unknown_listings_and_checks_the_seller(http: httpx.Client) -> None:
    missing = http.get(
        "/listings/2021-08-01/items/A3SIMULATORCA/NOPE-1",
        params={"marketplaceIds": "A2EUQ1WTGCTBG2"},
    )
    other_seller = http.get(
        "/listings/2021-08-01/items/AOTHERSELLER/MUG-0001",
        params={"marketplaceIds": "A2EUQ1WTGCTBG2"},
    )
    no_marketplace = http.get("/listings/2021-08-01/items/A3SIMULATORCA/MUG-0001")

    assert missing.status_code == 404
    assert other_seller.status_code == 403
    assert no_marketplace.json()["errors"][0]["message"] == "marketplaceIds is required."


def test_it_searches_listings_page_by_page(simulator: Simulator, sp_kwargs: dict[str, Any]) -> None:
    listings = ListingsItems(version="2021-08-01", **sp_kwargs)
    skus: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = {
            "pageSize": 20,
            "sortBy": "sku",
            "sortOrder": "ASC",
            "includedData": ["summaries", "relationships"],
        }
        if token:
            kwargs["pageToken"] = token
        page = listings.search_listings_items("A3SIMULATORCA", **kwargs)
        skus += [item["sku"] for item in page.payload["items"]]
        token = page.next_token
        if not token:
            break

    everything = httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
    assert skus == sorted(entry["sku"] for entry in everything)
    assert page.payload["numberOfResults"] == len(everything)
    by_sku = listings.search_listings_items(
        "A3SIMULATORCA",
        identifiersType="SKU",
        identifiers=["MUG-0001", "SOCK-0002"],
        includedData=["summaries"],
    )
    assert sorted(item["sku"] for item in by_sku.payload["items"]) == ["MUG-0001", "SOCK-0002"]


def all_skus(http: httpx.Client, **params: str) -> list[str]:
    """Every SKU searchListingsItems returns, page after page, with these parameters."""
    skus: list[str] = []
    token = None
    while True:
        query = {"marketplaceIds": "A2EUQ1WTGCTBG2", "pageSize": "20", **params}
        if token:
            query["pageToken"] = token
        page = http.get("/listings/2021-08-01/items/A3SIMULATORCA", params=query).json()
        skus += [item["sku"] for item in page["items"]]
        token = page.get("pagination", {}).get("nextToken")
        if not token:
            return skus


def test_listings_come_newest_first_unless_a_sort_is_asked_for(
    simulator: Simulator, http: httpx.Client
) -> None:
    everything = httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
    newest_first = sorted(everything, key=lambda e: (e["lastUpdatedTime"], e["sku"]), reverse=True)

    assert all_skus(http) == [e["sku"] for e in newest_first]
    assert all_skus(http, sortBy="lastUpdatedDate", sortOrder="DESC") == all_skus(http)
    assert all_skus(http, sortBy="sku", sortOrder="ASC") == sorted(e["sku"] for e in everything)
    assert all_skus(http, sortBy="sku") == sorted((e["sku"] for e in everything), reverse=True)


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"sortBy": "SKU"},
            "Invalid sortBy value 'SKU'. Allowed values: sku, createdDate, lastUpdatedDate.",
        ),
        ({"sortOrder": "asc"}, "Invalid sortOrder value 'asc'. Allowed values: ASC, DESC."),
    ],
)
def test_it_refuses_a_sort_amazon_does_not_know(
    http: httpx.Client, params: dict[str, str], message: str
) -> None:
    answer = http.get(
        "/listings/2021-08-01/items/A3SIMULATORCA",
        params={"marketplaceIds": "A2EUQ1WTGCTBG2", **params},
    )

    assert answer.status_code == 400
    assert answer.json()["errors"][0] == {"code": "InvalidInput", "message": message, "details": ""}


def test_a_listing_edit_fault_edits_the_least_recently_updated_listing_before_answering(
    simulator: Simulator, http: httpx.Client
) -> None:
    before = {
        e["sku"]: e for e in httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
    }
    oldest = min(
        (
            e
            for e in before.values()
            if e["fulfillmentChannelCode"] == "DEFAULT" and not e["isParent"]
        ),
        key=lambda e: (e["lastUpdatedTime"], e["sku"]),
    )
    httpx.post(
        f"{simulator.base_url}/_sim/faults",
        json={"operation": "searchListingsItems", "kind": "listing_edit", "count": 1},
    ).raise_for_status()

    first = all_skus(http)[0]

    after = {
        e["sku"]: e for e in httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
    }
    assert first == oldest["sku"]  # the edit came before the answer, which lists it first
    assert after[first]["quantity"] == oldest["quantity"] + 1
    assert [sku for sku in after if after[sku] != before[sku]] == [first]


def test_it_reports_fba_inventory_through_sp_api(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    summaries: list[dict[str, Any]] = []
    token = None
    inventories = Inventories(**sp_kwargs)
    while True:
        page = inventories.get_inventory_summary_marketplace(
            details=True, **({"nextToken": token} if token else {})
        )
        summaries += page.payload["inventorySummaries"]
        token = page.next_token
        if not token:
            break

    fba = [
        e
        for e in httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]
        if e["fulfillmentChannelCode"] == "AMAZON_NA"
    ]
    assert sorted(s["sellerSku"] for s in summaries) == sorted(e["sku"] for e in fba)
    first = next(s for s in summaries if s["sellerSku"] == fba[0]["sku"])
    assert first["inventoryDetails"]["fulfillableQuantity"] == fba[0]["quantity"]
