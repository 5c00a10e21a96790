"""Settings > Integrations > Marketplaces: connect, Show Details, Sync Manually, re-initiate;
and the sales order pages. Views parse input, check permissions, call one service, render."""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from django import forms as django_forms
from django.conf import settings
from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Prefetch, Sum
from django.http import HttpRequest, HttpResponse
from django.shortcuts import get_object_or_404, redirect, render
from django.urls import reverse
from django.utils import timezone
from django.views.decorators.http import require_GET, require_http_methods, require_POST

from accounts import audit
from accounts.models import User
from accounts.permissions import admin_required, is_org_admin
from inventory_sync.forms import safe_next
from inventory_sync.paging import int_param
from inventory_sync.settings_forms import save_settings_form
from marketplaces import (
    buyer_data,
    cancellations,
    channel_settings,
    connect,
    items,
    jobs,
    notifications,
    privacy,
    queries,
    returns,
    services,
    shipments,
)
from marketplaces.amazon import drift
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.errors import AmazonError
from marketplaces.amazon.order_sync import estimate_orders, order_window
from marketplaces.amazon.return_sync import estimate_refunds, returns_window
from marketplaces.forms import (
    SHIP_FILTERS,
    AddMarketplaceForm,
    CancelOrderForm,
    ConnectTokenForm,
    IntervalForm,
    LinkItemForm,
    ManualSyncForm,
    ModulesForm,
    NotificationsForm,
    OrderPreferenceForm,
    ReceiveReturnForm,
    SalesOrderFilterForm,
    ShipmentForm,
    ShipmentRetryForm,
    StockLimitsForm,
    WarehouseMappingForm,
)
from marketplaces.models import (
    Listing,
    NotificationSetup,
    SalesChannel,
    SalesOrder,
    SalesOrderTax,
    SalesReturn,
    SalesReturnLine,
    Shipment,
)
from synchistory.models import SyncRun
from warehouses import currency
from warehouses import exchange_rates as exchange_rates_service
from warehouses.forms import ExchangeRateForm
from warehouses.models import ExchangeRate, ExchangeRateFetch, Item, Organization, Warehouse

logger = logging.getLogger(__name__)

ORDERS_PER_PAGE = 50


def _is_htmx(request: HttpRequest) -> bool:
    return request.headers.get("HX-Request") == "true"


def _user_id(request: HttpRequest) -> int | None:
    return request.user.pk if isinstance(request.user, User) else None


# -- Marketplaces list and connecting -------------------------------------------------------


@require_GET
def marketplace_list(request: HttpRequest) -> HttpResponse:
    channels = list(queries.channels_with_last_sync())
    connected = {channel.marketplace for channel in channels}
    unconnected = [
        (value, label)
        for value, label in SalesChannel.Marketplace.choices
        if value not in connected
    ]
    # Another marketplace of a seller already connected comes from that authorization: its
    # channel's Marketplaces page adds it; the first one goes through Connect.
    return render(
        request,
        "marketplaces/marketplace_list.html",
        {
            "channels": channels,
            "unconnected": unconnected,
            "seller_channel": channels[0] if channels else None,
        },
    )


def _render_connect(
    request: HttpRequest,
    *,
    form: ConnectTokenForm | None = None,
    error: str = "",
    status: int = 200,
    reauthorize: SalesChannel | None = None,
    already_connected: SalesChannel | None = None,
) -> HttpResponse:
    """The connect page; with ``reauthorize``, the same two ways, for that one channel."""
    try:
        connect.check_prerequisites(Organization.load())
    except ValidationError as problems:
        prerequisite_problems = problems.messages
    else:
        prerequisite_problems = []
    if form is None:
        initial = {}
        if reauthorize is not None:
            initial = {"name": reauthorize.name, "seller_id": reauthorize.seller_id}
        form = ConnectTokenForm(initial=initial)
    return render(
        request,
        "marketplaces/amazon_connect.html",
        {
            "form": form,
            "error": error,
            "prerequisite_problems": prerequisite_problems,
            "reauthorize": reauthorize,
            "already_connected": already_connected,
            "needing_reauthorization": (
                None
                if reauthorize
                else SalesChannel.objects.filter(
                    status=SalesChannel.Status.NEEDS_REAUTHORIZATION
                ).first()
            ),
        },
        status=status,
    )


def _connect_with_token(request: HttpRequest, reauthorize: SalesChannel | None) -> HttpResponse:
    """The pasted self-authorized refresh token, for a new channel or to re-authorize one."""
    form = ConnectTokenForm(request.POST)
    already_connected = None
    if form.is_valid():
        assert isinstance(request.user, User)
        try:
            channel = connect.connect_channel(
                name=form.cleaned_data["name"],
                seller_id=form.cleaned_data["seller_id"],
                refresh_token=form.cleaned_data["refresh_token"],
                user=request.user,
                reauthorize=reauthorize,
                initial_lookback=timedelta(days=form.cleaned_data["lookback_days"]),
                actor=audit.Actor.from_request(request),
                via="token",
            )
        except connect.ChannelAlreadyConnected as error:
            already_connected = error.channel
            form.add_error(None, error)
        except ValidationError as error:
            form.add_error(None, error)
        else:
            if reauthorize is not None:
                messages.success(request, f"{channel.name} is authorized again.")
            else:
                messages.success(
                    request,
                    f"{channel.name} is connected. The initial sync has started. Add the "
                    "seller's other marketplaces below: the same authorization covers them.",
                )
                return redirect("channel-marketplaces", channel_id=channel.id)
            return redirect("channel-detail", channel_id=channel.id)
    return _render_connect(
        request,
        form=form,
        status=400,
        reauthorize=reauthorize,
        already_connected=already_connected,
    )


@require_http_methods(["GET", "POST"])
@admin_required
def amazon_connect(request: HttpRequest) -> HttpResponse:
    """GET: the two ways to connect. POST: the pasted self-authorized refresh token."""
    if request.method == "GET":
        return _render_connect(request)
    return _connect_with_token(request, None)


@require_http_methods(["GET", "POST"])
@admin_required
def amazon_reauthorize(request: HttpRequest, channel_id: int) -> HttpResponse:
    """The same two ways, for an existing channel: it keeps its settings, items and orders."""
    channel = get_object_or_404(SalesChannel, id=channel_id)
    if request.method == "GET":
        return _render_connect(request, reauthorize=channel)
    return _connect_with_token(request, channel)


@require_POST
@admin_required
def amazon_authorize(request: HttpRequest) -> HttpResponse:
    """Off to Seller Central's consent page, which comes back to ``amazon-callback``. A
    ``channel`` field re-authorizes that channel (named in the signed state)."""
    reauthorize = None
    channel_id = request.POST.get("channel", "")
    if channel_id:
        if not (channel_id.isascii() and channel_id.isdigit()) or len(channel_id) > 18:
            return _render_connect(request, error="No such channel to re-authorize.", status=400)
        reauthorize = get_object_or_404(SalesChannel, id=int(channel_id))
    try:
        url = connect.consent_url(
            request,
            request.build_absolute_uri(reverse("amazon-callback")),
            reauthorize=reauthorize,
        )
    except ValidationError as error:
        return _render_connect(
            request, error=" ".join(error.messages), status=400, reauthorize=reauthorize
        )
    return redirect(url)


@require_GET
@admin_required
def amazon_callback(request: HttpRequest) -> HttpResponse:
    try:
        channel = connect.complete_oauth(
            request,
            state=request.GET.get("state", ""),
            code=request.GET.get("spapi_oauth_code", ""),
            selling_partner_id=request.GET.get("selling_partner_id", ""),
        )
    except connect.ChannelAlreadyConnected as error:
        return _render_connect(
            request,
            error=" ".join(error.messages),
            status=400,
            already_connected=error.channel,
        )
    except ValidationError as error:
        return _render_connect(request, error=" ".join(error.messages), status=400)
    messages.success(
        request,
        f"{channel.name} (seller {channel.seller_id}) is connected. The initial sync has started. "
        "Add the seller's other marketplaces below: the same authorization covers them.",
    )
    return redirect("channel-marketplaces", channel_id=channel.id)


# -- Show Details ---------------------------------------------------------------------------


def _detail_context(channel: SalesChannel, **forms: Any) -> dict[str, Any]:
    organization = Organization.load()
    context: dict[str, Any] = {
        "channel": channel,
        "organization": organization,
        "last_syncs": queries.last_syncs(channel),
        "active_runs": queries.active_runs(channel),
        "quotas": queries.api_quotas(channel),
        "drift": queries.drift_summary(channel),
        "fba": queries.fba_summary(channel),
        "fba_minutes": settings.AMAZON_FBA_INVENTORY_MINUTES,
        "warehouses": Warehouse.objects.filter(is_active=True),
        "interval_form": IntervalForm(instance=channel),
        "modules_form": ModulesForm(instance=channel),
        "limits_form": StockLimitsForm(instance=channel),
        "preference_form": OrderPreferenceForm(instance=organization),
        "mapping_form": WarehouseMappingForm(initial={"warehouse": channel.mapped_warehouse_id}),
        "now": timezone.now(),
        "notification_queue": notifications.configured_queue(),
    }
    context["notifications"] = queries.notification_health(channel, context["now"])
    withheld = queries.withheld_personal_data(channel, context["now"])
    if withheld is not None:
        context["withheld"] = withheld
        context["withheld_notice"] = buyer_data.notice(withheld.codes)
    context.update(forms)
    return context


def _get_channel(channel_id: int) -> SalesChannel:
    return get_object_or_404(SalesChannel.objects.select_related("mapped_warehouse"), id=channel_id)


@require_GET
def channel_detail(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)
    return render(request, "marketplaces/channel_detail.html", _detail_context(channel))


def _detail_with_errors(request: HttpRequest, channel: SalesChannel, **forms: Any) -> HttpResponse:
    return render(
        request, "marketplaces/channel_detail.html", _detail_context(channel, **forms), status=400
    )


def _save_channel_form(
    request: HttpRequest,
    channel: SalesChannel,
    form_name: str,
    form: Any,
    save: Callable[[dict[str, Any]], str],
    **on_error: Any,
) -> HttpResponse:
    """Show Details' forms: saved, then back to Show Details; or the page again, with the
    form's errors (``on_error``: more of the page's context, and ``error_field``)."""
    error_field = on_error.pop("error_field", None)
    return save_settings_form(
        request,
        form,
        save,
        success_url=reverse("channel-detail", args=[channel.id]),
        invalid=lambda: _detail_with_errors(request, channel, **{form_name: form}, **on_error),
        error_field=error_field,
    )


@require_POST
@admin_required
def channel_interval(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)

    def save(data: dict[str, Any]) -> str:
        channel_settings.update_channel_settings(channel, actor=request, **data)
        return f"{channel.name} syncs every {data['sync_interval_minutes']} minutes."

    form = IntervalForm(request.POST, instance=SalesChannel(pk=channel.pk))
    return _save_channel_form(request, channel, "interval_form", form, save)


@require_POST
@admin_required
def channel_modules(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)
    form = ModulesForm(request.POST, instance=SalesChannel(pk=channel.pk))
    if form.is_valid():  # checkboxes: always valid
        channel = channel_settings.update_channel_settings(
            channel, actor=request, **form.cleaned_data
        )
    if _is_htmx(request):
        return render(
            request,
            "marketplaces/_modules_form.html",
            {"channel": channel, "modules_form": ModulesForm(instance=channel), "saved": True},
        )
    messages.success(request, "Modules in Sync saved.")
    return redirect("channel-detail", channel_id=channel.id)


@require_POST
@admin_required
def channel_limits(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)

    def save(data: dict[str, Any]) -> str:
        channel_settings.update_channel_settings(channel, actor=request, **data)
        return "Stock sent to Amazon: safety buffer and maximum saved."

    form = StockLimitsForm(request.POST, instance=SalesChannel(pk=channel.pk))
    return _save_channel_form(request, channel, "limits_form", form, save)


@require_POST
@admin_required
def channel_order_preference(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)

    def save(data: dict[str, Any]) -> str:
        organization = channel_settings.set_order_sync_preference(
            data["order_sync_preference"], actor=request
        )
        return (
            f"Order sync preference: {organization.get_order_sync_preference_display()} "
            "(all sales channels)."
        )

    form = OrderPreferenceForm(request.POST, instance=Organization(pk=Organization.SINGLETON_ID))
    return _save_channel_form(request, channel, "preference_form", form, save)


@require_POST
@admin_required
def channel_warehouse(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)

    def save(data: dict[str, Any]) -> str:
        warehouse = data["warehouse"]
        channel_settings.set_warehouse_mapping(channel, warehouse, actor=request)
        if warehouse is None:
            return (
                "Warehouse mapping is off: orders use the primary warehouse and Amazon "
                "sees the organization's total stock."
            )
        return (
            f"{channel.name} is mapped to {warehouse.name}: new orders commit and ship "
            "from it and Amazon sees its stock."
        )

    form = WarehouseMappingForm(request.POST)
    return _save_channel_form(
        request,
        channel,
        "mapping_form",
        form,
        save,
        mapping_open=True,
        error_field="warehouse",
    )


@require_POST
@admin_required
def channel_disable(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = channel_settings.disable_channel(_get_channel(channel_id), actor=request)
    messages.success(request, f"{channel.name} is disabled: nothing syncs until you re-enable it.")
    return redirect("channel-detail", channel_id=channel.id)


@require_POST
@admin_required
def channel_enable(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)
    try:
        channel = channel_settings.enable_channel(channel, actor=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request, f"{channel.name} is active again: syncing resumes where it stopped."
        )
    return redirect("channel-detail", channel_id=channel.id)


# -- Stock on Amazon (drift) ----------------------------------------------------------------


# -- Amazon notifications -------------------------------------------------------------------


@require_POST
@admin_required
def channel_notifications(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Turn the seller's Amazon notifications on or off (Amazon is called in the request: a
    handful of calls, and the admin sees Amazon's answer at once)."""
    channel = _get_channel(channel_id)
    back = redirect(reverse("channel-detail", args=[channel.id]) + "#notifications")
    form = NotificationsForm(request.POST)
    if not form.is_valid():
        messages.error(request, "Choose Turn on or Turn off.")
        return back
    turning_on = form.cleaned_data["notifications"] == "on"
    try:
        if turning_on:
            setup = notifications.enable(channel, actor=request)
        else:
            setup = notifications.disable(channel, actor=request)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return back
    if turning_on and setup.status == NotificationSetup.Status.ENABLED:
        messages.success(
            request,
            f"Amazon notifications are on for seller {setup.seller_id}: order changes reach the "
            "queue within seconds. Polling continues as the safety net.",
        )
    elif not turning_on and setup.status == NotificationSetup.Status.DISABLED:
        messages.success(request, "Amazon notifications are off: orders come in by polling alone.")
    else:
        messages.error(request, setup.status_reason)
    return back


# -- The seller's other marketplaces ----------------------------------------------------------


@require_http_methods(["GET", "POST"])
@admin_required
def channel_marketplaces(request: HttpRequest, channel_id: int) -> HttpResponse:
    """The North-American marketplaces this channel's authorization covers (Amazon says, when
    the page opens); POST adds one as a channel of its own, from the same authorization."""
    channel = _get_channel(channel_id)
    form = AddMarketplaceForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        try:
            added = connect.add_marketplace(
                channel,
                form.cleaned_data["marketplace"],
                user=request.user if isinstance(request.user, User) else None,
                actor=audit.Actor.from_request(request),
            )
        except ValidationError as error:
            messages.error(request, " ".join(error.messages))
        else:
            messages.success(
                request,
                f"{added.name} is connected from the same authorization. The initial sync has "
                "started.",
            )
            return redirect("channel-detail", channel_id=added.id)
    try:
        found = connect.seller_marketplaces(channel)
        problem = ""
    except ValidationError as error:
        found, problem = [], " ".join(error.messages)
    return render(
        request,
        "marketplaces/channel_marketplaces.html",
        {"channel": channel, "marketplaces": found, "problem": problem, "form": form},
    )


@require_POST
@admin_required
def channel_drift_check(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)
    if not channel.is_active:
        messages.error(
            request,
            f"{channel.name} is {channel.get_status_display().lower()}: Amazon is not asked.",
        )
    else:
        jobs.enqueue(jobs.CHECK_DRIFT, channel.id)
        messages.success(
            request,
            f"Checking {channel.get_marketplace_display()}'s quantities… Reload in a minute to "
            "see them.",
        )
    return redirect(reverse("channel-detail", args=[channel.id]) + "#stock-on-amazon")


@require_POST
@admin_required
def channel_drift_repush(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)
    count = drift.repush(channel)
    if count:
        jobs.enqueue(jobs.PUSH_STOCK_SOON, channel.id)
        messages.success(
            request,
            f"{count} SKU{'' if count == 1 else 's'} will be sent to "
            f"{channel.get_marketplace_display()} again with the quantity we decided.",
        )
    else:
        messages.info(
            request,
            f"No SKU disagrees with {channel.get_marketplace_display()}: nothing to send again.",
        )
    return redirect(reverse("channel-detail", args=[channel.id]) + "#stock-on-amazon")


@require_POST
@admin_required
def channel_fba_refresh(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Read every FBA SKU's units from Amazon now (the automatic refresh reads what changed)."""
    channel = _get_channel(channel_id)
    try:
        run = services.request_sync(
            channel, SyncRun.Kind.FBA_INVENTORY, SyncRun.Trigger.MANUAL, actor=request
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, f"Reading Amazon's FBA stock (sync #{run.id})…")
    return redirect(reverse("channel-detail", args=[channel.id]) + "#fba-stock")


@require_GET
def channel_notification_history(request: HttpRequest, channel_id: int) -> HttpResponse:
    """Sync History's Notifications tab: what Amazon's notifications for this channel became,
    the failed ones first with their reason."""
    channel = _get_channel(channel_id)
    return render(
        request,
        "marketplaces/channel_notifications.html",
        {
            "channel": channel,
            "notifications": queries.recent_notifications(channel),
            "shown": queries.NOTIFICATIONS_SHOWN,
        },
    )


# -- Sync Manually, estimate, re-initiate ---------------------------------------------------


@require_http_methods(["GET", "POST"])
def channel_sync(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)
    if request.method == "GET":
        form = ManualSyncForm()
    else:
        if not is_org_admin(request.user):
            raise PermissionDenied("Only an admin may start a sync.")
        form = ManualSyncForm(request.POST)
        if form.is_valid():
            window_start, window_end = form.window()
            try:
                run = services.request_sync(
                    channel,
                    form.cleaned_data["kind"],
                    SyncRun.Trigger.MANUAL,
                    window_start=window_start,
                    window_end=window_end,
                    requested_by_id=_user_id(request),
                    actor=audit.Actor.from_request(request),
                )
            except ValidationError as error:
                form.add_error(None, error)
            else:
                messages.success(request, f"{run.get_kind_display()} sync #{run.id} started.")
                return redirect("sync-run-detail", run_id=run.id)
    return _sync_page(request, channel, form, status=400 if form.errors else 200)


def _sync_page(
    request: HttpRequest,
    channel: SalesChannel,
    form: ManualSyncForm,
    *,
    estimate: dict[str, Any] | None = None,
    status: int = 200,
) -> HttpResponse:
    return render(
        request,
        "marketplaces/channel_sync.html",
        {
            "channel": channel,
            "form": form,
            "estimate": estimate or {},
            "active_runs": queries.active_runs(channel),
            "time_zone": settings.TIME_ZONE,
        },
        status=status,
    )


def _estimate(channel: SalesChannel, form: ManualSyncForm) -> dict[str, Any]:
    """Dry run: how much a sync would fetch, before starting it."""
    if form.cleaned_data["kind"] == SyncRun.Kind.ITEMS:
        count = Listing.objects.filter(channel=channel).count()
        return {
            "count": count,
            "exact": True,
            "noun": "item" if count == 1 else "items",
            "note": "From the last item sync: every listing is read again.",
        }
    window_start, window_end = form.window()
    if form.cleaned_data["kind"] == SyncRun.Kind.RETURNS:
        return _estimate_returns(channel, window_start, window_end)
    if window_start is None:
        window_start = order_window(channel, timezone.now())
    try:
        estimate = estimate_orders(
            client_for(channel, max_wait=5), window_start, window_end, channel=channel
        )
    except AmazonError as error:
        return {"error": f"could not estimate: {error}"}
    return {
        "count": estimate.count,
        "exact": estimate.exact,
        "noun": "order" if estimate.count == 1 else "orders",
        "note": f"Orders updated since {timezone.localtime(window_start):%Y-%m-%d %H:%M}.",
        "orders": True,
        "imported": estimate.imported,
        "not_imported": estimate.not_imported,
    }


def _estimate_returns(
    channel: SalesChannel, window_start: datetime | None, window_end: datetime | None
) -> dict[str, Any]:
    """Refunds posted in the period, from one page of Amazon's transactions: each received
    return is refunded, so it is also about the returns the reports will bring."""
    if window_start is None:
        probe = SyncRun(channel=channel, kind=SyncRun.Kind.RETURNS)
        window_start = returns_window(probe, timezone.now())[2]
    try:
        estimate = estimate_refunds(client_for(channel, max_wait=5), window_start, window_end)
    except AmazonError as error:
        return {"error": f"could not estimate: {error}"}
    return {
        "count": estimate.count,
        "exact": estimate.exact,
        "noun": "refund" if estimate.count == 1 else "refunds",
        "note": f"Refunds posted since {timezone.localtime(window_start):%Y-%m-%d %H:%M}; "
        "the returns reports are read by the sync itself (Amazon prepares them in minutes).",
    }


@require_POST
@admin_required
def channel_sync_estimate(request: HttpRequest, channel_id: int) -> HttpResponse:
    channel = _get_channel(channel_id)
    form = ManualSyncForm(request.POST)
    estimate: dict[str, Any] = {}
    if not channel.is_active:
        estimate = {
            "error": f"could not estimate: {channel.name} is "
            f"{channel.get_status_display().lower()}."
        }
    elif form.is_valid():
        estimate = _estimate(channel, form)
    else:
        estimate = {"error": "Correct the errors in the form first."}
    if _is_htmx(request):
        return render(request, "marketplaces/_estimate.html", {"estimate": estimate})
    return _sync_page(request, channel, form, estimate=estimate)


@require_POST
@admin_required
def sync_run_reinitiate(request: HttpRequest, run_id: int) -> HttpResponse:
    run = get_object_or_404(SyncRun.objects.select_related("channel"), id=run_id)
    try:
        new_run = services.reinitiate(
            run, requested_by_id=_user_id(request), actor=audit.Actor.from_request(request)
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
        return redirect("sync-run-detail", run_id=run.id)
    messages.success(request, f"Run #{run.id} re-initiated as run #{new_run.id}.")
    return redirect("sync-run-detail", run_id=new_run.id)


# -- Sales orders ---------------------------------------------------------------------------

PERSONAL_FIELDS = ("buyer_name", "buyer_email", "buyer_phone", "shipping_address")


@require_GET
def sales_order_list(request: HttpRequest) -> HttpResponse:
    """Filtered by status, channel and purchase date; pages are keyset slices (no COUNT)."""
    form = SalesOrderFilterForm(request.GET or None)
    filters = form.cleaned_data if form.is_valid() else {}
    orders = queries.filtered_orders(
        status=filters.get("status") or "",
        channel=filters.get("channel"),
        purchased_from=filters.get("purchased_from"),
        purchased_to=filters.get("purchased_to"),
        ship=filters.get("ship") or "",
        search=filters.get("q") or "",
        cancel_request=bool(filters.get("cancel_request")),
    ).defer(*PERSONAL_FIELDS)
    page = queries.order_page(
        orders,
        older_than=int_param(request, "older_than"),
        newer_than=int_param(request, "newer_than"),
        per_page=ORDERS_PER_PAGE,
    )
    kept = request.GET.copy()
    for cursor in ("older_than", "newer_than", "page"):
        kept.pop(cursor, None)
    return render(
        request,
        "marketplaces/sales_order_list.html",
        {
            "form": form,
            "page": page,
            "filtered": bool(filters and any(filters.values())),
            # Each order with its total in the base currency (shown for other currencies).
            "orders_with_base_totals": list(
                zip(
                    page.orders,
                    queries.order_totals_in_base_currency(page.orders).values(),
                    strict=True,
                )
            ),
            "query": kept.urlencode(),
            "ship": filters.get("ship") or "",
            "ship_filters": SHIP_FILTERS,
            "on_hold": filters.get("status") == SalesOrder.Status.ON_HOLD,
            "cancel_request": bool(filters.get("cancel_request")),
        },
    )


@require_GET
def sales_order_detail(request: HttpRequest, order_id: int) -> HttpResponse:
    order = get_object_or_404(
        SalesOrder.objects.select_related("channel", "warehouse"), id=order_id
    )
    lines = order.lines.select_related("item").prefetch_related(
        Prefetch("taxes", queryset=SalesOrderTax.objects.order_by("component", "collector"))
    )
    tax_breakdown = (
        SalesOrderTax.objects.filter(line__order=order)
        .values("component", "collector", "tax_name")
        .annotate(amount=Sum("amount"))
        .order_by("component", "collector", "tax_name")
    )
    components = dict(SalesOrderTax.Component.choices)
    collectors = dict(SalesOrderTax.Collector.choices)
    return render(
        request,
        "marketplaces/sales_order_detail.html",
        {
            "order": order,
            "lines": lines,
            "taxes": [
                {
                    **row,
                    "component_label": components.get(row["component"], row["component"]),
                    "collector_label": collectors.get(row["collector"], row["collector"]),
                }
                for row in tax_breakdown
            ],
            # Masked for staff without the permission; an unmasked view is audited.
            "buyer": privacy.buyer_details(order, request.user, request),
            # What Amazon withheld for lack of a restricted role (not personal data itself).
            "withheld": buyer_data.notice([order.personal_data_withheld]),
            "shipments": order.shipments.prefetch_related("lines__order_line"),
            "cancellations": order.seller_cancellations.select_related(
                "created_by"
            ).prefetch_related("lines__order_line"),
            "cancellable": not cancellations.refusal(order),
            "comments": order.comments.select_related("author"),
            # An order in another currency than the base one also shows its total in it.
            "total_in_base": queries.order_totals_in_base_currency([order])[order.id],
            "returns": [
                (sales_return, _receive_form(sales_return))
                for sales_return in _order_returns(order)
            ],
            "refunds": (refunds := list(order.refunds.prefetch_related("taxes"))),
            "refunded_total": returns.refunded_total(refunds),
        },
    )


def _order_returns(order: SalesOrder) -> list[SalesReturn]:
    return list(
        order.returns.select_related("restocked_into").prefetch_related(
            Prefetch("lines", queryset=SalesReturnLine.objects.select_related("order_line"))
        )
    )


def _receive_form(sales_return: SalesReturn) -> ReceiveReturnForm | None:
    """The receive form of a merchant return not yet received into a warehouse."""
    if not sales_return.is_merchant or sales_return.status == SalesReturn.Status.RESTOCKED:
        return None
    # Several on one page: each form's ids are its own.
    return ReceiveReturnForm(sales_return=sales_return, auto_id=f"id_return-{sales_return.id}-%s")


@require_POST
def sales_return_receive(request: HttpRequest, return_id: int) -> HttpResponse:
    """Staff and admins receive a merchant return: sellable units back on hand."""
    sales_return = get_object_or_404(SalesReturn.objects.select_related("order"), id=return_id)
    form = ReceiveReturnForm(request.POST, sales_return=sales_return)
    back = _safe_next(request) or reverse("sales-order-detail", args=[sales_return.order_id])
    if not form.is_valid():
        errors = [f"{error}" for field_errors in form.errors.values() for error in field_errors]
        messages.error(request, "The return was not received: " + " ".join(errors))
        return redirect(back)
    user = request.user if isinstance(request.user, User) else None
    try:
        received = returns.receive_return(
            sales_return, form.cleaned_data["warehouse"], form.sellable(), user=user
        )
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        units = sum(line.quantity_restocked for line in received.lines.all())
        messages.success(
            request,
            f"Return {received.amazon_return_id} received into {form.cleaned_data['warehouse']}: "
            f"{units} sellable unit(s) back on hand.",
        )
    return redirect(back)


@require_GET
def sales_return_list(request: HttpRequest) -> HttpResponse:
    """Returns, the merchant ones still to receive first; the newest 200 of each group."""
    waiting = request.GET.get("show") != "all"
    rows = SalesReturn.objects.select_related("order", "order__channel").prefetch_related(
        Prefetch("lines", queryset=SalesReturnLine.objects.select_related("order_line"))
    )
    if waiting:
        rows = rows.filter(fulfillment_channel="merchant").exclude(
            status=SalesReturn.Status.RESTOCKED
        )
    return render(
        request,
        "marketplaces/sales_return_list.html",
        {
            "returns": [(r, _receive_form(r)) for r in rows.order_by("-requested_at", "-id")[:200]],
            "waiting": waiting,
        },
    )


# -- Unconfirmed items ----------------------------------------------------------------------


@require_POST
@admin_required
def item_confirm(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(Item, id=item_id)
    assert isinstance(request.user, User)
    try:
        released = items.confirm_item(item, user=request.user)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(
            request,
            f"{item.sku} is confirmed."
            + (f" {released} held sales order(s) released." if released else ""),
        )
    return redirect(_safe_next(request) or reverse("item-detail", args=[item.id]))


def _safe_next(request: HttpRequest) -> str:
    """Back to the page the form was on (the unconfirmed queue), never off this site."""
    return safe_next(request, request.POST)


@require_http_methods(["GET", "POST"])
@admin_required
def item_link(request: HttpRequest, item_id: int) -> HttpResponse:
    item = get_object_or_404(Item, id=item_id)
    form = LinkItemForm(request.POST or None)
    if request.method == "POST" and form.is_valid():
        target = form.cleaned_data["target"]
        assert isinstance(request.user, User)
        try:
            released = items.link_item(item, target, user=request.user)
        except ValidationError as error:
            form.add_error("target", error)
        else:
            messages.success(
                request,
                f"{item.sku}'s Amazon listing is now linked to {target.sku}."
                + (f" {released} held sales order(s) released." if released else ""),
            )
            return redirect("item-detail", item_id=target.id)
    return render(
        request,
        "marketplaces/item_link.html",
        {"item": item, "form": form},
        status=400 if form.errors else 200,
    )


@require_http_methods(["GET", "POST"])
def sales_order_ship(request: HttpRequest, order_id: int) -> HttpResponse:
    """Staff and admins create shipments; the order page shows Amazon's answer."""
    order = get_object_or_404(SalesOrder.objects.select_related("channel"), id=order_id)
    if order.status in (SalesOrder.Status.CANCELLED, SalesOrder.Status.ON_HOLD):
        messages.error(request, f"A {order.get_status_display().lower()} order cannot ship.")
        return redirect("sales-order-detail", order_id=order.id)
    form = ShipmentForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        user = request.user if isinstance(request.user, User) else None
        try:
            shipments.create_shipment(order, form.to_request(), user=user)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            merchant = order.fulfillment_channel == "merchant"
            messages.success(
                request,
                "Shipment created; Amazon is being told."
                if merchant
                else "Shipment recorded (Amazon fulfils this order: nothing is sent).",
            )
            return redirect("sales-order-detail", order_id=order.id)
    return render(request, "marketplaces/sales_order_ship.html", {"order": order, "form": form})


def _add_errors(form: django_forms.BaseForm, error: ValidationError) -> None:
    """A service's refusal on the form: per field where it names one, else above the form."""
    if hasattr(error, "error_dict"):
        for field, errors in error.message_dict.items():
            form.add_error(None if field == "__all__" else field, errors)
    else:
        form.add_error(None, error)


@require_http_methods(["GET", "POST"])
@admin_required
def sales_order_cancel(request: HttpRequest, order_id: int) -> HttpResponse:
    """Admins cancel an unshipped merchant order's lines; the order page shows Amazon's answer."""
    order = get_object_or_404(SalesOrder.objects.select_related("channel"), id=order_id)
    problem = cancellations.refusal(order)
    if problem:
        messages.error(request, problem)
        return redirect("sales-order-detail", order_id=order.id)
    form = CancelOrderForm(request.POST or None, order=order)
    if request.method == "POST" and form.is_valid():
        user = request.user if isinstance(request.user, User) else None
        try:
            cancellations.cancel_order(order, form.to_request(), user=user)
        except ValidationError as error:
            _add_errors(form, error)
        else:
            messages.success(
                request,
                "Cancelled here, its stock released; Amazon is being told."
                if order.channel.sync_shipments
                # The shipments run carries cancellations too: it waits for the module.
                else "Cancelled here, its stock released; Amazon is told once the channel's "
                "Shipments module is on again.",
            )
            return redirect("sales-order-detail", order_id=order.id)
    return render(
        request,
        "marketplaces/sales_order_cancel.html",
        {"order": order, "form": form},
        status=400 if form.errors else 200,
    )


@require_POST
def shipment_retry(request: HttpRequest, shipment_id: int) -> HttpResponse:
    """Send a rejected confirmation again, with a corrected tracking number if given."""
    shipment = get_object_or_404(Shipment.objects.select_related("order"), id=shipment_id)
    form = ShipmentRetryForm(request.POST)
    if not form.is_valid():
        messages.error(request, " ".join(str(error) for error in form.errors["tracking_number"]))
        return redirect("sales-order-detail", order_id=shipment.order_id)
    tracking = form.cleaned_data["tracking_number"]
    try:
        if tracking and tracking != shipment.tracking_number:
            shipments.correct_tracking(shipment, tracking)
        shipments.retry_confirmation(shipment)
    except ValidationError as error:
        messages.error(request, " ".join(error.messages))
    else:
        messages.success(request, "The shipment confirmation will be sent to Amazon again.")
    return redirect("sales-order-detail", order_id=shipment.order_id)


# -- Exchange rates -------------------------------------------------------------------------
# Rates and their rules live in warehouses (currency, exchange_rates); the page is here because
# it names the days with orders that have no rate, and only marketplaces knows the orders.

RATES_SHOWN = 60


@require_http_methods(["GET", "POST"])
@admin_required
def exchange_rates(request: HttpRequest) -> HttpResponse:
    """Settings › Exchange rates: the stored rates, the days with orders and no rate, the last
    fetch, and a form to set a rate (an admin's rate replaces the Bank's for that day)."""
    if request.method == "POST":
        form = ExchangeRateForm(request.POST)
    else:
        form = ExchangeRateForm(initial=request.GET.dict() or None)

    def page() -> HttpResponse:
        base = Organization.load().base_currency
        return render(
            request,
            "marketplaces/exchange_rates.html",
            {
                "form": form,
                "rates": ExchangeRate.objects.select_related("changed_by").order_by(
                    "-date", "currency"
                )[:RATES_SHOWN],
                "missing": currency.missing_rate_days(queries.order_days_by_currency(base)),
                "base_problem": currency.base_currency_problem(base),
                "last_fetch": ExchangeRateFetch.objects.first(),
            },
        )

    if request.method != "POST":
        return page()

    def save(data: dict[str, Any]) -> str:
        rate = exchange_rates_service.set_rate(
            data["currency"], data["date"], data["rate"], actor=request
        )
        return f"{rate.currency}→CAD on {rate.date.isoformat()} set to {rate.rate.normalize():f}."

    return save_settings_form(
        request, form, save, success_url=reverse("exchange-rates"), invalid=page
    )
