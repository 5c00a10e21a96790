from __future__ import annotations

from typing import Any

from django import forms
from django.contrib.auth.forms import AuthenticationForm
from django.core.validators import MaxLengthValidator
from django.utils.translation import gettext_lazy as _

from accounts.audit import ACTIONS
from inventory_sync.paging import BIGINT_MAX


class TokenForm(forms.Form):
    token = forms.CharField(
        label=_("Code from your authenticator app"),
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"].replace(" ", "")
        if not (token.isascii() and token.isdigit()) or len(token) != 6:
            raise forms.ValidationError(_("Enter the 6-digit code your authenticator app shows."))
        return token


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        required=False, choices=[("", "All actions"), *sorted(ACTIONS.items())]
    )
    # A user id: no row id is past a bigint, and the database refuses to compare with one.
    user = forms.IntegerField(
        required=False, min_value=1, max_value=BIGINT_MAX, widget=forms.Select
    )


class LoginForm(AuthenticationForm):
    """Django's login form, refusing a username longer than any user's before anyone looks it
    up: a failed login is stored by the lockout (django-axes) in a column of 255 characters,
    which PostgreSQL enforces, and Django's own form only sets the input's maxlength."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        username = self.fields["username"]
        assert isinstance(username, forms.CharField) and username.max_length
        username.validators.append(MaxLengthValidator(username.max_length))
