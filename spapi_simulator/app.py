"""The simulator's WSGI app: SP-API operations, LWA, consent page, documents, control API."""

from __future__ import annotations

import base64
import binascii
import html
import json
import time
import uuid
from collections.abc import Callable, Mapping
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import urlencode

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .clock import isoformat, parse_iso
from .data import FBA_CHANNEL, FULFILLED_BY, FULFILLMENT_STATUSES, MARKETPLACE_ID
from .documents import (
    LISTINGS_FEED,
    REPORT_TYPES,
    availability_from_patches,
    inventory_summary_json,
    listing_json,
)
from .orders import INCLUDED_DATA, order_json
from .ratelimit import USAGE_PLANS
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_SELLER_ID,
    FAULT_KINDS,
    PAGINATION_TOKEN_SECONDS,
    AccessToken,
    Fault,
    SimState,
)

# Marketplaces a North America authorization covers (CA, US, MX, BR).
KNOWN_MARKETPLACES = {"A2EUQ1WTGCTBG2", "ATVPDKIKX0DER", "A1AM78C64UM0Y8", "A2Q3Y263D00KWC"}
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
S3_ACCESS_DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
)

INVENTORY_PAGE_SIZE = 50


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


Result = tuple[int, dict[str, Any] | None]
Handler = Callable[..., Result]

# (rule, methods, operationId) for every SP-API operation the simulator implements.
OPERATIONS: list[tuple[str, str, str]] = [
    ("/orders/2026-01-01/orders", "GET", "searchOrders"),
    ("/orders/2026-01-01/orders/<order_id>", "GET", "getOrder"),
    ("/orders/v0/orders/<order_id>/shipmentConfirmation", "POST", "confirmShipment"),
    ("/reports/2021-06-30/reports", "POST", "createReport"),
    ("/reports/2021-06-30/reports/<report_id>", "GET", "getReport"),
    ("/reports/2021-06-30/documents/<document_id>", "GET", "getReportDocument"),
    ("/feeds/2021-06-30/documents", "POST", "createFeedDocument"),
    ("/feeds/2021-06-30/feeds", "POST", "createFeed"),
    ("/feeds/2021-06-30/feeds/<feed_id>", "GET", "getFeed"),
    ("/feeds/2021-06-30/documents/<document_id>", "GET", "getFeedDocument"),
    ("/listings/2021-08-01/items/<seller_id>/<sku>", "PATCH", "patchListingsItem"),
    ("/listings/2021-08-01/items/<seller_id>/<sku>", "GET", "getListingsItem"),
    ("/listings/2021-08-01/items/<seller_id>", "GET", "searchListingsItems"),
    ("/fba/inventory/v1/summaries", "GET", "getInventorySummaries"),
]
OPERATION_IDS = tuple(op for _, _, op in OPERATIONS)


def _b64encode(payload: dict[str, Any]) -> str:
    raw = json.dumps(payload, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def _b64decode(token: str) -> dict[str, Any]:
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


def marketplaces_in(request: Request) -> list[str]:
    ids = list_param(request, "marketplaceIds")
    for marketplace in ids:
        if marketplace not in KNOWN_MARKETPLACES:
            raise invalid(f"Invalid marketplaceIds value '{marketplace}'.")
    return ids


class SimulatorApp:
    """WSGI callable. Every handler runs under ``state.lock`` after ``state.tick()``."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        rules = [Rule(path, methods=[method], endpoint=op) for path, method, op in OPERATIONS]
        rules += [
            Rule("/auth/o2/token", methods=["POST"], endpoint="lwaToken"),
            Rule("/apps/authorize/consent", methods=["GET", "POST"], endpoint="consent"),
            Rule("/_documents/<token>", methods=["GET"], endpoint="documentDownload"),
            Rule("/_documents/<token>", methods=["PUT"], endpoint="documentUpload"),
            Rule("/_sim", methods=["GET"], endpoint="sim_info"),
            Rule("/_sim/orders", methods=["GET", "POST"], endpoint="sim_orders"),
            Rule("/_sim/orders/<order_id>/status", methods=["POST"], endpoint="sim_order_status"),
            Rule("/_sim/listings", methods=["GET"], endpoint="sim_listings"),
            Rule("/_sim/shipments", methods=["GET"], endpoint="sim_shipments"),
            Rule("/_sim/faults", methods=["GET", "POST", "DELETE"], endpoint="sim_faults"),
            Rule("/_sim/auth/revoke", methods=["POST"], endpoint="sim_revoke"),
            Rule("/_sim/reset", methods=["POST"], endpoint="sim_reset"),
            Rule("/_sim/counters", methods=["GET"], endpoint="sim_counters"),
            Rule("/_sim/clock", methods=["GET"], endpoint="sim_clock"),
            Rule("/_sim/clock/advance", methods=["POST"], endpoint="sim_clock_advance"),
        ]
        # strict_slashes off: a stray trailing slash must not turn into a redirect.
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)
        self.handlers: dict[str, Handler] = {
            "searchOrders": self.search_orders,
            "getOrder": self.get_order,
            "confirmShipment": self.confirm_shipment,
            "createReport": self.create_report,
            "getReport": self.get_report,
            "getReportDocument": self.get_report_document,
            "createFeedDocument": self.create_feed_document,
            "createFeed": self.create_feed,
            "getFeed": self.get_feed,
            "getFeedDocument": self.get_feed_document,
            "patchListingsItem": self.patch_listings_item,
            "getListingsItem": self.get_listings_item,
            "searchListingsItems": self.search_listings_items,
            "getInventorySummaries": self.get_inventory_summaries,
        }

    def __call__(self, environ: dict[str, Any], start_response: Any) -> Any:
        request = Request(environ)
        response = self.dispatch(request)
        return response(environ, start_response)

    # -- dispatch ------------------------------------------------------------------------

    def dispatch(self, request: Request) -> Response:
        # The Host header sp_api sends for http:// endpoints is mangled: match on the path only.
        adapter = self.url_map.bind("simulator")
        try:
            endpoint, args = adapter.match(request.path, method=request.method)
        except NotFound:
            return self._json(
                404,
                {"errors": [{"code": "NotFound", "message": "Resource not found.", "details": ""}]},
            )
        except MethodNotAllowed:
            return self._json(
                405,
                {
                    "errors": [
                        {
                            "code": "MethodNotAllowed",
                            "message": "Method not allowed.",
                            "details": "",
                        }
                    ]
                },
            )
        endpoint = str(endpoint)
        if endpoint in self.handlers:
            return self._operation(request, endpoint, args)
        if endpoint in ("lwaToken", "documentDownload", "documentUpload"):
            return self._plain_operation(request, endpoint, args)
        if endpoint == "consent":
            return self.consent(request)
        try:
            with self.state.lock:
                self.state.tick()
                status, body = getattr(self, endpoint)(request, **args)
        except ApiError as error:
            status, body = error.status, error.body()
        return self._json(status, body)

    def _json(
        self,
        status: int,
        body: dict[str, Any] | None,
        operation: str | None = None,
        request_id: str | None = None,
    ) -> Response:
        data = b"" if body is None else json.dumps(body, ensure_ascii=False).encode("utf-8")
        response = Response(data, status=status, content_type="application/json")
        response.headers["x-amzn-RequestId"] = request_id or str(uuid.uuid4())
        if operation in USAGE_PLANS and status != 403:
            response.headers["x-amzn-RateLimit-Limit"] = USAGE_PLANS[operation].header
        return response

    def _fault_response(self, fault: Fault, operation: str, request_id: str) -> Response | None:
        if fault.kind == "throttle":
            return self._json(429, QUOTA_EXCEEDED, operation, request_id)
        if fault.kind == "server_error":
            status = fault.status or 503
            reason = "Service Unavailable" if status == 503 else "Internal Server Error"
            response = Response(
                EDGE_ERROR_HTML.format(status=status, reason=reason),
                status=status,
                content_type="text/html",
            )
            response.headers["x-amzn-RequestId"] = request_id
            return response
        if fault.kind == "empty_body":
            response = Response(b"", status=fault.status or 200, content_type="application/json")
            response.headers["x-amzn-RequestId"] = request_id
            return response
        return None

    def _operation(self, request: Request, operation: str, args: Mapping[str, Any]) -> Response:
        request_id = str(uuid.uuid4())
        with self.state.lock:
            fault = self.state.take_fault(operation)
        if fault is not None and fault.kind == "timeout":
            time.sleep(fault.seconds)  # outside the lock: other requests keep flowing
        response = self._fault_response(fault, operation, request_id) if fault else None
        if response is None:
            with self.state.lock:
                now = self.state.tick()
                access = self.state.authenticate(request.headers.get("x-amz-access-token"))
                if access is None:
                    response = self._json(403, UNAUTHORIZED, operation, request_id)
                elif self.state.config.enforce_rate_limits and not self.state.buckets.try_acquire(
                    access.seller_id, operation, now
                ):
                    response = self._json(429, QUOTA_EXCEEDED, operation, request_id)
                else:
                    try:
                        status, body = self.handlers[operation](request, access, **args)
                    except ApiError as error:
                        status, body = error.status, error.body()
                    response = self._json(status, body, operation, request_id)
                if self.state.config.record_responses:
                    self.state.recorded.append(
                        (operation, response.status_code, response.get_data())
                    )
            if fault is not None and fault.kind == "malformed":
                data = response.get_data()
                response.set_data(data[: max(1, len(data) // 2)] if data else b"{")
        with self.state.lock:
            self.state.count(operation, status=response.status_code, size=len(response.get_data()))
        return response

    def _plain_operation(
        self, request: Request, operation: str, args: Mapping[str, Any]
    ) -> Response:
        """LWA and document URLs: fault injection and counters, no access token or usage plan."""
        request_id = str(uuid.uuid4())
        with self.state.lock:
            fault = self.state.take_fault(operation)
        if fault is not None and fault.kind == "timeout":
            time.sleep(fault.seconds)
        response = self._fault_response(fault, operation, request_id) if fault else None
        if response is None:
            with self.state.lock:
                self.state.tick()
                if operation == "lwaToken":
                    response = self.lwa_token(request)
                elif operation == "documentDownload":
                    response = self.document_download(request, args["token"], request_id)
                else:
                    response = self.document_upload(request, args["token"], request_id)
            if fault is not None and fault.kind == "malformed":
                data = response.get_data()
                response.set_data(data[: max(1, len(data) // 2)] if data else b"{")
        with self.state.lock:
            self.state.count(operation, status=response.status_code, size=len(response.get_data()))
        return response

    # -- Orders ----------------------------------------------------------------------------

    def search_orders(self, request: Request, access: AccessToken) -> Result:
        state = self.state
        now = state.now()
        token = request.args.get("paginationToken")
        if token:
            query = _b64decode(token)
            try:
                issued = float(query["t"])
                key = (float(query["k"][0]), str(query["k"][1]))
                by, after, before = str(query["by"]), float(query["a"]), float(query["b"])
                statuses, fulfilled, markets = list(query["s"]), list(query["f"]), list(query["m"])
                limit, included = int(query["n"]), frozenset(query["i"])
            except (KeyError, TypeError, ValueError, IndexError) as exc:
                raise invalid("Invalid pagination token.") from exc
            if now.timestamp() - issued > PAGINATION_TOKEN_SECONDS:
                raise invalid("The pagination token has expired.")
            start_after: tuple[float, str] | None = key
        else:
            created_after, created_before = (
                date_param(request, "createdAfter"),
                date_param(request, "createdBefore"),
            )
            updated_after, updated_before = (
                date_param(request, "lastUpdatedAfter"),
                date_param(request, "lastUpdatedBefore"),
            )
            if (created_after is None) == (updated_after is None):
                raise invalid("Exactly one of createdAfter and lastUpdatedAfter must be provided.")
            if created_after is not None and (updated_before is not None):
                raise invalid("lastUpdatedBefore cannot be combined with createdAfter.")
            if updated_after is not None and (created_before is not None):
                raise invalid("createdBefore cannot be combined with lastUpdatedAfter.")
            by = "created" if created_after is not None else "updated"
            start = created_after or updated_after
            end = created_before if by == "created" else updated_before
            assert start is not None
            latest = now - timedelta(seconds=state.config.search_lag_seconds)
            if start > now:
                raise invalid(
                    f"{'createdAfter' if by == 'created' else 'lastUpdatedAfter'} "
                    "cannot be in the future."
                )
            if end is None:
                end = latest
            elif end > latest:
                name = "createdBefore" if by == "created" else "lastUpdatedBefore"
                raise invalid(
                    f"{name} must be at least {int(state.config.search_lag_seconds)} seconds "
                    "before the time of the request."
                )
            if end < start:
                raise invalid("The Before date must be equal to or after the After date.")
            after, before = start.timestamp(), end.replace(microsecond=0).timestamp()
            statuses = enum_list(request, "fulfillmentStatuses", FULFILLMENT_STATUSES)
            fulfilled = enum_list(request, "fulfilledBy", FULFILLED_BY)
            markets = marketplaces_in(request)
            if len(markets) > 50:
                raise invalid("At most 50 marketplaceIds are allowed.")
            limit = int_param(request, "maxResultsPerPage", 100, 1, 100)
            included = frozenset(enum_list(request, "includedData", INCLUDED_DATA))
            start_after = None
            issued = now.timestamp()

        status_set, fulfilled_set, market_set = set(statuses), set(fulfilled), set(markets)

        def accept(order: Any) -> bool:
            return (
                (not status_set or order.status in status_set)
                and (not fulfilled_set or order.fulfilled_by in fulfilled_set)
                and (not market_set or order.marketplace_id in market_set)
            )

        page: list[Any] = []
        last_key: tuple[float, str] | None = None
        more = False
        for sort_key, order in state.orders.window(by, after, before, start_after, accept):
            if len(page) == limit:
                more = True
                break
            page.append(order)
            last_key = sort_key
        body: dict[str, Any] = {"orders": [order_json(order, included) for order in page]}
        if more and last_key is not None:
            body["pagination"] = {
                "nextToken": _b64encode(
                    {
                        "by": by,
                        "a": after,
                        "b": before,
                        "s": statuses,
                        "f": fulfilled,
                        "m": markets,
                        "n": limit,
                        "i": sorted(included),
                        "t": issued,
                        "k": [last_key[0], last_key[1]],
                    }
                )
            }
        bound = isoformat(datetime.fromtimestamp(before, tz=now.tzinfo))
        body["createdBefore" if by == "created" else "lastUpdatedBefore"] = bound
        return 200, body

    def get_order(self, request: Request, access: AccessToken, order_id: str) -> Result:
        included = frozenset(enum_list(request, "includedData", INCLUDED_DATA))
        order = self.state.orders.by_id.get(order_id)
        if order is None:
            raise not_found(f"Order {order_id} was not found.")
        return 200, {"order": order_json(order, included)}

    def confirm_shipment(self, request: Request, access: AccessToken, order_id: str) -> Result:
        order = self.state.orders.by_id.get(order_id)
        if order is None:
            raise not_found(f"Order {order_id} was not found.")
        body = json_body(request)
        if body.get("marketplaceId") != order.marketplace_id:
            raise invalid(
                f"marketplaceId is required and must be {order.marketplace_id} for this order."
            )
        package = body.get("packageDetail")
        if not isinstance(package, dict):
            raise invalid("packageDetail is required.")
        for field in (
            "packageReferenceId",
            "carrierCode",
            "trackingNumber",
            "shipDate",
            "orderItems",
        ):
            if package.get(field) in (None, "", []):
                detail = " (mandatory on Amazon.ca)" if field == "carrierCode" else ""
                raise invalid(f"packageDetail.{field} is required{detail}.")
        if str(package["carrierCode"]).lower() == "other" and not package.get("carrierName"):
            raise invalid("packageDetail.carrierName is required when carrierCode is 'Other'.")
        try:
            ship_date = parse_iso(str(package["shipDate"])).replace(microsecond=0)
        except ValueError as exc:
            raise invalid("packageDetail.shipDate must be an ISO 8601 date-time.") from exc
        if order.fulfilled_by != "MERCHANT":
            raise invalid(
                f"Order {order_id} is fulfilled by Amazon; shipments cannot be confirmed."
            )
        if order.status not in ("UNSHIPPED", "PARTIALLY_SHIPPED"):
            raise invalid(
                f"Order {order_id} has status {order.status}; only UNSHIPPED or "
                "PARTIALLY_SHIPPED orders can be confirmed."
            )
        lines = {line.order_item_id: line for line in order.lines}
        quantities: dict[str, int] = {}
        items = package["orderItems"]
        if not isinstance(items, list):
            raise invalid("packageDetail.orderItems must be a list.")
        for item in items:
            if not isinstance(item, dict) or not item.get("orderItemId"):
                raise invalid("Each orderItems entry needs an orderItemId.")
            item_id = str(item["orderItemId"])
            if item_id not in lines:
                raise invalid(f"orderItemId {item_id} is not part of order {order_id}.")
            quantity = item.get("quantity", lines[item_id].unshipped)
            if isinstance(quantity, bool) or not isinstance(quantity, int) or quantity < 1:
                raise invalid(f"quantity for orderItemId {item_id} must be a positive integer.")
            quantities[item_id] = quantities.get(item_id, 0) + quantity
        for item_id, quantity in quantities.items():
            if quantity > lines[item_id].unshipped:
                raise invalid(
                    f"quantity {quantity} for orderItemId {item_id} exceeds the unshipped "
                    f"quantity {lines[item_id].unshipped}."
                )
        self.state.confirm_shipment(order, package, ship_date, quantities)
        return 204, None

    # -- Reports ---------------------------------------------------------------------------

    def create_report(self, request: Request, access: AccessToken) -> Result:
        body = json_body(request)
        report_type = body.get("reportType")
        if report_type not in REPORT_TYPES:
            raise invalid(
                f"Invalid or unsupported reportType '{report_type}'. "
                f"Supported: {', '.join(REPORT_TYPES)}."
            )
        markets = body.get("marketplaceIds")
        if (
            not isinstance(markets, list)
            or not markets
            or any(m not in KNOWN_MARKETPLACES for m in markets)
        ):
            raise invalid("marketplaceIds must be a non-empty list of valid marketplace ids.")
        now = self.state.now()
        try:
            start = (
                parse_iso(body["dataStartTime"])
                if body.get("dataStartTime")
                else now - timedelta(days=30)
            )
            end = parse_iso(body["dataEndTime"]) if body.get("dataEndTime") else now
        except (ValueError, TypeError, AttributeError) as exc:
            raise invalid("dataStartTime and dataEndTime must be ISO 8601 date-times.") from exc
        if end < start:
            raise invalid("dataEndTime must be after dataStartTime.")
        report = self.state.create_report(
            str(report_type),
            [str(m) for m in markets],
            start.replace(microsecond=0),
            end.replace(microsecond=0),
        )
        return 202, {"reportId": report.report_id}

    def get_report(self, request: Request, access: AccessToken, report_id: str) -> Result:
        report = self.state.reports.get(report_id)
        if report is None:
            raise not_found(f"Report {report_id} was not found.")
        return 200, report.as_json()

    def get_report_document(
        self, request: Request, access: AccessToken, document_id: str
    ) -> Result:
        document = self.state.documents.get(document_id)
        if document is None or document.kind != "report":
            raise not_found(f"Report document {document_id} was not found.")
        body: dict[str, Any] = {
            "reportDocumentId": document_id,
            "url": self.state.document_url(document_id, "GET"),
        }
        if document.compression:
            body["compressionAlgorithm"] = document.compression
        return 200, body

    # -- Feeds -----------------------------------------------------------------------------

    def create_feed_document(self, request: Request, access: AccessToken) -> Result:
        body = json_body(request)
        content_type = body.get("contentType")
        if not isinstance(content_type, str) or not content_type:
            raise invalid("contentType is required.")
        document = self.state.new_document("feed_input", content_type)
        return 201, {
            "feedDocumentId": document.document_id,
            "url": self.state.document_url(document.document_id, "PUT"),
        }

    def create_feed(self, request: Request, access: AccessToken) -> Result:
        body = json_body(request)
        feed_type = body.get("feedType")
        if not feed_type:
            raise invalid("feedType is required.")
        if feed_type != LISTINGS_FEED:
            raise invalid(
                f"feedType '{feed_type}' is not supported by the simulator (only {LISTINGS_FEED})."
            )
        markets = body.get("marketplaceIds")
        if (
            not isinstance(markets, list)
            or not markets
            or any(m not in KNOWN_MARKETPLACES for m in markets)
        ):
            raise invalid("marketplaceIds must be a non-empty list of valid marketplace ids.")
        document_id = body.get("inputFeedDocumentId")
        document = self.state.documents.get(str(document_id))
        if document is None or document.kind != "feed_input":
            raise invalid(
                f"inputFeedDocumentId '{document_id}' is not a feed document you created."
            )
        feed = self.state.create_feed(
            LISTINGS_FEED, [str(m) for m in markets], document.document_id, access.seller_id
        )
        return 202, {"feedId": feed.feed_id}

    def get_feed(self, request: Request, access: AccessToken, feed_id: str) -> Result:
        feed = self.state.feeds.get(feed_id)
        if feed is None:
            raise not_found(f"Feed {feed_id} was not found.")
        return 200, feed.as_json()

    def get_feed_document(self, request: Request, access: AccessToken, document_id: str) -> Result:
        document = self.state.documents.get(document_id)
        if document is None or document.kind not in ("feed_input", "feed_result"):
            raise not_found(f"Feed document {document_id} was not found.")
        body: dict[str, Any] = {
            "feedDocumentId": document_id,
            "url": self.state.document_url(document_id, "GET"),
        }
        if document.compression:
            body["compressionAlgorithm"] = document.compression
        return 200, body

    # -- Listings --------------------------------------------------------------------------

    def _check_listing_request(self, request: Request, access: AccessToken, seller_id: str) -> None:
        if seller_id != access.seller_id:
            raise ApiError(403, "Unauthorized", "Access to requested resource is denied.")
        markets = marketplaces_in(request)
        if not markets:
            raise invalid("marketplaceIds is required.")
        if MARKETPLACE_ID not in markets:
            raise invalid(
                f"The seller does not participate in marketplace(s) {', '.join(markets)}."
            )

    def _listing_included(
        self, request: Request, default: tuple[str, ...] = ("summaries",)
    ) -> list[str]:
        return enum_list(request, "includedData", LISTING_INCLUDED_DATA) or list(default)

    def get_listings_item(
        self, request: Request, access: AccessToken, seller_id: str, sku: str
    ) -> Result:
        self._check_listing_request(request, access, seller_id)
        included = self._listing_included(request)
        listing = self.state.listings.get(sku)
        if listing is None:
            raise ApiError(
                404, "NOT_FOUND", f"SKU '{sku}' not found in marketplace {MARKETPLACE_ID}"
            )
        return 200, listing_json(listing, included)

    def search_listings_items(
        self, request: Request, access: AccessToken, seller_id: str
    ) -> Result:
        self._check_listing_request(request, access, seller_id)
        included = self._listing_included(request)
        page_size = int_param(request, "pageSize", 10, 1, 20)
        identifiers = list_param(request, "identifiers")
        identifiers_type = request.args.get("identifiersType")
        if identifiers and identifiers_type not in ("SKU", "ASIN", "FNSKU"):
            raise invalid("identifiersType (SKU, ASIN or FNSKU) is required with identifiers.")
        if len(identifiers) > 20:
            raise invalid("At most 20 identifiers are allowed.")
        sort_by = request.args.get("sortBy", "lastUpdatedDate")
        sort_order = request.args.get("sortOrder", "DESC")
        if sort_by not in ("sku", "createdDate", "lastUpdatedDate") or sort_order not in (
            "ASC",
            "DESC",
        ):
            raise invalid("Invalid sortBy or sortOrder.")
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
        items = list(self.state.listings.values())
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
                offset = int(_b64decode(token)["offset"])
            except (KeyError, TypeError, ValueError) as exc:
                raise invalid("Invalid pageToken.") from exc
        page = items[offset : offset + page_size]
        body: dict[str, Any] = {
            "numberOfResults": len(items),
            "items": [listing_json(i, included) for i in page],
        }
        pagination: dict[str, str] = {}
        if offset + page_size < len(items):
            pagination["nextToken"] = _b64encode({"offset": offset + page_size})
        if offset > 0:
            pagination["previousToken"] = _b64encode({"offset": max(0, offset - page_size)})
        if pagination:
            body["pagination"] = pagination
        return 200, body

    def patch_listings_item(
        self, request: Request, access: AccessToken, seller_id: str, sku: str
    ) -> Result:
        self._check_listing_request(request, access, seller_id)
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
        listing = self.state.listings.get(sku)
        change = availability_from_patches(listing, sku, patches)
        issues = [issue.as_listings_api() for issue in change.issues]
        if issues:
            status = "INVALID"
        elif mode == "VALIDATION_PREVIEW":
            status = "VALID"
        else:
            status = "ACCEPTED"
            if change.quantity is not None:
                self.state.set_listing_quantity(sku, change.quantity, self.state.now())
        response: dict[str, Any] = {"sku": sku, "status": status, "submissionId": uuid.uuid4().hex}
        if "issues" in included:
            response["issues"] = issues
        if "identifiers" in included and listing is not None:
            response["identifiers"] = [{"marketplaceId": MARKETPLACE_ID, "asin": listing.asin}]
        return 200, response

    # -- FBA inventory ---------------------------------------------------------------------

    def get_inventory_summaries(self, request: Request, access: AccessToken) -> Result:
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
            listing
            for listing in self.state.listings.values()
            if listing.fulfillment_channel == FBA_CHANNEL
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
                offset = int(_b64decode(token)["offset"])
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
            body["pagination"] = {"nextToken": _b64encode({"offset": offset + INVENTORY_PAGE_SIZE})}
        return 200, body

    # -- LWA and consent -------------------------------------------------------------------

    def lwa_token(self, request: Request) -> Response:
        form = request.form

        def error(status: int, code: str, description: str) -> Response:
            return Response(
                json.dumps({"error": code, "error_description": description}),
                status=status,
                content_type="application/json;charset=UTF-8",
            )

        if (
            form.get("client_id") != DEFAULT_CLIENT_ID
            or form.get("client_secret") != DEFAULT_CLIENT_SECRET
        ):
            return error(401, "invalid_client", "Client authentication failed")
        grant_type = form.get("grant_type")
        if grant_type == "refresh_token":
            refresh = self.state.refresh_tokens.get(form.get("refresh_token", ""))
            if refresh is None or refresh.revoked:
                return error(
                    400,
                    "invalid_grant",
                    "The request has an invalid grant parameter : refresh_token",
                )
        elif grant_type == "authorization_code":
            exchanged = self.state.exchange_auth_code(form.get("code", ""), DEFAULT_CLIENT_ID)
            if exchanged is None:
                return error(
                    400, "invalid_grant", "The request has an invalid grant parameter : code"
                )
            refresh = exchanged
        elif not grant_type:
            return error(
                400, "invalid_request", "The request is missing a required parameter : grant_type"
            )
        else:
            return error(
                400, "unsupported_grant_type", f"The grant type {grant_type} is not supported"
            )
        access = self.state.issue_access_token(refresh)
        body = {
            "access_token": access.token,
            "refresh_token": refresh.token,
            "token_type": "bearer",
            "expires_in": int((access.expires - self.state.now()).total_seconds() + 0.5),
        }
        return Response(json.dumps(body), status=200, content_type="application/json;charset=UTF-8")

    def consent(self, request: Request) -> Response:
        source = request.form if request.method == "POST" else request.args
        application_id = source.get("application_id", "")
        state_value = source.get("state", "")
        redirect_uri = source.get("redirect_uri") or self.state.config.redirect_uri
        if not application_id or not state_value:
            return Response(
                "<!DOCTYPE html><html><body><h1>Invalid request</h1>"
                "<p>application_id and state are required.</p></body></html>",
                status=400,
                content_type="text/html; charset=utf-8",
            )
        if request.method == "GET":
            fields = "".join(
                f'<input type="hidden" name="{html.escape(k)}" value="{html.escape(v)}">'
                for k, v in (
                    ("application_id", application_id),
                    ("state", state_value),
                    ("redirect_uri", redirect_uri),
                )
            )
            page = (
                '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
                "<title>Amazon Seller Central (simulator) - Authorize application</title>"
                "</head><body>"
                "<h1>Seller Central (simulator)</h1>"
                f"<p>The application <code>{html.escape(application_id)}</code> asks for access "
                "to the "
                f"Amazon.ca seller account <strong>{DEFAULT_SELLER_ID}</strong>.</p>"
                f'<form method="post" action="/apps/authorize/consent">{fields}'
                '<button type="submit" name="authorize" value="1">Authorize</button></form>'
                "</body></html>"
            )
            return Response(page, status=200, content_type="text/html; charset=utf-8")
        with self.state.lock:
            self.state.tick()
            code = self.state.issue_auth_code(DEFAULT_SELLER_ID)
        query = urlencode(
            {
                "spapi_oauth_code": code.code,
                "selling_partner_id": DEFAULT_SELLER_ID,
                "state": state_value,
            }
        )
        location = redirect_uri + ("&" if "?" in redirect_uri else "?") + query
        response = Response("", status=302)
        response.headers["Location"] = location
        return response

    # -- documents -------------------------------------------------------------------------

    def _access_denied(self, message: str, request_id: str) -> Response:
        body = S3_ACCESS_DENIED.format(message=html.escape(message), request_id=request_id)
        return Response(body, status=403, content_type="application/xml")

    def document_download(self, request: Request, token: str, request_id: str) -> Response:
        url = self.state.document_urls.get(token)
        if url is None or url.method != "GET":
            return self._access_denied("Access Denied", request_id)
        if url.expires <= self.state.now():
            return self._access_denied("Request has expired", request_id)
        document = self.state.documents[url.document_id]
        return Response(document.content, status=200, content_type=document.content_type)

    def document_upload(self, request: Request, token: str, request_id: str) -> Response:
        url = self.state.document_urls.get(token)
        if url is None or url.method != "PUT":
            return self._access_denied("Access Denied", request_id)
        if url.expires <= self.state.now():
            return self._access_denied("Request has expired", request_id)
        document = self.state.documents[url.document_id]
        document.content = request.get_data()
        document.uploaded = True
        response = Response(b"", status=200)
        response.headers["ETag"] = f'"{uuid.uuid4().hex}"'
        return response

    # -- control API -----------------------------------------------------------------------

    def sim_info(self, request: Request) -> Result:
        return 200, {
            "seed": self.state.config.seed,
            "clock": isoformat(self.state.now()),
            "timeScale": self.state.clock.time_scale,
            "credentials": {
                "lwaClientId": DEFAULT_CLIENT_ID,
                "lwaClientSecret": DEFAULT_CLIENT_SECRET,
                "sellingPartnerId": DEFAULT_SELLER_ID,
                "refreshToken": "Atzr|simulator",
            },
            "marketplaceId": MARKETPLACE_ID,
            "orders": len(self.state.orders),
            "listings": len(self.state.listings),
        }

    def sim_orders(self, request: Request) -> Result:
        state = self.state
        if request.method == "GET":
            return 200, {"orders": [state.order_view(order) for order in state.orders.all_orders()]}
        body = json_body(request)
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
                or any(s not in state.listings or state.listings[s].is_parent for s in skus)
            ):
                raise invalid("skus must be a non-empty list of buyable SKUs in the catalogue.")
            channels = {state.listings[s].fulfillment_channel for s in skus}
            if len(channels) > 1:
                raise invalid("skus must share one fulfilment channel.")
            implied = "AMAZON" if channels == {FBA_CHANNEL} else "MERCHANT"
            if fulfilled_by is not None and fulfilled_by != implied:
                raise invalid(f"skus are fulfilled by {implied}, not {fulfilled_by}.")
            fulfilled_by = implied
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
        )
        return 201, {"orders": [state.order_view(order) for order in orders]}

    def sim_order_status(self, request: Request, order_id: str) -> Result:
        order = self.state.orders.by_id.get(order_id)
        if order is None:
            raise not_found(f"Order {order_id} was not found.")
        status = json_body(request).get("fulfillmentStatus")
        if status not in FULFILLMENT_STATUSES:
            raise invalid(f"fulfillmentStatus must be one of {', '.join(FULFILLMENT_STATUSES)}.")
        self.state.set_order_status(order, str(status))
        return 200, self.state.order_view(order)

    def sim_listings(self, request: Request) -> Result:
        return 200, {"listings": self.state.listings_view()}

    def sim_shipments(self, request: Request) -> Result:
        return 200, {"shipments": list(self.state.shipments)}

    def sim_faults(self, request: Request) -> Result:
        if request.method == "GET":
            return 200, {"faults": [f.as_json() for f in self.state.faults]}
        if request.method == "DELETE":
            self.state.faults.clear()
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
        if (
            isinstance(seconds, bool)
            or not isinstance(seconds, int | float)
            or not 0 <= seconds <= 120
        ):
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
            until=(
                self.state.now() + timedelta(seconds=float(duration))
                if duration is not None
                else None
            ),
        )
        self.state.add_fault(fault)
        return 201, {"fault": fault.as_json(), "faults": [f.as_json() for f in self.state.faults]}

    def sim_revoke(self, request: Request) -> Result:
        body = json_body(request)
        token = body.get("refreshToken")
        return 200, {"revoked": self.state.revoke(str(token) if token else None)}

    def sim_reset(self, request: Request) -> Result:
        body = json_body(request)
        seed = body.get("seed", self.state.config.seed)
        if isinstance(seed, bool) or not isinstance(seed, int):
            raise invalid("seed must be an integer.")
        self.state.reset(seed)
        return 200, {"seed": seed, "clock": isoformat(self.state.now())}

    def sim_counters(self, request: Request) -> Result:
        return 200, {
            "operations": {
                name: counter.as_json() for name, counter in sorted(self.state.counters.items())
            },
            "clock": isoformat(self.state.now()),
        }

    def sim_clock(self, request: Request) -> Result:
        return 200, {"clock": isoformat(self.state.now()), "timeScale": self.state.clock.time_scale}

    def sim_clock_advance(self, request: Request) -> Result:
        seconds = json_body(request).get("seconds")
        if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
            raise invalid("seconds must be a non-negative number.")
        self.state.clock.advance(float(seconds))
        return 200, {"clock": isoformat(self.state.tick())}
