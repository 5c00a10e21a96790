"""What the pages say when Amazon withheld the buyer's data (the app lacks a restricted role)."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces.models import SalesChannel
from tests.factories import SalesOrderFactory

pytestmark = pytest.mark.django_db

ROLE = "Direct-to-Consumer Delivery (Restricted)"


def test_the_order_page_says_what_amazon_withheld_which_role_is_missing_and_what_to_do(
    admin_client: Client,
) -> None:
    order = SalesOrderFactory.create(
        personal_data_withheld="address,email,name",
        shipping_address={"city": "Montréal", "stateOrRegion": "QC", "countryCode": "CA"},
    )

    html = admin_client.get(f"/sales-orders/{order.id}/").content.decode()

    assert (
        "Amazon withheld the delivery address, the buyer&#x27;s e-mail and the buyer&#x27;s "
        f"name</strong>: this app lacks Amazon's {ROLE} role." in html
    )
    assert "Ship it from Seller Central, or request the role in Solution Provider Portal" in html
    assert "Buyer-Seller Messaging" in html
    assert "Montréal" in html  # what Amazon gives any app is still shown


def test_the_order_page_says_nothing_when_amazon_gave_everything(admin_client: Client) -> None:
    order = SalesOrderFactory.create(buyer_name="Émilie Tremblay")
    html = admin_client.get(f"/sales-orders/{order.id}/").content.decode()
    assert "withheld-notice" not in html


def test_only_a_withheld_name_points_at_every_role_that_brings_it(admin_client: Client) -> None:
    order = SalesOrderFactory.create(personal_data_withheld="name")
    html = admin_client.get(f"/sales-orders/{order.id}/").content.decode()
    assert (
        "Amazon withheld the buyer&#x27;s name</strong>: this app lacks Amazon's "
        "Direct-to-Consumer Delivery (Restricted), Tax Invoicing (Restricted) or "
        "Tax Remittance (Restricted) role." in html
    )
    assert "Request the role in Solution Provider Portal" in html
    assert "Ship it from Seller Central" not in html  # the address is there: it ships from here


def test_show_details_names_the_missing_role_when_recent_orders_came_without_data(
    staff_client: Client,
) -> None:
    recent = timezone.now() - timedelta(days=1)
    order = SalesOrderFactory.create(
        personal_data_withheld="address,email,name", purchased_at=recent
    )
    SalesOrderFactory.create(
        channel=order.channel, personal_data_withheld="address,email,name", purchased_at=recent
    )
    SalesOrderFactory.create(channel=order.channel, purchased_at=recent)
    SalesOrderFactory.create(
        channel=order.channel,
        personal_data_withheld="address,email,name",
        purchased_at=timezone.now() - timedelta(days=40),  # long ago: not recent
    )

    html = staff_client.get(
        f"/settings/integrations/marketplaces/{order.channel_id}/"
    ).content.decode()

    assert (
        "Amazon withheld the delivery address, the buyer&#x27;s e-mail and the buyer&#x27;s "
        "name from 2 orders purchased since" in html
    )
    assert f"this app lacks Amazon's {ROLE} role" in html


def test_show_details_says_nothing_when_amazon_withholds_nothing(staff_client: Client) -> None:
    order = SalesOrderFactory.create(purchased_at=timezone.now())
    channel: SalesChannel = order.channel
    html = staff_client.get(f"/settings/integrations/marketplaces/{channel.id}/").content.decode()
    assert "withheld-notice" not in html
