"""Amazon's FBA warehouses: one per fulfillment network the seller's channels use.

Amazon pools FBA stock per network, not per marketplace: Amazon.ca has its own, Amazon.com and
Amazon.com.mx share the US one. Each pool is a warehouse marked as Amazon's
(``Warehouse.amazon_pool``), made the first time a channel meets FBA stock or an FBA order;
its quantities mirror Amazon's (``marketplaces.amazon.fba_inventory``).
"""

from __future__ import annotations

from django.db import IntegrityError, transaction

from marketplaces.models import FulfillmentChannel, SalesChannel, SalesOrder
from warehouses.models import Warehouse

POOL_OF_MARKETPLACE = {
    SalesChannel.Marketplace.AMAZON_CA: Warehouse.AmazonPool.CANADA,
    SalesChannel.Marketplace.AMAZON_COM: Warehouse.AmazonPool.UNITED_STATES,
    SalesChannel.Marketplace.AMAZON_COM_MX: Warehouse.AmazonPool.UNITED_STATES,
}


def pool_of(channel: SalesChannel) -> Warehouse.AmazonPool:
    return POOL_OF_MARKETPLACE[SalesChannel.Marketplace(channel.marketplace)]


def marketplaces_of(pool: str) -> list[str]:
    """The marketplaces whose FBA orders and stock are the pool's."""
    return [
        marketplace for marketplace, its_pool in POOL_OF_MARKETPLACE.items() if its_pool == pool
    ]


def fba_warehouse(channel: SalesChannel) -> Warehouse:
    """The channel's FBA warehouse, made on first use. Making it moves the channel's FBA orders
    recorded before there was one (in the primary warehouse; they took no stock) to it."""
    pool = pool_of(channel)
    existing = Warehouse.objects.filter(amazon_pool=pool).first()
    if existing is not None:
        return existing
    name = pool.label
    if Warehouse.objects.filter(name=name).exists():  # the seller's own warehouse took it
        name = f"{pool.label} (Amazon)"
    try:
        with transaction.atomic():
            warehouse = Warehouse.objects.create(name=name, amazon_pool=pool)
            SalesOrder.objects.filter(
                channel__marketplace__in=marketplaces_of(pool),
                fulfillment_channel=FulfillmentChannel.AMAZON,
            ).update(warehouse=warehouse)
    except IntegrityError:  # another worker made it first
        return Warehouse.objects.get(amazon_pool=pool)
    return warehouse
