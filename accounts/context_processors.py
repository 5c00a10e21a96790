from __future__ import annotations

from typing import Any

from django.http import HttpRequest


def roles(request: HttpRequest) -> dict[str, Any]:
    """`is_org_admin` in every template, so pages hide what the user may not change."""
    user = getattr(request, "user", None)
    return {"is_org_admin": bool(user is not None and getattr(user, "is_org_admin", False))}
