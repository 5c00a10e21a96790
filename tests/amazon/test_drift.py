"""Drift check: what Amazon lists versus what we last pushed, and the one-click re-push."""

from __future__ import annotations

import pytest

from marketplaces.amazon import drift
from marketplaces.amazon.connection import client_for
from marketplaces.models import Listing, SalesChannel
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_post
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
