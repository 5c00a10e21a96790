"""The order acknowledgement feed (``POST_ORDER_ACKNOWLEDGEMENT_DATA``): how a seller cancels
an unshipped merchant order, or some of its lines, on Amazon (docs/SIMULATOR.md).

Amazon's XML feed: an ``AmazonEnvelope`` of ``OrderAcknowledgement`` messages, each an
``AmazonOrderID``, a ``StatusCode`` (``Success`` acknowledges, ``Failure`` cancels) and
``Item`` elements naming ``AmazonOrderItemCode`` and, to cancel, a ``CancelReason``. The
answer is the XML ``ProcessingReport`` Amazon sends for its XML feeds.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET  # noqa: S405 - DOCTYPE and entities are refused first
from dataclasses import dataclass, field
from xml.sax.saxutils import escape

ORDER_ACKNOWLEDGEMENT_FEED = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
# Amazon's CancelReason values for the acknowledgement feed (OrderAcknowledgement.xsd).
CANCEL_REASONS = (
    "NoInventory",
    "ShippingAddressUndeliverable",
    "CustomerExchange",
    "BuyerCanceled",
    "GeneralAdjustment",
    "CarrierCreditDecision",
    "RiskAssessmentInformationNotValid",
    "CarrierCoverageFailure",
    "CustomerReturn",
    "MerchandiseNotReceived",
)
MAX_FEED_BYTES = 10 * 1024 * 1024

# The simulator's own result codes (Amazon's numeric ResultMessageCodes for this feed are not
# documented publicly; docs/SIMULATOR.md lists these).
UNPARSEABLE = "5001"
UNKNOWN_ORDER = "5002"
NOT_CANCELLABLE = "5003"
UNKNOWN_ITEM = "5004"
BAD_REASON = "5005"
BAD_MESSAGE = "5006"


@dataclass
class AckItem:
    order_item_id: str
    cancel_reason: str | None
    merchant_item_id: str | None = None


@dataclass
class AckMessage:
    message_id: str
    order_id: str
    status_code: str
    merchant_order_id: str | None
    items: list[AckItem] = field(default_factory=list)


@dataclass
class MessageResult:
    message_id: str
    code: str  # "Error" or "Warning"
    message_code: str
    description: str
    order_id: str | None = None


class FeedRefused(Exception):
    """The document is not an order acknowledgement feed at all (the whole feed fails)."""


def _text(node: ET.Element, name: str) -> str | None:
    child = node.find(name)
    if child is None or child.text is None:
        return None
    return child.text.strip() or None


def parse_acknowledgements(content: bytes) -> tuple[list[AckMessage], list[MessageResult]]:
    """The messages of an acknowledgement feed, and the ones refused as they stand."""
    if len(content) > MAX_FEED_BYTES:
        raise FeedRefused(f"The feed is larger than {MAX_FEED_BYTES} bytes.")
    head = content[:4096].upper()
    if b"<!DOCTYPE" in head or b"<!ENTITY" in content.upper():
        raise FeedRefused("DOCTYPE and entity declarations are not accepted in a feed.")
    try:
        root = ET.fromstring(content)  # noqa: S314 - no DTD possible past the check above
    except ET.ParseError as exc:
        raise FeedRefused(f"The feed is not well-formed XML: {exc}.") from None
    if root.tag != "AmazonEnvelope":
        raise FeedRefused("The root element must be AmazonEnvelope.")
    message_type = _text(root, "MessageType")
    if message_type != "OrderAcknowledgement":
        raise FeedRefused(
            f"MessageType must be OrderAcknowledgement for {ORDER_ACKNOWLEDGEMENT_FEED}, "
            f"not {message_type!r}."
        )
    messages: list[AckMessage] = []
    refused: list[MessageResult] = []
    for position, node in enumerate(root.findall("Message"), start=1):
        message_id = _text(node, "MessageID") or str(position)
        ack = node.find("OrderAcknowledgement")
        order_id = _text(ack, "AmazonOrderID") if ack is not None else None
        status = _text(ack, "StatusCode") if ack is not None else None
        if ack is None or not order_id or status not in ("Success", "Failure"):
            refused.append(
                MessageResult(
                    message_id,
                    "Error",
                    BAD_MESSAGE,
                    "An OrderAcknowledgement needs an AmazonOrderID and a StatusCode of "
                    "Success or Failure.",
                    order_id,
                )
            )
            continue
        assert status is not None and order_id is not None
        items = [
            AckItem(
                order_item_id=_text(item, "AmazonOrderItemCode") or "",
                cancel_reason=_text(item, "CancelReason"),
                merchant_item_id=_text(item, "MerchantOrderItemID"),
            )
            for item in ack.findall("Item")
        ]
        messages.append(
            AckMessage(message_id, order_id, status, _text(ack, "MerchantOrderID"), items)
        )
    return messages, refused


def processing_report(
    seller_id: str, feed_id: str, processed: int, results: list[MessageResult]
) -> bytes:
    """Amazon's XML ProcessingReport for ``processed`` messages with ``results`` (errors and
    warnings; a message without one succeeded)."""
    errors = {r.message_id for r in results if r.code == "Error"}
    warnings = {r.message_id for r in results if r.code == "Warning"} - errors
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<AmazonEnvelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:noNamespaceSchemaLocation="amzn-envelope.xsd">',
        "<Header><DocumentVersion>1.02</DocumentVersion>"
        f"<MerchantIdentifier>{escape(seller_id)}</MerchantIdentifier></Header>",
        "<MessageType>ProcessingReport</MessageType>",
        "<Message><MessageID>1</MessageID><ProcessingReport>",
        f"<DocumentTransactionID>{escape(feed_id)}</DocumentTransactionID>",
        "<StatusCode>Complete</StatusCode>",
        "<ProcessingSummary>",
        f"<MessagesProcessed>{processed}</MessagesProcessed>",
        f"<MessagesSuccessful>{processed - len(errors)}</MessagesSuccessful>",
        f"<MessagesWithError>{len(errors)}</MessagesWithError>",
        f"<MessagesWithWarning>{len(warnings)}</MessagesWithWarning>",
        "</ProcessingSummary>",
    ]
    for result in results:
        parts.append(
            "<Result>"
            f"<MessageID>{escape(result.message_id)}</MessageID>"
            f"<ResultCode>{result.code}</ResultCode>"
            f"<ResultMessageCode>{result.message_code}</ResultMessageCode>"
            f"<ResultDescription>{escape(result.description)}</ResultDescription>"
            + (
                f"<AdditionalInfo><AmazonOrderID>{escape(result.order_id)}</AmazonOrderID>"
                "</AdditionalInfo>"
                if result.order_id
                else ""
            )
            + "</Result>"
        )
    parts.append("</ProcessingReport></Message></AmazonEnvelope>")
    return "\n".join(parts).encode("utf-8")
