"""Probabilistic faults ("storms"): a share of the calls fail for a stretch of simulated time."""

from __future__ import annotations

import httpx

from spapi_simulator import Simulator

SEARCH = (
    "/orders/2026-01-01/orders?lastUpdatedAfter=2026-02-01T00:00:00Z&marketplaceIds=A2EUQ1WTGCTBG2"
)


def test_it_fails_about_the_given_share_of_calls_until_the_storm_is_over(
    simulator: Simulator, http: httpx.Client
) -> None:
    answer = http.post(
        "/_sim/faults",
        json={
            "operation": "searchOrders",
            "kind": "server_error",
            "probability": 0.33,
            "duration": 600,
        },
    )
    assert answer.status_code == 201
    assert answer.json()["fault"]["probability"] == 0.33

    statuses = [http.get(SEARCH).status_code for _ in range(300)]
    failed = statuses.count(503)
    assert set(statuses) == {200, 503}
    assert 70 <= failed <= 130  # a third of 300, give or take the seeded draw

    simulator.clock.advance(601)
    assert {http.get(SEARCH).status_code for _ in range(30)} == {200}
    assert http.get("/_sim/faults").json()["faults"] == []


def test_it_refuses_a_bad_probability_or_a_duration_without_one(http: httpx.Client) -> None:
    for body in (
        {"kind": "throttle", "probability": 0},
        {"kind": "throttle", "probability": 1.5},
        {"kind": "throttle", "probability": True},
        {"kind": "throttle", "duration": 60},
        {"kind": "throttle", "probability": 0.5, "duration": -1},
    ):
        answer = http.post("/_sim/faults", json=body)
        assert answer.status_code == 400, body
        assert answer.json()["errors"][0]["code"] == "InvalidInput"
