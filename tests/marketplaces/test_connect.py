"""Connecting Amazon.ca: the OAuth round trip against the simulator, and the pasted token."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.test import Client

from marketplaces.models import SalesChannel
from spapi_simulator import DEFAULT_REFRESH_TOKEN, DEFAULT_SELLER_ID, Simulator
from synchistory.models import SyncRun
from warehouses.models import Organization

pytestmark = pytest.mark.django_db


def consent_redirect(admin_client: Client) -> str:
    """Authorize with Amazon, then press the simulator's Authorize; returns the callback URL."""
    response = admin_client.post("/settings/integrations/amazon/authorize/")
    assert response.status_code == 302
    consent = response["Location"]
    query = parse_qs(urlsplit(consent).query)
    assert query["redirect_uri"] == ["http://testserver/integrations/amazon/callback/"]
    answer = httpx.post(
        consent.split("?")[0],
        data={key: values[0] for key, values in query.items()},
        follow_redirects=False,
        timeout=10,
    )
    assert answer.status_code == 302
    return answer.headers["location"]


def test_it_connects_through_the_oauth_round_trip(
    admin_client: Client, amazon_settings: Simulator, ready_organization: Organization
) -> None:
    callback = consent_redirect(admin_client)
    response = admin_client.get(callback.replace("http://testserver", ""), follow=True)
    channel = SalesChannel.objects.get()
    assert channel.seller_id == DEFAULT_SELLER_ID
    # Then the seller's other marketplaces, to add from the same authorization.
    assert (
        response.redirect_chain[-1][0]
        == f"/settings/integrations/marketplaces/{channel.id}/marketplaces/"
    )
    assert "is connected" in response.content.decode()
    assert "Add Amazon.com" in response.content.decode()
    assert set(SyncRun.objects.values_list("kind", "trigger")) == {
        ("items", "initial"),
        ("orders", "initial"),
    }


def test_it_refuses_a_replayed_callback(
    admin_client: Client, amazon_settings: Simulator, ready_organization: Organization
) -> None:
    callback = consent_redirect(admin_client).replace("http://testserver", "")
    admin_client.get(callback)
    runs = SyncRun.objects.count()
    response = admin_client.get(callback)
    assert response.status_code == 400
    assert "already used" in response.content.decode()
    assert SyncRun.objects.count() == runs


def test_it_refuses_a_forged_state(admin_client: Client, ready_organization: Organization) -> None:
    response = admin_client.get(
        "/integrations/amazon/callback/",
        {"state": "forged", "spapi_oauth_code": "x", "selling_partner_id": "A3X"},
    )
    assert response.status_code == 400
    assert "bad state" in response.content.decode()
    assert not SalesChannel.objects.exists()
    assert not SyncRun.objects.exists()


def test_it_shows_the_prerequisite_problems(admin_client: Client) -> None:
    organization = Organization.load()
    organization.base_currency = "USD"
    organization.taxes_enabled = False
    organization.save()
    html = admin_client.get("/settings/integrations/amazon/connect/").content.decode()
    assert "The base currency is USD" in html
    assert "Taxes are not enabled" in html
    assert 'href="/settings/organization/"' in html
    response = admin_client.post("/settings/integrations/amazon/authorize/")
    assert response.status_code == 400
    assert "The base currency is USD" in response.content.decode()


def test_it_connects_with_a_pasted_refresh_token(
    admin_client: Client, amazon_settings: Simulator, ready_organization: Organization
) -> None:
    response = admin_client.post(
        "/settings/integrations/amazon/connect/",
        {
            "name": "My shop",
            "seller_id": DEFAULT_SELLER_ID,
            "refresh_token": DEFAULT_REFRESH_TOKEN,
            "lookback_days": "30",
        },
    )
    channel = SalesChannel.objects.get()
    assert response["Location"] == f"/settings/integrations/marketplaces/{channel.id}/marketplaces/"
    assert channel.name == "My shop"
    orders_run = SyncRun.objects.get(kind="orders")
    assert orders_run.window_start is not None
    assert 29 <= (orders_run.created_at - orders_run.window_start).days <= 30


def test_it_refuses_a_token_amazon_rejects(
    admin_client: Client, amazon_settings: Simulator, ready_organization: Organization
) -> None:
    response = admin_client.post(
        "/settings/integrations/amazon/connect/",
        {
            "name": "My shop",
            "seller_id": DEFAULT_SELLER_ID,
            "refresh_token": "Atzr|not-a-real-token",
            "lookback_days": "7",
        },
    )
    assert response.status_code == 400
    html = response.content.decode()
    assert 'class="errors"' in html
    assert "Atzr|not-a-real-token" not in html  # never shown back
    assert not SalesChannel.objects.exists()


def test_it_validates_the_look_back(admin_client: Client, ready_organization: Organization) -> None:
    response = admin_client.post(
        "/settings/integrations/amazon/connect/",
        {"name": "x", "seller_id": "A3X", "refresh_token": "Atzr|x", "lookback_days": "731"},
    )
    assert response.status_code == 400
    assert "less than or equal to 730" in response.content.decode()
    assert not SalesChannel.objects.exists()


def paste_token(admin_client: Client, path: str, seller_id: str) -> Any:
    return admin_client.post(
        path,
        {
            "name": "My shop",
            "seller_id": seller_id,
            "refresh_token": DEFAULT_REFRESH_TOKEN,
            "lookback_days": "7",
        },
    )


def test_connecting_a_connected_seller_again_offers_to_reauthorize_it(
    admin_client: Client, amazon_settings: Simulator, ready_organization: Organization
) -> None:
    paste_token(admin_client, "/settings/integrations/amazon/connect/", DEFAULT_SELLER_ID)
    channel = SalesChannel.objects.get()

    response = paste_token(admin_client, "/settings/integrations/amazon/connect/", "a3simulatorca")

    assert response.status_code == 400
    html = response.content.decode()
    assert "already connected" in html
    assert f'href="/settings/integrations/amazon/{channel.id}/reauthorize/"' in html
    assert SalesChannel.objects.count() == 1


def test_the_reauthorize_page_gives_the_channel_a_new_token(
    admin_client: Client, amazon_settings: Simulator, ready_organization: Organization
) -> None:
    paste_token(admin_client, "/settings/integrations/amazon/connect/", DEFAULT_SELLER_ID)
    channel = SalesChannel.objects.get()
    SalesChannel.objects.filter(id=channel.id).update(
        status=SalesChannel.Status.NEEDS_REAUTHORIZATION, status_reason="invalid_grant"
    )
    path = f"/settings/integrations/amazon/{channel.id}/reauthorize/"
    page = admin_client.get(f"/settings/integrations/marketplaces/{channel.id}/").content.decode()
    assert f'href="{path}"' in page
    html = admin_client.get(path).content.decode()
    assert f"Re-authorize {channel.name}" in html
    assert f'name="channel" value="{channel.id}"' in html  # the OAuth way, for this channel

    response = paste_token(admin_client, path, DEFAULT_SELLER_ID)

    assert response["Location"] == f"/settings/integrations/marketplaces/{channel.id}/"
    channel.refresh_from_db()
    assert channel.status == SalesChannel.Status.ACTIVE
    assert SalesChannel.objects.count() == 1


@pytest.mark.parametrize(
    ("method", "path"),
    [
        ("get", "/settings/integrations/amazon/connect/"),
        ("post", "/settings/integrations/amazon/connect/"),
        ("post", "/settings/integrations/amazon/authorize/"),
        ("get", "/integrations/amazon/callback/"),
        ("get", "/settings/integrations/amazon/1/reauthorize/"),
        ("post", "/settings/integrations/amazon/1/reauthorize/"),
    ],
)
def test_it_forbids_staff_to_connect(staff_client: Client, method: str, path: str) -> None:
    assert getattr(staff_client, method)(path).status_code == 403
