from __future__ import annotations

from typing import Any

import httpx
import pytest
from sp_api.api import Orders

from spapi_simulator import Simulator
from spapi_simulator.testing import authorized_client

SEARCH = "/orders/2026-01-01/orders"


def invalid_input(response: httpx.Response) -> str:
    assert response.status_code == 400
    body = response.json()
    assert list(body) == ["errors"]
    (error,) = body["errors"]
    assert error["code"] == "InvalidInput"
    assert error["details"] == ""
    return str(error["message"])


def control_orders(sim: Simulator) -> list[dict[str, Any]]:
    return httpx.get(f"{sim.base_url}/_sim/orders").json()["orders"]


def test_it_searches_orders_through_sp_api_page_by_page(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    orders = Orders(version="2026-01-01", **sp_kwargs)
    seen: list[str] = []
    token = None
    while True:
        kwargs: dict[str, Any] = (
            {"paginationToken": token}
            if token
            else {
                "createdAfter": "2026-01-01T00:00:00Z",
                "maxResultsPerPage": 25,
            }
        )
        page = orders.search_orders(**kwargs)
        seen += [order["orderId"] for order in page.payload["orders"]]
        token = page.next_token
        if not token:
            break

    expected = [
        o["orderId"]
        for o in control_orders(simulator)
        if o["createdTime"] >= "2026-01-01T00:00:00Z"
    ]
    assert seen == expected
    assert len(seen) == 120
    assert page.payload["createdBefore"] == "2026-03-02T11:58:00Z"
    assert page.headers["x-amzn-RateLimit-Limit"] == "0.0056"


def test_it_gives_the_same_token_for_the_same_page(http: httpx.Client) -> None:
    params: dict[str, str | int] = {
        "lastUpdatedAfter": "2026-02-01T00:00:00Z",
        "maxResultsPerPage": 10,
    }
    first = http.get(SEARCH, params=params).json()
    again = http.get(SEARCH, params=params).json()

    assert first["pagination"]["nextToken"] == again["pagination"]["nextToken"]
    second = http.get(SEARCH, params={"paginationToken": first["pagination"]["nextToken"]}).json()
    assert not {o["orderId"] for o in first["orders"]} & {o["orderId"] for o in second["orders"]}
    times = [o["lastUpdatedTime"] for o in first["orders"] + second["orders"]]
    assert times == sorted(times)


def test_it_requires_exactly_one_of_created_after_and_last_updated_after(
    http: httpx.Client,
) -> None:
    neither = http.get(SEARCH)
    both = http.get(
        SEARCH,
        params={"createdAfter": "2026-02-01T00:00:00Z", "lastUpdatedAfter": "2026-02-01T00:00:00Z"},
    )
    mixed = http.get(
        SEARCH,
        params={
            "createdAfter": "2026-02-01T00:00:00Z",
            "lastUpdatedBefore": "2026-02-02T00:00:00Z",
        },
    )

    assert (
        invalid_input(neither)
        == "Exactly one of createdAfter and lastUpdatedAfter must be provided."
    )
    assert (
        invalid_input(both) == "Exactly one of createdAfter and lastUpdatedAfter must be provided."
    )
    assert invalid_input(mixed) == "lastUpdatedBefore cannot be combined with createdAfter."


@pytest.mark.parametrize(
    ("params", "message"),
    [
        (
            {"createdAfter": "yesterday"},
            "Invalid createdAfter: 'yesterday' is not an ISO 8601 date-time.",
        ),
        (
            {"createdAfter": "2026-02-01T00:00:00Z", "maxResultsPerPage": "101"},
            "Invalid maxResultsPerPage: 101 must be between 1 and 100.",
        ),
        (
            {"createdAfter": "2026-02-01T00:00:00Z", "fulfillmentStatuses": "SHIPPED,LOST"},
            "Invalid fulfillmentStatuses value 'LOST'. Allowed values: "
            "PENDING_AVAILABILITY, PENDING, UNSHIPPED, PARTIALLY_SHIPPED, "
            "SHIPPED, CANCELLED, UNFULFILLABLE.",
        ),
        (
            {"createdAfter": "2026-02-01T00:00:00Z", "fulfilledBy": "SELLER"},
            "Invalid fulfilledBy value 'SELLER'. Allowed values: MERCHANT, AMAZON.",
        ),
        (
            {"createdAfter": "2026-02-01T00:00:00Z", "includedData": "BUYER,SECRETS"},
            "Invalid includedData value 'SECRETS'. Allowed values: BUYER, RECIPIENT, "
            "PROCEEDS, EXPENSE, PROMOTION, CANCELLATION, FULFILLMENT, "
            "PACKAGES, TAX, PAYMENT, FULFILLMENT_ORDERS.",
        ),
        (
            {"createdAfter": "2026-02-01T00:00:00Z", "createdBefore": "2026-03-02T11:59:00Z"},
            "createdBefore must be at least 120 seconds before the time of the request.",
        ),
        (
            {"createdAfter": "2026-02-02T00:00:00Z", "createdBefore": "2026-02-01T00:00:00Z"},
            "The Before date must be equal to or after the After date.",
        ),
        (
            {"paginationToken": "not-a-token"},
            "The paginationToken you have submitted is not valid. All parameters must match "
            "the original request except maxResultsPerPage.",
        ),
    ],
)
def test_it_rejects_bad_search_input(
    http: httpx.Client, params: dict[str, str], message: str
) -> None:
    assert invalid_input(http.get(SEARCH, params=params)) == message


def test_it_tolerates_the_marketplace_parameters_sp_api_adds(http: httpx.Client) -> None:
    response = http.get(
        SEARCH,
        params={
            "createdAfter": "2026-02-01T00:00:00Z",
            "MarketplaceId": "A2EUQ1WTGCTBG2",
            "marketplace_ids": "x",
            "MarketplaceIds": "y",
            "unknown": "1",
        },
    )

    assert response.status_code == 200


def test_it_filters_by_status_and_fulfilment(simulator: Simulator, http: httpx.Client) -> None:
    everything = control_orders(simulator)
    params = {
        "lastUpdatedAfter": "2026-01-01T00:00:00Z",
        "fulfillmentStatuses": "UNSHIPPED,PENDING",
        "fulfilledBy": "MERCHANT",
        "includedData": "FULFILLMENT",
        "marketplaceIds": "A2EUQ1WTGCTBG2",
    }
    found = http.get(SEARCH, params=params).json()["orders"]

    expected = {
        o["orderId"]
        for o in everything
        if o["fulfillment"]["fulfillmentStatus"] in ("UNSHIPPED", "PENDING")
        and o["fulfillment"]["fulfilledBy"] == "MERCHANT"
        and o["lastUpdatedTime"] <= "2026-03-02T11:58:00Z"
    }
    assert {o["orderId"] for o in found} == expected
    assert expected
    assert {o["fulfillment"]["fulfilledBy"] for o in found} == {"MERCHANT"}


def test_it_returns_buyer_and_recipient_only_when_asked(
    simulator: Simulator, http: httpx.Client
) -> None:
    # Amazon gives the e-mail only for merchant orders that are unshipped or shipped.
    (merchant,) = control_orders_created(simulator, fulfillmentStatus="UNSHIPPED")
    plain = http.get(f"{SEARCH}/{merchant}").json()["order"]
    full = http.get(f"{SEARCH}/{merchant}", params={"includedData": "BUYER,RECIPIENT"}).json()[
        "order"
    ]

    assert "buyer" not in plain
    assert "recipient" not in plain
    assert set(full["buyer"]) == {"buyerName", "buyerEmail"}
    assert full["buyer"]["buyerEmail"].endswith("@marketplace.amazon.ca")
    assert full["recipient"]["deliveryAddress"]["countryCode"] == "CA"
    assert {"name", "addressLine1", "postalCode"} <= set(full["recipient"]["deliveryAddress"])
    assert full["orderItems"] == plain["orderItems"]


def control_orders_created(sim: Simulator, **body: Any) -> list[str]:
    created = httpx.post(f"{sim.base_url}/_sim/orders", json={"count": 1, **body}).json()
    return [order["orderId"] for order in created["orders"]]


def set_roles(sim: Simulator, roles: list[str]) -> list[str]:
    answer = httpx.post(f"{sim.base_url}/_sim/roles", json={"roles": roles})
    assert answer.status_code == 200, answer.text
    return list(answer.json()["roles"])


def test_it_grants_every_restricted_role_until_told_otherwise(simulator: Simulator) -> None:
    assert httpx.get(f"{simulator.base_url}/_sim/roles").json() == {
        "roles": ["directToConsumerDelivery", "taxInvoicing", "taxRemittance"]
    }
    assert set_roles(simulator, ["taxRemittance"]) == ["taxRemittance"]
    refused = httpx.post(f"{simulator.base_url}/_sim/roles", json={"roles": ["godMode"]})
    assert refused.status_code == 400
    assert "directToConsumerDelivery" in refused.json()["errors"][0]["message"]
    assert set_roles(simulator, []) == []


def test_it_withholds_personal_data_without_the_restricted_roles(
    simulator: Simulator, http: httpx.Client
) -> None:
    """Amazon's Orders 2026-01-01 answers without the PII fields, no error, no token needed."""
    (merchant,) = control_orders_created(simulator, fulfillmentStatus="UNSHIPPED")
    (fba,) = control_orders_created(simulator, fulfillmentStatus="SHIPPED", fulfilledBy="AMAZON")
    set_roles(simulator, [])

    def personal(order_id: str) -> dict[str, Any]:
        got = http.get(f"{SEARCH}/{order_id}", params={"includedData": "BUYER,RECIPIENT"})
        assert got.status_code == 200
        return dict(got.json()["order"])

    bare = personal(merchant)
    assert "buyer" not in bare
    assert set(bare["recipient"]["deliveryAddress"]) <= {
        "city",
        "stateOrRegion",
        "countryCode",
        "addressType",
    }
    assert bare["recipient"]["deliveryAddress"]["countryCode"] == "CA"

    # A tax role gives the buyer's name on Amazon.ca, never the address or the e-mail.
    set_roles(simulator, ["taxInvoicing"])
    assert set(personal(merchant)["buyer"]) == {"buyerName"}
    assert set(personal(fba)["buyer"]) == {"buyerName"}
    assert "postalCode" not in personal(merchant)["recipient"]["deliveryAddress"]

    # Direct-to-Consumer Delivery: the address, e-mail and name of merchant orders only.
    set_roles(simulator, ["directToConsumerDelivery"])
    assert set(personal(merchant)["buyer"]) == {"buyerName", "buyerEmail"}
    assert "postalCode" in personal(merchant)["recipient"]["deliveryAddress"]
    assert "buyer" not in personal(fba)

    # searchOrders follows the same rules.
    set_roles(simulator, [])
    listed = http.get(
        SEARCH,
        params={"createdAfter": "2026-02-01T00:00:00Z", "includedData": "BUYER,RECIPIENT"},
    ).json()["orders"]
    assert listed
    assert not [order for order in listed if "buyer" in order]
    assert not [order for order in listed if "postalCode" in order["recipient"]["deliveryAddress"]]


def test_it_refuses_a_pagination_token_older_than_24_hours(
    simulator: Simulator, http: httpx.Client
) -> None:
    first = http.get(
        SEARCH, params={"lastUpdatedAfter": "2026-02-01T00:00:00Z", "maxResultsPerPage": 10}
    ).json()
    token = first["pagination"]["nextToken"]
    simulator.clock.advance(24 * 3600 + 1)

    with authorized_client(simulator) as later:  # the access token expired too
        refused = later.get(SEARCH, params={"paginationToken": token})
    assert invalid_input(refused) == (
        "The paginationToken you have submitted is not valid. All parameters must match "
        "the original request except maxResultsPerPage."
    )


def test_it_gets_one_order_and_404s_unknown_ones(
    simulator: Simulator, sp_kwargs: dict[str, Any], http: httpx.Client
) -> None:
    known = control_orders(simulator)[0]
    got = Orders(version="2026-01-01", **sp_kwargs).get_order(
        known["orderId"],
        includedData=[
            "BUYER",
            "RECIPIENT",
            "PROCEEDS",
            "FULFILLMENT",
            "PACKAGES",
            "PROMOTION",
            "TAX",
            "CANCELLATION",
        ],
    )
    missing = http.get(f"{SEARCH}/702-0000000-0000000")

    assert got.payload["order"] == known
    assert missing.status_code == 404
    assert missing.json() == {
        "errors": [
            {
                "code": "NotFound",
                "message": "Order 702-0000000-0000000 was not found.",
                "details": "",
            }
        ]
    }


def test_it_is_deterministic_for_a_seed(sim_factory: Any) -> None:
    one, again, other = sim_factory(seed=7), sim_factory(seed=7), sim_factory(seed=8)

    assert control_orders(one) == control_orders(again)
    assert (
        httpx.get(f"{one.base_url}/_sim/listings").json()
        == httpx.get(f"{again.base_url}/_sim/listings").json()
    )
    assert control_orders(one) != control_orders(other)


def test_it_lets_orders_arrive_and_progress_over_simulated_time(sim_factory: Any) -> None:
    sim = sim_factory(order_interval_seconds=600, history_orders=0, enforce_rate_limits=False)
    assert control_orders(sim) == []

    httpx.post(f"{sim.base_url}/_sim/clock/advance", json={"seconds": 6 * 3600})
    orders = control_orders(sim)
    assert len(orders) >= 20
    assert {
        o["fulfillment"]["fulfillmentStatus"]
        for o in orders
        if o["createdTime"] < "2026-03-02T17:00:00Z"
    } <= {"UNSHIPPED", "SHIPPED", "CANCELLED"}

    httpx.post(f"{sim.base_url}/_sim/clock/advance", json={"seconds": 2 * 86400})
    settled = {o["orderId"]: o["fulfillment"]["fulfillmentStatus"] for o in control_orders(sim)}
    fba = [o for o in orders if o["fulfillment"]["fulfilledBy"] == "AMAZON"]
    assert fba
    assert {settled[o["orderId"]] for o in fba} <= {"SHIPPED", "CANCELLED"}
    assert "SHIPPED" in {settled[o["orderId"]] for o in fba}


def test_it_hides_orders_younger_than_two_minutes(simulator: Simulator, http: httpx.Client) -> None:
    created = httpx.post(f"{simulator.base_url}/_sim/orders", json={"count": 1}).json()["orders"][0]
    params = {"createdAfter": "2026-03-02T11:00:00Z"}
    assert created["orderId"] not in [
        o["orderId"] for o in http.get(SEARCH, params=params).json()["orders"]
    ]

    simulator.clock.advance(120)
    assert created["orderId"] in [
        o["orderId"] for o in http.get(SEARCH, params=params).json()["orders"]
    ]


def test_it_generates_realistic_canadian_orders(simulator: Simulator) -> None:
    orders = control_orders(simulator)
    items = [item for order in orders for item in order["orderItems"]]
    currencies = {item["product"]["price"]["unitPrice"]["currencyCode"] for item in items}

    assert currencies == {"CAD"}
    assert {o["salesChannel"]["marketplaceId"] for o in orders} == {"A2EUQ1WTGCTBG2"}
    assert {o["fulfillment"]["fulfilledBy"] for o in orders} == {"AMAZON", "MERCHANT"}
    assert {"SHIPPED", "UNSHIPPED", "CANCELLED"} <= {
        o["fulfillment"]["fulfillmentStatus"] for o in orders
    }
    assert any(len(o["orderItems"]) > 1 for o in orders)
    assert any(b["type"] == "SHIPPING" for o in orders for b in o["proceeds"]["breakdowns"])
    assert any(b["type"] == "DISCOUNT" for o in orders for b in o["proceeds"]["breakdowns"])
    assert any("promotion" in item for item in items)
    assert any(
        item.get("tax", {}).get("taxCollections")
        == [{"model": "MARKETPLACE_FACILITATOR", "responsibleParty": "Amazon.com.ca ULC"}]
        for item in items
    )
    tax = [b for item in items for b in item["proceeds"]["breakdowns"] if b["type"] == "TAX"]
    assert {d["subtype"] for b in tax for d in b["detailedBreakdowns"]} == {"ITEM", "SHIPPING"}
    for order in orders:
        total = sum(
            round(float(b["subtotal"]["amount"]) * 100) for b in order["proceeds"]["breakdowns"]
        )
        assert round(float(order["proceeds"]["grandTotal"]["amount"]) * 100) == total


def test_it_generates_a_catalogue_with_fba_families_and_french_titles(simulator: Simulator) -> None:
    listings = httpx.get(f"{simulator.base_url}/_sim/listings").json()["listings"]

    assert len(listings) >= 200
    assert {entry["fulfillmentChannelCode"] for entry in listings} == {"DEFAULT", "AMAZON_NA"}
    themes = {entry["variationTheme"] for entry in listings if entry["isParent"]}
    assert any(theme.count("/") >= 3 for theme in themes)
    assert any(theme.count("/") <= 2 for theme in themes)
    assert any(entry["title"].startswith("Tasse à café émaillée") for entry in listings)
    assert any("’" in entry["title"] for entry in listings)
