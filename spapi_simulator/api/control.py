"""The control API (``/_sim/...``): what tests, benchmarks and the demo use to steer the
simulated Amazon (create orders, change their status, inject faults, move the clock, read
counters). Not part of SP-API; no access token, no usage plan (docs/SIMULATOR.md).
"""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal, InvalidOperation

from werkzeug.wrappers import Request

from ..clock import isoformat, parse_iso
from ..data import (
    FBA_CHANNEL,
    FULFILLED_BY,
    FULFILLMENT_STATUSES,
    MARKETPLACE_ID,
    MARKETPLACES,
    Listing,
    Order,
    OrderLine,
)
from ..orders import RESTRICTED_ROLES
from ..returns import DISPOSITIONS, REFUND, RETURN_REASONS, transaction_json
from ..state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_SELLER_ID,
    FAULT_KINDS,
    Fault,
    SimState,
)
from . import OPERATION_IDS
from .common import ControlRoute, Result, invalid, json_body, not_found
from .sellers import NORTH_AMERICA


def _marketplace(value: object) -> str:
    """A control call's marketplace: Amazon.ca unless it names Amazon.com or Amazon.com.mx."""
    if value is None:
        return MARKETPLACE_ID
    if value not in MARKETPLACES:
        raise invalid(f"marketplaceId must be one of {', '.join(MARKETPLACES)}.")
    return str(value)


def sim_info(state: SimState, request: Request) -> Result:
    counts = dict.fromkeys(MARKETPLACES, 0)
    for order in state.orders.by_id.values():
        counts[order.marketplace_id] += 1
    return 200, {
        "seed": state.config.seed,
        "clock": isoformat(state.now()),
        "timeScale": state.clock.time_scale,
        "credentials": {
            "lwaClientId": DEFAULT_CLIENT_ID,
            "lwaClientSecret": DEFAULT_CLIENT_SECRET,
            "sellingPartnerId": DEFAULT_SELLER_ID,
            "refreshToken": "Atzr|simulator",
        },
        "marketplaceId": MARKETPLACE_ID,
        "orders": counts[MARKETPLACE_ID],
        "listings": len(state.listings),
        "marketplaces": {
            market.marketplace_id: {
                "name": market.name,
                "currency": market.currency,
                "fbaPool": market.fba_pool,
                "orders": counts[market.marketplace_id],
                "listings": len(state.catalogue(market.marketplace_id)),
            }
            for market in MARKETPLACES.values()
        },
    }


def sim_orders(state: SimState, request: Request) -> Result:
    if request.method == "GET":
        market = _marketplace(request.args.get("marketplaceId"))
        return 200, {
            "orders": [
                state.order_view(order)
                for order in state.orders.all_orders()
                if order.marketplace_id == market
            ]
        }
    body = json_body(request)
    market = _marketplace(body.get("marketplaceId"))
    listings = state.catalogue(market)
    count = body.get("count", 1)
    if isinstance(count, bool) or not isinstance(count, int) or not 1 <= count <= 10_000:
        raise invalid("count must be an integer between 1 and 10000.")
    status = body.get("fulfillmentStatus", "UNSHIPPED")
    if status not in FULFILLMENT_STATUSES:
        raise invalid(f"fulfillmentStatus must be one of {', '.join(FULFILLMENT_STATUSES)}.")
    fulfilled_by = body.get("fulfilledBy")
    if fulfilled_by is not None and fulfilled_by not in FULFILLED_BY:
        raise invalid("fulfilledBy must be MERCHANT or AMAZON.")
    skus = body.get("skus")
    if skus is not None:
        if (
            not isinstance(skus, list)
            or not skus
            or any(s not in listings or listings[s].is_parent for s in skus)
        ):
            raise invalid(
                "skus must be a non-empty list of buyable SKUs listed on "
                f"{MARKETPLACES[market].name}."
            )
        channels = {listings[s].fulfillment_channel for s in skus}
        if len(channels) > 1:
            raise invalid("skus must share one fulfilment channel.")
        implied = "AMAZON" if channels == {FBA_CHANNEL} else "MERCHANT"
        if fulfilled_by is not None and fulfilled_by != implied:
            raise invalid(f"skus are fulfilled by {implied}, not {fulfilled_by}.")
        fulfilled_by = implied
    elif fulfilled_by == "AMAZON" and not any(
        listing.is_fba and not listing.is_parent for listing in listings.values()
    ):
        raise invalid(f"No SKU is fulfilled by Amazon on {MARKETPLACES[market].name}.")
    created = None
    if body.get("createdTime"):
        try:
            created = parse_iso(str(body["createdTime"]))
        except ValueError as exc:
            raise invalid("createdTime must be an ISO 8601 date-time.") from exc
    orders = state.create_orders(
        count,
        status=status,
        fulfilled_by=fulfilled_by or "MERCHANT",
        skus=skus,
        created=created,
        marketplace_id=market,
    )
    return 201, {"orders": [state.order_view(order) for order in orders]}


def sim_order_status(state: SimState, request: Request, order_id: str) -> Result:
    order = state.orders.by_id.get(order_id)
    if order is None:
        raise not_found(f"Order {order_id} was not found.")
    status = json_body(request).get("fulfillmentStatus")
    if status not in FULFILLMENT_STATUSES:
        raise invalid(f"fulfillmentStatus must be one of {', '.join(FULFILLMENT_STATUSES)}.")
    state.set_order_status(order, str(status))
    return 200, state.order_view(order)


def sim_listings(state: SimState, request: Request) -> Result:
    market = _marketplace(request.args.get("marketplaceId"))
    return 200, {"listings": state.listings_view(market)}


FBA_COUNTS = {
    "fulfillable": "quantity",
    "reserved": "reserved",
    "inbound": "inbound",
    "unfulfillable": "unfulfillable",
}


def _fba_stock(state: SimState, body: dict[str, object]) -> tuple[str, Listing]:
    """The marketplace named (Amazon.ca by default) and the listing holding the SKU's counts
    in the fulfilment network serving it (Amazon.com and Amazon.com.mx: the US network)."""
    market = _marketplace(body.get("marketplaceId"))
    listing = state.catalogue(market).get(str(body.get("sku")))
    if listing is None or listing.fulfillment_channel != FBA_CHANNEL:
        raise invalid(f"sku must be one of the seller's FBA SKUs on {MARKETPLACES[market].name}.")
    return market, listing.stock


def _fba_counts(market: str, stock: Listing) -> dict[str, object]:
    return {
        "sku": stock.sku,
        "marketplaceId": market,
        "fbaPool": MARKETPLACES[market].fba_pool,
        **{n: getattr(stock, a) for n, a in FBA_COUNTS.items()},
    }


def sim_fba_inventory(state: SimState, request: Request) -> Result:
    """Move an FBA SKU's units as Amazon's network would (a receipt, a sale, damage): POST
    ``{"sku", "marketplaceId"?, "fulfillable"?, "reserved"?, "inbound"?, "unfulfillable"?}``
    (Amazon.ca by default; Amazon.com and Amazon.com.mx both change the US network's
    counts); its lastUpdatedTime becomes now, so an incremental getInventorySummaries sees it."""
    body = json_body(request)
    market, stock = _fba_stock(state, body)
    for name, attribute in FBA_COUNTS.items():
        if name not in body:
            continue
        units = body[name]
        if isinstance(units, bool) or not isinstance(units, int) or units < 0:
            raise invalid(f"{name} must be a non-negative whole number.")
        setattr(stock, attribute, units)
    stock.last_updated = state.now().replace(microsecond=0)
    state.fba_changed(stock, stock.last_updated)
    return 200, _fba_counts(market, stock)


def sim_fba_receive(state: SimState, request: Request) -> Result:
    """Amazon's network receives an inbound shipment: POST ``{"sku", "marketplaceId"?,
    "units"?}`` moves ``units`` (all inbound units when absent) from inbound to fulfillable."""
    body = json_body(request)
    market, stock = _fba_stock(state, body)
    units = body.get("units")
    if units is not None and (
        isinstance(units, bool) or not isinstance(units, int) or not 1 <= units <= stock.inbound
    ):
        raise invalid(
            f"units must be a whole number from 1 to the {stock.inbound} units inbound for "
            f"{stock.sku}."
        )
    if stock.inbound == 0:
        raise invalid(
            f"No units of {stock.sku} are inbound to the {MARKETPLACES[market].fba_pool} network."
        )
    state.receive_inbound(market, stock.sku, units)
    return 200, _fba_counts(market, stock)


def sim_shipments(state: SimState, request: Request) -> Result:
    return 200, {"shipments": list(state.shipments)}


def sim_faults(state: SimState, request: Request) -> Result:
    if request.method == "GET":
        return 200, {"faults": [f.as_json() for f in state.faults]}
    if request.method == "DELETE":
        state.faults.clear()
        return 200, {"faults": []}
    body = json_body(request)
    operation = body.get("operation", "*")
    kind = body.get("kind")
    if kind not in FAULT_KINDS:
        raise invalid(f"kind must be one of {', '.join(FAULT_KINDS)}.")
    known = ("*", "lwaToken", "documentDownload", "documentUpload", *OPERATION_IDS)
    if operation not in known:
        raise invalid(f"operation must be '*' or one of {', '.join(known[1:])}.")
    count = body.get("count", 1)
    seconds = body.get("seconds", 6.0)
    status = body.get("status")
    if isinstance(count, bool) or not isinstance(count, int) or count < 1:
        raise invalid("count must be a positive integer.")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or not 0 <= seconds <= 120:
        raise invalid("seconds must be a number between 0 and 120.")
    if status is not None and status not in (200, 500, 502, 503, 504):
        raise invalid("status must be 200, 500, 502, 503 or 504.")
    probability = body.get("probability")
    duration = body.get("duration")
    if probability is not None and (
        isinstance(probability, bool)
        or not isinstance(probability, int | float)
        or not 0 < probability <= 1
    ):
        raise invalid("probability must be a number above 0 and at most 1.")
    if duration is not None and (
        probability is None
        or isinstance(duration, bool)
        or not isinstance(duration, int | float)
        or duration <= 0
    ):
        raise invalid("duration (simulated seconds) needs a probability and must be positive.")
    fault = Fault(
        operation=str(operation),
        kind=str(kind),
        remaining=count,
        seconds=float(seconds),
        status=status,
        probability=None if probability is None else float(probability),
        until=(state.now() + timedelta(seconds=float(duration)) if duration is not None else None),
    )
    state.add_fault(fault)
    return 201, {"fault": fault.as_json(), "faults": [f.as_json() for f in state.faults]}


def sim_notifications(state: SimState, request: Request) -> Result:
    """Notifications: POST changes the delivery settings (``delaySeconds``, ``duplicateShare``,
    ``reorderShare``, ``reorderSeconds``, ``sqsEndpointUrl``); both answer them with the
    destinations, the subscriptions and the outbox (counters, last sent, last failures)."""
    settings = state.notification_settings
    if request.method == "POST":
        try:
            settings.update(json_body(request))
        except ValueError as error:
            raise invalid(str(error)) from error
        state.outbox.endpoint_url = settings.sqs_endpoint_url
    return 200, {
        "settings": settings.as_json(),
        "destinations": [d.as_json() for d in state.destinations.values()],
        "subscriptions": [
            {
                **s.as_json(),
                "notificationType": s.notification_type,
                "sellerId": s.seller_id,
            }
            for s in state.subscriptions.values()
        ],
        **state.outbox.snapshot(),
    }


def sim_roles(state: SimState, request: Request) -> Result:
    """The application's restricted roles (which personal data Amazon gives it)."""
    if request.method == "POST":
        roles = json_body(request).get("roles")
        if (
            not isinstance(roles, list)
            or any(not isinstance(role, str) for role in roles)
            or not set(roles) <= set(RESTRICTED_ROLES)
        ):
            raise invalid(
                f"roles must be a list of restricted roles among {', '.join(RESTRICTED_ROLES)}."
            )
        state.roles = frozenset(roles)
    return 200, {"roles": [role for role in RESTRICTED_ROLES if role in state.roles]}


def sim_revoke(state: SimState, request: Request) -> Result:
    body = json_body(request)
    token = body.get("refreshToken")
    return 200, {"revoked": state.revoke(str(token) if token else None)}


def sim_participations(state: SimState, request: Request) -> Result:
    """The seller's marketplace participations (getMarketplaceParticipations). POST
    ``{"marketplaceId", "isParticipating": true | false | null}``; null: not covered at all."""
    if request.method == "POST":
        body = json_body(request)
        marketplace_id = body.get("marketplaceId")
        participating = body.get("isParticipating")
        if marketplace_id not in NORTH_AMERICA:
            raise invalid(f"marketplaceId must be one of {', '.join(NORTH_AMERICA)}.")
        if participating is None:
            state.participations.pop(marketplace_id, None)
        elif isinstance(participating, bool):
            state.participations[marketplace_id] = participating
        else:
            raise invalid("isParticipating must be true, false or null.")
    return 200, {"participations": dict(state.participations)}


def sim_reset(state: SimState, request: Request) -> Result:
    body = json_body(request)
    seed = body.get("seed", state.config.seed)
    if isinstance(seed, bool) or not isinstance(seed, int):
        raise invalid("seed must be an integer.")
    state.reset(seed)
    return 200, {"seed": seed, "clock": isoformat(state.now())}


def sim_counters(state: SimState, request: Request) -> Result:
    return 200, {
        "operations": {name: counter.as_json() for name, counter in sorted(state.counters.items())},
        "clock": isoformat(state.now()),
    }


def sim_clock(state: SimState, request: Request) -> Result:
    return 200, {"clock": isoformat(state.now()), "timeScale": state.clock.time_scale}


def sim_clock_advance(state: SimState, request: Request) -> Result:
    seconds = json_body(request).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise invalid("seconds must be a non-negative number.")
    state.clock.advance(float(seconds))
    return 200, {"clock": isoformat(state.tick())}


ROUTES = [
    ControlRoute("/_sim", ("GET",), "sim_info", sim_info),
    ControlRoute("/_sim/orders", ("GET", "POST"), "sim_orders", sim_orders),
    ControlRoute("/_sim/orders/<order_id>/status", ("POST",), "sim_order_status", sim_order_status),
    ControlRoute("/_sim/listings", ("GET",), "sim_listings", sim_listings),
    ControlRoute("/_sim/shipments", ("GET",), "sim_shipments", sim_shipments),
    ControlRoute("/_sim/fba-inventory", ("POST",), "sim_fba_inventory", sim_fba_inventory),
    ControlRoute("/_sim/fba-inventory/receive", ("POST",), "sim_fba_receive", sim_fba_receive),
    ControlRoute("/_sim/faults", ("GET", "POST", "DELETE"), "sim_faults", sim_faults),
    ControlRoute("/_sim/participations", ("GET", "POST"), "sim_participations", sim_participations),
    ControlRoute("/_sim/roles", ("GET", "POST"), "sim_roles", sim_roles),
    ControlRoute("/_sim/notifications", ("GET", "POST"), "sim_notifications", sim_notifications),
    ControlRoute("/_sim/auth/revoke", ("POST",), "sim_revoke", sim_revoke),
    ControlRoute("/_sim/reset", ("POST",), "sim_reset", sim_reset),
    ControlRoute("/_sim/counters", ("GET",), "sim_counters", sim_counters),
    ControlRoute("/_sim/clock", ("GET",), "sim_clock", sim_clock),
    ControlRoute("/_sim/clock/advance", ("POST",), "sim_clock_advance", sim_clock_advance),
]


def _order(state: SimState, order_id: object) -> Order:
    order = state.orders.by_id.get(str(order_id)) if order_id else None
    if order is None:
        raise not_found(f"Order {order_id} was not found.")
    return order


def _line(order: Order, item_id: object) -> OrderLine:
    if item_id is None:
        return order.lines[0]
    for line in order.lines:
        if line.order_item_id == str(item_id):
            return line
    raise invalid(f"orderItemId {item_id} is not part of order {order.order_id}.")


def sim_returns(state: SimState, request: Request) -> Result:
    """GET: the returns (``orderId`` filters); POST: a buyer returns units of a line now."""
    if request.method == "GET":
        order_id = request.args.get("orderId")
        return 200, {
            "returns": [
                item.as_json()
                for item in state.returns.values()
                if order_id is None or item.order_id == order_id
            ]
        }
    body = json_body(request)
    order = _order(state, body.get("orderId"))
    line = _line(order, body.get("orderItemId"))
    returnable = line.quantity_shipped - state.returned_quantity(order, line)
    quantity = body.get("quantity", returnable)
    if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
        raise invalid("quantity must be a positive integer.")
    if quantity > returnable:
        raise invalid(
            f"quantity {quantity} exceeds the {returnable} shipped unit(s) of orderItemId "
            f"{line.order_item_id} not returned yet."
        )
    reason = body.get("reason")
    if reason is not None and reason not in RETURN_REASONS:
        raise invalid(f"reason must be one of {', '.join(RETURN_REASONS)}.")
    disposition = body.get("disposition")
    if disposition is not None and disposition not in DISPOSITIONS:
        raise invalid(f"disposition must be one of {', '.join(DISPOSITIONS)}.")
    arrives = body.get("arrivesAfterSeconds", 5 * 86400)
    if isinstance(arrives, bool) or not isinstance(arrives, int | float) or arrives < 0:
        raise invalid("arrivesAfterSeconds must be a non-negative number.")
    refund = body.get("refund", True)
    if not isinstance(refund, bool):
        raise invalid("refund must be true or false.")
    item = state.create_return(
        order,
        line,
        quantity,
        reason=reason,
        arrives_after=float(arrives),
        disposition=disposition,
        refund=refund,
    )
    return 201, {"return": item.as_json()}


def sim_refunds(state: SimState, request: Request) -> Result:
    """POST: a concession, a refund without a return, of ``amount`` (the order's currency) on
    one line; GET: every refund transaction as ``listTransactions`` returns it."""
    if request.method == "GET":
        return 200, {
            "refunds": [
                {**transaction_json(t), "returnId": t.return_id}
                for t in state.transactions
                if t.transaction_type == REFUND
            ]
        }
    body = json_body(request)
    order = _order(state, body.get("orderId"))
    line = _line(order, body.get("orderItemId"))
    if not line.quantity_shipped:
        raise invalid(f"orderItemId {line.order_item_id} has not shipped; nothing to refund.")
    amount = body.get("amount")
    cents: int | None = None
    if amount is not None:
        try:
            cents = round(Decimal(str(amount)) * 100)
        except (InvalidOperation, ValueError):
            raise invalid('amount must be a decimal number such as "4.50".') from None
        if not 0 < cents <= line.item_cents:
            raise invalid(
                f"amount must be above 0 and at most the line's {line.item_cents / 100:.2f}."
            )
    transaction = state._concession(order, state.tick().replace(microsecond=0), line, cents)
    return 201, {"refund": transaction_json(transaction)}


def sim_cancel_request(state: SimState, request: Request, order_id: str) -> Result:
    """A buyer asks to cancel an unshipped merchant order now."""
    order = _order(state, order_id)
    reason = json_body(request).get("reason", "No longer needed")
    if not isinstance(reason, str) or not reason:
        raise invalid("reason must be a non-empty string.")
    if order.fulfilled_by != "MERCHANT" or order.status not in ("PENDING", "UNSHIPPED"):
        raise invalid(
            f"Order {order.order_id} is {order.fulfilled_by} / {order.status}: a buyer can ask to "
            "cancel only an unshipped merchant order."
        )
    state.request_cancellation(order, state.tick().replace(microsecond=0), reason)
    return 200, {"order": state.order_view(order)}


ROUTES += [
    ControlRoute("/_sim/returns", ("GET", "POST"), "sim_returns", sim_returns),
    ControlRoute("/_sim/refunds", ("GET", "POST"), "sim_refunds", sim_refunds),
    ControlRoute(
        "/_sim/orders/<order_id>/cancel-request",
        ("POST",),
        "sim_cancel_request",
        sim_cancel_request,
    ),
]
