"""Read-only queries for what needs the seller's attention in the inventory: items out of stock
or at their reorder point, and items whose Amazon quantity drifted. Listings belong to the
marketplaces app; they are reached here through the reverse relation's name only, so the
inventory imports nothing of it."""

from __future__ import annotations

from django.db.models import F, IntegerField, Q, QuerySet, Sum, Value
from django.db.models.functions import Coalesce

from warehouses.models import Item

# The seller's own active warehouses: what is sold and pushed to Amazon (Amazon's FBA units
# are Amazon's to sell).
_OWN_STOCK = Q(stocks__warehouse__is_active=True, stocks__warehouse__amazon_pool="")


def with_available(items: QuerySet[Item]) -> QuerySet[Item]:
    """Each item with ``units_available``: on hand less committed over the own warehouses."""
    return items.annotate(
        units_available=Coalesce(
            Sum(F("stocks__on_hand") - F("stocks__committed"), filter=_OWN_STOCK),
            Value(0),
            output_field=IntegerField(),
        )
    )


def low_stock_items() -> QuerySet[Item]:
    """Confirmed items out of stock (nothing available) or at or below their reorder point."""
    return with_available(Item.objects.filter(status=Item.Status.CONFIRMED)).filter(
        Q(units_available__lte=0)
        | Q(reorder_point__isnull=False, units_available__lte=F("reorder_point"))
    )


def drifted_items() -> QuerySet[Item]:
    """Items with a merchant-fulfilled listing whose Amazon quantity, when last read, was not the
    one last pushed (marketplaces.queries.drifted_listings' rule)."""
    listing = Item._meta.get_field("listings").related_model
    assert not isinstance(listing, str)  # a resolved model once the apps are loaded
    drifted = (
        listing._default_manager.filter(
            fulfillment_channel="merchant",
            amazon_quantity_checked_at__isnull=False,
            pushed_quantity__isnull=False,
        )
        # Django's negation keeps NULLs: a SKU Amazon listed with no quantity has drifted.
        .filter(~Q(amazon_quantity=F("pushed_quantity")))
        .values("item_id")
    )
    return Item.objects.filter(id__in=drifted)
