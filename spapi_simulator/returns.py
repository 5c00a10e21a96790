"""Returns, refunds and concessions: what buyers send back and what Amazon pays back.

A :class:`Return` is one order line's units a buyer sends back; a :class:`Transaction` is one
Finances API 2024-06-19 transaction (a shipment's sale, a refund, a concession). The state
(``state.py``) decides when they happen; this module says what they look like: the two
returns reports' rows and the ``listTransactions`` JSON (docs/SIMULATOR.md, "Returns, refunds
and cancellations").
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime

from .data import MARKETPLACE_ID, PROVINCE_TAXES, Order, OrderLine

MERCHANT_RETURNS_REPORT = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
FBA_RETURNS_REPORT = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"
RETURNS_REPORTS = (MERCHANT_RETURNS_REPORT, FBA_RETURNS_REPORT)

# Amazon's "Returns reports attributes" page (developer-docs.amazon.com/sp-api/docs/
# returns-reports-attributes), in its order.
MERCHANT_RETURNS_COLUMNS = [
    "Order ID",
    "Order date",
    "Return request date",
    "Return request status",
    "Amazon RMA ID",
    "Merchant RMA ID",
    "Label type",
    "Label cost",
    "Currency code",
    "Return carrier",
    "Tracking ID",
    "Label to be paid by",
    "A-to-Z Claim",
    "Is prime",
    "ASIN",
    "Merchant SKU",
    "Item Name",
    "Return quantity",
    "Return Reason",
    "In policy",
    "Return type",
    "Resolution",
    "Invoice number",
    "Return delivery date",
    "Order Amount",
    "Order quantity",
    "SafeT Action reason",
    "SafeT claim id",
    "SafeT claim state",
    "SafeT claim creation time",
    "SafeT claim reimbursement amount",
    "Refunded Amount",
]
# Amazon's "FBA Customer Concessions reports attributes" page, in its order.
FBA_RETURNS_COLUMNS = [
    "return-date",
    "order-id",
    "sku",
    "asin",
    "fnsku",
    "product-name",
    "quantity",
    "fulfillment-center-id",
    "detailed-disposition",
    "reason",
    "status",
    "license-plate-number",
    "customer-comments",
]

# Return reasons as Amazon's FBA customer returns report spells them; merchant returns carry
# the same reason with the "CR-" prefix of buyer-chosen reasons in the flat file.
RETURN_REASONS = (
    "UNWANTED_ITEM",
    "DEFECTIVE",
    "NOT_AS_DESCRIBED",
    "ORDERED_WRONG_ITEM",
    "FOUND_BETTER_PRICE",
    "DAMAGED_BY_CARRIER",
    "QUALITY_UNACCEPTABLE",
    "MISSED_ESTIMATED_DELIVERY",
    "APPAREL_TOO_SMALL",
    "NO_REASON_GIVEN",
)
REASON_WEIGHTS = (30, 15, 12, 10, 8, 7, 6, 5, 4, 3)
# FBA dispositions: the unit's condition when the fulfilment centre receives it. SELLABLE units
# go back to fulfillable stock, the others to unfulfillable.
DISPOSITIONS = ("SELLABLE", "DEFECTIVE", "CUSTOMER_DAMAGED", "CARRIER_DAMAGED", "DAMAGED")
DISPOSITION_WEIGHTS = (70, 12, 10, 5, 3)
# What the FBA report's status column says once the unit is in.
FBA_STATUS = {
    "SELLABLE": "Unit returned to inventory",
    "DEFECTIVE": "Unit returned to inventory",
    "CUSTOMER_DAMAGED": "Unit returned to inventory",
    "CARRIER_DAMAGED": "Reimbursed",
    "DAMAGED": "Reimbursed",
}
# Fulfilment centres the returns go to, by FBA network (CA: Amazon.ca; US: .com and .com.mx).
FULFILLMENT_CENTERS = {"CA": ("YYZ4", "YVR2", "YUL2"), "US": ("PHX7", "ONT8", "BFI4")}
CUSTOMER_COMMENTS = {
    "UNWANTED_ITEM": "Changed my mind",
    "DEFECTIVE": "Stopped working after two days",
    "NOT_AS_DESCRIBED": "Colour is not as pictured",
    "ORDERED_WRONG_ITEM": "Ordered the wrong size",
    "DAMAGED_BY_CARRIER": "Box arrived crushed",
    "QUALITY_UNACCEPTABLE": "Feels cheap",
}
# The seller-fulfilled return's request status: approved at once (Amazon's prepaid label),
# closed once the parcel is delivered back to the seller.
REQUESTED, RECEIVED = "REQUESTED", "RECEIVED"

_ALNUM = "ABCDEFGHJKLMNPQRSTUVWXYZ0123456789"


def _code(rng: random.Random, length: int) -> str:
    return "".join(rng.choice(_ALNUM) for _ in range(length))


@dataclass
class Return:
    """One order line's units coming back."""

    return_id: str  # Amazon's RMA id for a merchant return, the LPN's return for FBA
    order_id: str
    order_item_id: str
    marketplace_id: str
    fulfilled_by: str  # MERCHANT or AMAZON
    sku: str
    asin: str
    title: str
    quantity: int
    reason: str
    requested: datetime
    # When the units arrive: at the seller (merchant) or at the fulfilment centre (FBA).
    arrives: datetime
    status: str = REQUESTED
    received: datetime | None = None
    disposition: str | None = None  # FBA, once received
    fnsku: str | None = None
    fulfillment_center_id: str | None = None
    license_plate_number: str | None = None
    carrier: str | None = None
    tracking_id: str | None = None
    customer_comments: str = ""
    refund: bool = True  # Amazon refunds the buyer once the units are in
    refund_transaction_id: str | None = None

    def as_json(self) -> dict[str, object]:
        return {
            "returnId": self.return_id,
            "orderId": self.order_id,
            "orderItemId": self.order_item_id,
            "marketplaceId": self.marketplace_id,
            "fulfilledBy": self.fulfilled_by,
            "sku": self.sku,
            "asin": self.asin,
            "quantity": self.quantity,
            "reason": self.reason,
            "status": self.status,
            "requestedTime": _iso(self.requested),
            "arrivesTime": _iso(self.arrives),
            "receivedTime": _iso(self.received) if self.received else None,
            "disposition": self.disposition,
            "fnsku": self.fnsku,
            "fulfillmentCenterId": self.fulfillment_center_id,
            "licensePlateNumber": self.license_plate_number,
            "carrier": self.carrier,
            "trackingId": self.tracking_id,
            "customerComments": self.customer_comments,
            "refundTransactionId": self.refund_transaction_id,
        }


def _iso(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _report_time(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%S+00:00")


def new_return(
    rng: random.Random,
    order: Order,
    line: OrderLine,
    quantity: int,
    requested: datetime,
    arrives: datetime,
    *,
    reason: str | None = None,
    fnsku: str | None = None,
) -> Return:
    """A return of ``quantity`` units of ``line``, ids and tracking drawn from ``rng``."""
    reason = reason or rng.choices(RETURN_REASONS, REASON_WEIGHTS)[0]
    fba = order.fulfilled_by == "AMAZON"
    market = order.marketplace
    item = Return(
        return_id=("D" + _code(rng, 9) + "RRMA") if not fba else "R" + _code(rng, 12),
        order_id=order.order_id,
        order_item_id=line.order_item_id,
        marketplace_id=order.marketplace_id,
        fulfilled_by=order.fulfilled_by,
        sku=line.sku,
        asin=line.asin,
        title=line.title,
        quantity=quantity,
        reason=reason,
        requested=requested,
        arrives=arrives,
        customer_comments=CUSTOMER_COMMENTS.get(reason, ""),
    )
    if fba:
        item.fnsku = fnsku
        item.fulfillment_center_id = rng.choice(FULFILLMENT_CENTERS[market.fba_pool])
        item.license_plate_number = "LPN" + _code(rng, 9)
    else:
        item.carrier = market.merchant_carrier
        item.tracking_id = "RT" + "".join(rng.choice("0123456789") for _ in range(14))
    return item


def draw_disposition(rng: random.Random) -> str:
    return rng.choices(DISPOSITIONS, DISPOSITION_WEIGHTS)[0]


def _tsv(rows: Iterable[list[str]]) -> str:
    def clean(value: str) -> str:
        return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")

    return "".join("\t".join(clean(v) for v in row) + "\r\n" for row in rows)


def _amount(cents: int) -> str:
    return f"{cents / 100:.2f}"


def merchant_returns_report(
    returns: Iterable[Return], orders: dict[str, Order], refunds: dict[str, int]
) -> str:
    """The seller-fulfilled returns flat file: one row per return, by return request date.

    ``refunds``: cents refunded per return id (its refund transaction, once posted)."""
    rows: list[list[str]] = [MERCHANT_RETURNS_COLUMNS]
    for item in returns:
        order = orders[item.order_id]
        line = next(x for x in order.lines if x.order_item_id == item.order_item_id)
        refunded = refunds.get(item.return_id)
        values = {
            "Order ID": item.order_id,
            "Order date": _report_time(order.created),
            "Return request date": _report_time(item.requested),
            "Return request status": "Closed" if item.status == RECEIVED else "Approved",
            "Amazon RMA ID": item.return_id,
            "Label type": "AmazonPrePaidLabel",
            "Label cost": _amount(600 if order.marketplace_id == MARKETPLACE_ID else 550),
            "Currency code": order.marketplace.currency,
            "Return carrier": item.carrier or "",
            "Tracking ID": item.tracking_id or "",
            "Label to be paid by": "Seller" if item.reason in SELLER_FAULT else "Customer",
            "A-to-Z Claim": "N",
            "Is prime": "Y" if "PRIME" in order.programs else "N",
            "ASIN": item.asin,
            "Merchant SKU": item.sku,
            "Item Name": item.title,
            "Return quantity": str(item.quantity),
            "Return Reason": "CR-" + item.reason,
            "In policy": "Y",
            "Return type": "C-Returns",
            "Resolution": "StandardRefund",
            "Return delivery date": _report_time(item.received) if item.received else "",
            "Order Amount": _amount(sum(_line_paid(x) for x in order.lines)),
            "Order quantity": str(line.quantity),
            "Refunded Amount": _amount(refunded) if refunded is not None else "",
        }
        rows.append([values.get(column, "") for column in MERCHANT_RETURNS_COLUMNS])
    return _tsv(rows)


# Reasons that are the seller's (or the carrier's) fault: the seller pays the label.
SELLER_FAULT = frozenset(
    {"DEFECTIVE", "NOT_AS_DESCRIBED", "DAMAGED_BY_CARRIER", "QUALITY_UNACCEPTABLE"}
)


def fba_returns_report(returns: Iterable[Return]) -> str:
    """The FBA customer returns report: one row per return the fulfilment centre received."""
    rows: list[list[str]] = [FBA_RETURNS_COLUMNS]
    for item in returns:
        assert item.received is not None and item.disposition is not None
        values = {
            "return-date": _report_time(item.received),
            "order-id": item.order_id,
            "sku": item.sku,
            "asin": item.asin,
            "fnsku": item.fnsku or "",
            "product-name": item.title,
            "quantity": str(item.quantity),
            "fulfillment-center-id": item.fulfillment_center_id or "",
            "detailed-disposition": item.disposition,
            "reason": item.reason,
            "status": FBA_STATUS[item.disposition],
            "license-plate-number": item.license_plate_number or "",
            "customer-comments": item.customer_comments,
        }
        rows.append([values[column] for column in FBA_RETURNS_COLUMNS])
    return _tsv(rows)


# -- Finances API 2024-06-19 transactions --------------------------------------------------

SHIPMENT, REFUND = "Shipment", "Refund"
REFERRAL_FEE_RATE = 0.15


@dataclass
class LineAmounts:
    """Money of one order line's units in a transaction, in cents, signs as the buyer paid
    (a refund negates them when it builds its JSON)."""

    line: OrderLine
    quantity: int
    principal: int
    shipping: int
    promotion: int  # the discount, positive
    taxes: list[tuple[str, int]]  # by component (GST, QST, HST, ...)
    fee: int  # Amazon's referral fee, positive

    @property
    def tax(self) -> int:
        return sum(amount for _, amount in self.taxes)

    @property
    def total(self) -> int:
        return self.principal + self.shipping + self.tax - self.promotion - self.fee


@dataclass
class Transaction:
    transaction_id: str
    transaction_type: str  # Shipment or Refund
    description: str
    order: Order
    posted: datetime
    lines: list[LineAmounts]
    refund_id: str | None = None
    return_id: str | None = None  # None for a shipment, and for a concession
    seller_id: str = ""

    @property
    def sign(self) -> int:
        return -1 if self.transaction_type == REFUND else 1

    @property
    def total_cents(self) -> int:
        return self.sign * sum(line.total for line in self.lines)


def _line_paid(line: OrderLine) -> int:
    return (
        line.item_cents
        + line.shipping_cents
        + line.item_tax_cents
        + line.shipping_tax_cents
        - line.item_promo_cents
        - line.ship_promo_cents
    )


def tax_components(order: Order, cents: int) -> list[tuple[str, int]]:
    """``cents`` of tax split into the order's tax components (GST and QST in Quebec, HST in
    Ontario...): by rate where the province's rates are known, the rounding in the last one."""
    rates = PROVINCE_TAXES.get(order.province) if order.marketplace_id == MARKETPLACE_ID else None
    if not rates:
        return [(order.taxes[0] if order.taxes else "Tax", cents)]
    whole = sum(rate for _, rate in rates)
    parts: list[tuple[str, int]] = []
    left = cents
    for index, (name, rate) in enumerate(rates):
        amount = left if index == len(rates) - 1 else round(cents * rate / whole)
        parts.append((name, amount))
        left -= amount
    return parts


def line_amounts(order: Order, line: OrderLine, quantity: int, *, shipping: bool) -> LineAmounts:
    """``quantity`` of ``line``'s units, in proportion to the line (shipping only if asked:
    a partial return keeps the shipping the buyer paid)."""
    share = quantity / line.quantity
    principal = round(line.item_cents * share)
    promotion = round(line.item_promo_cents * share)
    item_tax = round(line.item_tax_cents * share)
    ship = line.shipping_cents if shipping else 0
    ship_promo = line.ship_promo_cents if shipping else 0
    ship_tax = line.shipping_tax_cents if shipping else 0
    fee = round((principal + ship - promotion - ship_promo) * REFERRAL_FEE_RATE)
    return LineAmounts(
        line=line,
        quantity=quantity,
        principal=principal,
        shipping=ship,
        promotion=promotion + ship_promo,
        taxes=tax_components(order, item_tax + ship_tax),
        fee=fee,
    )


def _money(cents: int, currency: str) -> dict[str, object]:
    # BigDecimal in the model: a JSON number, two decimals.
    return {"currencyCode": currency, "currencyAmount": round(cents / 100, 2)}


def _breakdowns(lines: list[LineAmounts], sign: int, currency: str) -> list[dict[str, object]]:
    principal = sum(x.principal for x in lines)
    shipping = sum(x.shipping for x in lines)
    promotion = sum(x.promotion for x in lines)
    fee = sum(x.fee for x in lines)
    by_component: dict[str, int] = {}
    for amounts in lines:
        for name, cents in amounts.taxes:
            by_component[name] = by_component.get(name, 0) + cents
    tax = sum(by_component.values())
    breakdowns: list[dict[str, object]] = [
        {
            "breakdownType": "ProductCharges",
            "breakdownAmount": _money(sign * (principal + shipping), currency),
            "breakdowns": [
                {
                    "breakdownType": "Principal",
                    "breakdownAmount": _money(sign * principal, currency),
                },
                {"breakdownType": "Shipping", "breakdownAmount": _money(sign * shipping, currency)},
            ],
        },
        {
            "breakdownType": "Tax",
            "breakdownAmount": _money(sign * tax, currency),
            "breakdowns": [
                {"breakdownType": name, "breakdownAmount": _money(sign * cents, currency)}
                for name, cents in by_component.items()
            ],
        },
    ]
    if promotion:
        breakdowns.append(
            {"breakdownType": "Promotion", "breakdownAmount": _money(-sign * promotion, currency)}
        )
    breakdowns.append(
        {
            "breakdownType": "AmazonFees",
            "breakdownAmount": _money(-sign * fee, currency),
            "breakdowns": [
                {"breakdownType": "Commission", "breakdownAmount": _money(-sign * fee, currency)}
            ],
        }
    )
    return breakdowns


def transaction_json(transaction: Transaction) -> dict[str, object]:
    """A Transaction as ``listTransactions`` returns it (finances_2024-06-19.json)."""
    order = transaction.order
    currency = order.marketplace.currency
    sign = transaction.sign
    related: list[dict[str, str]] = [
        {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": order.order_id}
    ]
    if transaction.refund_id:
        related.append(
            {"relatedIdentifierName": "REFUND_ID", "relatedIdentifierValue": transaction.refund_id}
        )
    network = "AFN" if order.fulfilled_by == "AMAZON" else "MFN"
    return {
        "sellingPartnerMetadata": {
            "sellingPartnerId": transaction.seller_id,
            "accountType": "Standard Orders",
            "marketplaceId": order.marketplace_id,
        },
        "relatedIdentifiers": related,
        "transactionType": transaction.transaction_type,
        "transactionId": transaction.transaction_id,
        "transactionStatus": "RELEASED",
        "description": transaction.description,
        "postedDate": _iso(transaction.posted),
        "totalAmount": _money(transaction.total_cents, currency),
        "marketplaceDetails": {
            "marketplaceId": order.marketplace_id,
            "marketplaceName": order.marketplace.name,
        },
        "items": [
            {
                "description": amounts.line.title,
                "totalAmount": _money(sign * amounts.total, currency),
                "relatedIdentifiers": [
                    {
                        "itemRelatedIdentifierName": "ORDER_ADJUSTMENT_ITEM_ID"
                        if sign < 0
                        else "TRANSACTION_ID",
                        "itemRelatedIdentifierValue": amounts.line.order_item_id,
                    }
                ],
                "breakdowns": _breakdowns([amounts], sign, currency),
                "contexts": [
                    {
                        "contextType": "ProductContext",
                        "asin": amounts.line.asin,
                        "sku": amounts.line.sku,
                        "quantityShipped": amounts.quantity,
                        "fulfillmentNetwork": network,
                    }
                ],
            }
            for amounts in transaction.lines
        ],
        "breakdowns": _breakdowns(transaction.lines, sign, currency),
    }


def transaction_id(rng: random.Random) -> str:
    """Amazon's transaction ids are 43-character URL-safe strings."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"
    return "".join(rng.choice(alphabet) for _ in range(43))
