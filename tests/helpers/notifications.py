"""Subscribing the simulator's seller to notifications directly through its Notifications API,
as the tests of the simulator and of the consumer do (the product's own way is
``marketplaces.notifications.enable``)."""

from __future__ import annotations

from typing import Any

import httpx

from spapi_simulator import Simulator
from spapi_simulator.state import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from spapi_simulator.testing import authorized_client

DESTINATIONS = "/notifications/v1/destinations"
ORDER_CHANGE = "/notifications/v1/subscriptions/ORDER_CHANGE"


def lwa(sim: Simulator, **form: str) -> httpx.Response:
    credentials = {"client_id": DEFAULT_CLIENT_ID, "client_secret": DEFAULT_CLIENT_SECRET}
    return httpx.post(f"{sim.base_url}/auth/o2/token", data={**credentials, **form})


def grantless_client(
    sim: Simulator, scope: str = "sellingpartnerapi::notifications"
) -> httpx.Client:
    token = lwa(sim, grant_type="client_credentials", scope=scope).json()["access_token"]
    return httpx.Client(base_url=sim.base_url, headers={"x-amz-access-token": token}, timeout=10)


def subscribe(sim: Simulator, arn: str, path: str = ORDER_CHANGE, **extra: Any) -> str:
    """A destination for the queue ``arn`` and the seller's subscription to it; its id."""
    with grantless_client(sim) as app:
        destination = app.post(
            DESTINATIONS, json={"name": "orders", "resourceSpecification": {"sqs": {"arn": arn}}}
        )
        assert destination.status_code == 200, destination.text
    with authorized_client(sim) as seller:
        created = seller.post(
            path,
            json={
                "payloadVersion": "1.0",
                "destinationId": destination.json()["payload"]["destinationId"],
                **extra,
            },
        )
        assert created.status_code == 200, created.text
    return str(created.json()["payload"]["subscriptionId"])
