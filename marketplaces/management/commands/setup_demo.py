"""Prepare a development install for `make run`: organization, admin login, demo sales channel.

Safe to run on every start: it creates what is missing and leaves the rest alone, and the
admin password is kept in ``var/demo-admin-password`` so the login stays the same across
restarts.

``--stock-from-simulator`` (run by ``scripts/run.py`` once the simulator answers) gives the
demo something to look at: items for about nine in ten of the simulator's listings, with the
merchant-fulfilled ones' stock split over two warehouses, and, on a channel that never synced,
an initial items sync and a 7-day orders sync queued for the worker. The listings come from the
running simulator's control API over HTTP: the product never imports the simulator.
"""

from __future__ import annotations

import os
import secrets
import time
from datetime import timedelta
from decimal import Decimal, InvalidOperation
from pathlib import Path
from typing import Any

import httpx
from django.conf import settings
from django.core.management.base import BaseCommand, CommandError, CommandParser
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from marketplaces.endpoints import simulator_hosts_allowed
from marketplaces.models import AMAZON_CA_MARKETPLACE_ID, SalesChannel
from marketplaces.services import request_sync
from synchistory.models import SyncRun
from warehouses import stock
from warehouses.models import Item, Organization, Warehouse

ADMIN_USERNAME = "admin"
WAREHOUSE_NAME = "Main warehouse"
SECOND_WAREHOUSE_NAME = "Montréal"
# Every tenth listing is left without an item: the items sync makes it an unconfirmed item, and
# its orders wait on hold until it is confirmed or linked.
UNMATCHED_EVERY = 10
MAIN_SHARE = Decimal("0.6")  # of a listing's quantity held in the main warehouse
INITIAL_LOOKBACK_DAYS = 7
DEMO_SYNC_INTERVAL_MINUTES = 5  # the smallest the Show Details page accepts
# Buyer orders placed in the simulator before the first sync: some wait on hold for an
# unconfirmed item, the others commit stock, so the Sales Orders page has both at once.
DEMO_HELD_ORDERS = 3
DEMO_CONFIRMED_ORDERS = 8
CHANNEL_NAME = "Amazon.ca (simulator)"
# The simulator's default seller account (see spapi_simulator).
SIMULATOR_SELLER_ID = "A3SIMULATORCA"
SIMULATOR_REFRESH_TOKEN = "Atzr|simulator"  # noqa: S105 - the simulator's public demo token
DEFAULT_SIMULATOR_PORT = 8765


def password_file() -> Path:
    return Path(settings.VAR_DIR) / "demo-admin-password"


def read_or_create_password(path: Path) -> str:
    if path.exists():
        password = path.read_text(encoding="utf-8").strip()
        if password:
            return password
    password = secrets.token_urlsafe(12)  # 16 characters: passes the 12-character minimum
    path.parent.mkdir(parents=True, exist_ok=True)
    # Created readable by the owner only: it is a working admin password.
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "w", encoding="utf-8") as handle:
        handle.write(password + "\n")
    return password


def simulator_port() -> int:
    raw = os.environ.get("SIMULATOR_PORT", str(DEFAULT_SIMULATOR_PORT))
    try:
        port = int(raw)
    except ValueError:
        raise CommandError(f"SIMULATOR_PORT must be a port number, not {raw!r}") from None
    if not 0 < port < 65536:
        raise CommandError(f"SIMULATOR_PORT must be between 1 and 65535, not {port}")
    return port


def ensure_broker_folders() -> None:
    """kombu's filesystem transport does not create its folders; the worker needs them."""
    if settings.CELERY_BROKER_URL != "filesystem://":
        return
    options = settings.CELERY_BROKER_TRANSPORT_OPTIONS
    for key in ("data_folder_in", "data_folder_out", "processed_folder", "control_folder"):
        if options.get(key):
            Path(str(options[key])).mkdir(parents=True, exist_ok=True)


def simulator_listings(url: str, wait_seconds: float) -> list[dict[str, Any]]:
    """The running simulator's catalogue (``GET /_sim/listings``), waiting for it to start."""
    deadline = time.monotonic() + wait_seconds
    while True:
        try:
            answer = httpx.get(f"{url}/_sim/listings", timeout=10)
            answer.raise_for_status()
            listings = answer.json()["listings"]
            return [entry for entry in listings if isinstance(entry, dict) and entry.get("sku")]
        except (httpx.HTTPError, ValueError, KeyError) as error:
            if time.monotonic() >= deadline:
                raise CommandError(
                    f"The simulator at {url} did not answer ({type(error).__name__}): start it "
                    "with `python manage.py amazon_simulator` or `make run`."
                ) from None
            time.sleep(0.5)


def place_demo_orders(url: str, unmatched_skus: list[str]) -> int:
    """Unshipped merchant orders in the simulator (its control API), a few of them for SKUs no
    item matches. Dated ten minutes ago: the simulator's clock runs ahead of ours, and
    searchOrders only sees orders older than two (simulated) minutes."""
    created = (timezone.now() - timedelta(minutes=10)).isoformat()
    bodies: list[dict[str, Any]] = [
        {"count": 1, "skus": [sku], "createdTime": created}
        for sku in unmatched_skus[:DEMO_HELD_ORDERS]
    ]
    bodies.append(
        {"count": DEMO_CONFIRMED_ORDERS, "fulfilledBy": "MERCHANT", "createdTime": created}
    )
    placed = 0
    for body in bodies:
        try:
            answer = httpx.post(f"{url}/_sim/orders", json=body, timeout=10)
            answer.raise_for_status()
        except httpx.HTTPError:
            continue  # the demo works without them; the simulator's own stream goes on
        placed += len(answer.json().get("orders") or [])
    return placed


def _price(value: Any) -> Decimal | None:
    try:
        return Decimal(str(value)).quantize(Decimal("0.01")) if value not in (None, "") else None
    except InvalidOperation:
        return None


class Command(BaseCommand):
    help = (
        "Create the demo organization (CAD, taxes on, multi-warehouse with 'Main warehouse' and "
        "'Montréal'), the 'admin' login and an Amazon.ca sales channel pointing at the local "
        "simulator. Idempotent. --stock-from-simulator also creates items with stock from the "
        "running simulator's listings and queues the first syncs."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--stock-from-simulator",
            action="store_true",
            help="create items and opening stock from the running simulator's listings and "
            "queue an initial items sync and a 7-day orders sync (once)",
        )
        parser.add_argument(
            "--wait",
            type=float,
            default=30.0,
            metavar="SECONDS",
            help="how long to wait for the simulator to answer (with --stock-from-simulator)",
        )

    def handle(self, *args: Any, **options: Any) -> None:
        if not simulator_hosts_allowed():
            raise CommandError(
                "The demo's channel talks to the local simulator, which this install refuses: "
                "set AMAZON_ALLOW_SIMULATOR_HOSTS=true (never in production)."
            )
        port = simulator_port()
        password = read_or_create_password(password_file())
        with transaction.atomic():
            warehouse, _ = Warehouse.objects.get_or_create(name=WAREHOUSE_NAME)
            Warehouse.objects.get_or_create(name=SECOND_WAREHOUSE_NAME)
            organization = Organization.load()
            organization.base_currency = "CAD"
            organization.taxes_enabled = True
            organization.multi_warehouse_enabled = True
            if organization.primary_warehouse_id is None:
                organization.primary_warehouse = warehouse
            organization.save()

            admin, created = User.objects.get_or_create(
                username=ADMIN_USERNAME,
                defaults={"role": User.Role.ADMIN, "is_staff": True, "is_superuser": True},
            )
            if created or not admin.check_password(password):
                admin.set_password(password)
                admin.save()

            simulator_url = f"http://127.0.0.1:{port}"
            channel, channel_created = SalesChannel.objects.update_or_create(
                seller_id=SIMULATOR_SELLER_ID,
                marketplace_id=AMAZON_CA_MARKETPLACE_ID,
                defaults={"spapi_endpoint": simulator_url, "lwa_endpoint": simulator_url},
                create_defaults={
                    "name": CHANNEL_NAME,
                    "spapi_endpoint": simulator_url,
                    "lwa_endpoint": simulator_url,
                    "refresh_token": SIMULATOR_REFRESH_TOKEN,
                    "connected_by": admin,
                    "sync_interval_minutes": DEMO_SYNC_INTERVAL_MINUTES,
                },
            )
        ensure_broker_folders()

        self.stdout.write(
            f"Organization: {organization.name} ({organization.base_currency}, taxes on), "
            f"primary warehouse: {warehouse.name}"
        )
        self.stdout.write(
            f"Sales channel: {channel.name} -> {simulator_url} "
            f"({'created' if channel_created else 'already there'})"
        )
        self.stdout.write(
            self.style.SUCCESS(f"Demo login: {ADMIN_USERNAME} / {password}")
            + f"  (kept in {password_file()})"
        )
        if options["stock_from_simulator"]:
            self.stock_from_simulator(channel, simulator_url, options["wait"])

    def stock_from_simulator(self, channel: SalesChannel, url: str, wait: float) -> None:
        listings = sorted(simulator_listings(url, wait), key=lambda entry: str(entry["sku"]))
        sellable = [entry for entry in listings if not entry.get("isParent")]
        main = Warehouse.objects.get(name=WAREHOUSE_NAME)
        montreal = Warehouse.objects.get(name=SECOND_WAREHOUSE_NAME)
        created = stocked = 0
        for number, entry in enumerate(sellable):
            if number % UNMATCHED_EVERY == UNMATCHED_EVERY - 1:
                continue
            sku = str(entry["sku"])[:200]
            with transaction.atomic():
                item, is_new = Item.objects.get_or_create(
                    sku=sku,
                    defaults={
                        "name": str(entry.get("title") or sku)[:500],
                        "unit_price": _price(entry.get("price")),
                    },
                )
                # Only a new item gets opening stock: a restart never resets counted stock.
                # Amazon-fulfilled listings' units are in Amazon's warehouse, not ours.
                if is_new and entry.get("fulfillmentChannelCode") == "DEFAULT":
                    quantity = max(0, int(entry.get("quantity") or 0))
                    in_main = int((Decimal(quantity) * MAIN_SHARE).to_integral_value())
                    stock.set_opening_stock(item, main, in_main, reference="demo")
                    stock.set_opening_stock(item, montreal, quantity - in_main, reference="demo")
                    stocked += 1
            created += is_new
        self.stdout.write(
            f"Items from the simulator: {created} created ({stocked} with stock in "
            f"{main.name} and {montreal.name}), "
            f"{len(sellable) - len(sellable) // UNMATCHED_EVERY} matched of {len(sellable)} "
            "listings; the rest become unconfirmed items"
        )
        if SyncRun.objects.filter(channel=channel).exists():
            self.stdout.write("The channel has synced before: no initial sync queued.")
            return
        unmatched = [
            str(entry["sku"])
            for number, entry in enumerate(sellable)
            if number % UNMATCHED_EVERY == UNMATCHED_EVERY - 1
            and entry.get("fulfillmentChannelCode") == "DEFAULT"
        ]
        placed = place_demo_orders(url, unmatched)
        self.stdout.write(f"Placed {placed} buyer orders in the simulator.")
        items_run = request_sync(channel, SyncRun.Kind.ITEMS, SyncRun.Trigger.INITIAL)
        orders_run = request_sync(
            channel,
            SyncRun.Kind.ORDERS,
            SyncRun.Trigger.INITIAL,
            window_start=timezone.now() - timedelta(days=INITIAL_LOOKBACK_DAYS),
        )
        self.stdout.write(
            f"Queued the initial items sync (run #{items_run.id}) and a "
            f"{INITIAL_LOOKBACK_DAYS}-day orders sync (run #{orders_run.id})."
        )
