"""Sync History: keyset pages in a constant number of queries, filters, chart, run page."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from synchistory.models import SyncRun
from tests.factories import SalesChannelFactory, SyncRecordFactory, SyncRunFactory

pytestmark = pytest.mark.django_db

# Session, user, channel, one page of runs, the chart's aggregate: whatever the page.
QUERIES_PER_PAGE = 5


def make_runs(channel: Any, count: int) -> list[SyncRun]:
    now = timezone.now()
    runs = SyncRun.objects.bulk_create(
        SyncRun(
            channel=channel,
            kind="orders" if n % 2 else "items",
            trigger="automatic",
            status="succeeded" if n % 3 else "partial",
            orders_synced=n,
        )
        for n in range(count)
    )
    # Oldest first, one minute apart; two share an instant to exercise the id tie-break.
    for n, run in enumerate(runs):
        at = now - timedelta(minutes=count - n)
        if n == 60:
            at = now - timedelta(minutes=count - 59)
        SyncRun.objects.filter(id=run.id).update(created_at=at)
    return runs


def ids_on(html: str) -> list[int]:
    import re

    return [int(match) for match in re.findall(r'href="/sync-runs/(\d+)/"', html)]


def test_history_pages_take_a_constant_number_of_queries(
    admin_client: Client, django_assert_max_num_queries: Any
) -> None:
    # At most QUERIES_PER_PAGE on every page; one fewer once the 30-day chart is cached.
    channel = SalesChannelFactory.create()
    runs = make_runs(channel, 120)
    base = f"/settings/integrations/marketplaces/{channel.id}/history/"
    with django_assert_max_num_queries(QUERIES_PER_PAGE):
        first = admin_client.get(base)
    html = first.content.decode()
    page_one = ids_on(html)
    assert len(page_one) == 50
    assert page_one[0] == runs[-1].id
    assert "Newer" not in html
    older = first.context["page"].older_cursor
    with django_assert_max_num_queries(QUERIES_PER_PAGE):
        second = admin_client.get(base, {"older_than": older})
    page_two = ids_on(second.content.decode())
    with django_assert_max_num_queries(QUERIES_PER_PAGE):
        third = admin_client.get(base, {"older_than": second.context["page"].older_cursor})
    page_three = ids_on(third.content.decode())
    assert len(page_two) == 50 and len(page_three) == 20
    shown = page_one + page_two + page_three
    assert sorted(shown) == sorted(run.id for run in runs)  # each run exactly once
    assert "Older" not in third.content.decode()
    with django_assert_max_num_queries(QUERIES_PER_PAGE):
        back = admin_client.get(base, {"newer_than": third.context["page"].newer_cursor})
    assert ids_on(back.content.decode()) == page_two


def test_history_never_counts_the_whole_table(admin_client: Client) -> None:
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    channel = SalesChannelFactory.create()
    make_runs(channel, 5)
    with CaptureQueriesContext(connection) as queries:
        admin_client.get(f"/settings/integrations/marketplaces/{channel.id}/history/")
    assert not any("COUNT(" in q["sql"].upper() for q in queries.captured_queries)


def test_history_filters_by_kind_and_status(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    wanted = SyncRunFactory.create(channel=channel, kind="items", status="failed")
    SyncRunFactory.create(channel=channel, kind="items", status="succeeded")
    SyncRunFactory.create(channel=channel, kind="orders", status="failed")
    SyncRunFactory.create(kind="items", status="failed")  # another channel
    response = admin_client.get(
        f"/settings/integrations/marketplaces/{channel.id}/history/",
        {"kind": "items", "status": "failed"},
    )
    assert ids_on(response.content.decode()) == [wanted.id]


def test_history_shows_counts_and_a_chart(staff_client: Client) -> None:
    channel = SalesChannelFactory.create()
    SyncRunFactory.create(
        channel=channel, kind="orders", orders_synced=12, orders_failed=2, trigger="manual"
    )
    html = staff_client.get(
        f"/settings/integrations/marketplaces/{channel.id}/history/"
    ).content.decode()
    assert "Manual" in html and ">12<" in html and ">2<" in html
    assert "<svg" in html
    assert "12 records synced and 2 failed in the last 30 days" in html


def test_the_run_page_lists_failures_first(staff_client: Client) -> None:
    run = SyncRunFactory.create(status="partial")
    SyncRecordFactory.create(run=run, external_id="A-synced", outcome="synced")
    SyncRecordFactory.create(run=run, external_id="B-failed", outcome="failed", reason="No SKU")
    SyncRecordFactory.create(run=run, external_id="C-skipped", outcome="skipped", reason="Pending")
    html = staff_client.get(f"/sync-runs/{run.id}/").content.decode()
    assert html.index("B-failed") < html.index("C-skipped") < html.index("A-synced")
    assert "No SKU" in html
    assert "Re-initiate" not in html  # staff


def test_the_run_page_pages_its_records(admin_client: Client) -> None:
    run = SyncRunFactory.create()
    SyncRecordFactory.create_batch(55, run=run)
    first = admin_client.get(f"/sync-runs/{run.id}/")
    assert first.context["has_next"] and len(first.context["records"]) == 50
    second = admin_client.get(f"/sync-runs/{run.id}/", {"page": 2})
    assert len(second.context["records"]) == 5 and not second.context["has_next"]


def test_a_running_run_polls_its_progress(admin_client: Client) -> None:
    run = SyncRunFactory.create(status="running", progress_done=3, progress_total=10)
    html = admin_client.get(f"/sync-runs/{run.id}/").content.decode()
    assert f'hx-get="/sync-runs/{run.id}/progress/"' in html
    assert 'hx-trigger="every 2s"' in html
    partial = admin_client.get(f"/sync-runs/{run.id}/progress/", headers={"HX-Request": "true"})
    assert "3 of 10 processed" in partial.content.decode()
    assert "HX-Refresh" not in partial
    SyncRun.objects.filter(id=run.id).update(status="succeeded")
    final = admin_client.get(f"/sync-runs/{run.id}/progress/", headers={"HX-Request": "true"})
    assert final["HX-Refresh"] == "true"
    assert "hx-trigger" not in final.content.decode()


def test_re_initiate_links_both_runs(admin_client: Client) -> None:
    old = SyncRunFactory.create(kind="orders", status="partial")
    SyncRecordFactory.create(run=old, outcome="failed")
    response = admin_client.post(f"/sync-runs/{old.id}/reinitiate/")
    new = SyncRun.objects.get(reinitiates=old)
    assert response["Location"] == f"/sync-runs/{new.id}/"
    assert new.trigger == "reinitiated"
    assert f'Re-initiated from <a href="/sync-runs/{old.id}/">run #{old.id}</a>' in (
        admin_client.get(f"/sync-runs/{new.id}/").content.decode()
    )
    assert f'Re-initiated by <a href="/sync-runs/{new.id}/">run #{new.id}</a>' in (
        admin_client.get(f"/sync-runs/{old.id}/").content.decode()
    )


def test_re_initiate_explains_a_refusal(admin_client: Client) -> None:
    old = SyncRunFactory.create(kind="orders", status="succeeded")  # no records
    response = admin_client.post(f"/sync-runs/{old.id}/reinitiate/", follow=True)
    assert "brought in no records" in response.content.decode()
    assert SyncRun.objects.count() == 1


def test_staff_cannot_re_initiate(staff_client: Client) -> None:
    old = SyncRunFactory.create(kind="orders", status="partial")
    SyncRecordFactory.create(run=old)
    assert staff_client.post(f"/sync-runs/{old.id}/reinitiate/").status_code == 403
    assert SyncRun.objects.count() == 1


def test_unknown_runs_and_channels_are_404(admin_client: Client) -> None:
    assert admin_client.get("/sync-runs/999/").status_code == 404
    assert admin_client.get("/sync-runs/999/progress/").status_code == 404
    assert admin_client.post("/sync-runs/999/reinitiate/").status_code == 404
    assert admin_client.get("/settings/integrations/marketplaces/999/history/").status_code == 404


def test_runs_of_one_order_stream_link_each_other(staff_client: Client) -> None:
    canada = SalesChannelFactory.create(name="Amazon.ca")
    us = SalesChannelFactory.create(
        name="Amazon.com",
        seller_id=canada.seller_id,
        marketplace="amazon_com",
        marketplace_id="ATVPDKIKX0DER",
    )
    lead = SyncRunFactory.create(channel=canada, kind="orders", status="succeeded")
    companion = SyncRunFactory.create(
        channel=us, kind="orders", status="succeeded", fetched_with=lead
    )

    lead_page = staff_client.get(f"/sync-runs/{lead.id}/").content.decode()
    companion_page = staff_client.get(f"/sync-runs/{companion.id}/").content.decode()
    history = staff_client.get(
        f"/settings/integrations/marketplaces/{us.id}/history/"
    ).content.decode()

    assert f'Also fetched the orders of Amazon.com (<a href="/sync-runs/{companion.id}/">' in (
        lead_page
    )
    assert "Fetched in the same Amazon calls as Amazon.ca" in companion_page
    assert f'href="/sync-runs/{lead.id}/"' in companion_page
    assert ">shared</small>" in history


def test_the_notifications_tab_lists_failures_first_in_constant_queries(
    staff_client: Client, django_assert_num_queries: Any
) -> None:
    from marketplaces.models import NotificationMessage

    channel = SalesChannelFactory.create()
    other = SalesChannelFactory.create(seller_id="A3OTHERSELLER")
    url = f"/settings/integrations/marketplaces/{channel.id}/history/notifications/"

    def add(number: int, status: str, reason: str = "", on: Any = channel) -> None:
        NotificationMessage.objects.create(
            notification_id=f"n-{number}",
            notification_type="ORDER_CHANGE",
            seller_id=on.seller_id,
            channel=on,
            subject=f"702-0000000-{number:07d}",
            status=status,
            reason=reason,
        )

    add(1, "failed", "Amazon rejected getOrder (404 NotFound): no such order")
    for number in range(2, 12):
        add(number, "applied")
    add(12, "ignored", "The order is already as Amazon had it at 2026-01-01")
    add(13, "failed", "Other seller's failure", on=other)
    with django_assert_num_queries(QUERIES_FOR_TAB):
        few = staff_client.get(url)
    for number in range(14, 60):
        add(number, "applied")
    with django_assert_num_queries(QUERIES_FOR_TAB):
        many = staff_client.get(url)

    html = few.content.decode()
    assert few.status_code == 200
    subjects = [message.subject for message in few.context["notifications"]]
    assert subjects[:2] == ["702-0000000-0000001", "702-0000000-0000012"]
    assert len(subjects) == 12  # the other channel's are not shown
    assert "no such order" in html and "Other seller" not in html
    assert len(many.context["notifications"]) == 58
    sync_history = staff_client.get(f"/settings/integrations/marketplaces/{channel.id}/history/")
    assert url in sync_history.content.decode()


def test_the_notifications_tab_shows_the_messages_of_no_channel_with_their_reason(
    staff_client: Client,
) -> None:
    """A message that could not be read, or that names a seller or marketplace without a
    channel, belongs to no channel: shown with the channel's own, never hidden."""
    from marketplaces.models import NotificationMessage

    channel = SalesChannelFactory.create()
    NotificationMessage.objects.create(
        notification_id="sqs:m-1",
        status="failed",
        reason="the message is not JSON (Expecting value: line 1 column 1 (char 0))",
        payload={"body": "{not json", "truncated": False},
    )
    NotificationMessage.objects.create(
        notification_id="n-2",
        notification_type="ORDER_CHANGE",
        seller_id="A1OTHERSELLER99",
        subject="702-1111111-1111111",
        status="ignored",
        reason="No sales channel here for seller A1OTHERSELLER99 on marketplace A2EUQ1WTGCTBG2",
    )

    response = staff_client.get(
        f"/settings/integrations/marketplaces/{channel.id}/history/notifications/"
    )

    html = response.content.decode()
    assert [m.notification_id for m in response.context["notifications"]] == ["sqs:m-1", "n-2"]
    assert "the message is not JSON" in html
    assert "No sales channel here for seller A1OTHERSELLER99" in html


# The session, the user, the channel and the messages (the other queries are the layout's).
QUERIES_FOR_TAB = 4
