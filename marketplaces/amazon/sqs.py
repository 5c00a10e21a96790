"""An SQS queue's ARN and URL: where Amazon sends notifications and where the consumer reads.

Amazon's Notifications API names a queue by its ARN (``arn:aws:sqs:<region>:<account>:<name>``,
the model's ``SqsResource.arn``); boto3 reads a queue by its URL. No SQS call is made here.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

# The Notifications model's SqsResource.arn pattern, with its three parts named.
_SQS_ARN = re.compile(r"^arn:aws:sqs:(?P<region>\S+?):(?P<account>\S+?):(?P<name>\S+)$")


@dataclass(frozen=True)
class QueueArn:
    region: str
    account: str
    name: str


def parse_queue_arn(arn: str) -> QueueArn:
    """The ARN's parts; ValueError with what is wrong when it is not an SQS queue's ARN."""
    found = _SQS_ARN.match(arn.strip())
    if found is None:
        raise ValueError(
            f"{arn!r} is not an SQS queue ARN: it looks like "
            "arn:aws:sqs:us-east-1:123456789012:inventory-sync-notifications "
            "(the queue's details page in the AWS console shows it)"
        )
    return QueueArn(found["region"], found["account"], found["name"])


def queue_url_from_arn(arn: str, endpoint_url: str = "") -> str:
    """The queue's URL: AWS's ``https://sqs.<region>.amazonaws.com/<account>/<name>``, or the
    same path on ``endpoint_url`` (a local SQS API such as moto's, which names queues so)."""
    queue = parse_queue_arn(arn)
    base = endpoint_url.rstrip("/") if endpoint_url else f"https://sqs.{queue.region}.amazonaws.com"
    return f"{base}/{queue.account}/{queue.name}"


def queue_region(arn: str, configured: str = "") -> str:
    """The region to talk to the queue in: the configured one (AWS_REGION), else the ARN's."""
    return configured or parse_queue_arn(arn).region
