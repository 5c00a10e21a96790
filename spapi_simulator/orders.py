"""The order book (indexed for window queries) and the Orders 2026-01-01 JSON shape."""

from __future__ import annotations

import bisect
from collections.abc import Callable, Iterator
from typing import Any

from .clock import isoformat
from .data import CURRENCY, Order, OrderLine

INCLUDED_DATA = (
    "BUYER",
    "RECIPIENT",
    "PROCEEDS",
    "EXPENSE",
    "PROMOTION",
    "CANCELLATION",
    "FULFILLMENT",
    "PACKAGES",
    "TAX",
    "PAYMENT",
    "FULFILLMENT_ORDERS",
)
ALL_INCLUDED = frozenset(INCLUDED_DATA)

# Amazon's restricted roles that gate the buyer's personal data in Orders 2026-01-01
# (https://developer-docs.amazon.com/sp-api/docs/access-orders-pii). No Restricted Data Token
# is involved: an application without the role simply gets the order without those fields.
DIRECT_TO_CONSUMER_DELIVERY = "directToConsumerDelivery"
TAX_INVOICING = "taxInvoicing"
TAX_REMITTANCE = "taxRemittance"
RESTRICTED_ROLES = (DIRECT_TO_CONSUMER_DELIVERY, TAX_INVOICING, TAX_REMITTANCE)
ALL_ROLES = frozenset(RESTRICTED_ROLES)
TAX_ROLES = frozenset({TAX_INVOICING, TAX_REMITTANCE})
# Amazon gives the buyer's e-mail and name only for orders in these statuses.
BUYER_DATA_STATUSES = frozenset({"UNSHIPPED", "PARTIALLY_SHIPPED", "SHIPPED"})
# US, Japan, Singapore: the tax roles do not give the buyer's name there.
NO_NAME_FOR_TAX_ROLES = frozenset({"ATVPDKIKX0DER", "A1VC38T7YXB528", "A19VAU5U5O7RUS"})
# The parts of deliveryAddress that are personal data; city, stateOrRegion, countryCode and
# the others come without any role.
ADDRESS_PII = frozenset(
    {
        "name",
        "addressLine1",
        "addressLine2",
        "addressLine3",
        "postalCode",
        "phone",
        "extendedFields",
    }
)

SortKey = tuple[float, str]


class OrderBook:
    """Orders by id plus two sorted indexes, so time-window queries bisect instead of scanning.

    Not thread-safe: the simulator state's lock guards it.
    """

    def __init__(self) -> None:
        self.by_id: dict[str, Order] = {}
        self._created: list[SortKey] = []
        self._updated: list[SortKey] = []

    def __len__(self) -> int:
        return len(self.by_id)

    def add(self, order: Order) -> None:
        self.by_id[order.order_id] = order
        bisect.insort(self._created, (order.created.timestamp(), order.order_id))
        bisect.insort(self._updated, (order.last_updated.timestamp(), order.order_id))

    def add_sorted_batch(self, orders: list[Order]) -> None:
        """Bulk load (e.g. 100,000 benchmark orders): one sort instead of n insorts."""
        for order in orders:
            self.by_id[order.order_id] = order
        self._created.extend((o.created.timestamp(), o.order_id) for o in orders)
        self._updated.extend((o.last_updated.timestamp(), o.order_id) for o in orders)
        self._created.sort()
        self._updated.sort()

    def touch(self, order: Order, when: Any) -> None:
        """Move the order's lastUpdatedTime (and its place in the index) to ``when``."""
        old = (order.last_updated.timestamp(), order.order_id)
        index = bisect.bisect_left(self._updated, old)
        if index < len(self._updated) and self._updated[index] == old:
            del self._updated[index]
        order.last_updated = when
        bisect.insort(self._updated, (when.timestamp(), order.order_id))

    def window(
        self,
        by: str,
        after: float,
        before: float,
        start_after: SortKey | None,
        accept: Callable[[Order], bool],
    ) -> Iterator[tuple[SortKey, Order]]:
        """Orders with ``after <= time <= before`` by (time, orderId), past ``start_after``."""
        index = self._created if by == "created" else self._updated
        lower: SortKey = (after, "")
        if start_after is not None and start_after > lower:
            position = bisect.bisect_right(index, start_after)
        else:
            position = bisect.bisect_left(index, lower)
        for key in _slice_iter(index, position):
            if key[0] > before:
                return
            order = self.by_id[key[1]]
            if accept(order):
                yield key, order

    def all_orders(self) -> list[Order]:
        return [self.by_id[key[1]] for key in self._created]


def _slice_iter(index: list[SortKey], start: int) -> Iterator[SortKey]:
    # Index access rather than a slice: a slice would copy up to 100,000 keys per page.
    for position in range(start, len(index)):
        yield index[position]


def money(cents: int, currency: str = CURRENCY) -> dict[str, str]:
    sign = "-" if cents < 0 else ""
    cents = abs(cents)
    return {"amount": f"{sign}{cents // 100}.{cents % 100:02d}", "currencyCode": currency}


def _line_tax(line: OrderLine) -> int:
    return line.item_tax_cents + line.shipping_tax_cents


def _line_discount(line: OrderLine) -> int:
    return line.item_promo_cents + line.ship_promo_cents


def _line_total(line: OrderLine) -> int:
    return line.item_cents + line.shipping_cents + _line_tax(line) - _line_discount(line)


def buyer_json(order: Order, roles: frozenset[str]) -> dict[str, str]:
    """What Amazon tells an application with ``roles`` of the buyer (BUYER dataset)."""
    buyer: dict[str, str] = {}
    if order.status not in BUYER_DATA_STATUSES:
        return buyer
    merchant = order.fulfilled_by == "MERCHANT"
    delivery_role = DIRECT_TO_CONSUMER_DELIVERY in roles
    tax_role = bool(roles & TAX_ROLES) and order.marketplace_id not in NO_NAME_FOR_TAX_ROLES
    if tax_role or (merchant and delivery_role):
        buyer["buyerName"] = order.buyer_name
    if merchant and delivery_role:
        buyer["buyerEmail"] = order.buyer_email
    return buyer


def delivery_address_json(order: Order, roles: frozenset[str]) -> dict[str, str]:
    """The delivery address (RECIPIENT dataset): its personal parts need Direct-to-Consumer
    Delivery; without the role only the city, province, country and the like remain."""
    if DIRECT_TO_CONSUMER_DELIVERY in roles:
        return dict(order.address)
    return {key: value for key, value in order.address.items() if key not in ADDRESS_PII}


def order_json(
    order: Order, included: frozenset[str], *, roles: frozenset[str] | None
) -> dict[str, Any]:
    """An Order as Orders 2026-01-01 returns it; optional datasets only when asked.

    ``roles``: the application's restricted roles, which decide the personal data it gets;
    ``None`` is the control API's own view (everything the buyer gave, no rule applied)."""
    body: dict[str, Any] = {
        "orderId": order.order_id,
        "createdTime": isoformat(order.created),
        "lastUpdatedTime": isoformat(order.last_updated),
        "programs": list(order.programs),
        "salesChannel": {
            "channelName": "AMAZON",
            "marketplaceId": order.marketplace_id,
            "marketplaceName": order.marketplace.name,
        },
    }
    if order.seller_order_id:
        body["orderAliases"] = [{"aliasId": order.seller_order_id, "aliasType": "SELLER_ORDER_ID"}]
    if "BUYER" in included:
        buyer = (
            {"buyerName": order.buyer_name, "buyerEmail": order.buyer_email}
            if roles is None
            else buyer_json(order, roles)
        )
        if buyer:
            body["buyer"] = buyer
    if "RECIPIENT" in included:
        address = dict(order.address) if roles is None else delivery_address_json(order, roles)
        body["recipient"] = {"deliveryAddress": address}
    currency = order.marketplace.currency
    if "PROCEEDS" in included:
        totals = {"ITEM": 0, "SHIPPING": 0, "TAX": 0, "DISCOUNT": 0}
        for line in order.lines:
            totals["ITEM"] += line.item_cents
            totals["SHIPPING"] += line.shipping_cents
            totals["TAX"] += _line_tax(line)
            totals["DISCOUNT"] -= _line_discount(line)
        body["proceeds"] = {
            "grandTotal": money(sum(totals.values()), currency),
            "breakdowns": [
                {"type": kind, "subtotal": money(amount, currency)}
                for kind, amount in totals.items()
                if amount or kind == "ITEM"
            ],
        }
    if "FULFILLMENT" in included:
        ship_from, ship_to = order.ship_by
        deliver_from, deliver_to = order.deliver_by
        body["fulfillment"] = {
            "fulfillmentStatus": order.status,
            "fulfilledBy": order.fulfilled_by,
            "fulfillmentServiceLevel": order.service_level,
            "shipByWindow": {
                "earliestDateTime": isoformat(ship_from),
                "latestDateTime": isoformat(ship_to),
            },
            "deliverByWindow": {
                "earliestDateTime": isoformat(deliver_from),
                "latestDateTime": isoformat(deliver_to),
            },
        }
    body["orderItems"] = [_item_json(order, line, included) for line in order.lines]
    if "PACKAGES" in included and order.packages:
        body["packages"] = [
            {
                "packageReferenceId": package.package_reference_id,
                "createdTime": isoformat(package.created),
                "packageStatus": {"status": "SHIPPED", "detailedStatus": "PICKED_UP"},
                "carrier": package.carrier,
                "shipTime": isoformat(package.ship_time),
                "shippingService": package.shipping_service,
                "trackingNumber": package.tracking_number,
                "packageItems": [
                    {"orderItemId": item_id, "quantity": quantity}
                    for item_id, quantity in package.items
                ],
            }
            for package in order.packages
        ]
    return body


def _item_json(order: Order, line: OrderLine, included: frozenset[str]) -> dict[str, Any]:
    currency = order.marketplace.currency
    item: dict[str, Any] = {
        "orderItemId": line.order_item_id,
        "quantityOrdered": line.quantity,
        "programs": [],
        "product": {
            "asin": line.asin,
            "title": line.title,
            "sellerSku": line.sku,
            "condition": {"conditionType": "NEW", "conditionSubtype": "NEW"},
            "price": {"unitPrice": money(line.unit_price_cents, currency)},
        },
    }
    if "PROCEEDS" in included:
        breakdowns: list[dict[str, Any]] = [
            {"type": "ITEM", "subtotal": money(line.item_cents, currency)}
        ]
        if line.shipping_cents:
            breakdowns.append(
                {"type": "SHIPPING", "subtotal": money(line.shipping_cents, currency)}
            )
        if _line_tax(line):
            breakdowns.append(
                {
                    "type": "TAX",
                    "subtotal": money(_line_tax(line), currency),
                    "detailedBreakdowns": [
                        {"subtype": "ITEM", "value": money(line.item_tax_cents, currency)},
                        {"subtype": "SHIPPING", "value": money(line.shipping_tax_cents, currency)},
                    ],
                }
            )
        if _line_discount(line):
            breakdowns.append(
                {
                    "type": "DISCOUNT",
                    "subtotal": money(-_line_discount(line), currency),
                    "detailedBreakdowns": [
                        {"subtype": "ITEM", "value": money(-line.item_promo_cents, currency)},
                        {"subtype": "SHIPPING", "value": money(-line.ship_promo_cents, currency)},
                    ],
                }
            )
        item["proceeds"] = {
            "proceedsTotal": money(_line_total(line), currency),
            "breakdowns": breakdowns,
        }
    if "PROMOTION" in included and line.promotion_ids:
        item["promotion"] = {"breakdowns": [{"promotionId": p} for p in line.promotion_ids]}
    if "CANCELLATION" in included:
        cancellation = _cancellation_json(order, line)
        if cancellation:
            item["cancellation"] = cancellation
    if "FULFILLMENT" in included:
        unfulfilled = 0 if order.status == "CANCELLED" else line.unshipped
        item["fulfillment"] = {
            "quantityFulfilled": line.quantity_shipped,
            "quantityUnfulfilled": unfulfilled,
        }
    collector = order.marketplace.tax_collector
    if "TAX" in included and order.marketplace_facilitator and collector:
        item["tax"] = {
            "taxCollections": [{"model": "MARKETPLACE_FACILITATOR", "responsibleParty": collector}]
        }
    return item


def _cancellation_json(order: Order, line: OrderLine) -> dict[str, Any]:
    """The item's cancellation: a buyer's request (pending or honoured) and who cancelled it,
    the whole order or this line only (a seller's partial cancellation)."""
    cancellation: dict[str, Any] = {}
    if order.buyer_cancel_reason is not None or (
        order.status == "CANCELLED" and order.cancelled_by == "BUYER"
    ):
        cancellation["cancellationRequest"] = {
            "requester": "BUYER",
            "cancelReason": order.buyer_cancel_reason or order.cancel_reason or "",
        }
    if order.status == "CANCELLED" and order.cancelled_by:
        cancellation["cancellationExecution"] = {
            "cancelledBy": order.cancelled_by,
            "cancelReason": line.cancel_reason or order.cancel_reason or "",
        }
    elif line.quantity_cancelled:
        cancellation["cancellationExecution"] = {
            "cancelledBy": "MERCHANT",
            "cancelReason": line.cancel_reason or "",
        }
    return cancellation
