from __future__ import annotations

from django import forms

from accounts.audit import ACTIONS


class TokenForm(forms.Form):
    token = forms.CharField(
        label="Code from your authenticator app",
        max_length=8,
        widget=forms.TextInput(
            attrs={"autocomplete": "one-time-code", "inputmode": "numeric", "autofocus": True}
        ),
    )

    def clean_token(self) -> str:
        token: str = self.cleaned_data["token"].replace(" ", "")
        if not (token.isascii() and token.isdigit()) or len(token) != 6:
            raise forms.ValidationError("Enter the 6-digit code your authenticator app shows.")
        return token


class AuditFilterForm(forms.Form):
    action = forms.ChoiceField(
        required=False, choices=[("", "All actions"), *sorted(ACTIONS.items())]
    )
    user = forms.IntegerField(required=False, min_value=1, widget=forms.Select)
