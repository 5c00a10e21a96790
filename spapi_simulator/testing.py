"""Helpers for the simulator's clients: tests, benchmarks, demos, the product's client.

- Pointing python-amazon-sp-api at a simulator: only the two constructor arguments
  meant for it, ``marketplace=`` and ``auth_token_client_class=``. No monkeypatching.
- A raw HTTP client carrying an access token (:func:`authorized_client`), and the control API
  over HTTP (:func:`sim_get`, :func:`sim_post`), shared by the tests and the benchmarks.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from .state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN

if TYPE_CHECKING:
    import httpx

    from .server import Simulator

MARKETPLACE_ID = "A2EUQ1WTGCTBG2"


@dataclass(frozen=True)
class SimulatorMarketplace:
    """Duck-types ``sp_api.base.Marketplaces`` members: endpoint, marketplace_id, region."""

    endpoint: str
    marketplace_id: str = MARKETPLACE_ID
    region: str = "us-east-1"


def token_client_class(base_url: str) -> type[Any]:
    """A ``sp_api.auth.AccessTokenClient`` subclass whose token endpoint is the simulator's."""
    from sp_api.auth import AccessTokenClient

    parts = urlsplit(base_url)
    return type(
        "SimulatorAccessTokenClient",
        (AccessTokenClient,),
        {"scheme": f"{parts.scheme}://", "host": parts.netloc, "path": "/auth/o2/token"},
    )


def sp_api_kwargs(
    base_url: str,
    *,
    refresh_token: str = DEFAULT_REFRESH_TOKEN,
    client_id: str = DEFAULT_CLIENT_ID,
    client_secret: str = DEFAULT_CLIENT_SECRET,
    timeout: float | None = None,
) -> dict[str, Any]:
    """Constructor kwargs for any sp_api client, e.g. ``Orders(version="2026-01-01", **kw)``."""
    kwargs: dict[str, Any] = {
        "marketplace": SimulatorMarketplace(endpoint=base_url.rstrip("/")),
        "refresh_token": refresh_token,
        "credentials": {
            "lwa_app_id": client_id,
            "lwa_client_secret": client_secret,
            "refresh_token": refresh_token,
        },
        "auth_token_client_class": token_client_class(base_url),
    }
    if timeout is not None:
        kwargs["timeout"] = timeout
    return kwargs


def clear_sp_api_token_cache() -> None:
    """sp_api caches access tokens per process for 3200 s; tests must start clean."""
    from sp_api.auth import access_token_client

    access_token_client.cache.clear()
    access_token_client.grantless_cache.clear()


def _base_url(simulator: Simulator | str) -> str:
    return simulator if isinstance(simulator, str) else simulator.base_url


def sim_get(simulator: Simulator | str, path: str, *, timeout: float = 10) -> Any:
    """``GET`` a control API path (``/_sim/...``) of a simulator (or its base URL) as JSON."""
    import httpx

    answer = httpx.get(f"{_base_url(simulator)}{path}", timeout=timeout)
    answer.raise_for_status()
    return answer.json()


def sim_post(
    simulator: Simulator | str,
    path: str,
    body: dict[str, Any] | None = None,
    *,
    timeout: float = 10,
) -> Any:
    """``POST`` JSON to a control API path; the answer's JSON, or ``{}`` for an empty body."""
    import httpx

    answer = httpx.post(f"{_base_url(simulator)}{path}", json=body or {}, timeout=timeout)
    answer.raise_for_status()
    return answer.json() if answer.content else {}


@contextmanager
def authorized_client(
    simulator: Simulator | str,
    *,
    refresh_token: str = DEFAULT_REFRESH_TOKEN,
    timeout: float = 10,
) -> Iterator[httpx.Client]:
    """A raw ``httpx.Client`` on the simulator carrying a valid access token for the seller."""
    import httpx

    with httpx.Client(base_url=_base_url(simulator), timeout=timeout) as client:
        token = client.post(
            "/auth/o2/token",
            data={
                "grant_type": "refresh_token",
                "refresh_token": refresh_token,
                "client_id": DEFAULT_CLIENT_ID,
                "client_secret": DEFAULT_CLIENT_SECRET,
            },
        ).json()["access_token"]
        client.headers["x-amz-access-token"] = token
        yield client
