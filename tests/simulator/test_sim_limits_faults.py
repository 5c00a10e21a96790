from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import httpx
import pytest
from sp_api.api import Inventories, Orders
from sp_api.base.exceptions import SellingApiRequestThrottledException

from spapi_simulator import Simulator
from spapi_simulator.testing import authorized_client, sp_api_kwargs

QUOTA = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
}
SEARCH = "/orders/2026-01-01/orders"
INVENTORY = (
    "/fba/inventory/v1/summaries?granularityType=Marketplace"
    "&granularityId=A2EUQ1WTGCTBG2&marketplaceIds=A2EUQ1WTGCTBG2"
)


def fault(sim: Simulator, **body: Any) -> None:
    assert httpx.post(f"{sim.base_url}/_sim/faults", json=body).status_code == 201


def test_it_enforces_the_search_orders_usage_plan(sim_factory: Any) -> None:
    sim = sim_factory()
    with authorized_client(sim) as http:
        statuses = [
            http.get(SEARCH, params={"createdAfter": "2026-03-01T00:00:00Z"}).status_code
            for _ in range(21)
        ]
        throttled = http.get(SEARCH, params={"createdAfter": "2026-03-01T00:00:00Z"})
        sim.clock.advance(178)
        still = http.get(SEARCH, params={"createdAfter": "2026-03-01T00:00:00Z"})
        sim.clock.advance(2)
        refilled = http.get(SEARCH, params={"createdAfter": "2026-03-01T00:00:00Z"})

    assert statuses == [200] * 20 + [429]
    assert throttled.status_code == 429
    assert throttled.json() == QUOTA
    assert throttled.headers["x-amzn-RateLimit-Limit"] == "0.0056"
    assert still.status_code == 429
    assert refilled.status_code == 200
    counters = httpx.get(f"{sim.base_url}/_sim/counters").json()["operations"]["searchOrders"]
    assert (counters["calls"], counters["throttled"], counters["errors"]) == (24, 3, 0)


def test_it_refills_buckets_faster_with_a_time_scale(sim_factory: Any) -> None:
    sim = sim_factory(time_scale=50)
    with authorized_client(sim) as http:
        burst = [http.get(INVENTORY).status_code for _ in range(3)]
        time.sleep(0.05)  # 2.5 simulated seconds refill 5 tokens (capped at the burst of 2)
        after = [http.get(INVENTORY).status_code for _ in range(2)]

    assert burst[:2] == [200, 200]
    assert after == [200, 200]


def test_it_throttles_on_request_and_sp_api_raises(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    fault(simulator, operation="searchOrders", kind="throttle", count=2)
    orders = Orders(version="2026-01-01", **sp_kwargs)

    for _ in range(2):
        with pytest.raises(SellingApiRequestThrottledException):
            orders.search_orders(createdAfter="2026-03-01T00:00:00Z")
    assert "orders" in orders.search_orders(createdAfter="2026-03-01T00:00:00Z").payload


def test_it_sends_html_on_server_errors_and_sp_api_returns_an_empty_response(
    simulator: Simulator, http: httpx.Client, sp_kwargs: dict[str, Any]
) -> None:
    fault(simulator, operation="*", kind="server_error", count=1, status=500)
    raw = http.get(INVENTORY)
    fault(simulator, operation="getInventorySummaries", kind="server_error", count=1)

    empty = Inventories(**sp_kwargs).get_inventory_summary_marketplace()

    assert raw.status_code == 500
    assert raw.headers["content-type"].startswith("text/html")
    assert "<h1>500 Internal Server Error</h1>" in raw.text
    assert empty.payload == {}
    assert http.get(INVENTORY).status_code == 200


def test_it_holds_the_connection_past_the_client_timeout(simulator: Simulator) -> None:
    fault(simulator, operation="getInventorySummaries", kind="timeout", seconds=0.6)
    inventories = Inventories(**sp_api_kwargs(simulator.base_url, timeout=0.2))

    with pytest.raises(httpx.ReadTimeout):
        inventories.get_inventory_summary_marketplace()
    assert inventories.get_inventory_summary_marketplace().payload["inventorySummaries"]


def test_it_truncates_bodies_and_sends_empty_ones_on_request(
    simulator: Simulator, http: httpx.Client
) -> None:
    fault(simulator, operation="getInventorySummaries", kind="malformed")
    malformed = http.get(INVENTORY)
    fault(simulator, operation="getInventorySummaries", kind="empty_body", status=503)
    empty = http.get(INVENTORY)

    assert malformed.status_code == 200
    with pytest.raises(json.JSONDecodeError):
        json.loads(malformed.content)
    assert (empty.status_code, empty.content) == (503, b"")


def test_it_rejects_unknown_fault_kinds_and_operations(simulator: Simulator) -> None:
    bad_kind = httpx.post(f"{simulator.base_url}/_sim/faults", json={"kind": "meteor"})
    bad_operation = httpx.post(
        f"{simulator.base_url}/_sim/faults", json={"kind": "throttle", "operation": "getOrders"}
    )

    assert bad_kind.status_code == 400
    assert bad_operation.status_code == 400


def test_it_counts_calls_errors_and_bytes(simulator: Simulator, http: httpx.Client) -> None:
    ok = http.get(INVENTORY)
    http.get("/orders/2026-01-01/orders/702-0000000-0000000")

    counters = httpx.get(f"{simulator.base_url}/_sim/counters").json()

    assert counters["clock"] == "2026-03-02T12:00:00Z"
    assert counters["operations"]["getInventorySummaries"] == {
        "calls": 1,
        "throttled": 0,
        "errors": 0,
        "bytes": len(ok.content),
    }
    assert counters["operations"]["getOrder"]["errors"] == 1
    assert counters["operations"]["lwaToken"]["calls"] == 1


def test_it_resets_to_a_new_seed_and_keeps_tokens(simulator: Simulator, http: httpx.Client) -> None:
    first = httpx.get(f"{simulator.base_url}/_sim/orders").json()["orders"]

    reset = httpx.post(f"{simulator.base_url}/_sim/reset", json={"seed": 2})

    assert reset.json() == {"seed": 2, "clock": "2026-03-02T12:00:00Z"}
    assert httpx.get(f"{simulator.base_url}/_sim/orders").json()["orders"] != first
    assert httpx.get(f"{simulator.base_url}/_sim/counters").json()["operations"] == {}
    assert http.get(INVENTORY).status_code == 200


def test_it_runs_as_a_module_without_django(tmp_path: Path) -> None:
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen(
        [sys.executable, "-m", "spapi_simulator", "--port", "0", "--quiet"],
        cwd=root,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
        env={"PYTHONPATH": str(root), "PATH": "/usr/bin:/bin"},
    )
    try:
        assert process.stdout is not None
        first = process.stdout.readline()
        # Without ../shared/spapi-models the simulator first says it uses its built-in check.
        while first.startswith("listings feed schema unavailable"):
            first = process.stdout.readline()
        assert first.startswith("Amazon SP-API simulator listening on http://127.0.0.1:")
        url = first.split(" on ")[1].strip()
        banner = [process.stdout.readline() for _ in range(12)]
        assert httpx.get(f"{url}/_sim").json()["credentials"]["sellingPartnerId"] == "A3SIMULATORCA"
    finally:
        process.send_signal(2)
        output, _ = process.communicate(timeout=10)
    assert "  LWA client secret    simulator-secret\n" in banner
    assert banner[-1] == "Press Ctrl-C to stop.\n"
    assert output.strip().endswith("Amazon SP-API simulator stopped.")
