"""Reports API 2021-06-30: ``createReport``, ``getReport``, ``getReportDocument``."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from werkzeug.wrappers import Request

from ..clock import parse_iso
from ..documents import (
    REPORT_TYPES,
)
from ..state import (
    AccessToken,
    SimState,
)
from .common import (
    KNOWN_MARKETPLACES,
    Operation,
    Result,
    invalid,
    json_body,
    not_found,
)


def create_report(state: SimState, request: Request, access: AccessToken) -> Result:
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
    now = state.now()
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
    report = state.create_report(
        str(report_type),
        [str(m) for m in markets],
        start.replace(microsecond=0),
        end.replace(microsecond=0),
    )
    return 202, {"reportId": report.report_id}


def get_report(state: SimState, request: Request, access: AccessToken, report_id: str) -> Result:
    report = state.reports.get(report_id)
    if report is None:
        raise not_found(f"Report {report_id} was not found.")
    return 200, report.as_json()


def get_report_document(
    state: SimState, request: Request, access: AccessToken, document_id: str
) -> Result:
    document = state.documents.get(document_id)
    if document is None or document.kind != "report":
        raise not_found(f"Report document {document_id} was not found.")
    body: dict[str, Any] = {
        "reportDocumentId": document_id,
        "url": state.document_url(document_id, "GET"),
    }
    if document.compression:
        body["compressionAlgorithm"] = document.compression
    return 200, body


OPERATIONS = [
    Operation("/reports/2021-06-30/reports", "POST", "createReport", create_report),
    Operation("/reports/2021-06-30/reports/<report_id>", "GET", "getReport", get_report),
    Operation(
        "/reports/2021-06-30/documents/<document_id>",
        "GET",
        "getReportDocument",
        get_report_document,
    ),
]
