from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views.decorators.http import require_GET

from marketplaces.models import SalesChannel, SalesOrder
from warehouses.models import Item, Organization, Warehouse


@require_GET
def home(request: HttpRequest) -> HttpResponse:
    context = {
        "organization": Organization.load(),
        "item_count": Item.objects.filter(status=Item.Status.CONFIRMED).count(),
        "unconfirmed_count": Item.objects.filter(status=Item.Status.UNCONFIRMED).count(),
        "order_count": SalesOrder.objects.count(),
        "warehouse_count": Warehouse.objects.filter(is_active=True).count(),
        "channels": SalesChannel.objects.all(),
    }
    return render(request, "home.html", context)


@login_not_required
@require_GET
def healthz(request: HttpRequest) -> HttpResponse:
    """For load balancers and compose health checks: the process serves and the database answers."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT 1")
    return HttpResponse("ok", content_type="text/plain")
