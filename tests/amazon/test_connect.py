"""Connecting a seller account: prerequisites, OAuth state, encrypted token, the shell command."""

from __future__ import annotations

import io
from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from django.contrib.sessions.backends.db import SessionStore
from django.core.exceptions import ValidationError
from django.core.management import CommandError, call_command
from django.db import connection as db
from django.test import RequestFactory

from accounts.models import User
from marketplaces import connect
from marketplaces.models import SalesChannel
from spapi_simulator import Simulator
from synchistory.models import SyncRun
from tests.helpers.amazon import connect_from_the_shell
from warehouses.models import Organization

pytestmark = pytest.mark.django_db


@pytest.fixture
def amazon_settings(settings: Any, live_sim: Simulator) -> Any:
    settings.AMAZON_SPAPI_ENDPOINT = live_sim.base_url
    settings.AMAZON_LWA_ENDPOINT = live_sim.base_url
    settings.AMAZON_SELLER_CENTRAL_URL = live_sim.base_url
    settings.AMAZON_APPLICATION_ID = "amzn1.sp.solution.simulator"
    return settings


def request_for(user: User) -> Any:
    request = RequestFactory().get("/")
    request.user = user
    request.session = SessionStore()
    return request


def authorize_on_simulator(url: str) -> dict[str, str]:
    """What the seller does on Seller Central: open the consent page and press Authorize."""
    query = {k: v[0] for k, v in parse_qs(urlsplit(url).query).items()}
    base = url.split("/apps/")[0]
    answer = httpx.post(f"{base}/apps/authorize/consent", data=query, timeout=10)
    assert answer.status_code == 302
    return {k: v[0] for k, v in parse_qs(urlsplit(answer.headers["Location"]).query).items()}


def test_it_refuses_to_connect_without_cad_and_taxes(warehouse: Any, admin_user: User) -> None:
    Organization.objects.filter(id=1).update(base_currency="USD", taxes_enabled=False)
    with pytest.raises(ValidationError) as refused:
        connect.check_prerequisites(Organization.load())
    text = " ".join(refused.value.messages)
    assert "base currency is USD" in text
    assert "Taxes are not enabled" in text


def test_the_oauth_round_trip_connects_and_starts_the_initial_sync(
    amazon_settings: Any, warehouse: Any, admin_user: User
) -> None:
    request = request_for(admin_user)
    url = connect.consent_url(request, "http://testserver/integrations/amazon/callback/")
    assert "application_id=amzn1.sp.solution.simulator" in url
    callback = authorize_on_simulator(url)

    channel = connect.complete_oauth(
        request,
        state=callback["state"],
        code=callback["spapi_oauth_code"],
        selling_partner_id=callback["selling_partner_id"],
    )

    assert channel.seller_id == "A3SIMULATORCA"
    assert channel.status == SalesChannel.Status.ACTIVE
    assert channel.refresh_token.startswith("Atzr|")
    kinds = set(SyncRun.objects.filter(channel=channel).values_list("kind", "trigger"))
    assert kinds == {("items", "initial"), ("orders", "initial")}
    with db.cursor() as cursor:
        cursor.execute("SELECT refresh_token FROM marketplaces_saleschannel")
        (raw,) = cursor.fetchone()
    assert "Atzr|" not in raw


def test_a_state_is_single_use(amazon_settings: Any, warehouse: Any, admin_user: User) -> None:
    request = request_for(admin_user)
    callback = authorize_on_simulator(connect.consent_url(request, "http://testserver/cb/"))
    connect.complete_oauth(
        request,
        state=callback["state"],
        code=callback["spapi_oauth_code"],
        selling_partner_id="A3SIMULATORCA",
    )
    with pytest.raises(ValidationError, match="already used"):
        connect.complete_oauth(
            request,
            state=callback["state"],
            code=callback["spapi_oauth_code"],
            selling_partner_id="A3SIMULATORCA",
        )


def test_a_forged_state_is_refused(amazon_settings: Any, warehouse: Any, admin_user: User) -> None:
    request = request_for(admin_user)
    connect.consent_url(request, "http://testserver/cb/")
    with pytest.raises(ValidationError, match="bad state"):
        connect.complete_oauth(
            request, state="forged", code="x", selling_partner_id="A3SIMULATORCA"
        )
    assert not SalesChannel.objects.exists()


def test_a_state_from_another_session_is_refused(
    amazon_settings: Any, warehouse: Any, admin_user: User
) -> None:
    callback = authorize_on_simulator(
        connect.consent_url(request_for(admin_user), "http://testserver/cb/")
    )
    with pytest.raises(ValidationError, match="another session"):
        connect.complete_oauth(
            request_for(admin_user),
            state=callback["state"],
            code=callback["spapi_oauth_code"],
            selling_partner_id="A3SIMULATORCA",
        )


def test_a_rejected_code_is_reported(
    amazon_settings: Any, warehouse: Any, admin_user: User
) -> None:
    request = request_for(admin_user)
    callback = authorize_on_simulator(connect.consent_url(request, "http://testserver/cb/"))
    with pytest.raises(ValidationError, match="Amazon rejected the authorization"):
        connect.complete_oauth(
            request,
            state=callback["state"],
            code="not-a-code",
            selling_partner_id="A3SIMULATORCA",
        )
    assert not SalesChannel.objects.exists()


def test_a_pasted_token_is_checked_with_amazon(amazon_settings: Any, warehouse: Any) -> None:
    with pytest.raises(ValidationError, match="does not accept this refresh token"):
        connect.connect_channel(
            name="Amazon.ca", seller_id="A3SIMULATORCA", refresh_token="Atzr|wrong"
        )
    channel = connect.connect_channel(
        name="Amazon.ca", seller_id="A3SIMULATORCA", refresh_token="Atzr|simulator"
    )
    assert channel.status == SalesChannel.Status.ACTIVE


def test_the_command_reads_the_token_from_stdin(
    live_sim: Simulator, warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    output = connect_from_the_shell(live_sim.base_url, monkeypatch)
    assert "Connected Shop" in output
    channel = SalesChannel.objects.get()
    assert channel.spapi_endpoint == live_sim.base_url
    assert channel.refresh_token == "Atzr|simulator"


def test_the_command_refuses_without_a_token(
    warehouse: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("AMAZON_REFRESH_TOKEN", raising=False)
    monkeypatch.setattr("sys.stdin", io.StringIO(""))
    with pytest.raises(CommandError, match="No refresh token"):
        call_command("connect_amazon", "--name", "Shop", "--seller-id", "A3SIMULATORCA")
