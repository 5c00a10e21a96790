"""Settings > Integrations > Marketplaces, Show Details and its settings forms."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces.models import Listing, SalesChannel
from synchistory.models import SyncRun
from tests.factories import (
    ApiQuotaFactory,
    ListingFactory,
    SalesChannelFactory,
    SyncRunFactory,
    WarehouseFactory,
)
from warehouses.models import Organization

pytestmark = pytest.mark.django_db


def multi_warehouse(on: bool = True) -> Organization:
    organization = Organization.load()
    organization.multi_warehouse_enabled = on
    organization.primary_warehouse = WarehouseFactory.create(name="Toronto")
    organization.save()
    return organization


def test_it_lists_channels_with_status_and_last_sync(admin_client: Client) -> None:
    channel = SalesChannelFactory.create(name="My Amazon", status=SalesChannel.Status.INACTIVE)
    SyncRunFactory.create(channel=channel, finished_at=timezone.now() - timedelta(hours=2))
    html = admin_client.get("/settings/integrations/marketplaces/").content.decode()
    assert "My Amazon" in html
    assert "Inactive" in html
    assert "2\xa0hours ago" in html
    assert f"/settings/integrations/marketplaces/{channel.id}/" in html
    assert "Set up now" not in html  # Amazon.ca is connected


def test_it_offers_set_up_now_to_admins_only(admin_client: Client, staff_client: Client) -> None:
    assert "Set up now" in admin_client.get("/settings/integrations/marketplaces/").content.decode()
    assert (
        "Set up now"
        not in staff_client.get("/settings/integrations/marketplaces/").content.decode()
    )


def test_it_offers_re_authorize_for_a_revoked_channel(admin_client: Client) -> None:
    SalesChannelFactory.create(status=SalesChannel.Status.NEEDS_REAUTHORIZATION)
    html = admin_client.get("/settings/integrations/marketplaces/").content.decode()
    assert "Needs re-authorization" in html
    assert "Re-authorize" in html


def test_it_shows_the_details_of_a_channel(staff_client: Client) -> None:
    channel = SalesChannelFactory.create(seller_id="A3DETAILS")
    run = SyncRunFactory.create(
        channel=channel, kind="orders", orders_synced=7, finished_at=timezone.now()
    )
    SyncRunFactory.create(channel=channel, kind="orders", status="running")
    ApiQuotaFactory.create(
        seller_id="A3DETAILS",
        operation="searchOrders",
        calls=42,
        throttled=3,
        paced=5,
        next_allowed_at=timezone.now() + timedelta(minutes=5),
    )
    ApiQuotaFactory.create(seller_id="SOMEONE-ELSE", operation="getOrders", calls=999)
    response = staff_client.get(f"/settings/integrations/marketplaces/{channel.id}/")
    html = response.content.decode()
    assert response.status_code == 200
    assert "A3DETAILS" in html
    assert f'href="/sync-runs/{run.id}/"' in html
    assert "Modules in Sync" in html
    assert "searchOrders" in html and ">42<" in html and ">3<" in html and ">5<" in html
    assert "in 4\xa0minutes" in html or "in 5\xa0minutes" in html
    assert "getOrders" not in html
    assert "Applies to all sales channels." in html
    assert "Only an admin can change these settings." in html


def test_it_explains_why_warehouse_mapping_is_off(admin_client: Client) -> None:
    multi_warehouse(False)
    channel = SalesChannelFactory.create()
    html = admin_client.get(f"/settings/integrations/marketplaces/{channel.id}/").content.decode()
    assert "Warehouse mapping needs multi-warehouse" in html
    assert 'href="/settings/organization/"' in html
    assert 'id="mapping-dialog"' not in html


def test_it_maps_a_warehouse_and_turns_it_off(admin_client: Client) -> None:
    multi_warehouse()
    montreal = WarehouseFactory.create(name="Montréal")
    channel = SalesChannelFactory.create()
    listing = ListingFactory.create(channel=channel)
    url = f"/settings/integrations/marketplaces/{channel.id}/warehouse/"
    response = admin_client.post(url, {"warehouse": montreal.id}, follow=True)
    channel.refresh_from_db()
    assert channel.mapped_warehouse == montreal
    assert "Mapped warehouse" in response.content.decode()
    assert Listing.objects.get(id=listing.id).push_pending
    admin_client.post(url, {"warehouse": ""})
    channel.refresh_from_db()
    assert channel.mapped_warehouse is None


def test_it_refuses_mapping_while_multi_warehouse_is_off(admin_client: Client) -> None:
    multi_warehouse(False)
    other = WarehouseFactory.create(name="Montréal")
    channel = SalesChannelFactory.create()
    response = admin_client.post(
        f"/settings/integrations/marketplaces/{channel.id}/warehouse/", {"warehouse": other.id}
    )
    assert response.status_code == 400
    assert "Warehouse mapping needs multi-warehouse" in response.content.decode()
    channel.refresh_from_db()
    assert channel.mapped_warehouse is None


def test_it_saves_the_sync_interval_within_bounds(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    url = f"/settings/integrations/marketplaces/{channel.id}/interval/"
    response = admin_client.post(url, {"sync_interval_minutes": "4"})
    assert response.status_code == 400
    assert "between 5 and 1440" in response.content.decode()
    assert admin_client.post(url, {"sync_interval_minutes": "1441"}).status_code == 400
    assert admin_client.post(url, {"sync_interval_minutes": "30"}).status_code == 302
    channel.refresh_from_db()
    assert channel.sync_interval_minutes == 30


def test_it_toggles_modules_with_htmx(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    response = admin_client.post(
        f"/settings/integrations/marketplaces/{channel.id}/modules/",
        {"sync_items": "on", "sync_orders": "on", "sync_shipments": "on"},
        headers={"HX-Request": "true"},
    )
    assert response.status_code == 200
    assert "Saved." in response.content.decode()
    channel.refresh_from_db()
    modules = (channel.sync_items, channel.sync_orders, channel.sync_stock, channel.sync_shipments)
    assert modules == (True, True, False, True)


def test_it_saves_stock_limits_and_repushes(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    listing = ListingFactory.create(channel=channel)
    url = f"/settings/integrations/marketplaces/{channel.id}/limits/"
    response = admin_client.post(url, {"safety_buffer": "-1", "max_quantity": ""})
    assert response.status_code == 400
    assert admin_client.post(url, {"safety_buffer": "2", "max_quantity": "50"}).status_code == 302
    channel.refresh_from_db()
    assert (channel.safety_buffer, channel.max_quantity) == (2, 50)
    assert Listing.objects.get(id=listing.id).push_pending
    admin_client.post(url, {"safety_buffer": "0", "max_quantity": ""})
    channel.refresh_from_db()
    assert channel.max_quantity is None


def test_it_sets_the_order_sync_preference(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    admin_client.post(
        f"/settings/integrations/marketplaces/{channel.id}/order-preference/",
        {"order_sync_preference": "confirmed_and_fulfilled"},
    )
    assert Organization.load().order_sync_preference == "confirmed_and_fulfilled"


def test_it_disables_and_re_enables_a_channel(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    base = f"/settings/integrations/marketplaces/{channel.id}/"
    response = admin_client.post(base + "disable/", follow=True)
    channel.refresh_from_db()
    assert channel.status == SalesChannel.Status.INACTIVE
    assert "nothing syncs" in response.content.decode()
    admin_client.post(base + "enable/")
    channel.refresh_from_db()
    assert channel.status == SalesChannel.Status.ACTIVE


def test_it_refuses_to_re_enable_a_revoked_channel(admin_client: Client) -> None:
    channel = SalesChannelFactory.create(status=SalesChannel.Status.NEEDS_REAUTHORIZATION)
    response = admin_client.post(
        f"/settings/integrations/marketplaces/{channel.id}/enable/", follow=True
    )
    assert "connect it again" in response.content.decode()
    channel.refresh_from_db()
    assert channel.status == SalesChannel.Status.NEEDS_REAUTHORIZATION


@pytest.mark.parametrize(
    ("suffix", "data"),
    [
        ("interval/", {"sync_interval_minutes": "30"}),
        ("modules/", {}),
        ("limits/", {"safety_buffer": "3"}),
        ("order-preference/", {"order_sync_preference": "confirmed_and_fulfilled"}),
        ("warehouse/", {"warehouse": ""}),
        ("disable/", {}),
        ("enable/", {}),
        ("sync/", {"kind": "orders", "fetch_from": "since_last_sync"}),
        ("sync/estimate/", {"kind": "items", "fetch_from": "since_last_sync"}),
    ],
)
def test_it_forbids_staff_to_change_a_channel(
    staff_client: Client, suffix: str, data: dict[str, str]
) -> None:
    channel = SalesChannelFactory.create()
    before = SalesChannel.objects.values().get(id=channel.id)
    response = staff_client.post(f"/settings/integrations/marketplaces/{channel.id}/{suffix}", data)
    assert response.status_code == 403
    assert SalesChannel.objects.values().get(id=channel.id) == before
    assert Organization.load().order_sync_preference == "confirmed"
    assert not SyncRun.objects.exists()


def test_it_answers_404_for_an_unknown_channel(admin_client: Client) -> None:
    assert admin_client.get("/settings/integrations/marketplaces/999/").status_code == 404
    assert admin_client.post("/settings/integrations/marketplaces/999/disable/").status_code == 404


def test_the_quota_view_says_now_when_the_next_call_is_allowed(admin_client: Client) -> None:
    channel = SalesChannelFactory.create(seller_id="A3NOW")
    ApiQuotaFactory.create(
        seller_id="A3NOW",
        operation="getListingsItem",
        next_allowed_at=datetime(2020, 1, 1, tzinfo=UTC),
    )
    html = admin_client.get(f"/settings/integrations/marketplaces/{channel.id}/").content.decode()
    assert "getListingsItem" in html
    assert ">now<" in html
