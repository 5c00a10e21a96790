"""The time the product reads and waits in, as one object tests can replace.

The rate limiter waits in it (``marketplaces.amazon.ratelimit.clock``) and sessions are timed by
it (``accounts.middleware.clock``). Tests put in a clock whose ``sleep`` returns at once and
moves its own time on instead (tests/helpers/fake_clock.py), so a wait or a session's lifetime
is checked without being waited for.
"""

from __future__ import annotations

import time
from datetime import datetime

from django.utils import timezone


class Clock:
    def now(self) -> datetime:
        return timezone.now()

    def monotonic(self) -> float:
        return time.monotonic()

    def sleep(self, seconds: float) -> None:
        time.sleep(seconds)
