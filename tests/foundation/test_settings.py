"""Start-up refuses bad or missing production settings and names the variable."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Mapping
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
PRODUCTION = {
    "DEBUG": "false",
    "SECRET_KEY": "a-long-production-secret-key-for-the-test-only-0123456789",
    "ALLOWED_HOSTS": "inventory.example.com",
    "FIELD_ENCRYPTION_KEY": "x3CvlWcK1Rm7cYgEq2w3Zyqj6Cm6vQ5lV1F8wz9kS0Y=",
}


def start(env_overrides: Mapping[str, str | None]) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if k not in PRODUCTION and k != "DATABASE_URL"}
    env["DJANGO_SETTINGS_MODULE"] = "inventory_sync.settings"
    for key, value in env_overrides.items():
        if value is not None:
            env[key] = value
    return subprocess.run(
        [sys.executable, "-c", "import django; django.setup(); print('started')"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )


def test_it_starts_in_production_with_every_required_variable() -> None:
    result = start(PRODUCTION)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "started"


@pytest.mark.parametrize("missing", ["SECRET_KEY", "ALLOWED_HOSTS", "FIELD_ENCRYPTION_KEY"])
def test_it_refuses_to_start_in_production_without(missing: str) -> None:
    result = start({**PRODUCTION, missing: None})
    assert result.returncode != 0
    assert f"{missing} must be set when DEBUG is off" in result.stderr


def test_it_names_an_unparseable_variable() -> None:
    result = start({"DEBUG": "perhaps"})
    assert result.returncode != 0
    assert "Environment variable DEBUG is invalid" in result.stderr


def test_it_names_a_bad_database_url() -> None:
    result = start({"DATABASE_URL": "nosuchdb://nowhere"})
    assert result.returncode != 0
    assert "DATABASE_URL is invalid" in result.stderr


def test_it_runs_with_nothing_set_on_sqlite_and_the_filesystem_broker(tmp_path: Path) -> None:
    env = {"VAR_DIR": str(tmp_path)}
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL, settings.DEBUG)"
    )
    clean = {k: v for k, v in os.environ.items() if k not in {"DATABASE_URL", "REDIS_URL", "DEBUG"}}
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env={**clean, **env},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == ["django.db.backends.sqlite3", "filesystem://", "True"]


def test_it_selects_postgres_and_redis_from_the_environment() -> None:
    code = (
        "import django; django.setup(); from django.conf import settings; "
        "print(settings.DATABASES['default']['ENGINE'], settings.CELERY_BROKER_URL)"
    )
    env = {
        **os.environ,
        "DATABASE_URL": "postgres://u@db.internal:5432/inv",
        "REDIS_URL": "redis://cache.internal:6379/2",
    }
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [
        "django.db.backends.postgresql",
        "redis://cache.internal:6379/2",
    ]
