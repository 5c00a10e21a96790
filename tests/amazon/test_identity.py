"""The account is who it says it is: Amazon confirms the authorization before a channel is
saved, and one seller on one marketplace is one channel."""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.test import RequestFactory

from accounts.models import User
from marketplaces import connect
from marketplaces.models import SalesChannel
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_post

pytestmark = pytest.mark.django_db

SELLER = "A3SIMULATORCA"
TOKEN = "Atzr|simulator"


def request_for(user: User) -> Any:
    request = RequestFactory().get("/")
    request.user = user
    request.session = SessionStore()
    return request


def oauth_callback(url: str) -> dict[str, str]:
    """The seller presses Authorize on the simulator's Seller Central consent page."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    answer = httpx.post(url.split("?")[0], data=query, timeout=10)
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def test_a_mistyped_seller_id_is_refused_and_saves_nothing(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    with pytest.raises(ValidationError, match="refuses seller id A3SIMULATORCB") as refused:
        connect.connect_channel(name="Amazon.ca", seller_id="A3SIMULATORCB", refresh_token=TOKEN)
    assert "Merchant Token" in " ".join(refused.value.messages)
    assert not SalesChannel.objects.exists()


def test_a_forged_selling_partner_id_on_the_callback_is_refused(
    amazon_settings: Simulator, warehouse: Any, admin_user: User
) -> None:
    request = request_for(admin_user)
    callback = oauth_callback(connect.consent_url(request, "http://testserver/cb/"))
    assert callback["selling_partner_id"] == SELLER

    with pytest.raises(ValidationError, match="refuses seller id A1FORGEDSELLER"):
        connect.complete_oauth(
            request,
            state=callback["state"],
            code=callback["spapi_oauth_code"],
            selling_partner_id="A1FORGEDSELLER",
        )
    assert not SalesChannel.objects.exists()


def test_an_authorization_that_does_not_cover_amazon_ca_is_refused(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    sim_post(
        amazon_settings,
        "/_sim/participations",
        {"marketplaceId": "A2EUQ1WTGCTBG2", "isParticipating": None},
    )
    with pytest.raises(ValidationError, match="does not cover Amazon.ca") as refused:
        connect.connect_channel(name="Amazon.ca", seller_id=SELLER, refresh_token=TOKEN)
    assert "ATVPDKIKX0DER" in " ".join(refused.value.messages)
    assert not SalesChannel.objects.exists()


def test_a_seller_who_does_not_sell_on_amazon_ca_is_refused(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    sim_post(
        amazon_settings,
        "/_sim/participations",
        {"marketplaceId": "A2EUQ1WTGCTBG2", "isParticipating": False},
    )
    with pytest.raises(ValidationError, match="does not sell on Amazon.ca"):
        connect.connect_channel(name="Amazon.ca", seller_id=SELLER, refresh_token=TOKEN)
    assert not SalesChannel.objects.exists()


def test_connecting_asks_amazon_for_the_marketplace_participations(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    connect.connect_channel(name="Amazon.ca", seller_id=SELLER, refresh_token=TOKEN)
    counters = httpx.get(f"{amazon_settings.base_url}/_sim/counters").json()["operations"]
    assert counters["getMarketplaceParticipations"]["calls"] == 1


def test_the_same_seller_typed_otherwise_is_not_a_second_channel(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    first = connect.connect_channel(name="Amazon.ca", seller_id=SELLER, refresh_token=TOKEN)

    with pytest.raises(connect.ChannelAlreadyConnected, match="already connected") as refused:
        connect.connect_channel(name="Shop 2", seller_id=" a3simulatorca ", refresh_token=TOKEN)

    assert refused.value.channel == first
    assert list(SalesChannel.objects.values_list("seller_id", flat=True)) == [SELLER]


def test_the_database_holds_one_channel_per_seller_and_marketplace(warehouse: Any) -> None:
    SalesChannel.objects.create(name="One", seller_id=SELLER)
    with pytest.raises(IntegrityError), transaction.atomic():
        SalesChannel.objects.create(name="Two", seller_id=SELLER.lower())
    assert SalesChannel.objects.count() == 1


def test_a_seller_id_that_is_not_one_is_refused_before_asking_amazon(
    amazon_settings: Simulator, warehouse: Any
) -> None:
    with pytest.raises(ValidationError, match="is not a seller id"):
        connect.connect_channel(name="Amazon.ca", seller_id="A3 SIM/../CA", refresh_token=TOKEN)
    assert not SalesChannel.objects.exists()


def test_reauthorizing_keeps_the_channel_and_takes_only_the_same_seller(
    amazon_settings: Simulator, warehouse: Any, admin_user: User
) -> None:
    channel = connect.connect_channel(name="Amazon.ca", seller_id=SELLER, refresh_token=TOKEN)
    SalesChannel.objects.filter(id=channel.id).update(
        status=SalesChannel.Status.NEEDS_REAUTHORIZATION
    )

    with pytest.raises(ValidationError, match="but Amazon.ca is seller A3SIMULATORCA"):
        connect.connect_channel(
            name="Amazon.ca", seller_id="A1OTHERSELLER", refresh_token=TOKEN, reauthorize=channel
        )
    request = request_for(admin_user)
    callback = oauth_callback(
        connect.consent_url(request, "http://testserver/cb/", reauthorize=channel)
    )
    again = connect.complete_oauth(
        request,
        state=callback["state"],
        code=callback["spapi_oauth_code"],
        selling_partner_id=callback["selling_partner_id"],
    )

    assert again.id == channel.id
    assert again.status == SalesChannel.Status.ACTIVE
    assert again.refresh_token != TOKEN  # the new authorization's token
    assert SalesChannel.objects.count() == 1
