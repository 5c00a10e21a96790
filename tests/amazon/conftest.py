"""Fixtures only the connector's tests use; the simulator, the warehouse, the stocked items and
the channel are the shared plugins of tests/fixtures/."""

from __future__ import annotations

from typing import Any

import pytest

from marketplaces.amazon.client import AmazonClient
from spapi_simulator import Simulator
from tests.helpers.amazon import connection_to


@pytest.fixture
def amazon(sim: Simulator, db: None) -> AmazonClient:
    return AmazonClient(connection_to(sim), max_wait=0)


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
