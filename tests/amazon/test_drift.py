"""Drift check: what Amazon lists versus what we last pushed, and the one-click re-push."""

from __future__ import annotations

import pytest

from marketplaces.amazon import drift
from marketplaces.amazon.connection import client_for
from marketplaces.models import Listing, SalesChannel
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_get, sim_post
from tests.helpers.amazon import link_listings, listed_quantities, run_push
from warehouses.models import Warehouse

pytestmark = pytest.mark.django_db


def test_it_lists_skus_whose_amazon_quantity_differs_and_re_pushes_them(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    listings = link_listings(live_sim, channel, warehouse, 3)
    run_push(live_sim, channel)
    changed = listings[1]
    # Someone edits the quantity in Seller Central behind our back.
    client_for(channel).patch_listing_quantity(changed.seller_sku, changed.product_type, 99)

    report = drift.check_drift(channel, client_for(channel))

    assert report.drifted == [changed.seller_sku]
    changed.refresh_from_db()
    assert changed.amazon_quantity == 99
    assert changed.drifted is True
    assert [x.seller_sku for x in Listing.objects.all() if x.drifted] == [changed.seller_sku]

    assert drift.repush(channel) == 1
    run_push(live_sim, channel)
    assert listed_quantities(live_sim)[changed.seller_sku] == 7
    assert drift.check_drift(channel, client_for(channel)).drifted == []


def test_unpushed_listings_are_not_called_drifted(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    link_listings(live_sim, channel, warehouse, 2)
    sim_post(live_sim, "/_sim/clock/advance", {"seconds": 1})
    assert drift.check_drift(channel, client_for(channel)).drifted == []


def test_no_listing_is_missed_when_listings_change_while_the_check_pages(
    live_sim: Simulator, channel: SalesChannel, warehouse: Warehouse
) -> None:
    """Amazon's default order is newest first: a listing edited between two page requests
    jumps to a page already read, and a check paging in that order never sees it. Those are
    exactly the listings whose quantity moved, the ones the check is for."""
    on_amazon = sim_get(live_sim, "/_sim/listings")["listings"]
    merchant = [
        e for e in on_amazon if e["fulfillmentChannelCode"] == "DEFAULT" and not e["isParent"]
    ]
    listings = link_listings(live_sim, channel, warehouse, len(merchant))
    for listing, entry in zip(listings, merchant, strict=True):
        # What Amazon lists is what we last pushed: nothing has drifted yet.
        Listing.objects.filter(id=listing.id).update(pushed_quantity=entry["quantity"])
    # Before each of the first six page requests, a seller edits a listing in Seller Central.
    sim_post(
        live_sim,
        "/_sim/faults",
        {"operation": "searchListingsItems", "kind": "listing_edit", "count": 6},
    )

    report = drift.check_drift(channel, client_for(channel))

    edited = sorted(
        sku
        for sku, quantity in listed_quantities(live_sim).items()
        if any(e["sku"] == sku and e["quantity"] != quantity for e in merchant)
    )
    assert len(edited) == 6
    assert report.checked == len(on_amazon)
    assert not Listing.objects.filter(amazon_quantity_checked_at=None).exists()
    # A listing read before its edit is reported by the next check, not missed by this one.
    assert set(report.drifted) <= set(edited)
    assert sorted(drift.check_drift(channel, client_for(channel)).drifted) == edited
