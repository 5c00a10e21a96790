"""FBA Inventory API v1: ``getInventorySummaries``."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from ..data import FBA_CHANNEL, MARKETPLACE_ID
from ..documents import inventory_summary_json
from ..state import AccessToken, SimState
from .common import (
    Operation,
    Result,
    b64decode,
    b64encode,
    date_param,
    invalid,
    list_param,
    marketplaces_in,
)

INVENTORY_PAGE_SIZE = 50


def get_inventory_summaries(state: SimState, request: Request, access: AccessToken) -> Result:
    if request.args.get("granularityType") != "Marketplace":
        raise invalid("granularityType is required and must be 'Marketplace'.")
    if request.args.get("granularityId") != MARKETPLACE_ID:
        raise invalid(
            f"granularityId must be a marketplace the seller sells in ({MARKETPLACE_ID})."
        )
    markets = marketplaces_in(request)
    if markets != [MARKETPLACE_ID]:
        raise invalid(f"marketplaceIds is required and must be [{MARKETPLACE_ID}].")
    details = request.args.get("details", "false").lower() == "true"
    skus = list_param(request, "sellerSkus")
    if len(skus) > 50:
        raise invalid("At most 50 sellerSkus are allowed.")
    start = date_param(request, "startDateTime")
    items = [
        listing for listing in state.listings.values() if listing.fulfillment_channel == FBA_CHANNEL
    ]
    if start is not None:
        items = [i for i in items if i.last_updated >= start]
    elif skus:
        wanted = set(skus)
        items = [i for i in items if i.sku in wanted]
    elif request.args.get("sellerSku"):
        items = [i for i in items if i.sku == request.args["sellerSku"]]
    items.sort(key=lambda i: i.sku)
    offset = 0
    token = request.args.get("nextToken")
    if token:
        try:
            offset = int(b64decode(token)["offset"])
        except (KeyError, TypeError, ValueError) as exc:
            raise invalid("Invalid nextToken.") from exc
    page = items[offset : offset + INVENTORY_PAGE_SIZE]
    body: dict[str, Any] = {
        "payload": {
            "granularity": {"granularityType": "Marketplace", "granularityId": MARKETPLACE_ID},
            "inventorySummaries": [inventory_summary_json(i, details) for i in page],
        }
    }
    if offset + INVENTORY_PAGE_SIZE < len(items):
        body["pagination"] = {"nextToken": b64encode({"offset": offset + INVENTORY_PAGE_SIZE})}
    return 200, body


OPERATIONS = [
    Operation(
        "/fba/inventory/v1/summaries", "GET", "getInventorySummaries", get_inventory_summaries
    ),
]
