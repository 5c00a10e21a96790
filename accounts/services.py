"""Changes to who may do what: a user's role and the permission to see buyers' personal data.

Each change writes its audit event here, whoever calls it (the Django admin, a management
command, a page): ``actor`` is an ``audit.Actor``, a request, a user, or None for the
system. Unchanged values write nothing.
"""

from __future__ import annotations

from django.contrib.auth.models import Permission
from django.db import transaction

from accounts import audit
from accounts.models import User

PERSONAL_DATA_PERMISSION = ("accounts", "view_personal_data")


def _personal_data_permission() -> Permission:
    app_label, codename = PERSONAL_DATA_PERMISSION
    return Permission.objects.get(content_type__app_label=app_label, codename=codename)


def has_personal_data_permission(user: User) -> bool:
    """Granted to the user directly (a group's grant is not changed here)."""
    return user.user_permissions.filter(id=_personal_data_permission().id).exists()


@transaction.atomic
def do_change_user_role(user: User, role: str, *, actor: audit.Who) -> User:
    if role not in User.Role.values:
        raise ValueError(f"Unknown role: {role}")
    locked = User.objects.select_for_update().get(pk=user.pk)
    if locked.is_superuser and role != User.Role.ADMIN:
        raise ValueError("A superuser is always an admin: take away superuser status first.")
    old = locked.role
    if old != role:
        User.objects.filter(pk=user.pk).update(role=role)
        audit.record(actor, "role-changed", target=locked, detail={"from": old, "to": role})
    user.role = role
    return user


@transaction.atomic
def do_set_personal_data_permission(user: User, allowed: bool, *, actor: audit.Who) -> User:
    """Grant or withdraw ``accounts.view_personal_data`` on the user itself."""
    permission = _personal_data_permission()
    User.objects.select_for_update().get(pk=user.pk)  # one change of this user at a time
    had = user.user_permissions.filter(id=permission.id).exists()
    if had != allowed:
        if allowed:
            user.user_permissions.add(permission)
        else:
            user.user_permissions.remove(permission)
        # has_perm() caches the user's permissions on the instance.
        for cache in ("_perm_cache", "_user_perm_cache"):
            user.__dict__.pop(cache, None)
        audit.record(
            actor,
            "personal-data-access-changed",
            target=user,
            detail={"permission": "view_personal_data", "granted": allowed},
        )
    return user
