"""Disable / re-enable, warehouse mapping, re-initiate, dry-run estimate."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.core.exceptions import ValidationError
from django.utils import timezone

from marketplaces import channel_settings, services
from marketplaces.amazon.connection import client_for
from marketplaces.amazon.order_sync import estimate_orders
from marketplaces.models import Listing, SalesChannel, SalesOrder
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_post
from synchistory.models import SyncRun
from tests.helpers.amazon import amazon_orders, run_order_sync
from warehouses.models import Item, Organization, Warehouse

pytestmark = pytest.mark.django_db


def test_an_inactive_channel_syncs_nothing_and_resumes_without_gaps(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    run_order_sync(channel)
    channel_settings.disable_channel(channel, actor=None)
    with pytest.raises(ValidationError, match="inactive"):
        services.request_sync(channel, "orders", SyncRun.Trigger.MANUAL)

    sku = next(iter(stocked_items))
    placed = sim_post(
        live_sim,
        "/_sim/orders",
        {"count": 3, "fulfillmentStatus": "UNSHIPPED", "fulfilledBy": "MERCHANT", "skus": [sku]},
    )["orders"]
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 3600})
    channel_settings.enable_channel(channel, actor=None)
    run = run_order_sync(channel)

    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    ids = {o["orderId"] for o in placed}
    assert (
        set(
            SalesOrder.objects.filter(amazon_order_id__in=ids).values_list(
                "amazon_order_id", flat=True
            )
        )
        == ids
    )
    # Nothing placed while the channel was inactive is missed (the live order stream
    # kept going meanwhile too).
    confirmed_on_amazon = {
        o["orderId"]
        for o in amazon_orders(live_sim)
        if o["fulfillment"]["fulfillmentStatus"] in {"UNSHIPPED", "PARTIALLY_SHIPPED"}
    }
    assert confirmed_on_amazon <= set(SalesOrder.objects.values_list("amazon_order_id", flat=True))


def test_mapping_needs_multi_warehouse_and_re_pushes_every_sku(
    channel: SalesChannel, warehouse: Warehouse
) -> None:
    item = Item.objects.create(sku="MUG", name="Mug")
    Listing.objects.create(channel=channel, item=item, seller_sku="MUG")
    Listing.objects.create(
        channel=channel, item=item, seller_sku="MUG-FBA", fulfillment_channel="amazon"
    )
    with pytest.raises(ValidationError, match="multi-warehouse"):
        channel_settings.set_warehouse_mapping(channel, warehouse, actor=None)

    Organization.objects.filter(id=1).update(multi_warehouse_enabled=True)
    channel_settings.set_warehouse_mapping(channel, warehouse, actor=None)

    channel.refresh_from_db()
    assert channel.mapped_warehouse == warehouse
    assert set(Listing.objects.filter(push_pending=True).values_list("seller_sku", flat=True)) == {
        "MUG"
    }


def test_reinitiate_fetches_exactly_the_records_of_the_run(
    live_sim: Simulator, channel: SalesChannel, stocked_items: dict[str, Item]
) -> None:
    first = run_order_sync(channel)
    recorded = set(first.records.values_list("external_id", flat=True))
    imported = set(first.records.filter(outcome="synced").values_list("external_id", flat=True))
    assert imported and imported < recorded  # shipped ones skipped under "Confirmed only"
    SalesOrder.objects.filter(amazon_order_id=next(iter(imported))).delete()

    again = services.reinitiate(first)
    from marketplaces.tasks import sync_orders_task

    sync_orders_task.apply(args=(again.id,))
    again.refresh_from_db()

    assert again.trigger == SyncRun.Trigger.REINITIATED
    assert again.reinitiates == first
    assert again.status == SyncRun.Status.SUCCEEDED, again.error
    # Skipped ones too: under a preference changed since, they would be imported now.
    assert set(again.records.values_list("external_id", flat=True)) == recorded
    assert SalesOrder.objects.filter(amazon_order_id__in=imported).count() == len(imported)


def test_the_estimate_is_exact_for_a_small_window(
    live_sim: Simulator, channel: SalesChannel
) -> None:
    start = timezone.now() - timedelta(days=3)
    estimate = estimate_orders(client_for(channel), start, None)
    assert estimate.exact is True
    assert estimate.count >= 0
