"""From a SalesChannel to the Amazon client that serves it."""

from __future__ import annotations

from django.conf import settings

from marketplaces.amazon.client import AmazonClient, Connection
from marketplaces.models import SalesChannel


def connection_for(channel: SalesChannel) -> Connection:
    return Connection(
        seller_id=channel.seller_id,
        marketplace_id=channel.marketplace_id,
        refresh_token=channel.refresh_token,
        spapi_endpoint=channel.spapi_endpoint,
        lwa_endpoint=channel.lwa_endpoint,
        client_id=settings.AMAZON_LWA_CLIENT_ID,
        client_secret=settings.AMAZON_LWA_CLIENT_SECRET,
    )


def client_for(channel: SalesChannel, *, max_wait: float | None = None) -> AmazonClient:
    return AmazonClient(connection_for(channel), max_wait=max_wait)
