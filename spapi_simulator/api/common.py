"""What every API family shares: error bodies, request parameters, page tokens, the route types.

A handler of an SP-API operation is ``handler(state, request, access, **url_args) -> (status,
body)``; a control handler is ``handler(state, request, **url_args)``. Both raise
:class:`ApiError` for an Amazon-style error body; the router (``spapi_simulator/app.py``) calls
them under ``state.lock`` after ``state.tick()``.
"""

from __future__ import annotations

import base64
import binascii
import gzip
import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from werkzeug.wrappers import Request

from ..clock import parse_iso

if TYPE_CHECKING:
    from ..documents import Document
    from ..state import SimState

# Marketplaces a North America authorization covers (CA, US, MX, BR).
KNOWN_MARKETPLACES = {"A2EUQ1WTGCTBG2", "ATVPDKIKX0DER", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC"}
QUOTA_EXCEEDED = {
    "errors": [
        {
            "code": "QuotaExceeded",
            "message": "You exceeded your quota for the requested resource.",
            "details": "",
        }
    ]
}
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}
# What Amazon's edge sends on a 5xx: HTML, not JSON.
EDGE_ERROR_HTML = (
    "<!DOCTYPE html>\n<html><head><title>{status} {reason}</title></head>"
    "<body><h1>{status} {reason}</h1><p>The server encountered a temporary error and could not "
    "complete your request.</p><hr><center>Server</center></body></html>\n"
)

# What the ``gzip_bomb`` fault's document inflates to: far above any sane report.
GZIP_BOMB_BYTES = 64 * 1024 * 1024

Result = tuple[int, dict[str, Any] | None]
Handler = Callable[..., Result]


@dataclass(frozen=True)
class Operation:
    """An SP-API operation: access token, usage plan, fault injection and counters apply."""

    path: str
    method: str
    operation_id: str
    handler: Handler
    # Which access tokens it takes: a seller's (``SELLER``), only a grantless one with the
    # notifications scope (``GRANTLESS``), or either (``EITHER``); any other gets 403.
    tokens: str = "seller"


SELLER, GRANTLESS, EITHER = "seller", "grantless", "either"


@dataclass(frozen=True)
class ControlRoute:
    """A ``/_sim/...`` endpoint: no access token, no usage plan, no counters."""

    path: str
    methods: tuple[str, ...]
    endpoint: str
    handler: Handler


class ApiError(Exception):
    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status, self.code, self.message = status, code, message

    def body(self) -> dict[str, Any]:
        return {"errors": [{"code": self.code, "message": self.message, "details": ""}]}


def invalid(message: str) -> ApiError:
    return ApiError(400, "InvalidInput", message)


def not_found(message: str) -> ApiError:
    return ApiError(404, "NotFound", message)


def b64encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def b64decode(token: str) -> dict[str, Any]:
    try:
        padded = token + "=" * (-len(token) % 4)
        value = json.loads(base64.urlsafe_b64decode(padded.encode()))
    except (ValueError, binascii.Error) as exc:
        raise invalid("Invalid pagination token.") from exc
    if not isinstance(value, dict):
        raise invalid("Invalid pagination token.")
    return value


def list_param(request: Request, name: str) -> list[str]:
    """Array query parameters: repeated keys and comma-separated values (sp_api sends both)."""
    values: list[str] = []
    for raw in request.args.getlist(name):
        values.extend(part.strip() for part in raw.split(",") if part.strip())
    return values


def date_param(request: Request, name: str) -> datetime | None:
    raw = request.args.get(name)
    if raw is None:
        return None
    try:
        return parse_iso(raw)
    except ValueError as exc:
        raise invalid(f"Invalid {name}: '{raw}' is not an ISO 8601 date-time.") from exc


def int_param(request: Request, name: str, default: int, low: int, high: int) -> int:
    raw = request.args.get(name)
    if raw is None:
        return default
    try:
        value = int(raw)
    except ValueError as exc:
        raise invalid(f"Invalid {name}: '{raw}' is not an integer.") from exc
    if not low <= value <= high:
        raise invalid(f"Invalid {name}: {value} must be between {low} and {high}.")
    return value


def enum_list(request: Request, name: str, allowed: tuple[str, ...]) -> list[str]:
    values = list_param(request, name)
    for value in values:
        if value not in allowed:
            raise invalid(f"Invalid {name} value '{value}'. Allowed values: {', '.join(allowed)}.")
    return values


def json_body(request: Request) -> dict[str, Any]:
    try:
        body = json.loads(request.get_data() or b"{}")
    except (ValueError, UnicodeDecodeError) as exc:
        raise invalid("The request body is not valid JSON.") from exc
    if not isinstance(body, dict):
        raise invalid("The request body must be a JSON object.")
    return body


def body_marketplaces(body: dict[str, Any]) -> list[str]:
    """A request body's ``marketplaceIds``: a non-empty list of North America marketplaces."""
    markets = body.get("marketplaceIds")
    if (
        not isinstance(markets, list)
        or not markets
        or any(m not in KNOWN_MARKETPLACES for m in markets)
    ):
        raise invalid("marketplaceIds must be a non-empty list of valid marketplace ids.")
    return [str(m) for m in markets]


def document_download_body(id_field: str, document: Document, state: SimState) -> dict[str, Any]:
    """``getReportDocument``/``getFeedDocument``: the document's id, a fresh pre-signed GET URL
    and its compression, if any. The ``gzip_bomb`` fault serves a few kilobytes that inflate to
    ``GZIP_BOMB_BYTES`` instead of the document."""
    served = document
    if state.take_special_fault("gzip_bomb"):
        served = gzip_bomb_document(state, document)
    body: dict[str, Any] = {
        id_field: document.document_id,
        "url": state.document_url(served.document_id, "GET"),
    }
    if served.compression:
        body["compressionAlgorithm"] = served.compression
    return body


def gzip_bomb_document(state: SimState, original: Document) -> Document:
    """A stand-in for ``original`` whose gzip inflates a thousandfold (zeros compress well)."""
    bomb = state.new_document(original.kind, original.content_type)
    bomb.content = gzip.compress(bytes(GZIP_BOMB_BYTES), compresslevel=9, mtime=0)
    bomb.compression = "GZIP"
    return bomb


def marketplaces_in(request: Request) -> list[str]:
    ids = list_param(request, "marketplaceIds")
    for marketplace in ids:
        if marketplace not in KNOWN_MARKETPLACES:
            raise invalid(f"Invalid marketplaceIds value '{marketplace}'.")
    return ids
