"""Sync history: one SyncRun per execution of a sync job, one SyncRecord per item or order it
touched. The channel is referenced by a string foreign key so this app never imports the
connector."""

from __future__ import annotations

from django.contrib.contenttypes.fields import GenericForeignKey
from django.contrib.contenttypes.models import ContentType
from django.db import models
from django.db.models import F, Q


class SyncRun(models.Model):
    class Kind(models.TextChoices):
        ITEMS = "items", "Items"
        ORDERS = "orders", "Sales orders"
        STOCK = "stock", "Stock"
        SHIPMENTS = "shipments", "Shipments"
        FBA_INVENTORY = "fba_inventory", "FBA stock"
        RETURNS = "returns", "Returns and refunds"

    class Trigger(models.TextChoices):
        AUTOMATIC = "automatic", "Automatic"
        MANUAL = "manual", "Manual"
        INITIAL = "initial", "Initial"
        REINITIATED = "reinitiated", "Re-initiated"

    class Status(models.TextChoices):
        QUEUED = "queued", "Queued"
        RUNNING = "running", "Running"
        SUCCEEDED = "succeeded", "Succeeded"
        PARTIAL = "partial", "Completed with failures"
        FAILED = "failed", "Failed"

    FINAL_STATUSES = (Status.SUCCEEDED, Status.PARTIAL, Status.FAILED)

    channel = models.ForeignKey(
        "marketplaces.SalesChannel", on_delete=models.CASCADE, related_name="sync_runs"
    )
    kind = models.CharField(max_length=16, choices=Kind.choices)
    trigger = models.CharField(max_length=16, choices=Trigger.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    window_start = models.DateTimeField(null=True, blank=True)
    window_end = models.DateTimeField(null=True, blank=True)
    items_synced = models.PositiveIntegerField(default=0)
    items_failed = models.PositiveIntegerField(default=0)
    orders_synced = models.PositiveIntegerField(default=0)
    orders_failed = models.PositiveIntegerField(default=0)
    orders_skipped = models.PositiveIntegerField(
        default=0, help_text="Orders fetched and not imported (each record says why)."
    )
    progress_done = models.PositiveIntegerField(default=0)
    progress_total = models.PositiveIntegerField(null=True, blank=True)
    error = models.TextField(blank=True, help_text="Why the run failed as a whole.")
    cursor = models.TextField(
        blank=True, help_text="Where a retried run resumes (e.g. Amazon's pagination token)."
    )
    reinitiates = models.ForeignKey(
        "self", null=True, blank=True, on_delete=models.SET_NULL, related_name="reinitiated_by"
    )
    requested_by = models.ForeignKey(
        "accounts.User", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    # One searchOrders stream serves every marketplace of a seller: the run that asked Amazon
    # for the orders of several channels leads, each other channel gets a run of its own for
    # its Sync History, fetched with the lead. It is never queued or claimed by itself: it runs
    # while the lead runs, under the lead's claim, and ends when the lead ends.
    fetched_with = models.ForeignKey(
        "self",
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="companions",
        help_text="The run whose Amazon calls fetched this run's records.",
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="Refreshed while a worker runs it; a stale one is dead."
    )
    claim = models.UUIDField(
        null=True,
        blank=True,
        editable=False,
        help_text="Set by the worker that claimed the run; each of its writes checks it is "
        "still there, so a worker whose run was taken over writes nothing more.",
    )

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [
            # Sync History page: a channel's runs, newest first, optionally by kind and status.
            models.Index(F("channel"), F("created_at").desc(), name="run_channel_recent"),
            models.Index(
                F("channel"),
                F("kind"),
                F("status"),
                F("created_at").desc(),
                name="run_channel_kind_status",
            ),
            # Retention and "is one already running?" checks.
            models.Index(fields=["status", "finished_at"], name="run_status_finished"),
        ]
        constraints = [
            # One active run per channel and kind: automatic, manual and re-initiated runs of
            # the same kind never overlap (the database enforces it, not a read-then-write).
            models.UniqueConstraint(
                fields=["channel", "kind"],
                condition=Q(status__in=["queued", "running"]),
                name="run_one_active_per_channel_kind",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} sync #{self.pk} ({self.get_status_display()})"

    @property
    def is_final(self) -> bool:
        return self.status in self.FINAL_STATUSES


class SyncRecord(models.Model):
    """One item or order a run tried to bring in or push out, and what happened to it."""

    class RecordType(models.TextChoices):
        ITEM = "item", "Item"
        ORDER = "order", "Sales order"
        STOCK = "stock", "Stock level"
        SHIPMENT = "shipment", "Shipment"
        CANCELLATION = "cancellation", "Seller cancellation"
        RETURN = "return", "Return"
        REFUND = "refund", "Refund"

    class Outcome(models.TextChoices):
        SYNCED = "synced", "Synced"
        FAILED = "failed", "Failed"
        SKIPPED = "skipped", "Skipped"

    run = models.ForeignKey(SyncRun, on_delete=models.CASCADE, related_name="records")
    record_type = models.CharField(max_length=16, choices=RecordType.choices)
    external_id = models.CharField(
        max_length=200, help_text="Amazon's id: the order id or the seller SKU."
    )
    outcome = models.CharField(max_length=16, choices=Outcome.choices)
    reason = models.TextField(blank=True, help_text="Why it failed or was skipped.")
    local_type = models.ForeignKey(
        ContentType, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    local_id = models.PositiveBigIntegerField(null=True, blank=True)
    local_object = GenericForeignKey("local_type", "local_id")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["id"]
        indexes = [
            # A run's page lists failures first.
            models.Index(fields=["run", "outcome", "id"], name="record_run_outcome"),
            models.Index(fields=["record_type", "external_id"], name="record_external"),
            # The home page's failed records of the last 7 days.
            models.Index(
                fields=["created_at"],
                condition=Q(outcome="failed"),
                name="record_failed_recent",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.record_type} {self.external_id}: {self.outcome}"
