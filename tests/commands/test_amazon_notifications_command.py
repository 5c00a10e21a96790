"""``manage.py amazon_notifications``: enable, status, disable, against the simulator."""

from __future__ import annotations

from io import StringIO
from typing import Any

import pytest
from django.core.management import CommandError, call_command

from accounts.models import AuditEvent
from marketplaces.models import NotificationSetup, SalesChannel
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from tests.helpers.sqs import SqsServer

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = StringIO()
    call_command("amazon_notifications", *args, stdout=out)
    return out.getvalue()


def test_enable_status_disable(
    amazon_settings: Simulator,
    channel: SalesChannel,
    sqs_server: SqsServer,
    sqs_queue: tuple[str, str],
    settings: Any,
) -> None:
    sim_post(amazon_settings, "/_sim/notifications", {"sqsEndpointUrl": sqs_server.endpoint_url})
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = sqs_queue[1]

    out = run("enable", "--channel", channel.name)
    assert "Notifications are on" in out
    assert "Subscribed to: ORDER_CHANGE" in out
    assert sqs_queue[1] in out
    assert AuditEvent.objects.get(action="notifications-enabled").user_agent == (
        "manage.py amazon_notifications"
    )

    assert "Status:        On" in run("status", "--channel", str(channel.id))

    out = run("disable", "--channel", str(channel.id))
    assert "Notifications are off" in out
    assert sim_get(amazon_settings, "/_sim/notifications")["subscriptions"] == []
    assert NotificationSetup.objects.get().status == NotificationSetup.Status.DISABLED


def test_enable_without_a_queue_says_what_to_set(channel: SalesChannel, settings: Any) -> None:
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = ""
    with pytest.raises(CommandError, match="Set AMAZON_NOTIFICATIONS_QUEUE_ARN"):
        run("enable", "--channel", str(channel.id))


def test_an_unknown_channel_is_named(db: None) -> None:
    with pytest.raises(CommandError, match="No sales channel 'nope'"):
        run("status", "--channel", "nope")
