"""Amazon notifications in a real browser: an admin turns them on from Show Details against the
simulator and moto's SQS, sees them on with their health, and turns them off."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from playwright.sync_api import Page, expect

from marketplaces.models import NotificationMessage, NotificationSetup, SalesChannel
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from tests.helpers.browser import screenshot
from tests.helpers.sqs import SqsServer, receive_all

DOCS_SCREENSHOT = Path(__file__).resolve().parents[2] / "docs" / "screenshots" / "notifications.png"


def test_an_admin_turns_notifications_on_from_show_details(
    admin_page: Page,
    amazon_settings: Simulator,
    channel: SalesChannel,
    sqs_server: SqsServer,
    sqs_queue: tuple[str, str],
    sqs: Any,
    settings: Any,
) -> None:
    page = admin_page
    sim = amazon_settings
    sim_post(sim, "/_sim/notifications", {"sqsEndpointUrl": sqs_server.endpoint_url})
    settings.AMAZON_NOTIFICATIONS_QUEUE_ARN = sqs_queue[1]
    page.goto(f"/settings/integrations/marketplaces/{channel.id}/")
    panel = page.locator("#notifications")
    expect(panel.locator("#notifications-status")).to_have_text("Off")

    panel.get_by_role("button", name="Turn on").click()

    expect(page.get_by_text("Amazon notifications are on")).to_be_visible()
    expect(panel.locator("#notifications-status")).to_have_text("On")
    expect(panel.locator("#notifications-types")).to_have_text("ORDER_CHANGE")
    expect(panel.locator("#notifications-queue")).to_have_text(sqs_queue[1])
    expect(panel.locator("#notifications-waiting")).to_be_visible()
    [subscription] = sim_get(sim, "/_sim/notifications")["subscriptions"]
    assert NotificationSetup.objects.get().subscriptions == {
        "ORDER_CHANGE": subscription["subscriptionId"]
    }

    # Amazon sends the next order change to the queue; what the consumer records of it is the
    # panel's health (the consumer itself is not under test here).
    order = sim_post(sim, "/_sim/orders", {"count": 1, "fulfilledBy": "MERCHANT"})["orders"][0]
    # The first of them (Amazon tells of a new order twice: created, then paid).
    body = receive_all(sqs, sqs_queue[0], expect=1)[0]
    NotificationMessage.objects.create(
        notification_id=body["NotificationMetadata"]["NotificationId"],
        notification_type=body["NotificationType"],
        seller_id=channel.seller_id,
        channel=channel,
        subject=order["orderId"],
        status=NotificationMessage.Status.APPLIED,
        payload=body,
    )
    page.reload()
    expect(panel.locator("#notifications-healthy")).to_be_visible()
    expect(panel.locator("#notifications-received")).to_have_text("1")
    expect(panel.locator("#notifications-failed")).to_have_text("0")
    panel.scroll_into_view_if_needed()
    screenshot(page, "notifications")
    panel.screenshot(path=str(DOCS_SCREENSHOT))

    panel.get_by_role("button", name="Turn off").click()

    expect(page.get_by_text("Amazon notifications are off")).to_be_visible()
    expect(panel.locator("#notifications-status")).to_have_text("Off")
    assert sim_get(sim, "/_sim/notifications")["subscriptions"] == []
