"""Channel settings changed from Show Details: sync interval, modules, stock limits, and the
organization-wide order sync preference.

Kept apart from ``marketplaces/services.py`` (owned by the sync work) so the settings pages
could be built alongside it; these are services in the DESIGN sense: the views call them.
"""

from __future__ import annotations

from typing import Any

from django.db import transaction

from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from warehouses.models import Organization

SETTABLE_FIELDS = frozenset(
    {
        "sync_interval_minutes",
        "sync_items",
        "sync_orders",
        "sync_stock",
        "sync_shipments",
        "safety_buffer",
        "max_quantity",
    }
)
# Changing these changes the quantity Amazon should see: every merchant SKU is pushed again.
_PUSH_AFFECTING = frozenset({"safety_buffer", "max_quantity", "sync_stock"})


@transaction.atomic
def update_channel_settings(channel: SalesChannel, **changes: Any) -> SalesChannel:
    unknown = set(changes) - SETTABLE_FIELDS
    if unknown:
        raise ValueError(f"Not a channel setting: {', '.join(sorted(unknown))}")
    locked = SalesChannel.objects.select_for_update().get(id=channel.id)
    changed = [name for name, value in changes.items() if getattr(locked, name) != value]
    if not changed:
        return locked
    for name in changed:
        setattr(locked, name, changes[name])
    locked.save(update_fields=[*changed, "updated_at"])
    if _PUSH_AFFECTING & set(changed) and locked.sync_stock:
        Listing.objects.filter(
            channel=locked, fulfillment_channel=FulfillmentChannel.MERCHANT
        ).update(push_pending=True)
    return locked


def set_order_sync_preference(preference: str) -> Organization:
    """Organization-wide (SPEC §5): applies to every sales channel from its next order sync."""
    if preference not in Organization.OrderSyncPreference.values:
        raise ValueError(f"Unknown order sync preference: {preference}")
    organization = Organization.load()
    if organization.order_sync_preference != preference:
        organization.order_sync_preference = preference
        organization.save(update_fields=["order_sync_preference", "updated_at"])
    return organization
