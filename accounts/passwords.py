"""No reuse of a recent password (Amazon's Data Protection Policy, docs/SECURITY.md).

A Django password validator: ``validate`` runs wherever Django validates a new password (the
change and reset forms, ``createsuperuser``, ``changepassword``), and ``password_changed`` is
called by ``User.save()`` after every ``set_password``, so each password a user gets is
remembered whatever set it.
"""

from __future__ import annotations

from typing import Any

from django.contrib.auth.hashers import check_password
from django.core.exceptions import ValidationError
from django.utils.translation import ngettext

from accounts.models import PasswordHistory, User

DEFAULT_REMEMBER = 10


class PasswordHistoryValidator:
    def __init__(self, remember: int = DEFAULT_REMEMBER) -> None:
        self.remember = remember

    def validate(self, password: str, user: Any = None) -> None:
        if user is None or user.pk is None:
            return
        # The stored password too: users from before the history have no row of it yet.
        # (request.user is a lazy wrapper: ask the model, not the object's type.)
        stored = User.objects.filter(pk=user.pk).values_list("password", flat=True)
        for encoded in [*stored, *self._recent(user)]:
            if encoded and check_password(password, encoded):
                raise ValidationError(
                    ngettext(
                        "You have used this password before: choose another.",
                        "You have used this password before: choose one that is not among "
                        "your last %(remember)d passwords.",
                        self.remember,
                    ),
                    code="password_reused",
                    params={"remember": self.remember},
                )

    def password_changed(self, password: str, user: Any = None) -> None:
        if user is not None:
            remember_password(user, keep=self.remember)

    def get_help_text(self) -> str:
        return ngettext(
            "Your password cannot be your last one.",
            "Your password cannot be one of your last %(remember)d passwords.",
            self.remember,
        ) % {"remember": self.remember}

    def _recent(self, user: Any) -> list[str]:
        return list(
            PasswordHistory.objects.filter(user_id=user.pk).values_list("password", flat=True)[
                : self.remember
            ]
        )


def remember_password(user: User, *, keep: int = DEFAULT_REMEMBER) -> None:
    """Add the user's current password to their history (once), keeping the last ``keep``.
    Called after every ``set_password`` + ``save`` and for every new user: ``create_user``
    hashes the password without ``set_password``, so Django would not tell the validator."""
    if user.pk is None or not user.has_usable_password():
        return
    history = PasswordHistory.objects.filter(user_id=user.pk)
    if history.values_list("password", flat=True).first() == user.password:
        return
    PasswordHistory.objects.create(user_id=user.pk, password=user.password)
    kept = list(history.values_list("id", flat=True)[:keep])
    history.exclude(id__in=kept).delete()
