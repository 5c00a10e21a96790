"""factory_boy factories for the domain model."""

from __future__ import annotations

from datetime import UTC, datetime

import factory

from marketplaces.models import FulfillmentChannel, Listing, SalesChannel, SalesOrder
from synchistory.models import SyncRun
from warehouses.models import Item, Warehouse


class WarehouseFactory(factory.django.DjangoModelFactory[Warehouse]):
    class Meta:
        model = Warehouse

    name = factory.Sequence(lambda n: f"Warehouse {n}")


class ItemFactory(factory.django.DjangoModelFactory[Item]):
    class Meta:
        model = Item

    sku = factory.Sequence(lambda n: f"SKU-{n:05d}")
    name = factory.Sequence(lambda n: f"Item {n}")


class SalesChannelFactory(factory.django.DjangoModelFactory[SalesChannel]):
    class Meta:
        model = SalesChannel

    name = "Amazon.ca"
    seller_id = factory.Sequence(lambda n: f"A3SELLER{n:04d}")
    refresh_token = "Atzr|test-refresh-token"


class SalesOrderFactory(factory.django.DjangoModelFactory[SalesOrder]):
    class Meta:
        model = SalesOrder

    channel = factory.SubFactory(SalesChannelFactory)
    amazon_order_id = factory.Sequence(lambda n: f"702-{n:07d}-0000000")
    amazon_status = "UNSHIPPED"
    fulfillment_channel = FulfillmentChannel.MERCHANT
    warehouse = factory.SubFactory(WarehouseFactory)
    purchased_at = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)
    amazon_updated_at = datetime(2026, 11, 1, 12, 5, tzinfo=UTC)


class SyncRunFactory(factory.django.DjangoModelFactory[SyncRun]):
    class Meta:
        model = SyncRun

    channel = factory.SubFactory(SalesChannelFactory)
    kind = SyncRun.Kind.ORDERS
    trigger = SyncRun.Trigger.AUTOMATIC
    status = SyncRun.Status.SUCCEEDED


class ListingFactory(factory.django.DjangoModelFactory[Listing]):
    class Meta:
        model = "marketplaces.Listing"

    channel = factory.SubFactory(SalesChannelFactory)
    item = factory.SubFactory(ItemFactory)
    seller_sku = factory.LazyAttribute(lambda listing: listing.item.sku)
    fulfillment_channel = FulfillmentChannel.MERCHANT


class SyncRecordFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "synchistory.SyncRecord"

    run = factory.SubFactory(SyncRunFactory)
    record_type = "order"
    external_id = factory.Sequence(lambda n: f"702-{n:07d}-1111111")
    outcome = "synced"


class ApiQuotaFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = "marketplaces.ApiQuota"

    seller_id = "A3SELLER0000"
    operation = "searchOrders"
    tokens = 20.0
    refilled_at = factory.LazyFunction(lambda: datetime.now(tz=UTC))
