"""Forms shared by every app's views."""

from __future__ import annotations

from django import forms
from django.http import HttpRequest, QueryDict
from django.utils.http import url_has_allowed_host_and_scheme


class NextForm(forms.Form):
    """Where a form sends the user back to (``?next=`` or a hidden ``next`` field)."""

    next = forms.CharField(required=False, max_length=2000)


def safe_next(request: HttpRequest, data: QueryDict) -> str:
    """The ``next`` of ``data`` when it is a page of this site, else "". Only a path: a bare
    word ("items") would be taken by ``redirect`` for the name of a URL pattern."""
    form = NextForm(data)
    target: str = form.cleaned_data["next"] if form.is_valid() else ""
    if target.startswith("/") and url_has_allowed_host_and_scheme(
        target, allowed_hosts={request.get_host()}, require_https=request.is_secure()
    ):
        return target
    return ""
