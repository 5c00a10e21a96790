"""The seller's own inventory: organization settings, warehouses, items, stock and its history."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db import models
from django.db.models import F, Q
from django.utils.translation import gettext_lazy as _


class Organization(models.Model):
    """The one organization of this installation. Always row id 1."""

    class OrderSyncPreference(models.TextChoices):
        CONFIRMED = "confirmed", _("Confirmed only")
        CONFIRMED_AND_FULFILLED = "confirmed_and_fulfilled", _("Confirmed and Fulfilled")

    SINGLETON_ID = 1
    # The language middleware asks for the organization's language on every request whose user
    # and browser name none: kept a minute per process rather than a query per page.
    LANGUAGE_CACHE_KEY = "organization-language"
    LANGUAGE_CACHE_SECONDS = 60

    name = models.CharField(max_length=200, default="My organization")
    base_currency = models.CharField(
        max_length=3, default="CAD", help_text=_("ISO 4217 code. Amazon.ca needs CAD.")
    )
    taxes_enabled = models.BooleanField(default=True)
    multi_warehouse_enabled = models.BooleanField("multi-warehouse", default=False)
    primary_warehouse = models.ForeignKey(
        "Warehouse", null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    order_sync_preference = models.CharField(
        max_length=32, choices=OrderSyncPreference.choices, default=OrderSyncPreference.CONFIRMED
    )
    language = models.CharField(
        _("language"),
        max_length=8,
        choices=settings.LANGUAGES,
        default="en-ca",
        db_default="en-ca",
        help_text=_("For users who chose none and whose browser asks for neither language."),
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.CheckConstraint(condition=Q(id=1), name="organization_is_singleton"),
        ]

    def __str__(self) -> str:
        return self.name

    def save(self, *args: Any, **kwargs: Any) -> None:
        super().save(*args, **kwargs)
        cache.delete(self.LANGUAGE_CACHE_KEY)

    @classmethod
    def load(cls) -> Organization:
        organization, _created = cls.objects.get_or_create(id=cls.SINGLETON_ID)
        return organization

    @classmethod
    def language_code(cls) -> str:
        return str(
            cache.get_or_set(
                cls.LANGUAGE_CACHE_KEY,
                lambda: (
                    cls.objects.filter(id=cls.SINGLETON_ID)
                    .values_list("language", flat=True)
                    .first()
                    or settings.LANGUAGE_CODE
                ),
                cls.LANGUAGE_CACHE_SECONDS,
            )
        )


class Warehouse(models.Model):
    """A place stock is kept: one of the seller's own, or an Amazon FBA pool.

    Amazon's warehouses (``amazon_pool`` set) mirror Amazon's counts: their stock changes only
    with Amazon's inventory (``warehouses.stock.set_amazon_counts``), nothing local commits or
    ships it, and it is never part of the quantity pushed for merchant-fulfilled listings.
    """

    class AmazonPool(models.TextChoices):
        # FBA stock is pooled per fulfillment network: Amazon.ca's own, and the US network that
        # serves Amazon.com and Amazon.com.mx.
        CANADA = "CA", "Amazon.ca FBA"
        UNITED_STATES = "US", "Amazon US FBA"

    name = models.CharField(max_length=120, unique=True)
    address = models.TextField(blank=True)
    is_active = models.BooleanField(default=True)
    amazon_pool = models.CharField(
        max_length=2,
        choices=AmazonPool.choices,
        blank=True,
        default="",
        editable=False,
        help_text=_("Set for Amazon's FBA warehouses, which mirror Amazon's counts."),
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            models.UniqueConstraint(
                fields=["amazon_pool"],
                condition=~Q(amazon_pool=""),
                name="warehouse_one_per_amazon_pool",
            ),
        ]

    def __str__(self) -> str:
        return self.name

    @property
    def is_amazon(self) -> bool:
        return bool(self.amazon_pool)


class Item(models.Model):
    """One product the seller stocks: one SKU.

    Amazon listings with no matching SKU arrive as *unconfirmed* items; the seller confirms them
    (they become ordinary items) or links their listing to an existing item.
    """

    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        UNCONFIRMED = "unconfirmed", "Unconfirmed"

    sku = models.CharField("SKU", max_length=200, unique=True)
    name = models.CharField(max_length=500)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.CONFIRMED)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    reorder_point = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text=_("Warn on the home page when the units available fall to this or below."),
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["sku"]
        indexes = [models.Index(fields=["status", "sku"], name="item_status_sku")]

    def __str__(self) -> str:
        return f"{self.sku} — {self.name}"

    @property
    def is_confirmed(self) -> bool:
        return self.status == self.Status.CONFIRMED


class Stock(models.Model):
    """Quantities of one item in one warehouse. Change it only through the stock services."""

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="stocks")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="stocks")
    on_hand = models.IntegerField(default=0)
    committed = models.IntegerField(default=0)
    # Amazon's other counts, in its FBA warehouses only (on_hand is the fulfillable units there):
    # shown beside available, never sold from.
    amazon_reserved = models.IntegerField(default=0)
    amazon_inbound = models.IntegerField(default=0)
    amazon_unfulfillable = models.IntegerField(default=0)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["item", "warehouse"], name="stock_item_warehouse"),
            models.CheckConstraint(condition=Q(committed__gte=0), name="stock_committed_gte_0"),
        ]

    def __str__(self) -> str:
        return f"{self.item.sku} @ {self.warehouse.name}"

    @property
    def available(self) -> int:
        return self.on_hand - self.committed


class StockMovement(models.Model):
    """One change of on-hand or committed quantity, with the totals after it (an audit trail)."""

    class Kind(models.TextChoices):
        OPENING = "opening", "Opening stock"
        ADJUSTMENT = "adjustment", "Adjustment"
        COMMIT = "commit", "Committed to an order"
        RELEASE = "release", "Released from an order"
        SHIP = "ship", "Shipped"
        AMAZON_COUNT = "amazon_count", "Amazon's count"
        RETURN = "return", "Returned by a buyer"

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="movements")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="movements")
    kind = models.CharField(max_length=16, choices=Kind.choices)
    on_hand_change = models.IntegerField(default=0)
    committed_change = models.IntegerField(default=0)
    on_hand_after = models.IntegerField()
    committed_after = models.IntegerField()
    reference = models.CharField(
        max_length=200, blank=True, help_text=_("What caused it, e.g. a sales order number.")
    )
    note = models.CharField(max_length=500, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True, db_index=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(F("item"), F("created_at").desc(), name="movement_item_recent")]

    def __str__(self) -> str:
        return f"{self.get_kind_display()} {self.item.sku} {self.on_hand_change:+d}"


class StockChangeOutbox(models.Model):
    """An item whose available quantity changed in a committed transaction, until the listeners
    of ``stock_changed`` (the stock push) have heard of it.

    Written in the change's own transaction, so a committed change always leaves one; removed
    in the transaction in which the listeners react. Delivered right after the commit and, if
    that fails (a lost database connection, a crash), by the next sweep a minute later.
    """

    item = models.ForeignKey(Item, on_delete=models.CASCADE, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self) -> str:
        return f"Stock of item {self.item_id} changed"


class ExchangeRate(models.Model):
    """What one unit of ``currency`` was worth in the base currency (CAD) on ``date``.

    Rows come from the Bank of Canada's daily rates (``warehouses.exchange_rates``), or from an
    admin in Settings › Exchange rates; an admin's row is never overwritten by a later fetch.
    The Bank publishes business days only: a day without a row uses the latest earlier one
    (``warehouses.currency``).
    """

    class Source(models.TextChoices):
        BANK_OF_CANADA = "bank_of_canada", "Bank of Canada"
        ADMIN = "admin", "Set by an admin"

    currency = models.CharField(max_length=3, help_text=_("ISO 4217 code, e.g. USD."))
    date = models.DateField()
    rate = models.DecimalField(
        max_digits=18, decimal_places=8, help_text=_("Base-currency units for one unit.")
    )
    source = models.CharField(max_length=16, choices=Source.choices)
    changed_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    changed_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["currency", "-date"]
        constraints = [
            models.UniqueConstraint(fields=["currency", "date"], name="exchange_rate_one_per_day"),
            models.CheckConstraint(condition=Q(rate__gt=0), name="exchange_rate_positive"),
        ]

    def __str__(self) -> str:
        return f"{self.currency} {self.date}: {self.rate}"


class ExchangeRateFetch(models.Model):
    """One daily fetch of the Bank of Canada's rates: what it asked for and how it ended."""

    started_at = models.DateTimeField(auto_now_add=True)
    start_date = models.DateField()
    end_date = models.DateField()
    rates_added = models.PositiveIntegerField(default=0)
    error = models.TextField(blank=True, help_text=_("Why the fetch failed; empty when it worked."))

    class Meta:
        ordering = ["-started_at", "-id"]

    def __str__(self) -> str:
        return f"{self.start_date}–{self.end_date}: {self.error or f'{self.rates_added} added'}"
