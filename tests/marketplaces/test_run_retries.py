"""How a sync task retries: what counts as a failure, and a database connection lost mid-run.

Found by the chaos scenarios (docs/RELIABILITY.md). Tasks run eagerly here: a retry runs at
once, in this process, with the arguments the worker would get.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.db import OperationalError, connection

from marketplaces import runs, tasks
from marketplaces.amazon import stock_push
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.errors import AmazonThrottled, AmazonTransientError, WaitForAmazon
from synchistory.models import SyncRun
from tests.factories import SalesChannelFactory, SyncRunFactory

Work = Callable[[SyncRun, AmazonClient], None]


def scripted(monkeypatch: pytest.MonkeyPatch, outcomes: list[Callable[[], None]]) -> list[int]:
    """Make the stock push play ``outcomes`` one per attempt (then succeed); returns the list
    of transient failure counts each attempt was given."""
    script: Iterator[Callable[[], None]] = iter(outcomes)
    attempts: list[int] = []
    real_attempt = runs.attempt

    def push(run: SyncRun, client: AmazonClient) -> None:
        next(script, lambda: None)()

    def counting_attempt(run: SyncRun, failures: int = 0, **options: Any) -> Any:
        attempts.append(failures)
        return real_attempt(run, failures, **options)

    monkeypatch.setattr(stock_push, "push_stock", push)
    # Let each eager retry run (a propagated Retry would end the chain at the first one).
    monkeypatch.setitem(tasks.push_stock_task.app.conf, "task_eager_propagates", False)
    monkeypatch.setattr(runs, "attempt", counting_attempt)
    return attempts


def raise_(error: Exception) -> Callable[[], None]:
    def raising() -> None:
        raise error

    return raising


def queued_stock_run() -> SyncRun:
    return SyncRunFactory.create(
        channel=SalesChannelFactory.create(),
        kind=SyncRun.Kind.STOCK,
        status=SyncRun.Status.QUEUED,
    )


WAIT = raise_(WaitForAmazon("Amazon is processing stock feed 1", 30))
PACED = raise_(AmazonThrottled("getFeed", 1))
FAIL = raise_(AmazonTransientError("getFeed: Amazon error 503"))


@pytest.mark.django_db
def test_waiting_for_a_feed_and_pacing_do_not_use_up_the_failure_retries(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """A long feed (many polls) plus a few 5xx used to end "Amazon kept failing": every retry
    of the task counted, waits included."""
    failures = [FAIL] * runs.MAX_TRANSIENT_RETRIES
    attempts = scripted(monkeypatch, [WAIT] * 20 + [PACED] * 5 + failures)
    run = queued_stock_run()

    tasks.push_stock_task.apply(args=(run.id,))

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert attempts[:26] == [0] * 26  # the waits and the pacing counted nothing
    assert attempts[26:] == list(range(1, runs.MAX_TRANSIENT_RETRIES + 1))


@pytest.mark.django_db
def test_a_run_that_keeps_failing_ends_with_the_reason(monkeypatch: pytest.MonkeyPatch) -> None:
    scripted(monkeypatch, [WAIT, FAIL] * (runs.MAX_TRANSIENT_RETRIES + 1))
    run = queued_stock_run()

    tasks.push_stock_task.apply(args=(run.id,))

    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error == "Amazon kept failing: getFeed: Amazon error 503"


def lose_the_connection() -> None:
    """What a database restart or ``pg_terminate_backend`` does to the worker's connection:
    for real on PostgreSQL (its own backend is terminated), as Django reports it elsewhere."""
    if connection.vendor != "postgresql":
        raise OperationalError("server closed the connection unexpectedly")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_terminate_backend(pg_backend_pid())")
    SyncRun.objects.count()  # the next query finds the connection gone


@pytest.mark.django_db(transaction=True)
def test_a_run_whose_database_connection_drops_is_retried_on_a_new_one(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """It used to stay "running" until the reaper: ending or requeueing the run went through
    the dead connection and failed too."""
    attempts = scripted(monkeypatch, [lose_the_connection])
    run = queued_stock_run()

    tasks.push_stock_task.apply(args=(run.id,))

    run.refresh_from_db()
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert attempts == [0, 1]


@pytest.mark.django_db(transaction=True)
def test_a_database_that_stays_away_fails_the_run_with_the_reason(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    scripted(monkeypatch, [lose_the_connection] * (runs.MAX_TRANSIENT_RETRIES + 1))
    run = queued_stock_run()

    tasks.push_stock_task.apply(args=(run.id,))

    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith("The database kept failing: ")
