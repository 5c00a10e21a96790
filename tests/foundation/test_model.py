"""Constraints the database enforces, and encryption at rest."""

from __future__ import annotations

import pytest
from cryptography.fernet import Fernet
from django.db import IntegrityError, connection, transaction
from django.test import override_settings

from inventory_sync import crypto
from marketplaces.models import SalesChannel, SalesOrder
from synchistory.models import SyncRun
from tests.factories import SalesChannelFactory, SalesOrderFactory, SyncRunFactory


def raw_column(table: str, column: str, row_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT {column} FROM {table} WHERE id = %s", [row_id])  # noqa: S608
        return str(cursor.fetchone()[0])


@pytest.mark.django_db
def test_it_imports_an_amazon_order_once_per_channel() -> None:
    order = SalesOrderFactory.create(amazon_order_id="702-1234567-7654321")
    with pytest.raises(IntegrityError), transaction.atomic():
        SalesOrderFactory.create(
            channel=order.channel, warehouse=order.warehouse, amazon_order_id=order.amazon_order_id
        )
    # The same id on another channel is another order.
    SalesOrderFactory.create(amazon_order_id="702-1234567-7654321", warehouse=order.warehouse)
    assert SalesOrder.objects.filter(amazon_order_id="702-1234567-7654321").count() == 2


@pytest.mark.django_db
def test_it_allows_one_active_run_per_channel_and_kind() -> None:
    channel = SalesChannelFactory.create()
    SyncRunFactory.create(channel=channel, kind=SyncRun.Kind.ORDERS, status=SyncRun.Status.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        SyncRunFactory.create(
            channel=channel, kind=SyncRun.Kind.ORDERS, status=SyncRun.Status.QUEUED
        )
    SyncRunFactory.create(channel=channel, kind=SyncRun.Kind.ITEMS, status=SyncRun.Status.QUEUED)
    SyncRunFactory.create(
        channel=channel, kind=SyncRun.Kind.ORDERS, status=SyncRun.Status.SUCCEEDED
    )


@pytest.mark.django_db
def test_it_stores_credentials_and_buyer_data_only_encrypted() -> None:
    channel = SalesChannelFactory.create(refresh_token="Atzr|secret-refresh-token")
    order = SalesOrderFactory.create(
        channel=channel,
        buyer_name="Émilie Tremblay",
        buyer_email="emilie@example.ca",
        shipping_address={"city": "Québec", "postalCode": "G1R 4P5"},
    )
    assert "secret-refresh-token" not in raw_column(
        "marketplaces_saleschannel", "refresh_token", channel.id
    )
    for column, plaintext in [
        ("buyer_name", "Émilie"),
        ("buyer_email", "emilie@example.ca"),
        ("shipping_address", "G1R 4P5"),
    ]:
        assert plaintext not in raw_column("marketplaces_salesorder", column, order.id)
    reloaded = SalesOrder.objects.get(id=order.id)
    assert reloaded.buyer_name == "Émilie Tremblay"
    assert reloaded.shipping_address == {"city": "Québec", "postalCode": "G1R 4P5"}
    assert SalesChannel.objects.get(id=channel.id).refresh_token == "Atzr|secret-refresh-token"


@pytest.mark.django_db
def test_it_still_reads_values_written_under_an_older_key() -> None:
    old_key = Fernet.generate_key().decode()
    new_key = Fernet.generate_key().decode()
    with override_settings(FIELD_ENCRYPTION_KEYS=[old_key]):
        channel = SalesChannelFactory.create(refresh_token="Atzr|rotating")
        stored = raw_column("marketplaces_saleschannel", "refresh_token", channel.id)
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key, old_key]):
        assert SalesChannel.objects.get(id=channel.id).refresh_token == "Atzr|rotating"
        rotated = crypto.rotate(stored)
    with override_settings(FIELD_ENCRYPTION_KEYS=[new_key]):
        assert crypto.decrypt(rotated) == "Atzr|rotating"
