"""``manage.py consume_notifications`` as the process it is in production: it reads moto's SQS
server, imports what the simulator's notifications announce into the real database, and stops
cleanly on SIGTERM, even in the middle of a long poll."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from django.db import connection
from django.utils import timezone

from marketplaces.models import NotificationMessage, SalesChannel, SalesOrder
from spapi_simulator import Simulator
from tests.amazon.test_notification_consumer import place_order, subscribe
from tests.helpers.services import require_service
from tests.helpers.sqs import CREDENTIALS, REGION, SqsServer
from tests.helpers.workers import ROOT, database_url, worker_env

WAIT_SECONDS = 30.0


@pytest.fixture
def live_sim(sim_factory: Any, sqs_server: SqsServer) -> Simulator:
    return sim_factory(
        start_time=timezone.now().replace(microsecond=0),
        enforce_rate_limits=False,
        order_interval_seconds=0,
        sqs_endpoint_url=sqs_server.endpoint_url,
    )


def start_consumer(log_path: Path, arn: str, endpoint: str, *extra: str) -> subprocess.Popen[bytes]:
    env = worker_env(
        {
            "DATABASE_URL": database_url(connection.settings_dict),
            "AMAZON_NOTIFICATIONS_QUEUE_ARN": arn,
            "SQS_ENDPOINT_URL": endpoint,
            "AWS_REGION": REGION,
            "AWS_ACCESS_KEY_ID": CREDENTIALS["aws_access_key_id"],
            "AWS_SECRET_ACCESS_KEY": CREDENTIALS["aws_secret_access_key"],
            "AMAZON_ALLOW_SIMULATOR_HOSTS": "true",
        }
    )
    with log_path.open("wb") as log:
        return subprocess.Popen(
            [sys.executable, str(ROOT / "manage.py"), "consume_notifications", *extra],
            cwd=ROOT,
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
        )


# What a SIGTERM in the middle of a long poll may take: docker stop gives 10 s, then SIGKILL.
PROMPT_STOP_SECONDS = 5.0


def stop(process: subprocess.Popen[bytes]) -> int | None:
    """SIGTERM, then the exit code (None: it did not stop promptly, and was killed)."""
    process.send_signal(signal.SIGTERM)
    try:
        return process.wait(timeout=PROMPT_STOP_SECONDS)
    except subprocess.TimeoutExpired:
        process.kill()
        process.wait()
        return None


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_consumer_process_imports_notified_orders_and_stops_on_sigterm(
    amazon_settings: Simulator,
    channel: SalesChannel,
    sqs_server: SqsServer,
    sqs_queue: tuple[str, str],
    tmp_path: Path,
) -> None:
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    _, arn = sqs_queue
    subscribe(amazon_settings, arn)
    log_path = tmp_path / "consumer.log"
    # The default 20-second long poll: SIGTERM must cut it short.
    process = start_consumer(log_path, arn, sqs_server.endpoint_url)
    try:
        order_id = place_order(amazon_settings, fulfillmentStatus="UNSHIPPED")
        deadline = time.monotonic() + WAIT_SECONDS
        while not SalesOrder.objects.filter(amazon_order_id=order_id).exists():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
        while NotificationMessage.objects.count() < 2 and time.monotonic() < deadline:
            time.sleep(0.2)
    finally:
        code = stop(process)

    log = log_path.read_text()
    assert code == 0, log
    assert set(NotificationMessage.objects.values_list("status", flat=True)) == {
        "applied",
        "ignored",
    }
    assert "Notifications: 1 received" in log or "Notifications: 2 received" in log
    assert log.rstrip().endswith("Notifications consumer stopped")


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_the_consumer_survives_an_unreachable_sqs_and_still_stops(
    sqs_server: SqsServer, tmp_path: Path
) -> None:
    require_service(connection.vendor == "postgresql", "PostgreSQL (DATABASE_URL)")
    log_path = tmp_path / "consumer.log"
    arn = "arn:aws:sqs:us-east-1:123456789012:no-such-queue"
    process = start_consumer(log_path, arn, sqs_server.endpoint_url)
    try:
        deadline = time.monotonic() + WAIT_SECONDS
        while "trying again in" not in log_path.read_text():
            assert process.poll() is None, log_path.read_text()
            assert time.monotonic() < deadline, log_path.read_text()
            time.sleep(0.2)
    finally:
        code = stop(process)

    assert code == 0, log_path.read_text()
    assert "GetQueueUrl no-such-queue" in log_path.read_text()
