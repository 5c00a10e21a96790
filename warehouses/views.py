from __future__ import annotations

from typing import Any

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Q, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils.translation import gettext as _
from django.views.decorators.http import require_http_methods, require_POST

from accounts.models import User
from accounts.permissions import admin_required, is_org_admin
from inventory_sync.paging import MAX_PAGE, choice_param, int_param, text_param
from inventory_sync.settings_forms import save_settings_form
from warehouses import attention, services, stock
from warehouses.forms import (
    OrganizationForm,
    ReorderPointForm,
    StockAdjustmentForm,
    WarehouseForm,
)
from warehouses.models import Item, Organization, Stock, Warehouse

ITEMS_PER_PAGE = 50
ATTENTION_FILTERS = {"low_stock": "Low stock", "drift": "Amazon quantity drifted"}
MOVEMENTS_PER_PAGE = 25


@require_http_methods(["GET", "POST"])
def organization_settings(request: HttpRequest) -> HttpResponse:
    organization = Organization.load()
    if request.method != "POST":
        form = OrganizationForm(instance=organization)
        return render(request, "warehouses/organization_settings.html", {"form": form})
    if not is_org_admin(request.user):
        raise PermissionDenied("Only an admin may change the organization settings.")
    form = OrganizationForm(request.POST, instance=organization)

    def save(data: dict[str, Any]) -> str:
        services.save_organization(form.instance, actor=request)
        return "Organization settings saved."

    return save_settings_form(
        request,
        form,
        save,
        success_url=reverse("organization-settings"),
        invalid=lambda: render(request, "warehouses/organization_settings.html", {"form": form}),
    )


@require_http_methods(["GET"])
def warehouse_list(request: HttpRequest) -> HttpResponse:
    warehouses = Warehouse.objects.annotate(
        on_hand=Sum("stocks__on_hand"), committed=Sum("stocks__committed")
    )
    return render(
        request,
        "warehouses/warehouse_list.html",
        {"warehouses": warehouses, "organization": Organization.load()},
    )


def _warehouse_form(request: HttpRequest, warehouse: Warehouse | None) -> HttpResponse:
    form = WarehouseForm(request.POST or None, instance=warehouse)

    def page() -> HttpResponse:
        return render(
            request, "warehouses/warehouse_form.html", {"form": form, "warehouse": warehouse}
        )

    if request.method != "POST":
        return page()

    def save(data: dict[str, Any]) -> str:
        saved = services.save_warehouse(form.instance, actor=request)
        return f"Warehouse “{saved.name}” saved."

    return save_settings_form(
        request, form, save, success_url=reverse("warehouse-list"), invalid=page
    )


@require_http_methods(["GET", "POST"])
@admin_required
def warehouse_create(request: HttpRequest) -> HttpResponse:
    return _warehouse_form(request, None)


@require_http_methods(["GET", "POST"])
@admin_required
def warehouse_edit(request: HttpRequest, warehouse_id: int) -> HttpResponse:
    return _warehouse_form(request, get_object_or_404(Warehouse, id=warehouse_id))


@require_POST
@admin_required
def warehouse_make_primary(request: HttpRequest, warehouse_id: int) -> HttpResponse:
    warehouse = get_object_or_404(Warehouse, id=warehouse_id)
    try:
        services.set_primary_warehouse(warehouse, actor=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, _("“%(name)s” is now the primary warehouse.") % {"name": warehouse.name}
        )
    return redirect("warehouse-list")


# With more active warehouses than this the list shows one compact "Toronto 5 · Montréal 2"
# cell instead of a column each, so the table still fits.
MAX_WAREHOUSE_COLUMNS = 4


@require_http_methods(["GET"])
def item_list(request: HttpRequest) -> HttpResponse:
    """Items with stock per active warehouse and available; the unconfirmed queue is a tab.

    A constant number of queries per page: the page's items, their stock rows in one query,
    the warehouses in one query.
    """
    # Paginate the bare items (the unique SKU index pages them and counts them cheaply); the
    # totals are summed in Python from the page's stock rows, read once below. Summing in SQL
    # first grouped every item of the catalogue on every page view.
    items = Item.objects.order_by("sku")
    query = text_param(request, "q")
    if query:
        items = items.filter(Q(sku__icontains=query) | Q(name__icontains=query))
    status = choice_param(request, "status", Item.Status.values)
    if status:
        items = items.filter(status=status)
    # The home page's "needs attention" links: out of stock or at the reorder point, drifted.
    attention_filter = choice_param(request, "attention", ATTENTION_FILTERS)
    if attention_filter == "low_stock":
        items = items.filter(id__in=attention.low_stock_items().values("id"))
    elif attention_filter == "drift":
        items = items.filter(id__in=attention.drifted_items().values("id"))
    page = Paginator(items, ITEMS_PER_PAGE).get_page(int_param(request, "page", maximum=MAX_PAGE))
    warehouses = list(Warehouse.objects.filter(is_active=True).order_by("name"))
    stocks_by_item: dict[int, dict[int, Stock]] = {}
    for row in Stock.objects.filter(
        item_id__in=[item.id for item in page], warehouse__is_active=True
    ):
        stocks_by_item.setdefault(row.item_id, {})[row.warehouse_id] = row
    amazon_ids = {warehouse.id for warehouse in warehouses if warehouse.is_amazon}
    rows = []
    for item in page:
        stocks = stocks_by_item.get(item.id, {})
        # Totals over the seller's own active warehouses, as the item page and the stock pushed
        # to Amazon; Amazon's FBA stock has its column, and Amazon sells it.
        own = [row for warehouse_id, row in stocks.items() if warehouse_id not in amazon_ids]
        item.on_hand = sum(row.on_hand for row in own)  # type: ignore[attr-defined]
        item.committed = sum(row.committed for row in own)  # type: ignore[attr-defined]
        item.available = item.on_hand - item.committed  # type: ignore[attr-defined]
        rows.append(
            {
                "item": item,
                "per_warehouse": [
                    (warehouse, stocks.get(warehouse.id)) for warehouse in warehouses
                ],
            }
        )
    return render(
        request,
        "warehouses/item_list.html",
        {
            "page": page,
            "rows": rows,
            "warehouses": warehouses,
            "warehouse_columns": len(warehouses) <= MAX_WAREHOUSE_COLUMNS,
            "query": query,
            "status": status,
            "statuses": Item.Status.choices,
            "attention": attention_filter,
            "attention_filters": list(ATTENTION_FILTERS.items()),
            "unconfirmed_count": Item.objects.filter(status=Item.Status.UNCONFIRMED).count(),
        },
    )


@require_http_methods(["GET"])
def item_detail(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(Item, id=item_id)
    form = StockAdjustmentForm(initial={"warehouse": Organization.load().primary_warehouse_id})
    return _render_item_detail(request, item, form)


@require_POST
@admin_required
def item_adjust(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(Item, id=item_id)
    form = StockAdjustmentForm(request.POST)
    if form.is_valid():
        warehouse = form.cleaned_data["warehouse"]
        change = form.cleaned_data["quantity_change"]
        assert isinstance(request.user, User)  # admin_required let only a logged-in admin in
        try:
            movement = stock.adjust_stock(
                item, warehouse, change, note=form.cleaned_data["reason"], user=request.user
            )
        except ValidationError as error:
            form.add_error("quantity_change", error)
        else:
            messages.success(
                request,
                _("Stock of %(sku)s in %(warehouse)s adjusted by %(change)+d: %(on_hand)d on hand.")
                % {
                    "sku": item.sku,
                    "warehouse": warehouse.name,
                    "change": change,
                    "on_hand": movement.on_hand_after,
                },
            )
            return redirect("item-detail", item_id=item.id)
    return _render_item_detail(request, item, form)


@require_POST
@admin_required
def item_reorder_point(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(Item, id=item_id)
    form = ReorderPointForm(request.POST, instance=item)
    if form.is_valid():
        form.save()
        point = form.cleaned_data["reorder_point"]
        messages.success(
            request,
            _("Reorder point of %(sku)s set to %(point)d.") % {"sku": item.sku, "point": point}
            if point is not None
            else _("%(sku)s has no reorder point now.") % {"sku": item.sku},
        )
        return redirect("item-detail", item_id=item.id)
    item.refresh_from_db()
    return _render_item_detail(
        request,
        item,
        StockAdjustmentForm(initial={"warehouse": Organization.load().primary_warehouse_id}),
        reorder_form=form,
    )


def _render_item_detail(
    request: HttpRequest,
    item: Item,
    form: StockAdjustmentForm,
    reorder_form: ReorderPointForm | None = None,
) -> HttpResponse:
    stocks = list(item.stocks.select_related("warehouse").order_by("warehouse__name"))
    # Inactive warehouses' units are neither sold nor pushed to Amazon: not in the totals; nor
    # are Amazon's FBA units, which Amazon sells (their rows show Amazon's counts).
    counted = [row for row in stocks if row.warehouse.is_active and not row.warehouse.is_amazon]
    movements = item.movements.select_related("warehouse", "created_by")
    return render(
        request,
        "warehouses/item_detail.html",
        {
            "item": item,
            "stocks": stocks,
            "totals": {
                "on_hand": sum(row.on_hand for row in counted),
                "committed": sum(row.committed for row in counted),
                "available": sum(row.available for row in counted),
            },
            "has_inactive_stock": any(not row.warehouse.is_active for row in stocks),
            "has_amazon_stock": any(row.warehouse.is_amazon for row in stocks),
            # Listings belong to marketplaces; reached through the reverse relation so the
            # inventory imports nothing of the marketplaces app.
            "listings": item.listings.select_related("channel").order_by(
                "channel__name", "seller_sku"
            ),
            "page": Paginator(movements, MOVEMENTS_PER_PAGE).get_page(
                int_param(request, "page", maximum=MAX_PAGE)
            ),
            "form": form,
            "reorder_form": reorder_form or ReorderPointForm(instance=item),
        },
    )
