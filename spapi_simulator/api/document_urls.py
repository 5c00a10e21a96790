"""The pre-signed document URLs (``/_documents/<token>``): Amazon's S3 for report and feed
documents. ``GET`` downloads a report or feed result, ``PUT`` uploads a feed's input.
"""

from __future__ import annotations

import html
import uuid

from werkzeug.wrappers import Request, Response

from ..state import SimState

S3_ACCESS_DENIED = (
    '<?xml version="1.0" encoding="UTF-8"?>\n<Error><Code>AccessDenied</Code>'
    "<Message>{message}</Message><RequestId>{request_id}</RequestId></Error>"
)


def _access_denied(message: str, request_id: str) -> Response:
    body = S3_ACCESS_DENIED.format(message=html.escape(message), request_id=request_id)
    return Response(body, status=403, content_type="application/xml")


def document_download(state: SimState, request: Request, token: str, request_id: str) -> Response:
    url = state.document_urls.get(token)
    if url is None or url.method != "GET":
        return _access_denied("Access Denied", request_id)
    if url.expires <= state.now():
        return _access_denied("Request has expired", request_id)
    document = state.documents[url.document_id]
    return Response(document.content, status=200, content_type=document.content_type)


def document_upload(state: SimState, request: Request, token: str, request_id: str) -> Response:
    url = state.document_urls.get(token)
    if url is None or url.method != "PUT":
        return _access_denied("Access Denied", request_id)
    if url.expires <= state.now():
        return _access_denied("Request has expired", request_id)
    document = state.documents[url.document_id]
    document.content = request.get_data()
    document.uploaded = True
    response = Response(b"", status=200)
    response.headers["ETag"] = f'"{uuid.uuid4().hex}"'
    return response
