"""Session idle expiry, the two-factor gate, the Content-Security-Policy header and each
request's language."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from urllib.parse import urlencode, urlsplit

from csp.middleware import CSPMiddleware, PolicyParts
from django.conf import settings
from django.contrib.auth import logout
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import reverse
from django.utils import translation
from django.utils.cache import patch_vary_headers
from django.utils.translation import trans_real
from django_otp import user_has_device

from inventory_sync.clock import Clock
from warehouses.models import Organization

LAST_SEEN = "_last_seen"
# When the user logged in (seconds since the epoch): the session's absolute lifetime counts from
# here. Django's own expiry (SESSION_COOKIE_AGE from the last save) slides with every save.
LOGGED_IN_AT = "_logged_in_at"
# Whether the logged-in user has a confirmed TOTP device ("device" / "none"), decided at login
# so pages need no extra query. A device set up in another session counts from the next login.
TWO_FACTOR_STATE = "_two_factor"
# Touch the session at most once a minute, so not every request writes it.
TOUCH_EVERY = 60


# The time sessions are measured in (tests put in a clock that never sleeps).
clock = Clock()


def _now() -> int:
    return int(clock.now().timestamp())


class SessionIdleTimeoutMiddleware:
    """Logs out a session SESSION_COOKIE_AGE seconds after its login, however active it was,
    and one unused for SESSION_IDLE_TIMEOUT seconds (0: no idle limit). Goes after
    AuthenticationMiddleware and before LoginRequiredMiddleware, which then sends the now
    anonymous user to the login page."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        if request.user.is_authenticated:
            self._check(request)
        return self.get_response(request)

    def _check(self, request: HttpRequest) -> None:
        now = _now()
        lifetime = int(settings.SESSION_COOKIE_AGE)
        logged_in_at = request.session.get(LOGGED_IN_AT)
        if logged_in_at is None:
            # A session from before login times were kept: its lifetime counts from now.
            request.session[LOGGED_IN_AT] = logged_in_at = now
        if now - int(logged_in_at) > lifetime:
            logout(request)
            return
        timeout = int(getattr(settings, "SESSION_IDLE_TIMEOUT", 0))
        if not timeout:
            return
        last_seen = request.session.get(LAST_SEEN)
        if last_seen is not None and now - int(last_seen) > timeout:
            logout(request)
        elif last_seen is None or now - int(last_seen) >= TOUCH_EVERY:
            request.session[LAST_SEEN] = now


# Pages a user whose second factor is still due may reach.
VERIFY_EXEMPT = {"two-factor-verify", "logout", "login", "healthz"}
SETUP_EXEMPT = {"two-factor-setup", "logout", "login", "healthz"}


def two_factor_required(user: Any) -> bool:
    """REQUIRE_2FA makes a confirmed TOTP device mandatory for admins."""
    return bool(getattr(settings, "REQUIRE_2FA", False) and getattr(user, "is_org_admin", False))


class TwoFactorMiddleware:
    """After the password, a user with a confirmed TOTP device must give a code before anything
    else; with REQUIRE_2FA an admin without one must set one up first. Goes after
    django_otp's OTPMiddleware (which says whether the session is verified)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_view(
        self, request: HttpRequest, view: Any, args: Any, kwargs: Any
    ) -> HttpResponse | None:
        user: Any = request.user
        if not user.is_authenticated or user.is_verified():
            return None
        name = request.resolver_match.url_name if request.resolver_match else None
        state = request.session.get(TWO_FACTOR_STATE)
        if state is None:
            state = remember_two_factor_state(request, user)
        if state == "device":
            if name in VERIFY_EXEMPT:
                return None
            return _redirect(request, "two-factor-verify")
        if two_factor_required(user) and name not in SETUP_EXEMPT:
            return _redirect(request, "two-factor-setup")
        return None


def remember_two_factor_state(request: HttpRequest, user: Any) -> str:
    state = "device" if user_has_device(user, confirmed=True) else "none"
    request.session[TWO_FACTOR_STATE] = state
    return state


def start_session(request: HttpRequest, user: Any) -> None:
    """At login: the lifetime's start, the idle clock and the two-factor state, written once
    with the new session."""
    request.session[LOGGED_IN_AT] = request.session[LAST_SEEN] = _now()
    remember_two_factor_state(request, user)


def _redirect(request: HttpRequest, to: str) -> HttpResponse:
    url = reverse(to)
    if request.method == "GET" and not request.headers.get("HX-Request"):
        url += "?" + urlencode({"next": request.get_full_path()})
    response = HttpResponseRedirect(url)
    if request.headers.get("HX-Request"):
        response["HX-Redirect"] = url  # a whole-page navigation, not a swapped fragment
    return response


class ContentSecurityPolicyMiddleware(CSPMiddleware):
    """django-csp's middleware, with Seller Central allowed as a form target: connecting a
    channel posts a form whose answer redirects to Amazon's consent page, and browsers apply
    ``form-action`` to that redirect. Read per response so a changed setting takes effect."""

    def get_policy_parts(
        self, request: HttpRequest, response: Any, report_only: bool = False
    ) -> PolicyParts:
        parts = super().get_policy_parts(request, response, report_only)
        parts_url = urlsplit(str(getattr(settings, "AMAZON_SELLER_CENTRAL_URL", "")))
        if parts_url.scheme in ("http", "https") and parts_url.netloc:
            origin = f"{parts_url.scheme}://{parts_url.netloc}"
            parts.update = {**(parts.update or {}), "form-action": [origin]}
        return parts


class LanguageMiddleware:
    """The language of each request: the user's own choice, else the browser's Accept-Language
    (English or Canadian French, any variant: "fr-FR" reads Canadian French), else the
    organization's. Replaces Django's LocaleMiddleware (which knows no user or organization);
    goes after AuthenticationMiddleware. Responses vary by Accept-Language and say their
    language (Content-Language)."""

    def __init__(self, get_response: Callable[[HttpRequest], HttpResponse]) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        language = request_language(request)
        translation.activate(language)
        request.LANGUAGE_CODE = language
        response = self.get_response(request)
        patch_vary_headers(response, ("Accept-Language",))
        response.headers.setdefault("Content-Language", language)
        return response


def request_language(request: HttpRequest) -> str:
    user: Any = getattr(request, "user", None)
    chosen = getattr(user, "language", "") if user is not None and user.is_authenticated else ""
    if chosen:
        return str(chosen)
    browser = _browser_language(request.headers.get("Accept-Language", ""))
    if browser:
        return browser
    return Organization.language_code()


def _browser_language(header: str) -> str:
    """The first of the browser's languages (by its q order) the product speaks, or ""."""
    for code, _quality in trans_real.parse_accept_lang_header(header):
        if code == "*":
            continue
        try:
            return translation.get_supported_language_variant(code)
        except LookupError:
            continue
    return ""
