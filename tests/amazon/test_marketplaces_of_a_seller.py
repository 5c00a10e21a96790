"""One authorization, every marketplace: a channel per marketplace, one credential for all."""

from __future__ import annotations

from typing import Any

import pytest
from django.core.exceptions import ValidationError

from accounts.models import AuditEvent
from marketplaces import connect
from marketplaces.amazon.errors import AmazonAuthError
from marketplaces.models import SalesChannel
from marketplaces.runs import attempt
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_post
from synchistory import services as history
from synchistory.models import SyncRun

pytestmark = pytest.mark.django_db

SELLER = "A3SIMULATORCA"
TOKEN = "Atzr|simulator"


def connected(**kwargs: Any) -> SalesChannel:
    return connect.connect_channel(
        name="Amazon.ca", seller_id=SELLER, refresh_token=TOKEN, **kwargs
    )


def skus_listed(channel: SalesChannel, fulfillment_channel: str) -> set[str]:
    from marketplaces.models import Listing

    listings = Listing.objects.filter(channel=channel, fulfillment_channel=fulfillment_channel)
    return set(listings.values_list("seller_sku", flat=True))


def not_covered(sim: Simulator, marketplace_id: str) -> None:
    sim_post(
        sim, "/_sim/participations", {"marketplaceId": marketplace_id, "isParticipating": None}
    )


def test_another_marketplace_becomes_a_channel_without_a_new_authorization(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    canada = connected()
    not_covered(amazon_settings, "A1AM78C64UM0Y8")

    found = {m.info.code: m for m in connect.seller_marketplaces(canada)}
    assert found["amazon_ca"].channel == canada
    assert found["amazon_com"].participating and found["amazon_com"].channel is None
    assert not found["amazon_com_mx"].covered

    us = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)

    assert (us.name, us.marketplace_id, us.currency) == ("Amazon.com", "ATVPDKIKX0DER", "USD")
    assert us.seller_id == canada.seller_id and us.refresh_token == canada.refresh_token
    assert set(SyncRun.objects.filter(channel=us).values_list("kind", flat=True)) == {
        SyncRun.Kind.ITEMS,
        SyncRun.Kind.ORDERS,
    }
    event = AuditEvent.objects.filter(action="channel-connected").latest("id")
    assert event.detail == {"via": "marketplace-added"}
    with pytest.raises(connect.ChannelAlreadyConnected):
        connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)


def test_a_marketplace_the_authorization_does_not_cover_is_refused(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    canada = connected()
    not_covered(amazon_settings, "A1AM78C64UM0Y8")
    with pytest.raises(ValidationError, match="does not cover Amazon.com.mx"):
        connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM_MX)
    sim_post(
        amazon_settings,
        "/_sim/participations",
        {"marketplaceId": "ATVPDKIKX0DER", "isParticipating": False},
    )
    with pytest.raises(ValidationError, match="does not sell on Amazon.com"):
        connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    assert SalesChannel.objects.count() == 1


def test_a_reauthorization_gives_every_channel_of_the_seller_the_new_credential(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    canada = connected()
    us = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    SalesChannel.objects.filter(id=us.id).update(
        status=SalesChannel.Status.NEEDS_REAUTHORIZATION, refresh_token="Atzr|old"
    )

    connect.connect_channel(
        name="Amazon.ca", seller_id=SELLER, refresh_token=TOKEN, reauthorize=canada
    )

    us.refresh_from_db()
    assert us.refresh_token == TOKEN and us.status == SalesChannel.Status.ACTIVE


def test_a_refused_authorization_stops_every_marketplace_of_the_seller(
    amazon_settings: Simulator, warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    canada = connected()
    us = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    SalesChannel.objects.filter(id=us.id).update(status=SalesChannel.Status.INACTIVE)
    run = SyncRun.objects.filter(channel=canada, kind=SyncRun.Kind.ITEMS).get()
    assert history.claim_run(run.id)
    run.refresh_from_db()

    def revoked(run: SyncRun, client: Any) -> None:
        raise AmazonAuthError("Amazon no longer accepts this seller's authorization")

    monkeypatch.setattr("marketplaces.runs.work_for", lambda kind: revoked)
    attempt(run, 0)

    statuses = dict(SalesChannel.objects.values_list("marketplace", "status"))
    assert statuses["amazon_ca"] == SalesChannel.Status.NEEDS_REAUTHORIZATION
    assert statuses["amazon_com"] == SalesChannel.Status.INACTIVE  # disabled stays disabled


def test_an_amazon_com_channel_brings_its_own_listings_and_usd_orders(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    from marketplaces.models import Listing, SalesOrder
    from tests.amazon.test_item_sync import run_item_sync
    from tests.helpers.amazon import run_order_sync
    from warehouses.models import Warehouse

    canada = connected()
    us = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    SyncRun.objects.filter(channel__in=[canada, us]).delete()  # the initial runs, run below

    run = run_item_sync(amazon_settings, us)
    assert run.status == SyncRun.Status.SUCCEEDED, run.error
    assert Listing.objects.filter(channel=us).exists()
    if Listing.objects.filter(channel=us, fulfillment_channel="amazon").exists():
        assert Warehouse.objects.filter(amazon_pool=Warehouse.AmazonPool.UNITED_STATES).exists()

    sim_post(
        amazon_settings,
        "/_sim/orders",
        {
            "count": 2,
            "fulfillmentStatus": "UNSHIPPED",
            "fulfilledBy": "MERCHANT",
            "marketplaceId": "ATVPDKIKX0DER",
        },
    )
    sim_post(amazon_settings, "/_sim/clock/advance", {"seconds": 300})
    orders = run_order_sync(us)

    assert orders.status in {SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL}, orders.error
    imported = SalesOrder.objects.filter(channel=us)
    assert imported.exists()
    assert set(imported.values_list("currency", flat=True)) == {"USD"}
    assert not SalesOrder.objects.filter(channel=canada).exists()


def test_amazon_com_and_com_mx_share_the_us_fba_warehouse_and_count_once(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    """The US fulfilment network serves both: one warehouse, one count per SKU."""
    from marketplaces.models import Listing
    from tests.amazon.test_fba_inventory import refresh
    from tests.amazon.test_item_sync import run_item_sync
    from warehouses.models import Stock, Warehouse

    canada = connected()
    us = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    mexico = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM_MX)
    SyncRun.objects.all().delete()  # the initial runs, run below
    for channel in (us, mexico):
        assert run_item_sync(amazon_settings, channel).status == SyncRun.Status.SUCCEEDED
    both = skus_listed(us, "amazon") & skus_listed(mexico, "amazon")
    if not both:
        pytest.skip("the simulator's seed lists no FBA SKU on both Amazon.com and .com.mx")
    sku = sorted(both)[0]
    sim_post(
        amazon_settings,
        "/_sim/fba-inventory",
        {"sku": sku, "marketplaceId": "ATVPDKIKX0DER", "fulfillable": 33},
    )

    for channel in (us, mexico):
        assert refresh(channel).status == SyncRun.Status.SUCCEEDED

    pool = Warehouse.objects.get(amazon_pool=Warehouse.AmazonPool.UNITED_STATES)
    item = Listing.objects.get(channel=us, seller_sku=sku).item
    assert Stock.objects.get(item=item, warehouse=pool).on_hand == 33  # not 66
    assert not Stock.objects.filter(
        item=item, warehouse__amazon_pool=Warehouse.AmazonPool.CANADA, on_hand=33
    ).exists()


def test_each_marketplace_gets_its_own_quantity_by_its_channels_rules(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    """One SKU on Amazon.ca and Amazon.com: each channel's buffer and maximum shape what its
    marketplace is told, and each push goes to its own marketplace."""
    from marketplaces import channel_settings
    from marketplaces.models import Listing
    from spapi_simulator.testing import sim_get
    from tests.amazon.test_item_sync import run_item_sync
    from tests.helpers.amazon import run_push
    from warehouses import stock

    canada = connected()
    us = connect.add_marketplace(canada, SalesChannel.Marketplace.AMAZON_COM)
    SyncRun.objects.all().delete()  # the initial runs, run below
    for channel in (canada, us):
        assert run_item_sync(amazon_settings, channel).status == SyncRun.Status.SUCCEEDED
    shared = skus_listed(us, "merchant") & skus_listed(canada, "merchant")
    sku = sorted(shared)[0]
    item = Listing.objects.get(channel=canada, seller_sku=sku).item
    Listing.objects.update(push_pending=False)
    channel_settings.update_channel_settings(canada, actor=None, safety_buffer=2)
    channel_settings.update_channel_settings(us, actor=None, max_quantity=5)
    Listing.objects.exclude(seller_sku=sku).update(push_pending=False)
    stock.set_opening_stock(item, warehouse, 20)

    for channel in (canada, us):
        assert run_push(amazon_settings, channel).status == SyncRun.Status.SUCCEEDED

    def listed(marketplace_id: str) -> int:
        entries = sim_get(amazon_settings, f"/_sim/listings?marketplaceId={marketplace_id}")
        return next(e["quantity"] for e in entries["listings"] if e["sku"] == sku)

    assert listed("A2EUQ1WTGCTBG2") == 18  # 20 less Amazon.ca's buffer of 2
    assert listed("ATVPDKIKX0DER") == 5  # Amazon.com's maximum
