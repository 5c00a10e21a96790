"""The shape every settings form's POST has: a valid form goes to one audited service call,
then a success message and a redirect; a refusal from the service or an invalid form shows the
form again with its errors."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect


def save_settings_form(
    request: HttpRequest,
    form: forms.BaseForm,
    save: Callable[[dict[str, Any]], str],
    *,
    success_url: str,
    invalid: Callable[[], HttpResponse],
    error_field: str | None = None,
) -> HttpResponse:
    """``save(cleaned_data)`` calls the service and returns the message to show. A
    ValidationError it raises lands on the form (on ``error_field``, or the whole form), and
    ``invalid()`` renders the page again, as for a form that did not validate."""
    if form.is_valid():
        try:
            message = save(form.cleaned_data)
        except ValidationError as error:
            form.add_error(error_field, error)
        else:
            messages.success(request, message)
            return redirect(success_url)
    return invalid()
