"""Amazon's usage plans, kept on our side so a normal sync never meets a 429.

One token bucket per (seller, operation) lives in the database row ``ApiQuota``: every worker
process on every machine draws from the same bucket. A call reserves a token in a short
transaction and, if it must wait, sleeps *after* that transaction has committed, never holding
a database lock or transaction while asleep. A wait longer than the caller accepts is not slept
at all: the caller gets ``AmazonThrottled`` with the time to retry, and requeues its task.

Amazon takes a token when a call arrives, not when we send it, and calls take different times
to arrive. The limiter therefore counts a call sent within the last ``CALL_SPREAD`` as possibly
arriving together with the next one, and credits refill only up to ``CALL_SPREAD`` ago: the
burst shrinks by what refills in that time, the steady rate is the plan's.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.conf import settings
from django.db import IntegrityError, transaction

from inventory_sync.clock import Clock
from marketplaces.amazon.errors import AmazonThrottled
from marketplaces.models import ApiQuota


@dataclass(frozen=True)
class UsagePlan:
    rate: float  # requests per second restored
    burst: int  # bucket size


# Amazon's default usage plans, from its API models (x-amzn-api-sandbox usage plans).
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
    "getMarketplaceParticipations": UsagePlan(0.016, 15),
    # Finances 2024-06-19 (finances_2024-06-19.json: 0.5 requests per second, burst 10).
    "listTransactions": UsagePlan(0.5, 10),
    # Notifications API v1: every operation 1 per second, burst 5 (notifications.json).
    "getDestinations": UsagePlan(1, 5),
    "createDestination": UsagePlan(1, 5),
    "getDestination": UsagePlan(1, 5),
    "deleteDestination": UsagePlan(1, 5),
    "createSubscription": UsagePlan(1, 5),
    "getSubscription": UsagePlan(1, 5),
    "getSubscriptionById": UsagePlan(1, 5),
    "deleteSubscriptionById": UsagePlan(1, 5),
}


# How much later one call may reach Amazon than another sent at the same moment: an
# access-token refresh on its way, a slow connection, a paused process. Amazon takes a token
# when a call arrives, so a call sent within the last CALL_SPREAD may or may not have taken
# its token yet; the limiter plans for whichever is worse (see ``_Bucket.level``). A call
# delayed by more than this can still meet a 429 (record_throttle adjusts). Workers whose
# clocks disagree add their difference to the spread.
CALL_SPREAD = timedelta(seconds=0.5)

_MICROSECOND = timedelta(microseconds=1)
_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)


# The time the limiter reads and waits in (tests put in a clock that never sleeps).
clock = Clock()


def plan_for(operation: str) -> UsagePlan:
    plan = USAGE_PLANS[operation]
    # Against the simulator running N times faster, its buckets refill N times faster too.
    scale = float(getattr(settings, "AMAZON_RATE_SCALE", 1.0))
    return UsagePlan(rate=plan.rate * scale, burst=plan.burst)


def _locked_quota(seller_id: str, operation: str, now: datetime) -> ApiQuota:
    """The bucket row, locked for this transaction; created full on first use."""
    rows = ApiQuota.objects.select_for_update().filter(seller_id=seller_id, operation=operation)
    quota = rows.first()
    if quota is not None:
        return quota
    try:
        with transaction.atomic():
            ApiQuota.objects.create(
                seller_id=seller_id,
                operation=operation,
                tokens=float(plan_for(operation).burst),
                refilled_at=now,
            )
    except IntegrityError:
        pass  # another process created it first: fine, it is there now
    return rows.get()


@dataclass
class _Bucket:
    """A quota row's bucket: ``tokens`` as of ``refilled_at`` with every call sent until then
    taken, and the send times of the calls after it (``in_flight``, oldest first)."""

    plan: UsagePlan
    tokens: float
    refilled_at: datetime
    in_flight: list[datetime]

    @classmethod
    def of(cls, quota: ApiQuota, plan: UsagePlan) -> _Bucket:
        sent = [_EPOCH + timedelta(microseconds=moment) for moment in quota.in_flight]
        return cls(plan, quota.tokens, quota.refilled_at, sent)

    def store(self, quota: ApiQuota) -> None:
        quota.tokens = self.tokens
        quota.refilled_at = self.refilled_at
        # Whole microseconds, exactly: a float of Unix seconds is a microsecond off at times.
        quota.in_flight = [(moment - _EPOCH) // _MICROSECOND for moment in self.in_flight]

    def tokens_at(self, moment: datetime) -> float:
        """The bucket at ``moment``, counting only the calls already folded in. Workers' clocks
        can disagree a little: time never runs backwards for a bucket."""
        elapsed = max(0.0, (moment - self.refilled_at).total_seconds())
        return min(float(self.plan.burst), self.tokens + elapsed * self.plan.rate)

    def fold(self, until: datetime) -> None:
        """Take the tokens of the calls sent by ``until``, each at its send time."""
        while self.in_flight and self.in_flight[0] <= until:
            sent = self.in_flight.pop(0)
            self.tokens = self.tokens_at(sent) - 1
            self.refilled_at = max(self.refilled_at, sent)

    def settled(self, moment: datetime) -> _Bucket:
        """A copy with the calls that have surely reached Amazon by ``moment`` folded in."""
        copy = _Bucket(self.plan, self.tokens, self.refilled_at, list(self.in_flight))
        copy.fold(moment - CALL_SPREAD)
        return copy

    def level(self, moment: datetime) -> float:
        """The fewest tokens Amazon's bucket can hold for a call sent at ``moment``.

        Amazon's bucket holds at least ours as of CALL_SPREAD earlier, less every call sent
        since: those may all arrive together with this one, and its refill meanwhile may not
        have happened yet for it. Counting the refill up to the call's own moment instead lent
        Amazon tokens it never had: a slow call from a full bucket, then fast ones, met a 429
        after the burst."""
        settled = self.settled(moment)
        return settled.tokens_at(moment - CALL_SPREAD) - len(settled.in_flight)

    def next_call_at(self, now: datetime) -> datetime:
        """When a call can next be sent: never before one sent earlier (calls go out in the
        order they were reserved), and once ``level`` reaches a whole token. The level only
        rises with time, by refill or as an earlier call leaves the spread: step to whichever
        comes first until it is there. Steps are rounded up to the microsecond (a datetime's
        resolution): rounded down, the level at the step fell short of 1 by a hair, and Amazon
        counts a hair short of a token as none."""
        moment = max([now, *self.in_flight[-1:]])
        while self.level(moment) < 1:
            settled = self.settled(moment)
            waiting = len(settled.in_flight)
            candidates = [sent + CALL_SPREAD for sent in settled.in_flight[:1]]
            if 1 + waiting <= self.plan.burst:
                deficit = 1 + waiting - settled.tokens
                refilled = settled.refilled_at + _seconds_up(deficit / self.plan.rate)
                candidates.append(refilled + CALL_SPREAD)
            moment = max(moment + _MICROSECOND, min(candidates))
        return moment


def _seconds_up(seconds: float) -> timedelta:
    """``seconds`` as a timedelta, rounded up to the microsecond, never down."""
    return timedelta(microseconds=math.ceil(seconds * 1_000_000))


def tokens_left(quota: ApiQuota, moment: datetime) -> float:
    """The tokens a call sent at ``moment`` can count on."""
    return _Bucket.of(quota, plan_for(quota.operation)).level(moment)


def reserve(seller_id: str, operation: str, max_wait: float, marketplace_id: str = "") -> float:
    """Take one token; return how long to sleep before calling (0 when a token was there).

    Raises ``AmazonThrottled`` without taking a token when the wait would exceed ``max_wait``.
    ``marketplace_id`` is the calling channel's: the bucket is the seller's, whichever
    marketplace calls, and the quota view names the marketplaces that use it.
    """
    plan = plan_for(operation)
    with transaction.atomic():
        now = clock.now()
        quota = _locked_quota(seller_id, operation, now)
        if marketplace_id and marketplace_id not in quota.marketplace_ids:
            quota.marketplace_ids = sorted([*quota.marketplace_ids, marketplace_id])
        bucket = _Bucket.of(quota, plan)
        bucket.fold(now - CALL_SPREAD)  # those have reached Amazon by now
        call_at = bucket.next_call_at(now)
        wait = (call_at - now).total_seconds()
        deferred = wait > max_wait
        if deferred:
            quota.paced += 1
            quota.next_allowed_at = call_at
            quota.save(update_fields=["paced", "next_allowed_at", "marketplace_ids"])
        else:
            bucket.in_flight.append(call_at)
            bucket.store(quota)
            quota.calls += 1
            quota.paced += 1 if wait else 0
            quota.last_call_at = call_at
            quota.next_allowed_at = bucket.next_call_at(call_at)
            quota.save()
    if deferred:
        # Raised once the transaction has committed: raised inside it, the exception rolled
        # back the count of the deferred call and the quota view never showed it.
        raise AmazonThrottled(operation, wait, f"{operation}: our pacing defers the call")
    return wait


def acquire(
    seller_id: str, operation: str, max_wait: float = 30.0, marketplace_id: str = ""
) -> None:
    """Wait (outside any transaction of ours) until a call is within the usage plan."""
    wait = reserve(seller_id, operation, max_wait, marketplace_id)
    if wait > 0:
        clock.sleep(wait)


def record_throttle(seller_id: str, operation: str) -> float:
    """Amazon said 429 anyway (another app, a clock, a storm): empty our bucket and return the
    time until one token is back."""
    plan = plan_for(operation)
    with transaction.atomic():
        now = clock.now()
        quota = _locked_quota(seller_id, operation, now)
        bucket = _Bucket.of(quota, plan)
        # Amazon's bucket held less than a token when the call arrived, by now at the latest:
        # a call sent from now on finds what refilled since, less the calls still on their way.
        settled_at = now - CALL_SPREAD
        bucket.fold(settled_at)
        bucket.tokens = min(0.0, bucket.tokens_at(settled_at))
        bucket.refilled_at = max(bucket.refilled_at, settled_at)
        bucket.store(quota)
        quota.throttled += 1
        quota.next_allowed_at = bucket.next_call_at(now)
        retry_after = (quota.next_allowed_at - now).total_seconds()
        quota.save(
            update_fields=["tokens", "refilled_at", "in_flight", "throttled", "next_allowed_at"]
        )
    return retry_after
