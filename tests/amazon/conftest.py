"""An in-process simulator and a channel connected to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from marketplaces.amazon.client import AmazonClient, Connection, forget_access_tokens
from spapi_simulator import Simulator, start_simulator
from spapi_simulator.testing import clear_sp_api_token_cache

SIM_START = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)
SELLER_ID = "A3SIMULATORCA"


@pytest.fixture
def sim_factory(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)
    clear_sp_api_token_cache()
    forget_access_tokens()
    started: list[Simulator] = []

    def start(**options: Any) -> Simulator:
        options.setdefault("seed", 1)
        options.setdefault("time_scale", 0)
        options.setdefault("start_time", SIM_START)
        sim = start_simulator(**options)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()
    forget_access_tokens()


@pytest.fixture
def sim(sim_factory: Any) -> Simulator:
    return sim_factory()


def connection_to(sim: Simulator, refresh_token: str = "Atzr|simulator") -> Connection:
    return Connection(
        seller_id=SELLER_ID,
        marketplace_id="A2EUQ1WTGCTBG2",
        refresh_token=refresh_token,
        spapi_endpoint=sim.base_url,
        lwa_endpoint=sim.base_url,
        client_id="amzn1.application-oa2-client.simulator",
        client_secret="simulator-secret",
    )


@pytest.fixture
def amazon(sim: Simulator, db: None) -> AmazonClient:
    return AmazonClient(connection_to(sim), max_wait=0)


@pytest.fixture
def live_sim(sim_factory: Any) -> Simulator:
    """A simulator whose manual clock starts at the real now, as the product's clock does."""
    from django.utils import timezone

    # A manual clock never refills Amazon's buckets: usage plans are tested separately.
    return sim_factory(start_time=timezone.now().replace(microsecond=0), enforce_rate_limits=False)


def sim_get(sim: Simulator, path: str) -> Any:
    import httpx

    answer = httpx.get(f"{sim.base_url}{path}", timeout=10)
    answer.raise_for_status()
    return answer.json()


def sim_post(sim: Simulator, path: str, body: dict[str, Any] | None = None) -> Any:
    import httpx

    answer = httpx.post(f"{sim.base_url}{path}", json=body or {}, timeout=10)
    answer.raise_for_status()
    return answer.json() if answer.content else {}


@pytest.fixture
def warehouse(db: None) -> Any:
    from warehouses.models import Organization, Warehouse

    main = Warehouse.objects.create(name="Main warehouse")
    organization = Organization.load()
    organization.primary_warehouse = main
    organization.save()
    return main


@pytest.fixture
def stocked_items(live_sim: Simulator, warehouse: Any) -> dict[str, Any]:
    """Every merchant-fulfilled listing of the simulator as a confirmed item with 50 on hand."""
    from warehouses import stock
    from warehouses.models import Item

    items = {}
    for listing in sim_get(live_sim, "/_sim/listings")["listings"]:
        item = Item.objects.create(sku=listing["sku"], name=listing.get("title") or listing["sku"])
        if listing["fulfillmentChannelCode"] == "DEFAULT":
            stock.set_opening_stock(item, warehouse, 50)
        items[listing["sku"]] = item
    return items


@pytest.fixture
def channel(live_sim: Simulator, warehouse: Any) -> Any:
    from marketplaces.models import SalesChannel

    return SalesChannel.objects.create(
        name="Amazon.ca",
        seller_id=SELLER_ID,
        refresh_token="Atzr|simulator",
        spapi_endpoint=live_sim.base_url,
        lwa_endpoint=live_sim.base_url,
    )


@pytest.fixture
def feed_schema() -> Any:
    """Amazon's JSON_LISTINGS_FEED schema, from ../shared/spapi-models (read, never copied)."""
    import json
    from pathlib import Path

    import jsonschema

    models = Path(__file__).resolve().parents[2].parent / "shared" / "spapi-models"
    path = models / "listings-feed-schema-v2.json"
    if not path.exists():
        pytest.skip(f"Amazon's models are not at {models} (../shared/spapi-models)")
    schema = json.loads(path.read_text())
    return jsonschema.Draft7Validator(schema, format_checker=jsonschema.FormatChecker())


def place_merchant_order(sim: Simulator, skus: list[str]) -> dict[str, Any]:
    """A buyer orders ``skus`` on Amazon (merchant-fulfilled, unshipped); the simulator's clock
    then moves past searchOrders' two-minute lag, so the next sync sees it."""
    created = sim_post(
        sim,
        "/_sim/orders",
        {"count": 1, "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "skus": skus},
    )["orders"][0]
    sim_post(sim, "/_sim/clock/advance", {"seconds": 300})
    return created
