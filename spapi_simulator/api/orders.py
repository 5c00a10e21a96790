"""Orders: ``searchOrders`` and ``getOrder`` (Orders API 2026-01-01), ``confirmShipment`` (v0)."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from werkzeug.wrappers import Request

from ..clock import isoformat, parse_iso
from ..data import FULFILLED_BY, FULFILLMENT_STATUSES
from ..orders import INCLUDED_DATA, order_json
from ..state import PAGINATION_TOKEN_SECONDS, AccessToken, SimState
from .common import (
    ApiError,
    Operation,
    Result,
    b64decode,
    b64encode,
    date_param,
    enum_list,
    int_param,
    invalid,
    json_body,
    marketplaces_in,
    not_found,
)

# What Amazon answers (400 InvalidInput) to a searchOrders paginationToken it refuses.
REFUSED_PAGINATION = (
    "The paginationToken you have submitted is not valid. All parameters must match the "
    "original request except maxResultsPerPage."
)


def search_orders(state: SimState, request: Request, access: AccessToken) -> Result:
    now = state.now()
    token = request.args.get("paginationToken")
    if token:
        try:
            query = b64decode(token)
        except ApiError:
            raise invalid(REFUSED_PAGINATION) from None
        try:
            issued = float(query["t"])
            key = (float(query["k"][0]), str(query["k"][1]))
            by, after, before = str(query["by"]), float(query["a"]), float(query["b"])
            statuses, fulfilled, markets = list(query["s"]), list(query["f"]), list(query["m"])
            limit, included = int(query["n"]), frozenset(query["i"])
        except (KeyError, TypeError, ValueError, IndexError) as exc:
            raise invalid(REFUSED_PAGINATION) from exc
        if now.timestamp() - issued > PAGINATION_TOKEN_SECONDS:
            # Amazon answers an expired token as any other token it refuses: 400 InvalidInput
            # with a message that names no reason.
            raise invalid(REFUSED_PAGINATION)
        start_after: tuple[float, str] | None = key
    else:
        created_after, created_before = (
            date_param(request, "createdAfter"),
            date_param(request, "createdBefore"),
        )
        updated_after, updated_before = (
            date_param(request, "lastUpdatedAfter"),
            date_param(request, "lastUpdatedBefore"),
        )
        if (created_after is None) == (updated_after is None):
            raise invalid("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
        if created_after is not None and (updated_before is not None):
            raise invalid("lastUpdatedBefore cannot be combined with createdAfter.")
        if updated_after is not None and (created_before is not None):
            raise invalid("createdBefore cannot be combined with lastUpdatedAfter.")
        by = "created" if created_after is not None else "updated"
        start = created_after or updated_after
        end = created_before if by == "created" else updated_before
        assert start is not None
        latest = now - timedelta(seconds=state.config.search_lag_seconds)
        if start > now:
            raise invalid(
                f"{'createdAfter' if by == 'created' else 'lastUpdatedAfter'} "
                "cannot be in the future."
            )
        if end is None:
            end = latest
        elif end > latest:
            name = "createdBefore" if by == "created" else "lastUpdatedBefore"
            raise invalid(
                f"{name} must be at least {int(state.config.search_lag_seconds)} seconds "
                "before the time of the request."
            )
        if end < start:
            raise invalid("The Before date must be equal to or after the After date.")
        after, before = start.timestamp(), end.replace(microsecond=0).timestamp()
        statuses = enum_list(request, "fulfillmentStatuses", FULFILLMENT_STATUSES)
        fulfilled = enum_list(request, "fulfilledBy", FULFILLED_BY)
        markets = marketplaces_in(request)
        if len(markets) > 50:
            raise invalid("At most 50 marketplaceIds are allowed.")
        limit = int_param(request, "maxResultsPerPage", 100, 1, 100)
        included = frozenset(enum_list(request, "includedData", INCLUDED_DATA))
        start_after = None
        issued = now.timestamp()

    status_set, fulfilled_set, market_set = set(statuses), set(fulfilled), set(markets)

    def accept(order: Any) -> bool:
        return (
            (not status_set or order.status in status_set)
            and (not fulfilled_set or order.fulfilled_by in fulfilled_set)
            and (not market_set or order.marketplace_id in market_set)
        )

    page: list[Any] = []
    last_key: tuple[float, str] | None = None
    more = False
    for sort_key, order in state.orders.window(by, after, before, start_after, accept):
        if len(page) == limit:
            more = True
            break
        page.append(order)
        last_key = sort_key
    body: dict[str, Any] = {
        "orders": [order_json(order, included, roles=state.roles) for order in page]
    }
    if more and last_key is not None:
        body["pagination"] = {
            "nextToken": b64encode(
                {
                    "by": by,
                    "a": after,
                    "b": before,
                    "s": statuses,
                    "f": fulfilled,
                    "m": markets,
                    "n": limit,
                    "i": sorted(included),
                    "t": issued,
                    "k": [last_key[0], last_key[1]],
                }
            )
        }
    bound = isoformat(datetime.fromtimestamp(before, tz=now.tzinfo))
    body["createdBefore" if by == "created" else "lastUpdatedBefore"] = bound
    return 200, body


def get_order(state: SimState, request: Request, access: AccessToken, order_id: str) -> Result:
    included = frozenset(enum_list(request, "includedData", INCLUDED_DATA))
    order = state.orders.by_id.get(order_id)
    if order is None:
        raise not_found(f"Order {order_id} was not found.")
    return 200, {"order": order_json(order, included, roles=state.roles)}


def confirm_shipment(
    state: SimState, request: Request, access: AccessToken, order_id: str
) -> Result:
    order = state.orders.by_id.get(order_id)
    if order is None:
        raise not_found(f"Order {order_id} was not found.")
    body = json_body(request)
    if body.get("marketplaceId") != order.marketplace_id:
        raise invalid(
            f"marketplaceId is required and must be {order.marketplace_id} for this order."
        )
    package = body.get("packageDetail")
    if not isinstance(package, dict):
        raise invalid("packageDetail is required.")
    for field in (
        "packageReferenceId",
        "carrierCode",
        "trackingNumber",
        "shipDate",
        "orderItems",
    ):
        if package.get(field) in (None, "", []):
            detail = " (mandatory on Amazon.ca)" if field == "carrierCode" else ""
            raise invalid(f"packageDetail.{field} is required{detail}.")
    if str(package["carrierCode"]).lower() == "other" and not package.get("carrierName"):
        raise invalid("packageDetail.carrierName is required when carrierCode is 'Other'.")
    try:
        ship_date = parse_iso(str(package["shipDate"])).replace(microsecond=0)
    except ValueError as exc:
        raise invalid("packageDetail.shipDate must be an ISO 8601 date-time.") from exc
    if order.fulfilled_by != "MERCHANT":
        raise invalid(f"Order {order_id} is fulfilled by Amazon; shipments cannot be confirmed.")
    if order.status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
        raise invalid(
            f"Order {order_id} has status {order.status}; only UNSHIPPED or "
            "PARTIALLY_SHIPPED orders can be confirmed."
        )
    lines = {line.order_item_id: line for line in order.lines}
    quantities: dict[str, int] = {}
    items = package["orderItems"]
    if not isinstance(items, list):
        raise invalid("packageDetail.orderItems must be a list.")
    for item in items:
        if not isinstance(item, dict) or not item.get("orderItemId"):
            raise invalid("Each orderItems entry needs an orderItemId.")
        item_id = str(item["orderItemId"])
        if item_id not in lines:
            raise invalid(f"orderItemId {item_id} is not part of order {order_id}.")
        quantity = item.get("quantity", lines[item_id].unshipped)
        if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
            raise invalid(f"quantity for orderItemId {item_id} must be a positive integer.")
        quantities[item_id] = quantities.get(item_id, 0) + quantity
    for item_id, quantity in quantities.items():
        if quantity > lines[item_id].unshipped:
            raise invalid(
                f"quantity {quantity} for orderItemId {item_id} exceeds the unshipped "
                f"quantity {lines[item_id].unshipped}."
            )
    state.confirm_shipment(order, package, ship_date, quantities)
    return 204, None


OPERATIONS = [
    Operation("/orders/2026-01-01/orders", "GET", "searchOrders", search_orders),
    Operation("/orders/2026-01-01/orders/<order_id>", "GET", "getOrder", get_order),
    Operation(
        "/orders/v0/orders/<order_id>/shipmentConfirmation",
        "POST",
        "confirmShipment",
        confirm_shipment,
    ),
]
