"""The one module that speaks HTTP to Amazon.

Everything above it gets typed results (``marketplaces.amazon.types``) and the product's own
exceptions (``marketplaces.amazon.errors``); nothing above it imports ``sp_api`` or ``httpx``.
python-amazon-sp-api is configured only through its constructor (``marketplace=`` and
``auth_token_client_class=``), so the same code talks to Amazon and to the simulator.

Every call first takes a token from our shared rate limiter. The library has no retry of its
own; this module does not retry either: it classifies. Callers (sync services, Celery tasks)
decide to retry transient failures later, never permanent ones.

Every request this module sends (SP-API operations, Login with Amazon, document uploads and
downloads) goes through an httpx client built by ``_checked_http_client``, whose response hook
is the one check of the HTTP status: the library hands a 5xx with an HTML body back as an
empty success, so the status cannot be left to it or to each call.
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
import threading
import time
import zlib
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TypeVar
from urllib.parse import quote, urlsplit

import httpx
from django.conf import settings
from sp_api.api import (
    Feeds,
    Finances,
    Inventories,
    ListingsItems,
    Notifications,
    Orders,
    Reports,
    Sellers,
)
from sp_api.auth import AccessTokenClient
from sp_api.auth.access_token_response import AccessTokenResponse
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base import ApiResponse, SellingApiException
from sp_api.base._transport_httpx import HttpxTransport

from marketplaces.amazon import ratelimit
from marketplaces.amazon.errors import (
    AmazonAuthError,
    AmazonError,
    AmazonPayloadError,
    AmazonRejected,
    AmazonThrottled,
    AmazonTransientError,
    AmazonUnsafe,
)
from marketplaces.amazon.types import (
    ORDER_DATA,
    PERSONAL_DATA,
    AmazonOrder,
    FbaInventory,
    FeedStatus,
    ListingDetails,
    ListingQuantity,
    MarketplaceParticipation,
    NotificationDestination,
    NotificationSubscription,
    OrdersPage,
    ReportStatus,
    parse_destination,
    parse_inventory_summaries,
    parse_listing_details,
    parse_order,
    parse_orders_page,
    parse_participations,
    parse_subscription,
)
from marketplaces.endpoints import (
    UntrustedUrl,
    check_document_url,
    check_lwa_endpoint,
    check_spapi_endpoint,
)

logger = logging.getLogger(__name__)

T = TypeVar("T")
HTTP_TIMEOUT = 30.0


def _http_timeout() -> float:
    return float(getattr(settings, "AMAZON_HTTP_TIMEOUT", HTTP_TIMEOUT) or HTTP_TIMEOUT)


ORDERS_VERSION = "2026-01-01"
FINANCES_VERSION = "2024-06-19"
# Login with Amazon's scope for the Notifications API's grantless operations.
NOTIFICATIONS_SCOPE = "sellingpartnerapi::notifications"


@dataclass(frozen=True)
class Connection:
    """What one channel needs to call Amazon. Built from a SalesChannel by the sync services."""

    seller_id: str
    marketplace_id: str
    refresh_token: str
    spapi_endpoint: str
    lwa_endpoint: str
    client_id: str
    client_secret: str

    def __repr__(self) -> str:  # never print secrets, even in a traceback's locals
        return f"Connection(seller_id={self.seller_id!r}, endpoint={self.spapi_endpoint!r})"


@dataclass(frozen=True)
class _Marketplace:
    """Duck-types ``sp_api.base.Marketplaces``: the library reads these three attributes."""

    endpoint: str
    marketplace_id: str
    region: str = "us-east-1"


# Access tokens, keyed by token endpoint, client and refresh-token digest. sp_api's own cache
# keeps tokens 3200 s whatever Amazon says and ignores the endpoint; ours honours expires_in.
_tokens: dict[str, tuple[float, dict[str, Any]]] = {}
_tokens_lock = threading.Lock()
_TOKEN_MARGIN = 60.0


def _token_key(token_url: str, client_id: str, refresh_token: str) -> str:
    digest = hashlib.sha256(f"{token_url}\0{client_id}\0{refresh_token}".encode()).hexdigest()
    return digest


def forget_access_tokens() -> None:
    with _tokens_lock:
        _tokens.clear()


class _HttpFailure(Exception):
    """A non-2xx answer, with the code and message its body gives (SP-API's ``errors``, Login
    with Amazon's ``error``, S3's XML), or the status's reason phrase."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(f"{status} {code or message}")
        self.status, self.code, self.message = status, code, message


_S3_ERROR = re.compile(r"<Code>([^<]*)</Code>\s*<Message>([^<]*)</Message>")


def _answer_reason(response: httpx.Response) -> tuple[str, str]:
    """(code, message) of a failed answer, from whichever of Amazon's error shapes it has."""
    fallback = response.reason_phrase or f"HTTP {response.status_code}"
    try:
        body = response.json()
    except ValueError:  # HTML from Amazon's edge, S3's XML, nothing
        found = _S3_ERROR.search(response.text)
        return (found.group(1), found.group(2)) if found else ("", fallback)
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("code") or ""), str(errors[0].get("message") or fallback)
        if body.get("error"):
            return str(body["error"]), str(body.get("error_description") or fallback)
    return "", fallback


def _check_status(response: httpx.Response) -> None:
    """The response hook: any answer outside 2xx raises ``_HttpFailure`` before anyone reads
    it as data."""
    if response.is_success:
        return
    response.read()
    raise _HttpFailure(response.status_code, *_answer_reason(response))


def _checked_http_client() -> httpx.Client:
    """The only way this module makes an httpx client: every answer's status is checked."""
    return httpx.Client(timeout=_http_timeout(), event_hooks={"response": [_check_status]})


def _lwa_failure(
    error: AuthorizationError, message: str, *, with_description: bool = False
) -> AmazonError:
    """Login with Amazon refused: busy or down (5xx, 429) is transient, anything else means
    it does not accept these credentials (its error code, or its description when asked)."""
    status = int(getattr(error, "status_code", 0) or 0)
    if status >= 500 or status == 429:
        return AmazonTransientError(f"Login with Amazon is unavailable ({status}); try again")
    code, description = getattr(error, "error_code", ""), getattr(error, "message", "")
    reason = (description if with_description else code) or "invalid_grant"
    return AmazonAuthError(f"{message} ({reason})")


# python-amazon-sp-api ships no type information, so its base class is Any.
class _LwaClient(AccessTokenClient):  # type: ignore[misc]
    """Login with Amazon at the channel's token endpoint, with a cache that honours expiry."""

    scheme = "https://"
    host = "api.amazon.com"
    path = "/auth/o2/token"

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self._transport = HttpxTransport(client=_checked_http_client())

    def _request(self, url: str, data: dict[str, Any], headers: dict[str, str]) -> Any:
        try:
            return super()._request(url, data, headers)
        except _HttpFailure as failure:
            raise AuthorizationError(failure.code, failure.message, failure.status) from None

    def get_auth(self) -> AccessTokenResponse:
        url = self.scheme + self.host + self.path
        key = _token_key(url, self.cred.client_id, self.cred.refresh_token)
        now = time.monotonic()
        with _tokens_lock:
            cached = _tokens.get(key)
        if cached and cached[0] > now:
            return AccessTokenResponse(**cached[1])
        data = self._request(url, self.data, self.headers)
        lifetime = float(data.get("expires_in") or 3600)
        with _tokens_lock:
            _tokens[key] = (now + max(0.0, lifetime - _TOKEN_MARGIN), data)
        return AccessTokenResponse(**data)

    def get_grantless_auth(self, scope: str = NOTIFICATIONS_SCOPE) -> AccessTokenResponse:
        """A grantless token (``client_credentials``, for the application and no seller), in
        the same cache as the sellers' tokens: sp_api's own keeps one per scope whatever the
        endpoint or client, for 3200 s whatever Amazon says."""
        url = self.scheme + self.host + self.path
        key = _token_key(url, self.cred.client_id, f"\0grantless\0{scope}")
        now = time.monotonic()
        with _tokens_lock:
            cached = _tokens.get(key)
        if cached and cached[0] > now:
            return AccessTokenResponse(**cached[1])
        data = self._request(url, self.grantless_data(scope), self.headers)
        lifetime = float(data.get("expires_in") or 3600)
        with _tokens_lock:
            _tokens[key] = (now + max(0.0, lifetime - _TOKEN_MARGIN), data)
        return AccessTokenResponse(**data)


def _trusted(check: Callable[[str], None], url: str) -> None:
    """Refuse before anything is sent: credentials go to Amazon's hosts only."""
    try:
        check(url)
    except UntrustedUrl as untrusted:
        raise AmazonUnsafe(str(untrusted)) from None


def _lwa_class(lwa_endpoint: str) -> type[AccessTokenClient]:
    _trusted(check_lwa_endpoint, lwa_endpoint)
    parts = urlsplit(lwa_endpoint.rstrip("/"))
    # ``host`` may carry a path prefix: keep whatever path the endpoint has.
    return type(
        "ChannelLwaClient",
        (_LwaClient,),
        {"scheme": f"{parts.scheme}://", "host": parts.netloc + parts.path},
    )


@dataclass(frozen=True)
class _LwaCredentials:
    """The shape sp_api's AccessTokenClient reads credentials from."""

    lwa_app_id: str
    lwa_client_secret: str
    refresh_token: str = ""

    def __repr__(self) -> str:
        return f"_LwaCredentials(lwa_app_id={self.lwa_app_id!r})"


def _error_parts(error: SellingApiException) -> tuple[str, str]:
    first = error.error[0] if isinstance(error.error, list) and error.error else {}
    if not isinstance(first, dict):
        first = {}
    return str(first.get("code") or ""), str(first.get("message") or "")


def exchange_authorization_code(
    code: str, *, lwa_endpoint: str, client_id: str, client_secret: str
) -> str:
    """OAuth callback: trade a ``spapi_oauth_code`` for the seller's refresh token."""
    lwa = _lwa_class(lwa_endpoint)(
        credentials=_LwaCredentials(lwa_app_id=client_id, lwa_client_secret=client_secret)
    )
    try:
        answer = lwa.authorize_auth_code(code)
    except AuthorizationError as error:
        raise _lwa_failure(
            error, "Amazon refused the authorization code", with_description=True
        ) from None
    except (httpx.HTTPError, ValueError) as error:
        raise AmazonTransientError(
            f"Login with Amazon did not answer: {type(error).__name__}"
        ) from None
    token = answer.get("refresh_token") if isinstance(answer, dict) else None
    if not token:
        raise AmazonPayloadError("Login with Amazon answered without a refresh token")
    return str(token)


def verify_refresh_token(connection: Connection) -> None:
    """Ask Login with Amazon for an access token: proves the refresh token works."""
    lwa = _lwa_class(connection.lwa_endpoint)(
        refresh_token=connection.refresh_token,
        credentials=_LwaCredentials(
            lwa_app_id=connection.client_id,
            lwa_client_secret=connection.client_secret,
            refresh_token=connection.refresh_token,
        ),
    )
    try:
        lwa.get_auth()
    except AuthorizationError as error:
        raise _lwa_failure(error, "Amazon does not accept this refresh token") from None
    except (httpx.HTTPError, ValueError) as error:
        raise AmazonTransientError(
            f"Login with Amazon did not answer: {type(error).__name__}"
        ) from None


class _AccessTokenRejected(Exception):
    """403 from an SP-API operation: the access token, not necessarily the seller, is refused."""


class AmazonClient:
    """One seller's Amazon, for one task. Not thread-safe (neither are sp_api's clients)."""

    def __init__(self, connection: Connection, *, max_wait: float | None = None) -> None:
        self.connection = connection
        self.max_wait = settings.AMAZON_MAX_PACING_WAIT if max_wait is None else max_wait
        self._clients: dict[str, Any] = {}
        self._http = _checked_http_client()

    # -- plumbing -------------------------------------------------------------------------

    def _sp(self, api: type, version: str | None = None) -> Any:
        key = f"{api.__name__}:{version}"
        if key not in self._clients:
            c = self.connection
            _trusted(check_spapi_endpoint, c.spapi_endpoint)
            kwargs: dict[str, Any] = {
                "marketplace": _Marketplace(c.spapi_endpoint.rstrip("/"), c.marketplace_id),
                "refresh_token": c.refresh_token,
                "credentials": {
                    "lwa_app_id": c.client_id,
                    "lwa_client_secret": c.client_secret,
                    "refresh_token": c.refresh_token,
                },
                "auth_token_client_class": _lwa_class(c.lwa_endpoint),
                "timeout": _http_timeout(),
            }
            if version:
                kwargs["version"] = version
            client = api(**kwargs)
            client._transport = HttpxTransport(client=self._http)
            self._clients[key] = client
        return self._clients[key]

    def _call(self, operation: str, call: Callable[[], T]) -> T:
        """Pace, call, and turn every failure into one of the product's exceptions."""
        try:
            return self._call_once(operation, call)
        except _AccessTokenRejected:
            # An access token can die before its expiry (revocation, clock skew, a rotated
            # secret): fetch a new one and try once more. A refresh token Amazon no longer
            # accepts then fails at Login with Amazon, which is the real authorization error.
            forget_access_tokens()
            try:
                return self._call_once(operation, call)
            except _AccessTokenRejected as rejected:
                raise AmazonAuthError(
                    f"{operation}: access denied ({rejected}); the application may lack the "
                    "role this needs"
                ) from None

    def _call_once(self, operation: str, call: Callable[[], T]) -> T:
        ratelimit.acquire(
            self.connection.seller_id, operation, self.max_wait, self.connection.marketplace_id
        )
        try:
            return call()
        except AuthorizationError as error:
            raise _lwa_failure(
                error, f"{operation}: Amazon no longer accepts this seller's authorization"
            ) from None
        except _HttpFailure as failure:
            raise self._failure(operation, failure.status, failure.code, failure.message) from None
        except SellingApiException as error:  # a 2xx whose body still carries ``errors``
            code, message = _error_parts(error)
            status = int(getattr(error, "code", 0) or 0)
            raise self._failure(operation, status, code, message) from None
        except (httpx.TimeoutException, httpx.TransportError) as error:
            raise AmazonTransientError(f"{operation}: {type(error).__name__}") from None
        except (ValueError, KeyError) as error:  # JSON the library could not make sense of
            raise AmazonPayloadError(f"{operation}: unreadable answer ({error})") from None

    def _failure(self, operation: str, status: int, code: str, message: str) -> Exception:
        """What Amazon's answer to an operation means: 429 throttled, 5xx transient (999 is
        sp_api's "unknown status"), 403 a refused access token, any other a rejection with
        Amazon's reason."""
        if status == 429:
            retry_after = ratelimit.record_throttle(self.connection.seller_id, operation)
            return AmazonThrottled(operation, retry_after)
        if status >= 500 or status == 999:
            return AmazonTransientError(f"{operation}: Amazon error {status} {code or message}")
        if status == 403 and code in {"Unauthorized", "InvalidToken", "AccessDenied", ""}:
            return _AccessTokenRejected(code or str(status))
        return AmazonRejected(operation, status, code, message)

    @staticmethod
    def _payload(operation: str, response: ApiResponse) -> dict[str, Any]:
        """A 429/503 with an HTML or empty body comes back from sp_api as an empty response:
        that is an error, never "no data"."""
        payload = response.payload if isinstance(response, ApiResponse) else None
        if not isinstance(payload, dict) or not payload:
            raise AmazonTransientError(f"{operation}: empty answer from Amazon")
        return payload

    # -- sellers --------------------------------------------------------------------------

    def get_marketplace_participations(self) -> list[MarketplaceParticipation]:
        """The marketplaces this authorization covers and whether the seller sells in each.
        Amazon's answer names no seller id (nothing in SP-API reads it back)."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getmarketplaceparticipations
        sellers = self._sp(Sellers)
        response = self._call(
            "getMarketplaceParticipations", lambda: sellers.get_marketplace_participation()
        )
        payload = response.payload if isinstance(response, ApiResponse) else None
        if not payload:  # an empty 429/503 body, as in _payload
            raise AmazonTransientError("getMarketplaceParticipations: empty answer from Amazon")
        return parse_participations(payload)

    # -- orders ---------------------------------------------------------------------------

    def search_orders(
        self,
        *,
        last_updated_after: datetime | None = None,
        last_updated_before: datetime | None = None,
        created_after: datetime | None = None,
        created_before: datetime | None = None,
        statuses: Iterable[str] = (),
        fulfilled_by: Iterable[str] = (),
        personal_data: bool = False,
        next_token: str | None = None,
        page_size: int = 100,
        marketplace_ids: Sequence[str] = (),
    ) -> OrdersPage:
        """``marketplace_ids``: every marketplace of the seller to list at once (one call serves
        them all, each order says its own); the connection's alone by default."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/searchorders
        params: dict[str, Any] = {
            "marketplaceIds": list(marketplace_ids or [self.connection.marketplace_id])
        }
        if next_token:
            params["paginationToken"] = next_token
        else:
            if (last_updated_after is None) == (created_after is None):
                raise ValueError("give exactly one of last_updated_after / created_after")
            for name, value in (
                ("lastUpdatedAfter", last_updated_after),
                ("lastUpdatedBefore", last_updated_before),
                ("createdAfter", created_after),
                ("createdBefore", created_before),
            ):
                if value is not None:
                    params[name] = _iso(value)
            if statuses:
                params["fulfillmentStatuses"] = list(statuses)
            if fulfilled_by:
                params["fulfilledBy"] = list(fulfilled_by)
            params["maxResultsPerPage"] = page_size
        params["includedData"] = list(ORDER_DATA + (PERSONAL_DATA if personal_data else ()))
        orders = self._sp(Orders, ORDERS_VERSION)
        response = self._call("searchOrders", lambda: orders.search_orders(**params))
        payload = self._payload("searchOrders", response)
        if response.pagination is not None:
            payload = {**payload, "pagination": response.pagination}
        return parse_orders_page(payload, personal_data_requested=personal_data)

    def get_order(self, order_id: str, *, personal_data: bool = False) -> AmazonOrder:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getorder
        orders = self._sp(Orders, ORDERS_VERSION)
        included = list(ORDER_DATA + (PERSONAL_DATA if personal_data else ()))
        response = self._call("getOrder", lambda: orders.get_order(order_id, includedData=included))
        payload = self._payload("getOrder", response)
        try:
            return parse_order(payload.get("order", payload), personal_data_requested=personal_data)
        except AmazonPayloadError as error:
            # A readable answer about an order Amazon holds wrongly: asking again gives the
            # same, so it is this order's failure, never one to retry (it would block the page).
            raise AmazonRejected("getOrder", 200, "InvalidOrder", str(error)) from None

    def confirm_shipment(self, order_id: str, package_detail: dict[str, Any]) -> None:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/confirmshipment
        if not package_detail.get("carrierCode"):
            raise ValueError("carrierCode is mandatory for Amazon.ca")
        orders = self._sp(Orders, "v0")
        body = {"marketplaceId": self.connection.marketplace_id, "packageDetail": package_detail}
        self._call("confirmShipment", lambda: orders.confirm_shipment(order_id, **body))

    def package_confirmed(self, order_id: str, package_reference_id: str) -> bool:
        """Did Amazon already record this package (a confirmation whose answer was lost)?"""
        orders = self._sp(Orders, ORDERS_VERSION)
        response = self._call(
            "getOrder", lambda: orders.get_order(order_id, includedData=["PACKAGES"])
        )
        payload = self._payload("getOrder", response)
        order = payload.get("order", payload)
        packages = order.get("packages") if isinstance(order, dict) else None
        return any(
            isinstance(p, dict) and p.get("packageReferenceId") == package_reference_id
            for p in packages or []
        )

    # -- reports --------------------------------------------------------------------------

    def create_report(
        self, report_type: str, *, start: datetime | None = None, end: datetime | None = None
    ) -> str:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/createreport
        body: dict[str, Any] = {
            "reportType": report_type,
            "marketplaceIds": [self.connection.marketplace_id],
        }
        if start:
            body["dataStartTime"] = _iso(start)
        if end:
            body["dataEndTime"] = _iso(end)
        reports = self._sp(Reports)
        payload = self._payload(
            "createReport", self._call("createReport", lambda: reports.create_report(**body))
        )
        return _required(payload, "reportId", "createReport")

    def get_report(self, report_id: str) -> ReportStatus:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getreport
        reports = self._sp(Reports)
        payload = self._payload(
            "getReport", self._call("getReport", lambda: reports.get_report(report_id))
        )
        return ReportStatus(
            report_id=report_id,
            status=_required(payload, "processingStatus", "getReport"),
            document_id=payload.get("reportDocumentId"),
        )

    def download_report(self, document_id: str) -> str:
        """The report's text: fetched from its pre-signed URL, gunzipped, decoded."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getreportdocument
        reports = self._sp(Reports)
        payload = self._payload(
            "getReportDocument",
            self._call("getReportDocument", lambda: reports.get_report_document(document_id)),
        )
        return self._download(payload, "getReportDocument")

    # -- feeds ----------------------------------------------------------------------------

    # -- finances -------------------------------------------------------------------------

    def list_transactions(
        self,
        *,
        posted_after: datetime | None = None,
        posted_before: datetime | None = None,
        next_token: str | None = None,
    ) -> dict[str, Any]:
        """One page of the marketplace's Finances transactions (the payload as Amazon gives
        it: ``transactions`` and ``nextToken``); read by ``return_types.parse_transactions``."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/listtransactions
        params: dict[str, Any] = {"marketplaceId": self.connection.marketplace_id}
        if next_token:
            params["nextToken"] = next_token
        else:
            if posted_after is None:
                raise ValueError("posted_after is required for the first page")
            params["postedAfter"] = _iso(posted_after)
            if posted_before is not None:
                params["postedBefore"] = _iso(posted_before)
        finances = self._sp(Finances, FINANCES_VERSION)
        response = self._call("listTransactions", lambda: finances.list_transactions(**params))
        return self._payload("listTransactions", response)

    def submit_json_feed(self, feed_type: str, document: dict[str, Any]) -> str:
        """Upload a JSON feed document as UTF-8 and create the feed; return the feed id."""
        body = json.dumps(document, ensure_ascii=False).encode("utf-8")
        return self._submit_feed(feed_type, body, "application/json; charset=UTF-8")

    def submit_xml_feed(self, feed_type: str, document: bytes) -> str:
        """Upload an XML feed document (Amazon's order feeds) and create the feed."""
        return self._submit_feed(feed_type, document, "text/xml; charset=UTF-8")

    def _submit_feed(self, feed_type: str, body: bytes, content_type: str) -> str:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/createfeeddocument
        feeds = self._sp(Feeds)
        created = self._payload(
            "createFeedDocument",
            self._call(
                "createFeedDocument",
                lambda: feeds.create_feed_document(file=None, content_type=content_type),
            ),
        )
        url = _required(created, "url", "createFeedDocument")
        _trusted(check_document_url, url)
        try:
            self._http.put(url, content=body, headers={"Content-Type": content_type})
        except _HttpFailure as failure:
            raise _document_failure("feed upload", failure) from None
        except httpx.HTTPError as error:
            raise AmazonTransientError(f"feed upload: {type(error).__name__}") from None
        document_id = _required(created, "feedDocumentId", "createFeedDocument")
        # Reference: https://developer-docs.amazon.com/sp-api/reference/createfeed
        response = self._call(
            "createFeed",
            lambda: feeds.create_feed(
                feed_type, document_id, marketplaceIds=[self.connection.marketplace_id]
            ),
        )
        return _required(self._payload("createFeed", response), "feedId", "createFeed")

    def get_feed(self, feed_id: str) -> FeedStatus:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getfeed
        feeds = self._sp(Feeds)
        payload = self._payload("getFeed", self._call("getFeed", lambda: feeds.get_feed(feed_id)))
        return FeedStatus(
            feed_id=feed_id,
            status=_required(payload, "processingStatus", "getFeed"),
            result_document_id=payload.get("resultFeedDocumentId"),
        )

    def download_feed_result(self, document_id: str) -> dict[str, Any]:
        """The feed's processing report, as JSON."""
        text = self.download_feed_text(document_id)
        try:
            report = json.loads(text)
        except ValueError:
            raise AmazonPayloadError("the feed processing report is not JSON") from None
        if not isinstance(report, dict):
            raise AmazonPayloadError("the feed processing report is not a JSON object")
        return report

    def download_feed_text(self, document_id: str) -> str:
        """The feed's processing report as text (JSON for JSON feeds, XML for order feeds)."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getfeeddocument
        feeds = self._sp(Feeds)
        path = f"/feeds/2021-06-30/documents/{document_id}"
        # sp_api's get_feed_document always downloads and never checks the download's status;
        # take only the document's metadata and fetch it ourselves.
        response = self._call(
            "getFeedDocument", lambda: feeds._request(path, add_marketplace=False)
        )
        return self._download(self._payload("getFeedDocument", response), "getFeedDocument")

    # -- listings -------------------------------------------------------------------------

    def patch_listing_quantity(self, seller_sku: str, product_type: str, quantity: int) -> None:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/patchlistingsitem
        listings = self._sp(ListingsItems)
        body = {
            "productType": product_type or "PRODUCT",
            "patches": [
                {
                    "op": "replace",
                    "path": "/attributes/fulfillment_availability",
                    "value": [{"fulfillment_channel_code": "DEFAULT", "quantity": quantity}],
                }
            ],
        }
        response = self._call(
            "patchListingsItem",
            lambda: listings.patch_listings_item(
                self.connection.seller_id,
                seller_sku,
                marketplaceIds=[self.connection.marketplace_id],
                body=body,
            ),
        )
        payload = self._payload("patchListingsItem", response)
        if payload.get("status") not in {"ACCEPTED", "VALID"}:
            issues = payload.get("issues") or []
            reason = "; ".join(
                str(i.get("message")) for i in issues if isinstance(i, dict) and i.get("message")
            )
            raise AmazonRejected(
                "patchListingsItem",
                400,
                str(payload.get("status") or "INVALID"),
                reason or "Amazon did not accept the quantity",
            )

    def get_listing_quantity(self, seller_sku: str) -> ListingQuantity:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getlistingsitem
        listings = self._sp(ListingsItems)
        response = self._call(
            "getListingsItem",
            lambda: listings.get_listings_item(
                self.connection.seller_id,
                seller_sku,
                marketplaceIds=[self.connection.marketplace_id],
                includedData=["summaries", "fulfillmentAvailability"],
            ),
        )
        payload = self._payload("getListingsItem", response)
        return _listing_quantity(payload, seller_sku)

    def search_listings(
        self, *, page_token: str | None = None, with_quantities: bool = False
    ) -> tuple[list[ListingDetails], str | None]:
        """One page (20 SKUs) of the seller's listings with product type and variation (and,
        when asked, the quantity Amazon lists), in SKU order.

        Amazon's default order is last updated, newest first: a listing edited while the pages
        are read jumps to a page already read and is never seen. A SKU never changes, so in
        SKU order an edit moves nothing."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/searchlistingsitems
        listings = self._sp(ListingsItems)
        params: dict[str, Any] = {
            "marketplaceIds": [self.connection.marketplace_id],
            "includedData": ["summaries", "relationships"]
            + (["fulfillmentAvailability"] if with_quantities else []),
            "pageSize": 20,
            "sortBy": "sku",
            "sortOrder": "ASC",
        }
        if page_token:
            params["pageToken"] = page_token
        response = self._call(
            "searchListingsItems",
            lambda: listings.search_listings_items(self.connection.seller_id, **params),
        )
        payload = self._payload("searchListingsItems", response)
        if not isinstance(payload.get("items"), list):
            raise AmazonPayloadError("searchListingsItems answered without items")
        details = [d for d in map(parse_listing_details, payload["items"]) if d is not None]
        pagination = response.pagination or payload.get("pagination") or {}
        return details, (pagination.get("nextToken") if isinstance(pagination, dict) else None)

    # -- FBA inventory --------------------------------------------------------------------

    def get_fba_inventory(
        self, *, changed_since: datetime | None = None, next_token: str | None = None
    ) -> tuple[list[FbaInventory], list[tuple[str, str]], str | None]:
        """One page (up to 50 SKUs) of the seller's FBA inventory in this marketplace's pool:
        every SKU, or those changed since ``changed_since``; the unreadable summaries as
        (SKU, reason); the next page's token."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getinventorysummaries
        inventories = self._sp(Inventories)
        params: dict[str, Any] = {
            "details": "true",
            "granularityType": "Marketplace",
            "granularityId": self.connection.marketplace_id,
            "marketplaceIds": [self.connection.marketplace_id],
        }
        # Amazon asks for startDateTime with every page of a "changed since" listing.
        if changed_since is not None:
            params["startDateTime"] = _iso(changed_since)
        if next_token:
            params["nextToken"] = next_token
        response = self._call(
            "getInventorySummaries",
            lambda: inventories.get_inventory_summary_marketplace(**params),
        )
        payload = self._payload("getInventorySummaries", response)
        read, unreadable = parse_inventory_summaries(payload)
        pagination = response.pagination or payload.get("pagination") or {}
        token = pagination.get("nextToken") if isinstance(pagination, dict) else None
        return read, unreadable, token or None

    # -- notifications --------------------------------------------------------------------
    # Destinations are the application's and take a grantless token (LWA client_credentials,
    # scope sellingpartnerapi::notifications; sp_api's ``grantless_scope``); subscriptions are
    # the seller's and application's, made with the seller's token. getSubscriptionById and
    # deleteSubscriptionById are grantless in Amazon's model: sent grantless here, so that
    # subscriptions can still be deleted once the seller's authorization is gone. Amazon's
    # grantless usage plans are the application's; they are paced in the seller's buckets here
    # (a few calls when an admin turns notifications on or off), which the API quota view shows.

    def _notifications_path(self, notification_type: str, subscription_id: str = "") -> str:
        path = f"/notifications/v1/subscriptions/{quote(notification_type, safe='')}"
        return f"{path}/{quote(subscription_id, safe='')}" if subscription_id else path

    def get_destinations(self) -> list[NotificationDestination]:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getdestinations
        notifications = self._sp(Notifications)
        response = self._call("getDestinations", lambda: notifications.get_destinations())
        payload = response.payload if isinstance(response, ApiResponse) else None
        # sp_api reads an empty list as an empty dict: no destination yet.
        if payload == {}:
            return []
        if not isinstance(payload, list):
            raise AmazonPayloadError("getDestinations answered without a list of destinations")
        return [parse_destination(raw) for raw in payload]

    def create_destination(self, name: str, queue_arn: str) -> NotificationDestination:
        """A destination for the SQS queue; 409 (AmazonRejected) when the application already
        has one for it."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/createdestination
        notifications = self._sp(Notifications)
        response = self._call(
            "createDestination",
            lambda: notifications.create_destination(name=name, arn=queue_arn),
        )
        return parse_destination(self._payload("createDestination", response))

    def get_destination(self, destination_id: str) -> NotificationDestination:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getdestination
        notifications = self._sp(Notifications)
        response = self._call(
            "getDestination", lambda: notifications.get_destination(destination_id)
        )
        return parse_destination(self._payload("getDestination", response))

    def delete_destination(self, destination_id: str) -> None:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/deletedestination
        notifications = self._sp(Notifications)
        self._call("deleteDestination", lambda: notifications.delete_destination(destination_id))

    def create_subscription(
        self,
        notification_type: str,
        destination_id: str,
        *,
        payload_version: str,
        processing_directive: dict[str, Any] | None = None,
    ) -> NotificationSubscription:
        """409 (AmazonRejected) when the seller already has a subscription to the type."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/createsubscription
        notifications = self._sp(Notifications)
        extra: dict[str, Any] = {}
        if processing_directive is not None:
            extra["processingDirective"] = processing_directive
        response = self._call(
            "createSubscription",
            lambda: notifications.create_subscription(
                notification_type,
                destination_id=destination_id,
                payload_version=payload_version,
                **extra,
            ),
        )
        return parse_subscription(self._payload("createSubscription", response))

    def get_subscription(self, notification_type: str) -> NotificationSubscription | None:
        """The seller's subscription to the type, or None when there is none (404)."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getsubscription
        notifications = self._sp(Notifications)
        try:
            response = self._call(
                "getSubscription", lambda: notifications.get_subscription(notification_type)
            )
        except AmazonRejected as rejected:
            if rejected.status == 404:
                return None
            raise
        return parse_subscription(self._payload("getSubscription", response))

    def get_subscription_by_id(
        self, notification_type: str, subscription_id: str
    ) -> NotificationSubscription:
        # Reference: https://developer-docs.amazon.com/sp-api/reference/getsubscriptionbyid
        notifications = self._sp(Notifications)
        path = self._notifications_path(notification_type, subscription_id)
        response = self._call(
            "getSubscriptionById",
            lambda: notifications._request_grantless_operation(path, params={"method": "GET"}),
        )
        return parse_subscription(self._payload("getSubscriptionById", response))

    def delete_subscription(self, notification_type: str, subscription_id: str) -> bool:
        """Delete the subscription; False when Amazon no longer has it (404)."""
        # Reference: https://developer-docs.amazon.com/sp-api/reference/deletesubscriptionbyid
        notifications = self._sp(Notifications)
        path = self._notifications_path(notification_type, subscription_id)
        try:
            self._call(
                "deleteSubscriptionById",
                lambda: notifications._request_grantless_operation(
                    path, params={"method": "DELETE"}
                ),
            )
        except AmazonRejected as rejected:
            if rejected.status == 404:
                return False
            raise
        return True

    # -- documents ------------------------------------------------------------------------

    def _download(self, document: dict[str, Any], operation: str) -> str:
        """Stream the document from its pre-signed URL within the size limits, gunzip it a
        bounded piece at a time, decode it. A document past a limit fails for good."""
        url = _required(document, "url", operation)
        _trusted(check_document_url, url)
        limits = _DocumentLimits.from_settings(operation)
        try:
            # Accept-Encoding identity: any gzip is ours to inflate, within the limits.
            with self._http.stream("GET", url, headers={"Accept-Encoding": "identity"}) as answer:
                chunks: Iterable[bytes] = limits.downloaded(answer.iter_raw(_CHUNK))
                encoding = answer.headers.get("content-encoding", "identity").strip().lower()
                if encoding == "gzip":
                    chunks = limits.gunzipped(chunks)
                elif encoding not in ("", "identity"):
                    raise AmazonPayloadError(f"{operation}: unexpected encoding {encoding!r}")
                if document.get("compressionAlgorithm") == "GZIP":
                    chunks = limits.gunzipped(chunks)
                content = b"".join(chunks)
                charset = answer.charset_encoding or "windows-1252"
        except _HttpFailure as failure:
            raise _document_failure(f"{operation} download", failure) from None
        except httpx.HTTPError as error:
            raise AmazonTransientError(f"{operation} download: {type(error).__name__}") from None
        try:
            return content.decode(charset)
        except (UnicodeDecodeError, LookupError):
            raise AmazonPayloadError(f"{operation}: document is not {charset}") from None


_CHUNK = 64 * 1024


@dataclass(frozen=True)
class _DocumentLimits:
    """The caps on one document (settings AMAZON_DOCUMENT_MAX_BYTES and
    AMAZON_DOCUMENT_MAX_UNCOMPRESSED_BYTES): a huge or gzip-bomb document stops the run instead
    of the worker's memory."""

    operation: str
    max_download: int
    max_uncompressed: int

    @classmethod
    def from_settings(cls, operation: str) -> _DocumentLimits:
        return cls(
            operation,
            int(settings.AMAZON_DOCUMENT_MAX_BYTES),
            int(settings.AMAZON_DOCUMENT_MAX_UNCOMPRESSED_BYTES),
        )

    def downloaded(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        size = 0
        for chunk in chunks:
            size += len(chunk)
            if size > self.max_download:
                raise AmazonUnsafe(
                    f"{self.operation}: the document is larger than {self.max_download} bytes "
                    "(AMAZON_DOCUMENT_MAX_BYTES); not downloaded"
                )
            yield chunk

    def gunzipped(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        """Inflate at most _CHUNK bytes per step, so a bomb never inflates past the cap."""
        size = 0
        inflater = zlib.decompressobj(_GZIP)
        in_member = False  # a gzip member was begun and not finished yet
        try:
            for chunk in chunks:
                data = chunk
                while data or in_member:
                    in_member = True
                    piece = inflater.decompress(data, _CHUNK)
                    size += len(piece)
                    if size > self.max_uncompressed:
                        raise AmazonUnsafe(
                            f"{self.operation}: the document inflates to more than "
                            f"{self.max_uncompressed} bytes "
                            "(AMAZON_DOCUMENT_MAX_UNCOMPRESSED_BYTES); refused"
                        )
                    if piece:
                        yield piece
                    if inflater.eof:
                        # gzip allows several members one after the other: inflate the next.
                        data, in_member = inflater.unused_data, False
                        inflater = zlib.decompressobj(_GZIP)
                        continue
                    data = inflater.unconsumed_tail
                    if not data and len(piece) < _CHUNK:
                        break  # all this chunk gave is out; wait for the next one
        except zlib.error:
            raise AmazonPayloadError(f"{self.operation}: document is not valid gzip") from None
        if in_member:
            raise AmazonPayloadError(f"{self.operation}: document is not valid gzip (truncated)")


_GZIP = 16 + zlib.MAX_WBITS  # zlib's wbits for a gzip header and trailer


def _document_failure(what: str, failure: _HttpFailure) -> AmazonError:
    """A pre-signed document URL's answer: 5xx and 429 are transient, and so is an expired URL
    (they last five minutes; asking for the document again gives a new one). Any other 4xx is
    S3 refusing the request, with its reason."""
    if failure.status >= 500 or failure.status == 429 or "expired" in failure.message.lower():
        return AmazonTransientError(f"{what} answered {failure.status} {failure.code}".rstrip())
    return AmazonRejected(what, failure.status, failure.code, failure.message)


def _required(payload: dict[str, Any], key: str, operation: str) -> str:
    value = payload.get(key)
    if value in (None, ""):
        raise AmazonPayloadError(f"{operation} answered without {key}")
    return str(value)


def _iso(moment: datetime) -> str:
    if moment.tzinfo is None:
        raise ValueError("Amazon times must be timezone-aware")
    return moment.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _listing_quantity(payload: dict[str, Any], seller_sku: str) -> ListingQuantity:
    quantity: int | None = None
    channel = "DEFAULT"
    for entry in payload.get("fulfillmentAvailability") or []:
        if isinstance(entry, dict):
            channel = str(entry.get("fulfillmentChannelCode") or channel)
            if isinstance(entry.get("quantity"), int):
                quantity = entry["quantity"]
    summaries = payload.get("summaries") or [{}]
    product_type = str(summaries[0].get("productType") or "") if summaries else ""
    return ListingQuantity(
        seller_sku=seller_sku,
        quantity=quantity,
        fulfillment_channel_code=channel,
        product_type=product_type,
    )


__all__ = [
    "AmazonClient",
    "AmazonError",
    "Connection",
    "exchange_authorization_code",
    "forget_access_tokens",
    "verify_refresh_token",
]
