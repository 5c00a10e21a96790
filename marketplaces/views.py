from __future__ import annotations

from django.core.paginator import Paginator
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from marketplaces.models import SalesChannel, SalesOrder

ORDERS_PER_PAGE = 50


@require_GET
def marketplace_list(request: HttpRequest) -> HttpResponse:
    channels = SalesChannel.objects.select_related("mapped_warehouse")
    connected = {channel.marketplace for channel in channels}
    unconnected = [
        (value, label)
        for value, label in SalesChannel.Marketplace.choices
        if value not in connected
    ]
    return render(
        request,
        "marketplaces/marketplace_list.html",
        {"channels": channels, "unconnected": unconnected},
    )


@require_GET
def sales_order_list(request: HttpRequest) -> HttpResponse:
    orders = SalesOrder.objects.select_related("channel", "warehouse").defer(
        "buyer_name", "buyer_email", "buyer_phone", "shipping_address"
    )
    status = request.GET.get("status", "")
    if status in SalesOrder.Status.values:
        orders = orders.filter(status=status)
    page = Paginator(orders, ORDERS_PER_PAGE).get_page(request.GET.get("page"))
    return render(
        request,
        "marketplaces/sales_order_list.html",
        {"page": page, "status": status, "statuses": SalesOrder.Status.choices},
    )
