"""Helpers to point python-amazon-sp-api at a simulator (tests, demos, the product's client).

Only the two constructor arguments SPAPI_NOTES.md describes: ``marketplace=`` and
``auth_token_client_class=``. No monkeypatching.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any
from urllib.parse import urlsplit

from .state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET, DEFAULT_REFRESH_TOKEN

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
