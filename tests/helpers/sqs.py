"""A real SQS-API server for the tests: moto's server, as its own process on 127.0.0.1.

:class:`SqsServer` starts ``python -m moto.server`` on a free loopback port, waits until it
answers, and stops it; :func:`sqs_client` is boto3 talking to it unchanged through
``endpoint_url`` with dummy keys (a local SQS takes any), so nothing looks for real AWS
credentials (no instance-metadata lookup either). Used by the ``sqs_server`` fixture
(tests/fixtures/sqs.py); benchmarks may start one the same way.
"""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
import time
import uuid
from pathlib import Path
from typing import Any

REGION = "us-east-1"
ACCOUNT = "123456789012"  # moto's default account: queue ARNs and URLs carry it
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}


def free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class SqsServer:
    """``python -m moto.server`` on 127.0.0.1; ``endpoint_url`` once :meth:`start` returns."""

    def __init__(self, log_path: Path, port: int | None = None) -> None:
        self.port = port or free_port()
        self.endpoint_url = f"http://127.0.0.1:{self.port}"
        self.log_path = log_path
        self.process: subprocess.Popen[bytes] | None = None

    def start(self, timeout: float = 30.0) -> SqsServer:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        with self.log_path.open("wb") as log:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "moto.server", "-H", "127.0.0.1", "-p", str(self.port)],
                stdin=subprocess.DEVNULL,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
        deadline = time.monotonic() + timeout
        while not self.answers():
            if self.process.poll() is not None:
                raise RuntimeError(f"moto's server exited:\n{self.log_tail()}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"moto's server did not answer in {timeout:g} s")
            time.sleep(0.1)
        return self

    def answers(self) -> bool:
        """Whether an SQS ListQueues call gets an answer (the server has finished starting)."""
        try:
            sqs_client(self.endpoint_url).list_queues()
        except Exception:  # noqa: BLE001 - refused, reset, half-started: not yet
            return False
        return True

    def log_tail(self, lines: int = 40) -> str:
        try:
            text = self.log_path.read_text(encoding="utf-8", errors="replace")
        except FileNotFoundError:
            return "(no output)"
        return "\n".join(text.splitlines()[-lines:])

    def stop(self) -> None:
        if self.process is None or self.process.poll() is not None:
            return
        self.process.terminate()
        try:
            self.process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()


def sqs_client(endpoint_url: str, region: str = REGION) -> Any:
    """boto3's SQS client on a local SQS endpoint: dummy keys, no retries beyond one."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        endpoint_url=endpoint_url,
        region_name=region,
        config=Config(connect_timeout=2, read_timeout=10, retries={"max_attempts": 2}),
        **CREDENTIALS,
    )


def new_queue(client: Any, prefix: str = "notifications") -> tuple[str, str]:
    """A fresh standard queue with a unique name: its URL and ARN."""
    url = client.create_queue(QueueName=f"{prefix}-{uuid.uuid4().hex[:12]}")["QueueUrl"]
    arn = client.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    return url, arn


def receive_all(
    client: Any, queue_url: str, *, expect: int, timeout: float = 10.0, delete: bool = True
) -> list[dict[str, Any]]:
    """Long-poll ``queue_url`` until ``expect`` messages arrived (or ``timeout`` real seconds
    went by: the caller's assertion then says what is missing); their bodies as JSON, in
    arrival order. Deleted once read unless ``delete`` is false."""
    bodies: list[dict[str, Any]] = []
    deadline = time.monotonic() + timeout
    while len(bodies) < expect and time.monotonic() < deadline:
        answer = client.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=1
        )
        for message in answer.get("Messages", []):
            bodies.append(json.loads(message["Body"]))
            if delete:
                with contextlib.suppress(Exception):
                    client.delete_message(
                        QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"]
                    )
    return bodies
