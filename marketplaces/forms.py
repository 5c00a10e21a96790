"""Forms of the marketplace settings pages: parse and validate input, nothing else."""

from __future__ import annotations

from datetime import date, datetime, time, timedelta
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils import timezone

from inventory_sync.generics import generic
from marketplaces.cancellations import CANCEL_REASONS, CancellationRequest
from marketplaces.models import SalesChannel, SalesOrder, SalesOrderLine, SalesReturn
from marketplaces.shipments import CARRIERS, ShipmentRequest
from synchistory.models import SyncRun
from warehouses.models import Item, Organization, Warehouse

# Amazon keeps orders for two years; a window starting earlier cannot be fetched.
AMAZON_HISTORY_DAYS = 730
# The dates a filter may name. Amazon.ca opened in 2002, so no order is older than the first;
# the last keeps a day's arithmetic (the end of the last day) inside the calendar, which ends
# on 9999-12-31.
EARLIEST_FILTER_DATE = date(2000, 1, 1)
LATEST_FILTER_DATE = date(2099, 12, 31)

if TYPE_CHECKING:
    from django.forms import ModelForm
else:
    ModelForm = generic(forms.ModelForm)


class ConnectTokenForm(forms.Form):
    """The second way to connect: an admin pastes a self-authorized refresh token."""

    name = forms.CharField(max_length=120, initial="Amazon.ca", label="Channel name")
    seller_id = forms.CharField(
        max_length=64,
        label="Seller id",
        help_text="Your merchant token (selling partner id), e.g. A3ABCDEFGHIJKL.",
    )
    refresh_token = forms.CharField(
        label="Refresh token",
        widget=forms.PasswordInput(attrs={"autocomplete": "off"}),
        help_text="Starts with Atzr|. Stored encrypted, never shown again.",
    )
    lookback_days = forms.IntegerField(
        label="Import orders of the last (days)",
        min_value=1,
        max_value=AMAZON_HISTORY_DAYS,
        initial=7,
        help_text="The initial sync imports orders this far back (at most 730 days).",
    )


class IntervalForm(ModelForm[SalesChannel]):
    class Meta:
        model = SalesChannel
        fields = ["sync_interval_minutes"]
        labels = {"sync_interval_minutes": "Sync every (minutes)"}
        help_texts = {"sync_interval_minutes": "Between 5 and 1440 minutes (one day)."}

    def clean_sync_interval_minutes(self) -> int:
        value: int = self.cleaned_data["sync_interval_minutes"]
        if not 5 <= value <= 1440:
            raise forms.ValidationError("Enter a number of minutes between 5 and 1440.")
        return value


class ModulesForm(ModelForm[SalesChannel]):
    class Meta:
        model = SalesChannel
        fields = [
            "sync_items",
            "sync_orders",
            "sync_stock",
            "sync_shipments",
            "sync_returns",
            "restock_returns_automatically",
        ]
        labels = {
            "sync_items": "Items",
            "sync_orders": "Sales orders",
            "sync_stock": "Stock",
            "sync_shipments": "Shipments",
            "sync_returns": "Returns and refunds",
            "restock_returns_automatically": "Restock sellable returns when Amazon reports "
            "them received",
        }


class StockLimitsForm(ModelForm[SalesChannel]):
    class Meta:
        model = SalesChannel
        fields = ["safety_buffer", "max_quantity"]
        labels = {"safety_buffer": "Safety buffer", "max_quantity": "Maximum quantity"}
        help_texts = {
            "safety_buffer": "Units held back from the quantity sent to Amazon.",
            "max_quantity": "Never tell Amazon more than this. Leave empty for no maximum.",
        }
        widgets = {
            "safety_buffer": forms.NumberInput(attrs={"min": 0, "step": 1}),
            "max_quantity": forms.NumberInput(attrs={"min": 0, "step": 1}),
        }


class WarehouseMappingForm(forms.Form):
    warehouse = forms.ModelChoiceField(
        queryset=Warehouse.objects.filter(is_active=True, amazon_pool=""),
        required=False,
        empty_label="No mapping (primary warehouse)",
        label="Warehouse",
    )


class OrderPreferenceForm(ModelForm[Organization]):
    class Meta:
        model = Organization
        fields = ["order_sync_preference"]
        labels = {"order_sync_preference": "Order sync preference"}
        help_texts = {"order_sync_preference": "Applies to all sales channels."}
        widgets = {"order_sync_preference": forms.RadioSelect}


class NotificationsForm(forms.Form):
    """Show Details' Turn on / Turn off of the seller's Amazon notifications."""

    notifications = forms.ChoiceField(choices=[("on", "Turn on"), ("off", "Turn off")])


class AddMarketplaceForm(forms.Form):
    marketplace = forms.ChoiceField(
        choices=[
            (code, SalesChannel.Marketplace(code).label) for code in SalesChannel.Marketplace.values
        ]
    )


class ManualSyncForm(forms.Form):
    SINCE_LAST_SYNC = "since_last_sync"
    SPECIFIC_PERIOD = "specific_period"

    kind = forms.ChoiceField(
        label="Sync",
        choices=[
            (SyncRun.Kind.ITEMS, "Items"),
            (SyncRun.Kind.ORDERS, "Orders"),
            (SyncRun.Kind.RETURNS, "Returns and refunds"),
        ],
        initial=SyncRun.Kind.ORDERS,
        widget=forms.RadioSelect,
    )
    fetch_from = forms.ChoiceField(
        label="Fetch records from",
        choices=[(SINCE_LAST_SYNC, "Since last sync"), (SPECIFIC_PERIOD, "Specific Period")],
        initial=SINCE_LAST_SYNC,
        widget=forms.RadioSelect,
    )
    start_date = forms.DateField(
        label="Start Date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    end_date = forms.DateField(
        label="End Date", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("fetch_from") != self.SPECIFIC_PERIOD:
            data["start_date"] = data["end_date"] = None
            return data
        start: date | None = data.get("start_date")
        end: date | None = data.get("end_date")
        today = timezone.localdate()
        for field, value in (("start_date", start), ("end_date", end)):
            if value is None:
                if field not in self.errors:
                    self.add_error(field, "Enter a date for a specific period.")
            elif value > today:
                self.add_error(field, "This date is in the future.")
        if start is not None and start < today - timedelta(days=AMAZON_HISTORY_DAYS):
            self.add_error(
                "start_date",
                "Amazon keeps two years of orders: choose a start date within the last "
                f"{AMAZON_HISTORY_DAYS} days.",
            )
        if start is not None and end is not None and end < start:
            self.add_error("end_date", "The end date is before the start date.")
        return data

    def window(self) -> tuple[datetime | None, datetime | None]:
        """Local dates to instants: from the start of the start date to the end of the end
        date; an end date of today means "until now" (None)."""
        start: date | None = self.cleaned_data.get("start_date")
        end: date | None = self.cleaned_data.get("end_date")
        if start is None:
            return None, None
        window_start = timezone.make_aware(datetime.combine(start, time.min))
        window_end = None
        if end is not None and end < timezone.localdate():
            window_end = timezone.make_aware(datetime.combine(end, time.max))
        return window_start, window_end


class LinkItemForm(forms.Form):
    target = forms.ModelChoiceField(
        queryset=Item.objects.filter(status=Item.Status.CONFIRMED).order_by("sku"),
        label="Existing item",
        empty_label="Choose an item…",
    )


class ReceiveReturnForm(forms.Form):
    """A merchant return back at the seller's: the warehouse it goes into and, per line, how
    many units are sellable (the others are damaged and stay out of stock)."""

    warehouse = forms.ModelChoiceField(
        label="Receive into",
        queryset=Warehouse.objects.filter(is_active=True, amazon_pool="").order_by("name"),
        empty_label=None,
    )

    def __init__(self, *args: Any, sales_return: SalesReturn, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line_fields: list[tuple[int, str]] = []
        for line in sales_return.lines.select_related("order_line"):
            name = f"sellable_{line.id}"
            self.fields[name] = forms.IntegerField(
                label=f"{line.order_line.seller_sku}: sellable of {line.quantity}",
                min_value=0,
                max_value=line.quantity,
                # Presumed sellable unless Amazon's reason says the unit is faulty.
                initial=line.quantity if line.condition == "sellable" else 0,
            )
            self.line_fields.append((line.id, name))
        self.fields["warehouse"].initial = sales_return.order.warehouse_id

    def sellable(self) -> dict[int, int]:
        return {line_id: self.cleaned_data[name] for line_id, name in self.line_fields}


class ShipmentForm(forms.Form):
    """A package of a sales order: carrier, tracking, date, and units per line."""

    carrier_code = forms.ChoiceField(
        label="Carrier", choices=[("", "Choose a carrier…"), *CARRIERS]
    )
    carrier_name = forms.CharField(
        label="Carrier name",
        required=False,
        max_length=120,
        help_text="Only when the carrier is “Other”.",
    )
    tracking_number = forms.CharField(label="Tracking number", max_length=120)
    ship_date = forms.DateField(label="Ship date", widget=forms.DateInput(attrs={"type": "date"}))

    def __init__(self, *args: Any, order: SalesOrder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.order = order
        self.line_fields: list[tuple[SalesOrderLine, str]] = []
        for line in order.lines.all():
            remaining = line.quantity_open
            name = f"line_{line.id}"
            self.fields[name] = forms.IntegerField(
                label=f"{line.seller_sku} ({remaining} left to ship)",
                min_value=0,
                max_value=remaining,
                initial=remaining,
                required=False,
            )
            self.line_fields.append((line, name))
        if not self.is_bound:
            self.initial.setdefault("ship_date", timezone.localdate())

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        if data.get("carrier_code") == "Other" and not (data.get("carrier_name") or "").strip():
            self.add_error("carrier_name", "Name the carrier when it is “Other”.")
        ship_date = data.get("ship_date")
        if ship_date is not None and ship_date > timezone.localdate():
            self.add_error("ship_date", "The ship date cannot be in the future.")
        if not any((data.get(name) or 0) > 0 for _, name in self.line_fields):
            raise forms.ValidationError("Put at least one unit in the package.")
        return data

    def to_request(self) -> ShipmentRequest:
        data = self.cleaned_data
        ship_date = data["ship_date"]
        moment = (
            timezone.now()
            if ship_date == timezone.localdate()
            else timezone.make_aware(datetime.combine(ship_date, time(12, 0)))
        )
        return ShipmentRequest(
            carrier_code=data["carrier_code"],
            carrier_name=data.get("carrier_name", "").strip(),
            tracking_number=data["tracking_number"].strip(),
            ship_date=moment,
            quantities={line.id: data.get(name) or 0 for line, name in self.line_fields},
        )


class ShipmentRetryForm(forms.Form):
    """Send a confirmation Amazon rejected again, with a corrected tracking number if given."""

    tracking_number = forms.CharField(label="Tracking number", max_length=120, required=False)


SHIP_FILTERS = [
    ("to_ship", "To ship"),
    ("late", "Late"),
    ("due_today", "Due today"),
]


class CancelOrderForm(forms.Form):
    """The seller cancels an order's lines, with Amazon's reason. Each line starts at all its
    units left to ship (Amazon cancels a line's open units together); 0 keeps a line."""

    reason = forms.ChoiceField(
        label="Reason (sent to Amazon)", choices=[("", "Choose a reason…"), *CANCEL_REASONS]
    )

    def __init__(self, *args: Any, order: SalesOrder, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.line_fields: list[tuple[SalesOrderLine, str]] = []
        for line in order.lines.all():
            if line.quantity_open <= 0:
                continue
            name = f"line_{line.id}"
            # No max_value: the service says why a larger number cannot be cancelled.
            self.fields[name] = forms.IntegerField(
                label=f"{line.seller_sku} ({line.quantity_open} left to ship)",
                min_value=0,
                max_value=2_147_483_647,
                initial=line.quantity_open,
                required=False,
            )
            self.line_fields.append((line, name))

    def to_request(self) -> CancellationRequest:
        data = self.cleaned_data
        return CancellationRequest(
            reason=data["reason"],
            quantities={line.id: data.get(name) or 0 for line, name in self.line_fields},
        )


class SalesOrderFilterForm(forms.Form):
    """The Sales Orders list's filters; every field optional."""

    status = forms.ChoiceField(
        label="Status",
        required=False,
        choices=[("", "All statuses"), *SalesOrder.Status.choices],
    )
    channel = forms.ModelChoiceField(
        label="Channel",
        required=False,
        queryset=SalesChannel.objects.order_by("name", "id"),
        empty_label="All channels",
    )
    ship = forms.ChoiceField(
        label="To ship",
        required=False,
        choices=[("", "Any"), *SHIP_FILTERS],
        help_text="Merchant-fulfilled orders still to ship, by Amazon's ship-by date.",
    )
    cancel_request = forms.BooleanField(
        label="Buyer asked to cancel",
        required=False,
        help_text="Orders whose buyer asked Amazon to cancel, waiting for you to act.",
    )
    q = forms.CharField(
        label="Search",
        required=False,
        max_length=200,
        widget=forms.TextInput(attrs={"type": "search", "placeholder": "Amazon order id or SKU"}),
    )
    purchased_from = forms.DateField(
        label="Purchased from", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )
    purchased_to = forms.DateField(
        label="Purchased to", required=False, widget=forms.DateInput(attrs={"type": "date"})
    )

    def clean_q(self) -> str:
        text: str = self.cleaned_data["q"].strip()
        if "\x00" in text:
            raise forms.ValidationError("Enter a search without a null character.")
        return text

    def clean(self) -> dict[str, Any]:
        data = super().clean() or {}
        for name in ("purchased_from", "purchased_to"):
            value = data.get(name)
            if value is not None and not EARLIEST_FILTER_DATE <= value <= LATEST_FILTER_DATE:
                self.add_error(
                    name,
                    f"Enter a date from {EARLIEST_FILTER_DATE:%Y-%m-%d} to "
                    f"{LATEST_FILTER_DATE:%Y-%m-%d}.",
                )
        start, end = data.get("purchased_from"), data.get("purchased_to")
        if start is not None and end is not None and end < start:
            self.add_error("purchased_to", "The end date is before the start date.")
        return data
