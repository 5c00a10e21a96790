"""The simulator's clock: real time multiplied by a scale factor, plus manual advances."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta


def isoformat(moment: datetime) -> str:
    """Amazon's timestamp style: UTC, second precision, trailing Z."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def parse_iso(value: str) -> datetime:
    """Parse an ISO 8601 date-time; naive values are taken as UTC (as Amazon does).

    Raises ValueError on anything that is not a date-time.
    """
    text = value.strip()
    if not text or len(text) < 10:
        raise ValueError(f"not an ISO 8601 date-time: {value!r}")
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    parsed = datetime.fromisoformat(text)
    if parsed.tzinfo is None:
        parsed = parsed.replace(tzinfo=UTC)
    return parsed.astimezone(UTC)


class SimClock:
    """Simulated UTC time.

    ``time_scale`` N makes simulated time run N times faster than real time; 0 freezes it so
    that only :meth:`advance` moves it (the manual clock tests use).
    """

    def __init__(self, start: datetime, time_scale: float = 1.0) -> None:
        if time_scale < 0:
            raise ValueError("time_scale must be >= 0")
        self._lock = threading.Lock()
        self._start = start.astimezone(UTC)
        self._real_start = time.monotonic()
        self._offset = 0.0
        self.time_scale = float(time_scale)

    def now(self) -> datetime:
        with self._lock:
            return self._start + timedelta(seconds=self._elapsed_locked())

    def _elapsed_locked(self) -> float:
        return (time.monotonic() - self._real_start) * self.time_scale + self._offset

    def advance(self, seconds: float) -> datetime:
        if seconds < 0:
            raise ValueError("the clock only moves forward")
        with self._lock:
            self._offset += seconds
            return self._start + timedelta(seconds=self._elapsed_locked())

    def real_seconds(self, simulated_seconds: float) -> float:
        """How long a simulated duration takes in real time (inf on a manual clock)."""
        if self.time_scale == 0:
            return float("inf")
        return simulated_seconds / self.time_scale
