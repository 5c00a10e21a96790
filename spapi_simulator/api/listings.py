"""Listings Items API 2021-08-01: ``getListingsItem``, ``searchListingsItems``,
``patchListingsItem``."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from werkzeug.wrappers import Request

from ..data import MARKETPLACES, Listing
from ..documents import availability_from_patches, listing_json
from ..state import AccessToken, SimState
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
    list_param,
    marketplaces_in,
)

LISTING_INCLUDED_DATA = (
    "summaries",
    "attributes",
    "issues",
    "offers",
    "fulfillmentAvailability",
    "procurement",
    "relationships",
    "productTypes",
)


SORT_BY = ("sku", "createdDate", "lastUpdatedDate")
SORT_ORDER = ("ASC", "DESC")


def _one_of(request: Request, name: str, allowed: tuple[str, ...], default: str) -> str:
    """An enum query parameter: absent means ``default``; given, it must be one of ``allowed``
    exactly (Amazon's values are case-sensitive)."""
    value = request.args.get(name, default)
    if value not in allowed:
        raise invalid(f"Invalid {name} value '{value}'. Allowed values: {', '.join(allowed)}.")
    return value


def _check_listing_request(
    state: SimState, request: Request, access: AccessToken, seller_id: str
) -> tuple[str, dict[str, Listing]]:
    """The marketplace asked for (Amazon takes one per call) and the seller's listings there."""
    if seller_id != access.seller_id:
        raise ApiError(403, "Unauthorized", "Access to requested resource is denied.")
    markets = marketplaces_in(request)
    if not markets:
        raise invalid("marketplaceIds is required.")
    if len(markets) > 1:
        raise invalid("Only one marketplaceIds value is allowed.")
    (marketplace_id,) = markets
    if marketplace_id not in MARKETPLACES:
        raise invalid(f"The seller does not participate in marketplace(s) {marketplace_id}.")
    return marketplace_id, state.catalogue(marketplace_id)


def _listing_included(request: Request, default: tuple[str, ...] = ("summaries",)) -> list[str]:
    return enum_list(request, "includedData", LISTING_INCLUDED_DATA) or list(default)


def get_listings_item(
    state: SimState, request: Request, access: AccessToken, seller_id: str, sku: str
) -> Result:
    marketplace_id, listings = _check_listing_request(state, request, access, seller_id)
    included = _listing_included(request)
    listing = listings.get(sku)
    if listing is None:
        raise ApiError(404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {marketplace_id}")
    return 200, listing_json(listing, included)


def search_listings_items(
    state: SimState, request: Request, access: AccessToken, seller_id: str
) -> Result:
    _, listings = _check_listing_request(state, request, access, seller_id)
    included = _listing_included(request)
    page_size = int_param(request, "pageSize", 10, 1, 20)
    identifiers = list_param(request, "identifiers")
    identifiers_type = request.args.get("identifiersType")
    if identifiers and identifiers_type not in ("SKU", "ASIN", "FNSKU"):
        raise invalid("identifiersType (SKU, ASIN or FNSKU) is required with identifiers.")
    if len(identifiers) > 20:
        raise invalid("At most 20 identifiers are allowed.")
    # Amazon's defaults: the most recently updated listing first.
    sort_by = _one_of(request, "sortBy", SORT_BY, "lastUpdatedDate")
    sort_order = _one_of(request, "sortOrder", SORT_ORDER, "DESC")
    statuses = enum_list(request, "withStatus", ("BUYABLE", "DISCOVERABLE"))
    created_after, created_before = (
        date_param(request, "createdAfter"),
        date_param(request, "createdBefore"),
    )
    updated_after, updated_before = (
        date_param(request, "lastUpdatedAfter"),
        date_param(request, "lastUpdatedBefore"),
    )
    parent = request.args.get("variationParentSku")
    items = list(listings.values())
    if identifiers:
        wanted = set(identifiers)
        field = {"SKU": "sku", "ASIN": "asin", "FNSKU": "fn_sku"}[str(identifiers_type)]
        items = [i for i in items if getattr(i, field) in wanted]
    if parent:
        items = [i for i in items if i.parent_sku == parent]
    if created_after:
        items = [i for i in items if i.created >= created_after]
    if created_before:
        items = [i for i in items if i.created <= created_before]
    if updated_after:
        items = [i for i in items if i.last_updated >= updated_after]
    if updated_before:
        items = [i for i in items if i.last_updated <= updated_before]
    if "BUYABLE" in statuses:
        items = [i for i in items if not i.is_parent and (i.is_fba or i.quantity > 0)]
    key_of: dict[str, Callable[[Any], Any]] = {
        "sku": lambda i: i.sku,
        "createdDate": lambda i: (i.created, i.sku),
        "lastUpdatedDate": lambda i: (i.last_updated, i.sku),
    }
    items.sort(key=key_of[sort_by], reverse=sort_order == "DESC")
    offset = 0
    token = request.args.get("pageToken")
    if token:
        try:
            offset = int(b64decode(token)["offset"])
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid("Invalid pageToken.") from exc
    page = items[offset : offset + page_size]
    body: dict[str, Any] = {
        "numberOfResults": len(items),
        "items": [listing_json(i, included) for i in page],
    }
    pagination: dict[str, str] = {}
    if offset + page_size < len(items):
        pagination["nextToken"] = b64encode({"offset": offset + page_size})
    if offset > 0:
        pagination["previousToken"] = b64encode({"offset": max(0, offset - page_size)})
    if pagination:
        body["pagination"] = pagination
    return 200, body


def patch_listings_item(
    state: SimState, request: Request, access: AccessToken, seller_id: str, sku: str
) -> Result:
    marketplace_id, listings = _check_listing_request(state, request, access, seller_id)
    body = json_body(request)
    if not isinstance(body.get("productType"), str) or not body["productType"]:
        raise ApiError(400, "BAD_REQUEST", "productType is required.")
    patches = body.get("patches")
    if not isinstance(patches, list) or not patches:
        raise ApiError(400, "BAD_REQUEST", "patches must be a non-empty list.")
    for patch in patches:
        if (
            not isinstance(patch, dict)
            or patch.get("op") not in ("add", "replace", "merge", "delete")
            or not isinstance(patch.get("path"), str)
        ):
            raise ApiError(
                400,
                "BAD_REQUEST",
                "Each patch needs op (add, replace, merge, delete) and path.",
            )
    mode = request.args.get("mode")
    if mode not in (None, "VALIDATION_PREVIEW"):
        raise invalid("mode must be VALIDATION_PREVIEW when given.")
    included = enum_list(request, "includedData", ("identifiers", "issues")) or ["issues"]
    listing = listings.get(sku)
    change = availability_from_patches(listing, sku, patches)
    issues = [issue.as_listings_api() for issue in change.issues]
    if issues:
        status = "INVALID"
    elif mode == "VALIDATION_PREVIEW":
        status = "VALID"
    else:
        status = "ACCEPTED"
        if change.quantity is not None:
            state.set_listing_quantity(sku, change.quantity, state.now(), marketplace_id)
    response: dict[str, Any] = {"sku": sku, "status": status, "submissionId": uuid.uuid4().hex}
    if "issues" in included:
        response["issues"] = issues
    if "identifiers" in included and listing is not None:
        response["identifiers"] = [{"marketplaceId": marketplace_id, "asin": listing.asin}]
    return 200, response


OPERATIONS = [
    Operation(
        "/listings/2021-08-01/items/<seller_id>/<sku>",
        "PATCH",
        "patchListingsItem",
        patch_listings_item,
    ),
    Operation(
        "/listings/2021-08-01/items/<seller_id>/<sku>", "GET", "getListingsItem", get_listings_item
    ),
    Operation(
        "/listings/2021-08-01/items/<seller_id>",
        "GET",
        "searchListingsItems",
        search_listings_items,
    ),
]
