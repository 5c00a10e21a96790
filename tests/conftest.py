"""The suite's root: shared fixtures come from the plugins in tests/fixtures/, registered here.

Tests marked ``services`` need PostgreSQL, Redis or a Celery worker. On a laptop they skip when
a service is missing; in CI (``CI=true``) they fail instead (tests/helpers/services.py), so a
broken CI machine can never pass by skipping.
"""

from __future__ import annotations

import ipaddress
import os
import socket
import ssl
from collections.abc import Iterator
from functools import cache
from typing import Any

import httpx._transports.default
import pytest
from django.test.utils import override_settings

from inventory_sync.celery import app as celery_app
from marketplaces.amazon import ratelimit
from tests.helpers.fake_clock import FakeClock

# What a test queues (a debounced stock push, a sync after commit) goes to an in-memory broker
# and is dropped: never into var/celery or a shared Redis, where a later worker would run it.
# Tests of the real broker send through an explicit connection (tests/integration).
celery_app.conf.update(broker_url="memory://")

pytest_plugins = [
    "tests.fixtures.personas",
    "tests.fixtures.simulator",
    "tests.fixtures.channels",
    "tests.fixtures.browser",
    "tests.fixtures.services",
    "tests.fixtures.valet",
    "tests.fixtures.sqs",
]


def pytest_sessionstart(session: pytest.Session) -> None:
    """The French catalogue compiled when its .po is newer than its .mo (``make test`` does it
    too): pytest run on its own still tests the French pages."""
    from pathlib import Path

    from django.core.management import call_command

    locale = Path(__file__).resolve().parents[1] / "locale"
    for po in locale.glob("*/LC_MESSAGES/*.po"):
        mo = po.with_suffix(".mo")
        if not mo.exists() or mo.stat().st_mtime < po.stat().st_mtime:
            call_command(
                "compilemessages", locale=[po.parts[-3]], ignore_patterns=[".venv"], verbosity=0
            )


class OutsideNetworkRefused(OSError):
    """A test tried to reach a host that is not this machine (a real Amazon host, say)."""


@pytest.fixture(scope="session", autouse=True)
def _this_machine_only() -> Iterator[None]:
    """Nothing in the suite may reach a real Amazon host (or any host but this machine): a
    channel left at Amazon's default endpoints fails at once and says so, instead of trying
    the network. Simulators, PostgreSQL, Redis, the SQS server and the browser are all on
    127.0.0.1."""
    connect = socket.socket.connect

    def this_machine_only(self: socket.socket, address: Any) -> Any:
        if self.family in (socket.AF_INET, socket.AF_INET6):
            host = address[0]
            if not ipaddress.ip_address(host.split("%")[0]).is_loopback:
                raise OutsideNetworkRefused(f"tests reach only this machine, not {host}")
        return connect(self, address)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(socket.socket, "connect", this_machine_only)
        yield


@pytest.fixture(scope="session", autouse=True)
def _one_tls_context() -> Iterator[None]:
    """Every httpx client loads a CA bundle (certifi's, or SSL_CERT_FILE's) into a new TLS
    context, 17 ms, though the suite only talks plain HTTP to simulators on 127.0.0.1: sp_api,
    the product and the tests' helpers make 600 clients. The default context is built once."""
    create = httpx._transports.default.create_ssl_context

    @cache
    def default_context(ca_file: str | None, ca_dir: str | None) -> ssl.SSLContext:
        return create()  # reads the same two variables

    def create_ssl_context(
        verify: Any = True, cert: Any = None, trust_env: bool = True
    ) -> ssl.SSLContext:
        if verify is True and cert is None and trust_env:
            return default_context(os.environ.get("SSL_CERT_FILE"), os.environ.get("SSL_CERT_DIR"))
        return create(verify=verify, cert=cert, trust_env=trust_env)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(httpx._transports.default, "create_ssl_context", create_ssl_context)
        yield


@pytest.fixture(scope="session", autouse=True)
def _simulator_hosts_allowed() -> Iterator[None]:
    """The suite's Amazon is the simulator on http://127.0.0.1, which production refuses
    (marketplaces/endpoints.py); a test of production's rules turns this off again."""
    with override_settings(AMAZON_ALLOW_SIMULATOR_HOSTS=True):
        yield


@pytest.fixture(scope="session", autouse=True)
def _fast_password_hashing() -> Iterator[list[str]]:
    """Django's PBKDF2 takes a quarter of a second per password by design; the suite creates
    and logs in users by the hundred. ``real_password_hashing`` restores it for a test."""
    from django.conf import settings

    product_hashers = list(settings.PASSWORD_HASHERS)
    with override_settings(PASSWORD_HASHERS=["django.contrib.auth.hashers.MD5PasswordHasher"]):
        yield product_hashers


@pytest.fixture
def real_password_hashing(_fast_password_hashing: list[str]) -> Iterator[None]:
    with override_settings(PASSWORD_HASHERS=_fast_password_hashing):
        yield


@pytest.fixture(autouse=True)
def _instant_waits(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """The product's waits (usage plans, reports being prepared, retries) return at once.
    Chaos scenarios race real workers and simulators in real time: they keep the real clock."""
    if request.node.get_closest_marker("chaos") is None:
        monkeypatch.setattr(ratelimit, "clock", FakeClock())


@pytest.fixture
def fake_clock(_instant_waits: None) -> FakeClock:
    assert isinstance(ratelimit.clock, FakeClock), "chaos tests run on the real clock"
    return ratelimit.clock


@pytest.fixture(autouse=True)
def _empty_cache() -> None:
    """Cached values (the history chart) never leak from one test into the next."""
    from django.core.cache import cache

    cache.clear()


@pytest.fixture(scope="session", autouse=True)
def _no_bank_of_canada() -> Iterator[None]:
    """Nothing in the suite reaches the real Bank of Canada: its URL is a closed local port
    unless a test starts the stand-in (tests/fixtures/valet.py)."""
    with override_settings(BANK_OF_CANADA_VALET_URL="http://127.0.0.1:9/valet"):
        yield
