"""Seller cancellations out to Amazon: the order acknowledgement feed
(``POST_ORDER_ACKNOWLEDGEMENT_DATA``, XML), the route Amazon supports for a seller-initiated
cancellation (neither Orders API has a cancel operation).

Pending cancellations of a channel go out in one feed, one message each (its MessageID is the
cancellation's id), each claimed with a conditional UPDATE (pending → sending) in a
transaction that checks the run is still this worker's, so two workers never send the same
one. Amazon's feed id is stored with them (submitted) and the run follows the feed, waiting
as for a stock feed, then applies its processing report message by message: confirmed, or
rejected with Amazon's reason (the units are the order's to ship again). A cancellation left
"sending" (the answer to createFeed was lost, the worker died) may or may not be at Amazon:
the next run asks Amazon's order before sending it again, so none is sent twice.
"""

from __future__ import annotations

from collections import defaultdict
from xml.sax.saxutils import escape

from django.db import transaction
from django.utils import timezone

from marketplaces import orders as order_rules
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.errors import WaitForAmazon
from marketplaces.amazon.stock_push import feed_poll_seconds
from marketplaces.amazon.types import AmazonOrder, parse_xml_processing_report
from marketplaces.models import SalesChannel, SalesOrder, SellerCancellation
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun

FEED_TYPE = "POST_ORDER_ACKNOWLEDGEMENT_DATA"
Status = SellerCancellation.AmazonStatus


def push_cancellations(run: SyncRun, client: AmazonClient) -> None:
    channel = run.channel
    for cancellation in _of(channel, Status.SENDING):
        if _cancelled_on_amazon(cancellation, client.get_order(cancellation.order.amazon_order_id)):
            _confirmed(run, cancellation)
        else:
            with transaction.atomic():
                history.heartbeat(run)
                SellerCancellation.objects.filter(
                    id=cancellation.id, amazon_status=Status.SENDING
                ).update(amazon_status=Status.PENDING)
    _send_pending(run, client, channel)
    _follow_feeds(run, client, channel)


def _of(channel: SalesChannel, status: str) -> list[SellerCancellation]:
    return list(
        SellerCancellation.objects.filter(order__channel=channel, amazon_status=status)
        .select_related("order")
        .prefetch_related("lines__order_line")
        .order_by("id")
    )


def _send_pending(run: SyncRun, client: AmazonClient, channel: SalesChannel) -> None:
    pending = _of(channel, Status.PENDING)
    if not pending:
        return
    with transaction.atomic():
        history.heartbeat(run)  # nothing is sent for a run taken over meanwhile
        claimed_ids = [
            c.id
            for c in pending
            if SellerCancellation.objects.filter(id=c.id, amazon_status=Status.PENDING).update(
                amazon_status=Status.SENDING, amazon_attempted_at=timezone.now()
            )
        ]
    claimed = [c for c in pending if c.id in claimed_ids]
    if not claimed:
        return
    feed_id = client.submit_xml_feed(FEED_TYPE, acknowledgement_feed(channel.seller_id, claimed))
    with transaction.atomic():
        history.heartbeat(run)
        SellerCancellation.objects.filter(id__in=claimed_ids, amazon_status=Status.SENDING).update(
            amazon_status=Status.SUBMITTED, feed_id=feed_id
        )


def _follow_feeds(run: SyncRun, client: AmazonClient, channel: SalesChannel) -> None:
    by_feed: dict[str, list[SellerCancellation]] = defaultdict(list)
    for cancellation in _of(channel, Status.SUBMITTED):
        by_feed[cancellation.feed_id].append(cancellation)
    waiting = ""
    for feed_id, cancellations in by_feed.items():
        status = client.get_feed(feed_id)
        if status.status in {"IN_QUEUE", "IN_PROGRESS"}:
            waiting = feed_id
            continue
        if status.status != "DONE" or not status.result_document_id:
            reason = f"Amazon could not process the cancellation feed ({status.status})"
            for cancellation in cancellations:
                _rejected(run, cancellation, reason)
            continue
        report = parse_xml_processing_report(client.download_feed_text(status.result_document_id))
        for cancellation in cancellations:
            error = report.errors.get(str(cancellation.id))
            if error is None:
                _confirmed(run, cancellation)
            else:
                _rejected(run, cancellation, error)
    if waiting:
        raise WaitForAmazon(
            f"Amazon is processing cancellation feed {waiting}", feed_poll_seconds()
        )


def _confirmed(run: SyncRun, cancellation: SellerCancellation) -> None:
    with transaction.atomic():
        history.heartbeat(run)  # a run taken over leaves the cancellation to its new owner
        SellerCancellation.objects.filter(id=cancellation.id).update(
            amazon_status=Status.ACCEPTED, amazon_error="", confirmed_at=timezone.now()
        )
        history.record(
            run,
            SyncRecord.RecordType.CANCELLATION,
            cancellation.order.amazon_order_id,
            "synced",
            local_object=cancellation,
        )


def _rejected(run: SyncRun, cancellation: SellerCancellation, reason: str) -> None:
    """Amazon keeps the order open: so does the product (the units are to ship again)."""
    with transaction.atomic():
        history.heartbeat(run)
        updated = SellerCancellation.objects.filter(
            id=cancellation.id, amazon_status=Status.SUBMITTED
        ).update(amazon_status=Status.REJECTED, amazon_error=reason[:2000])
        if not updated:
            return  # another worker's run settled it
        order = SalesOrder.objects.select_for_update().get(id=cancellation.order_id)
        # An order Amazon has cancelled meanwhile (the buyer, Amazon) stays cancelled.
        if order.amazon_status != order_rules.CANCELLED:
            lines = {line.id: line for line in order_rules.lock_lines(order)}
            order_rules.reopen_lines(
                order, [(lines[c.order_line_id], c.quantity) for c in cancellation.lines.all()]
            )
        history.record(
            run,
            SyncRecord.RecordType.CANCELLATION,
            cancellation.order.amazon_order_id,
            "failed",
            reason=f"Amazon rejected the cancellation: {reason}",
            local_object=cancellation,
        )


def _cancelled_on_amazon(cancellation: SellerCancellation, amazon_order: AmazonOrder) -> bool:
    """Amazon already has this cancellation: the order is cancelled, or every line of it is."""
    if amazon_order.status == order_rules.CANCELLED:
        return True
    cancelled = {item.order_item_id for item in amazon_order.items if item.cancelled_by}
    return all(c.order_line.amazon_order_item_id in cancelled for c in cancellation.lines.all())


def acknowledgement_feed(seller_id: str, cancellations: list[SellerCancellation]) -> bytes:
    """One OrderAcknowledgement message per cancellation: StatusCode Failure and an Item with
    Amazon's CancelReason for each line cancelled. Amazon cancels a named item's unshipped
    units whole (the schema has no quantity per item)."""
    parts = [
        '<?xml version="1.0" encoding="UTF-8"?>',
        '<AmazonEnvelope xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
        'xsi:noNamespaceSchemaLocation="amzn-envelope.xsd">',
        "<Header><DocumentVersion>1.01</DocumentVersion>"
        f"<MerchantIdentifier>{escape(seller_id)}</MerchantIdentifier></Header>",
        "<MessageType>OrderAcknowledgement</MessageType>",
    ]
    for cancellation in cancellations:
        items = "".join(
            "<Item>"
            f"<AmazonOrderItemCode>{escape(line.order_line.amazon_order_item_id)}"
            "</AmazonOrderItemCode>"
            f"<CancelReason>{escape(cancellation.reason)}</CancelReason>"
            "</Item>"
            for line in cancellation.lines.all()
        )
        parts.append(
            f"<Message><MessageID>{cancellation.id}</MessageID><OrderAcknowledgement>"
            f"<AmazonOrderID>{escape(cancellation.order.amazon_order_id)}</AmazonOrderID>"
            f"<StatusCode>Failure</StatusCode>{items}</OrderAcknowledgement></Message>"
        )
    parts.append("</AmazonEnvelope>")
    return "\n".join(parts).encode("utf-8")
