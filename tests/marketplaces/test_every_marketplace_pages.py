"""Show Details of each marketplace of one seller: Stock on Amazon names its marketplace and
lists that marketplace's SKUs only; the API quota view says which channels share its buckets
and which of them use each operation."""

from __future__ import annotations

import re
from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces.models import (
    AMAZON_CA_MARKETPLACE_ID,
    AMAZON_COM_MARKETPLACE_ID,
    AMAZON_COM_MX_MARKETPLACE_ID,
    SalesChannel,
)
from tests.factories import ApiQuotaFactory, ItemFactory, ListingFactory, SalesChannelFactory

pytestmark = pytest.mark.django_db

SELLER = "A3SHARED"


def page(client: Client, channel: SalesChannel) -> str:
    return client.get(f"/settings/integrations/marketplaces/{channel.id}/").content.decode()


def section(html: str, element_id: str) -> str:
    start = html.index(f'id="{element_id}"')
    return html[start : html.index("</section>", start)]


def text(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", "", html)).replace("&#x27;", "'")


def seller_on(*marketplaces: SalesChannel.Marketplace) -> list[SalesChannel]:
    ids = {
        SalesChannel.Marketplace.AMAZON_CA: (AMAZON_CA_MARKETPLACE_ID, "CAD"),
        SalesChannel.Marketplace.AMAZON_COM: (AMAZON_COM_MARKETPLACE_ID, "USD"),
        SalesChannel.Marketplace.AMAZON_COM_MX: (AMAZON_COM_MX_MARKETPLACE_ID, "MXN"),
    }
    return [
        SalesChannelFactory.create(
            name=marketplace.label,
            seller_id=SELLER,
            marketplace=marketplace,
            marketplace_id=ids[marketplace][0],
            currency=ids[marketplace][1],
        )
        for marketplace in marketplaces
    ]


def test_the_quota_view_of_every_channel_of_the_seller_says_its_buckets_are_shared(
    staff_client: Client,
) -> None:
    canada, us = seller_on(SalesChannel.Marketplace.AMAZON_CA, SalesChannel.Marketplace.AMAZON_COM)
    ApiQuotaFactory.create(
        seller_id=SELLER,
        operation="searchListingsItems",
        calls=70,
        marketplace_ids=[AMAZON_COM_MARKETPLACE_ID, AMAZON_CA_MARKETPLACE_ID],
    )
    ApiQuotaFactory.create(
        seller_id=SELLER,
        operation="getInventorySummaries",
        calls=12,
        marketplace_ids=[AMAZON_COM_MARKETPLACE_ID],
    )
    ApiQuotaFactory.create(seller_id=SELLER, operation="getFeed", calls=3)  # before it was kept
    ApiQuotaFactory.create(seller_id="A3SOMEONEELSE", operation="getOrder", calls=999)

    for channel in (canada, us):
        quota = section(page(staff_client, channel), "api-quota")
        assert "Shared by Amazon.ca, Amazon.com:" in text(quota), channel
        other = us if channel == canada else canada
        assert f'href="/settings/integrations/marketplaces/{other.id}/"' in quota
        assert f'href="/settings/integrations/marketplaces/{channel.id}/"' not in quota
        rows = text(quota[quota.index("<tbody>") :])
        assert "getFeed — 3 " in rows
        assert "getInventorySummaries Amazon.com 12 " in rows
        assert "searchListingsItems Amazon.ca, Amazon.com 70 " in rows
        assert "getOrder" not in rows


def test_an_inactive_marketplace_still_shares_and_is_named_so(staff_client: Client) -> None:
    canada, _, mexico = seller_on(
        SalesChannel.Marketplace.AMAZON_CA,
        SalesChannel.Marketplace.AMAZON_COM,
        SalesChannel.Marketplace.AMAZON_COM_MX,
    )
    SalesChannel.objects.filter(id=mexico.id).update(status=SalesChannel.Status.INACTIVE)
    quota = text(section(page(staff_client, canada), "api-quota"))
    assert "Shared by Amazon.ca, Amazon.com, Amazon.com.mx (inactive):" in quota


def test_a_seller_on_one_marketplace_sees_no_sharing(staff_client: Client) -> None:
    (canada,) = seller_on(SalesChannel.Marketplace.AMAZON_CA)
    ApiQuotaFactory.create(
        seller_id=SELLER, operation="getOrder", calls=5, marketplace_ids=[AMAZON_CA_MARKETPLACE_ID]
    )
    quota = section(page(staff_client, canada), "api-quota")
    assert "Shared by" not in quota and "Used by" not in quota
    assert "getOrder 5 " in text(quota[quota.index("<tbody>") :])


def test_stock_on_amazon_of_the_second_marketplace_names_it_and_lists_its_skus_only(
    admin_client: Client,
) -> None:
    canada, us = seller_on(SalesChannel.Marketplace.AMAZON_CA, SalesChannel.Marketplace.AMAZON_COM)
    item = ItemFactory.create(sku="MUG-1", name="Camp mug")
    checked = timezone.now() - timedelta(minutes=5)
    ListingFactory.create(
        channel=canada,
        item=item,
        seller_sku="MUG-1",
        amazon_quantity=4,
        pushed_quantity=4,
        amazon_quantity_checked_at=checked,
    )
    ListingFactory.create(
        channel=us,
        item=item,
        seller_sku="MUG-1",
        amazon_quantity=99,
        pushed_quantity=5,
        amazon_quantity_checked_at=checked,
    )

    us_drift = section(page(admin_client, us), "stock-on-amazon")
    assert "Stock on Amazon.com</h2>" in us_drift
    assert (
        "The quantities Amazon.com lists for merchant-fulfilled SKUs (marketplace "
        f"{AMAZON_COM_MARKETPLACE_ID})" in text(us_drift)
    )
    assert "On Amazon.com</th>" in us_drift
    assert "MUG-1 Camp mug 99 5" in text(us_drift[us_drift.index("<tbody>") :])

    canada_drift = section(page(admin_client, canada), "stock-on-amazon")
    assert "Stock on Amazon.ca</h2>" in canada_drift
    assert 'id="drift-table"' not in canada_drift
    assert "Every merchant-fulfilled SKU on Amazon.ca matches what we last sent." in canada_drift


def test_a_wait_of_seconds_is_given_in_seconds_not_as_0_minutes(staff_client: Client) -> None:
    (canada,) = seller_on(SalesChannel.Marketplace.AMAZON_CA)
    ApiQuotaFactory.create(
        seller_id=SELLER,
        operation="getOrder",
        next_allowed_at=timezone.now() + timedelta(seconds=30),
    )
    ApiQuotaFactory.create(
        seller_id=SELLER,
        operation="searchOrders",
        next_allowed_at=timezone.now() + timedelta(minutes=3, seconds=30),
    )
    rows = text(section(page(staff_client, canada), "api-quota"))
    assert re.search(r"getOrder 0 0 0 in (29|30) s ", rows), rows
    assert "searchOrders 0 0 0 in 3 minutes " in rows  # text() makes the no-break space one
    assert "0 minutes" not in rows
