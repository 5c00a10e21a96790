"""Production settings pass Django's deployment checks and send a strict CSP."""

from __future__ import annotations

import os
import re
import secrets
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from django.test import Client

ROOT = Path(__file__).resolve().parents[2]
FERNET_KEY = "ZGV2ZWxvcG1lbnQtb25seS1maWVsZC1rZXktMzJieXQ="


def production_env(tmp_path: Path, **extra: str) -> dict[str, str]:
    env = {
        "PATH": os.environ.get("PATH", "/usr/bin:/bin"),
        "DEBUG": "false",
        "SECRET_KEY": secrets.token_urlsafe(50),
        "FIELD_ENCRYPTION_KEY": FERNET_KEY,
        "ALLOWED_HOSTS": "inventory.example.com",
        "CSRF_TRUSTED_ORIGINS": "https://inventory.example.com",
        "AMAZON_LWA_CLIENT_ID": "amzn1.application-oa2-client.test",
        "AMAZON_LWA_CLIENT_SECRET": "not-a-real-secret",
        "SECURITY_CONTACT_EMAIL": "security@inventory.example.com",
        "VAR_DIR": str(tmp_path),
    }
    env.update(extra)
    return env


def manage(tmp_path: Path, *args: str, **extra: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "manage.py", *args],
        cwd=ROOT,
        env=production_env(tmp_path, **extra),
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )


def test_it_passes_the_deployment_checks_with_production_settings(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", "--deploy", "--fail-level", "WARNING")
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_it_asks_for_a_security_contact(tmp_path: Path) -> None:
    result = manage(
        tmp_path, "check", "--deploy", "--fail-level", "WARNING", SECURITY_CONTACT_EMAIL=""
    )
    assert result.returncode != 0
    assert "accounts.W001" in result.stdout + result.stderr


def test_it_reads_secrets_from_files(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text(secrets.token_urlsafe(50) + "\n")
    probe = "from django.conf import settings; print(len(settings.SECRET_KEY))"
    env = production_env(tmp_path, SECRET_KEY_FILE=str(key_file))
    del env["SECRET_KEY"]
    result = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c", probe],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().splitlines()[-1] == str(len(key_file.read_text().strip()))


def test_it_refuses_a_secret_given_twice(tmp_path: Path) -> None:
    key_file = tmp_path / "secret_key"
    key_file.write_text("x" * 60)
    result = manage(tmp_path, "check", SECRET_KEY_FILE=str(key_file))
    assert result.returncode != 0
    assert "Set SECRET_KEY or SECRET_KEY_FILE, not both." in result.stderr


def test_it_refuses_an_audit_log_kept_less_than_a_year(tmp_path: Path) -> None:
    result = manage(tmp_path, "check", AUDIT_LOG_RETENTION_DAYS="90")
    assert result.returncode != 0
    assert "AUDIT_LOG_RETENTION_DAYS is invalid: keep the audit log at least 365 days" in (
        result.stderr
    )


@pytest.mark.django_db
def test_it_sends_a_content_security_policy_without_inline_code(
    admin_client: Client, settings: Any
) -> None:
    settings.AMAZON_SELLER_CENTRAL_URL = "https://sellercentral.amazon.ca"
    response = admin_client.get("/")
    policy = response["Content-Security-Policy"]
    directives = {part.split()[0]: part.split()[1:] for part in policy.split(";") if part.strip()}
    assert directives["default-src"] == ["'self'"]
    assert directives["script-src"] == ["'self'"]
    assert directives["style-src"] == ["'self'"]
    assert directives["frame-ancestors"] == ["'none'"]
    assert "unsafe-inline" not in policy and "unsafe-eval" not in policy
    # Connecting posts a form that redirects to Seller Central's consent page.
    assert directives["form-action"] == ["'self'", settings.AMAZON_SELLER_CENTRAL_URL]


@pytest.mark.django_db
def test_it_turns_off_htmx_inline_indicator_styles(admin_client: Client) -> None:
    html = admin_client.get("/").content.decode()
    assert (
        '<meta name="htmx-config" content=\'{"includeIndicatorStyles": false, '
        '"allowEval": false}\'>' in html
    )


def test_no_template_has_inline_script_style_or_event_handlers() -> None:
    inline = re.compile(
        r"<script(?![^>]*\bsrc=)[^>]*>|\son[a-z]+\s*=|\sstyle\s*=|<style\b|hx-on|javascript:",
        re.IGNORECASE,
    )
    offenders = [
        f"{path.relative_to(ROOT)}: {match.group(0)}"
        for path in sorted((ROOT / "templates").rglob("*.html"))
        for match in inline.finditer(path.read_text(encoding="utf-8"))
    ]
    assert offenders == []
