"""The quantity a channel tells Amazon for a listing.

Without a mapped warehouse a channel sees the organization-level available quantity (the sum
over the seller's own active warehouses: Amazon's FBA stock is never part of it); with one,
that warehouse's available quantity. Then the channel's oversell protection applies: the
safety buffer is held back, the maximum caps it, and Amazon is never told a negative number.
"""

from __future__ import annotations

from collections.abc import Iterable

from django.db.models import F, Sum

from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from warehouses.models import Stock


def limit_for_channel(available: int, channel: SalesChannel) -> int:
    """Apply the channel's safety buffer and maximum to an available quantity. Pure."""
    quantity = available - channel.safety_buffer
    if channel.max_quantity is not None:
        quantity = min(quantity, channel.max_quantity)
    return max(quantity, 0)


def quantity_to_push(listing: Listing) -> int:
    """The quantity to send to Amazon for one merchant-fulfilled listing (one query)."""
    return quantities_to_push(listing.channel, [listing])[listing.pk]


def quantities_to_push(channel: SalesChannel, listings: Iterable[Listing]) -> dict[int, int]:
    """``{listing id: quantity to send}`` for listings of ``channel``, in one query however many.

    Amazon-fulfilled listings are refused: Amazon counts their stock, we never push it.
    """
    listings = list(listings)
    for listing in listings:
        if listing.channel_id != channel.pk:
            raise ValueError(f"Listing {listing.seller_sku} is not a listing of {channel}.")
        if listing.fulfillment_channel != FulfillmentChannel.MERCHANT:
            raise ValueError(f"Listing {listing.seller_sku} is fulfilled by Amazon: never pushed.")
    if not listings:
        return {}
    available = _available_by_item(channel, {listing.item_id for listing in listings})
    return {
        listing.pk: limit_for_channel(available.get(listing.item_id, 0), channel)
        for listing in listings
    }


def _available_by_item(channel: SalesChannel, item_ids: set[int]) -> dict[int, int]:
    # Amazon's FBA units are sold by Amazon, never by a merchant-fulfilled listing.
    stocks = Stock.objects.filter(item_id__in=item_ids, warehouse__amazon_pool="")
    if channel.mapped_warehouse_id is None:
        stocks = stocks.filter(warehouse__is_active=True)
    else:
        stocks = stocks.filter(warehouse_id=channel.mapped_warehouse_id)
    rows = (
        stocks.values("item_id")
        .order_by("item_id")
        .annotate(available_units=Sum(F("on_hand") - F("committed")))
        .values_list("item_id", "available_units")
    )
    return {item_id: available or 0 for item_id, available in rows}


def out_of_step(channel: SalesChannel, listings: Iterable[Listing]) -> list[Listing]:
    """The listings whose quantity on Amazon, as last accepted, is not the one to push now.

    For listings not pending a push: each stock change marks its listings, so one here is a
    change whose mark never happened (a bug, a lost write) and Amazon is wrong until it is sent.
    A listing never pushed counts as out of step.
    """
    listings = list(listings)
    quantities = quantities_to_push(channel, listings)
    return [listing for listing in listings if listing.pushed_quantity != quantities[listing.pk]]
