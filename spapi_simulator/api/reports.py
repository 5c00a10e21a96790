"""Reports API 2021-06-30: ``createReport``, ``getReport``, ``getReportDocument``."""

from __future__ import annotations

from datetime import timedelta

from werkzeug.wrappers import Request

from ..clock import parse_iso
from ..documents import REPORT_TYPES
from ..state import AccessToken, SimState
from .common import (
    Operation,
    Result,
    body_marketplaces,
    document_download_body,
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
    markets = body_marketplaces(body)
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
        markets,
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
    return 200, document_download_body("reportDocumentId", document, state)


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
