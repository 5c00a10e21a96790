"""The Amazon fixtures of tests/fixtures/, with a simulator whose clock runs in real time.

``sync_channel`` sleeps in the foreground while Amazon prepares a report or a feed, as a worker
would wait between retries, so its simulator must move on its own: real time (scale 1), with
reports and feeds that take a tenth of a second instead of minutes. ``live_sim`` here replaces
the shared one (tests/fixtures/simulator.py) for these tests, and so does the channel built on it.
"""

from __future__ import annotations

from typing import Any

import pytest
from django.utils import timezone

from spapi_simulator import Simulator

FAST = 0.1


@pytest.fixture
def live_sim(sim_factory: Any) -> Simulator:
    return sim_factory(
        time_scale=1,
        start_time=timezone.now().replace(microsecond=0),
        enforce_rate_limits=False,
        order_interval_seconds=0,
        report_queue_seconds=FAST,
        report_processing_seconds=FAST,
        feed_queue_seconds=FAST,
        feed_processing_seconds=FAST,
    )


@pytest.fixture(autouse=True)
def _fast_pacing(settings: Any) -> None:
    # Our own usage-plan pacing at 100x: a test never waits for a token to refill.
    settings.AMAZON_RATE_SCALE = 100
