"""Sales channels (connected marketplace accounts), their listings and their sales orders."""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from django.conf import settings
from django.db import models
from django.db.models import F, Q
from django.db.models.functions import Upper

from inventory_sync.fields import EncryptedJSONField, EncryptedTextField
from marketplaces.endpoints import validate_lwa_endpoint, validate_spapi_endpoint

AMAZON_CA_MARKETPLACE_ID = "A2EUQ1WTGCTBG2"
AMAZON_NA_ENDPOINT = "https://sellingpartnerapi-na.amazon.com"
AMAZON_LWA_ENDPOINT = "https://api.amazon.com"
AMAZON_COM_MARKETPLACE_ID = "ATVPDKIKX0DER"
AMAZON_COM_MX_MARKETPLACE_ID = "A1AM78C64UM0Y8"


@dataclass(frozen=True)
class MarketplaceInfo:
    """An Amazon marketplace the product sells on: what Amazon calls it and sells in."""

    code: str  # SalesChannel.Marketplace
    marketplace_id: str
    name: str
    currency: str
    country: str


class SalesChannel(models.Model):
    """One connected Amazon seller account on one marketplace. A seller's North-American
    authorization covers several marketplaces: each is a channel of its own (settings, Sync
    History), and they all hold the same credential (``marketplaces.connect`` writes it to
    every channel of the seller at once)."""

    class Marketplace(models.TextChoices):
        AMAZON_CA = "amazon_ca", "Amazon.ca"
        AMAZON_COM = "amazon_com", "Amazon.com"
        AMAZON_COM_MX = "amazon_com_mx", "Amazon.com.mx"

    class Status(models.TextChoices):
        ACTIVE = "active", "Active"
        INACTIVE = "inactive", "Inactive"
        NEEDS_REAUTHORIZATION = "needs_reauthorization", "Needs re-authorization"

    name = models.CharField(max_length=120)
    marketplace = models.CharField(
        max_length=32, choices=Marketplace.choices, default=Marketplace.AMAZON_CA
    )
    marketplace_id = models.CharField(max_length=32, default=AMAZON_CA_MARKETPLACE_ID)
    currency = models.CharField(max_length=3, default="CAD")
    seller_id = models.CharField("selling partner id", max_length=64)
    refresh_token = EncryptedTextField(blank=True)
    # Credentials go to these two: Amazon's hosts only (marketplaces/endpoints.py).
    spapi_endpoint = models.URLField(
        "SP-API endpoint",
        default=AMAZON_NA_ENDPOINT,
        help_text="Amazon's, or the simulator's.",
        validators=[validate_spapi_endpoint],
    )
    lwa_endpoint = models.URLField(
        "LWA endpoint", default=AMAZON_LWA_ENDPOINT, validators=[validate_lwa_endpoint]
    )
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.ACTIVE)
    status_reason = models.CharField(max_length=500, blank=True)

    # Modules in Sync (Show Details).
    sync_items = models.BooleanField(default=True)
    sync_orders = models.BooleanField(default=True)
    sync_stock = models.BooleanField(default=True)
    sync_shipments = models.BooleanField(default=True)
    sync_returns = models.BooleanField("sync returns and refunds", default=True)
    mapped_warehouse = models.ForeignKey(
        "warehouses.Warehouse",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="mapped_channels",
        help_text="When set, orders commit and ship from it and its stock is what Amazon sees.",
    )
    sync_interval_minutes = models.PositiveIntegerField(default=15)
    safety_buffer = models.PositiveIntegerField(
        default=0, help_text="Units held back from the quantity sent to Amazon."
    )
    max_quantity = models.PositiveIntegerField(
        null=True, blank=True, help_text="Never tell Amazon more than this."
    )
    restock_returns_automatically = models.BooleanField(
        default=False,
        help_text="Put sellable merchant returns back on hand as soon as Amazon reports them "
        "received, instead of waiting for the seller to receive them.",
    )

    # Checkpoints: taken from Amazon's data, moved only after the data they cover is committed.
    orders_checkpoint = models.DateTimeField(null=True, blank=True)
    items_checkpoint = models.DateTimeField(null=True, blank=True)
    # FBA inventory read up to here: the next automatic refresh asks for what changed since.
    fba_inventory_checkpoint = models.DateTimeField(null=True, blank=True)
    # Finances transactions read up to here (Amazon's postedBefore of the last returns sync).
    refunds_checkpoint = models.DateTimeField(null=True, blank=True)

    connected_at = models.DateTimeField(auto_now_add=True)
    connected_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["name"]
        constraints = [
            # One channel per seller account and marketplace, whatever the case the seller id
            # was typed in: a second one would import the same orders and commit their stock
            # twice.
            models.UniqueConstraint(
                Upper("seller_id"), "marketplace_id", name="channel_seller_marketplace_ci"
            ),
            models.CheckConstraint(
                condition=Q(sync_interval_minutes__gte=1), name="channel_interval_gte_1"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.name} ({self.get_marketplace_display()})"

    @property
    def is_active(self) -> bool:
        return self.status == self.Status.ACTIVE


class FulfillmentChannel(models.TextChoices):
    MERCHANT = "merchant", "Fulfilled by merchant"
    AMAZON = "amazon", "Fulfilled by Amazon"


class Listing(models.Model):
    """An Amazon listing of a channel, matched to an item by SKU.

    It is also the stock-push outbox: ``push_pending`` is set when the item's available quantity
    changes and cleared only when Amazon accepted ``pushed_quantity``. Mark it with
    ``mark_for_push``, which also moves ``push_version`` on: a push clears ``push_pending`` only
    while the version is still the one it took the quantity at, so a change that lands while a
    push is in flight keeps the listing pending instead of being lost.
    """

    channel = models.ForeignKey(SalesChannel, on_delete=models.CASCADE, related_name="listings")
    item = models.ForeignKey("warehouses.Item", on_delete=models.CASCADE, related_name="listings")
    seller_sku = models.CharField(max_length=200)
    asin = models.CharField(max_length=20, blank=True)
    title = models.CharField(max_length=500, blank=True)
    product_type = models.CharField(max_length=100, blank=True)
    fulfillment_channel = models.CharField(
        max_length=16, choices=FulfillmentChannel.choices, default=FulfillmentChannel.MERCHANT
    )
    amazon_quantity = models.IntegerField(
        null=True, blank=True, help_text="The quantity Amazon listed when last read."
    )
    price = models.DecimalField(max_digits=12, decimal_places=2, null=True, blank=True)
    push_pending = models.BooleanField(default=False)
    # A counter, not a timestamp: compared for equality in SQL, and an integer is the same value
    # on every database (SQLite stored Now() and a Python datetime as different strings).
    push_version = models.PositiveBigIntegerField(default=0)
    pushed_quantity = models.IntegerField(null=True, blank=True)
    pushed_at = models.DateTimeField(null=True, blank=True)
    push_error = models.TextField(blank=True)
    amazon_quantity_checked_at = models.DateTimeField(
        null=True, blank=True, help_text="When the drift check last read Amazon's quantity."
    )
    # FBA listings: Amazon's units of this SKU in its network, as getInventorySummaries last
    # said ({"fulfillable", "reserved", "inbound", "unfulfillable"}); its item's stock in the
    # FBA warehouse is the sum over its SKUs.
    fba_counts = models.JSONField(default=dict, blank=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["seller_sku"]
        constraints = [
            models.UniqueConstraint(fields=["channel", "seller_sku"], name="listing_channel_sku"),
        ]
        indexes = [
            models.Index(
                fields=["channel", "seller_sku"],
                condition=Q(push_pending=True),
                name="listing_push_pending",
            ),
        ]

    def __str__(self) -> str:
        return self.seller_sku

    @property
    def drifted(self) -> bool:
        """Amazon lists another quantity than the one we last pushed."""
        return (
            self.fulfillment_channel == FulfillmentChannel.MERCHANT
            and self.amazon_quantity_checked_at is not None
            and self.pushed_quantity is not None
            and self.amazon_quantity != self.pushed_quantity
        )


def mark_for_push(listings: models.QuerySet[Listing], *, forget_pushed: bool = False) -> int:
    """Queue these listings for the next stock push; returns how many. With ``forget_pushed``
    the quantity Amazon last accepted is forgotten too, so the push sends ours even when it
    equals that one (Amazon changed its quantity on its own)."""
    changes: dict[str, Any] = {"push_pending": True, "push_version": F("push_version") + 1}
    if forget_pushed:
        changes["pushed_quantity"] = None
    return listings.update(**changes)


class SalesOrder(models.Model):
    class Status(models.TextChoices):
        CONFIRMED = "confirmed", "Confirmed"
        ON_HOLD = "on_hold", "On hold"
        PARTIALLY_SHIPPED = "partially_shipped", "Partially shipped"
        SHIPPED = "shipped", "Shipped"
        CANCELLED = "cancelled", "Cancelled"

    class CancelRequest(models.TextChoices):
        """A buyer's cancellation request and what the seller did about it."""

        NONE = "", "None"
        OPEN = "open", "Waiting for the seller"
        CANCELLED = "cancelled", "Cancelled"
        DECLINED = "declined", "Declined: the order shipped"

    channel = models.ForeignKey(SalesChannel, on_delete=models.PROTECT, related_name="orders")
    amazon_order_id = models.CharField(max_length=64)
    status = models.CharField(max_length=32, choices=Status.choices, default=Status.CONFIRMED)
    hold_reason = models.CharField(max_length=500, blank=True)
    amazon_status = models.CharField(max_length=32, help_text="Amazon's fulfillment status.")
    fulfillment_channel = models.CharField(max_length=16, choices=FulfillmentChannel.choices)
    warehouse = models.ForeignKey(
        "warehouses.Warehouse", on_delete=models.PROTECT, related_name="sales_orders"
    )
    currency = models.CharField(max_length=3, default="CAD")
    purchased_at = models.DateTimeField()
    amazon_updated_at = models.DateTimeField(help_text="Amazon's lastUpdatedTime.")
    delivered_at = models.DateTimeField(null=True, blank=True)
    shipped_at = models.DateTimeField(null=True, blank=True)
    latest_ship_date = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Amazon's ship-by date (shipByWindow.latestDateTime); unknown from a report.",
    )
    awaiting_details = models.BooleanField(
        default=False,
        db_default=False,
        help_text=(
            "Imported while Amazon's getOrder could not be called (its quota spent, Amazon "
            "down): from the ORDER_CHANGE notification (no prices, taxes or buyer) or without "
            "the buyer; lines, quantities and stock are in, the rest comes with the next fetch."
        ),
    )
    # Database defaults too, so rows written in SQL (the benchmarks' data) need not name them.
    buyer_cancel_request = models.CharField(
        max_length=16,
        choices=CancelRequest.choices,
        blank=True,
        default=CancelRequest.NONE,
        db_default=CancelRequest.NONE,
    )
    buyer_cancel_requested_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="Amazon's lastUpdatedTime when the request was first seen (Amazon gives no "
        "time of its own for it).",
    )
    buyer_cancel_reason = models.CharField(max_length=500, blank=True, default="", db_default="")

    subtotal = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    shipping_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    discount_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    tax_total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    total = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))

    # Personal data (docs/SECURITY.md): encrypted at rest, erased 30 days after delivery.
    buyer_name = EncryptedTextField(blank=True)
    buyer_email = EncryptedTextField(blank=True)
    buyer_phone = EncryptedTextField(blank=True)
    shipping_address = EncryptedJSONField(null=True, blank=True)
    personal_data_erased_at = models.DateTimeField(null=True, blank=True)
    personal_data_withheld = models.CharField(
        max_length=32,
        blank=True,
        help_text=(
            "What Amazon withheld of the buyer's data for lack of a restricted role "
            '(marketplaces/buyer_data.py), e.g. "address,email,name"; empty when nothing was.'
        ),
    )

    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-purchased_at", "-id"]
        constraints = [
            # An order is imported once, whatever happens: enforced by the database.
            models.UniqueConstraint(
                fields=["channel", "amazon_order_id"], name="order_channel_amazon_id"
            ),
        ]
        indexes = [
            models.Index(F("purchased_at").desc(), F("id").desc(), name="order_recent"),
            models.Index(fields=["status", "purchased_at"], name="order_status_purchased"),
            # The Sales Orders search by Amazon order id, whatever the channel.
            models.Index(fields=["amazon_order_id"], name="order_amazon_id"),
            # The home page's orders to ship and the list's "late" / "due today": merchant
            # orders still open, by ship-by date.
            models.Index(
                fields=["latest_ship_date", "id"],
                condition=Q(
                    status__in=["confirmed", "partially_shipped"], fulfillment_channel="merchant"
                ),
                name="order_to_ship",
            ),
            # The scheduler asks each minute whether a seller's orders await Amazon's details.
            models.Index(
                fields=["channel"], condition=Q(awaiting_details=True), name="order_awaiting"
            ),
            # The home page's count and the list's filter of open buyer cancellation requests.
            models.Index(
                fields=["purchased_at", "id"],
                condition=Q(buyer_cancel_request="open"),
                name="order_cancel_request_open",
            ),
        ]

    def __str__(self) -> str:
        return self.amazon_order_id


class SalesOrderLine(models.Model):
    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="lines")
    amazon_order_item_id = models.CharField(max_length=64)
    item = models.ForeignKey(
        "warehouses.Item", on_delete=models.PROTECT, related_name="order_lines"
    )
    seller_sku = models.CharField(max_length=200)
    title = models.CharField(max_length=500, blank=True)
    quantity = models.PositiveIntegerField()
    quantity_shipped = models.PositiveIntegerField(default=0)
    unit_price = models.DecimalField(max_digits=12, decimal_places=2)
    shipping_price = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    promotion_discount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    shipping_discount = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    stock_committed = models.PositiveIntegerField(
        default=0, help_text="Units this line holds committed in the order's warehouse."
    )
    quantity_cancelled = models.PositiveIntegerField(
        default=0,
        db_default=0,
        help_text="Units cancelled before they shipped (by the seller or Amazon).",
    )
    buyer_cancel_requested = models.BooleanField(
        default=False,
        db_default=False,
        help_text="Amazon marks this item with the buyer's cancellation request.",
    )

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "amazon_order_item_id"], name="order_line_amazon_item"
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity")), name="line_shipped_lte_quantity"
            ),
            models.CheckConstraint(
                condition=Q(quantity_shipped__lte=F("quantity") - F("quantity_cancelled")),
                name="line_shipped_and_cancelled_lte_quantity",
            ),
        ]
        # The Sales Orders search by SKU.
        indexes = [models.Index(fields=["seller_sku"], name="order_line_sku")]

    def __str__(self) -> str:
        return f"{self.seller_sku} × {self.quantity}"

    @property
    def quantity_open(self) -> int:
        """Units still to ship: neither shipped nor cancelled."""
        return self.quantity - self.quantity_shipped - self.quantity_cancelled


class SalesOrderTax(models.Model):
    """One tax amount of one line, by component and by who remits it."""

    class Component(models.TextChoices):
        ITEM = "item", "Item"
        SHIPPING = "shipping", "Shipping"
        GIFT_WRAP = "gift_wrap", "Gift wrap"

    class Collector(models.TextChoices):
        MARKETPLACE = "marketplace", "Marketplace facilitator"
        SELLER = "seller", "Seller"

    line = models.ForeignKey(SalesOrderLine, on_delete=models.CASCADE, related_name="taxes")
    component = models.CharField(max_length=16, choices=Component.choices)
    collector = models.CharField(max_length=16, choices=Collector.choices)
    tax_name = models.CharField(max_length=64, blank=True, help_text="GST, HST, PST, QST…")
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    def __str__(self) -> str:
        return f"{self.component} {self.tax_name} {self.amount}"


class Shipment(models.Model):
    class AmazonStatus(models.TextChoices):
        NOT_SENT = "not_sent", "Not sent (Amazon-fulfilled)"
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        ACCEPTED = "accepted", "Accepted by Amazon"
        REJECTED = "rejected", "Rejected by Amazon"

    order = models.ForeignKey(SalesOrder, on_delete=models.PROTECT, related_name="shipments")
    package_reference_id = models.CharField(max_length=64)
    carrier_code = models.CharField(max_length=64)
    carrier_name = models.CharField(max_length=120, blank=True)
    shipping_method = models.CharField(max_length=120, blank=True)
    tracking_number = models.CharField(max_length=120)
    ship_date = models.DateTimeField()
    amazon_status = models.CharField(
        max_length=16, choices=AmazonStatus.choices, default=AmazonStatus.PENDING
    )
    amazon_error = models.TextField(blank=True)
    amazon_attempted_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "package_reference_id"], name="shipment_order_package"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.carrier_code} {self.tracking_number}"


class ShipmentLine(models.Model):
    shipment = models.ForeignKey(Shipment, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        SalesOrderLine, on_delete=models.PROTECT, related_name="shipment_lines"
    )
    quantity = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.order_line.seller_sku} × {self.quantity}"


class SellerCancellation(models.Model):
    """The seller cancelled some or all of an unshipped merchant order's lines: stock was
    released here at once; Amazon hears of it through the order acknowledgement feed."""

    class AmazonStatus(models.TextChoices):
        PENDING = "pending", "Waiting to be sent"
        SENDING = "sending", "Being sent"
        SUBMITTED = "submitted", "Being sent"  # in a feed Amazon is processing
        ACCEPTED = "accepted", "Amazon confirmed"
        REJECTED = "rejected", "Amazon rejected"

    # Amazon has not answered yet: the shipments run has work.
    UNSETTLED = (AmazonStatus.PENDING, AmazonStatus.SENDING, AmazonStatus.SUBMITTED)

    order = models.ForeignKey(
        SalesOrder, on_delete=models.PROTECT, related_name="seller_cancellations"
    )
    reason = models.CharField(max_length=64, help_text="Amazon's CancelReason.")
    amazon_status = models.CharField(
        max_length=16, choices=AmazonStatus.choices, default=AmazonStatus.PENDING
    )
    amazon_error = models.TextField(blank=True)
    feed_id = models.CharField(max_length=64, blank=True)
    amazon_attempted_at = models.DateTimeField(null=True, blank=True)
    confirmed_at = models.DateTimeField(null=True, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]
        indexes = [models.Index(fields=["amazon_status"], name="seller_cancel_status")]

    def __str__(self) -> str:
        return f"{self.order_id} {self.reason} ({self.amazon_status})"


class SellerCancellationLine(models.Model):
    cancellation = models.ForeignKey(
        SellerCancellation, on_delete=models.CASCADE, related_name="lines"
    )
    order_line = models.ForeignKey(
        SalesOrderLine, on_delete=models.PROTECT, related_name="seller_cancellation_lines"
    )
    quantity = models.PositiveIntegerField()

    def __str__(self) -> str:
        return f"{self.order_line.seller_sku} × {self.quantity}"


class SalesOrderComment(models.Model):
    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="comments")
    text = models.TextField()
    author = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["created_at", "id"]

    def __str__(self) -> str:
        return self.text[:60]


class SalesReturn(models.Model):
    """Units a buyer sends back, as Amazon's returns reports describe them: a merchant return
    (the flat file's Amazon RMA) or an FBA customer return (one license plate)."""

    class Status(models.TextChoices):
        REQUESTED = "requested", "Requested"
        RECEIVED = "received", "Delivered back"
        RESTOCKED = "restocked", "Received into a warehouse"

    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="returns")
    amazon_return_id = models.CharField(
        max_length=120,
        help_text="Amazon's RMA id (merchant) or the license plate number (FBA).",
    )
    fulfillment_channel = models.CharField(max_length=16, choices=FulfillmentChannel.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.REQUESTED)
    reason = models.CharField(max_length=120, blank=True, help_text="Amazon's return reason.")
    requested_at = models.DateTimeField(null=True, blank=True)
    received_at = models.DateTimeField(
        null=True, blank=True, help_text="Delivered back to the seller, or received by FBA."
    )
    merchant_rma_id = models.CharField(max_length=120, blank=True)
    carrier = models.CharField(max_length=120, blank=True)
    tracking_id = models.CharField(max_length=120, blank=True)
    fulfillment_center_id = models.CharField(max_length=16, blank=True)
    customer_comments = models.TextField(blank=True)
    restocked_into = models.ForeignKey(
        "warehouses.Warehouse",
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
    )
    restocked_at = models.DateTimeField(null=True, blank=True)
    restocked_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["-requested_at", "-id"]
        constraints = [
            # A return is recorded once, however often the reports list it.
            models.UniqueConstraint(
                fields=["order", "amazon_return_id"], name="return_order_amazon_id"
            ),
        ]
        indexes = [
            # The returns list: merchant returns waiting for the seller first.
            models.Index(fields=["status", "fulfillment_channel"], name="return_status"),
        ]

    def __str__(self) -> str:
        return f"Return {self.amazon_return_id} of {self.order_id}"

    @property
    def is_merchant(self) -> bool:
        return self.fulfillment_channel == FulfillmentChannel.MERCHANT


class SalesReturnLine(models.Model):
    class Condition(models.TextChoices):
        SELLABLE = "sellable", "Sellable"
        DAMAGED = "damaged", "Damaged or defective"
        TO_INSPECT = "to_inspect", "To inspect"

    sales_return = models.ForeignKey(SalesReturn, on_delete=models.CASCADE, related_name="lines")
    order_line = models.ForeignKey(
        SalesOrderLine, on_delete=models.PROTECT, related_name="return_lines"
    )
    quantity = models.PositiveIntegerField()
    condition = models.CharField(
        max_length=16, choices=Condition.choices, default=Condition.TO_INSPECT
    )
    disposition = models.CharField(
        max_length=64, blank=True, help_text="Amazon's detailed disposition (FBA)."
    )
    quantity_restocked = models.PositiveIntegerField(default=0)
    quantity_damaged = models.PositiveIntegerField(default=0)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(
                fields=["sales_return", "order_line"], name="return_line_order_line"
            ),
            models.CheckConstraint(
                condition=Q(quantity__gte=1)
                & Q(quantity__gte=F("quantity_restocked") + F("quantity_damaged")),
                name="return_line_quantities",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.order_line_id} × {self.quantity}"


class SalesRefund(models.Model):
    """Money Amazon gave back to a buyer (a Finances ``Refund`` transaction): for a return, or
    a concession (a refund without a return). Amounts are positive: what went back."""

    order = models.ForeignKey(SalesOrder, on_delete=models.CASCADE, related_name="refunds")
    transaction_id = models.CharField(max_length=100, help_text="Amazon's transactionId.")
    refund_id = models.CharField(max_length=100, blank=True)
    sales_return = models.ForeignKey(
        SalesReturn, null=True, blank=True, on_delete=models.SET_NULL, related_name="refunds"
    )
    is_concession = models.BooleanField(
        default=False, help_text="Refunded without units coming back."
    )
    posted_at = models.DateTimeField()
    currency = models.CharField(max_length=3)
    seller_sku = models.CharField(max_length=200, blank=True)
    quantity = models.PositiveIntegerField(default=0)
    principal = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    shipping = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    promotion = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), help_text="Discount taken back."
    )
    tax = models.DecimalField(max_digits=12, decimal_places=2, default=Decimal("0"))
    refunded = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="What the buyer got back."
    )
    fees_returned = models.DecimalField(
        max_digits=12, decimal_places=2, default=Decimal("0"), help_text="Amazon's fees reversed."
    )
    seller_total = models.DecimalField(
        max_digits=12, decimal_places=2, help_text="Amazon's totalAmount: the seller's net."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        ordering = ["posted_at", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["order", "transaction_id"], name="refund_order_transaction"
            ),
        ]

    def __str__(self) -> str:
        return f"Refund {self.refunded} {self.currency} on {self.order_id}"


class SalesRefundTax(models.Model):
    """One tax component a refund reversed (GST, QST, HST…)."""

    refund = models.ForeignKey(SalesRefund, on_delete=models.CASCADE, related_name="taxes")
    tax_name = models.CharField(max_length=64)
    amount = models.DecimalField(max_digits=12, decimal_places=2)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["refund", "tax_name"], name="refund_tax_name"),
        ]

    def __str__(self) -> str:
        return f"{self.tax_name} {self.amount}"


class ApiQuota(models.Model):
    """Our side of one Amazon usage plan: a token bucket per (seller, operation).

    Shared by every worker process through the database, so all of them together stay within
    Amazon's rate; also what the API quota view shows (calls made, throttles met, next call).
    Amazon's usage plans are per seller and application, not per marketplace, so the channels
    of one seller (Amazon.ca, Amazon.com, ...) draw on the same row; ``marketplace_ids`` says
    which of them have.
    """

    seller_id = models.CharField(max_length=64)
    operation = models.CharField(max_length=64)
    marketplace_ids = models.JSONField(
        default=list,
        blank=True,
        help_text="The marketplaces whose channels have called this operation on this bucket.",
    )
    tokens = models.FloatField()
    refilled_at = models.DateTimeField()
    in_flight = models.JSONField(
        default=list,
        blank=True,
        help_text="Send times (Unix microseconds) of calls that may not have reached Amazon yet.",
    )
    next_allowed_at = models.DateTimeField(null=True, blank=True)
    calls = models.PositiveBigIntegerField(default=0)
    throttled = models.PositiveBigIntegerField(
        default=0, help_text="429 answers from Amazon despite our pacing."
    )
    paced = models.PositiveBigIntegerField(
        default=0, help_text="Calls our limiter delayed or deferred to stay within the plan."
    )
    last_call_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(
                fields=["seller_id", "operation"], name="quota_seller_operation"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.seller_id} {self.operation}"


class StockPush(models.Model):
    """The stock-push outbox: one batch of quantities sent to Amazon, kept until Amazon has
    answered for every SKU, so a worker that dies mid-push leaves work the next run finishes."""

    class Method(models.TextChoices):
        FEED = "feed", "JSON_LISTINGS_FEED"
        PATCH = "patch", "patchListingsItem"

    class Status(models.TextChoices):
        PREPARED = "prepared", "Prepared"
        SUBMITTED = "submitted", "Submitted, waiting for Amazon"
        DONE = "done", "Done"
        FAILED = "failed", "Failed"

    channel = models.ForeignKey(SalesChannel, on_delete=models.CASCADE, related_name="stock_pushes")
    run = models.ForeignKey(
        "synchistory.SyncRun", null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    method = models.CharField(max_length=8, choices=Method.choices)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.PREPARED)
    feed_id = models.CharField(max_length=64, blank=True)
    error = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        ordering = ["-created_at", "-id"]
        indexes = [models.Index(fields=["channel", "status"], name="push_channel_status")]

    def __str__(self) -> str:
        return f"{self.get_method_display()} #{self.pk} ({self.status})"


class StockPushLine(models.Model):
    class Outcome(models.TextChoices):
        PENDING = "pending", "Pending"
        ACCEPTED = "accepted", "Accepted"
        REJECTED = "rejected", "Rejected"

    push = models.ForeignKey(StockPush, on_delete=models.CASCADE, related_name="lines")
    listing = models.ForeignKey(Listing, on_delete=models.CASCADE, related_name="push_lines")
    message_id = models.PositiveIntegerField()
    quantity = models.IntegerField()
    # The listing's push_version when the quantity was taken: a newer mark keeps it pending.
    listing_version = models.PositiveBigIntegerField()
    outcome = models.CharField(max_length=16, choices=Outcome.choices, default=Outcome.PENDING)
    reason = models.TextField(blank=True)

    class Meta:
        ordering = ["message_id"]
        constraints = [
            models.UniqueConstraint(fields=["push", "message_id"], name="push_line_message"),
        ]

    def __str__(self) -> str:
        return f"{self.listing_id} → {self.quantity}"


class NotificationSetup(models.Model):
    """A seller's Amazon notifications: the SQS destination Amazon sends to and the
    subscriptions made for it. Per seller, not per channel: Amazon's subscriptions belong to the
    seller and application and serve every marketplace of the authorization."""

    class Status(models.TextChoices):
        ENABLED = "enabled", "On"
        DISABLED = "disabled", "Off"
        FAILED = "failed", "Could not be turned on"

    seller_id = models.CharField("selling partner id", max_length=64)
    status = models.CharField(max_length=16, choices=Status.choices, default=Status.DISABLED)
    status_reason = models.TextField(blank=True, help_text="Why it failed, in Amazon's words.")
    queue_arn = models.CharField("SQS queue ARN", max_length=300, blank=True)
    destination_id = models.CharField(max_length=100, blank=True)
    subscriptions = models.JSONField(
        default=dict, blank=True, help_text="Amazon's subscription id per notification type."
    )
    enabled_at = models.DateTimeField(null=True, blank=True)
    resume_with_channel = models.BooleanField(
        default=False,
        help_text="Turned off because every channel of the seller was disabled: re-enabling "
        "one turns them on again.",
    )
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(Upper("seller_id"), name="notification_setup_seller_ci"),
        ]

    def __str__(self) -> str:
        return f"Notifications of {self.seller_id} ({self.get_status_display()})"


class NotificationMessage(models.Model):
    """One notification Amazon sent, as read from the queue: kept so that a repeat (SQS
    delivers at least once, Amazon may publish twice) is recognised by its id and ignored, and
    so that one that could not be read or applied is kept with its reason."""

    class Status(models.TextChoices):
        APPLIED = "applied", "Applied"
        IGNORED = "ignored", "Ignored"
        FAILED = "failed", "Failed"

    notification_id = models.CharField(max_length=100, help_text="Amazon's NotificationId.")
    notification_type = models.CharField(max_length=64)
    seller_id = models.CharField(max_length=64, blank=True)
    channel = models.ForeignKey(
        SalesChannel,
        null=True,
        blank=True,
        on_delete=models.SET_NULL,
        related_name="notifications",
    )
    subject = models.CharField(
        max_length=200, blank=True, help_text="What it is about: an Amazon order id, a SKU."
    )
    event_time = models.DateTimeField(null=True, blank=True, help_text="Amazon's EventTime.")
    received_at = models.DateTimeField(auto_now_add=True)
    status = models.CharField(max_length=16, choices=Status.choices)
    reason = models.TextField(blank=True, help_text="Why it was ignored or failed.")
    payload = models.JSONField(default=dict, blank=True, help_text="The message as Amazon sent it.")

    class Meta:
        ordering = ["-received_at", "-id"]
        constraints = [
            models.UniqueConstraint(fields=["notification_id"], name="notification_once"),
        ]
        indexes = [
            # Show Details' health and Sync History's list: a channel's recent messages.
            models.Index(F("channel"), F("received_at").desc(), name="notification_channel_recent"),
            models.Index(fields=["seller_id", "received_at"], name="notification_seller_recent"),
        ]

    def __str__(self) -> str:
        return f"{self.notification_type} {self.notification_id} ({self.status})"


# The North-American marketplaces one authorization can cover (Amazon's marketplace ids).
MARKETPLACES: dict[str, MarketplaceInfo] = {
    info.code: info
    for info in (
        MarketplaceInfo(
            SalesChannel.Marketplace.AMAZON_CA, AMAZON_CA_MARKETPLACE_ID, "Amazon.ca", "CAD", "CA"
        ),
        MarketplaceInfo(
            SalesChannel.Marketplace.AMAZON_COM,
            AMAZON_COM_MARKETPLACE_ID,
            "Amazon.com",
            "USD",
            "US",
        ),
        MarketplaceInfo(
            SalesChannel.Marketplace.AMAZON_COM_MX,
            AMAZON_COM_MX_MARKETPLACE_ID,
            "Amazon.com.mx",
            "MXN",
            "MX",
        ),
    )
}


def marketplace_by_id(marketplace_id: str) -> MarketplaceInfo | None:
    return next((m for m in MARKETPLACES.values() if m.marketplace_id == marketplace_id), None)
