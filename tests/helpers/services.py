"""The rule for tests needing real services (PostgreSQL, Redis, a Celery worker).

On a laptop they skip when a service is missing; in CI (``CI=true``) they fail instead, so a
broken CI machine can never pass by skipping.
"""

from __future__ import annotations

import os

import pytest


def running_in_ci() -> bool:
    return os.environ.get("CI", "").lower() in {"1", "true", "yes"}


def require_service(available: bool, what: str) -> None:
    """Skip (laptop) or fail (CI) a test whose service is not there."""
    if available:
        return
    if running_in_ci():
        pytest.fail(f"{what} is required when CI=true but is not available", pytrace=False)
    pytest.skip(f"{what} is not available (set CI=true to make this a failure)")
