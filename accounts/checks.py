"""Deployment checks for what Amazon's Data Protection Policy asks of an operator."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.checks import Tags, Warning, register


@register(Tags.security, deploy=True)
def security_contact_named(app_configs: Any = None, **kwargs: Any) -> list[Warning]:
    if settings.SECURITY_CONTACT_EMAIL.strip():
        return []
    return [
        Warning(
            "SECURITY_CONTACT_EMAIL is empty: name who answers for a security incident "
            "(Amazon's Data Protection Policy asks for an incident contact).",
            hint="Set SECURITY_CONTACT_EMAIL to an address that is read every day.",
            id="accounts.W001",
        )
    ]
