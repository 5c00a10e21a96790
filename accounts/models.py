from __future__ import annotations

from typing import Any, ClassVar

from django.conf import settings
from django.contrib.auth.models import AbstractUser
from django.contrib.auth.models import UserManager as DjangoUserManager
from django.db import models
from django.db.models import Q
from django.utils.translation import gettext_lazy as _


class UserManager(DjangoUserManager["User"]):
    def create_superuser(
        self, username: str, email: str | None = None, password: str | None = None, **extra: Any
    ) -> User:
        """``createsuperuser``: a superuser holds every power, so its role is admin."""
        extra.setdefault("role", User.Role.ADMIN)
        return super().create_superuser(username, email, password, **extra)


class User(AbstractUser):
    """A person who logs in. The role decides what they may change."""

    class Role(models.TextChoices):
        ADMIN = "admin", _("Admin")
        STAFF = "staff", _("Staff")

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        blank=True,
        default="",
        help_text=_("Empty: the browser's language, else the organization's."),
    )

    objects: ClassVar[UserManager] = UserManager()

    # django-stubs does not declare AbstractUser.Meta (so it is Any): extend Django's own Meta.
    class Meta(AbstractUser.Meta):  # type: ignore[name-defined,misc]
        swappable = "AUTH_USER_MODEL"
        permissions = [
            # Granted to a staff user (or a group) in the Django admin; admins have it by role.
            ("view_personal_data", "Can see buyers' personal data unmasked"),
        ]
        constraints = [
            # A superuser passes every permission check, so the role says admin too: the
            # header's label, the role checks and the permissions can never disagree.
            models.CheckConstraint(
                condition=Q(is_superuser=False) | Q(role="admin"), name="user_superuser_is_admin"
            ),
        ]

    @property
    def is_org_admin(self) -> bool:
        """May connect, configure, disable and sync; staff may only view and create shipments."""
        return self.is_active and self.role == self.Role.ADMIN


class AuditEvent(models.Model):
    """Who did what, to what, when and from where. Never holds personal data: targets
    are named by type, id and a label such as an Amazon order id, never a buyer's details."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="audit_events",
    )
    # Kept when the user is deleted: the log must still say who it was.
    username = models.CharField(max_length=150, blank=True)
    action = models.SlugField(max_length=64)
    target_type = models.CharField(max_length=64, blank=True)
    target_id = models.CharField(max_length=64, blank=True)
    target_label = models.CharField(max_length=200, blank=True)
    detail = models.JSONField(default=dict, blank=True)
    ip_address = models.GenericIPAddressField(null=True, blank=True)
    user_agent = models.CharField(max_length=300, blank=True)
    created_at = models.DateTimeField(db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            models.Index(fields=["action", "-created_at"], name="audit_action_recent"),
            models.Index(fields=["user", "-created_at"], name="audit_user_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.username or '-'} {self.action}"

    @property
    def target(self) -> str:
        if not self.target_type:
            return ""
        label = f" {self.target_label}" if self.target_label else ""
        return f"{self.target_type} #{self.target_id}{label}"


class PasswordHistory(models.Model):
    """A password a user has had, as its hash: Amazon's Data Protection Policy forbids reusing
    any of the last ``PASSWORD_HISTORY_COUNT`` (accounts.passwords.PasswordHistoryValidator)."""

    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="password_history"
    )
    password = models.CharField(max_length=128)
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        verbose_name_plural = "password history"

    def __str__(self) -> str:
        return f"Password of {self.user_id} set {self.created_at:%Y-%m-%d}"
