"""Channel settings changed from Show Details: sync interval, modules, stock limits, the
organization-wide order sync preference, the mapped warehouse, disable and re-enable.

Services: the views and commands call them. Every change writes its audit event here, in the
change's transaction, whoever asks for it (a page, a management command): ``actor`` is an
``audit.Actor``, a request, a user or None.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts import audit
from marketplaces import notifications
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel, mark_for_push
from warehouses.models import Organization, Warehouse

SETTABLE_FIELDS = frozenset(
    {
        "sync_interval_minutes",
        "sync_items",
        "sync_orders",
        "sync_stock",
        "sync_shipments",
        "sync_returns",
        "restock_returns_automatically",
        "safety_buffer",
        "max_quantity",
    }
)
# The audit log's name for each setting's group (one form of Show Details each).
_SETTING_GROUP = {
    "sync_interval_minutes": "interval",
    "sync_items": "modules",
    "sync_orders": "modules",
    "sync_stock": "modules",
    "sync_shipments": "modules",
    "sync_returns": "modules",
    "restock_returns_automatically": "returns",
    "safety_buffer": "limits",
    "max_quantity": "limits",
}
assert set(_SETTING_GROUP) == SETTABLE_FIELDS
# Changing these changes the quantity Amazon should see: every merchant SKU is pushed again.
_PUSH_AFFECTING = frozenset({"safety_buffer", "max_quantity", "sync_stock"})


@transaction.atomic
def update_channel_settings(
    channel: SalesChannel, *, actor: audit.Who, **changes: Any
) -> SalesChannel:
    """Audited as ``settings-changed`` with the setting's group and the values asked for."""
    unknown = set(changes) - SETTABLE_FIELDS
    if unknown:
        raise ValueError(f"Not a channel setting: {', '.join(sorted(unknown))}")
    locked = SalesChannel.objects.select_for_update().get(id=channel.id)
    audit.record(
        actor,
        "settings-changed",
        target=locked,
        detail={"setting": "+".join(sorted({_SETTING_GROUP[n] for n in changes})), **changes},
    )
    changed = [name for name, value in changes.items() if getattr(locked, name) != value]
    if not changed:
        return locked
    for name in changed:
        setattr(locked, name, changes[name])
    locked.save(update_fields=[*changed, "updated_at"])
    if _PUSH_AFFECTING & set(changed) and locked.sync_stock:
        _push_every_listing(locked.id)
    return locked


@transaction.atomic
def set_order_sync_preference(preference: str, *, actor: audit.Who) -> Organization:
    """Organization-wide: applies to every sales channel from its next order sync."""
    if preference not in Organization.OrderSyncPreference.values:
        raise ValueError(f"Unknown order sync preference: {preference}")
    organization = Organization.load()
    if organization.order_sync_preference != preference:
        organization.order_sync_preference = preference
        organization.save(update_fields=["order_sync_preference", "updated_at"])
    audit.record(
        actor,
        "settings-changed",
        target=organization,
        detail={"setting": "order_sync_preference", "order_sync_preference": preference},
    )
    return organization


@transaction.atomic
def set_warehouse_mapping(
    channel: SalesChannel, warehouse: Warehouse | None, *, actor: audit.Who
) -> SalesChannel:
    """Map a warehouse to the channel (or turn mapping off with ``None``).

    New orders of the channel then commit and ship from it, and the stock Amazon is told is
    that warehouse's available quantity; so every merchant-fulfilled SKU is pushed again.
    Existing orders keep the warehouse they have. Refusals are ValidationErrors.
    """
    organization = Organization.load()
    if warehouse is not None:
        if not organization.multi_warehouse_enabled:
            raise ValidationError(
                "Warehouse mapping needs multi-warehouse: turn it on in Settings › Organization."
            )
        if not warehouse.is_active:
            raise ValidationError(f"{warehouse.name} is inactive.")
        if warehouse.is_amazon:
            raise ValidationError(
                f"{warehouse.name} is Amazon's: mapping chooses where merchant-fulfilled orders "
                "take stock from, and FBA orders always use Amazon's warehouse."
            )
    locked = SalesChannel.objects.select_for_update().get(id=channel.id)
    if locked.mapped_warehouse_id != (warehouse.id if warehouse else None):
        locked.mapped_warehouse = warehouse
        locked.save(update_fields=["mapped_warehouse", "updated_at"])
        _push_every_listing(locked.id)
    audit.record(
        actor,
        "settings-changed",
        target=locked,
        detail={"setting": "warehouse", "warehouse": warehouse.pk if warehouse else None},
    )
    return locked


def disable_channel(channel: SalesChannel, *, actor: audit.Who) -> SalesChannel:
    """Inactive: nothing syncs, automatic or manual, until it is re-enabled. The seller's last
    active channel takes its Amazon notifications with it (``marketplaces.notifications``),
    once the channel is saved: Amazon is never called inside the transaction."""
    with transaction.atomic():
        SalesChannel.objects.filter(id=channel.id).update(
            status=SalesChannel.Status.INACTIVE, status_reason="Disabled by an admin."
        )
        channel.refresh_from_db()
        audit.record(actor, "channel-disconnected", target=channel)
    notifications.after_channel_disabled(channel, actor=actor)
    return channel


def enable_channel(channel: SalesChannel, *, actor: audit.Who) -> SalesChannel:
    """Active again. Order sync resumes from its checkpoint (minus the overlap), so the orders
    placed while it was inactive come in, and none is imported twice. Refused
    (ValidationError) for a channel that needs re-authorizing. Notifications that were on
    when the seller's channels were disabled are turned on again."""
    if channel.status == SalesChannel.Status.NEEDS_REAUTHORIZATION:
        raise ValidationError(
            "Amazon no longer accepts this channel's authorization: connect it again."
        )
    with transaction.atomic():
        SalesChannel.objects.filter(id=channel.id).update(
            status=SalesChannel.Status.ACTIVE, status_reason=""
        )
        # Stock changes while inactive marked nothing for this channel: push every SKU again.
        _push_every_listing(channel.id)
        channel.refresh_from_db()
        audit.record(actor, "channel-enabled", target=channel)
    notifications.after_channel_enabled(channel, actor=actor)
    return channel


def _push_every_listing(channel_id: int) -> None:
    mark_for_push(
        Listing.objects.filter(
            channel_id=channel_id, fulfillment_channel=FulfillmentChannel.MERCHANT
        )
    )
