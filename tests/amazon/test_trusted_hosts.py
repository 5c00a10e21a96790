"""Credentials go to Amazon only: outside development, a channel's endpoints must be Amazon's
own hosts over https, at save and again just before the client sends anything."""

from __future__ import annotations

import io
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.test import Client

from marketplaces import connect
from marketplaces.amazon.client import AmazonClient, verify_refresh_token
from marketplaces.amazon.connection import connection_for
from marketplaces.amazon.errors import AmazonUnsafe
from marketplaces.models import SalesChannel
from marketplaces.runs import attempt
from spapi_simulator import Simulator
from synchistory import services as history
from synchistory.models import SyncRun

pytestmark = pytest.mark.django_db


@pytest.fixture
def production(settings: Any) -> Any:
    settings.AMAZON_ALLOW_SIMULATOR_HOSTS = False
    return settings


@pytest.mark.parametrize(
    "endpoint",
    [
        "https://sellingpartnerapi-na.amazon.com",
        "https://sellingpartnerapi-eu.amazon.com/",
        "https://SellingPartnerAPI-FE.amazon.com",
    ],
)
def test_amazons_hosts_are_accepted(production: Any, endpoint: str) -> None:
    SalesChannel(
        name="x", seller_id="A3X", spapi_endpoint=endpoint, lwa_endpoint="https://api.amazon.com"
    ).clean()


@pytest.mark.parametrize(
    ("field", "endpoint"),
    [
        ("spapi_endpoint", "https://attacker.example"),
        ("spapi_endpoint", "http://sellingpartnerapi-na.amazon.com"),
        ("spapi_endpoint", "https://sellingpartnerapi-na.amazon.com.attacker.example"),
        ("spapi_endpoint", "https://user@sellingpartnerapi-na.amazon.com"),
        ("spapi_endpoint", "https://sellingpartnerapi-na.amazon.com:8443"),
        ("lwa_endpoint", "https://api.amazon.com.attacker.example"),
        ("lwa_endpoint", "http://api.amazon.com"),
        ("lwa_endpoint", "http://127.0.0.1:8765"),
    ],
)
def test_any_other_endpoint_is_refused_at_save(production: Any, field: str, endpoint: str) -> None:
    channel = SalesChannel(name="x", seller_id="A3X")
    setattr(channel, field, endpoint)
    with pytest.raises(ValidationError) as refused:
        channel.full_clean()
    assert field in refused.value.message_dict


def test_the_client_sends_nothing_to_a_host_that_is_not_amazons(
    production: Any, live_sim: Simulator, channel: SalesChannel
) -> None:
    """A row changed behind the product's back (the database, a shell): no token leaves."""
    client = AmazonClient(connection_for(channel))
    with pytest.raises(AmazonUnsafe, match="SP-API endpoint must be one of Amazon's hosts"):
        client.search_listings()
    with pytest.raises(AmazonUnsafe, match="Login with Amazon endpoint must be one of"):
        verify_refresh_token(connection_for(channel))
    assert live_sim.state.access_tokens == {}  # Login with Amazon never saw the token
    assert live_sim.state.counters == {}


def test_a_sync_of_such_a_channel_fails_with_the_reason(
    production: Any, live_sim: Simulator, channel: SalesChannel
) -> None:
    run = history.start_run(channel.id, SyncRun.Kind.ITEMS, SyncRun.Trigger.MANUAL)
    assert history.claim_run(run.id)
    run.refresh_from_db()

    assert attempt(run) is None  # finished, never retried

    run.refresh_from_db()
    assert run.status == SyncRun.Status.FAILED
    assert run.error.startswith("Refused: ")
    assert "Amazon's hosts" in run.error
    assert live_sim.state.access_tokens == {}


def test_connecting_to_another_host_is_refused_before_the_token_is_sent(
    production: Any, live_sim: Simulator, warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(ValidationError, match="Amazon's hosts"):
        connect.connect_channel(
            name="Amazon.ca",
            seller_id="A3SIMULATORCA",
            refresh_token="Atzr|simulator",
            spapi_endpoint=live_sim.base_url,
            lwa_endpoint=live_sim.base_url,
        )
    monkeypatch.setattr("sys.stdin", io.StringIO("Atzr|simulator\n"))
    with pytest.raises(CommandError, match="Amazon's hosts"):
        call_command(
            "connect_amazon",
            "--name",
            "Shop",
            "--seller-id",
            "A3SIMULATORCA",
            "--endpoint",
            live_sim.base_url,
            stdout=io.StringIO(),
        )
    assert live_sim.state.access_tokens == {}
    assert not SalesChannel.objects.exists()


def test_the_demo_refuses_to_point_a_channel_at_the_simulator_in_production(
    production: Any,
) -> None:
    with pytest.raises(CommandError, match="AMAZON_ALLOW_SIMULATOR_HOSTS"):
        call_command("setup_demo", stdout=io.StringIO())
    assert not SalesChannel.objects.exists()


def test_the_admin_cannot_change_a_channels_endpoints_or_credentials(
    production: Any, admin_user: Any, channel: SalesChannel
) -> None:
    admin_user.is_staff = admin_user.is_superuser = True
    admin_user.save()
    browser = Client()
    browser.force_login(admin_user)
    path = f"/admin/marketplaces/saleschannel/{channel.id}/change/"
    page = browser.get(path)
    assert page.status_code == 200, page
    form = page.context["adminform"].form
    assert "spapi_endpoint" not in form.fields
    assert "lwa_endpoint" not in form.fields
    assert "refresh_token" not in form.fields
    assert "seller_id" not in form.fields

    browser.post(path, {"name": "Renamed", "spapi_endpoint": "https://attacker.example"})

    before = channel.spapi_endpoint
    channel.refresh_from_db()
    assert channel.spapi_endpoint == before
