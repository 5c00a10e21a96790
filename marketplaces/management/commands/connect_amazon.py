"""Connect an Amazon seller account from the shell.

The refresh token is read from standard input or AMAZON_REFRESH_TOKEN, never from the command
line, where it would land in the shell history and the process list.
"""

from __future__ import annotations

import os
import sys
from datetime import timedelta
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser

from accounts import audit
from accounts.models import User
from marketplaces.connect import add_marketplace, connect_channel, seller_marketplaces
from marketplaces.models import (
    AMAZON_LWA_ENDPOINT,
    AMAZON_NA_ENDPOINT,
    MARKETPLACES,
    SalesChannel,
)


class Command(BaseCommand):
    help = (
        "Connect an Amazon seller account: a sales channel per marketplace asked for (default "
        "Amazon.ca), from one authorization. The refresh token comes from standard input or "
        "the AMAZON_REFRESH_TOKEN environment variable."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--name", required=True, help="The sales channel's name.")
        parser.add_argument("--seller-id", required=True, help="The selling partner id.")
        parser.add_argument(
            "--endpoint", default=AMAZON_NA_ENDPOINT, help="SP-API base URL (default: Amazon NA)."
        )
        parser.add_argument(
            "--lwa-endpoint",
            default=AMAZON_LWA_ENDPOINT,
            help="Login with Amazon base URL; /auth/o2/token is appended (default: Amazon's).",
        )
        parser.add_argument(
            "--lookback-days", type=int, default=7, help="Orders of how many past days to import."
        )
        parser.add_argument(
            "--marketplace",
            action="append",
            choices=list(MARKETPLACES),
            help="A marketplace to connect (repeat for several; default amazon_ca). The "
            "others the authorization covers are listed.",
        )
        parser.add_argument(
            "--user",
            default="",
            help="Username the connection is made by, in the audit log (default: the system).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        token = os.environ.get("AMAZON_REFRESH_TOKEN", "").strip()
        if not token and not sys.stdin.isatty():
            token = sys.stdin.readline().strip()
        if not token:
            raise CommandError(
                "No refresh token: pipe it on standard input or set AMAZON_REFRESH_TOKEN."
            )
        user = None
        if options["user"]:
            user = User.objects.filter(username=options["user"], is_active=True).first()
            if user is None:
                raise CommandError(f"No active user named {options['user']!r}.")
        first, *more = options["marketplace"] or [SalesChannel.Marketplace.AMAZON_CA]
        actor = audit.Actor.command("connect_amazon", user)
        try:
            channel = connect_channel(
                name=options["name"],
                seller_id=options["seller_id"],
                refresh_token=token,
                spapi_endpoint=options["endpoint"],
                lwa_endpoint=options["lwa_endpoint"],
                initial_lookback=timedelta(days=options["lookback_days"]),
                user=user,
                actor=actor,
                via="command",
                marketplace=first,
            )
            channels = [channel] + [
                add_marketplace(channel, code, user=user, actor=actor)
                for code in dict.fromkeys(more)
                if code != first
            ]
        except ValidationError as error:
            raise CommandError(" ".join(error.messages)) from None
        for connected in channels:
            self.stdout.write(
                self.style.SUCCESS(
                    f"Connected {connected.name} (seller {connected.seller_id}); the initial "
                    "sync of items and orders is queued."
                )
            )
        try:
            others = [
                m for m in seller_marketplaces(channel) if m.participating and m.channel is None
            ]
        except ValidationError:
            others = []
        if others:
            names = ", ".join(m.info.name for m in others)
            self.stdout.write(
                f"The authorization also covers {names}: add them with --marketplace, or "
                "under the channel's Marketplaces page."
            )
