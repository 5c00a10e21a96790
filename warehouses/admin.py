"""Admin registrations. The organization and the warehouses are read-only here: they change
in Settings (organization, warehouses), whose services write the audit log."""

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from inventory_sync.generics import generic
from warehouses.models import Item, Organization, Stock, StockMovement, Warehouse

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin, TabularInline
else:
    ModelAdmin = generic(admin.ModelAdmin)
    TabularInline = generic(admin.TabularInline)


class ReadOnlyAdmin(ModelAdmin[Any]):  # for any model: not generic at runtime
    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


@admin.register(Organization)
class OrganizationAdmin(ReadOnlyAdmin):
    list_display = ("name", "base_currency", "taxes_enabled", "multi_warehouse_enabled")


@admin.register(Warehouse)
class WarehouseAdmin(ReadOnlyAdmin):
    list_display = ("name", "is_active", "created_at")
    search_fields = ("name",)


class StockInline(TabularInline[Stock, Item]):
    model = Stock
    extra = 0
    # Quantities change only through the stock services, which record a movement.
    readonly_fields = ("warehouse", "on_hand", "committed")
    can_delete = False


@admin.register(Item)
class ItemAdmin(ModelAdmin[Item]):
    list_display = ("sku", "name", "status", "updated_at")
    list_filter = ("status",)
    search_fields = ("sku", "name")
    inlines = [StockInline]


@admin.register(Stock)
class StockAdmin(ModelAdmin[Stock]):
    list_display = ("item", "warehouse", "on_hand", "committed")
    list_select_related = ("item", "warehouse")
    readonly_fields = ("item", "warehouse", "on_hand", "committed")
    search_fields = ("item__sku",)


@admin.register(StockMovement)
class StockMovementAdmin(ModelAdmin[StockMovement]):
    list_display = ("created_at", "item", "warehouse", "kind", "on_hand_change", "committed_change")
    list_filter = ("kind", "warehouse")
    list_select_related = ("item", "warehouse")
    search_fields = ("item__sku", "reference")

    def has_change_permission(self, request: HttpRequest, obj: object = None) -> bool:
        return False  # history is append-only
