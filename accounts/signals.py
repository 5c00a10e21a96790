"""Logins, logouts and failed logins go to the audit log; new users' passwords to their history."""

from __future__ import annotations

from typing import Any

from axes.signals import user_locked_out
from django.contrib.auth.signals import user_logged_in, user_logged_out, user_login_failed
from django.db.models.signals import post_save
from django.dispatch import receiver

from accounts import audit
from accounts.middleware import start_session
from accounts.models import User
from accounts.passwords import remember_password


@receiver(user_logged_in, dispatch_uid="audit-login")
def _logged_in(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if request is not None and hasattr(request, "session"):
        start_session(request, user)
    audit.record(request if request is not None else user, "login", target=user)


@receiver(user_logged_out, dispatch_uid="audit-logout")
def _logged_out(sender: Any, request: Any, user: Any, **kwargs: Any) -> None:
    if user is not None:
        audit.record(request if request is not None else user, "logout", target=user)


@receiver(user_login_failed, dispatch_uid="audit-login-failed")
def _login_failed(sender: Any, credentials: dict[str, Any], request: Any = None, **kw: Any) -> None:
    # Only the username the form sent (Django already masks the password in ``credentials``).
    username = str(credentials.get("username", ""))[:150]
    audit.record(
        request if request is not None else None,
        "login-failed",
        detail={"username": username},
    )


@receiver(user_locked_out, dispatch_uid="audit-locked-out")
def _locked_out(sender: Any, request: Any = None, username: Any = None, **kw: Any) -> None:
    audit.record(
        request if request is not None else None,
        "locked-out",
        detail={"username": str(username or "")[:150]},
    )


@receiver(post_save, sender=User, dispatch_uid="remember-first-password")
def _user_created(sender: Any, instance: User, created: bool, **kwargs: Any) -> None:
    if created:
        remember_password(instance)
