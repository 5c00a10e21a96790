"""Celery tasks of the accounts app."""

from __future__ import annotations

from celery import shared_task

from accounts import audit


@shared_task
def prune_audit_log_task() -> int:
    """Daily (CELERY_BEAT_SCHEDULE "prune-audit-log"): events past AUDIT_LOG_RETENTION_DAYS."""
    return audit.prune()
