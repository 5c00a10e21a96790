"""Contract-test fixtures: validators built from Amazon's own models in ../shared/spapi-models."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from spapi_simulator import Simulator, start_simulator
from spapi_simulator.contract import (
    MODELS_DIR,
    errors_of,
    find_operation,
    json_schema_validator,
    load_model,
    response_validator,
)
from spapi_simulator.testing import clear_sp_api_token_cache


@pytest.fixture(scope="session")
def models_dir() -> Path:
    if not MODELS_DIR.is_dir():
        pytest.skip(f"Amazon's models not found: expected ../shared/spapi-models at {MODELS_DIR}")
    return MODELS_DIR


@pytest.fixture
def validators(models_dir: Path) -> dict[str, Callable[..., Any]]:
    return {
        "response": response_validator,
        "json_schema": json_schema_validator,
        "errors_of": errors_of,
        "model": load_model,
        "operation": find_operation,
    }


@pytest.fixture
def recording_simulator(monkeypatch: pytest.MonkeyPatch, models_dir: Path) -> Iterator[Simulator]:
    """Seed 3, manual clock, usage plans on, every SP-API response recorded."""
    monkeypatch.delenv("SP_API_DEFAULT_MARKETPLACE", raising=False)
    clear_sp_api_token_cache()
    sim = start_simulator(seed=3, time_scale=0, record_responses=True)
    yield sim
    sim.stop()
    clear_sp_api_token_cache()
