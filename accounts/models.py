from __future__ import annotations

from django.contrib.auth.models import AbstractUser
from django.db import models


class User(AbstractUser):
    """A person who logs in. The role decides what they may change (SPEC §1)."""

    class Role(models.TextChoices):
        ADMIN = "admin", "Admin"
        STAFF = "staff", "Staff"

    role = models.CharField(max_length=16, choices=Role.choices, default=Role.STAFF)

    @property
    def is_org_admin(self) -> bool:
        """May connect, configure, disable and sync; staff may only view and create shipments."""
        return self.is_active and (self.role == self.Role.ADMIN or self.is_superuser)
