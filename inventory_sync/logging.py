"""Keep credentials and personal data out of every log line (Amazon's DPP, docs/SECURITY.md).

Two layers, so a handler someone adds later (pytest's caplog, an error tracker) is covered too:

- ``RedactingFilter`` sits on the handlers of ``settings.LOGGING``;
- ``install()`` (called once at start-up by ``accounts.apps``) wraps the log-record factory, so
  every record is scrubbed when it is created, before any handler sees it.

What is redacted: LWA refresh tokens (``Atzr|…``) and access tokens (``Atza|…``), secrets in
``key=value`` / ``'key': 'value'`` form (client_secret, refresh_token, access_token,
x-amz-access-token, Authorization, password, pre-signed URL signatures), e-mail addresses,
Canadian postal codes and North-American phone numbers. A buyer's *name* has no shape a pattern
can find, so the one library that logs Amazon's payloads (python-amazon-sp-api, at DEBUG: request
headers, data and whole responses) has its arguments withheld altogether.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Callable
from typing import Any

from django.views.debug import SafeExceptionReporterFilter

REDACTED = "[redacted]"

# The names of secrets to find (not secrets themselves).
_SECRET_NAMES = (
    "client_secret",
    "refresh_token",
    "access_token",
    "x-amz-access-token",
    "x-amz-security-token",
    "authorization",
    "password",
    "passwd",
    "secret_key",
    "api_key",
    "X-Amz-Signature",
    "X-Amz-Credential",
    "spapi_oauth_code",
)
_SECRET_KEYS = "|".join(re.escape(name) for name in _SECRET_NAMES)

_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # key=value, key: value, 'key': 'value', "key": "value" (form bodies, dict reprs, JSON).
    (
        re.compile(
            rf"""(?i)(["']?\b(?:{_SECRET_KEYS})\b["']?\s*[:=]\s*["']?)(?:Bearer\s+)?"""
            r"""(?!\[redacted\])[^\s"'&,;)}\]]+"""
        ),
        rf"\g<1>{REDACTED}",
    ),
    # Login with Amazon tokens, wherever they appear (headers, JSON, URLs, exception text).
    (re.compile(r"(?i)Atz[ra](?:\||%7C)[^\s\"'&,;)}\]]+"), REDACTED),
    (
        re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)*\.[A-Za-z]{2,}"),
        "[email]",
    ),
    # Canadian postal code (A1A 1A1; letters D F I O Q U never appear, W Z never first).
    (
        re.compile(
            r"(?i)(?<![A-Za-z0-9])[ABCEGHJ-NPRSTVXY]\d[ABCEGHJ-NPRSTV-Z][ -]?\d[ABCEGHJ-NPRSTV-Z]\d"
            r"(?![A-Za-z0-9])"
        ),
        "[postal code]",
    ),
    # North-American phone numbers written as phone numbers: separators or a +1 prefix, so an
    # Amazon order id (702-1234567-1234567) or a bare database id is left alone.
    (
        re.compile(
            r"(?<![\w\-])(?:\+?1[ .\-]?)?(?:\(\d{3}\)\s?|\d{3}[ .\-])\d{3}[ .\-]\d{4}(?![\w\-])"
            r"|(?<![\w\-])\+1\d{10}(?!\w)"
        ),
        "[phone]",
    ),
)

# Loggers whose arguments may carry Amazon payloads (buyer names cannot be found by a pattern).
WITHHELD_LOGGERS = ("sp_api",)
WITHHELD = "[withheld: may contain credentials or personal data]"


def redact(text: str) -> str:
    """``text`` with every credential and personal-data pattern replaced."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    return text


def _withheld(name: str) -> bool:
    return any(name == prefix or name.startswith(prefix + ".") for prefix in WITHHELD_LOGGERS)


_exception_formatter = logging.Formatter()


def scrub(record: logging.LogRecord) -> logging.LogRecord:
    """Redact a record in place (idempotent): message, arguments and traceback text."""
    if getattr(record, "_redacted", False):
        return record
    try:
        if _withheld(record.name) and record.args:
            args = record.args if isinstance(record.args, tuple) else (record.args,)
            record.args = tuple(WITHHELD for _ in args)
        message = record.getMessage()
    except Exception:  # noqa: BLE001 - a malformed call: logging reports it; keep only the format
        message = str(record.msg)
    record.msg = redact(message)
    record.args = None
    if record.exc_info and not record.exc_text:
        record.exc_text = _exception_formatter.formatException(record.exc_info)
    if record.exc_text:
        record.exc_text = redact(record.exc_text)
    if record.stack_info:
        record.stack_info = redact(record.stack_info)
    record._redacted = True
    return record


class RedactingFilter(logging.Filter):
    """For ``settings.LOGGING`` handlers: never drops a record, only scrubs it."""

    def filter(self, record: logging.LogRecord) -> bool:
        scrub(record)
        return True


_installed: list[Callable[..., logging.LogRecord]] = []


def install() -> None:
    """Scrub every record at creation, whichever handler ends up emitting it. Idempotent."""
    if _installed:
        return
    previous = logging.getLogRecordFactory()

    def factory(*args: Any, **kwargs: Any) -> logging.LogRecord:
        return scrub(previous(*args, **kwargs))

    _installed.append(previous)
    logging.setLogRecordFactory(factory)


class RedactingExceptionReporterFilter(SafeExceptionReporterFilter):
    """Exception reports (the DEBUG page, mailed reports) hide broker URLs with passwords and
    the credentials a form may post, on top of Django's own API/TOKEN/KEY/SECRET/PASS list."""

    hidden_settings = re.compile(
        "API|AUTH|TOKEN|KEY|SECRET|PASS|SIGNATURE|HTTP_COOKIE|BROKER_URL|REDIS_URL|DATABASE",
        flags=re.IGNORECASE,
    )
    _hidden_post = re.compile(r"password|token|secret|code|otp", flags=re.IGNORECASE)

    def get_post_parameters(self, request: Any) -> Any:
        parameters = super().get_post_parameters(request)
        if request is None or not hasattr(parameters, "copy"):
            return parameters
        cleansed = parameters.copy()
        for key in list(cleansed.keys()):
            if self._hidden_post.search(key):
                cleansed[key] = self.cleansed_substitute
        return cleansed
