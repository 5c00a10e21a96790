"""Amazon usage plans as token buckets on simulated time."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime


@dataclass(frozen=True)
class UsagePlan:
    rate: float  # requests per second restored
    burst: int  # bucket size

    @property
    def header(self) -> str:
        """The value Amazon sends in ``x-amzn-RateLimit-Limit``."""
        return f"{self.rate:g}"


# Amazon's default usage plans, from its API models (docs/SIMULATOR.md).
USAGE_PLANS: dict[str, UsagePlan] = {
    "searchOrders": UsagePlan(0.0056, 20),
    "getOrder": UsagePlan(0.5, 30),
    "confirmShipment": UsagePlan(2.0, 10),
    "createReport": UsagePlan(0.0167, 15),
    "getReport": UsagePlan(2.0, 15),
    "getReportDocument": UsagePlan(0.0167, 15),
    "createFeedDocument": UsagePlan(0.5, 15),
    "createFeed": UsagePlan(0.0083, 15),
    "getFeed": UsagePlan(2.0, 15),
    "getFeedDocument": UsagePlan(0.0222, 10),
    "patchListingsItem": UsagePlan(5.0, 5),
    "getListingsItem": UsagePlan(5.0, 10),
    "searchListingsItems": UsagePlan(5.0, 5),
    "getInventorySummaries": UsagePlan(2.0, 2),
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
    "listTransactions": UsagePlan(0.5, 10),
    # Notifications API v1: every operation 1 request per second, burst 5.
    "createDestination": UsagePlan(1.0, 5),
    "getDestinations": UsagePlan(1.0, 5),
    "getDestination": UsagePlan(1.0, 5),
    "deleteDestination": UsagePlan(1.0, 5),
    "createSubscription": UsagePlan(1.0, 5),
    "getSubscription": UsagePlan(1.0, 5),
    "getSubscriptionById": UsagePlan(1.0, 5),
    "deleteSubscriptionById": UsagePlan(1.0, 5),
}


class TokenBuckets:
    """One bucket per (selling partner, operation), or per (application, operation) for a
    grantless call; not thread-safe (the state lock guards it)."""

    def __init__(self, plans: dict[str, UsagePlan] | None = None) -> None:
        self.plans = dict(plans or USAGE_PLANS)
        self._buckets: dict[tuple[str, str], tuple[float, datetime]] = {}

    def try_acquire(self, seller_id: str, operation: str, now: datetime) -> bool:
        plan = self.plans.get(operation)
        if plan is None:
            return True
        key = (seller_id, operation)
        tokens, last = self._buckets.get(key, (float(plan.burst), now))
        elapsed = max(0.0, (now - last).total_seconds())
        tokens = min(float(plan.burst), tokens + elapsed * plan.rate)
        if tokens >= 1.0:
            self._buckets[key] = (tokens - 1.0, now)
            return True
        self._buckets[key] = (tokens, now)
        return False

    def tokens(self, seller_id: str, operation: str, now: datetime) -> float:
        plan = self.plans[operation]
        tokens, last = self._buckets.get((seller_id, operation), (float(plan.burst), now))
        elapsed = max(0.0, (now - last).total_seconds())
        return min(float(plan.burst), tokens + elapsed * plan.rate)

    def reset(self) -> None:
        self._buckets.clear()
