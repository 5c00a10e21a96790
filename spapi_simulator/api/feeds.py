"""Feeds API 2021-06-30: ``createFeedDocument``, ``createFeed``, ``getFeed``,
``getFeedDocument``."""

from __future__ import annotations

from werkzeug.wrappers import Request

from ..data import MARKETPLACES
from ..documents import LISTINGS_FEED
from ..order_feeds import ORDER_ACKNOWLEDGEMENT_FEED
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


def create_feed_document(state: SimState, request: Request, access: AccessToken) -> Result:
    body = json_body(request)
    content_type = body.get("contentType")
    if not isinstance(content_type, str) or not content_type:
        raise invalid("contentType is required.")
    document = state.new_document("feed_input", content_type)
    return 201, {
        "feedDocumentId": document.document_id,
        "url": state.document_url(document.document_id, "PUT"),
    }


def create_feed(state: SimState, request: Request, access: AccessToken) -> Result:
    body = json_body(request)
    feed_type = body.get("feedType")
    if not feed_type:
        raise invalid("feedType is required.")
    if feed_type not in (LISTINGS_FEED, ORDER_ACKNOWLEDGEMENT_FEED):
        raise invalid(
            f"feedType '{feed_type}' is not supported by the simulator (only {LISTINGS_FEED} "
            f"and {ORDER_ACKNOWLEDGEMENT_FEED})."
        )
    markets = body_marketplaces(body)
    if len(markets) != 1 or markets[0] not in MARKETPLACES:
        raise invalid(
            f"A {feed_type} applies to one marketplace: marketplaceIds must be one of "
            f"{', '.join(MARKETPLACES)}."
        )
    document_id = body.get("inputFeedDocumentId")
    document = state.documents.get(str(document_id))
    if document is None or document.kind != "feed_input":
        raise invalid(f"inputFeedDocumentId '{document_id}' is not a feed document you created.")
    feed = state.create_feed(str(feed_type), markets, document.document_id, access.seller_id)
    return 202, {"feedId": feed.feed_id}


def get_feed(state: SimState, request: Request, access: AccessToken, feed_id: str) -> Result:
    feed = state.feeds.get(feed_id)
    if feed is None:
        raise not_found(f"Feed {feed_id} was not found.")
    return 200, feed.as_json()


def get_feed_document(
    state: SimState, request: Request, access: AccessToken, document_id: str
) -> Result:
    document = state.documents.get(document_id)
    if document is None or document.kind not in ("feed_input", "feed_result"):
        raise not_found(f"Feed document {document_id} was not found.")
    return 200, document_download_body("feedDocumentId", document, state)


OPERATIONS = [
    Operation("/feeds/2021-06-30/documents", "POST", "createFeedDocument", create_feed_document),
    Operation("/feeds/2021-06-30/feeds", "POST", "createFeed", create_feed),
    Operation("/feeds/2021-06-30/feeds/<feed_id>", "GET", "getFeed", get_feed),
    Operation(
        "/feeds/2021-06-30/documents/<document_id>", "GET", "getFeedDocument", get_feed_document
    ),
]
