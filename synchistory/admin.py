from typing import TYPE_CHECKING

from django.contrib import admin

from inventory_sync.generics import generic
from synchistory.models import SyncRecord, SyncRun

if TYPE_CHECKING:
    from django.contrib.admin import ModelAdmin
else:
    ModelAdmin = generic(admin.ModelAdmin)


@admin.register(SyncRun)
class SyncRunAdmin(ModelAdmin[SyncRun]):
    list_display = (
        "id",
        "channel",
        "kind",
        "trigger",
        "status",
        "items_synced",
        "items_failed",
        "orders_synced",
        "orders_failed",
        "created_at",
        "finished_at",
    )
    list_filter = ("kind", "status", "trigger")
    list_select_related = ("channel",)
    raw_id_fields = ("reinitiates", "requested_by")
    show_full_result_count = False  # the history can hold hundreds of thousands of runs


@admin.register(SyncRecord)
class SyncRecordAdmin(ModelAdmin[SyncRecord]):
    list_display = ("id", "run", "record_type", "external_id", "outcome", "reason")
    list_filter = ("record_type", "outcome")
    raw_id_fields = ("run",)
    search_fields = ("external_id",)
    show_full_result_count = False
