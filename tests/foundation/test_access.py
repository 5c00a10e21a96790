"""Every page but login and the health check needs a login; only admins change settings."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver

from warehouses.models import Organization

# Pages reachable without logging in, on purpose.
PUBLIC = {"login", "healthz"}


def all_named_routes() -> Iterator[tuple[str, str]]:
    """(name, concrete path) for every named URL of the product, admin site excluded."""

    def walk(patterns: list[Any], prefix: str) -> Iterator[tuple[str, str]]:
        for entry in patterns:
            route = prefix + str(entry.pattern)
            if isinstance(entry, URLResolver):
                if route.startswith("admin/"):
                    continue
                yield from walk(entry.url_patterns, route)
            elif isinstance(entry, URLPattern) and entry.name:
                concrete = re.sub(r"<(?:\w+:)?\w+>", "1", route).lstrip("^").rstrip("$")
                yield entry.name, "/" + concrete

    yield from walk(get_resolver().url_patterns, "")


ROUTES = sorted(all_named_routes())


def test_it_knows_the_product_routes() -> None:
    names = {name for name, _ in ROUTES}
    assert {"home", "item-list", "warehouse-list", "organization-settings"} <= names


@pytest.mark.django_db
@pytest.mark.parametrize(("name", "path"), [r for r in ROUTES if r[0] not in PUBLIC])
def test_it_sends_anonymous_users_to_the_login_page(client: Client, name: str, path: str) -> None:
    for method in (client.get, client.post):
        response = method(path)
        assert response.status_code == 302, f"{name} {path} is reachable without a login"
        assert response["Location"].startswith("/login/?next=")


@pytest.mark.django_db
def test_it_lets_anyone_reach_login_and_healthz(client: Client) -> None:
    assert client.get("/login/").status_code == 200
    response = client.get("/healthz/")
    assert response.status_code == 200
    assert response.content == b"ok"


def test_it_lets_staff_view_organization_settings_but_not_change_them(
    staff_client: Client,
) -> None:
    assert staff_client.get("/settings/organization/").status_code == 200
    response = staff_client.post("/settings/organization/", {"name": "Hijacked"})
    assert response.status_code == 403
    assert Organization.load().name == "My organization"


@pytest.mark.parametrize(
    "path", ["/warehouses/new/", "/warehouses/1/edit/", "/warehouses/1/make-primary/"]
)
def test_it_forbids_staff_to_change_warehouses(staff_client: Client, path: str) -> None:
    assert staff_client.post(path, {"name": "X"}).status_code == 403


def test_it_logs_in_and_out(staff_user: object) -> None:
    client = Client()
    response = client.post(
        "/login/", {"username": "sam", "password": "correct-horse-battery-staple"}
    )
    assert response.status_code == 302
    assert client.get("/items/").status_code == 200
    client.post("/logout/")
    assert client.get("/items/").status_code == 302


def test_it_refuses_a_wrong_password(staff_user: object) -> None:
    client = Client()
    response = client.post("/login/", {"username": "sam", "password": "wrong-password-123"})
    assert response.status_code == 200
    assert b"Please enter a correct username and password" in response.content
