"""Admin registrations. Credentials and buyer data are excluded: the admin never shows them.

A sales channel's connection, status and sync settings are read-only here: they change through
the audited services (connect, Show Details, disable and re-enable), never unaudited.
"""

from typing import TYPE_CHECKING, Any

from django.contrib import admin
from django.http import HttpRequest

from inventory_sync.generics import generic
from marketplaces.models import (
    Listing,
    SalesChannel,
    SalesOrder,
    SalesOrderComment,
    SalesOrderLine,
    SalesOrderTax,
    SalesRefund,
    SalesRefundTax,
    SalesReturn,
    SalesReturnLine,
    SellerCancellation,
    SellerCancellationLine,
    Shipment,
    ShipmentLine,
)

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin, TabularInline
else:
    ModelAdmin = generic(admin.ModelAdmin)
    TabularInline = generic(admin.TabularInline)


@admin.register(SalesChannel)
class SalesChannelAdmin(ModelAdmin[SalesChannel]):
    list_display = ("name", "marketplace", "seller_id", "status", "mapped_warehouse")
    list_filter = ("status", "marketplace")
    exclude = ("refresh_token",)
    # Everything but the name: endpoints, seller, status, modules, limits, mapping, checkpoints.
    readonly_fields = tuple(
        field.name
        for field in SalesChannel._meta.concrete_fields
        if field.name not in ("id", "name", "refresh_token")
    )

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False  # connected in Settings › Integrations or with manage.py connect_amazon

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False  # disabled (audited) on Show Details instead


@admin.register(Listing)
class ListingAdmin(ModelAdmin[Listing]):
    list_display = ("seller_sku", "channel", "item", "fulfillment_channel", "push_pending")
    list_filter = ("fulfillment_channel", "push_pending")
    list_select_related = ("channel", "item")
    search_fields = ("seller_sku", "asin")
    raw_id_fields = ("item",)


class SalesOrderLineInline(TabularInline[SalesOrderLine, SalesOrder]):
    model = SalesOrderLine
    extra = 0
    raw_id_fields = ("item",)


class SalesOrderCommentInline(TabularInline[SalesOrderComment, SalesOrder]):
    model = SalesOrderComment
    extra = 0


@admin.register(SalesOrder)
class SalesOrderAdmin(ModelAdmin[SalesOrder]):
    list_display = ("amazon_order_id", "channel", "status", "fulfillment_channel", "purchased_at")
    list_filter = ("status", "fulfillment_channel", "channel")
    search_fields = ("amazon_order_id",)
    exclude = ("buyer_name", "buyer_email", "buyer_phone", "shipping_address")
    inlines = [SalesOrderLineInline, SalesOrderCommentInline]
    show_full_result_count = False


@admin.register(SalesOrderTax)
class SalesOrderTaxAdmin(ModelAdmin[SalesOrderTax]):
    list_display = ("line", "component", "collector", "tax_name", "amount")
    raw_id_fields = ("line",)


class ShipmentLineInline(TabularInline[ShipmentLine, Shipment]):
    model = ShipmentLine
    extra = 0
    raw_id_fields = ("order_line",)


@admin.register(Shipment)
class ShipmentAdmin(ModelAdmin[Shipment]):
    list_display = ("order", "carrier_code", "tracking_number", "ship_date", "amazon_status")
    list_filter = ("amazon_status",)
    raw_id_fields = ("order",)
    inlines = [ShipmentLineInline]


class SellerCancellationLineInline(TabularInline[SellerCancellationLine, SellerCancellation]):
    model = SellerCancellationLine
    extra = 0
    can_delete = False
    readonly_fields = ("order_line", "quantity")


@admin.register(SellerCancellation)
class SellerCancellationAdmin(ModelAdmin[SellerCancellation]):
    """Read-only: a cancellation released stock and went to Amazon through its service; an
    edit here would leave stock, Amazon and the order disagreeing."""

    list_display = ("order", "reason", "amazon_status", "created_by", "created_at")
    list_filter = ("amazon_status", "reason")
    readonly_fields = (
        "order",
        "reason",
        "amazon_status",
        "amazon_error",
        "feed_id",
        "amazon_attempted_at",
        "confirmed_at",
        "created_by",
    )
    inlines = [SellerCancellationLineInline]

    def has_add_permission(self, request: HttpRequest) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class _ViewOnly:
    """Returns and refunds come from Amazon's reports and change only through their rules
    (receiving a return moves stock): the admin shows them, never edits them."""

    def has_add_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj: Any = None) -> bool:
        return False


class SalesReturnLineInline(_ViewOnly, TabularInline[SalesReturnLine, SalesReturn]):
    model = SalesReturnLine
    extra = 0


@admin.register(SalesReturn)
class SalesReturnAdmin(_ViewOnly, ModelAdmin[SalesReturn]):
    list_display = ("amazon_return_id", "order", "fulfillment_channel", "status", "requested_at")
    list_filter = ("status", "fulfillment_channel")
    list_select_related = ("order",)
    search_fields = ("amazon_return_id", "order__amazon_order_id")
    inlines = [SalesReturnLineInline]


class SalesRefundTaxInline(_ViewOnly, TabularInline[SalesRefundTax, SalesRefund]):
    model = SalesRefundTax
    extra = 0


@admin.register(SalesRefund)
class SalesRefundAdmin(_ViewOnly, ModelAdmin[SalesRefund]):
    list_display = ("transaction_id", "order", "refunded", "currency", "is_concession", "posted_at")
    list_filter = ("is_concession", "currency")
    list_select_related = ("order",)
    search_fields = ("transaction_id", "order__amazon_order_id")
    inlines = [SalesRefundTaxInline]
