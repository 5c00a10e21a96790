from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms

from inventory_sync.generics import generic
from warehouses.bank_of_canada import SERIES
from warehouses.models import Item, Organization, Warehouse
from warehouses.stock import MAX_UNITS_PER_CHANGE

if TYPE_CHECKING:
    from django.forms import ModelForm
else:
    ModelForm = generic(forms.ModelForm)


class OrganizationForm(ModelForm[Organization]):
    class Meta:
        model = Organization
        fields = [
            "name",
            "base_currency",
            "taxes_enabled",
            "multi_warehouse_enabled",
            "primary_warehouse",
            "order_sync_preference",
            "language",
        ]
        help_texts = {
            "order_sync_preference": "Applies to all sales channels.",
            "multi_warehouse_enabled": "Needed to map a warehouse to a sales channel.",
        }

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        primary = self.fields["primary_warehouse"]
        assert isinstance(primary, forms.ModelChoiceField)
        primary.queryset = Warehouse.objects.filter(is_active=True, amazon_pool="")
        primary.required = True

    def clean_base_currency(self) -> str:
        value: str = self.cleaned_data["base_currency"].strip().upper()
        if not re.fullmatch(r"[A-Z]{3}", value):
            raise forms.ValidationError("Enter a three-letter ISO 4217 code, such as CAD.")
        return value


class WarehouseForm(ModelForm[Warehouse]):
    class Meta:
        model = Warehouse
        fields = ["name", "address", "is_active"]
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}
        labels = {"is_active": "Active"}

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError("Enter a name.")
        return name


class ReorderPointForm(ModelForm[Item]):
    class Meta:
        model = Item
        fields = ["reorder_point"]
        widgets = {"reorder_point": forms.NumberInput(attrs={"min": 0, "step": 1})}
        help_texts = {
            "reorder_point": "The home page lists the item when its available units fall to "
            "this or below. Empty: only when it is out of stock."
        }

    def clean_reorder_point(self) -> int | None:
        point: int | None = self.cleaned_data["reorder_point"]
        if point is not None and point > MAX_UNITS_PER_CHANGE:
            raise forms.ValidationError(f"Enter a number from 0 to {MAX_UNITS_PER_CHANGE}.")
        return point


class StockAdjustmentForm(forms.Form):
    warehouse = forms.ModelChoiceField(
        queryset=Warehouse.objects.filter(is_active=True, amazon_pool=""), empty_label=None
    )
    quantity_change = forms.IntegerField(
        help_text="Positive adds units, negative removes them.",
        widget=forms.NumberInput(
            attrs={"step": 1, "min": -MAX_UNITS_PER_CHANGE, "max": MAX_UNITS_PER_CHANGE}
        ),
    )
    reason = forms.CharField(
        max_length=500, help_text="For example: stock count, damaged, found in the back room."
    )

    def clean_quantity_change(self) -> int:
        change: int = self.cleaned_data["quantity_change"]
        if abs(change) > MAX_UNITS_PER_CHANGE:
            raise forms.ValidationError(
                f"Enter a change from {-MAX_UNITS_PER_CHANGE} to {MAX_UNITS_PER_CHANGE} units."
            )
        if change == 0:
            raise forms.ValidationError("Enter a quantity other than zero.")
        return change


class ExchangeRateForm(forms.Form):
    """An admin's rate for one currency and day (Settings › Exchange rates)."""

    currency = forms.ChoiceField(choices=[(code, code) for code in SERIES])
    date = forms.DateField(widget=forms.DateInput(attrs={"type": "date"}))
    rate = forms.DecimalField(
        max_digits=18,
        decimal_places=8,
        widget=forms.NumberInput(attrs={"step": "any"}),
        help_text="CAD for one unit of the currency, e.g. 1.3921 for USD.",
    )

    def clean_rate(self) -> Decimal:
        rate: Decimal = self.cleaned_data["rate"]
        if rate <= 0:
            raise forms.ValidationError("Enter a rate above zero.")
        return rate
