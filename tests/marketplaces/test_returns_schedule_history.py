"""Returns and refunds runs: started on the channel's schedule, shown in Sync History with
their counts and each failure's reason, pruned like the other runs."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces import schedule
from marketplaces.models import SalesChannel
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.factories import SalesChannelFactory, SyncRunFactory

pytestmark = pytest.mark.django_db


def only_returns_channel() -> SalesChannel:
    """Its orders imported once (a checkpoint), every module but returns off."""
    return SalesChannelFactory.create(
        sync_items=False,
        sync_orders=False,
        sync_stock=False,
        sync_shipments=False,
        orders_checkpoint=timezone.now() - timedelta(minutes=5),
    )


def test_the_scheduler_starts_a_returns_sync_every_few_hours(settings: object) -> None:
    channel = only_returns_channel()
    now = timezone.now()

    assert schedule.start_due_syncs(now) == 1
    run = SyncRun.objects.get()
    assert (run.kind, run.trigger) == (SyncRun.Kind.RETURNS, SyncRun.Trigger.AUTOMATIC)
    SyncRun.objects.filter(id=run.id).update(status="succeeded")

    assert schedule.start_due_syncs(now + timedelta(hours=5)) == 0
    SyncRun.objects.filter(id=run.id).update(created_at=now - timedelta(hours=6, minutes=1))
    assert schedule.start_due_syncs(now) == 1
    assert SyncRun.objects.filter(channel=channel, kind="returns").count() == 2


def test_returns_wait_for_the_first_order_import() -> None:
    channel = only_returns_channel()
    SalesChannel.objects.filter(id=channel.id).update(orders_checkpoint=None)
    assert schedule.start_due_syncs(timezone.now()) == 0


def test_switched_off_returns_do_not_sync_on_their_own() -> None:
    channel = only_returns_channel()
    SalesChannel.objects.filter(id=channel.id).update(sync_returns=False)
    assert schedule.start_due_syncs(timezone.now()) == 0


def test_a_returns_run_counts_returns_and_refunds_with_each_reason(staff_client: Client) -> None:
    channel = SalesChannelFactory.create()
    run = history.start_run(channel.id, SyncRun.Kind.RETURNS, SyncRun.Trigger.MANUAL)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    history.record_many(
        run,
        [
            history.Entry("return", "702-1 D1RRMA", "synced"),
            history.Entry("refund", "702-1 T1", "synced"),
            history.Entry("return", "702-2 D2RRMA", "skipped", "Already up to date"),
            history.Entry("refund", "702-9 T9", "failed", "Refund T9 is in USD but order 702-9"),
        ],
    )
    run = history.finish_run(run)

    assert run.status == SyncRun.Status.PARTIAL
    assert (run.orders_synced, run.orders_failed, run.orders_skipped) == (2, 1, 1)
    page = staff_client.get(f"/sync-runs/{run.id}/").content.decode()
    assert "Returns and refunds sync #" in page
    assert "Returns and refunds failed" in page
    assert "Refund T9 is in USD but order 702-9" in page
    listing = staff_client.get(
        f"/settings/integrations/marketplaces/{channel.id}/history/", {"kind": "returns"}
    ).content.decode()
    assert "Returns and refunds" in listing
    assert "2 records synced and 1 failed in the last 30 days" in listing


def test_returns_runs_follow_the_retention_rules() -> None:
    now = timezone.now()
    old = SyncRunFactory.create(
        kind=SyncRun.Kind.RETURNS, status="succeeded", finished_at=now - timedelta(days=31)
    )
    SyncRecord.objects.create(
        run=old, record_type="return", external_id="702-1 D1", outcome="synced"
    )
    failed = SyncRunFactory.create(
        kind=SyncRun.Kind.RETURNS, status="partial", finished_at=now - timedelta(days=31)
    )

    result = history.prune_sync_history(now)

    assert (result.runs_deleted, result.records_deleted) == (1, 1)
    assert list(SyncRun.objects.values_list("id", flat=True)) == [failed.id]
