"""Every route is guarded: anonymous users go to the login page, staff cannot change anything
outside an explicit allow-list, unknown ids are 404, and the Amazon simulator is not part of the
web application. A new view that forgets its permission check fails here."""

from __future__ import annotations

import ast
import re
import subprocess
import sys
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver, resolve
from django.urls.exceptions import Resolver404

from marketplaces.models import SalesReturn, Shipment
from tests.factories import ItemFactory, SalesOrderFactory, SyncRunFactory, WarehouseFactory

pytestmark = pytest.mark.django_db

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"login", "healthz"}
# Routes a staff user may POST to. Anything else staff POST to must answer 403 (or 405 where
# the route takes no POST at all).
STAFF_MAY_POST = {
    "login",
    "logout",
    "password-change",  # their own password
    "two-factor-setup",  # their own second factor
    "two-factor-verify",
    "language",  # their own language
    "sales-order-ship",  # staff create shipments
    "shipment-retry",  # …and correct and resend a rejected one
    "sales-return-receive",  # …and receive the returns that come back
}
ID = re.compile(r"<(?:\w+:)?(\w+)>")


def named_routes() -> Iterator[tuple[str, str]]:
    """(name, route with its <converters>) of every named URL, the Django admin excepted."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if not route.startswith("admin/"):
                    yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and entry.name:
                yield entry.name, "/" + route.lstrip("^").rstrip("$")

    yield from walk(get_resolver().url_patterns, "")


ROUTES = sorted(named_routes())
WITH_IDS = [(name, route) for name, route in ROUTES if ID.search(route)]


def concrete(route: str, ids: dict[str, int], default: int = 999_999) -> str:
    return ID.sub(lambda match: str(ids.get(match.group(1), default)), route)


@pytest.fixture
def existing_ids() -> dict[str, int]:
    """A real object for every id a route takes, so the permission check is what answers."""
    order = SalesOrderFactory.create()
    shipment = Shipment.objects.create(
        order=order,
        package_reference_id="1",
        carrier_code="Canada Post",
        tracking_number="TRACK1",
        ship_date=datetime(2026, 11, 2, tzinfo=UTC),
    )
    return {
        "channel_id": order.channel_id,
        "order_id": order.id,
        "shipment_id": shipment.id,
        "item_id": ItemFactory.create().id,
        "warehouse_id": WarehouseFactory.create().id,
        "run_id": SyncRunFactory.create(channel=order.channel).id,
        "return_id": SalesReturn.objects.create(
            order=order, amazon_return_id="D1RRMA", fulfillment_channel="merchant"
        ).id,
    }


def test_it_knows_every_id_a_route_takes(existing_ids: dict[str, int]) -> None:
    taken = {match for _, route in WITH_IDS for match in ID.findall(route)}
    assert taken <= set(existing_ids), "add the new id to existing_ids"
    assert len(ROUTES) > 30


@pytest.mark.parametrize(("name", "route"), [r for r in ROUTES if r[0] not in PUBLIC])
def test_it_sends_anonymous_users_to_login(client: Client, name: str, route: str) -> None:
    path = concrete(route, {}, default=1)
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 302, f"{name} is reachable without a login"
        assert response["Location"].startswith("/login/?next=")


@pytest.mark.parametrize(("name", "route"), [r for r in ROUTES if r[0] not in STAFF_MAY_POST])
def test_it_refuses_staff_changes_outside_the_allow_list(
    staff_client: Client, existing_ids: dict[str, int], name: str, route: str
) -> None:
    response = staff_client.post(concrete(route, existing_ids), {})
    assert response.status_code in (403, 405), f"staff may POST to {name}"
    if response.status_code == 405:  # takes no POST from anyone
        assert "POST" not in response["Allow"]


@pytest.mark.parametrize(("name", "route"), WITH_IDS)
def test_it_answers_404_for_unknown_ids(admin_client: Client, name: str, route: str) -> None:
    path = concrete(route, {})
    response = admin_client.get(path)
    if response.status_code == 405:
        response = admin_client.post(path, {})
    assert response.status_code == 404, f"{name} with an unknown id"


def test_it_lets_staff_see_the_pages_but_not_the_audit_log(staff_client: Client) -> None:
    assert staff_client.get("/").status_code == 200
    assert staff_client.get("/sales-orders/").status_code == 200
    assert staff_client.get("/settings/audit-log/").status_code == 403


@pytest.mark.parametrize("path", ["/_sim/orders", "/auth/o2/token", "/apps/authorize/consent"])
def test_the_simulator_is_not_mounted_in_the_web_app(admin_client: Client, path: str) -> None:
    with pytest.raises(Resolver404):
        resolve(path)
    assert admin_client.get(path).status_code == 404
    assert admin_client.post(path, {}).status_code == 404


def test_no_product_module_imports_the_simulator() -> None:
    allowed = {
        Path("marketplaces/management/commands/amazon_simulator.py"),
    }
    offenders = []
    for source in ROOT.rglob("*.py"):
        relative = source.relative_to(ROOT)
        top = relative.parts[0]
        if top in {"tests", "benchmarks", "scripts", "node_modules"} or top.startswith("."):
            continue
        if top == "spapi_simulator" or relative in allowed:
            continue
        for node in ast.walk(ast.parse(source.read_text(encoding="utf-8"))):
            names = []
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.module:
                names = [node.module] + [f"{node.module}.{alias.name}" for alias in node.names]
            if any(n.startswith("spapi_simulator") for n in names):
                offenders.append(str(relative))
    assert offenders == []


def test_the_running_web_app_and_workers_never_load_the_simulator() -> None:
    probe = (
        "import django, sys; django.setup();"
        "import inventory_sync.urls, inventory_sync.wsgi;"
        "from inventory_sync.celery import app; app.loader.import_default_modules();"
        "from django.urls import get_resolver; get_resolver().url_patterns;"
        "print(sorted(m for m in sys.modules if m.startswith('spapi_simulator')))"
    )
    result = subprocess.run(
        [sys.executable, "-c", probe],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
        env={"DJANGO_SETTINGS_MODULE": "inventory_sync.settings", "PATH": "/usr/bin:/bin"},
        check=True,
    )
    assert result.stdout.strip().splitlines()[-1] == "[]"
