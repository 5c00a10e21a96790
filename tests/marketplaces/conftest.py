"""Fixtures of the settings-page tests; the simulator, the channel and ``amazon_settings`` are
the shared plugins of tests/fixtures/."""

from __future__ import annotations

import pytest

from warehouses.models import Organization, Warehouse


@pytest.fixture
def ready_organization(db: None) -> Organization:
    """CAD, taxes on, a primary warehouse: the prerequisites of connecting are met."""
    organization = Organization.load()
    organization.primary_warehouse = Warehouse.objects.create(name="Toronto")
    organization.save()
    return organization
