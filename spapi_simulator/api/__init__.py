"""The simulator's HTTP API, one module per Amazon API family (docs/ARCHITECTURE.md).

``OPERATIONS`` lists every SP-API operation the simulator implements, grouped by API
family; ``spapi_simulator/app.py`` routes requests to them, to ``auth`` (LWA and the
consent page), ``document_urls`` (the pre-signed S3 URLs) and ``control`` (``/_sim/...``).
"""

from __future__ import annotations

from . import feeds, finances, inventory, listings, notifications, orders, reports, sellers
from .common import Operation

OPERATIONS: list[Operation] = [
    *orders.OPERATIONS,
    *reports.OPERATIONS,
    *feeds.OPERATIONS,
    *listings.OPERATIONS,
    *inventory.OPERATIONS,
    *sellers.OPERATIONS,
    *notifications.OPERATIONS,
    *finances.OPERATIONS,
]
OPERATION_IDS = tuple(operation.operation_id for operation in OPERATIONS)

__all__ = ["OPERATIONS", "OPERATION_IDS", "Operation"]
