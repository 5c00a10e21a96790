"""The suite's root: shared fixtures come from the plugins in tests/fixtures/, registered here.

Tests marked ``services`` need PostgreSQL, Redis or a Celery worker. On a laptop they skip when
a service is missing; in CI (``CI=true``) they fail instead (tests/helpers/services.py), so a
broken CI machine can never pass by skipping.
"""

from __future__ import annotations

import pytest

from inventory_sync.celery import app as celery_app

# What a test queues (a debounced stock push, a sync after commit) goes to an in-memory broker
# and is dropped: never into var/celery or a shared Redis, where a later worker would run it.
# Tests of the real broker send through an explicit connection (tests/integration).
celery_app.conf.update(broker_url="memory://")

pytest_plugins = [
    "tests.fixtures.personas",
    "tests.fixtures.simulator",
    "tests.fixtures.channels",
    "tests.fixtures.browser",
    "tests.fixtures.services",
]


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Cached values (the history chart) never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()
