"""The audit log: settings changes, connects and disconnects, syncs started by hand,
re-initiates, logins, and every view of unmasked personal data.

Settings changes are recorded by the service that makes them, whatever called it (a page, a
management command, the Django admin): the service takes an ``Actor`` (who, and from where) and
calls ``record(actor, "settings-changed", target=channel, detail=…)``. ``Actor.from_request``
is the web's actor; ``Actor.command("connect_amazon", user)`` a management command's.

``record(request, …)`` and ``record(user, …)`` still work for events that are not settings
changes (logins, views of personal data). Targets are named by model, id and ``str()``: never
pass a buyer's details in ``target`` or ``detail``.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from django.conf import settings
from django.core.exceptions import ImproperlyConfigured
from django.db import models
from django.http import HttpRequest
from django.utils import timezone

from accounts.models import AuditEvent
from inventory_sync.logging import redact

logger = logging.getLogger(__name__)

# Every action the product records, so the audit page can offer them as a filter.
ACTIONS: dict[str, str] = {
    "login": "Logged in",
    "login-failed": "Failed login",
    "logout": "Logged out",
    "locked-out": "Locked out after failed logins",
    "password-changed": "Password changed",
    "two-factor-enabled": "Two-factor authentication set up",
    "two-factor-verified": "Two-factor code accepted",
    "two-factor-failed": "Two-factor code refused",
    "settings-changed": "Settings changed",
    "role-changed": "Role changed",
    "personal-data-access-changed": "Permission to see personal data changed",
    "channel-connected": "Sales channel connected",
    "channel-disconnected": "Sales channel disabled",
    "channel-enabled": "Sales channel re-enabled",
    "notifications-enabled": "Amazon notifications turned on",
    "notifications-disabled": "Amazon notifications turned off",
    "notifications-failed": "Amazon notifications could not be changed",
    "sync-started": "Sync started by hand",
    "sync-reinitiated": "Sync re-initiated",
    "personal-data-viewed": "Personal data viewed",
    "personal-data-erased": "Personal data erased",
    "encryption-keys-rotated": "Encryption keys rotated",
    "audit-log-pruned": "Audit log pruned",
}

MINIMUM_RETENTION_DAYS = 365


def client_ip(request: HttpRequest) -> str | None:
    """The client's address. Behind ``TRUSTED_PROXY_COUNT`` proxies, the address the outermost
    trusted proxy saw (X-Forwarded-For is only believed that far: a client can forge the rest)."""
    proxies = int(getattr(settings, "TRUSTED_PROXY_COUNT", 0))
    if proxies > 0:
        forwarded: list[str] = [
            part.strip()
            for part in request.META.get("HTTP_X_FORWARDED_FOR", "").split(",")
            if part.strip()
        ]
        if len(forwarded) >= proxies:
            return forwarded[-proxies]
    remote_addr: str | None = request.META.get("REMOTE_ADDR")
    return remote_addr or None


@dataclass(frozen=True)
class Actor:
    """Who made a change and from where: the user (None for the system), the client's address
    and user agent for a web request, or ``manage.py <command>`` as the user agent."""

    user: Any = None
    ip_address: str | None = None
    user_agent: str = ""

    @classmethod
    def from_request(cls, request: HttpRequest) -> Actor:
        user = getattr(request, "user", None)
        return cls(
            user=user if getattr(user, "is_authenticated", False) else None,
            ip_address=client_ip(request),
            user_agent=request.META.get("HTTP_USER_AGENT", "")[:300],
        )

    @classmethod
    def command(cls, name: str, user: Any = None) -> Actor:
        """A management command, run as ``user`` (None: the system)."""
        return cls(user=user, user_agent=f"manage.py {name}")


SYSTEM = Actor()

# What a service's ``actor`` argument may be: an Actor, a request, a user, or None (the system).
Who = Actor | HttpRequest | Any


def as_actor(who: Who) -> Actor:
    """An ``Actor`` from a request, a user, None (the system) or an ``Actor``."""
    if isinstance(who, Actor):
        return who
    if isinstance(who, HttpRequest):
        return Actor.from_request(who)
    return Actor(user=who)


def _describe(target: Any) -> tuple[str, str, str]:
    if target is None:
        return "", "", ""
    if isinstance(target, models.Model):
        return (
            target._meta.label,
            str(target.pk),
            redact(str(target))[:200],
        )
    if isinstance(target, tuple) and len(target) == 3:
        kind, identifier, label = target
        return str(kind)[:64], str(identifier)[:64], redact(str(label))[:200]
    raise TypeError("target must be a model instance, a (type, id, label) tuple or None")


def record(
    who: Who,
    action: str,
    *,
    target: Any = None,
    detail: dict[str, Any] | None = None,
) -> AuditEvent:
    """Write one audit event. ``who`` is an ``Actor``, the request (user, IP and user agent are
    taken from it), a user, or None for the system itself (a scheduled job)."""
    actor = as_actor(who)
    user: Any = actor.user
    if user is not None and not getattr(user, "is_authenticated", False):
        user = None
    target_type, target_id, target_label = _describe(target)
    return AuditEvent.objects.create(
        user=user,
        username=user.get_username() if user is not None else "",
        action=action,
        target_type=target_type,
        target_id=target_id,
        target_label=target_label,
        detail=detail or {},
        ip_address=actor.ip_address,
        user_agent=actor.user_agent[:300],
        created_at=timezone.now(),
    )


def retention_days() -> int:
    days = int(settings.AUDIT_LOG_RETENTION_DAYS)
    if days < MINIMUM_RETENTION_DAYS:
        raise ImproperlyConfigured(
            f"AUDIT_LOG_RETENTION_DAYS is {days}: the audit log must be kept at least "
            f"{MINIMUM_RETENTION_DAYS} days."
        )
    return days


def prune(now: Any = None, batch: int = 1000) -> int:
    """Delete events older than the retention period, in batches; returns how many."""
    cutoff = (now or timezone.now()) - timedelta(days=retention_days())
    deleted = 0
    while True:
        ids = list(
            AuditEvent.objects.filter(created_at__lt=cutoff)
            .order_by("id")
            .values_list("id", flat=True)[:batch]
        )
        if not ids:
            break
        deleted += AuditEvent.objects.filter(id__in=ids).delete()[0]
    if deleted:
        logger.info("Audit log: %s events older than %s deleted", deleted, cutoff.date())
    return deleted
