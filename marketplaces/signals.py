"""Marketplace reactions to inventory events (connected in ``MarketplacesConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db import OperationalError, transaction
from django.dispatch import receiver

from marketplaces import jobs
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel, mark_for_push
from warehouses.signals import stock_changed


@receiver(stock_changed, dispatch_uid="marketplaces.mark_listings_for_push")
def mark_listings_for_push(sender: Any, item_ids: set[int], **kwargs: Any) -> None:
    queue_stock_push(item_ids)


def queue_stock_push(item_ids: set[int]) -> None:
    """Queue a stock push for the merchant-fulfilled listings of these items on active channels,
    in the caller's transaction (the push task is sent when it commits).

    One locking SELECT and one UPDATE, however many items. Amazon-fulfilled listings are never
    pushed: Amazon manages their stock. Marking moves each listing's ``push_version`` on, also
    of a listing already pending, so a change that lands while a push is in flight keeps the
    listing pending instead of being lost.
    """
    if not item_ids:
        return
    channel_ids = _mark_pending(item_ids)
    for channel_id in channel_ids:
        jobs.enqueue(
            jobs.PUSH_STOCK_SOON, channel_id, countdown=settings.STOCK_PUSH_DEBOUNCE_SECONDS
        )


DEADLOCK_RETRIES = 3


def _mark_pending(item_ids: set[int]) -> set[int]:
    """Lock the listings in primary-key order, then mark them; returns the channels that push
    stock. An order import of another
    channel may hold some of them (it resets the ones its orders moved) and PostgreSQL may pick
    this statement as a deadlock's victim: it runs again, since a lost mark is a quantity never
    sent to Amazon. Inside a caller's transaction the attempt is a savepoint, which PostgreSQL
    lets roll back and retry without losing the rest of the transaction."""
    for attempt in range(1, DEADLOCK_RETRIES + 1):
        try:
            with transaction.atomic():
                listings = list(
                    Listing.objects.select_for_update(of=("self",))
                    .filter(
                        item_id__in=item_ids,
                        fulfillment_channel=FulfillmentChannel.MERCHANT,
                        channel__status=SalesChannel.Status.ACTIVE,
                    )
                    .order_by("id")
                    .values_list("id", "channel_id", "channel__sync_stock")
                )
                mark_for_push(Listing.objects.filter(id__in=[id_ for id_, _, _ in listings]))
            return {channel_id for _, channel_id, sync_stock in listings if sync_stock}
        except OperationalError as error:
            if attempt == DEADLOCK_RETRIES or not _is_deadlock(error):
                raise
    raise AssertionError("unreachable")  # the last attempt returns or raises


def _is_deadlock(error: OperationalError) -> bool:
    return getattr(error.__cause__, "sqlstate", None) == "40P01"
