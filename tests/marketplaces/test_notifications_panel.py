"""Show Details' Notifications panel: status, queue, types, health; Turn on / Turn off for
admins (against the simulator and moto's SQS), status only for staff."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.db import connection
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.utils import timezone

from accounts.models import AuditEvent
from marketplaces import queries
from marketplaces.models import NotificationMessage, NotificationSetup, SalesChannel
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from tests.factories import SalesChannelFactory
from tests.helpers.sqs import SqsServer

pytestmark = pytest.mark.django_db

ARN = "arn:aws:sqs:us-east-1:123456789012:inventory-sync"


def detail(client: Client, channel: SalesChannel) -> str:
    answer = client.get(f"/settings/integrations/marketplaces/{channel.id}/")
    assert answer.status_code == 200
    return str(answer.content.decode())


def message(seller_id: str, minutes_ago: float, status: str = "applied", n: int = 0) -> None:
    row = NotificationMessage.objects.create(
        notification_id=f"n-{seller_id}-{minutes_ago}-{n}",
        notification_type="ORDER_CHANGE",
        seller_id=seller_id,
        status=status,
    )
    # received_at is auto_now_add: move it back as if it came then.
    NotificationMessage.objects.filter(id=row.id).update(
        received_at=timezone.now() - timedelta(minutes=minutes_ago)
    )


def test_without_a_queue_the_panel_says_what_to_set(admin_client: Client, settings: Any) -> None:
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = ""
    html = detail(admin_client, SalesChannelFactory.create())
    assert 'id="notifications-setting"' in html
    assert "Set AMAZON_NOTIFICATIONS_QUEUE_ARN" in html
    assert 'name="notifications" value="on"' not in html


def test_admin_turns_them_on_and_off_from_show_details(
    admin_client: Client,
    amazon_settings: Simulator,
    channel: SalesChannel,
    sqs_server: SqsServer,
    sqs_queue: tuple[str, str],
    settings: Any,
) -> None:
    sim_post(amazon_settings, "/_sim/notifications", {"sqsEndpointUrl": sqs_server.endpoint_url})
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = sqs_queue[1]
    html = detail(admin_client, channel)
    assert 'name="notifications" value="on"' in html
    assert sqs_queue[1] in html

    url = f"/settings/integrations/marketplaces/{channel.id}/notifications/"
    answer = admin_client.post(url, {"notifications": "on"}, follow=True)

    html = answer.content.decode()
    assert "Amazon notifications are on" in html
    assert "<code>ORDER_CHANGE</code>" in html
    assert 'name="notifications" value="off"' in html
    assert len(sim_get(amazon_settings, "/_sim/notifications")["subscriptions"]) == 1
    assert AuditEvent.objects.filter(action="notifications-enabled").get().username

    answer = admin_client.post(url, {"notifications": "off"}, follow=True)

    assert "Amazon notifications are off" in answer.content.decode()
    assert sim_get(amazon_settings, "/_sim/notifications")["subscriptions"] == []
    assert NotificationSetup.objects.get().status == NotificationSetup.Status.DISABLED


def test_a_refusal_is_shown_with_amazons_reason(
    admin_client: Client, amazon_settings: Simulator, channel: SalesChannel, settings: Any
) -> None:
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = "arn:aws:sqs:us-east-1:123456789012:" + "q" * 1000
    url = f"/settings/integrations/marketplaces/{channel.id}/notifications/"
    html = admin_client.post(url, {"notifications": "on"}, follow=True).content.decode()
    assert "resourceSpecification.sqs.arn must be an SQS queue ARN" in html
    assert 'id="notifications-reason"' in html
    assert "Could not be turned on" in html
    assert "Try again" in html


def test_staff_see_the_status_only(staff_client: Client, settings: Any) -> None:
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = ARN
    channel = SalesChannelFactory.create()
    NotificationSetup.objects.create(
        seller_id=channel.seller_id,
        status=NotificationSetup.Status.ENABLED,
        queue_arn=ARN,
        subscriptions={"ORDER_CHANGE": "sub-1"},
        enabled_at=timezone.now() - timedelta(hours=1),
    )
    html = detail(staff_client, channel)
    assert "notifications-enabled" in html
    assert 'name="notifications"' not in html
    url = f"/settings/integrations/marketplaces/{channel.id}/notifications/"
    assert staff_client.post(url, {"notifications": "off"}).status_code == 403
    assert NotificationSetup.objects.get().status == NotificationSetup.Status.ENABLED


def test_health_counts_todays_messages_of_the_seller(admin_client: Client, settings: Any) -> None:
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = ARN
    channel = SalesChannelFactory.create()
    NotificationSetup.objects.create(
        seller_id=channel.seller_id,
        status=NotificationSetup.Status.ENABLED,
        queue_arn=ARN,
        subscriptions={"ORDER_CHANGE": "sub-1"},
        enabled_at=timezone.now() - timedelta(days=3),
    )
    message(channel.seller_id, 5)
    message(channel.seller_id, 6, status="failed")
    message(channel.seller_id, 7, status="ignored")
    message(channel.seller_id, 60 * 24 * 2, status="failed")  # two days ago: not today
    message("A-OTHER-SELLER", 1)
    now = timezone.now()
    midnight = timezone.localtime(now).replace(hour=0, minute=0, second=0, microsecond=0)
    today = 3 if now - midnight > timedelta(minutes=7) else None  # just after midnight: fewer

    with CaptureQueriesContext(connection) as counted:
        health = queries.notification_health(channel, now)
    assert len(counted) == 2
    if today is not None:
        assert (health.received_today, health.failed_today) == (3, 1)
    assert health.last_received_at is not None
    assert now - health.last_received_at < timedelta(minutes=6)
    assert health.healthy

    html = detail(admin_client, channel)
    assert 'id="notifications-healthy"' in html
    assert 'id="notifications-quiet"' not in html


def test_nothing_for_more_than_two_hours_is_not_healthy(
    admin_client: Client, settings: Any
) -> None:
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = ARN
    channel = SalesChannelFactory.create()
    NotificationSetup.objects.create(
        seller_id=channel.seller_id,
        status=NotificationSetup.Status.ENABLED,
        queue_arn=ARN,
        subscriptions={"ORDER_CHANGE": "sub-1"},
        enabled_at=timezone.now() - timedelta(days=1),
    )
    message(channel.seller_id, 180)

    html = detail(admin_client, channel)

    assert 'id="notifications-quiet"' in html
    assert "Not healthy: nothing has come from Amazon for 3" in html
    assert 'id="notifications-healthy"' not in html
