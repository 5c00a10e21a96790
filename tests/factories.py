"""factory_boy factories for the domain model."""

from __future__ import annotations

from datetime import UTC, datetime

import factory

from marketplaces.models import FulfillmentChannel, SalesChannel, SalesOrder
from synchistory.models import SyncRun
from warehouses.models import Item, Warehouse


class WarehouseFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Warehouse

    name = factory.Sequence(lambda n: f"Warehouse {n}")


class ItemFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Item

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Item {n}")


class SalesChannelFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesChannel

    name = "Amazon.ca"
    seller_id = factory.Sequence(lambda n: f"A3SELLER{n:04d}")
    refresh_token = "Atzr|test-refresh-token"


class SalesOrderFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SalesOrder

    channel = factory.SubFactory(SalesChannelFactory)
    amazon_order_id = factory.Sequence(lambda n: f"702-{n:07d}-0000000")
    amazon_status = "UNSHIPPED"
    fulfillment_channel = FulfillmentChannel.MERCHANT
    warehouse = factory.SubFactory(WarehouseFactory)
    purchased_at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    amazon_updated_at = datetime(2026, 11, 1, 12, 5, tzinfo=UTC)


class SyncRunFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = SyncRun

    channel = factory.SubFactory(SalesChannelFactory)
    kind = SyncRun.Kind.ORDERS
    trigger = SyncRun.Trigger.AUTOMATIC
    status = SyncRun.Status.SUCCEEDED
