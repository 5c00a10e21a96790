from __future__ import annotations

from django.contrib.auth.decorators import login_not_required
from django.core.exceptions import BadRequest
from django.db import connection
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.views import defaults
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


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """The 400 page (``handler400``). A ``BadRequest`` comes from the product's own parsing of a
    query string (inventory_sync.paging), whose message says which parameter is wrong; Django's
    other 400s (a suspicious host, say) keep Django's plain page, which says nothing."""
    if isinstance(exception, BadRequest):
        return render(request, "400.html", {"reason": str(exception)}, status=400)
    return defaults.bad_request(request, exception)
