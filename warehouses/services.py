"""Business rules for the organization and its warehouses."""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import transaction

from warehouses.models import Organization, Warehouse


@transaction.atomic
def set_primary_warehouse(warehouse: Warehouse) -> Organization:
    """Make ``warehouse`` the one Amazon orders are tracked in until a mapping says otherwise."""
    if not warehouse.is_active:
        raise ValidationError(f"{warehouse.name} is inactive; activate it first.")
    organization = Organization.objects.select_for_update().get(id=Organization.SINGLETON_ID)
    organization.primary_warehouse = warehouse
    organization.save(update_fields=["primary_warehouse", "updated_at"])
    return organization


@transaction.atomic
def save_warehouse(warehouse: Warehouse) -> Warehouse:
    """Create or update a warehouse. The primary one cannot be deactivated; the first one
    becomes primary, so orders always have a warehouse to be tracked in."""
    organization = Organization.load()
    if (
        warehouse.pk
        and not warehouse.is_active
        and organization.primary_warehouse_id == warehouse.pk
    ):
        raise ValidationError(
            {"is_active": "This is the primary warehouse; make another one primary first."}
        )
    warehouse.save()
    if organization.primary_warehouse_id is None and warehouse.is_active:
        set_primary_warehouse(warehouse)
    return warehouse
