from __future__ import annotations

import re
from decimal import Decimal
from typing import TYPE_CHECKING, Any

from django import forms
from django.utils.translation import gettext_lazy as _

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
        labels = {
            "name": _("Name"),
            "base_currency": _("Base currency"),
            "taxes_enabled": _("Taxes enabled"),
            "multi_warehouse_enabled": _("Multi-warehouse"),
            "primary_warehouse": _("Primary warehouse"),
            "order_sync_preference": _("Order sync preference"),
            "language": _("Language"),
        }
        help_texts = {
            "base_currency": _("ISO 4217 code. Amazon.ca needs CAD."),
            "order_sync_preference": _("Applies to all sales channels."),
            "multi_warehouse_enabled": _("Needed to map a warehouse to a sales channel."),
            "language": _("For users who chose none and whose browser asks for neither language."),
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
            raise forms.ValidationError(_("Enter a three-letter ISO 4217 code, such as CAD."))
        return value


class WarehouseForm(ModelForm[Warehouse]):
    class Meta:
        model = Warehouse
        fields = ["name", "address", "is_active"]
        widgets = {"address": forms.Textarea(attrs={"rows": 3})}
        labels = {"name": _("Name"), "address": _("Address"), "is_active": _("Active")}

    def clean_name(self) -> str:
        name: str = self.cleaned_data["name"].strip()
        if not name:
            raise forms.ValidationError(_("Enter a name."))
        return name


class ReorderPointForm(ModelForm[Item]):
    class Meta:
        model = Item
        fields = ["reorder_point"]
        widgets = {"reorder_point": forms.NumberInput(attrs={"min": 0, "step": 1})}
        labels = {"reorder_point": _("Reorder point")}
        help_texts = {
            "reorder_point": _(
                "The home page lists the item when its available units fall to this or "
                "below. Empty: only when it is out of stock."
            )
        }

    def clean_reorder_point(self) -> int | None:
        point: int | None = self.cleaned_data["reorder_point"]
        if point is not None and point > MAX_UNITS_PER_CHANGE:
            raise forms.ValidationError(
                _("Enter a number from 0 to %(most)d.") % {"most": MAX_UNITS_PER_CHANGE}
            )
        return point


class StockAdjustmentForm(forms.Form):
    warehouse = forms.ModelChoiceField(
        label=_("Warehouse"),
        queryset=Warehouse.objects.filter(is_active=True, amazon_pool=""),
        empty_label=None,
    )
    quantity_change = forms.IntegerField(
        label=_("Quantity change"),
        help_text=_("Positive adds units, negative removes them."),
        widget=forms.NumberInput(
            attrs={"step": 1, "min": -MAX_UNITS_PER_CHANGE, "max": MAX_UNITS_PER_CHANGE}
        ),
    )
    reason = forms.CharField(
        label=_("Reason"),
        max_length=500,
        help_text=_("For example: stock count, damaged, found in the back room."),
    )

    def clean_quantity_change(self) -> int:
        change: int = self.cleaned_data["quantity_change"]
        if abs(change) > MAX_UNITS_PER_CHANGE:
            raise forms.ValidationError(
                _("Enter a change from %(least)d to %(most)d units.")
                % {"least": -MAX_UNITS_PER_CHANGE, "most": MAX_UNITS_PER_CHANGE}
            )
        if change == 0:
            raise forms.ValidationError(_("Enter a quantity other than zero."))
        return change


class ExchangeRateForm(forms.Form):
    """An admin's rate for one currency and day (Settings › Exchange rates)."""

    currency = forms.ChoiceField(label=_("Currency"), choices=[(code, code) for code in SERIES])
    date = forms.DateField(label=_("Date"), widget=forms.DateInput(attrs={"type": "date"}))
    rate = forms.DecimalField(
        label=_("Rate"),
        max_digits=18,
        decimal_places=8,
        widget=forms.NumberInput(attrs={"step": "any"}),
        help_text=_("CAD for one unit of the currency, e.g. 1.3921 for USD."),
    )

    def clean_rate(self) -> Decimal:
        rate: Decimal = self.cleaned_data["rate"]
        if rate <= 0:
            raise forms.ValidationError(_("Enter a rate above zero."))
        return rate
