"""Marketplace reactions to inventory events (connected in ``MarketplacesConfig.ready``)."""

from __future__ import annotations

from typing import Any

from django.conf import settings
from django.db.models.functions import Now
from django.dispatch import receiver

from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from warehouses.signals import stock_changed


@receiver(stock_changed, dispatch_uid="marketplaces.mark_listings_for_push")
def mark_listings_for_push(sender: Any, item_ids: set[int], **kwargs: Any) -> None:
    """Queue a stock push for the merchant-fulfilled listings of these items on active channels.

    One UPDATE, however many items. Amazon-fulfilled listings are never pushed (SPEC §6).
    ``updated_at`` moves on every mark, also of a listing already pending: the push job clears
    ``push_pending`` with ``filter(pk=…, updated_at=<value it read>)``, so a change that lands
    while a push is in flight keeps the listing pending instead of being lost.
    """
    if not item_ids:
        return
    Listing.objects.filter(
        item_id__in=item_ids,
        fulfillment_channel=FulfillmentChannel.MERCHANT,
        channel__status=SalesChannel.Status.ACTIVE,
    ).update(push_pending=True, updated_at=Now())

    channel_ids = set(
        Listing.objects.filter(
            item_id__in=item_ids,
            fulfillment_channel=FulfillmentChannel.MERCHANT,
            channel__status=SalesChannel.Status.ACTIVE,
            channel__sync_stock=True,
        ).values_list("channel_id", flat=True)
    )
    if channel_ids:
        from marketplaces.tasks import push_stock_soon_task

        for channel_id in channel_ids:
            push_stock_soon_task.apply_async(
                (channel_id,), countdown=settings.STOCK_PUSH_DEBOUNCE_SECONDS
            )
