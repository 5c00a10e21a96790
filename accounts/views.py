"""Account pages: two-factor set-up and verification, password change, the audit log."""

from __future__ import annotations

from base64 import b32encode
from typing import Any

import django_otp
import segno
from django.conf import settings
from django.contrib import messages
from django.contrib.auth import update_session_auth_hash
from django.contrib.auth.forms import AuthenticationForm, PasswordChangeForm
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.utils import translation
from django.utils.translation import gettext as _
from django.views.decorators.cache import never_cache
from django.views.decorators.http import require_GET, require_http_methods, require_POST
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import audit
from accounts.forms import AuditFilterForm, TokenForm
from accounts.middleware import remember_two_factor_state, request_language
from accounts.models import AuditEvent, User
from accounts.permissions import admin_required
from inventory_sync.forms import safe_next
from inventory_sync.paging import MAX_PAGE, int_param

AUDIT_PAGE_SIZE = 50


def _next_url(request: HttpRequest, fallback: str = "home") -> Any:
    return safe_next(request, request.POST) or safe_next(request, request.GET) or fallback


def _user(request: HttpRequest) -> User:
    assert isinstance(request.user, User)  # LoginRequiredMiddleware let only a user in
    return request.user


# -- Two-factor -----------------------------------------------------------------------------


def _pending_device(user: User) -> TOTPDevice:
    device = TOTPDevice.objects.filter(user=user, confirmed=False).order_by("-id").first()
    if device is None:
        device = TOTPDevice.objects.create(user=user, name="Authenticator app", confirmed=False)
    return device


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_setup(request: HttpRequest) -> HttpResponse:
    """Shows a new TOTP secret (otpauth URI and its QR code, drawn here, not by a third party);
    the first correct code confirms the device."""
    user = _user(request)
    if TOTPDevice.objects.filter(user=user, confirmed=True).exists():
        return render(request, "accounts/two_factor_setup.html", {"enabled": True})
    device = _pending_device(user)
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        if device.verify_token(form.cleaned_data["token"]):
            device.confirmed = True
            device.save(update_fields=["confirmed"])
            TOTPDevice.objects.filter(user=user, confirmed=False).delete()
            django_otp.login(request, device)
            remember_two_factor_state(request, user)
            audit.record(request, "two-factor-enabled", target=user)
            messages.success(request, _("Two-factor authentication is on."))
            return redirect(_next_url(request))
        form.add_error("token", "That code is not right; check the time on your phone.")
    uri = device.config_url
    context = {
        "enabled": False,
        "form": form,
        "otpauth_uri": uri,
        "qr_svg": segno.make(uri, micro=False).svg_inline(scale=4, title="TOTP QR code"),
        "secret": b32encode(device.bin_key).decode("ascii"),
        "required": bool(settings.REQUIRE_2FA and user.is_org_admin),
        "next": safe_next(request, request.GET),
    }
    return render(
        request, "accounts/two_factor_setup.html", context, status=400 if form.errors else 200
    )


@never_cache
@require_http_methods(["GET", "POST"])
def two_factor_verify(request: HttpRequest) -> HttpResponse:
    user = _user(request)
    if user.is_verified():  # type: ignore[attr-defined]
        return redirect(_next_url(request))
    form = TokenForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        device = django_otp.match_token(user, form.cleaned_data["token"])
        if device is not None:
            django_otp.login(request, device)
            audit.record(request, "two-factor-verified", target=user)
            return redirect(_next_url(request))
        audit.record(request, "two-factor-failed", target=user)
        form.add_error("token", "That code is not right, or too many tries: wait and try again.")
    return render(
        request,
        "accounts/two_factor_verify.html",
        {"form": form, "next": safe_next(request, request.GET) or safe_next(request, request.POST)},
        status=400 if form.errors else 200,
    )


# -- Password -------------------------------------------------------------------------------


@never_cache
@require_http_methods(["GET", "POST"])
def password_change(request: HttpRequest) -> HttpResponse:
    """Django's password validators apply (settings.AUTH_PASSWORD_VALIDATORS: 12+ characters)."""
    user = _user(request)
    form = PasswordChangeForm(user, request.POST or None)
    if request.method == "POST" and form.is_valid():
        form.save()
        update_session_auth_hash(request, form.user)
        audit.record(request, "password-changed", target=user)
        messages.success(request, _("Your password was changed."))
        return redirect("home")
    return render(
        request,
        "accounts/password_change.html",
        {"form": form},
        status=400 if form.errors else 200,
    )


# -- Login lockout --------------------------------------------------------------------------


def locked_out(
    request: HttpRequest, original_response: Any = None, credentials: Any = None
) -> HttpResponse:
    """django-axes' lockout answer (AXES_LOCKOUT_CALLABLE): the login page, saying why."""
    minutes = int(settings.AXES_COOLOFF_TIME.total_seconds() // 60)
    return render(
        request,
        "registration/login.html",
        {"form": AuthenticationForm(request), "locked_out": True, "cooloff_minutes": minutes},
        status=429,
    )


# -- Audit log ------------------------------------------------------------------------------


def _filtered_events(form: AuditFilterForm) -> QuerySet[AuditEvent]:
    events = AuditEvent.objects.order_by("-created_at", "-id")
    if form.is_valid():
        if form.cleaned_data["action"]:
            events = events.filter(action=form.cleaned_data["action"])
        if form.cleaned_data["user"]:
            events = events.filter(user_id=form.cleaned_data["user"])
    return events


@require_GET
@admin_required
def audit_log(request: HttpRequest) -> HttpResponse:
    """Newest first, filtered by action and user. Paged by offset with one extra row to know
    whether an older page exists, so the table is never counted."""
    form = AuditFilterForm(request.GET or None)
    users = list(User.objects.order_by("username").values_list("id", "username"))
    form.fields["user"].widget.choices = [("", "All users"), *users]
    page = int_param(request, "page", maximum=MAX_PAGE) or 1
    offset = (page - 1) * AUDIT_PAGE_SIZE
    rows = list(
        _filtered_events(form).select_related("user")[offset : offset + AUDIT_PAGE_SIZE + 1]
    )
    for event in rows:
        event.action_label = audit.ACTIONS.get(event.action, event.action)  # type: ignore[attr-defined]
    query = request.GET.copy()
    query.pop("page", None)
    return render(
        request,
        "accounts/audit_log.html",
        {
            "form": form,
            "events": rows[:AUDIT_PAGE_SIZE],
            "page": page,
            "has_older": len(rows) > AUDIT_PAGE_SIZE,
            "query": query.urlencode(),
            "retention_days": settings.AUDIT_LOG_RETENTION_DAYS,
            "security_contact": settings.SECURITY_CONTACT_EMAIL,
        },
    )


@require_POST
def language(request: HttpRequest) -> HttpResponse:
    """The user's language, from the header's menu: one of the product's, or "" (the
    browser's, then the organization's). Back to the page it was chosen on."""
    user = _user(request)
    chosen = request.POST.get("language", "")
    if chosen and chosen not in dict(settings.LANGUAGES):
        messages.error(request, _("That language is not one the product speaks."))
        return redirect(_next_url(request))
    user.language = chosen
    user.save(update_fields=["language"])
    translation.activate(chosen or request_language(request))
    return redirect(_next_url(request))
