"""A clock for the product's waits and sessions (``inventory_sync.clock``) that never sleeps.

The product waits for Amazon's usage plans, for reports and feeds being prepared, and between
retries. Those waits are logic worth testing, not time worth spending: here a sleep returns at
once, is recorded, and moves this clock on by as much. Simulators whose clock runs on real
time are moved on too, so Amazon has moved on by what the product believes it waited.
"""

from __future__ import annotations

import threading
from datetime import datetime, timedelta
from typing import Protocol

from inventory_sync.clock import Clock


class SimulatedTime(Protocol):
    """What a simulator's clock offers (its package is moving: no import of it here)."""

    time_scale: float

    def advance(self, seconds: float) -> datetime: ...


class FakeClock(Clock):
    """Real time plus every sleep so far; ``slept`` lists the sleeps, in order."""

    def __init__(self) -> None:
        self.slept: list[float] = []
        self._offset = 0.0
        self._lock = threading.Lock()
        self._simulators: list[SimulatedTime] = []

    def now(self) -> datetime:
        return super().now() + timedelta(seconds=self.offset)

    def monotonic(self) -> float:
        return super().monotonic() + self.offset

    @property
    def offset(self) -> float:
        with self._lock:
            return self._offset

    @property
    def total_slept(self) -> float:
        with self._lock:
            return sum(self.slept)

    def sleep(self, seconds: float) -> None:
        with self._lock:
            self.slept.append(seconds)
            self._offset += seconds
            simulators = list(self._simulators)
        for simulator in simulators:
            # A manual clock (scale 0) did not move during a real sleep either.
            if simulator.time_scale:
                simulator.advance(seconds * simulator.time_scale)

    def follow(self, simulator: SimulatedTime) -> None:
        """Move ``simulator``'s clock on whenever this clock sleeps."""
        with self._lock:
            self._simulators.append(simulator)
