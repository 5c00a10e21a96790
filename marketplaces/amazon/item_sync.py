"""Amazon listings in, as items.

The all-listings report gives every SKU with its title, price, quantity and fulfilment channel;
searchListingsItems adds the product type (needed to push stock) and the variation theme.
A listing whose SKU matches an item is linked to it; one with no item becomes an *unconfirmed*
item for the seller to confirm or link. Variation families with more than three attributes are
not imported, and the sync record says why.

The run survives retries: the report id is kept in ``SyncRun.cursor`` while Amazon prepares it.
"""

from __future__ import annotations

import logging

from django.conf import settings
from django.db import IntegrityError, transaction

from marketplaces import fba
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.errors import AmazonRejected, WaitForAmazon
from marketplaces.amazon.types import ListingDetails, ListingRow, parse_listings_report
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from warehouses.models import Item

logger = logging.getLogger(__name__)

LISTINGS_REPORT = "GET_MERCHANT_LISTINGS_ALL_DATA"
MAX_VARIATION_ATTRIBUTES = 3
REPORT_PREFIX = "report:"


def report_poll_seconds() -> float:
    # Amazon takes minutes to build a report; a sped-up simulator proportionally less.
    return max(1.0, 30.0 / float(getattr(settings, "AMAZON_RATE_SCALE", 1.0)))


def sync_items(run: SyncRun, client: AmazonClient) -> None:
    report_id = run.cursor.removeprefix(REPORT_PREFIX) if run.cursor else ""
    if not report_id:
        history.heartbeat(run)  # no report is asked for by a worker taken over meanwhile
        report_id = client.create_report(LISTINGS_REPORT)
        history.heartbeat(run, cursor=REPORT_PREFIX + report_id)
    status = client.get_report(report_id)
    if status.status in {"IN_QUEUE", "IN_PROGRESS"}:
        raise WaitForAmazon(
            f"Amazon is preparing listings report {report_id}", report_poll_seconds()
        )
    if status.status != "DONE" or not status.document_id:
        history.heartbeat(run, cursor="")
        raise AmazonRejected(
            "getReport", 200, status.status, f"the listings report ended {status.status}"
        )
    rows, unreadable = parse_listings_report(client.download_report(status.document_id))
    if run.reinitiates_id:
        # Re-initiate: only the SKUs the earlier run brought in.
        wanted = set(
            SyncRecord.objects.filter(
                run_id=run.reinitiates_id, record_type=SyncRecord.RecordType.ITEM
            ).values_list("external_id", flat=True)
        )
        rows = [row for row in rows if row.seller_sku in wanted]
        unreadable = [entry for entry in unreadable if entry[0] in wanted]
    details = _listing_details(client)
    if any(row.fulfilled_by_amazon for row in rows):
        fba.fba_warehouse(run.channel)  # where the FBA refresh puts their stock
    history.heartbeat(run, done=0, total=len(rows) + len(unreadable))
    for sku, reason in unreadable:
        history.record(run, SyncRecord.RecordType.ITEM, sku, "failed", reason=reason)
    for done, row in enumerate(rows, start=1):
        with transaction.atomic():  # the record checks the run is still ours, or neither is kept
            outcome, item, reason = import_listing(run.channel, row, details.get(row.seller_sku))
            history.record(
                run,
                SyncRecord.RecordType.ITEM,
                row.seller_sku,
                outcome,
                reason=reason,
                local_object=item,
            )
        if done % 100 == 0:
            history.heartbeat(run, done=done)
    history.heartbeat(run, done=len(rows) + len(unreadable), cursor="")


def _listing_details(client: AmazonClient) -> dict[str, ListingDetails]:
    found: dict[str, ListingDetails] = {}
    token: str | None = None
    while True:
        page, token = client.search_listings(page_token=token)
        found.update((d.seller_sku, d) for d in page)
        if not token:
            return found


def import_listing(
    channel: SalesChannel, row: ListingRow, details: ListingDetails | None
) -> tuple[str, Item | None, str]:
    """(outcome, item, reason) for one report row; a failure never stops the run."""
    if details and len(details.variation_attributes) > MAX_VARIATION_ATTRIBUTES:
        return (
            SyncRecord.Outcome.SKIPPED,
            None,
            f"Variation family with {len(details.variation_attributes)} attributes "
            f"({', '.join(details.variation_attributes)}); at most "
            f"{MAX_VARIATION_ATTRIBUTES} are supported.",
        )
    try:
        with transaction.atomic():
            item = _upsert_listing(channel, row, details)
    except IntegrityError:
        with transaction.atomic():  # a concurrent run created it first: update that one
            item = _upsert_listing(channel, row, details)
    except Exception as error:  # noqa: BLE001 - recorded with its reason; others carry on
        logger.exception("Listing %s could not be imported", row.seller_sku)
        return SyncRecord.Outcome.FAILED, None, f"{type(error).__name__}: {error}"
    return SyncRecord.Outcome.SYNCED, item, ""


def _upsert_listing(channel: SalesChannel, row: ListingRow, details: ListingDetails | None) -> Item:
    listing = (
        Listing.objects.select_for_update()
        .select_related("item")
        .filter(channel=channel, seller_sku=row.seller_sku)
        .first()
    )
    fields = {
        "asin": row.asin[:20],
        "title": row.title[:500],
        "price": row.price,
        "amazon_quantity": row.quantity,
        "fulfillment_channel": (
            FulfillmentChannel.AMAZON if row.fulfilled_by_amazon else FulfillmentChannel.MERCHANT
        ),
    }
    if details and details.product_type:
        fields["product_type"] = details.product_type
    if listing is not None:
        for name, value in fields.items():
            setattr(listing, name, value)
        listing.save()
        return listing.item
    item, _ = Item.objects.get_or_create(
        sku=row.seller_sku,
        defaults={
            "name": (row.title or row.seller_sku)[:500],
            "status": Item.Status.UNCONFIRMED,
            "unit_price": row.price,
        },
    )
    Listing.objects.create(channel=channel, item=item, seller_sku=row.seller_sku, **fields)
    return item
