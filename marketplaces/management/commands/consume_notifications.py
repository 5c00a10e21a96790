"""``manage.py consume_notifications``: read Amazon's notifications from the seller's SQS queue
and apply them, until SIGTERM or SIGINT.

A long-running process of its own (``make run``, the ``notifications`` service of
docker-compose.yml): one long poll after another, one log line per batch that brought
messages. SQS or the database unreachable: logged, then tried again after a back-off (2 s
doubling to a minute), never an exit. One per deployment is enough; more are safe, since each
message is applied once (marketplaces/notification_consumer.py).
"""

from __future__ import annotations

import logging
import signal
import threading
from types import FrameType
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import DatabaseError, close_old_connections

from marketplaces.amazon import sqs
from marketplaces.notification_consumer import Consumer

logger = logging.getLogger("marketplaces.notifications")

MAX_BACKOFF = 60.0


class _Stop(BaseException):  # noqa: N818 - a signal, like KeyboardInterrupt, not an error
    """Raised by the signal handler to cut a long poll short (nothing is being applied).

    Not an Exception: botocore takes any Exception raised inside a request for a failed attempt
    and sends the request again, so the poll went on to its end (20 s, longer than the 10 s
    docker gives before its SIGKILL)."""


class Command(BaseCommand):
    help = "Read Amazon's notifications from the SQS queue and apply them (until SIGTERM)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--queue-arn",
            default="",
            help="The SQS queue's ARN (default: AMAZON_NOTIFICATIONS_QUEUE_ARN).",
        )
        parser.add_argument(
            "--wait-seconds",
            type=int,
            default=sqs.WAIT_SECONDS,
            help="Long-poll wait per ReceiveMessage, 0 to 20 (default 20).",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        arn = options["queue_arn"] or settings.AMAZON_NOTIFICATIONS_QUEUE_ARN
        wait_seconds = options["wait_seconds"]
        if not 0 <= wait_seconds <= sqs.WAIT_SECONDS:
            raise CommandError("--wait-seconds must be between 0 and 20.")
        stop = threading.Event()
        polling = threading.Event()  # set while blocked in ReceiveMessage

        def on_signal(signum: int, frame: FrameType | None) -> None:
            stop.set()
            if polling.is_set():
                polling.clear()
                raise _Stop  # nothing received is lost: unread messages come back after a while

        signal.signal(signal.SIGTERM, on_signal)
        signal.signal(signal.SIGINT, on_signal)

        if not arn:
            logger.warning(
                "AMAZON_NOTIFICATIONS_QUEUE_ARN is not set: no notifications to read; waiting "
                "to be stopped (orders are still polled)"
            )
            stop.wait()
            return
        try:
            consumer = Consumer(arn)
        except ValueError as error:
            raise CommandError(str(error)) from None
        logger.info(
            "Reading notifications from %s (%s)", arn, settings.SQS_ENDPOINT_URL or "AWS SQS"
        )
        failures = 0
        while not stop.is_set():
            close_old_connections()  # a connection the database dropped while we waited
            try:
                batch = consumer.run_once(wait_seconds=wait_seconds, receiving=polling)
            except _Stop:
                break
            except (sqs.SqsUnavailable, DatabaseError) as error:
                failures += 1
                pause = min(MAX_BACKOFF, 2.0 * 2 ** (failures - 1))
                logger.warning("Notifications: %s; trying again in %.0f s", error, pause)
                stop.wait(pause)
                continue
            if batch.received:
                logger.info("Notifications: %s", batch.summary())
            if batch.database_errors and batch.database_errors == batch.received:
                failures += 1
                stop.wait(min(MAX_BACKOFF, 2.0 * 2 ** (failures - 1)))
            else:
                failures = 0
        logger.info("Notifications consumer stopped")
