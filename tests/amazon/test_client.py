"""The Amazon client against the simulator: typed results and the product's exceptions."""

from __future__ import annotations

from datetime import timedelta

import httpx
import pytest
import time_machine
from django.utils import timezone

from marketplaces.amazon import ratelimit
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.errors import (
    AmazonAuthError,
    AmazonRejected,
    AmazonThrottled,
    AmazonTransientError,
)
from marketplaces.models import ApiQuota
from spapi_simulator import Simulator
from tests.helpers.amazon import SIM_START, connection_to
from tests.helpers.fake_clock import FakeClock


def control(sim: Simulator, path: str, body: dict | None = None) -> dict:
    answer = httpx.post(f"{sim.base_url}{path}", json=body or {}, timeout=10)
    answer.raise_for_status()
    return answer.json() if answer.content else {}


def test_it_pages_through_search_orders_with_typed_orders(amazon: AmazonClient) -> None:
    page = amazon.search_orders(last_updated_after=SIM_START - timedelta(days=30), page_size=10)
    assert len(page.orders) == 10
    assert page.next_token
    order = page.orders[0]
    assert order.order_id
    assert order.items and all(item.seller_sku for item in order.items)
    assert order.buyer_name == ""  # personal data only when asked for
    second = amazon.search_orders(next_token=page.next_token)
    assert {o.order_id for o in second.orders}.isdisjoint({o.order_id for o in page.orders})


def test_it_asks_for_personal_data_only_when_told(amazon: AmazonClient) -> None:
    page = amazon.search_orders(
        last_updated_after=SIM_START - timedelta(days=30),
        statuses=["UNSHIPPED"],
        fulfilled_by=["MERCHANT"],
        personal_data=True,
        page_size=5,
    )
    assert page.orders
    assert all(o.status == "UNSHIPPED" and o.is_merchant_fulfilled for o in page.orders)
    assert all(o.buyer_name and o.delivery_address for o in page.orders)


def test_it_counts_calls_in_the_shared_quota(amazon: AmazonClient) -> None:
    amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1), page_size=1)
    quota = ApiQuota.objects.get(seller_id="A3SIMULATORCA", operation="searchOrders")
    assert quota.calls == 1
    assert ratelimit.tokens_left(quota, timezone.now()) == pytest.approx(19, abs=0.01)


def test_it_defers_instead_of_exceeding_the_usage_plan(amazon: AmazonClient) -> None:
    ApiQuota.objects.create(
        seller_id="A3SIMULATORCA",
        operation="searchOrders",
        tokens=0.0,
        refilled_at=timezone.now(),
    )
    with pytest.raises(AmazonThrottled) as raised:
        amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1))
    assert raised.value.retry_after == pytest.approx(1 / 0.0056, rel=0.01)


def test_it_waits_for_a_token_when_the_caller_accepts_the_wait(
    amazon: AmazonClient, fake_clock: FakeClock
) -> None:
    now = timezone.now()
    ApiQuota.objects.create(
        seller_id="A3SIMULATORCA", operation="getOrder", tokens=0.0, refilled_at=now
    )
    with time_machine.travel(now, tick=False):
        ratelimit.acquire("A3SIMULATORCA", "getOrder", max_wait=30)
    refill = 1 / ratelimit.USAGE_PLANS["getOrder"].rate
    assert fake_clock.slept == [pytest.approx(refill + ratelimit.CALL_SPREAD.total_seconds())]
    assert ApiQuota.objects.get(operation="getOrder").calls == 1


def test_it_turns_an_amazon_429_into_throttled(sim: Simulator, amazon: AmazonClient) -> None:
    control(sim, "/_sim/faults", {"operation": "searchOrders", "kind": "throttle", "count": 1})
    with pytest.raises(AmazonThrottled):
        amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1))
    assert ApiQuota.objects.get(operation="searchOrders").throttled == 1


@pytest.mark.parametrize("kind", ["server_error", "malformed", "empty_body"])
def test_it_treats_broken_answers_as_transient(
    sim: Simulator, amazon: AmazonClient, kind: str
) -> None:
    control(sim, "/_sim/faults", {"operation": "searchOrders", "kind": kind, "count": 1})
    with pytest.raises(AmazonTransientError):
        amazon.search_orders(last_updated_after=SIM_START - timedelta(days=1))


def test_it_reports_a_revoked_refresh_token_as_an_auth_error(sim: Simulator, db: None) -> None:
    control(sim, "/_sim/auth/revoke")
    client = AmazonClient(connection_to(sim), max_wait=0)
    with pytest.raises(AmazonAuthError):
        client.search_orders(last_updated_after=SIM_START - timedelta(days=1))


def test_it_carries_amazons_reason_for_a_rejected_shipment(
    sim: Simulator, amazon: AmazonClient
) -> None:
    order = amazon.search_orders(
        last_updated_after=SIM_START - timedelta(days=30),
        statuses=["UNSHIPPED"],
        fulfilled_by=["MERCHANT"],
        page_size=1,
    ).orders[0]
    with pytest.raises(AmazonRejected) as raised:
        amazon.confirm_shipment(
            order.order_id,
            {
                "packageReferenceId": "1",
                "carrierCode": "Canada Post",
                "trackingNumber": "TRACK1",
                "shipDate": "2026-03-02T12:00:00Z",
                "orderItems": [{"orderItemId": "no-such-item", "quantity": 1}],
            },
        )
    assert raised.value.status == 400
    assert raised.value.reason


def test_an_order_amazon_holds_wrongly_is_rejected_not_retried(
    sim: Simulator, amazon: AmazonClient
) -> None:
    """A readable getOrder answer whose order breaks the model (a negative quantity) would be
    the same on every retry: it is that order's failure, so a page never waits on it."""
    order_id = control(sim, "/_sim/orders", {"count": 1})["orders"][0]["orderId"]
    sim.state.orders.by_id[order_id].lines[0].quantity = -1

    with pytest.raises(AmazonRejected) as rejected:
        amazon.get_order(order_id)

    assert "bad quantityOrdered" in rejected.value.reason
