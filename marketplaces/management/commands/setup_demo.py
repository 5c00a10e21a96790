"""Prepare a development install for `make run`: organization, admin login, demo sales channel.

Safe to run on every start: it creates what is missing and leaves the rest alone, and the
admin password is kept in ``var/demo-admin-password`` so the login stays the same across
restarts.
"""

from __future__ import annotations

import os
import secrets
from pathlib import Path
from typing import Any

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from accounts.models import User
from marketplaces.models import AMAZON_CA_MARKETPLACE_ID, SalesChannel
from warehouses.models import Organization, Warehouse

ADMIN_USERNAME = "admin"
WAREHOUSE_NAME = "Main warehouse"
CHANNEL_NAME = "Amazon.ca (simulator)"
# The simulator's default seller account (see marketplaces/amazon/simulator).
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


class Command(BaseCommand):
    help = (
        "Create the demo organization (CAD, taxes on, 'Main warehouse'), the 'admin' login and "
        "an Amazon.ca sales channel pointing at the local simulator. Idempotent."
    )

    def handle(self, *args: Any, **options: Any) -> None:
        port = simulator_port()
        password = read_or_create_password(password_file())
        with transaction.atomic():
            warehouse, _ = Warehouse.objects.get_or_create(name=WAREHOUSE_NAME)
            organization = Organization.load()
            organization.base_currency = "CAD"
            organization.taxes_enabled = True
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
