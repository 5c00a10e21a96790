"""Roles: admins change settings and integrations; staff view and create shipments."""

from __future__ import annotations

from collections.abc import Callable
from functools import wraps
from typing import Any

from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse


def is_org_admin(user: Any) -> bool:
    return bool(getattr(user, "is_org_admin", False))


def admin_required(view: Callable[..., HttpResponse]) -> Callable[..., HttpResponse]:
    """403 for a logged-in user who is not an admin (anonymous users never get this far: the
    login-required middleware sends them to the login page first)."""

    @wraps(view)
    def wrapper(request: HttpRequest, *args: Any, **kwargs: Any) -> HttpResponse:
        if not is_org_admin(request.user):
            raise PermissionDenied("Only an admin may change this.")
        return view(request, *args, **kwargs)

    return wrapper
