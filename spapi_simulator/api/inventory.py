"""FBA Inventory API v1: ``getInventorySummaries``."""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from ..data import MARKETPLACES
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
    # The counts are those of the fulfilment network serving the marketplace: Amazon.com and
    # Amazon.com.mx answer with the same US-network numbers.
    marketplace_id = str(request.args.get("granularityId"))
    if marketplace_id not in MARKETPLACES:
        raise invalid(
            f"granularityId must be a marketplace the seller sells in ({', '.join(MARKETPLACES)})."
        )
    markets = marketplaces_in(request)
    if markets != [marketplace_id]:
        raise invalid(f"marketplaceIds is required and must be [{marketplace_id}].")
    details = request.args.get("details", "false").lower() == "true"
    skus = list_param(request, "sellerSkus")
    if len(skus) > 50:
        raise invalid("At most 50 sellerSkus are allowed.")
    start = date_param(request, "startDateTime")
    items = state.fba_pool(marketplace_id)
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
            "granularity": {"granularityType": "Marketplace", "granularityId": marketplace_id},
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
