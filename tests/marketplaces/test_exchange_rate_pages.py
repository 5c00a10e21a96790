"""Orders in another currency show their total in CAD; Settings › Exchange rates shows and
edits the rates (admins only) and names the days with orders and no rate."""

from __future__ import annotations

import datetime as dt
import re
from decimal import Decimal

import pytest
from django.test import Client

from accounts.models import AuditEvent
from marketplaces.models import SalesOrder
from tests.factories import SalesOrderFactory
from warehouses.models import ExchangeRate

pytestmark = pytest.mark.django_db

# 2026-11-30 17:00 in Toronto: the order's day is the 30th.
NOV_30_AFTERNOON = dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC)


def a_usd_order(**fields: object) -> SalesOrder:
    fields.setdefault("purchased_at", NOV_30_AFTERNOON)
    return SalesOrderFactory.create(
        amazon_order_id="113-1111111-2222222",
        currency="USD",
        subtotal=Decimal("90.00"),
        shipping_total=Decimal("10.00"),
        total=Decimal("100.00"),
        **fields,
    )


def usd_rate(day: str, rate: str) -> ExchangeRate:
    return ExchangeRate.objects.create(
        currency="USD",
        date=dt.date.fromisoformat(day),
        rate=Decimal(rate),
        source=ExchangeRate.Source.BANK_OF_CANADA,
    )


def text(html: bytes) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html.decode()))


def test_a_usd_order_shows_its_cad_total_beside_its_own(staff_client: Client) -> None:
    usd_rate("2026-11-30", "1.3921")
    order = a_usd_order()

    page = text(staff_client.get(f"/sales-orders/{order.id}/").content)

    assert "Total 100.00 USD" in page
    assert "Total in CAD 139.21 CAD at 1.3921 USD→CAD on 2026-11-30, Bank of Canada" in page


def test_a_cad_order_shows_no_second_total(staff_client: Client) -> None:
    order = SalesOrderFactory.create(total=Decimal("50.85"))

    page = text(staff_client.get(f"/sales-orders/{order.id}/").content)

    assert "Total 50.85 CAD" in page
    assert "Total in CAD" not in page


def test_a_usd_order_without_a_rate_says_so_on_its_page(staff_client: Client) -> None:
    order = a_usd_order()

    page = text(staff_client.get(f"/sales-orders/{order.id}/").content)

    assert (
        "Total in CAD No USD→CAD rate on or before 2026-11-30: "
        "add one in Settings › Exchange rates." in page
    )


def test_the_order_list_shows_the_cad_total_of_a_usd_order(staff_client: Client) -> None:
    usd_rate("2026-11-27", "1.3890")
    a_usd_order(purchased_at=dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC))  # a Saturday

    page = staff_client.get("/sales-orders/").content.decode()

    assert 'title="at 1.389 USD→CAD on 2026-11-27, Bank of Canada">138.90 CAD' in page


def test_the_rates_page_names_the_days_with_orders_and_no_rate(admin_client: Client) -> None:
    usd_rate("2026-11-27", "1.3890")
    a_usd_order(purchased_at=dt.datetime(2026, 11, 28, 15, 0, tzinfo=dt.UTC))  # served by the 27th
    SalesOrderFactory.create(currency="MXN", purchased_at=NOV_30_AFTERNOON)
    SalesOrderFactory.create(
        currency="USD", purchased_at=dt.datetime(2026, 11, 20, 15, tzinfo=dt.UTC)
    )

    page = text(admin_client.get("/settings/exchange-rates/").content)

    assert "Missing exchange rates:" in page
    assert "MXN→CAD: 2026-11-30" in page
    assert "USD→CAD: 2026-11-20" in page
    assert "2026-11-28" not in page


def test_an_admin_sets_a_rate_and_it_is_audited(admin_client: Client) -> None:
    usd_rate("2026-11-30", "1.3921")

    response = admin_client.post(
        "/settings/exchange-rates/", {"currency": "USD", "date": "2026-11-30", "rate": "1.4005"}
    )

    assert response.status_code == 302
    rate = ExchangeRate.objects.get()
    assert (rate.rate, rate.source) == (Decimal("1.4005"), ExchangeRate.Source.ADMIN)
    event = AuditEvent.objects.get(action="settings-changed")
    assert event.detail["previous"] == "1.3921"
    assert event.detail["rate"] == "1.4005"
    page = text(admin_client.get("/settings/exchange-rates/").content)
    assert "USD→CAD on 2026-11-30 set to 1.4005." in page
    assert "2026-11-30 USD 1.4005 Set by an admin" in page


def test_a_rate_of_zero_is_refused_and_nothing_changes(admin_client: Client) -> None:
    response = admin_client.post(
        "/settings/exchange-rates/", {"currency": "USD", "date": "2026-11-30", "rate": "0"}
    )

    assert response.status_code == 200
    assert "Enter a rate above zero." in response.content.decode()
    assert not ExchangeRate.objects.exists()
    assert not AuditEvent.objects.filter(action="settings-changed").exists()


def test_staff_can_neither_see_nor_change_the_rates(staff_client: Client) -> None:
    assert staff_client.get("/settings/exchange-rates/").status_code == 403
    response = staff_client.post(
        "/settings/exchange-rates/", {"currency": "USD", "date": "2026-11-30", "rate": "1.4"}
    )
    assert response.status_code == 403
    assert not ExchangeRate.objects.exists()
