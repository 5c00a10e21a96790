"""The simulator's WSGI app: routes each request to its API family (``spapi_simulator/api/``).

SP-API operations get the access-token check, the usage plans, fault injection, response
recording and the per-operation counters here, once; LWA and the document URLs get fault
injection and counters; the consent page and the control API are plain.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Mapping
from typing import Any

from werkzeug.exceptions import MethodNotAllowed, NotFound
from werkzeug.routing import Map, Rule
from werkzeug.wrappers import Request, Response

from .api import OPERATION_IDS, OPERATIONS, auth, control, document_urls
from .api.common import (
    EDGE_ERROR_HTML,
    EITHER,
    GRANTLESS,
    QUOTA_EXCEEDED,
    SELLER,
    UNAUTHORIZED,
    ApiError,
    Handler,
    Result,
)
from .notifications import NOTIFICATIONS_SCOPE
from .ratelimit import USAGE_PLANS
from .state import AccessToken, Fault, SimState

__all__ = ["OPERATION_IDS", "OPERATIONS", "Result", "SimulatorApp"]


class SimulatorApp:
    """WSGI callable. Every handler runs under ``state.lock`` after ``state.tick()``."""

    def __init__(self, state: SimState) -> None:
        self.state = state
        rules = [Rule(op.path, methods=[op.method], endpoint=op.operation_id) for op in OPERATIONS]
        rules += [
            Rule("/auth/o2/token", methods=["POST"], endpoint="lwaToken"),
            Rule("/apps/authorize/consent", methods=["GET", "POST"], endpoint="consent"),
            Rule("/_documents/<token>", methods=["GET"], endpoint="documentDownload"),
            Rule("/_documents/<token>", methods=["PUT"], endpoint="documentUpload"),
        ]
        rules += [
            Rule(route.path, methods=list(route.methods), endpoint=route.endpoint)
            for route in control.ROUTES
        ]
        # strict_slashes off: a stray trailing slash must not turn into a redirect.
        self.url_map = Map(rules, strict_slashes=False, merge_slashes=False)
        self.handlers: dict[str, Handler] = {op.operation_id: op.handler for op in OPERATIONS}
        self.token_kinds: dict[str, str] = {op.operation_id: op.tokens for op in OPERATIONS}
        self.control: dict[str, Handler] = {
            route.endpoint: route.handler for route in control.ROUTES
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
            return auth.consent(self.state, request)
        try:
            with self.state.lock:
                self.state.tick()
                status, body = self.control[endpoint](self.state, request, **args)
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
                if access is None or not self._token_fits(operation, access):
                    response = self._json(403, UNAUTHORIZED, operation, request_id)
                elif self.state.config.enforce_rate_limits and not self.state.buckets.try_acquire(
                    access.rate_limit_key, operation, now
                ):
                    response = self._json(429, QUOTA_EXCEEDED, operation, request_id)
                else:
                    try:
                        status, body = self.handlers[operation](self.state, request, access, **args)
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

    def _token_fits(self, operation: str, access: AccessToken) -> bool:
        """A seller's token on a grantless operation, or a grantless one on a seller's, is
        refused as Amazon does: 403 Unauthorized, like a missing token."""
        kind = self.token_kinds[operation]
        if access.scope is None:
            return kind in (SELLER, EITHER)
        return kind in (GRANTLESS, EITHER) and access.scope == NOTIFICATIONS_SCOPE

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
                    response = auth.lwa_token(self.state, request)
                elif operation == "documentDownload":
                    response = document_urls.document_download(
                        self.state, request, args["token"], request_id
                    )
                else:
                    response = document_urls.document_upload(
                        self.state, request, args["token"], request_id
                    )
            if fault is not None and fault.kind == "malformed":
                data = response.get_data()
                response.set_data(data[: max(1, len(data) // 2)] if data else b"{")
        with self.state.lock:
            self.state.count(operation, status=response.status_code, size=len(response.get_data()))
        return response
