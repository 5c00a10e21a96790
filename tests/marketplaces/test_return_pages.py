"""The order page's returns and refunds, receiving a return, the returns list, and the
Returns and refunds kind of Sync Manually."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces import returns
from marketplaces.models import SalesChannel, SalesOrder, SalesOrderLine, SalesReturn
from marketplaces.returns import RefundFacts, ReturnFacts, ReturnLineFacts
from spapi_simulator import DEFAULT_SELLER_ID, Simulator
from synchistory.models import SyncRun
from tests.factories import ItemFactory, SalesChannelFactory, SalesOrderFactory, SyncRunFactory
from warehouses.models import Stock, StockMovement, Warehouse

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)


def returned_order() -> tuple[SalesOrder, SalesReturn]:
    """A shipped merchant order of 2 units of MUG, both returned and delivered back, refunded,
    plus a concession."""
    order = SalesOrderFactory.create(amazon_status="SHIPPED", status="shipped", currency="CAD")
    SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="1",
        item=ItemFactory.create(sku="MUG"),
        seller_sku="MUG",
        quantity=2,
        quantity_shipped=2,
        unit_price=Decimal("20.00"),
    )
    facts = ReturnFacts(
        "D1RRMA",
        order.amazon_order_id,
        "merchant",
        (ReturnLineFacts("MUG", 2),),
        reason="CR-UNWANTED_ITEM",
        requested_at=WHEN,
        received_at=WHEN,
        carrier="Canada Post",
        tracking_id="RT55",
    )
    assert returns.record_return(order.channel, facts).outcome == "synced"
    for transaction_id, quantity, principal in (("T1", 2, "40.00"), ("T2", 0, "5.00")):
        refund = RefundFacts(
            transaction_id,
            order.amazon_order_id,
            WHEN + timedelta(hours=1),
            "CAD",
            seller_sku="MUG",
            quantity=quantity,
            principal=Decimal(principal),
            taxes={"HST": Decimal("1.30")},
        )
        assert returns.record_refund(order.channel, refund).outcome == "synced"
    return order, SalesReturn.objects.get(order=order)


def test_the_order_page_shows_its_returns_and_refunds(staff_client: Client) -> None:
    order, sales_return = returned_order()
    html = staff_client.get(f"/sales-orders/{order.id}/").content.decode()
    for text in ("D1RRMA", "CR-UNWANTED_ITEM", "RT55", "Receive return", "Concession"):
        assert text in html, text
    assert '<td class="num" id="refunded-total">47.60 CAD</td>' in html
    assert '1.30 <small class="help">HST</small>' in html


def test_receiving_a_return_from_the_order_page(staff_client: Client) -> None:
    order, sales_return = returned_order()
    line = sales_return.lines.get()
    response = staff_client.post(
        f"/sales-returns/{sales_return.id}/receive/",
        {"warehouse": order.warehouse_id, f"sellable_{line.id}": 1},
    )
    assert response["Location"] == f"/sales-orders/{order.id}/"
    assert Stock.objects.get(item=line.order_line.item, warehouse=order.warehouse).on_hand == 1
    assert StockMovement.objects.get(kind="return").reference.startswith("Return D1RRMA")
    html = staff_client.get(response["Location"]).content.decode()
    assert "1 sellable unit(s) back on hand" in html
    assert "Receive return" not in html


def test_receiving_refuses_an_amazon_warehouse_and_too_many_units(staff_client: Client) -> None:
    order, sales_return = returned_order()
    line = sales_return.lines.get()
    fba = Warehouse.objects.create(name="Amazon FBA (CA)", amazon_pool="CA")
    for warehouse, units in ((fba.id, 1), (order.warehouse_id, 3)):
        response = staff_client.post(
            f"/sales-returns/{sales_return.id}/receive/",
            {"warehouse": warehouse, f"sellable_{line.id}": units},
            follow=True,
        )
        assert "The return was not received" in response.content.decode()
    assert not StockMovement.objects.filter(kind="return").exists()


def test_the_returns_list_shows_those_to_receive(staff_client: Client) -> None:
    order, sales_return = returned_order()
    html = staff_client.get("/sales-returns/").content.decode()
    assert "D1RRMA" in html
    assert order.amazon_order_id in html
    returns.receive_return(sales_return, order.warehouse, {})
    assert "D1RRMA" not in staff_client.get("/sales-returns/").content.decode()
    assert "D1RRMA" in staff_client.get("/sales-returns/?show=all").content.decode()


def sync_url(channel: SalesChannel, suffix: str = "") -> str:
    return f"/settings/integrations/marketplaces/{channel.id}/sync/{suffix}"


def test_sync_manually_starts_a_returns_sync_for_a_period(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    today = timezone.localdate()
    response = admin_client.post(
        sync_url(channel),
        {
            "kind": "returns",
            "fetch_from": "specific_period",
            "start_date": str(today - timedelta(days=90)),
            "end_date": str(today - timedelta(days=1)),
        },
    )
    run = SyncRun.objects.get()
    assert response["Location"] == f"/sync-runs/{run.id}/"
    assert (run.kind, run.trigger) == ("returns", "manual")
    assert run.window_start is not None and run.window_end is not None


def test_a_finished_returns_sync_can_be_re_initiated(admin_client: Client) -> None:
    run = SyncRunFactory.create(kind=SyncRun.Kind.RETURNS, window_start=WHEN)
    run.records.create(record_type="return", external_id="702-1 D1RRMA", outcome="failed")
    page = admin_client.get(f"/sync-runs/{run.id}/").content.decode()
    assert "Re-initiate" in page
    admin_client.post(f"/sync-runs/{run.id}/reinitiate/")
    again = SyncRun.objects.exclude(id=run.id).get()
    assert (again.kind, again.trigger, again.reinitiates_id) == ("returns", "reinitiated", run.id)
    assert again.window_start == WHEN


def test_it_estimates_refunds_with_amazon(admin_client: Client, amazon_settings: Simulator) -> None:
    channel = SalesChannelFactory.create(
        seller_id=DEFAULT_SELLER_ID,
        refresh_token="Atzr|simulator",
        spapi_endpoint=amazon_settings.base_url,
        lwa_endpoint=amazon_settings.base_url,
    )
    response = admin_client.post(
        sync_url(channel, "estimate/"),
        {"kind": "returns", "fetch_from": "since_last_sync"},
        headers={"HX-Request": "true"},
    )
    html = response.content.decode()
    assert " refunds</strong>" in html or " refund</strong>" in html, html
    assert "Refunds posted since" in html
    assert not SyncRun.objects.exists()


def test_the_admin_shows_returns_and_refunds_and_edits_neither(admin_client: Client) -> None:
    from accounts.models import User

    User.objects.filter(username="alice").update(is_staff=True, is_superuser=True)
    order, sales_return = returned_order()
    refund = order.refunds.first()
    assert refund is not None
    for url in (
        "/admin/marketplaces/salesreturn/",
        f"/admin/marketplaces/salesreturn/{sales_return.id}/change/",
        "/admin/marketplaces/salesrefund/",
        f"/admin/marketplaces/salesrefund/{refund.id}/change/",
    ):
        response = admin_client.get(url)
        assert response.status_code == 200, url
    response = admin_client.post(
        f"/admin/marketplaces/salesreturn/{sales_return.id}/change/", {"status": "restocked"}
    )
    assert response.status_code == 403
    sales_return.refresh_from_db()
    assert sales_return.status == SalesReturn.Status.RECEIVED


def test_the_home_page_counts_returns_delivered_back_until_they_are_received(
    staff_client: Client,
) -> None:
    order, sales_return = returned_order()

    before = staff_client.get("/").content.decode()
    returns.receive_return(sales_return, order.warehouse, {})
    after = staff_client.get("/").content.decode()

    assert 'data-entry="returns"' in before
    assert '<span class="figure">1</span> return delivered back, to receive into stock' in before
    assert 'href="/sales-returns/"' in before
    assert 'data-entry="returns"' not in after
