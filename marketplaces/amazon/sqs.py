"""The seller's SQS queue Amazon sends notifications to: boto3, nothing else.

AWS SQS in production; in the demo and the tests a local SQS-API server (moto's) reached
through ``SQS_ENDPOINT_URL``, with boto3 unchanged. Credentials come from the settings
``AWS_ACCESS_KEY_ID`` / ``AWS_SECRET_ACCESS_KEY`` (the secret may be a file), else boto3's own
chain (an instance role): never from the database.
Every failure of SQS itself is raised as :class:`SqsUnavailable`, which the consumer survives.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from django.conf import settings

# Long polling: one ReceiveMessage waits up to this long for a message (SQS' maximum) so an
# idle consumer costs three calls a minute and a message is handed over as soon as it lands.
WAIT_SECONDS = 20
BATCH = 10  # SQS' maximum per ReceiveMessage
# The Notifications model's SqsResource.arn pattern: Amazon checks the rest (it answers 400).
SQS_ARN = re.compile(r"^arn:aws:sqs:(\S+?):(\S+?):(\S+)$")


class SqsUnavailable(Exception):
    """SQS could not be reached or refused the call; nothing was received or deleted."""


@dataclass(frozen=True)
class Message:
    message_id: str
    receipt_handle: str
    body: str
    receive_count: int


@dataclass(frozen=True)
class QueueArn:
    region: str
    account: str
    name: str


def parse_queue_arn(arn: str) -> QueueArn:
    """The parts of an SQS queue ARN (the Notifications model's ``SqsResource.arn``);
    ValueError with what is wrong when it is not one."""
    match = SQS_ARN.match(arn.strip())
    if match is None:
        raise ValueError(
            f"{arn!r} is not an SQS queue ARN: it looks like "
            "arn:aws:sqs:us-east-1:123456789012:inventory-sync-notifications "
            "(the queue's details page in the AWS console shows it)"
        )
    region, account, name = match.groups()
    return QueueArn(region, account, name)


def client(region: str | None = None) -> Any:
    """boto3's SQS client for the configured endpoint (AWS when SQS_ENDPOINT_URL is empty)."""
    import boto3
    from botocore.config import Config

    return boto3.client(
        "sqs",
        region_name=region or settings.AWS_REGION,
        endpoint_url=settings.SQS_ENDPOINT_URL or None,
        # None: boto3's own chain (its environment variables, an instance role, ~/.aws).
        aws_access_key_id=settings.AWS_ACCESS_KEY_ID or None,
        aws_secret_access_key=settings.AWS_SECRET_ACCESS_KEY or None,
        config=Config(
            connect_timeout=5,
            # A long poll holds the connection WAIT_SECONDS before it answers.
            read_timeout=WAIT_SECONDS + 10,
            retries={"max_attempts": 2, "mode": "standard"},
        ),
    )


def queue_url_from_arn(sqs: Any, arn: str) -> str:
    """The queue's URL: AMAZON_NOTIFICATIONS_QUEUE_URL when set, else asked of SQS by name and
    owner account (the ARN names both)."""
    if settings.AMAZON_NOTIFICATIONS_QUEUE_URL:
        return str(settings.AMAZON_NOTIFICATIONS_QUEUE_URL)
    queue = parse_queue_arn(arn)
    try:
        answer = sqs.get_queue_url(QueueName=queue.name, QueueOwnerAWSAccountId=queue.account)
    except Exception as error:  # noqa: BLE001 - botocore's errors are many; all mean "not now"
        raise SqsUnavailable(f"GetQueueUrl {queue.name}: {_describe(error)}") from None
    return str(answer["QueueUrl"])


def receive(sqs: Any, queue_url: str, *, wait_seconds: int = WAIT_SECONDS) -> list[Message]:
    """Up to BATCH messages, waiting up to ``wait_seconds`` for the first. Each stays invisible
    to other consumers for the queue's visibility timeout and comes back after it unless
    deleted: what is not deleted is handled again."""
    try:
        answer = sqs.receive_message(
            QueueUrl=queue_url,
            MaxNumberOfMessages=BATCH,
            WaitTimeSeconds=wait_seconds,
            MessageSystemAttributeNames=["ApproximateReceiveCount"],
        )
    except Exception as error:  # noqa: BLE001
        raise SqsUnavailable(f"ReceiveMessage: {_describe(error)}") from None
    return [
        Message(
            message_id=str(raw.get("MessageId", "")),
            receipt_handle=str(raw["ReceiptHandle"]),
            body=str(raw.get("Body", "")),
            receive_count=int((raw.get("Attributes") or {}).get("ApproximateReceiveCount", 1)),
        )
        for raw in answer.get("Messages", [])
    ]


def delete(sqs: Any, queue_url: str, message: Message) -> None:
    try:
        sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message.receipt_handle)
    except Exception as error:  # noqa: BLE001
        raise SqsUnavailable(f"DeleteMessage: {_describe(error)}") from None


def retry_in(sqs: Any, queue_url: str, message: Message, seconds: float) -> None:
    """Make the message visible again after ``seconds`` (a throttle's wait) instead of the
    queue's whole visibility timeout. Best effort: failing, it comes back after the timeout."""
    try:
        sqs.change_message_visibility(
            QueueUrl=queue_url,
            ReceiptHandle=message.receipt_handle,
            VisibilityTimeout=max(0, min(int(seconds), 12 * 3600)),
        )
    except Exception as error:  # noqa: BLE001
        raise SqsUnavailable(f"ChangeMessageVisibility: {_describe(error)}") from None


def _describe(error: Exception) -> str:
    response = getattr(error, "response", None)
    if isinstance(response, dict):
        code = (response.get("Error") or {}).get("Code")
        if code:
            return f"{code} ({type(error).__name__})"
    return f"{type(error).__name__}: {error}"
