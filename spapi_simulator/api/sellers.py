"""Sellers API v1: ``getMarketplaceParticipations``.

Answers for the seller the access token was issued to: the marketplaces its authorization
covers (the North America region) and whether it sells in each. Amazon's answer carries no
seller id; neither does this one.
"""

from __future__ import annotations

from typing import Any

from werkzeug.wrappers import Request

from ..state import AccessToken, SimState
from .common import Operation, Result

# The marketplaces of the North America region, as the Sellers API describes them.
NORTH_AMERICA = {
    "A2EUQ1WTGCTBG2": ("Amazon.ca", "CA", "CAD", "en_CA", "www.amazon.ca"),
    "ATVPDKIKX0DER": ("Amazon.com", "US", "USD", "en_US", "www.amazon.com"),
    "A1AM78C64UM0Y8": ("Amazon.com.mx", "MX", "MXN", "es_MX", "www.amazon.com.mx"),
    "A2Q3Y263D00KWC": ("Amazon.com.br", "BR", "BRL", "pt_BR", "www.amazon.com.br"),
}


def participation_json(seller_id: str, marketplace_id: str, participating: bool) -> dict[str, Any]:
    name, country, currency, language, domain = NORTH_AMERICA[marketplace_id]
    return {
        "marketplace": {
            "id": marketplace_id,
            "name": name,
            "countryCode": country,
            "defaultCurrencyCode": currency,
            "defaultLanguageCode": language,
            "domainName": domain,
        },
        "participation": {"isParticipating": participating, "hasSuspendedListings": False},
        "storeName": f"Simulator store {seller_id}",
    }


def get_marketplace_participations(
    state: SimState, request: Request, access: AccessToken
) -> Result:
    payload = [
        participation_json(access.seller_id, marketplace_id, participating)
        for marketplace_id, participating in state.participations.items()
    ]
    return 200, {"payload": payload}


OPERATIONS = [
    Operation(
        "/sellers/v1/marketplaceParticipations",
        "GET",
        "getMarketplaceParticipations",
        get_marketplace_participations,
    ),
]
