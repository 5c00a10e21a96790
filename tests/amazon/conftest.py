"""An in-process simulator and a channel connected to it."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any

import pytest

from marketplaces.amazon.client import AmazonClient, Connection, forget_access_tokens
from marketplaces.amazon.simulator import Simulator, start_simulator
from marketplaces.amazon.simulator.testing import clear_sp_api_token_cache

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
