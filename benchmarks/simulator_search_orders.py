"""How fast the Amazon simulator serves a searchOrders page of 100 out of 100,000 orders.

Run: .venv/bin/python benchmarks/simulator_search_orders.py [--orders 100000] [--requests 200]
Figures go into docs/PERFORMANCE.md ("Simulator").
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from spapi_simulator import start_simulator  # noqa: E402
from spapi_simulator.testing import authorized_client  # noqa: E402


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--orders", type=int, default=100_000)
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()

    started = time.perf_counter()
    sim = start_simulator(seed=args.seed, time_scale=0, enforce_rate_limits=False, history_orders=0)
    sim.state.bulk_load_orders(args.orders)
    load_seconds = time.perf_counter() - started
    try:
        with authorized_client(sim, timeout=30) as client:
            # Windows spread over the two years of data: each request is a fresh query (bisect
            # into the index), every 4th one follows a pagination token deeper into its window.
            durations: list[float] = []
            sizes: list[int] = []
            next_token = None
            for n in range(args.requests):
                if next_token and n % 4:
                    params = {"paginationToken": next_token}
                else:
                    days = 700 - (n * 7) % 690
                    params = {
                        "lastUpdatedAfter": f"{_days_ago(sim, days)}",
                        "maxResultsPerPage": "100",
                        "includedData": "BUYER,RECIPIENT,PROCEEDS,FULFILLMENT,PROMOTION,TAX",
                    }
                t0 = time.perf_counter()
                response = client.get("/orders/2026-01-01/orders", params=params)
                durations.append((time.perf_counter() - t0) * 1000)
                response.raise_for_status()
                body = response.json()
                assert len(body["orders"]) == 100, len(body["orders"])
                sizes.append(len(response.content))
                next_token = body.get("pagination", {}).get("nextToken")
    finally:
        sim.stop()

    durations.sort()
    p95 = durations[max(0, int(len(durations) * 0.95) - 1)]
    print(f"orders held: {len(sim.state.orders):,} (generated and indexed in {load_seconds:.1f} s)")
    print(f"searchOrders pages of 100 over HTTP: {args.requests} requests")
    median = statistics.median(durations)
    print(f"median {median:.1f} ms, p95 {p95:.1f} ms, max {durations[-1]:.1f} ms")
    print(f"median page size {statistics.median(sizes) / 1024:.0f} KiB; CPUs: {os.cpu_count()}")


def _days_ago(sim: object, days: int) -> str:
    from datetime import timedelta

    from spapi_simulator.clock import isoformat

    now = sim.clock.now()  # type: ignore[attr-defined]
    return isoformat(now - timedelta(days=days))


if __name__ == "__main__":
    main()
