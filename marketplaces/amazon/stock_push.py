"""Stock levels out to Amazon (docs/ARCHITECTURE.md).

Listings marked ``push_pending`` (by the stock services, a mapping change, a re-enable) are the
work. A push takes their quantities into a ``StockPush`` outbox row first, then sends them: a
handful with ``patchListingsItem``, more as one ``JSON_LISTINGS_FEED``, which is followed to
DONE and whose processing report is applied per SKU. Accepted SKUs become clean unless they
changed again meanwhile; rejected ones keep Amazon's reason and stay pending. The outbox
survives a dead worker: the next run follows the feed it had submitted instead of starting over.
"""

from __future__ import annotations

import logging
from typing import Any

from django.conf import settings
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.errors import AmazonRejected, WaitForAmazon
from marketplaces.models import (
    FulfillmentChannel,
    Listing,
    SalesChannel,
    StockPush,
    StockPushLine,
)
from marketplaces.stock_levels import quantities_to_push
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun

logger = logging.getLogger(__name__)

FEED_TYPE = "JSON_LISTINGS_FEED"
# Up to this many SKUs go one by one (5 per second); more go as one feed (minutes, any size).
PATCH_LIMIT = 10
FEED_LIMIT = 25_000  # Amazon's maximum messages per JSON_LISTINGS_FEED
FALLBACK_PRODUCT_TYPE = "PRODUCT"


def feed_poll_seconds() -> float:
    return max(1.0, 30.0 / float(getattr(settings, "AMAZON_RATE_SCALE", 1.0)))


def push_stock(run: SyncRun, client: AmazonClient) -> None:
    channel = run.channel
    unfinished = (
        StockPush.objects.filter(channel=channel, status=StockPush.Status.SUBMITTED)
        .order_by("created_at")
        .first()
    )
    if unfinished is not None:
        _follow_feed(run, unfinished, client)
        return
    # Only one stock run per channel is active, so a push still "prepared" now was never sent
    # whole (the worker stopped, or Amazon failed before taking the feed). Its SKUs are still
    # pending and go out in the push prepared next.
    with transaction.atomic():
        history.heartbeat(run)  # a worker taken over leaves its successor's push alone
        StockPush.objects.filter(channel=channel, status=StockPush.Status.PREPARED).update(
            status=StockPush.Status.FAILED,
            error="Not sent: the push stopped before Amazon took it; its SKUs were sent again.",
            finished_at=timezone.now(),
        )
    push = prepare_push(channel, run)
    if push is None:
        return
    if push.method == StockPush.Method.PATCH:
        _send_patches(run, push, client)
    else:
        _submit_feed(run, push, client, channel)
        _follow_feed(run, push, client)


def prepare_push(channel: SalesChannel, run: SyncRun | None) -> StockPush | None:
    """Write the outbox row for every pending listing whose quantity differs from what Amazon
    last accepted; clear the pending flag of the ones already right (nothing sent twice)."""
    with transaction.atomic():
        pending = list(
            Listing.objects.select_for_update(skip_locked=True)
            .filter(
                channel=channel,
                push_pending=True,
                fulfillment_channel=FulfillmentChannel.MERCHANT,
            )
            .order_by("id")[:FEED_LIMIT]
        )
        if not pending:
            return None
        if run is not None:
            history.heartbeat(run)  # still this worker's run, or it prepares nothing
        quantities = quantities_to_push(channel, pending)
        to_send = [
            listing for listing in pending if quantities[listing.pk] != listing.pushed_quantity
        ]
        sending = {listing.pk for listing in to_send}
        _mark_clean(
            [(listing.pk, listing.push_version) for listing in pending if listing.pk not in sending]
        )
        if not to_send:
            return None
        push = StockPush.objects.create(
            channel=channel,
            run=run,
            method=StockPush.Method.PATCH if len(to_send) <= PATCH_LIMIT else StockPush.Method.FEED,
        )
        StockPushLine.objects.bulk_create(
            StockPushLine(
                push=push,
                listing=listing,
                message_id=number,
                quantity=quantities[listing.pk],
                listing_version=listing.push_version,
            )
            for number, listing in enumerate(to_send, start=1)
        )
    if run is not None:
        history.heartbeat(run, done=0, total=len(to_send))
    return push


def feed_document(channel: SalesChannel, lines: list[StockPushLine]) -> dict[str, Any]:
    """A JSON_LISTINGS_FEED that replaces fulfillment_availability for each line's SKU."""
    return {
        "header": {"sellerId": channel.seller_id, "version": "2.0", "issueLocale": "en_CA"},
        "messages": [
            {
                "messageId": line.message_id,
                "sku": line.listing.seller_sku,
                "operationType": "PATCH",
                "productType": line.listing.product_type or FALLBACK_PRODUCT_TYPE,
                "patches": [
                    {
                        "op": "replace",
                        "path": "/attributes/fulfillment_availability",
                        "value": [
                            {"fulfillment_channel_code": "DEFAULT", "quantity": line.quantity}
                        ],
                    }
                ],
            }
            for line in lines
        ],
    }


def _send_patches(run: SyncRun, push: StockPush, client: AmazonClient) -> None:
    lines = list(push.lines.select_related("listing").filter(outcome=StockPushLine.Outcome.PENDING))
    for done, line in enumerate(lines, start=1):
        history.heartbeat(run)  # no patch goes out for a run taken over meanwhile
        try:
            client.patch_listing_quantity(
                line.listing.seller_sku, line.listing.product_type, line.quantity
            )
        except AmazonRejected as rejected:
            _apply_outcomes(run, [(line, rejected.reason)], done=done)
        else:
            _apply_outcomes(run, [(line, None)], done=done)
    _finish(run, push)


def _submit_feed(
    run: SyncRun, push: StockPush, client: AmazonClient, channel: SalesChannel
) -> None:
    lines = list(push.lines.select_related("listing"))
    history.heartbeat(run)  # no feed goes out for a run taken over meanwhile
    feed_id = client.submit_json_feed(FEED_TYPE, feed_document(channel, lines))
    with transaction.atomic():
        history.heartbeat(run)
        StockPush.objects.filter(id=push.id).update(
            status=StockPush.Status.SUBMITTED, feed_id=feed_id
        )
    push.status, push.feed_id = StockPush.Status.SUBMITTED, feed_id


def _follow_feed(run: SyncRun, push: StockPush, client: AmazonClient) -> None:
    status = client.get_feed(push.feed_id)
    if status.status in {"IN_QUEUE", "IN_PROGRESS"}:
        raise WaitForAmazon(f"Amazon is processing stock feed {push.feed_id}", feed_poll_seconds())
    lines = {
        line.message_id: line
        for line in push.lines.select_related("listing").filter(
            outcome=StockPushLine.Outcome.PENDING
        )
    }
    if status.status != "DONE" or not status.result_document_id:
        reason = f"Amazon ended stock feed {push.feed_id} as {status.status}"
        report: dict[str, Any] = {}
        if status.result_document_id:
            try:
                report = client.download_feed_result(status.result_document_id)
            except Exception:  # noqa: BLE001 - the status alone is reason enough
                logger.warning("Processing report of feed %s unreadable", push.feed_id)
        for issue in report.get("issues") or []:
            if isinstance(issue, dict) and issue.get("message"):
                reason += f": {issue['message']}"
                break
        outcomes: list[tuple[StockPushLine, str | None]] = [
            (line, reason) for line in lines.values()
        ]
        for start in range(0, len(outcomes), OUTCOME_BATCH):
            _apply_outcomes(run, outcomes[start : start + OUTCOME_BATCH])
        with transaction.atomic():
            history.heartbeat(run)
            StockPush.objects.filter(id=push.id).update(
                status=StockPush.Status.FAILED, error=reason, finished_at=timezone.now()
            )
        return
    report = client.download_feed_result(status.result_document_id)
    errors: dict[int, list[str]] = {}
    for issue in report.get("issues") or []:
        if isinstance(issue, dict) and issue.get("severity") == "ERROR":
            message_id = issue.get("messageId")
            if isinstance(message_id, int):
                errors.setdefault(message_id, []).append(
                    f"{issue.get('code', '')} {issue.get('message', '')}".strip()
                )
    outcomes = [
        (line, "; ".join(errors[message_id]) if message_id in errors else None)
        for message_id, line in sorted(lines.items())
    ]
    for start in range(0, len(outcomes), OUTCOME_BATCH):
        batch = outcomes[start : start + OUTCOME_BATCH]
        _apply_outcomes(run, batch, done=start + len(batch))
    _finish(run, push)


# A feed's processing report is applied this many SKUs per transaction: a constant number of
# statements each (one ownership check, three UPDATEs, one INSERT of records).
OUTCOME_BATCH = 500


def _apply_outcomes(
    run: SyncRun, outcomes: list[tuple[StockPushLine, str | None]], *, done: int | None = None
) -> None:
    """Amazon's answer for each line: None if it accepted the quantity, else its reason.
    Accepted SKUs record the quantity Amazon now lists and become clean unless marked again
    since the quantity was taken; rejected ones keep Amazon's reason and stay pending."""
    now = timezone.now()
    accepted = [line for line, reason in outcomes if reason is None]
    for line, reason in outcomes:
        line.outcome = (
            StockPushLine.Outcome.ACCEPTED if reason is None else StockPushLine.Outcome.REJECTED
        )
        line.reason = (reason or "")[:2000]
        line.listing.pushed_quantity = (
            line.quantity if reason is None else line.listing.pushed_quantity
        )
        line.listing.pushed_at = now if reason is None else line.listing.pushed_at
        line.listing.push_error = line.reason
    with transaction.atomic():
        history.heartbeat(run, done=done)  # still this worker's run, or no outcome is written
        StockPushLine.objects.bulk_update([line for line, _ in outcomes], ["outcome", "reason"])
        Listing.objects.bulk_update(
            [line.listing for line in accepted], ["pushed_quantity", "pushed_at", "push_error"]
        )
        Listing.objects.bulk_update(
            [line.listing for line, reason in outcomes if reason is not None], ["push_error"]
        )
        _mark_clean([(line.listing_id, line.listing_version) for line in accepted])
        history.record_many(
            run,
            [
                history.Entry(
                    SyncRecord.RecordType.STOCK,
                    line.listing.seller_sku,
                    SyncRecord.Outcome.SYNCED if reason is None else SyncRecord.Outcome.FAILED,
                    reason=""
                    if reason is None
                    else f"Amazon rejected quantity {line.quantity}: {reason}",
                    local_object=line.listing,
                )
                for line, reason in outcomes
            ],
        )


def _mark_clean(versions: list[tuple[int, int]]) -> None:
    """Clear pending of these (listing id, version) only where nothing marked the listing
    since its quantity was taken; one UPDATE per OUTCOME_BATCH listings."""
    for start in range(0, len(versions), OUTCOME_BATCH):
        unchanged = Q()
        for listing_id, version in versions[start : start + OUTCOME_BATCH]:
            unchanged |= Q(id=listing_id, push_version=version)
        if unchanged:
            Listing.objects.filter(unchanged).update(push_pending=False)


def _finish(run: SyncRun, push: StockPush) -> None:
    with transaction.atomic():
        history.heartbeat(run)
        StockPush.objects.filter(id=push.id).update(
            status=StockPush.Status.DONE, finished_at=timezone.now()
        )
