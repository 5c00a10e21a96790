"""Helpers for the browser tests (tests/e2e): logging in through the page, screenshots."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from tests.helpers.personas import PASSWORD

if TYPE_CHECKING:
    from playwright.sync_api import Page

    from accounts.models import User

CHROMIUM = os.environ.get("CHROMIUM_PATH", "/usr/bin/chromium")
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"


def log_in(page: Page, user: User) -> None:
    page.goto("/login/")
    # By the fields' ids: the page may be in French (the browser's language).
    page.locator("#id_username").fill(user.username)
    page.locator("#id_password").fill(PASSWORD)
    page.locator("form.form button[type=submit]").click()
    page.wait_for_url(lambda url: "/login/" not in url)


def screenshot(page: Page, name: str) -> Path:
    """Kept under test-artifacts/ so a failing CI run can be looked at."""
    ARTIFACTS.mkdir(exist_ok=True)
    path = ARTIFACTS / f"{name}.png"
    page.screenshot(path=str(path), full_page=True)
    return path
