"""Amazon's usage plans, kept on our side so a normal sync never meets a 429.

One token bucket per (seller, operation) lives in the database row ``ApiQuota``: every worker
process on every machine draws from the same bucket. A call reserves a token in a short
transaction and, if it must wait, sleeps *after* that transaction has committed, never holding
a database lock or transaction while asleep. A wait longer than the caller accepts is not slept
at all: the caller gets ``AmazonThrottled`` with the time to retry, and requeues its task.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction
from django.utils import timezone

from marketplaces.amazon.errors import AmazonThrottled
from marketplaces.models import ApiQuota


@dataclass(frozen=True)
class UsagePlan:
    rate: float  # requests per second restored
    burst: int  # bucket size


# Reference: SPAPI_NOTES.md's table, from Amazon's models (x-amzn-api-sandbox usage plans).
USAGE_PLANS: dict[str, UsagePlan] = {
    "searchOrders": UsagePlan(0.0056, 20),
    "getOrder": UsagePlan(0.5, 30),
    "confirmShipment": UsagePlan(2, 10),
    "createReport": UsagePlan(0.0167, 15),
    "getReport": UsagePlan(2, 15),
    "getReportDocument": UsagePlan(0.0167, 15),
    "createFeedDocument": UsagePlan(0.5, 15),
    "createFeed": UsagePlan(0.0083, 15),
    "getFeed": UsagePlan(2, 15),
    "getFeedDocument": UsagePlan(0.0222, 10),
    "patchListingsItem": UsagePlan(5, 5),
    "getListingsItem": UsagePlan(5, 10),
    "searchListingsItems": UsagePlan(5, 5),
    "getInventorySummaries": UsagePlan(2, 2),
}


# How long after its reservation a call may reach Amazon: an access-token refresh, then the
# request itself. A slower call can still meet a 429 after a burst (record_throttle adjusts).
CALL_LATENCY = timedelta(seconds=1)


def plan_for(operation: str) -> UsagePlan:
    plan = USAGE_PLANS[operation]
    # Against the simulator running N times faster, its buckets refill N times faster too.
    scale = float(getattr(settings, "AMAZON_RATE_SCALE", 1.0))
    return UsagePlan(rate=plan.rate * scale, burst=plan.burst)


def _locked_quota(seller_id: str, operation: str, now: datetime) -> ApiQuota:
    """The bucket row, locked for this transaction; created full on first use."""
    try:
        with transaction.atomic():
            ApiQuota.objects.get_or_create(
                seller_id=seller_id,
                operation=operation,
                defaults={"tokens": float(plan_for(operation).burst), "refilled_at": now},
            )
    except IntegrityError:
        pass  # another process created it first: fine, it is there now
    return ApiQuota.objects.select_for_update().get(seller_id=seller_id, operation=operation)


def _tokens_at(quota: ApiQuota, plan: UsagePlan, moment: datetime) -> float:
    """What the bucket holds at ``moment``. ``refilled_at`` may lie ahead (see ``reserve``):
    the bucket refills only from then on. Workers' clocks can disagree a little: time never
    runs backwards for a bucket."""
    elapsed = max(0.0, (moment - quota.refilled_at).total_seconds())
    return min(float(plan.burst), quota.tokens + elapsed * plan.rate)


def _next_token_at(quota: ApiQuota, plan: UsagePlan, now: datetime) -> datetime:
    """When the bucket next holds a whole token: now if it does already."""
    if _tokens_at(quota, plan, now) >= 1:
        return now
    return quota.refilled_at + timedelta(seconds=(1 - quota.tokens) / plan.rate)


def reserve(seller_id: str, operation: str, max_wait: float) -> float:
    """Take one token; return how long to sleep before calling (0 when a token was there).

    Raises ``AmazonThrottled`` without taking a token when the wait would exceed ``max_wait``.
    """
    plan = plan_for(operation)
    with transaction.atomic():
        now = timezone.now()
        quota = _locked_quota(seller_id, operation, now)
        call_at = _next_token_at(quota, plan, now)
        wait = (call_at - now).total_seconds()
        if wait > max_wait:
            quota.paced += 1
            quota.next_allowed_at = call_at
            quota.save(update_fields=["paced", "next_allowed_at"])
            raise AmazonThrottled(operation, wait, f"{operation}: our pacing defers the call")
        # Amazon takes the token when the request reaches it, which can be up to CALL_LATENCY
        # after this reservation (an access-token refresh first, the network). A full bucket
        # gains nothing meanwhile: Amazon's is capped too. Counting the token as taken at
        # call_at would credit refill Amazon never gave, and the first paced call after the
        # burst would meet a 429 whenever it travelled faster than the burst's first call.
        lands_at = call_at + CALL_LATENCY
        quota.tokens = _tokens_at(quota, plan, lands_at) - 1
        quota.refilled_at = max(quota.refilled_at, lands_at)
        quota.calls += 1
        quota.paced += 1 if wait else 0
        quota.last_call_at = call_at
        quota.next_allowed_at = _next_token_at(quota, plan, call_at)
        quota.save()
    return wait


def acquire(seller_id: str, operation: str, max_wait: float = 30.0) -> None:
    """Wait (outside any transaction of ours) until a call is within the usage plan."""
    wait = reserve(seller_id, operation, max_wait)
    if wait > 0:
        time.sleep(wait)


def record_throttle(seller_id: str, operation: str) -> float:
    """Amazon said 429 anyway (another app, a clock, a storm): empty our bucket and return the
    time until one token is back."""
    plan = plan_for(operation)
    with transaction.atomic():
        now = timezone.now()
        quota = _locked_quota(seller_id, operation, now)
        quota.tokens = min(0.0, _tokens_at(quota, plan, now))
        quota.refilled_at = max(quota.refilled_at, now)
        quota.throttled += 1
        quota.next_allowed_at = _next_token_at(quota, plan, now)
        retry_after = (quota.next_allowed_at - now).total_seconds()
        quota.save(update_fields=["tokens", "refilled_at", "throttled", "next_allowed_at"])
    return retry_after
