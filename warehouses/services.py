"""Business rules for the organization and its warehouses.

Every settings change writes its audit event here, in the change's transaction, whoever asks
for it (a page, a management command): ``actor`` is an ``audit.Actor``, a request, a user or
None for the system.
"""

from __future__ import annotations

from django.core.exceptions import ValidationError
from django.db import models, transaction

from accounts import audit
from warehouses import stock
from warehouses.models import Organization, Stock, Warehouse


def changed_fields(instance: models.Model) -> list[str]:
    """The editable fields of ``instance`` that differ from its stored row (for a new row: from
    the model's defaults), sorted: what a form's ``changed_data`` says."""
    model = type(instance)
    stored = model._default_manager.filter(pk=instance.pk).first() if instance.pk else None
    before = stored if stored is not None else model()
    return sorted(
        field.name
        for field in model._meta.concrete_fields
        if field.editable
        and not field.primary_key
        and getattr(before, field.attname) != getattr(instance, field.attname)
    )


def _make_primary(warehouse: Warehouse) -> Organization:
    if not warehouse.is_active:
        raise ValidationError(f"{warehouse.name} is inactive; activate it first.")
    if warehouse.is_amazon:
        raise ValidationError(f"{warehouse.name} is Amazon's: choose one of your own warehouses.")
    organization = Organization.objects.select_for_update().get(id=Organization.SINGLETON_ID)
    organization.primary_warehouse = warehouse
    organization.save(update_fields=["primary_warehouse", "updated_at"])
    return organization


@transaction.atomic
def set_primary_warehouse(warehouse: Warehouse, *, actor: audit.Who) -> Organization:
    """Make ``warehouse`` the one Amazon orders are tracked in until a mapping says otherwise."""
    organization = _make_primary(warehouse)
    audit.record(
        actor, "settings-changed", target=warehouse, detail={"setting": "primary_warehouse"}
    )
    return organization


@transaction.atomic
def save_warehouse(warehouse: Warehouse, *, actor: audit.Who) -> Warehouse:
    """Create or update (or deactivate) a warehouse. The primary one cannot be deactivated; the
    first one becomes primary, so orders always have a warehouse to be tracked in."""
    organization = Organization.load()
    if (
        warehouse.pk
        and not warehouse.is_active
        and organization.primary_warehouse_id == warehouse.pk
    ):
        raise ValidationError(
            {"is_active": "This is the primary warehouse; make another one primary first."}
        )
    changed = changed_fields(warehouse)
    warehouse.save()
    if warehouse.pk and "is_active" in changed:
        # Without a mapping a channel pushes the sum over active warehouses: this one's units
        # join or leave that sum.
        stock.record_quantity_change(
            Stock.objects.filter(warehouse=warehouse).values_list("item_id", flat=True)
        )
    if organization.primary_warehouse_id is None and warehouse.is_active:
        _make_primary(warehouse)
    audit.record(
        actor,
        "settings-changed",
        target=warehouse,
        detail={"setting": "warehouse", "changed": changed},
    )
    return warehouse


@transaction.atomic
def save_organization(organization: Organization, *, actor: audit.Who) -> Organization:
    """The organization settings, as edited in Settings › Organization."""
    changed = changed_fields(organization)
    organization.save()
    audit.record(actor, "settings-changed", target=organization, detail={"changed": changed})
    return organization
