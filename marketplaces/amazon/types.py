"""Typed views of Amazon's JSON, parsed once at the edge.

Parsing is strict about what the product depends on (ids, times, status, SKUs, quantities,
money) and lenient about everything else, so a new optional field from Amazon never breaks a
sync while a broken payload is an error with a reason instead of a silently wrong order.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketplaces.amazon.errors import AmazonPayloadError

ZERO = Decimal("0.00")
# Money columns hold 12 digits with 2 decimals; anything larger is not a real order.
MAX_AMOUNT = Decimal("1e10")

# includedData the product asks searchOrders for. BUYER and RECIPIENT (personal data) are added
# only for merchant-fulfilled orders still to ship (Amazon's Data Protection Policy: ask only
# for what is needed).
ORDER_DATA = ("FULFILLMENT", "PROCEEDS", "TAX", "PROMOTION", "CANCELLATION")
PERSONAL_DATA = ("BUYER", "RECIPIENT")


def parse_time(value: Any, what: str) -> datetime:
    if not isinstance(value, str):
        raise AmazonPayloadError(f"{what} is missing")
    try:
        moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    except ValueError as exc:
        raise AmazonPayloadError(f"{what} is not an ISO 8601 time: {value!r}") from exc
    if moment.tzinfo is None:
        raise AmazonPayloadError(f"{what} has no time zone: {value!r}")
    return moment


def parse_money(value: Any, what: str) -> Decimal:
    """Amazon's Money: {"amount": "12.34", "currencyCode": "CAD"}; absent means zero."""
    if value is None:
        return ZERO
    if not isinstance(value, dict) or "amount" not in value:
        raise AmazonPayloadError(f"{what} is not a Money object")
    try:
        amount = Decimal(str(value["amount"])).quantize(Decimal("0.01"))
    except InvalidOperation as exc:
        raise AmazonPayloadError(f"{what} amount is not a number: {value['amount']!r}") from exc
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise AmazonPayloadError(f"{what} amount is out of range: {value['amount']!r}")
    return amount


def _dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _text(value: Any) -> str:
    """Free text from Amazon (titles, names): a NUL byte no database column takes is dropped."""
    return str(value or "").replace("\x00", "")


def _identifier(value: Any, what: str) -> str:
    """An id or SKU Amazon sent: kept exactly, or refused if no column could store it."""
    if not isinstance(value, str) or not value.strip():
        raise AmazonPayloadError(f"{what} is missing")
    if "\x00" in value:
        raise AmazonPayloadError(f"{what} contains a NUL character")
    return value


@dataclass(frozen=True)
class AmazonOrderItem:
    order_item_id: str
    seller_sku: str
    asin: str
    title: str
    quantity: int
    quantity_shipped: int
    unit_price: Decimal
    item_subtotal: Decimal
    shipping: Decimal
    item_tax: Decimal
    shipping_tax: Decimal
    gift_wrap_tax: Decimal
    item_discount: Decimal
    shipping_discount: Decimal
    marketplace_collects_tax: bool
    # cancellation.cancellationRequest: the buyer asked to cancel this item (with a reason).
    buyer_cancel_requested: bool = False
    buyer_cancel_reason: str = ""
    # cancellation.cancellationExecution.cancelledBy: the item was cancelled (BUYER, MERCHANT,
    # AMAZON); on an order that is not cancelled, a line cancelled on its own.
    cancelled_by: str = ""


@dataclass(frozen=True)
class AmazonOrder:
    order_id: str
    created: datetime
    last_updated: datetime
    status: str
    fulfilled_by: str
    marketplace_id: str
    currency: str
    items: tuple[AmazonOrderItem, ...]
    grand_total: Decimal | None
    buyer_name: str = ""
    buyer_email: str = ""
    buyer_phone: str = ""
    delivery_address: dict[str, Any] | None = None
    delivered: datetime | None = None
    shipped: datetime | None = None
    # Amazon's ship-by date (fulfillment.shipByWindow.latestDateTime); the orders report has
    # no column for it, so orders read from a report leave it unknown.
    latest_ship: datetime | None = None
    # The answer was asked for BUYER and RECIPIENT: what it lacks of them, Amazon withheld.
    personal_data_requested: bool = False
    # Read from an ORDER_CHANGE notification (``order_from_notification``), not from Amazon's
    # order: no amounts, titles or buyer, to be completed by the next fetch.
    from_notification: bool = False
    # Read from an orders report: amounts, but no order item ids to match lines by.
    from_report: bool = False
    # A merchant order to ship whose buyer Amazon could not be asked for now (getOrder's quota
    # spent, Amazon down): imported without it, awaiting its details.
    buyer_data_deferred: bool = False

    @property
    def completes_details(self) -> bool:
        """Amazon's own view of the order, with its item ids: what completes an order that was
        imported from its notification."""
        return not (self.from_notification or self.from_report)

    @property
    def is_merchant_fulfilled(self) -> bool:
        return self.fulfilled_by == "MERCHANT"

    @property
    def buyer_cancel_requested(self) -> bool:
        return any(item.buyer_cancel_requested for item in self.items)

    @property
    def buyer_cancel_reason(self) -> str:
        return next((i.buyer_cancel_reason for i in self.items if i.buyer_cancel_reason), "")

    @property
    def has_address(self) -> bool:
        """The street and postal code, not only the city and province Amazon gives any app."""
        address = self.delivery_address or {}
        return bool(address.get("addressLine1") or address.get("postalCode"))


def _breakdown(breakdowns: Any) -> dict[str, dict[str, Any]]:
    return {str(entry.get("type")): entry for entry in breakdowns or [] if isinstance(entry, dict)}


def _detail(entry: dict[str, Any] | None, subtype: str, what: str) -> Decimal:
    if not entry:
        return ZERO
    for detail in entry.get("detailedBreakdowns") or []:
        if isinstance(detail, dict) and detail.get("subtype") == subtype:
            return parse_money(detail.get("value"), f"{what} {subtype}")
    return ZERO


def parse_order_item(raw: Any, order_id: str) -> AmazonOrderItem:
    if not isinstance(raw, dict):
        raise AmazonPayloadError(f"order {order_id}: an order item is not an object")
    quantity = raw.get("quantityOrdered")
    product = _dict(raw.get("product"))
    item_id = _identifier(raw.get("orderItemId"), f"order {order_id}: an orderItemId")
    if not isinstance(quantity, int) or quantity < 0:
        raise AmazonPayloadError(f"order {order_id} item {item_id}: bad quantityOrdered")
    sku = _identifier(product.get("sellerSku"), f"order {order_id} item {item_id}: sellerSku")
    where = f"order {order_id} item {item_id}"
    proceeds = _breakdown(_dict(raw.get("proceeds")).get("breakdowns"))
    unit_price = parse_money(_dict(product.get("price")).get("unitPrice"), f"{where} unitPrice")
    item_subtotal = (
        parse_money(proceeds["ITEM"].get("subtotal"), f"{where} ITEM")
        if "ITEM" in proceeds
        else unit_price * quantity
    )
    tax = proceeds.get("TAX")
    discount = proceeds.get("DISCOUNT")
    collections = _dict(raw.get("tax")).get("taxCollections") or []
    fulfillment = _dict(raw.get("fulfillment"))
    shipped = fulfillment.get("quantityFulfilled", 0)
    cancellation = _dict(raw.get("cancellation"))
    request = _dict(cancellation.get("cancellationRequest"))
    execution = _dict(cancellation.get("cancellationExecution"))
    return AmazonOrderItem(
        order_item_id=item_id,
        seller_sku=sku,
        asin=_text(product.get("asin")),
        title=_text(product.get("title")),
        quantity=quantity,
        quantity_shipped=shipped if isinstance(shipped, int) and 0 <= shipped <= quantity else 0,
        unit_price=unit_price,
        item_subtotal=item_subtotal,
        shipping=parse_money(_dict(proceeds.get("SHIPPING")).get("subtotal"), f"{where} SHIPPING"),
        item_tax=_detail(tax, "ITEM", f"{where} TAX"),
        shipping_tax=_detail(tax, "SHIPPING", f"{where} TAX"),
        gift_wrap_tax=_detail(tax, "GIFT_WRAP", f"{where} TAX"),
        # Amazon reports discounts as negative amounts; the product stores them positive.
        item_discount=-_detail(discount, "ITEM", f"{where} DISCOUNT"),
        shipping_discount=-_detail(discount, "SHIPPING", f"{where} DISCOUNT"),
        marketplace_collects_tax=any(
            isinstance(c, dict) and c.get("model") == "MARKETPLACE_FACILITATOR" for c in collections
        ),
        buyer_cancel_requested=_text(request.get("requester")) == "BUYER",
        buyer_cancel_reason=_text(request.get("cancelReason"))[:500],
        cancelled_by=_text(execution.get("cancelledBy")),
    )


def parse_order(raw: Any, *, personal_data_requested: bool = False) -> AmazonOrder:
    if not isinstance(raw, dict):
        raise AmazonPayloadError("an order is not an object")
    order_id = _identifier(raw.get("orderId"), "an order's orderId")
    fulfillment = _dict(raw.get("fulfillment"))
    status = fulfillment.get("fulfillmentStatus")
    if not isinstance(status, str) or not status:
        raise AmazonPayloadError(f"order {order_id}: no fulfillment.fulfillmentStatus")
    raw_items = raw.get("orderItems")
    if not isinstance(raw_items, list):
        raise AmazonPayloadError(f"order {order_id}: orderItems is missing")
    items = tuple(parse_order_item(item, order_id) for item in raw_items)
    proceeds = _dict(raw.get("proceeds"))
    grand_total = proceeds.get("grandTotal")
    buyer = _dict(raw.get("buyer"))
    address = _dict(raw.get("recipient")).get("deliveryAddress")
    currency = _dict(grand_total).get("currencyCode") or "CAD"
    shipped_times = [
        parse_time(p.get("shipTime"), f"order {order_id} package shipTime")
        for p in raw.get("packages") or []
        if isinstance(p, dict) and p.get("shipTime")
    ]
    return AmazonOrder(
        order_id=order_id,
        created=parse_time(raw.get("createdTime"), f"order {order_id} createdTime"),
        last_updated=parse_time(raw.get("lastUpdatedTime"), f"order {order_id} lastUpdatedTime"),
        status=status,
        fulfilled_by=str(fulfillment.get("fulfilledBy") or "MERCHANT"),
        marketplace_id=str(_dict(raw.get("salesChannel")).get("marketplaceId") or ""),
        currency=str(currency),
        items=items,
        grand_total=parse_money(grand_total, f"order {order_id} grandTotal")
        if grand_total
        else None,
        buyer_name=_text(buyer.get("buyerName")),
        buyer_email=_text(buyer.get("buyerEmail")),
        buyer_phone=_text(_dict(address).get("phone")),
        delivery_address=(
            {str(k): _text(v) if isinstance(v, str) else v for k, v in address.items()}
            if isinstance(address, dict)
            else None
        ),
        shipped=max(shipped_times) if shipped_times else None,
        latest_ship=_latest_ship(order_id, fulfillment),
        personal_data_requested=personal_data_requested,
    )


def _latest_ship(order_id: str, fulfillment: dict[str, Any]) -> datetime | None:
    window = _dict(fulfillment.get("shipByWindow"))
    latest = window.get("latestDateTime")
    if not latest:
        return None
    return parse_time(latest, f"order {order_id} shipByWindow.latestDateTime")


@dataclass(frozen=True)
class OrdersPage:
    orders: tuple[AmazonOrder, ...]
    next_token: str | None
    # Amazon's own upper bound of the data it searched (its clock, not ours).
    last_updated_before: datetime | None = None
    # Orders whose JSON could not be parsed: (order id or "?", reason). They are recorded as
    # failed sync records; the rest of the page carries on.
    invalid: tuple[tuple[str, str], ...] = field(default=())


def parse_orders_page(payload: Any, *, personal_data_requested: bool = False) -> OrdersPage:
    if not isinstance(payload, dict) or not isinstance(payload.get("orders"), list):
        raise AmazonPayloadError("searchOrders answered without an orders list")
    orders: list[AmazonOrder] = []
    invalid: list[tuple[str, str]] = []
    for raw in payload["orders"]:
        try:
            orders.append(parse_order(raw, personal_data_requested=personal_data_requested))
        except AmazonPayloadError as error:
            order_id = raw.get("orderId") if isinstance(raw, dict) else None
            invalid.append((str(order_id or "?"), str(error)))
    next_token = _dict(payload.get("pagination")).get("nextToken")
    bound = payload.get("lastUpdatedBefore")
    return OrdersPage(
        orders=tuple(orders),
        next_token=next_token or None,
        last_updated_before=parse_time(bound, "lastUpdatedBefore") if bound else None,
        invalid=tuple(invalid),
    )


@dataclass(frozen=True)
class ReportStatus:
    report_id: str
    status: str  # IN_QUEUE, IN_PROGRESS, DONE, CANCELLED, FATAL
    document_id: str | None


@dataclass(frozen=True)
class FeedStatus:
    feed_id: str
    status: str  # IN_QUEUE, IN_PROGRESS, DONE, CANCELLED, FATAL
    result_document_id: str | None


@dataclass(frozen=True)
class MarketplaceParticipation:
    """One marketplace a seller's authorization covers (Sellers API)."""

    marketplace_id: str
    country_code: str
    is_participating: bool
    has_suspended_listings: bool
    store_name: str


def parse_participations(payload: Any) -> list[MarketplaceParticipation]:
    if not isinstance(payload, list):
        raise AmazonPayloadError("getMarketplaceParticipations answered without a list")
    parsed = []
    for entry in payload:
        marketplace = _dict(_dict(entry).get("marketplace"))
        participation = _dict(_dict(entry).get("participation"))
        if not isinstance(marketplace.get("id"), str) or not isinstance(
            participation.get("isParticipating"), bool
        ):
            raise AmazonPayloadError("a marketplace participation has no id or isParticipating")
        parsed.append(
            MarketplaceParticipation(
                marketplace_id=marketplace["id"],
                country_code=str(marketplace.get("countryCode") or ""),
                is_participating=participation["isParticipating"],
                has_suspended_listings=participation.get("hasSuspendedListings") is True,
                store_name=_text(_dict(entry).get("storeName")),
            )
        )
    return parsed


@dataclass(frozen=True)
class ListingQuantity:
    seller_sku: str
    quantity: int | None
    fulfillment_channel_code: str
    product_type: str


@dataclass(frozen=True)
class ListingRow:
    """One row of the GET_MERCHANT_LISTINGS_ALL_DATA report."""

    seller_sku: str
    title: str
    asin: str
    price: Decimal | None
    quantity: int | None
    fulfilled_by_amazon: bool


def parse_listings_report(text: str) -> tuple[list[ListingRow], list[tuple[str, str]]]:
    """Rows, and (sku or line number, reason) for rows that cannot be read."""
    lines = text.splitlines()
    if not lines:
        raise AmazonPayloadError("the listings report is empty")
    header = lines[0].lstrip("\ufeff").split("\t")
    if "seller-sku" not in header:
        raise AmazonPayloadError("the listings report has no seller-sku column")
    rows: list[ListingRow] = []
    bad: list[tuple[str, str]] = []
    for number, line in enumerate(lines[1:], start=2):
        if not line.strip():
            continue
        values = dict(zip(header, line.split("\t"), strict=False))
        sku = (values.get("seller-sku") or "").strip()
        if not sku or "\x00" in sku:
            bad.append((f"line {number}", "the row has no usable seller-sku"))
            continue
        channel = (values.get("fulfillment-channel") or "DEFAULT").strip().upper()
        try:
            quantity_text = (values.get("quantity") or "").strip()
            quantity = int(quantity_text) if quantity_text else None
            price_text = (values.get("price") or "").strip()
            price = Decimal(price_text) if price_text else None
        except (ValueError, InvalidOperation):
            bad.append((sku, "quantity or price is not a number"))
            continue
        rows.append(
            ListingRow(
                seller_sku=sku,
                title=_text(values.get("item-name")).strip(),
                asin=_text(values.get("asin1") or values.get("product-id")).strip(),
                price=price,
                quantity=quantity,
                fulfilled_by_amazon=channel != "DEFAULT",
            )
        )
    return rows, bad


@dataclass(frozen=True)
class ListingDetails:
    """What searchListingsItems says of a SKU beyond the report: its type and variation."""

    seller_sku: str
    product_type: str
    variation_attributes: tuple[str, ...]
    is_variation_parent: bool
    # Merchant-fulfilled quantity Amazon lists now (when fulfillmentAvailability was asked for).
    quantity: int | None = None


def parse_listing_details(raw: Any) -> ListingDetails | None:
    if not isinstance(raw, dict) or not isinstance(raw.get("sku"), str):
        return None
    summaries = raw.get("summaries") or []
    product_type = ""
    if summaries and isinstance(summaries[0], dict):
        product_type = str(summaries[0].get("productType") or "")
    attributes: tuple[str, ...] = ()
    parent = False
    for by_marketplace in raw.get("relationships") or []:
        for relation in _dict(by_marketplace).get("relationships") or []:
            relation = _dict(relation)
            if relation.get("type") != "VARIATION":
                continue
            theme = _dict(relation.get("variationTheme"))
            attributes = tuple(str(a) for a in theme.get("attributes") or [])
            parent = parent or bool(relation.get("childSkus"))
    quantity: int | None = None
    for entry in raw.get("fulfillmentAvailability") or []:
        entry = _dict(entry)
        if entry.get("fulfillmentChannelCode") == "DEFAULT" and isinstance(
            entry.get("quantity"), int
        ):
            quantity = entry["quantity"]
    return ListingDetails(raw["sku"], product_type, attributes, parent, quantity)


REPORT_STATUSES = {
    "pending": "PENDING",
    "unshipped": "UNSHIPPED",
    "partiallyshipped": "PARTIALLY_SHIPPED",
    "shipped": "SHIPPED",
    "shipping": "SHIPPED",
    "cancelled": "CANCELLED",
    "canceled": "CANCELLED",
    "unfulfillable": "UNFULFILLABLE",
}


def parse_orders_report(text: str) -> tuple[list[AmazonOrder], list[tuple[str, str]]]:
    """GET_FLAT_FILE_ALL_ORDERS_DATA_BY_*: one row per order item, grouped into orders.

    The flat file has no order item ids; lines get stable ids from their position
    (``report:<sku>:<n>``), which is enough for orders that need no shipment confirmation.
    """
    lines = text.splitlines()
    if not lines:
        raise AmazonPayloadError("the orders report is empty")
    header = lines[0].lstrip("\ufeff").split("\t")
    if "amazon-order-id" not in header:
        raise AmazonPayloadError("the orders report has no amazon-order-id column")
    grouped: dict[str, list[dict[str, str]]] = {}
    for line in lines[1:]:
        if line.strip():
            values = dict(zip(header, line.split("\t"), strict=False))
            grouped.setdefault(values.get("amazon-order-id", "").strip(), []).append(values)
    orders: list[AmazonOrder] = []
    bad: list[tuple[str, str]] = []
    for order_id, rows in grouped.items():
        try:
            orders.append(_order_from_report_rows(order_id, rows))
        except (AmazonPayloadError, ValueError, InvalidOperation) as error:
            bad.append((order_id or "?", f"unreadable report row: {error}"))
    return orders, bad


def _report_money(row: dict[str, str], column: str) -> Decimal:
    text = (row.get(column) or "").strip()
    if not text:
        return ZERO
    return parse_money({"amount": text}, column)


def _order_from_report_rows(order_id: str, rows: list[dict[str, str]]) -> AmazonOrder:
    order_id = _identifier(order_id, "a row's amazon-order-id")
    first = rows[0]
    status_text = (first.get("order-status") or "").strip().lower().replace(" ", "")
    status = REPORT_STATUSES.get(status_text)
    if status is None:
        raise AmazonPayloadError(f"unknown order-status {first.get('order-status')!r}")
    items = []
    for position, row in enumerate(rows, start=1):
        sku = _identifier((row.get("sku") or "").strip(), f"order {order_id}: a row's sku")
        quantity = int((row.get("quantity") or "0").strip() or 0)
        subtotal = _report_money(row, "item-price")
        shipped = quantity if (row.get("item-status") or "").strip().lower() == "shipped" else 0
        items.append(
            AmazonOrderItem(
                order_item_id=f"report:{sku}:{position}",
                seller_sku=sku,
                asin=_text(row.get("asin")).strip(),
                title=_text(row.get("product-name")).strip(),
                quantity=quantity,
                quantity_shipped=shipped,
                unit_price=(subtotal / quantity).quantize(Decimal("0.01")) if quantity else ZERO,
                item_subtotal=subtotal,
                shipping=_report_money(row, "shipping-price"),
                item_tax=_report_money(row, "item-tax"),
                shipping_tax=_report_money(row, "shipping-tax"),
                gift_wrap_tax=_report_money(row, "gift-wrap-tax"),
                item_discount=-_report_money(row, "item-promotion-discount"),
                shipping_discount=-_report_money(row, "ship-promotion-discount"),
                marketplace_collects_tax=True,  # Amazon.ca collects as marketplace facilitator
            )
        )
    fulfilled_by = (
        "AMAZON"
        if (first.get("fulfillment-channel") or "").strip().lower() == "amazon"
        else "MERCHANT"
    )
    return AmazonOrder(
        order_id=order_id,
        created=parse_time(first.get("purchase-date"), f"order {order_id} purchase-date"),
        last_updated=parse_time(
            first.get("last-updated-date"), f"order {order_id} last-updated-date"
        ),
        status=status,
        fulfilled_by=fulfilled_by,
        marketplace_id="",
        currency=(first.get("currency") or "CAD").strip() or "CAD",
        items=tuple(items),
        grand_total=None,
        from_report=True,
    )


def order_from_notification(
    order_id: str, summary: Any, *, status: str, event_time: datetime, currency: str
) -> AmazonOrder:
    """What an ORDER_CHANGE notification's Summary says of an order (OrderChangeNotification
    .json), as an order with no amounts, titles or buyer: its lines, quantities, status,
    purchase and ship-by dates. Amazon's time of the change stands for its lastUpdatedTime.

    Only an OrderLevel notification lists every item of the order (an OrderItemLevel one
    lists one): the caller reads no other."""
    summary = _dict(summary)
    order_id = _identifier(order_id, "the notification's AmazonOrderId")
    raw_items = summary.get("OrderItems")
    if not isinstance(raw_items, list) or not raw_items:
        raise AmazonPayloadError(f"order {order_id}: the notification lists no OrderItems")
    items = []
    for raw in raw_items:
        raw = _dict(raw)
        quantity = raw.get("Quantity")
        shipped = raw.get("QuantityShipped") or 0
        if not isinstance(quantity, int) or isinstance(quantity, bool) or quantity < 0:
            raise AmazonPayloadError(f"order {order_id}: an item's Quantity is not a count")
        if not isinstance(shipped, int) or isinstance(shipped, bool) or shipped < 0:
            raise AmazonPayloadError(f"order {order_id}: an item's QuantityShipped is not a count")
        items.append(
            AmazonOrderItem(
                order_item_id=_identifier(raw.get("OrderItemId"), f"order {order_id} OrderItemId"),
                seller_sku=_identifier(raw.get("SellerSKU"), f"order {order_id} SellerSKU"),
                asin="",
                title="",
                quantity=quantity,
                quantity_shipped=min(shipped, quantity),
                unit_price=ZERO,
                item_subtotal=ZERO,
                shipping=ZERO,
                item_tax=ZERO,
                shipping_tax=ZERO,
                gift_wrap_tax=ZERO,
                item_discount=ZERO,
                shipping_discount=ZERO,
                marketplace_collects_tax=True,
            )
        )
    latest_ship = summary.get("LatestShipDate")
    return AmazonOrder(
        order_id=order_id,
        created=parse_time(summary.get("PurchaseDate"), f"order {order_id} PurchaseDate"),
        last_updated=event_time,
        status=status,
        fulfilled_by="AMAZON" if summary.get("FulfillmentType") == "AFN" else "MERCHANT",
        marketplace_id=_text(summary.get("MarketplaceId")),
        currency=currency,
        items=tuple(items),
        grand_total=None,
        latest_ship=(
            parse_time(latest_ship, f"order {order_id} LatestShipDate") if latest_ship else None
        ),
        from_notification=True,
    )


@dataclass(frozen=True)
class FbaInventory:
    """One SKU's units in Amazon's fulfillment network (getInventorySummaries with details)."""

    seller_sku: str
    fulfillable: int
    reserved: int
    inbound: int
    unfulfillable: int
    last_updated: datetime | None = None  # Amazon's clock; optional in Amazon's model


def parse_inventory_summaries(payload: Any) -> tuple[list[FbaInventory], list[tuple[str, str]]]:
    """The page's summaries, and (SKU, reason) for each one that cannot be read: one bad
    summary does not hold up the others."""
    summaries = _dict(payload).get("inventorySummaries")
    if not isinstance(summaries, list):
        raise AmazonPayloadError("getInventorySummaries answered without inventorySummaries")
    read: list[FbaInventory] = []
    unreadable: list[tuple[str, str]] = []
    for raw in summaries:
        raw = _dict(raw)
        sku = raw.get("sellerSku")
        try:
            read.append(_inventory(raw))
        except AmazonPayloadError as error:
            unreadable.append((sku if isinstance(sku, str) and sku else "?", str(error)))
    return read, unreadable


def _inventory(raw: dict[str, Any]) -> FbaInventory:
    sku = _identifier(raw.get("sellerSku"), "sellerSku")
    details = raw.get("inventoryDetails")
    if not isinstance(details, dict):
        raise AmazonPayloadError(f"{sku}: inventoryDetails is missing (ask with details=true)")

    def units(value: Any, what: str) -> int:
        if value is None:
            return 0
        if not isinstance(value, int) or isinstance(value, bool) or value < 0:
            raise AmazonPayloadError(f"{sku}: {what} is not a count of units: {value!r}")
        return value

    updated = raw.get("lastUpdatedTime")
    return FbaInventory(
        last_updated=parse_time(updated, f"{sku}: lastUpdatedTime") if updated else None,
        seller_sku=sku,
        fulfillable=units(details.get("fulfillableQuantity"), "fulfillableQuantity"),
        reserved=units(
            _dict(details.get("reservedQuantity")).get("totalReservedQuantity"),
            "totalReservedQuantity",
        ),
        inbound=sum(
            units(details.get(name), name)
            for name in (
                "inboundWorkingQuantity",
                "inboundShippedQuantity",
                "inboundReceivingQuantity",
            )
        ),
        unfulfillable=units(
            _dict(details.get("unfulfillableQuantity")).get("totalUnfulfillableQuantity"),
            "totalUnfulfillableQuantity",
        ),
    )


# -- Notifications ----------------------------------------------------------------------------


@dataclass(frozen=True)
class NotificationDestination:
    """An SQS destination of the application (Notifications API ``Destination``)."""

    destination_id: str
    name: str
    queue_arn: str  # "" for a destination that is not an SQS queue (EventBridge)


@dataclass(frozen=True)
class NotificationSubscription:
    """One subscription of the seller and application (Notifications API ``Subscription``)."""

    subscription_id: str
    payload_version: str
    destination_id: str
    processing_directive: dict[str, Any] | None = None


def parse_destination(raw: Any) -> NotificationDestination:
    raw = _dict(raw)
    resource = _dict(raw.get("resource"))
    return NotificationDestination(
        destination_id=_identifier(raw.get("destinationId"), "destinationId"),
        name=_text(raw.get("name")),
        queue_arn=_text(_dict(resource.get("sqs")).get("arn")),
    )


def parse_subscription(raw: Any) -> NotificationSubscription:
    raw = _dict(raw)
    directive = raw.get("processingDirective")
    return NotificationSubscription(
        subscription_id=_identifier(raw.get("subscriptionId"), "subscriptionId"),
        payload_version=_text(raw.get("payloadVersion")),
        destination_id=_identifier(raw.get("destinationId"), "destinationId"),
        processing_directive=directive if isinstance(directive, dict) else None,
    )


@dataclass(frozen=True)
class XmlProcessingReport:
    """Amazon's XML ProcessingReport of an order feed: how many messages it processed and,
    per refused message id, why."""

    processed: int
    errors: dict[str, str]


def parse_xml_processing_report(text: str) -> XmlProcessingReport:
    """Read a ProcessingReport; a document that is not one is a payload error. DOCTYPE and
    entity declarations are refused before parsing (no entity expansion, no external fetch)."""
    import xml.etree.ElementTree as ET  # noqa: S405 - declarations are refused first

    upper = text.upper()
    if "<!DOCTYPE" in upper or "<!ENTITY" in upper:
        raise AmazonPayloadError("the feed processing report declares a DOCTYPE or an entity")
    try:
        root = ET.fromstring(text.encode("utf-8"))  # noqa: S314 - no DTD possible past the check
    except ET.ParseError as error:
        raise AmazonPayloadError(f"the feed processing report is not XML: {error}") from None
    report = root.find("Message/ProcessingReport")
    if root.tag != "AmazonEnvelope" or report is None:
        raise AmazonPayloadError("the feed processing report has no ProcessingReport")
    processed_text = report.findtext("ProcessingSummary/MessagesProcessed") or "0"
    try:
        processed = int(processed_text.strip())
    except ValueError:
        raise AmazonPayloadError("the feed processing report's MessagesProcessed") from None
    errors: dict[str, str] = {}
    for result in report.findall("Result"):
        if (result.findtext("ResultCode") or "").strip() != "Error":
            continue
        message_id = (result.findtext("MessageID") or "").strip()
        code = (result.findtext("ResultMessageCode") or "").strip()
        description = _text(result.findtext("ResultDescription")).strip()
        reason = f"{code} {description}".strip() or "refused without a reason"
        errors[message_id] = f"{errors[message_id]}; {reason}" if message_id in errors else reason
    return XmlProcessingReport(processed=processed, errors=errors)
