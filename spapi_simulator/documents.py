"""Report documents (tab-separated files) and JSON_LISTINGS_FEED processing."""

from __future__ import annotations

import gzip
import json
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

from .clock import isoformat
from .data import FBA_CHANNEL, MARKETPLACES, MERCHANT_CHANNEL, Listing, Order

logger = logging.getLogger(__name__)

LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"
ORDERS_BY_UPDATE_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_LAST_UPDATE_GENERAL"
ORDERS_BY_DATE_REPORT = "GET_FLAT_FILE_ALL_ORDERS_DATA_BY_ORDER_DATE_GENERAL"
REPORT_TYPES = (
    LISTINGS_REPORT,
    ORDERS_BY_UPDATE_REPORT,
    ORDERS_BY_DATE_REPORT,
    "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE",
    "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA",
)
LISTINGS_FEED = "JSON_LISTINGS_FEED"

# Amazon NA serves flat-file reports in windows-1252 and gzips the big ones.
REPORT_ENCODING = "windows-1252"
GZIP_THRESHOLD_BYTES = 16 * 1024

LISTINGS_COLUMNS = [
    "item-name",
    "item-description",
    "listing-id",
    "seller-sku",
    "price",
    "quantity",
    "open-date",
    "image-url",
    "item-is-marketplace",
    "product-id-type",
    "zshop-shipping-fee",
    "item-note",
    "item-condition",
    "zshop-category1",
    "zshop-browse-path",
    "zshop-storefront-feature",
    "asin1",
    "asin2",
    "asin3",
    "will-ship-internationally",
    "expedited-shipping",
    "zshop-boldface",
    "product-id",
    "bid-for-featured-placement",
    "add-delete",
    "pending-quantity",
    "fulfillment-channel",
    "merchant-shipping-group",
    "status",
]
ORDER_COLUMNS = [
    "amazon-order-id",
    "merchant-order-id",
    "purchase-date",
    "last-updated-date",
    "order-status",
    "fulfillment-channel",
    "sales-channel",
    "order-channel",
    "url",
    "ship-service-level",
    "product-name",
    "sku",
    "asin",
    "item-status",
    "quantity",
    "currency",
    "item-price",
    "item-tax",
    "shipping-price",
    "shipping-tax",
    "gift-wrap-price",
    "gift-wrap-tax",
    "item-promotion-discount",
    "ship-promotion-discount",
    "ship-city",
    "ship-state",
    "ship-postal-code",
    "ship-country",
    "promotion-ids",
    "is-business-order",
    "purchase-order-number",
    "price-designation",
]
# Flat-file order statuses are the v0 spellings.
REPORT_ORDER_STATUS = {
    "PENDING_AVAILABILITY": "Pending",
    "PENDING": "Pending",
    "UNSHIPPED": "Unshipped",
    "PARTIALLY_SHIPPED": "PartiallyShipped",
    "SHIPPED": "Shipped",
    "CANCELLED": "Cancelled",
    "UNFULFILLABLE": "Unfulfillable",
}


@dataclass
class Document:
    document_id: str
    kind: str  # "report", "feed_input" or "feed_result"
    content: bytes = b""
    content_type: str = "application/octet-stream"
    compression: str | None = None  # "GZIP" or None
    uploaded: bool = False


def _amount(cents: int) -> str:
    return f"{cents / 100:.2f}"


def _tsv(rows: Iterable[list[str]]) -> str:
    def clean(value: str) -> str:
        return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")

    return "".join("\t".join(clean(v) for v in row) + "\r\n" for row in rows)


def encode_report(text: str) -> tuple[bytes, str | None]:
    """windows-1252 bytes, gzip-compressed when large (as Amazon does for big reports)."""
    raw = text.encode(REPORT_ENCODING, errors="replace")
    if len(raw) > GZIP_THRESHOLD_BYTES:
        return gzip.compress(raw, mtime=0), "GZIP"
    return raw, None


# Amazon writes the listings report's open-date in Pacific time, labelled PST or PDT by date.
PACIFIC = ZoneInfo("America/Los_Angeles")


def _pacific(moment: datetime) -> str:
    return moment.astimezone(PACIFIC).strftime("%Y-%m-%d %H:%M:%S %Z")


def listings_report(listings: Iterable[Listing]) -> str:
    rows: list[list[str]] = [LISTINGS_COLUMNS]
    for listing in listings:
        if listing.is_parent:
            continue
        fba = listing.fulfillment_channel == FBA_CHANNEL
        active = fba or listing.quantity > 0
        values = {
            "item-name": listing.title,
            "listing-id": "0" + listing.asin[2:] + "X",
            "seller-sku": listing.sku,
            "price": _amount(listing.price_cents),
            # FBA rows leave quantity empty: Amazon reports it in the FBA inventory instead.
            "quantity": "" if fba else str(listing.quantity),
            "open-date": _pacific(listing.created),
            "item-is-marketplace": "y",
            "product-id-type": "1",
            "item-condition": "11",
            "asin1": listing.asin,
            "will-ship-internationally": "1",
            "product-id": listing.asin,
            "fulfillment-channel": FBA_CHANNEL if fba else MERCHANT_CHANNEL,
            "merchant-shipping-group": "" if fba else "Migrated Template",
            "status": "Active" if active else "Inactive",
        }
        rows.append([values.get(column, "") for column in LISTINGS_COLUMNS])
    return _tsv(rows)


def orders_report(orders: Iterable[Order]) -> str:
    rows: list[list[str]] = [ORDER_COLUMNS]
    for order in orders:
        for line in order.lines:
            if order.status == "CANCELLED" or line.quantity_cancelled == line.quantity:
                item_status = "Cancelled"
            elif line.unshipped == 0:
                item_status = "Shipped"
            else:
                item_status = "Unshipped"
            values = {
                "amazon-order-id": order.order_id,
                "merchant-order-id": order.seller_order_id or "",
                "purchase-date": order.created.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "last-updated-date": order.last_updated.strftime("%Y-%m-%dT%H:%M:%S+00:00"),
                "order-status": REPORT_ORDER_STATUS[order.status],
                "fulfillment-channel": "Amazon" if order.fulfilled_by == "AMAZON" else "Merchant",
                "sales-channel": order.marketplace.name,
                "url": "",
                "ship-service-level": order.service_level.replace("_", " ").title(),
                "product-name": line.title,
                "sku": line.sku,
                "asin": line.asin,
                "item-status": item_status,
                "quantity": str(line.quantity),
                "currency": order.marketplace.currency,
                "item-price": _amount(line.item_cents),
                "item-tax": _amount(line.item_tax_cents),
                "shipping-price": _amount(line.shipping_cents),
                "shipping-tax": _amount(line.shipping_tax_cents),
                "gift-wrap-price": "0.00",
                "gift-wrap-tax": "0.00",
                "item-promotion-discount": _amount(-line.item_promo_cents)
                if line.item_promo_cents
                else "0.00",
                "ship-promotion-discount": _amount(-line.ship_promo_cents)
                if line.ship_promo_cents
                else "0.00",
                "ship-city": order.address["city"],
                "ship-state": order.address["stateOrRegion"],
                "ship-postal-code": order.address["postalCode"],
                "ship-country": order.address["countryCode"],
                "promotion-ids": ",".join(line.promotion_ids),
                "is-business-order": "false",
            }
            rows.append([values.get(column, "") for column in ORDER_COLUMNS])
    return _tsv(rows)


# -- listings feeds and patches -------------------------------------------------------------


def default_models_dir() -> Path:
    """``SPAPI_MODELS_DIR``, else ``../shared/spapi-models`` beside the repository."""
    configured = os.environ.get("SPAPI_MODELS_DIR")
    if configured:
        return Path(configured)
    return Path(__file__).resolve().parents[1] / ".." / "shared" / "spapi-models"


FeedValidator = Callable[[Any], list[str]]


def load_feed_validator(models_dir: Path | None = None) -> FeedValidator:
    """Validate against Amazon's listings-feed-schema-v2.json when the models are available.

    Without the models (e.g. a container without ../shared) a structural check of the same
    required fields stands in, so the simulator still runs.
    """
    path = (models_dir or default_models_dir()) / "listings-feed-schema-v2.json"
    try:
        import jsonschema

        schema = json.loads(path.read_text(encoding="utf-8"))
        validator = jsonschema.Draft7Validator(schema)

        def validate(document: Any) -> list[str]:
            return [
                f"{'/'.join(str(p) for p in error.absolute_path) or '(root)'}: {error.message}"
                for error in sorted(validator.iter_errors(document), key=lambda e: list(e.path))
            ][:20]

        return validate
    except (OSError, ImportError) as exc:
        logger.warning("listings feed schema unavailable (%s); using the built-in check", exc)
        return _structural_check


def _structural_check(document: Any) -> list[str]:
    errors: list[str] = []
    if not isinstance(document, dict):
        return ["(root): the feed must be a JSON object"]
    header = document.get("header")
    if not isinstance(header, dict) or not isinstance(header.get("sellerId"), str):
        errors.append("header: 'sellerId' is a required property")
    elif header.get("version") != "2.0":
        errors.append("header/version: '2.0' was expected")
    messages = document.get("messages")
    if not isinstance(messages, list) or not messages:
        errors.append("messages: a non-empty array is required")
        return errors
    for index, message in enumerate(messages):
        if not isinstance(message, dict):
            errors.append(f"messages/{index}: must be an object")
            continue
        for key in ("messageId", "sku", "operationType"):
            if key not in message:
                errors.append(f"messages/{index}: '{key}' is a required property")
    return errors


@dataclass
class ListingIssue:
    code: str
    message: str
    attribute: str | None = "fulfillment_availability"
    severity: str = "ERROR"

    def as_listings_api(self) -> dict[str, Any]:
        issue: dict[str, Any] = {
            "code": self.code,
            "message": self.message,
            "severity": self.severity,
            "categories": ["INVALID_ATTRIBUTE"] if self.attribute else [],
        }
        if self.attribute:
            issue["attributeNames"] = [self.attribute]
        return issue


@dataclass
class AvailabilityChange:
    """What a patch or feed message would do to one listing's quantity."""

    quantity: int | None = None
    issues: list[ListingIssue] = field(default_factory=list)


def availability_from_patches(
    listing: Listing | None, sku: str, patches: Any
) -> AvailabilityChange:
    """Interpret JSON patches on ``/attributes/fulfillment_availability``.

    Other attribute paths are accepted and ignored (the simulator models stock, not content).
    """
    if listing is None:
        return AvailabilityChange(
            issues=[
                ListingIssue("4000001", f"SKU '{sku}' is not in this seller's catalogue.", None)
            ]
        )
    change = AvailabilityChange()
    for patch in patches if isinstance(patches, list) else []:
        if (
            not isinstance(patch, dict)
            or patch.get("path") != "/attributes/fulfillment_availability"
        ):
            continue
        if patch.get("op") == "delete":
            change.issues.append(
                ListingIssue("90244", "fulfillment_availability cannot be deleted; set quantity 0.")
            )
            continue
        _read_availability(listing, patch.get("value"), change)
    return change


def availability_from_attributes(
    listing: Listing | None, sku: str, attributes: Any
) -> AvailabilityChange:
    if listing is None:
        return AvailabilityChange(
            issues=[
                ListingIssue("4000001", f"SKU '{sku}' is not in this seller's catalogue.", None)
            ]
        )
    change = AvailabilityChange()
    if isinstance(attributes, dict) and "fulfillment_availability" in attributes:
        _read_availability(listing, attributes["fulfillment_availability"], change)
    return change


def _read_availability(listing: Listing, value: Any, change: AvailabilityChange) -> None:
    if not isinstance(value, list) or not value:
        change.issues.append(
            ListingIssue("90220", "'fulfillment_availability' requires at least one value.")
        )
        return
    for entry in value:
        if not isinstance(entry, dict):
            change.issues.append(
                ListingIssue("90220", "Each fulfillment_availability value must be an object.")
            )
            continue
        channel = entry.get("fulfillment_channel_code", MERCHANT_CHANNEL)
        quantity = entry.get("quantity")
        if listing.is_parent:
            change.issues.append(
                ListingIssue(
                    "90188",
                    f"SKU '{listing.sku}' is a variation parent; parents cannot have a quantity.",
                )
            )
        elif listing.fulfillment_channel == FBA_CHANNEL or channel != MERCHANT_CHANNEL:
            change.issues.append(
                ListingIssue(
                    "90111",
                    f"SKU '{listing.sku}' is fulfilled by Amazon ({FBA_CHANNEL}); Amazon manages "
                    "its quantity, so a merchant quantity cannot be set.",
                )
            )
        elif isinstance(quantity, bool) or not isinstance(quantity, int):
            change.issues.append(ListingIssue("90220", "'quantity' must be an integer."))
        elif quantity < 0:
            change.issues.append(
                ListingIssue(
                    "99010",
                    f"The value {quantity} for 'quantity' must be greater than or equal to 0.",
                )
            )
        else:
            change.quantity = quantity


@dataclass
class FeedOutcome:
    status: str  # DONE or FATAL
    report: dict[str, Any]
    quantities: dict[str, int]  # sku -> accepted quantity, applied by the state


def process_listings_feed(
    content: bytes,
    *,
    feed_id: str,
    seller_id: str,
    listings: dict[str, Listing],
    validate: FeedValidator,
    force_fatal: bool = False,
) -> FeedOutcome:
    header = {"sellerId": seller_id, "version": "2.0", "feedId": feed_id}

    def fatal(message: str) -> FeedOutcome:
        return FeedOutcome(
            status="FATAL",
            report={
                "header": header,
                "issues": [{"code": "4000003", "severity": "ERROR", "message": message}],
                "summary": {
                    "errors": 1,
                    "warnings": 0,
                    "messagesProcessed": 0,
                    "messagesAccepted": 0,
                    "messagesInvalid": 0,
                },
            },
            quantities={},
        )

    if force_fatal:
        return fatal("An internal error occurred while processing the feed. Resubmit the feed.")
    try:
        document = json.loads(content.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        return fatal(f"The feed document is not valid JSON: {exc}")
    errors = validate(document)
    if errors:
        return fatal(
            "The feed document does not match the listings feed schema (v2): " + "; ".join(errors)
        )
    if document["header"]["sellerId"] != seller_id:
        return fatal(
            f"The header sellerId '{document['header']['sellerId']}' is not the feed's seller."
        )

    issues: list[dict[str, Any]] = []
    quantities: dict[str, int] = {}
    accepted = invalid = 0
    for message in document["messages"]:
        message_id, sku, operation = message["messageId"], message["sku"], message["operationType"]
        listing = listings.get(sku)
        if operation == "PATCH":
            change = availability_from_patches(listing, sku, message.get("patches"))
        elif operation in ("PARTIAL_UPDATE", "UPDATE"):
            change = availability_from_attributes(listing, sku, message.get("attributes"))
        else:
            change = AvailabilityChange(
                issues=[
                    ListingIssue(
                        "4000004", f"operationType {operation} is not supported here.", None
                    )
                ]
            )
        if change.issues:
            invalid += 1
            for issue in change.issues:
                entry: dict[str, Any] = {
                    "messageId": message_id,
                    "sku": sku,
                    "code": issue.code,
                    "severity": issue.severity,
                    "message": issue.message,
                }
                if issue.attribute:
                    entry["attributeName"] = issue.attribute
                issues.append(entry)
        else:
            accepted += 1
            if change.quantity is not None:
                quantities[sku] = change.quantity
    report = {
        "header": header,
        "issues": issues,
        "summary": {
            "errors": len(issues),
            "warnings": 0,
            "messagesProcessed": accepted + invalid,
            "messagesAccepted": accepted,
            "messagesInvalid": invalid,
        },
    }
    return FeedOutcome(status="DONE", report=report, quantities=quantities)


def listing_json(
    listing: Listing, included: Iterable[str], issues: list[dict[str, Any]] | None = None
) -> dict[str, Any]:
    """A Listings Items 2021-08-01 Item; datasets only when asked (default summaries)."""
    wanted = set(included)
    marketplace_id = listing.marketplace_id
    currency = MARKETPLACES[marketplace_id].currency
    item: dict[str, Any] = {"sku": listing.sku}
    if "summaries" in wanted:
        if listing.is_parent:
            status = ["DISCOVERABLE"]
        elif listing.is_fba or listing.quantity > 0:
            status = ["BUYABLE", "DISCOVERABLE"]
        else:
            status = ["DISCOVERABLE"]
        summary: dict[str, Any] = {
            "marketplaceId": marketplace_id,
            "asin": listing.asin,
            "productType": listing.product_type,
            "conditionType": "new_new",
            "status": status,
            "itemName": listing.title,
            "createdDate": isoformat(listing.created),
            "lastUpdatedDate": isoformat(listing.last_updated),
            "mainImage": {
                "link": f"https://m.media-amazon.com/images/I/{listing.asin}.jpg",
                "height": 500,
                "width": 500,
            },
        }
        if listing.fn_sku:
            summary["fnSku"] = listing.fn_sku
        item["summaries"] = [summary]
    if "attributes" in wanted:
        attributes: dict[str, Any] = {
            "item_name": [
                {
                    "value": listing.title,
                    "language_tag": listing.language_tag,
                    "marketplace_id": marketplace_id,
                }
            ],
            "condition_type": [{"value": "new_new", "marketplace_id": marketplace_id}],
        }
        if listing.variation_theme:
            attributes["variation_theme"] = [
                {"name": "/".join(listing.variation_theme), "marketplace_id": marketplace_id}
            ]
            attributes["parentage_level"] = [
                {
                    "value": "parent" if listing.is_parent else "child",
                    "marketplace_id": marketplace_id,
                }
            ]
        if listing.parent_sku:
            attributes["child_parent_sku_relationship"] = [
                {
                    "child_relationship_type": "variation",
                    "parent_sku": listing.parent_sku,
                    "marketplace_id": marketplace_id,
                }
            ]
        if not listing.is_parent:
            attributes["fulfillment_availability"] = [_availability_attribute(listing)]
            attributes["purchasable_offer"] = [
                {
                    "currency": currency,
                    "marketplace_id": marketplace_id,
                    "our_price": [{"schedule": [{"value_with_tax": listing.price_cents / 100}]}],
                }
            ]
        item["attributes"] = attributes
    if "issues" in wanted:
        item["issues"] = issues or []
    if "offers" in wanted and not listing.is_parent:
        item["offers"] = [
            {
                "marketplaceId": marketplace_id,
                "offerType": "B2C",
                "price": {"currencyCode": currency, "amount": f"{listing.price_cents / 100:.2f}"},
                "audience": {"value": "ALL", "displayName": "Sell on Amazon"},
            }
        ]
    if "fulfillmentAvailability" in wanted and not listing.is_parent:
        item["fulfillmentAvailability"] = [
            {
                "fulfillmentChannelCode": listing.fulfillment_channel,
                "quantity": listing.stock.quantity,
            }
        ]
    if "relationships" in wanted:
        relationships: list[dict[str, Any]] = []
        theme = {
            "attributes": [_THEME_ATTRIBUTE[name] for name in listing.variation_theme],
            "theme": "/".join(listing.variation_theme),
        }
        if listing.is_parent:
            relationships.append(
                {
                    "type": "VARIATION",
                    "childSkus": list(listing.child_skus),
                    "variationTheme": theme,
                }
            )
        elif listing.parent_sku:
            relationships.append(
                {"type": "VARIATION", "parentSkus": [listing.parent_sku], "variationTheme": theme}
            )
        item["relationships"] = [{"marketplaceId": marketplace_id, "relationships": relationships}]
    if "productTypes" in wanted:
        item["productTypes"] = [
            {"marketplaceId": marketplace_id, "productType": listing.product_type}
        ]
    return item


_THEME_ATTRIBUTE = {
    "SIZE_NAME": "size",
    "COLOR_NAME": "color",
    "MATERIAL_TYPE": "material",
    "STYLE_NAME": "style",
    "PATTERN_NAME": "pattern",
}


def _availability_attribute(listing: Listing) -> dict[str, Any]:
    marketplace_id = listing.marketplace_id
    if listing.is_fba:
        return {"fulfillment_channel_code": FBA_CHANNEL, "marketplace_id": marketplace_id}
    return {
        "fulfillment_channel_code": MERCHANT_CHANNEL,
        "quantity": listing.quantity,
        "marketplace_id": marketplace_id,
    }


def inventory_summary_json(listing: Listing, details: bool) -> dict[str, Any]:
    """One SKU's counts in its fulfilment network (``listing`` holds them: ``Listing.stock``)."""
    summary: dict[str, Any] = {
        "asin": listing.asin,
        "fnSku": listing.fn_sku or "",
        "sellerSku": listing.sku,
        "condition": "NewItem",
        "lastUpdatedTime": isoformat(listing.last_updated),
        "productName": listing.title,
        "totalQuantity": listing.quantity
        + listing.reserved
        + listing.unfulfillable
        + listing.inbound,
    }
    if details:
        summary["inventoryDetails"] = {
            "fulfillableQuantity": listing.quantity,
            "inboundWorkingQuantity": 0,
            "inboundShippedQuantity": listing.inbound,
            "inboundReceivingQuantity": 0,
            "reservedQuantity": {
                "totalReservedQuantity": listing.reserved,
                "pendingCustomerOrderQuantity": listing.reserved,
                "pendingTransshipmentQuantity": 0,
                "fcProcessingQuantity": 0,
            },
            "researchingQuantity": {
                "totalResearchingQuantity": 0,
                "researchingQuantityBreakdown": [],
            },
            "unfulfillableQuantity": {
                "totalUnfulfillableQuantity": listing.unfulfillable,
                "customerDamagedQuantity": 0,
                "warehouseDamagedQuantity": listing.unfulfillable,
                "distributorDamagedQuantity": 0,
                "carrierDamagedQuantity": 0,
                "defectiveQuantity": 0,
                "expiredQuantity": 0,
            },
        }
    return summary


def report_window_orders(
    orders: list[Order], report_type: str, start: datetime, end: datetime
) -> list[Order]:
    if report_type == ORDERS_BY_DATE_REPORT:
        selected = [o for o in orders if start <= o.created <= end]
        return sorted(selected, key=lambda o: (o.created, o.order_id))
    selected = [o for o in orders if start <= o.last_updated <= end]
    return sorted(selected, key=lambda o: (o.last_updated, o.order_id))
