"""Buyers' personal data: encrypted at rest, masked for staff, erased 30 days after delivery,
re-encrypted by key rotation (docs/SECURITY.md)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from io import StringIO
from typing import Any

import pytest
import time_machine
from cryptography.fernet import Fernet
from django.contrib.auth.models import Permission
from django.core.management import call_command
from django.db import connection
from django.test import override_settings

from accounts.models import AuditEvent, User
from marketplaces import privacy
from marketplaces.models import SalesChannel, SalesOrder, SalesOrderLine
from tests.factories import ItemFactory, SalesChannelFactory, SalesOrderFactory

pytestmark = pytest.mark.django_db

BUYER = {
    "buyer_name": "Émilie Tremblay",
    "buyer_email": "emilie.tremblay@marketplace.amazon.ca",
    "buyer_phone": "+1 514-555-0142",
    "shipping_address": {
        "name": "Émilie Tremblay",
        "addressLine1": "1234 rue Sainte-Catherine O",
        "city": "Montréal",
        "stateOrRegion": "QC",
        "postalCode": "H3G 1P8",
    },
}
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def raw_row(model: Any, pk: int, *columns: str) -> tuple[Any, ...]:
    table = connection.ops.quote_name(model._meta.db_table)
    names = ", ".join(connection.ops.quote_name(c) for c in columns)
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {names} FROM {table} WHERE id = %s", [pk])  # noqa: S608
        row = cursor.fetchone()
    assert row is not None
    return tuple(row)


def order_with_buyer(**fields: Any) -> SalesOrder:
    order = SalesOrderFactory.create(**BUYER, **fields)
    SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="ITEM-1",
        item=ItemFactory.create(),
        seller_sku="SKU-1",
        quantity=2,
        unit_price="19.99",
    )
    return order


def test_it_stores_no_plaintext_personal_data_or_refresh_token() -> None:
    order = order_with_buyer()
    raw = raw_row(SalesOrder, order.id, *privacy.PERSONAL_FIELDS)
    dump = " ".join(str(value) for value in raw)
    for secret in ("Émilie", "Tremblay", "emilie.tremblay", "514-555-0142", "H3G 1P8", "Montréal"):
        assert secret not in dump
    assert all(str(value).startswith("gAAAAA") for value in raw)  # Fernet tokens
    (token,) = raw_row(SalesChannel, order.channel_id, "refresh_token")
    assert "Atzr|" not in token
    assert token.startswith("gAAAAA")
    order.refresh_from_db()
    assert order.buyer_name == "Émilie Tremblay"
    assert order.shipping_address["postalCode"] == "H3G 1P8"


def test_it_masks_values_showing_only_their_first_letter() -> None:
    assert privacy.masked("Émilie Tremblay") == "É•••••"
    assert privacy.masked("") == ""
    assert privacy.masked(None) == ""


def test_it_shows_admins_the_buyer_and_audits_it(admin_user: User, rf: Any) -> None:
    order = order_with_buyer()
    request = rf.get(f"/sales-orders/{order.id}/", REMOTE_ADDR="203.0.113.9")
    request.user = admin_user

    shown = privacy.buyer_details(order, admin_user, request)

    assert shown["revealed"] is True
    assert shown["name"] == "Émilie Tremblay"
    assert shown["email"] == "emilie.tremblay@marketplace.amazon.ca"
    assert ("postalCode", "H3G 1P8") in shown["address"]
    event = AuditEvent.objects.get(action="personal-data-viewed")
    assert (event.username, event.target_type, event.target_id, event.target_label) == (
        "alice",
        "marketplaces.SalesOrder",
        str(order.id),
        order.amazon_order_id,
    )
    assert event.ip_address == "203.0.113.9"
    assert event.detail == {"fields": list(privacy.PERSONAL_FIELDS)}
    assert "Tremblay" not in str(event.detail) + event.target_label


def test_it_masks_the_buyer_for_staff_and_audits_nothing(staff_user: User) -> None:
    order = order_with_buyer()

    shown = privacy.buyer_details(order, staff_user)

    assert shown["revealed"] is False
    assert (shown["name"], shown["email"], shown["phone"]) == ("É•••••", "e•••••", "+•••••")
    assert ("postalCode", "H•••••") in shown["address"]
    assert not AuditEvent.objects.filter(action="personal-data-viewed").exists()


def test_it_shows_staff_the_buyer_once_granted_the_permission(staff_user: User) -> None:
    order = order_with_buyer()
    staff_user.user_permissions.add(Permission.objects.get(codename="view_personal_data"))
    staff_user = User.objects.get(id=staff_user.id)  # fresh permission cache

    assert privacy.can_view_personal_data(staff_user) is True
    assert privacy.buyer_details(order, staff_user)["name"] == "Émilie Tremblay"
    assert AuditEvent.objects.filter(action="personal-data-viewed", user=staff_user).count() == 1


def test_it_never_reveals_to_anonymous_or_inactive_users(admin_user: User) -> None:
    from django.contrib.auth.models import AnonymousUser

    assert privacy.can_view_personal_data(AnonymousUser()) is False
    admin_user.is_active = False
    assert privacy.can_view_personal_data(admin_user) is False


def erased(order: SalesOrder) -> bool:
    order.refresh_from_db()
    return order.personal_data_erased_at is not None


@pytest.mark.parametrize(
    ("delivered_ago", "shipped_ago", "expect_erased"),
    [
        (timedelta(days=29, hours=23), None, False),
        (timedelta(days=30, seconds=1), None, True),
        (None, timedelta(days=29, hours=23), False),
        (None, timedelta(days=30, seconds=1), True),
        # Delivery takes precedence: shipped long ago but delivered recently is kept.
        (timedelta(days=29, hours=23), timedelta(days=45), False),
        (None, None, False),  # never shipped: still to fulfil
    ],
)
def test_it_erases_personal_data_30_days_after_delivery(
    delivered_ago: timedelta | None, shipped_ago: timedelta | None, expect_erased: bool
) -> None:
    order = order_with_buyer(
        delivered_at=NOW - delivered_ago if delivered_ago else None,
        shipped_at=NOW - shipped_ago if shipped_ago else None,
    )
    with time_machine.travel(NOW, tick=False):
        count = privacy.erase_personal_data_task.apply().get()
    assert count == (1 if expect_erased else 0)
    assert erased(order) is expect_erased
    if expect_erased:
        assert order.personal_data_erased_at == NOW
        assert (order.buyer_name, order.buyer_email, order.buyer_phone) == ("", "", "")
        assert order.shipping_address is None
        assert raw_row(SalesOrder, order.id, *privacy.PERSONAL_FIELDS) == ("", "", "", None)
    else:
        assert order.buyer_name == "Émilie Tremblay"


def test_it_keeps_lines_amounts_and_taxes_and_is_idempotent() -> None:
    order = order_with_buyer(delivered_at=NOW - timedelta(days=31), total="39.98", tax_total="5.20")
    assert privacy.erase_personal_data(NOW) == 1
    assert privacy.erase_personal_data(NOW + timedelta(days=1)) == 0
    order.refresh_from_db()
    assert order.personal_data_erased_at == NOW
    assert str(order.total) == "39.98"
    assert str(order.tax_total) == "5.20"
    assert list(order.lines.values_list("seller_sku", "quantity")) == [("SKU-1", 2)]
    assert AuditEvent.objects.filter(action="personal-data-erased").count() == 1


def test_it_shows_erased_orders_to_admins_as_erased(admin_user: User) -> None:
    order = order_with_buyer(delivered_at=NOW - timedelta(days=31))
    privacy.erase_personal_data(NOW)
    order.refresh_from_db()
    shown = privacy.buyer_details(order, admin_user)
    assert shown["revealed"] is False
    assert shown["erased"] == NOW
    assert (shown["name"], shown["email"], shown["address"]) == ("", "", [])
    assert not AuditEvent.objects.filter(action="personal-data-viewed").exists()


def test_it_schedules_the_erasure_daily_with_an_expiry() -> None:
    from django.conf import settings

    entry: dict[str, Any] = settings.CELERY_BEAT_SCHEDULE["erase-personal-data"]
    assert entry["task"] == "marketplaces.privacy.erase_personal_data_task"
    assert entry["schedule"] == timedelta(days=1)
    assert entry["options"]["expires"] == 3600
    from inventory_sync.celery import app

    app.loader.import_default_modules()
    assert "marketplaces.privacy.erase_personal_data_task" in app.tasks


def test_it_rotates_every_encrypted_column_to_the_newest_key() -> None:
    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[key_a]):
        channel = SalesChannelFactory.create(refresh_token="Atzr|rotate-me")
        order = order_with_buyer(channel=channel)
        before_order = raw_row(SalesOrder, order.id, *privacy.PERSONAL_FIELDS)
        (before_token,) = raw_row(SalesChannel, channel.id, "refresh_token")

    with override_settings(FIELD_ENCRYPTION_KEYS=[key_b, key_a]):
        out = StringIO()
        call_command("rotate_encryption_keys", "--batch-size", "1", stdout=out)
        assert "marketplaces.SalesOrder.buyer_name: 1 re-encrypted" in out.getvalue()
        assert "marketplaces.SalesChannel.refresh_token: 1 re-encrypted" in out.getvalue()
        again = StringIO()
        call_command("rotate_encryption_keys", stdout=again)  # idempotent: nothing left to do
        assert "marketplaces.SalesOrder.buyer_name: 0 re-encrypted, 1 already" in again.getvalue()

    after_order = raw_row(SalesOrder, order.id, *privacy.PERSONAL_FIELDS)
    (after_token,) = raw_row(SalesChannel, channel.id, "refresh_token")
    assert all(new != old for new, old in zip(after_order, before_order, strict=True))
    assert after_token != before_token
    with override_settings(FIELD_ENCRYPTION_KEYS=[key_b]):
        order = SalesOrder.objects.get(id=order.id)
        assert order.buyer_name == "Émilie Tremblay"
        assert order.buyer_email == BUYER["buyer_email"]
        assert order.buyer_phone == BUYER["buyer_phone"]
        assert order.shipping_address == BUYER["shipping_address"]
        assert SalesChannel.objects.get(id=channel.id).refresh_token == "Atzr|rotate-me"
    runs = AuditEvent.objects.filter(action="encryption-keys-rotated").order_by("id")
    assert [event.detail for event in runs] == [
        {"rotated": 5, "undecryptable": 0},
        {"rotated": 0, "undecryptable": 0},
    ]


def test_it_refuses_to_finish_a_rotation_with_undecryptable_values() -> None:
    from django.core.management.base import CommandError

    key_a, key_b = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[key_a]):
        SalesChannelFactory.create(refresh_token="Atzr|lost")
    with override_settings(FIELD_ENCRYPTION_KEYS=[key_b]), pytest.raises(CommandError) as error:
        call_command("rotate_encryption_keys", stdout=StringIO())
    assert "1 values could not be decrypted" in str(error.value)
