"""The chaos rig's fixture; the rig itself (``Rig``, the workers' environment, beat's part,
the channel on the simulator) is tests/chaos/rig.py."""

from __future__ import annotations

import os
import random
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from marketplaces.amazon.client import forget_access_tokens
from spapi_simulator import Simulator, start_simulator
from spapi_simulator.testing import clear_sp_api_token_cache
from tests.chaos.rig import (
    STALE_SECONDS,
    TIME_SCALE,
    MakeRig,
    Rig,
    chaos_redis_url,
    connect_channel,
    forget_queue,
    require_chaos_services,
)
from tests.helpers.workers import StartWorker


@pytest.fixture
def make_rig(
    transactional_db: None,
    start_worker: StartWorker,  # after the database: workers stop before flush
    settings: Any,
    monkeypatch: pytest.MonkeyPatch,
    request: pytest.FixtureRequest,
    tmp_path: Path,
) -> Iterator[MakeRig]:
    require_chaos_services()
    settings.SYNC_RUN_STALE_AFTER_SECONDS = STALE_SECONDS
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)
    clear_sp_api_token_cache()
    forget_access_tokens()
    sims: list[Simulator] = []
    queues: list[tuple[str, str]] = []
    rigs: list[Rig] = []

    def make(
        *,
        time_scale: float = TIME_SCALE,
        clock_offset: timedelta = timedelta(0),
        redis_url: str | None = None,
        merchant_listings: int | None = None,
        **sim_options: Any,
    ) -> Rig:
        sim_options.setdefault("order_interval_seconds", 0)
        sim_options.setdefault("history_orders", 0)
        sim = start_simulator(
            seed=1,
            time_scale=time_scale,
            start_time=datetime.now(UTC).replace(microsecond=0) + clock_offset,
            **sim_options,
        )
        sims.append(sim)
        channel, warehouse = connect_channel(sim, merchant_listings)
        seed = int(os.environ.get("CHAOS_SEED", str(random.SystemRandom().randrange(10**6))))
        print(f"chaos seed {seed} for {request.node.name} (CHAOS_SEED={seed} to replay)")
        rig = Rig(
            sim=sim,
            channel=channel,
            warehouse=warehouse,
            queue=f"test-chaos-{uuid.uuid4().hex}",
            redis_url=redis_url or chaos_redis_url(),
            spawn=start_worker,
            rng=random.Random(seed),
            workdir=tmp_path,
        )
        queues.append((rig.redis_url, rig.queue))
        rigs.append(rig)
        return rig

    yield make
    for rig in rigs:
        rig.stop_consumers()  # before the database is flushed under them
    for sim in sims:
        sim.stop()
    for redis_url, queue in queues:
        forget_queue(redis_url, queue)
    forget_access_tokens()
