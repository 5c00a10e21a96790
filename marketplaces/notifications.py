"""Amazon notifications, the subscribing side: turn them on or off for a seller.

Turning on makes sure Amazon has an SQS destination for the seller's queue
(``AMAZON_NOTIFICATIONS_QUEUE_ARN``; the application's destination for that ARN is reused,
whichever seller made it) and the seller's subscriptions to it: ``ORDER_CHANGE`` always
(filtered to the changes the product acts on), ``FBA_INVENTORY_AVAILABILITY_CHANGES`` when the
seller has FBA listings. A subscription Amazon already has (409) is looked up and reused, or
replaced when it sends to another destination, so turning on twice changes nothing. What was
done is recorded on the seller's ``NotificationSetup``; a failure too, with Amazon's reason.

Turning off deletes the subscriptions (``deleteSubscriptionById``), never the destination: it
is the application's and may serve the application's other sellers.

Disabling the last active channel of a seller turns its notifications off and remembers that
they were on (``resume_with_channel``); re-enabling one of its channels turns them on again.
Nothing else turns them on by itself.

Calls to Amazon are made outside any transaction (the rate limiter may sleep); the setup row
is written after each step.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts import audit
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import AmazonError, AmazonRejected
from marketplaces.amazon.sqs import parse_queue_arn
from marketplaces.amazon.types import NotificationDestination
from marketplaces.models import (
    FulfillmentChannel,
    Listing,
    NotificationSetup,
    SalesChannel,
)

logger = logging.getLogger(__name__)

ORDER_CHANGE = "ORDER_CHANGE"
FBA_INVENTORY_AVAILABILITY_CHANGES = "FBA_INVENTORY_AVAILABILITY_CHANGES"
# The payload version each type is subscribed with (the payload schemas beside
# notifications.json are version 1.0).
PAYLOAD_VERSIONS = {ORDER_CHANGE: "1.0", FBA_INVENTORY_AVAILABILITY_CHANGES: "1.0"}
# The order changes the product acts on: new orders and status changes (confirmed, shipped,
# cancelled) and a buyer's cancellation. Delivery tips change nothing here.
ORDER_CHANGE_TYPES = ["OrderStatusChange", "BuyerRequestedChange"]
ORDER_CHANGE_DIRECTIVE = {
    "eventFilter": {"eventFilterType": ORDER_CHANGE, "orderChangeTypes": ORDER_CHANGE_TYPES}
}
DESTINATION_NAME = "inventory-sync"
CONFLICT = 409


@dataclass(frozen=True)
class QueueSetting:
    """The configured queue: its ARN, or why notifications cannot be turned on."""

    arn: str
    problem: str

    @property
    def usable(self) -> bool:
        return not self.problem


def configured_queue() -> QueueSetting:
    arn = (settings.AMAZON_NOTIFICATIONS_QUEUE_ARN or "").strip()
    if not arn:
        return QueueSetting(
            "",
            "Set AMAZON_NOTIFICATIONS_QUEUE_ARN to the ARN of the seller's SQS queue (see the "
            "README, “Orders within seconds: Amazon notifications”), then restart.",
        )
    try:
        parse_queue_arn(arn)
    except ValueError as error:
        return QueueSetting(arn, f"AMAZON_NOTIFICATIONS_QUEUE_ARN: {error}.")
    return QueueSetting(arn, "")


def setup_for(seller_id: str) -> NotificationSetup | None:
    return NotificationSetup.objects.filter(seller_id__iexact=seller_id).first()


def _setup(seller_id: str) -> NotificationSetup:
    existing = setup_for(seller_id)
    if existing is not None:
        return existing
    try:
        with transaction.atomic():
            return NotificationSetup.objects.create(seller_id=seller_id)
    except IntegrityError:  # made meanwhile by another request
        return NotificationSetup.objects.get(seller_id__iexact=seller_id)


def wanted_types(seller_id: str) -> list[str]:
    """ORDER_CHANGE, and FBA stock changes when the seller has FBA listings."""
    types = [ORDER_CHANGE]
    if Listing.objects.filter(
        channel__seller_id__iexact=seller_id, fulfillment_channel=FulfillmentChannel.AMAZON
    ).exists():
        types.append(FBA_INVENTORY_AVAILABILITY_CHANGES)
    return types


def _reason(error: AmazonError) -> str:
    if isinstance(error, AmazonRejected):
        answer = " ".join(str(part) for part in (error.status or "", error.code) if part)
        why = error.reason or "no reason given"
        return f"Amazon refused {error.operation}" + (f" ({answer})" if answer else "") + f": {why}"
    return str(error)


def _destination(client: AmazonClient, arn: str) -> NotificationDestination:
    """The application's destination for the queue: found, else made. Amazon answers 409 to a
    second destination for one ARN, so a 409 means one appeared since we looked."""
    for destination in client.get_destinations():
        if destination.queue_arn == arn:
            return destination
    try:
        return client.create_destination(DESTINATION_NAME, arn)
    except AmazonRejected as rejected:
        if rejected.status != CONFLICT:
            raise
    for destination in client.get_destinations():
        if destination.queue_arn == arn:
            return destination
    raise AmazonRejected(
        "createDestination",
        CONFLICT,
        "Conflict",
        f"Amazon says a destination for {arn} exists but does not list it",
    )


def _subscribe(client: AmazonClient, notification_type: str, destination_id: str) -> str:
    """The seller's subscription to the type on this destination: made, or the existing one
    (409); one that sends elsewhere (the queue changed) is deleted and made again."""
    directive = ORDER_CHANGE_DIRECTIVE if notification_type == ORDER_CHANGE else None
    version = PAYLOAD_VERSIONS[notification_type]
    for _attempt in range(2):
        try:
            return client.create_subscription(
                notification_type,
                destination_id,
                payload_version=version,
                processing_directive=directive,
            ).subscription_id
        except AmazonRejected as rejected:
            if rejected.status != CONFLICT:
                raise
        existing = client.get_subscription(notification_type)
        if existing is None:
            continue  # deleted meanwhile: make it again
        if existing.destination_id == destination_id:
            return existing.subscription_id
        client.delete_subscription(notification_type, existing.subscription_id)
    raise AmazonRejected(
        "createSubscription",
        CONFLICT,
        "Conflict",
        f"Amazon keeps answering that a {notification_type} subscription exists",
    )


def enable(channel: SalesChannel, *, actor: audit.Who) -> NotificationSetup:
    """Turn the seller's notifications on. Refused (ValidationError) without a usable queue
    setting or on an inactive channel; a failure at Amazon is recorded on the setup (status
    FAILED, Amazon's reason) and returned, never raised."""
    queue = configured_queue()
    if not queue.usable:
        raise ValidationError(queue.problem)
    if not channel.is_active:
        raise ValidationError(
            f"{channel.name} is {channel.get_status_display().lower()}: notifications can be "
            "turned on for an active channel."
        )
    setup = _setup(channel.seller_id)
    types = wanted_types(channel.seller_id)
    client = client_for(channel)
    subscriptions = dict(setup.subscriptions)
    try:
        destination = _destination(client, queue.arn)
        setup.destination_id = destination.destination_id
        setup.queue_arn = queue.arn
        for notification_type in types:
            subscriptions[notification_type] = _subscribe(
                client, notification_type, destination.destination_id
            )
    except AmazonError as error:
        reason = _reason(error)
        logger.warning("notifications for %s not turned on: %s", channel.seller_id, reason)
        setup.subscriptions = subscriptions  # what was made is deleted when turned off
        setup.status = NotificationSetup.Status.FAILED
        setup.status_reason = reason
        setup.resume_with_channel = False
        setup.save()
        audit.record(
            actor,
            "notifications-failed",
            target=channel,
            detail={"seller_id": channel.seller_id, "reason": reason},
        )
        return setup
    if setup.status != NotificationSetup.Status.ENABLED or setup.enabled_at is None:
        setup.enabled_at = timezone.now()
    setup.subscriptions = subscriptions
    setup.status = NotificationSetup.Status.ENABLED
    setup.status_reason = ""
    setup.resume_with_channel = False
    setup.save()
    audit.record(
        actor,
        "notifications-enabled",
        target=channel,
        detail={
            "seller_id": channel.seller_id,
            "queue_arn": queue.arn,
            "destination_id": setup.destination_id,
            "types": sorted(subscriptions),
        },
    )
    return setup


def disable(
    channel: SalesChannel, *, actor: audit.Who, resume_with_channel: bool = False
) -> NotificationSetup:
    """Turn the seller's notifications off: delete every recorded subscription (one Amazon no
    longer has counts as deleted). When Amazon cannot be reached or refuses, the subscriptions
    not deleted stay recorded, the status stays, and the reason is recorded and returned."""
    setup = _setup(channel.seller_id)
    remaining = dict(setup.subscriptions)
    if remaining:
        client = client_for(channel)
        try:
            for notification_type, subscription_id in list(remaining.items()):
                client.delete_subscription(notification_type, subscription_id)
                del remaining[notification_type]
        except AmazonError as error:
            reason = _reason(error)
            logger.warning("notifications for %s not turned off: %s", channel.seller_id, reason)
            setup.subscriptions = remaining
            setup.status_reason = f"Could not turn them off: {reason}"
            setup.save()
            audit.record(
                actor,
                "notifications-failed",
                target=channel,
                detail={"seller_id": channel.seller_id, "reason": setup.status_reason},
            )
            return setup
    was = setup.status
    setup.subscriptions = {}
    setup.status = NotificationSetup.Status.DISABLED
    setup.status_reason = ""
    setup.enabled_at = None
    setup.resume_with_channel = resume_with_channel and was == NotificationSetup.Status.ENABLED
    setup.save()
    audit.record(
        actor,
        "notifications-disabled",
        target=channel,
        detail={"seller_id": channel.seller_id, "channel_disabled": resume_with_channel},
    )
    return setup


def after_channel_disabled(channel: SalesChannel, *, actor: audit.Who) -> None:
    """The seller's last active channel was disabled: its notifications go off with it, and
    come back when one is re-enabled. Another active channel of the seller keeps them on."""
    setup = setup_for(channel.seller_id)
    if setup is None or not setup.subscriptions:
        return
    others = SalesChannel.objects.filter(
        seller_id__iexact=channel.seller_id, status=SalesChannel.Status.ACTIVE
    ).exclude(id=channel.id)
    if others.exists():
        return
    disable(channel, actor=actor, resume_with_channel=True)


def after_channel_enabled(channel: SalesChannel, *, actor: audit.Who) -> None:
    """Notifications that were on when the seller's channels were disabled are on again."""
    setup = setup_for(channel.seller_id)
    if setup is None or not setup.resume_with_channel or not configured_queue().usable:
        return
    enable(channel, actor=actor)
