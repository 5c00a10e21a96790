from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import httpx
import pytest
from sp_api.api import Orders
from sp_api.auth.exceptions import AuthorizationError
from sp_api.base.exceptions import SellingApiForbiddenException

from spapi_simulator import Simulator
from spapi_simulator.testing import clear_sp_api_token_cache, token_client_class

CLIENT = {
    "client_id": "amzn1.application-oa2-client.simulator",
    "client_secret": "simulator-secret",
}
UNAUTHORIZED = {
    "errors": [
        {
            "code": "Unauthorized",
            "message": "Access to requested resource is denied.",
            "details": "",
        }
    ]
}


def token(sim: Simulator, **form: str) -> httpx.Response:
    return httpx.post(f"{sim.base_url}/auth/o2/token", data={**CLIENT, **form})


def test_it_issues_access_tokens_for_the_default_refresh_token(simulator: Simulator) -> None:
    response = token(simulator, grant_type="refresh_token", refresh_token="Atzr|simulator")

    assert response.status_code == 200
    body = response.json()
    assert body["token_type"] == "bearer"
    assert body["expires_in"] == 3600
    assert body["refresh_token"] == "Atzr|simulator"
    assert body["access_token"].startswith("Atza|")


def test_it_answers_invalid_grant_for_unknown_refresh_tokens(simulator: Simulator) -> None:
    response = token(simulator, grant_type="refresh_token", refresh_token="Atzr|nope")

    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_it_answers_invalid_client_for_a_wrong_secret(simulator: Simulator) -> None:
    response = httpx.post(
        f"{simulator.base_url}/auth/o2/token",
        data={
            "grant_type": "refresh_token",
            "refresh_token": "Atzr|simulator",
            "client_id": CLIENT["client_id"],
            "client_secret": "x",
        },
    )

    assert response.status_code == 401
    assert response.json()["error"] == "invalid_client"


def test_it_refuses_calls_without_a_valid_access_token(simulator: Simulator) -> None:
    url = f"{simulator.base_url}/orders/2026-01-01/orders/702-0000000-0000000"
    missing = httpx.get(url)
    wrong = httpx.get(url, headers={"x-amz-access-token": "Atza|forged"})

    assert missing.status_code == 403
    assert missing.json() == UNAUTHORIZED
    assert wrong.status_code == 403
    assert wrong.json() == UNAUTHORIZED
    assert missing.headers["x-amzn-RequestId"]


def test_it_expires_access_tokens_after_3600_simulated_seconds(
    simulator: Simulator, http: httpx.Client
) -> None:
    url = (
        "/fba/inventory/v1/summaries?granularityType=Marketplace"
        "&granularityId=A2EUQ1WTGCTBG2&marketplaceIds=A2EUQ1WTGCTBG2"
    )
    assert http.get(url).status_code == 200

    simulator.clock.advance(3599)
    assert http.get(url).status_code == 200
    simulator.clock.advance(1)
    assert http.get(url).status_code == 403


def test_it_stops_honouring_a_revoked_refresh_token(
    simulator: Simulator, sp_kwargs: dict[str, Any]
) -> None:
    orders = Orders(version="2026-01-01", **sp_kwargs)
    assert orders.search_orders(createdAfter="2026-02-01T00:00:00Z").payload["orders"]

    assert httpx.post(f"{simulator.base_url}/_sim/auth/revoke", json={}).json() == {"revoked": 1}

    with pytest.raises(SellingApiForbiddenException):
        orders.search_orders(createdAfter="2026-02-01T00:00:00Z")
    clear_sp_api_token_cache()
    with pytest.raises(AuthorizationError) as raised:
        Orders(version="2026-01-01", **sp_kwargs).search_orders(createdAfter="2026-02-01T00:00:00Z")
    assert (raised.value.error_code, raised.value.status_code) == ("invalid_grant", 400)
    assert (
        token(simulator, grant_type="refresh_token", refresh_token="Atzr|simulator").json()["error"]
        == "invalid_grant"
    )


def test_it_revokes_through_the_fault_endpoint_too(simulator: Simulator) -> None:
    httpx.post(f"{simulator.base_url}/_sim/faults", json={"kind": "revoked_refresh_token"})

    assert (
        token(simulator, grant_type="refresh_token", refresh_token="Atzr|simulator").status_code
        == 400
    )


def authorize(sim: Simulator, **params: str) -> dict[str, list[str]]:
    page = httpx.get(f"{sim.base_url}/apps/authorize/consent", params=params)
    assert page.status_code == 200
    assert '<form method="post" action="/apps/authorize/consent">' in page.text
    assert ">Authorize</button>" in page.text
    form = {"application_id": params["application_id"], "state": params["state"]}
    if "redirect_uri" in params:
        form["redirect_uri"] = params["redirect_uri"]
    answer = httpx.post(f"{sim.base_url}/apps/authorize/consent", data=form)
    assert answer.status_code == 302
    location = urlsplit(answer.headers["Location"])
    return {
        "base": [f"{location.scheme}://{location.netloc}{location.path}"],
        **parse_qs(location.query),
    }


def test_it_runs_the_seller_central_consent_flow(simulator: Simulator) -> None:
    redirect = authorize(simulator, application_id="amzn1.sp.solution.simulator", state="s-42")

    assert redirect["base"] == ["http://127.0.0.1:8000/integrations/amazon/callback/"]
    assert redirect["state"] == ["s-42"]
    assert redirect["selling_partner_id"] == ["A3SIMULATORCA"]
    code = redirect["spapi_oauth_code"][0]

    client = token_client_class(simulator.base_url)(
        credentials=type(
            "C",
            (),
            {
                "lwa_app_id": CLIENT["client_id"],
                "lwa_client_secret": CLIENT["client_secret"],
                "refresh_token": None,
            },
        )()
    )
    tokens = client.authorize_auth_code(code)
    assert tokens["refresh_token"].startswith("Atzr|")
    assert (
        token(
            simulator, grant_type="refresh_token", refresh_token=tokens["refresh_token"]
        ).status_code
        == 200
    )
    # single use
    assert (
        token(simulator, grant_type="authorization_code", code=code).json()["error"]
        == "invalid_grant"
    )


def test_it_honours_the_redirect_uri_parameter_and_expires_codes_after_5_minutes(
    simulator: Simulator,
) -> None:
    redirect = authorize(
        simulator, application_id="app", state="xyz", redirect_uri="http://127.0.0.1:9000/cb/?a=1"
    )
    assert redirect["base"] == ["http://127.0.0.1:9000/cb/"]
    assert redirect["a"] == ["1"]

    simulator.clock.advance(301)
    response = token(
        simulator, grant_type="authorization_code", code=redirect["spapi_oauth_code"][0]
    )
    assert response.status_code == 400
    assert response.json()["error"] == "invalid_grant"


def test_it_rejects_a_consent_request_without_state(simulator: Simulator) -> None:
    response = httpx.get(
        f"{simulator.base_url}/apps/authorize/consent", params={"application_id": "app"}
    )

    assert response.status_code == 400
