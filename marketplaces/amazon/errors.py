"""The product's own view of what can go wrong when talking to Amazon.

Transient failures are retried; permanent ones never are. A permanent authorization failure
moves the channel to "needs re-authorization" (the split follows healthchecks' transports).
"""

from __future__ import annotations


class AmazonError(Exception):
    """Base of every failure the Amazon client raises. Messages never carry credentials."""

    transient = False


class AmazonTransientError(AmazonError):
    """Worth retrying later: 5xx, timeouts, connection errors, empty or malformed bodies."""

    transient = True


class AmazonThrottled(AmazonTransientError):
    """Amazon answered 429, or our own rate limiter would have to wait too long."""

    def __init__(self, operation: str, retry_after: float, message: str = "") -> None:
        self.operation = operation
        self.retry_after = retry_after
        super().__init__(message or f"{operation} is throttled; retry in {retry_after:.0f} s")


class AmazonAuthError(AmazonError):
    """The refresh token was revoked or is invalid: the seller must authorize again."""


class AmazonRejected(AmazonError):
    """Amazon understood the request and refused it (4xx with its own reason)."""

    def __init__(self, operation: str, status: int, code: str, message: str) -> None:
        self.operation = operation
        self.status = status
        self.code = code
        self.reason = message
        super().__init__(f"Amazon rejected {operation} ({status} {code}): {message}")


class AmazonUnsafe(AmazonError):
    """What the product will not do, whatever Amazon (or a changed row) says: send credentials
    to a host that is not Amazon's, fetch or put a document at a non-public address, take a
    document past the size limits. Never retried: the same answer comes back."""


class AmazonPayloadError(AmazonTransientError):
    """An answer that is not what Amazon's model promises (missing fields, bad JSON)."""


class WaitForAmazon(AmazonError):
    """Amazon is still working on it (a report, a feed): come back after ``retry_after``."""

    def __init__(self, what: str, retry_after: float) -> None:
        self.retry_after = retry_after
        super().__init__(f"{what}; checking again in {retry_after:.0f} s")
