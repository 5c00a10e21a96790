"""FBA stock in: Amazon's counts of the seller's FBA SKUs, mirrored into its FBA warehouse.

``getInventorySummaries`` (with details) pages through the SKUs of the channel's pool, 50 at a
time: all of them (a full refresh: on demand, and the first time), or only those changed since
the channel's checkpoint (the automatic refresh). Each SKU's counts are kept on its listing;
each item's stock in the FBA warehouse is the sum over its FBA SKUs, written through
``warehouses.stock.set_amazon_counts`` (one movement per change, saying it came from Amazon).
A SKU Amazon counts that is not an FBA listing here is a skipped record with its reason; the
others carry on. The page token is kept in the run's cursor, so a retried run resumes.
"""

from __future__ import annotations

from datetime import timedelta

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplaces import fba
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.types import FbaInventory
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from warehouses import stock
from warehouses.models import Warehouse

CURSOR_PREFIX = "fba:"
# The checkpoint is the newest lastUpdatedTime Amazon showed, less this: a change Amazon records
# late, with an earlier time, is still read (a SKU read twice changes nothing).
CHECKPOINT_OVERLAP = timedelta(minutes=10)
REFERENCE = "Amazon FBA inventory"
INCREMENTAL_TRIGGERS = {SyncRun.Trigger.AUTOMATIC}


def refresh_fba_inventory(run: SyncRun, client: AmazonClient) -> None:
    channel = run.channel
    if run.cursor.startswith(CURSOR_PREFIX):  # a retried run: go on where it stopped
        token: str | None = run.cursor.removeprefix(CURSOR_PREFIX)
        changed_since = run.window_start
    else:
        token = None
        incremental = run.trigger in INCREMENTAL_TRIGGERS and not _full_refresh_due(channel)
        changed_since = channel.fba_inventory_checkpoint if incremental else None
        if changed_since is not None:  # kept for a retry of this run to ask the same
            history.heartbeat(run, window_start=changed_since)
    newest = channel.fba_inventory_checkpoint
    warehouse = fba.fba_warehouse(channel)
    done = run.progress_done or 0
    while True:
        page, unreadable, token = client.get_fba_inventory(
            changed_since=changed_since, next_token=token
        )
        entries = [
            history.Entry(SyncRecord.RecordType.STOCK, sku, SyncRecord.Outcome.FAILED, reason)
            for sku, reason in unreadable
        ]
        done += len(page) + len(unreadable)
        with transaction.atomic():  # the run's own still (fencing), or nothing is written
            history.heartbeat(run, done=done, cursor=f"{CURSOR_PREFIX}{token}" if token else "")
            entries += _apply_page(channel, warehouse, page)
            history.record_many(run, entries)
        for summary in page:
            if summary.last_updated and (newest is None or summary.last_updated > newest):
                newest = summary.last_updated
        if not token:
            break
    if newest is not None:
        # Amazon's clock, not ours (they may disagree by minutes): the newest change it showed.
        checkpoint = newest - CHECKPOINT_OVERLAP
        with transaction.atomic():
            history.heartbeat(run)
            SalesChannel.objects.filter(id=channel.id).update(fba_inventory_checkpoint=checkpoint)


def _full_refresh_due(channel: SalesChannel) -> bool:
    """Amazon's startDateTime leaves out changes to inbound quantities (its model says so): an
    incremental refresh never sees a shipment's units move from working to shipped to
    receiving. So every AMAZON_FBA_FULL_REFRESH_HOURS an automatic refresh reads every SKU."""
    last_full = (
        SyncRun.objects.filter(
            channel=channel,
            kind=SyncRun.Kind.FBA_INVENTORY,
            status__in=(SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL),
            window_start__isnull=True,
        )
        .order_by("-created_at")
        .values_list("created_at", flat=True)
        .first()
    )
    hours = settings.AMAZON_FBA_FULL_REFRESH_HOURS
    return last_full is None or last_full < timezone.now() - timedelta(hours=hours)


def _apply_page(
    channel: SalesChannel, warehouse: Warehouse, page: list[FbaInventory]
) -> list[history.Entry]:
    """Keep each SKU's counts on its listing, then set the page's items' stock from all their
    FBA SKUs; the records of the SKUs that changed or could not be placed."""
    # The items come in the same query (each changed SKU's record names its item), unlocked.
    listings = {
        listing.seller_sku: listing
        for listing in Listing.objects.select_for_update(of=("self",))
        .select_related("item")
        .filter(channel=channel, seller_sku__in=[summary.seller_sku for summary in page])
    }
    entries: list[history.Entry] = []
    changed: list[Listing] = []
    for summary in page:
        listing = listings.get(summary.seller_sku)
        reason = _unplaced(listing, summary)
        if reason:
            # Skipped, not failed: the item sync decides which SKUs are listings here (it
            # leaves out some variation families), and says why in its own history.
            entries.append(
                history.Entry(
                    SyncRecord.RecordType.STOCK,
                    summary.seller_sku,
                    SyncRecord.Outcome.SKIPPED,
                    reason,
                )
            )
            continue
        assert listing is not None
        counts = {
            "fulfillable": summary.fulfillable,
            "reserved": summary.reserved,
            "inbound": summary.inbound,
            "unfulfillable": summary.unfulfillable,
        }
        if listing.fba_counts != counts:
            listing.fba_counts = counts
            changed.append(listing)
            entries.append(
                history.Entry(
                    SyncRecord.RecordType.STOCK,
                    summary.seller_sku,
                    SyncRecord.Outcome.SYNCED,
                    local_object=listing.item,
                )
            )
    if changed:
        Listing.objects.bulk_update(changed, ["fba_counts"])
        items = {listing.item_id for listing in changed}
        stock.set_amazon_counts(warehouse, _counts_by_item(warehouse, items), reference=REFERENCE)
    return entries


def _unplaced(listing: Listing | None, summary: FbaInventory) -> str:
    if listing is None:
        return (
            f"Amazon holds FBA units of {summary.seller_sku}, which is not a listing here: the "
            "item sync brings it in (unless it left it out: see that sync's history), and its "
            "stock follows."
        )
    if listing.fulfillment_channel != FulfillmentChannel.AMAZON:
        return (
            f"Amazon holds FBA units of {summary.seller_sku}, which is listed here as "
            "merchant-fulfilled: run the item sync to bring its fulfilment channel up to date."
        )
    return ""


def _counts_by_item(warehouse: Warehouse, item_ids: set[int]) -> list[stock.AmazonCount]:
    """Each item's units over all its FBA SKUs in the warehouse's pool (one SKU listed on two
    marketplaces of the pool is the same stock: counted once)."""
    per_sku: dict[tuple[int, str], dict[str, int]] = {}
    for item_id, sku, counts in Listing.objects.filter(
        item_id__in=item_ids,
        fulfillment_channel=FulfillmentChannel.AMAZON,
        channel__marketplace__in=fba.marketplaces_of(warehouse.amazon_pool),
    ).values_list("item_id", "seller_sku", "fba_counts"):
        if counts:
            per_sku[(item_id, sku)] = counts
    totals: dict[int, dict[str, int]] = {item_id: {} for item_id in item_ids}
    for (item_id, _), counts in per_sku.items():
        for name, units in counts.items():
            totals[item_id][name] = totals[item_id].get(name, 0) + int(units)
    return [
        stock.AmazonCount(
            item_id=item_id,
            fulfillable=units.get("fulfillable", 0),
            reserved=units.get("reserved", 0),
            inbound=units.get("inbound", 0),
            unfulfillable=units.get("unfulfillable", 0),
        )
        for item_id, units in sorted(totals.items())
    ]
