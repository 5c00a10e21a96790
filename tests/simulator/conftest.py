"""Fixtures for the Amazon SP-API simulator tests: an in-process simulator on a manual clock."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest

from spapi_simulator import Simulator, start_simulator
from spapi_simulator.testing import clear_sp_api_token_cache, sp_api_kwargs

START = datetime(2026, 3, 2, 12, 0, 0, tzinfo=UTC)


@pytest.fixture
def start_sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    """Factory: ``start_sim(**options)`` starts a simulator that is stopped after the test."""
    # sp_api lets this variable override the marketplace we pass; keep it out of the way.
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)
    clear_sp_api_token_cache()
    started: list[Simulator] = []

    def start(**options: Any) -> Simulator:
        options.setdefault("seed", 1)
        options.setdefault("time_scale", 0)
        options.setdefault("start_time", START)
        sim = start_simulator(**options)
        started.append(sim)
        return sim

    yield start
    for sim in started:
        sim.stop()
    clear_sp_api_token_cache()


@pytest.fixture
def simulator(start_sim: Any) -> Simulator:
    """Seed 1, manual clock at START, usage plans off (tests of throttling turn them on)."""
    return start_sim(enforce_rate_limits=False)


@pytest.fixture
def sp_kwargs(simulator: Simulator) -> dict[str, Any]:
    return sp_api_kwargs(simulator.base_url)


@pytest.fixture
def http(simulator: Simulator) -> Iterator[httpx.Client]:
    """Raw HTTP client carrying a valid access token for the default seller."""
    with httpx.Client(base_url=simulator.base_url, timeout=10) as client:
        token = client.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": "Atzr|simulator",
                "client_id": "amzn1.application-oa2-client.simulator",
                "client_secret": "simulator-secret",
            },
        ).json()["access_token"]
        client.headers["x-amz-access-token"] = token
        yield client
