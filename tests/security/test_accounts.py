"""Passwords, lockout, session expiry and two-factor authentication."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
import time_machine
from django.contrib.auth.password_validation import validate_password
from django.core.exceptions import ValidationError
from django.test import Client, override_settings
from django_otp.oath import totp
from django_otp.plugins.otp_totp.models import TOTPDevice

from accounts import middleware
from accounts.models import AuditEvent, User
from tests.helpers.fake_clock import FakeClock
from tests.helpers.personas import PASSWORD

pytestmark = pytest.mark.django_db

NOW = datetime(2026, 11, 20, 15, 0, tzinfo=UTC)


def login(client: Client, username: str, password: str, ip: str = "198.51.100.7") -> int:
    response = client.post("/login/", {"username": username, "password": password}, REMOTE_ADDR=ip)
    return response.status_code


def current_code(device: TOTPDevice) -> str:
    # django-otp throttles a device after a wrong code (1 s, 2 s, 4 s…): lift it for the test.
    TOTPDevice.objects.filter(id=device.id).update(
        throttling_failure_count=0, throttling_failure_timestamp=None
    )
    device.refresh_from_db()
    return f"{totp(device.bin_key, device.step, device.t0, device.digits, device.drift):06d}"


# -- Passwords ------------------------------------------------------------------------------


def test_it_stores_passwords_with_a_slow_salted_hash(real_password_hashing: None) -> None:
    """The suite hashes with MD5 to save time (tests/conftest.py); the product never does."""
    user = User.objects.create_user(username="pat", password=PASSWORD)
    algorithm, iterations, salt, _ = user.password.split("$")
    assert algorithm == "pbkdf2_sha256"
    assert int(iterations) >= 1_000_000
    assert salt
    assert User.objects.get(username="pat").check_password(PASSWORD)


def test_it_refuses_a_password_shorter_than_12_characters(staff_client: Client) -> None:
    response = staff_client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": "Xk9#pq2!Lm", "new_password2": "Xk9#pq2!Lm"},
    )
    assert response.status_code == 400
    assert "This password is too short. It must contain at least 12 characters." in (
        response.content.decode().replace("&#x27;", "'")
    )
    assert User.objects.get(username="sam").check_password(PASSWORD)


def test_it_refuses_common_and_numeric_passwords(staff_client: Client) -> None:
    for weak in ("123456789012", "password1234"):
        response = staff_client.post(
            "/account/password/",
            {"old_password": PASSWORD, "new_password1": weak, "new_password2": weak},
        )
        assert response.status_code == 400, weak
    assert User.objects.get(username="sam").check_password(PASSWORD)


def test_it_changes_a_good_password_and_audits_it(staff_client: Client) -> None:
    new = "Lantern-Quarry-Mosaic-42"
    response = staff_client.post(
        "/account/password/",
        {"old_password": PASSWORD, "new_password1": new, "new_password2": new},
    )
    assert response.status_code == 302
    assert User.objects.get(username="sam").check_password(new)
    assert staff_client.get("/items/").status_code == 200  # still logged in
    assert AuditEvent.objects.filter(action="password-changed", username="sam").count() == 1


def test_it_refuses_any_of_the_last_10_passwords(staff_client: Client) -> None:
    """Amazon's Data Protection Policy (2025-11-11): no reuse of the last 10 passwords."""
    used = [PASSWORD] + [f"Lantern-Quarry-Mosaic-{n:02d}" for n in range(1, 10)]

    def change(old: str, new: str) -> int:
        response = staff_client.post(
            "/account/password/",
            {"old_password": old, "new_password1": new, "new_password2": new},
        )
        return response.status_code

    for old, new in zip(used, used[1:], strict=False):
        assert change(old, new) == 302
    current = used[-1]
    for reused in used:  # the current one and the nine before it
        response = staff_client.post(
            "/account/password/",
            {"old_password": current, "new_password1": reused, "new_password2": reused},
        )
        assert "You have used this password before" in response.content.decode(), reused
    assert User.objects.get(username="sam").check_password(current)

    assert change(current, "Harbour-Violet-Ledger-77") == 302
    # PASSWORD is now the eleventh most recent: allowed again.
    assert change("Harbour-Violet-Ledger-77", PASSWORD) == 302


def test_it_remembers_passwords_set_outside_the_pages() -> None:
    """createsuperuser, changepassword and the admin all end in set_password + save."""
    user = User.objects.create_user(username="kim", password="Orchard-Pebble-Thimble-5")
    user.set_password("Orchard-Pebble-Thimble-6")
    user.save()
    with pytest.raises(ValidationError, match="used this password before"):
        validate_password("Orchard-Pebble-Thimble-5", user)
    assert user.password_history.count() == 2


# -- Lockout --------------------------------------------------------------------------------


def test_it_locks_a_username_and_ip_out_after_5_failures_for_30_minutes(
    staff_user: User,
) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        for _ in range(4):
            assert login(client, "sam", "wrong-password-123") == 200
        assert login(client, "sam", "wrong-password-123") == 429
        response = client.post(
            "/login/", {"username": "sam", "password": PASSWORD}, REMOTE_ADDR="198.51.100.7"
        )
        assert response.status_code == 429
        assert "Too many failed logins" in response.content.decode()
        assert "locked for 30 minutes" in response.content.decode()
        assert client.get("/items/").status_code == 302  # the right password did not log in
        # Another address is not locked out (lockout is per username + IP).
        assert login(Client(), "sam", PASSWORD, ip="198.51.100.8") == 302
    with time_machine.travel(NOW + timedelta(minutes=29), tick=False):
        assert login(client, "sam", PASSWORD) == 429  # an attempt while locked restarts it
    with time_machine.travel(NOW + timedelta(minutes=29 + 29), tick=False):
        assert login(client, "sam", PASSWORD) == 429
    with time_machine.travel(NOW + timedelta(minutes=29 + 29 + 31), tick=False):
        assert login(client, "sam", PASSWORD) == 302
    actions = list(AuditEvent.objects.order_by("id").values_list("action", flat=True))
    assert actions.count("login-failed") >= 5
    assert "locked-out" in actions


def test_it_audits_logins_logouts_and_failures(staff_user: User) -> None:
    client = Client(HTTP_USER_AGENT="Firefox/140")
    assert login(client, "sam", "wrong-password-123") == 200
    assert login(client, "sam", PASSWORD) == 302
    client.post("/logout/")
    events = list(AuditEvent.objects.order_by("id"))
    assert [e.action for e in events] == ["login-failed", "login", "logout"]
    assert events[0].detail == {"username": "sam"}
    assert "wrong-password" not in str(events[0].detail)
    assert (events[1].username, events[1].ip_address, events[1].user_agent) == (
        "sam",
        "198.51.100.7",
        "Firefox/140",
    )


# -- Sessions -------------------------------------------------------------------------------


@override_settings(SESSION_IDLE_TIMEOUT=1800)
def test_it_ends_a_session_idle_longer_than_the_timeout(staff_user: User) -> None:
    client = Client()
    with time_machine.travel(NOW, tick=False):
        assert login(client, "sam", PASSWORD) == 302
    with time_machine.travel(NOW + timedelta(minutes=29), tick=False):
        assert client.get("/items/").status_code == 200  # activity restarts the clock
    with time_machine.travel(NOW + timedelta(minutes=58), tick=False):
        assert client.get("/items/").status_code == 200
    with time_machine.travel(NOW + timedelta(minutes=88, seconds=1), tick=False):
        response = client.get("/items/")
        assert response.status_code == 302
        assert response["Location"] == "/login/?next=/items/"


@pytest.fixture
def session_clock(fake_clock: FakeClock, monkeypatch: pytest.MonkeyPatch) -> FakeClock:
    """Sessions measured on the fake clock: ``sleep`` moves them on at once."""
    monkeypatch.setattr(middleware, "clock", fake_clock)
    return fake_clock


@override_settings(SESSION_COOKIE_AGE=8 * 3600, SESSION_IDLE_TIMEOUT=3600)
def test_it_ends_a_session_eight_hours_after_login_however_active(
    staff_user: User, session_clock: FakeClock
) -> None:
    client = Client()
    assert login(client, "sam", PASSWORD) == 302
    for _ in range(9):  # 7 h 30 min of a request every 50 minutes: never idle
        session_clock.sleep(50 * 60)
        assert client.get("/items/").status_code == 200
    session_clock.sleep(30 * 60 + 1)  # 8 h and a second after login

    response = client.get("/items/")

    assert response.status_code == 302
    assert response["Location"] == "/login/?next=/items/"
    assert client.get("/items/").status_code == 302  # the session is gone, not just refused once
    assert login(client, "sam", PASSWORD) == 302  # a new login starts a new lifetime
    assert client.get("/items/").status_code == 200


@override_settings(SESSION_COOKIE_AGE=8 * 3600, SESSION_IDLE_TIMEOUT=3600)
def test_it_still_ends_an_idle_session_before_its_lifetime(
    staff_user: User, session_clock: FakeClock
) -> None:
    client = Client()
    assert login(client, "sam", PASSWORD) == 302
    session_clock.sleep(3600 + 1)
    assert client.get("/items/").status_code == 302


def test_it_caps_the_session_lifetime() -> None:
    from django.conf import settings

    assert settings.SESSION_COOKIE_AGE == 8 * 60 * 60
    assert settings.SESSION_IDLE_TIMEOUT == 60 * 60
    assert settings.SESSION_COOKIE_HTTPONLY is True


# -- Two-factor -----------------------------------------------------------------------------


def test_it_sets_up_totp_with_a_server_drawn_qr_code(staff_client: Client) -> None:
    page = staff_client.get("/account/two-factor/")
    html = page.content.decode()
    assert page.status_code == 200
    assert '<svg width="' in html and 'class="segno"' in html
    assert "otpauth://totp/" in html
    assert page["Cache-Control"].startswith("max-age=0")
    device = TOTPDevice.objects.get(user__username="sam", confirmed=False)

    wrong = staff_client.post("/account/two-factor/", {"token": "000000"})
    assert wrong.status_code == 400
    response = staff_client.post("/account/two-factor/", {"token": current_code(device)})

    assert response.status_code == 302
    device.refresh_from_db()
    assert device.confirmed is True
    assert AuditEvent.objects.filter(action="two-factor-enabled", username="sam").count() == 1
    assert "is on for your account" in staff_client.get("/account/two-factor/").content.decode()


def test_it_asks_for_the_code_after_the_password(staff_user: User) -> None:
    device = TOTPDevice.objects.create(user=staff_user, name="phone", confirmed=True)
    client = Client()
    assert login(client, "sam", PASSWORD) == 302
    response = client.get("/items/")
    assert response.status_code == 302
    assert response["Location"] == "/account/two-factor/verify/?next=%2Fitems%2F"
    assert client.post("/sales-orders/1/ship/", {}).status_code == 302  # nothing else either
    refused = client.post("/account/two-factor/verify/", {"token": "000000"})
    assert refused.status_code == 400
    accepted = client.post(
        "/account/two-factor/verify/", {"token": current_code(device), "next": "/items/"}
    )
    assert accepted.status_code == 302
    assert accepted["Location"] == "/items/"
    assert client.get("/items/").status_code == 200
    actions = set(AuditEvent.objects.values_list("action", flat=True))
    assert {"two-factor-failed", "two-factor-verified"} <= actions


def test_it_refuses_an_offsite_next_after_verification(staff_user: User) -> None:
    device = TOTPDevice.objects.create(user=staff_user, name="phone", confirmed=True)
    client = Client()
    login(client, "sam", PASSWORD)
    response = client.post(
        "/account/two-factor/verify/",
        {"token": current_code(device), "next": "https://evil.example/"},
    )
    assert response["Location"] == "/"


@override_settings(REQUIRE_2FA=True)
def test_with_require_2fa_an_admin_must_set_it_up_first(admin_user: User) -> None:
    client = Client()
    assert login(client, "alice", PASSWORD) == 302
    for path in ("/", "/settings/integrations/marketplaces/", "/settings/audit-log/"):
        response = client.get(path)
        assert response.status_code == 302, path
        assert response["Location"].startswith("/account/two-factor/?next=")
    assert client.post("/settings/organization/", {"name": "X"}).status_code == 302
    htmx = client.get("/items/", HTTP_HX_REQUEST="true")
    assert htmx["HX-Redirect"] == "/account/two-factor/"
    setup = client.get("/account/two-factor/")
    assert setup.status_code == 200
    assert "Admins must use two-factor authentication" in setup.content.decode()
    device = TOTPDevice.objects.get(user=admin_user, confirmed=False)
    client.post("/account/two-factor/", {"token": current_code(device)})
    assert client.get("/settings/audit-log/").status_code == 200


@override_settings(REQUIRE_2FA=True)
def test_with_require_2fa_staff_may_still_go_without(staff_user: User) -> None:
    client = Client()
    assert login(client, "sam", PASSWORD) == 302
    assert client.get("/items/").status_code == 200
