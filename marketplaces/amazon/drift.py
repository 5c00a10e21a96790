"""Drift check: read back what Amazon lists and flag every merchant-fulfilled SKU
whose quantity differs from the one the product last pushed.

searchListingsItems returns 20 SKUs with their fulfillmentAvailability per call (5 calls a
second), so 10,000 SKUs cost 500 calls, under two minutes within quota; the listings report
would be fresher-looking but is minutes old by the time it is built.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db import transaction
from django.utils import timezone

from marketplaces.amazon.client import AmazonClient
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel, mark_for_push


@dataclass(frozen=True)
class DriftReport:
    checked: int
    drifted: list[str]


def check_drift(channel: SalesChannel, client: AmazonClient) -> DriftReport:
    # A reading is as old as its start. A worker stalled past the task's redelivery wakes up
    # holding an older reading than the check that ran meanwhile: it must not overwrite it.
    now = timezone.now()
    seen: dict[str, int | None] = {}
    token: str | None = None
    while True:
        page, token = client.search_listings(page_token=token, with_quantities=True)
        seen.update((details.seller_sku, details.quantity) for details in page)
        if not token:
            break
    drifted: list[str] = []
    listings = Listing.objects.filter(
        channel=channel, fulfillment_channel=FulfillmentChannel.MERCHANT
    ).order_by("seller_sku")
    with transaction.atomic():
        for listing in listings.select_for_update():
            if listing.seller_sku not in seen:
                continue
            checked = listing.amazon_quantity_checked_at
            if checked is not None and checked > now:
                continue  # a newer check has read it already
            quantity = seen[listing.seller_sku]
            # QuerySet.update leaves updated_at alone: a push in flight still sees its version.
            Listing.objects.filter(id=listing.id).update(
                amazon_quantity=quantity, amazon_quantity_checked_at=now
            )
            if listing.pushed_quantity is not None and quantity != listing.pushed_quantity:
                drifted.append(listing.seller_sku)
    return DriftReport(checked=len(seen), drifted=drifted)


def repush(channel: SalesChannel, seller_skus: list[str] | None = None) -> int:
    """One click: send the decided quantity again for drifted SKUs (or the given ones)."""
    listings = Listing.objects.filter(
        channel=channel, fulfillment_channel=FulfillmentChannel.MERCHANT
    )
    if seller_skus is not None:
        listings = listings.filter(seller_sku__in=seller_skus)
    else:
        ids = [listing.id for listing in listings if listing.drifted]
        listings = Listing.objects.filter(id__in=ids)
    # Forget what we think Amazon has, so the push does not skip it as "already sent".
    return mark_for_push(listings, forget_pushed=True)
