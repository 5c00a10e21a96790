"""Simulator options for load tests: the catalogue's size and the seller it serves."""

from __future__ import annotations

from typing import Any

import httpx

from spapi_simulator import DEFAULT_SELLER_ID


def token(base_url: str) -> str:
    answer = httpx.post(
        f"{base_url}/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|simulator",
            "client_id": "amzn1.application-oa2-client.simulator",
            "client_secret": "simulator-secret",
        },
    )
    assert answer.status_code == 200, answer.text
    return str(answer.json()["access_token"])


def test_the_catalogue_has_the_size_asked_for(sim_factory: Any) -> None:
    sim = sim_factory(standalone_listings=2_000, variation_families=0, history_orders=0)
    rows = httpx.get(f"{sim.base_url}/_sim/listings", timeout=30).json()["listings"]
    assert len(rows) == 2_000
    assert len({row["sku"] for row in rows}) == 2_000
    assert len({row["asin"] for row in rows}) == 2_000
    assert not any(row["isParent"] for row in rows)
    # The usual mix: about a quarter fulfilled by Amazon.
    fba = sum(row["fulfillmentChannelCode"] == "AMAZON_NA" for row in rows)
    assert 300 < fba < 700


def test_the_default_catalogue_keeps_its_families(sim_factory: Any) -> None:
    rows = httpx.get(f"{sim_factory().base_url}/_sim/listings", timeout=30).json()["listings"]
    assert sum(row["isParent"] for row in rows) == 18
    assert len(rows) > 200


def test_orders_after_a_reset_use_the_configured_catalogue(sim_factory: Any) -> None:
    sim = sim_factory(standalone_listings=30, variation_families=2, history_orders=5)
    httpx.post(f"{sim.base_url}/_sim/reset", json={"seed": 2}, timeout=30).raise_for_status()
    listings = httpx.get(f"{sim.base_url}/_sim/listings", timeout=30).json()["listings"]
    skus = {row["sku"] for row in listings}
    assert sum(not row["isParent"] for row in listings) < 30 + 2 * 7 + 1
    orders = httpx.get(f"{sim.base_url}/_sim/orders", timeout=30).json()["orders"]
    assert len(orders) == 5
    assert all(item["product"]["sellerSku"] in skus for o in orders for item in o["orderItems"])


def test_a_simulator_serves_the_seller_it_is_given(sim_factory: Any) -> None:
    sim = sim_factory(seller_id="A1LOADTESTSELLER", enforce_rate_limits=False)
    headers = {"x-amz-access-token": token(sim.base_url)}
    sku = next(
        row["sku"]
        for row in httpx.get(f"{sim.base_url}/_sim/listings", timeout=30).json()["listings"]
        if not row["isParent"]
    )
    path = "/listings/2021-08-01/items/{}/" + sku
    params = {"marketplaceIds": "A2EUQ1WTGCTBG2"}
    own = httpx.get(sim.base_url + path.format("A1LOADTESTSELLER"), params=params, headers=headers)
    assert own.status_code == 200, own.text
    assert own.json()["sku"] == sku
    other = httpx.get(sim.base_url + path.format(DEFAULT_SELLER_ID), params=params, headers=headers)
    assert other.status_code == 403, other.text
