"""Contract-test fixtures: validators built from Amazon's own models in ../shared/spapi-models."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from spapi_simulator import Simulator
from spapi_simulator.contract import (
    MODELS_DIR,
    errors_of,
    find_operation,
    json_schema_validator,
    load_model,
    response_validator,
)


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
def recording_simulator(sim_factory: Any, models_dir: Path) -> Simulator:
    """Seed 3, manual clock at the real now, usage plans on, every SP-API response recorded."""
    return sim_factory(seed=3, start_time=None, record_responses=True)
