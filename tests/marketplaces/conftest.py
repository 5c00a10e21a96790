"""The in-process Amazon simulator (tests/amazon's fixtures) and settings pointing at it."""

from __future__ import annotations

from typing import Any

import pytest

from spapi_simulator import (
    DEFAULT_APPLICATION_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    Simulator,
)
from tests.amazon.conftest import live_sim, sim_factory  # noqa: F401 - fixtures
from warehouses.models import Organization, Warehouse


@pytest.fixture
def amazon_settings(settings: Any, live_sim: Simulator) -> Simulator:  # noqa: F811
    settings.AMAZON_SELLER_CENTRAL_URL = live_sim.base_url
    settings.AMAZON_LWA_ENDPOINT = live_sim.base_url
    settings.AMAZON_SPAPI_ENDPOINT = live_sim.base_url
    settings.AMAZON_LWA_CLIENT_ID = DEFAULT_CLIENT_ID
    settings.AMAZON_LWA_CLIENT_SECRET = DEFAULT_CLIENT_SECRET
    settings.AMAZON_APPLICATION_ID = DEFAULT_APPLICATION_ID
    return live_sim


@pytest.fixture
def ready_organization(db: None) -> Organization:
    """CAD, taxes on, a primary warehouse: the prerequisites of connecting are met."""
    organization = Organization.load()
    organization.primary_warehouse = Warehouse.objects.create(name="Toronto")
    organization.save()
    return organization
