"""Sync Manually: validation starts nothing; a valid request queues one manual run."""

from __future__ import annotations

from datetime import datetime, time, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces.models import SalesChannel
from spapi_simulator import DEFAULT_SELLER_ID, Simulator
from synchistory.models import SyncRun
from tests.factories import ListingFactory, SalesChannelFactory, SyncRunFactory

pytestmark = pytest.mark.django_db


def url(channel: SalesChannel, suffix: str = "") -> str:
    return f"/settings/integrations/marketplaces/{channel.id}/sync/{suffix}"


def period(start: object, end: object, kind: str = "orders") -> dict[str, str]:
    return {
        "kind": kind,
        "fetch_from": "specific_period",
        "start_date": str(start),
        "end_date": str(end),
    }


def test_staff_see_the_page_but_cannot_start(staff_client: Client) -> None:
    channel = SalesChannelFactory.create()
    html = staff_client.get(url(channel)).content.decode()
    assert "Fetch records from" in html and "Specific Period" in html
    assert "Initiate Sync" not in html
    assert staff_client.post(url(channel), {"kind": "orders"}).status_code == 403
    assert not SyncRun.objects.exists()


@pytest.mark.parametrize(
    ("start_days_ago", "end_days_ago", "field", "message"),
    [
        (3, 5, "end_date", "The end date is before the start date."),
        (-1, 0, "start_date", "This date is in the future."),
        (2, -2, "end_date", "This date is in the future."),
        (731, 700, "start_date", "Amazon keeps two years of orders"),
    ],
)
def test_it_refuses_bad_dates_next_to_the_field(
    admin_client: Client, start_days_ago: int, end_days_ago: int, field: str, message: str
) -> None:
    channel = SalesChannelFactory.create()
    today = timezone.localdate()
    response = admin_client.post(
        url(channel),
        period(today - timedelta(days=start_days_ago), today - timedelta(days=end_days_ago)),
    )
    assert response.status_code == 400
    form = response.context["form"]
    assert any(message in error for error in form.errors[field])
    assert message in response.content.decode()
    assert not SyncRun.objects.exists()


def test_it_requires_both_dates_of_a_period(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    response = admin_client.post(url(channel), period("", ""))
    assert set(response.context["form"].errors) == {"start_date", "end_date"}
    assert not SyncRun.objects.exists()


def test_it_refuses_an_inactive_channel(admin_client: Client) -> None:
    channel = SalesChannelFactory.create(status=SalesChannel.Status.INACTIVE)
    response = admin_client.post(url(channel), {"kind": "orders", "fetch_from": "since_last_sync"})
    assert response.status_code == 400
    assert "nothing syncs until it is re-enabled" in response.content.decode()
    assert not SyncRun.objects.exists()


def test_it_refuses_a_second_sync_of_the_same_kind(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    running = SyncRunFactory.create(channel=channel, kind="orders", status="running")
    response = admin_client.post(url(channel), {"kind": "orders", "fetch_from": "since_last_sync"})
    assert response.status_code == 400
    assert f"already running for this channel (run #{running.id})" in response.content.decode()
    assert SyncRun.objects.count() == 1


def test_it_starts_a_manual_sync_for_a_period(admin_client: Client, admin_user: object) -> None:
    channel = SalesChannelFactory.create()
    today = timezone.localdate()
    start, end = today - timedelta(days=10), today - timedelta(days=3)
    response = admin_client.post(url(channel), period(start, end))
    run = SyncRun.objects.get()
    assert response["Location"] == f"/sync-runs/{run.id}/"
    assert (run.kind, run.trigger, run.status) == ("orders", "manual", "queued")
    assert run.requested_by == admin_user
    assert run.window_start == timezone.make_aware(datetime.combine(start, time.min))
    assert run.window_end == timezone.make_aware(datetime.combine(end, time.max))


def test_an_end_date_of_today_means_until_now(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    today = timezone.localdate()
    admin_client.post(url(channel), period(today - timedelta(days=1), today, kind="items"))
    run = SyncRun.objects.get()
    assert run.kind == "items"
    assert run.window_end is None


def test_since_last_sync_leaves_the_window_to_the_checkpoint(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    admin_client.post(url(channel), {"kind": "orders", "fetch_from": "since_last_sync"})
    run = SyncRun.objects.get()
    assert (run.window_start, run.window_end) == (None, None)


def test_it_estimates_items_from_the_listings(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    ListingFactory.create_batch(3, channel=channel)
    response = admin_client.post(
        url(channel, "estimate/"),
        {"kind": "items", "fetch_from": "since_last_sync"},
        headers={"HX-Request": "true"},
    )
    assert "<strong>3 items</strong>" in response.content.decode()
    assert not SyncRun.objects.exists()


def test_the_estimate_shows_form_errors(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    today = timezone.localdate()
    response = admin_client.post(
        url(channel, "estimate/"),
        period(today, today - timedelta(days=1)),
        headers={"HX-Request": "true"},
    )
    assert "Correct the errors" in response.content.decode()


def test_it_estimates_orders_with_amazon(admin_client: Client, amazon_settings: Simulator) -> None:
    channel = SalesChannelFactory.create(
        seller_id=DEFAULT_SELLER_ID,
        refresh_token="Atzr|simulator",
        spapi_endpoint=amazon_settings.base_url,
        lwa_endpoint=amazon_settings.base_url,
    )
    today = timezone.localdate()
    response = admin_client.post(
        url(channel, "estimate/"),
        period(today - timedelta(days=30), today),
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert " orders</strong>" in html or " order</strong>" in html, html
    assert not SyncRun.objects.exists()


def test_the_estimate_says_when_amazon_fails(admin_client: Client) -> None:
    channel = SalesChannelFactory.create(
        spapi_endpoint="http://127.0.0.1:9", lwa_endpoint="http://127.0.0.1:9"
    )
    response = admin_client.post(
        url(channel, "estimate/"),
        {"kind": "orders", "fetch_from": "since_last_sync"},
        headers={"HX-Request": "true"},
    )
    assert "could not estimate:" in response.content.decode()
