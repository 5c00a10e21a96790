"""``manage.py amazon_notifications enable|disable|status --channel CHANNEL``: the seller's
Amazon notifications, as Show Details' Notifications panel turns them on and off.

CHANNEL is the sales channel's id or name; notifications are the seller's, so any channel of
the seller does. Same services as the page (``marketplaces.notifications``), same audit events.
Exit codes: 0 done, 1 refused or failed (the reason is printed).
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.utils import timezone

from accounts import audit
from marketplaces import notifications, queries
from marketplaces.management.commands.sync_channel import find_channel
from marketplaces.models import NotificationSetup, SalesChannel

COMMAND = audit.Actor.command("amazon_notifications")


class Command(BaseCommand):
    help = "Turn a seller's Amazon notifications (ORDER_CHANGE to its SQS queue) on or off."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("action", choices=["enable", "disable", "status"])
        parser.add_argument(
            "--channel", required=True, help="the sales channel's id or name (any of the seller's)"
        )

    def handle(self, *args: Any, **options: Any) -> None:
        channel = find_channel(options["channel"])
        action = options["action"]
        if action == "enable":
            try:
                setup = notifications.enable(channel, actor=COMMAND)
            except ValidationError as error:
                raise CommandError(" ".join(error.messages)) from None
            if setup.status != NotificationSetup.Status.ENABLED:
                raise CommandError(f"Not turned on: {setup.status_reason}")
            self.stdout.write(
                self.style.SUCCESS(f"Notifications are on for seller {setup.seller_id}.")
            )
        elif action == "disable":
            setup = notifications.disable(channel, actor=COMMAND)
            if setup.status != NotificationSetup.Status.DISABLED:
                raise CommandError(setup.status_reason)
            self.stdout.write(
                self.style.SUCCESS(
                    f"Notifications are off for seller {setup.seller_id}: orders come by polling."
                )
            )
        self.status(channel)

    def status(self, channel: SalesChannel) -> None:
        now = timezone.now()
        health = queries.notification_health(channel, now)
        setup = health.setup
        queue = notifications.configured_queue()
        write = self.stdout.write
        write(f"Seller:        {channel.seller_id}")
        write(f"Status:        {setup.get_status_display() if setup else 'Off'}")
        if setup and setup.status_reason:
            write(f"Reason:        {setup.status_reason}")
        write(f"Queue:         {(setup.queue_arn if setup else '') or queue.arn or '(not set)'}")
        if not queue.usable:
            write(f"Setting:       {queue.problem}")
        subscribed = ", ".join(sorted(setup.subscriptions)) if setup else ""
        write(f"Subscribed to: {subscribed or '-'}")
        last = health.last_received_at
        write(
            "Last message:  "
            + (f"{int((now - last).total_seconds() // 60)} minutes ago" if last else "none yet")
        )
        write(f"Today:         {health.received_today} received, {health.failed_today} failed")
        if health.quiet_since:
            hours = (now - health.quiet_since).total_seconds() / 3600
            write(
                self.style.WARNING(
                    f"Not healthy: nothing from Amazon for {hours:.1f} hours; polling still "
                    "brings orders in. Check the consumer and the queue policy."
                )
            )
