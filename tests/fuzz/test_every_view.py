"""Every view, fuzzed: no query string and no POST gives a 500 (issue 14, point 4).

The list of URLs comes from the URLconf, so a new view is swept without anyone adding it here.
For each URL a probe request records which query-string and form keys the view reads (its
forms and ``inventory_sync.paging``'s helpers read them through ``QueryDict``); then each key,
one at a time, gets each hostile value while the others keep a valid one, so the hostile value
reaches as deep as a real user could push it. Each request runs in a savepoint rolled back
afterwards: every request sees the same world, whatever the one before it changed.

A view that reads a form field this module has no valid value for fails here with the field's
name: add one to ``valid_values``.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from contextlib import contextmanager
from decimal import Decimal
from typing import Any

import pytest
from django.db import transaction
from django.http import HttpResponse, QueryDict
from django.test import Client
from django.urls import URLPattern, URLResolver, get_resolver
from django.utils import timezone
from django.utils.datastructures import MultiValueDict

from accounts.models import User
from marketplaces.models import (
    SalesChannel,
    SalesOrderLine,
    SalesReturn,
    SalesReturnLine,
    Shipment,
)
from tests.factories import (
    ItemFactory,
    ListingFactory,
    SalesOrderFactory,
    SyncRecordFactory,
    SyncRunFactory,
)
from tests.helpers.personas import PASSWORD
from warehouses import stock
from warehouses.models import Item, Organization, Warehouse

# Django's admin site: Django's own forms and views, open only to superusers.
NOT_SWEPT = ("admin/",)

# What breaks naive code: NUL (PostgreSQL refuses it in any string), numbers past the 32- and
# 64-bit integers databases store, floats Python reads as infinite, digits that are not ASCII,
# the ends of the calendar, a day that does not exist, very long text, markup and bidi marks.
HOSTILE = [
    "a\x00b",
    "-1",
    "2147483648",
    "9223372036854775808",
    "99999999999999999999",
    "1e400",
    "²",
    "9999-12-31",
    "0001-01-01",
    "x" * 3000 + "\u202e<script>",
]


def _routes() -> list[str]:
    def walk(patterns: list[Any], prefix: str) -> Iterator[str]:
        for pattern in patterns:
            route = prefix + str(pattern.pattern)
            if isinstance(pattern, URLResolver):
                yield from walk(pattern.url_patterns, route)
            elif isinstance(pattern, URLPattern) and not route.startswith(NOT_SWEPT):
                yield route

    return sorted(set(walk(get_resolver().url_patterns, "")))


ROUTES = _routes()


@pytest.fixture
def world(channel: SalesChannel, warehouse: Warehouse, amazon_settings: Any) -> dict[str, Any]:
    """One of everything a URL can name, on a channel whose Amazon is a simulator."""
    organization = Organization.load()
    organization.multi_warehouse_enabled = True
    organization.save()
    confirmed = ItemFactory.create(sku="MUG-1")
    stock.set_opening_stock(confirmed, warehouse, 10)
    unconfirmed = ItemFactory.create(sku="NEW-1", status=Item.Status.UNCONFIRMED)
    ListingFactory.create(channel=channel, item=unconfirmed, amazon_quantity=3)
    order = SalesOrderFactory.create(channel=channel, warehouse=warehouse)
    line = SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="111",
        item=confirmed,
        seller_sku="MUG-1",
        quantity=2,
        unit_price=Decimal("9.99"),
    )
    shipment = Shipment.objects.create(
        order=order,
        package_reference_id="pkg1",
        carrier_code="Canada Post",
        tracking_number="7023456789",
        ship_date=order.purchased_at,
        amazon_status=Shipment.AmazonStatus.REJECTED,
        amazon_error="Invalid tracking number",
    )
    run = SyncRunFactory.create(channel=channel, status="partial")
    SyncRecordFactory.create(run=run, outcome="failed")
    sales_return = SalesReturn.objects.create(
        order=order, amazon_return_id="D1RRMA", fulfillment_channel="merchant"
    )
    return_line = SalesReturnLine.objects.create(
        sales_return=sales_return, order_line=line, quantity=1
    )
    return {
        "ids": {
            "channel_id": channel.id,
            "run_id": run.id,
            "order_id": order.id,
            "shipment_id": shipment.id,
            "item_id": unconfirmed.id,
            "warehouse_id": warehouse.id,
            "return_id": sales_return.id,
        },
        "confirmed": confirmed,
        "warehouse": warehouse,
        "line": line,
        "return_line": return_line,
        "channel": channel,
    }


def valid_values(world: dict[str, Any], admin: User) -> dict[str, str]:
    """A value each form field accepts, by field name (the same name means the same thing
    across the product's forms)."""
    today = timezone.localdate().isoformat()
    warehouse = str(world["warehouse"].id)
    return {
        # accounts
        "token": "123456",
        "old_password": PASSWORD,
        "new_password1": "a-much-longer-new-password-1",
        "new_password2": "a-much-longer-new-password-1",
        "username": admin.username,
        "password": PASSWORD,
        "next": "/",
        "action": "login",
        "user": str(admin.id),
        "language": "fr-ca",
        # warehouses
        "name": "Fuzzed",
        "address": "1 Main Street",
        "is_active": "on",
        "base_currency": "CAD",
        "taxes_enabled": "on",
        "multi_warehouse_enabled": "on",
        "primary_warehouse": warehouse,
        "order_sync_preference": Organization.OrderSyncPreference.CONFIRMED,
        "warehouse": warehouse,
        "quantity_change": "1",
        "reorder_point": "5",
        "attention": "low_stock",
        "reason": "count",
        "q": "MUG",
        "status": "",
        "page": "1",
        # marketplaces
        "seller_id": "A3FUZZ",
        "refresh_token": "Atzr|fuzz",
        "lookback_days": "7",
        "sync_interval_minutes": "15",
        "ship": "late",
        "sync_items": "on",
        "sync_orders": "on",
        "sync_stock": "on",
        "sync_shipments": "on",
        "sync_returns": "on",
        "safety_buffer": "0",
        "max_quantity": "100",
        "kind": "orders",
        "fetch_from": "specific_period",
        "start_date": today,
        "end_date": today,
        "target": str(world["confirmed"].id),
        "carrier_code": "Canada Post",
        "carrier_name": "",
        "tracking_number": "7023456789",
        "ship_date": today,
        f"line_{world['line'].id}": "1",
        f"sellable_{world['return_line'].id}": "1",
        "restock_returns_automatically": "on",
        "channel": str(world["channel"].id),
        "purchased_from": today,
        "purchased_to": today,
        "older_than": "",
        "newer_than": "",
        "state": "",
        "spapi_oauth_code": "",
        "selling_partner_id": "",
        "marketplace": "amazon_com",
        "notifications": "on",
        # exchange rates
        "currency": "USD",
        "date": today,
        "rate": "1.3921",
    }


@contextmanager
def keys_read() -> Iterator[set[str]]:
    """The keys any QueryDict (request.GET, request.POST) is asked for meanwhile."""
    read: set[str] = set()
    originals = {
        name: getattr(MultiValueDict, name)
        # Not __getitem__ or __contains__: parsing a body (appendlist), items() and copy()
        # use them for every key there is. Forms and views read with get and getlist.
        for name in ("get", "getlist")
    }

    def recording(name: str) -> Any:
        def method(self: MultiValueDict[str, Any], key: str, *args: Any) -> Any:
            if isinstance(self, QueryDict):
                read.add(key)
            return originals[name](self, key, *args)

        return method

    for name in originals:
        setattr(MultiValueDict, name, recording(name))
    try:
        yield read
    finally:
        for name, original in originals.items():
            setattr(MultiValueDict, name, original)


def send(client: Client, method: str, path: str, data: dict[str, str]) -> HttpResponse:
    """One request in a savepoint that is rolled back: the next request sees the same world."""
    with transaction.atomic():
        response: HttpResponse = getattr(client, method)(path, data)
        transaction.set_rollback(True)
    return response


def _path(route: str, ids: dict[str, int]) -> str:
    def value(match: re.Match[str]) -> str:
        name = match.group(1)
        assert name in ids, f"{route}: say in world() which object a <{name}> is"
        return str(ids[name])

    return "/" + re.sub(r"<(?:\w+:)?(\w+)>", value, route)


def _sweep(client: Client, method: str, path: str, baseline: dict[str, str]) -> list[str]:
    """Every key the view reads, one at a time, with every hostile value: the 500s."""
    client.raise_request_exception = False  # collect every 500, each logged with its traceback
    with keys_read() as read:
        probe = send(client, method, path, {**baseline, "fuzz-probe": "1"})
    if probe.status_code == 405:
        return []
    failures = []
    for key in sorted(read - {"fuzz-probe", "csrfmiddlewaretoken"}):
        for hostile in HOSTILE:
            response = send(client, method, path, {**baseline, key: hostile})
            if response.status_code >= 500:
                failures.append(f"{method.upper()} {path} {key}={hostile[:40]!r}")
    return failures


def test_no_query_string_gives_a_500(
    world: dict[str, Any], admin_user: User, admin_client: Client
) -> None:
    failures = []
    for route in ROUTES:
        admin_client.force_login(admin_user)  # again: a route before may have logged out
        failures += _sweep(admin_client, "get", _path(route, world["ids"]), {})
    assert not failures, "\n".join(failures)


def test_no_post_gives_a_500(world: dict[str, Any], admin_user: User, admin_client: Client) -> None:
    values = valid_values(world, admin_user)
    failures = []
    for route in ROUTES:
        path = _path(route, world["ids"])
        admin_client.force_login(admin_user)
        with keys_read() as read:
            send(admin_client, "post", path, values)
        unknown = read - set(values) - {"csrfmiddlewaretoken"}
        assert not unknown, f"{path} reads {sorted(unknown)}: add a valid value to valid_values()"
        failures += _sweep(admin_client, "post", path, values)
    assert not failures, "\n".join(failures)


def test_every_view_is_swept() -> None:
    """The sweep reaches the URLs of every app (a broken URLconf walk would sweep nothing)."""
    assert {"items/", "sales-orders/", "sync-runs/<int:run_id>/", "settings/audit-log/"} <= set(
        ROUTES
    )
    assert "shipments/<int:shipment_id>/retry/" in ROUTES
    assert not any(route.startswith("admin/") for route in ROUTES)
