"""Unconfirmed items: confirm one, or link its listing to an existing item."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from marketplaces.models import Listing, SalesOrderLine
from marketplaces.orders import release_held_orders
from marketplaces.signals import queue_stock_push
from warehouses import stock
from warehouses.models import Item, Organization


def confirm_item(item: Item, *, user: User | None = None) -> int:
    """Make an unconfirmed item a real one. Its Amazon quantity (merchant-fulfilled listings)
    becomes its opening stock in the warehouse its channel ships from. Held orders waiting for
    it are released; returns how many."""
    with transaction.atomic():
        item = Item.objects.select_for_update().get(id=item.id)
        if item.is_confirmed:
            raise ValidationError(f"{item.sku} is already confirmed.")
        organization = Organization.load()
        for listing in item.listings.select_related("channel__mapped_warehouse"):
            warehouse = listing.channel.mapped_warehouse or organization.primary_warehouse
            if warehouse is None:
                raise ValidationError(
                    "Choose a primary warehouse in Settings › Organization first."
                )
            if listing.fulfillment_channel == "merchant" and listing.amazon_quantity:
                stock.set_opening_stock(
                    item,
                    warehouse,
                    listing.amazon_quantity,
                    user=user,
                    reference=f"Amazon listing {listing.seller_sku}",
                )
        item.status = Item.Status.CONFIRMED
        item.save(update_fields=["status", "updated_at"])
    return release_held_orders(item)


def link_item(unconfirmed: Item, target: Item, *, user: User | None = None) -> int:
    """Map an unconfirmed item's listings (and order lines) to an existing item, then drop the
    unconfirmed one. Returns how many held orders were released."""
    if unconfirmed.id == target.id:
        raise ValidationError("Choose a different item to link to.")
    with transaction.atomic():
        unconfirmed = Item.objects.select_for_update().get(id=unconfirmed.id)
        target = Item.objects.select_for_update().get(id=target.id)
        if unconfirmed.is_confirmed:
            raise ValidationError(f"{unconfirmed.sku} is confirmed; only unconfirmed items link.")
        if not target.is_confirmed:
            raise ValidationError(f"{target.sku} is itself unconfirmed; confirm it first.")
        Listing.objects.filter(item=unconfirmed).update(item=target)
        SalesOrderLine.objects.filter(item=unconfirmed).update(item=target)
        unconfirmed.delete()
        # The listings now sell the target's stock: Amazon must hear its quantity.
        queue_stock_push({target.id})
    return release_held_orders(target)
