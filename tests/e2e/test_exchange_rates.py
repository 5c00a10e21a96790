"""An Amazon.com order in USD shows its CAD total; an admin corrects the day's rate and the
order follows it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from playwright.sync_api import Page, expect

from tests.factories import SalesChannelFactory, SalesOrderFactory
from tests.helpers.browser import screenshot
from warehouses.models import ExchangeRate


def test_an_admin_sees_a_usd_orders_cad_total_and_corrects_the_rate(admin_page: Page) -> None:
    ExchangeRate.objects.create(
        currency="USD",
        date=dt.date(2026, 11, 30),
        rate=Decimal("1.3921"),
        source=ExchangeRate.Source.BANK_OF_CANADA,
    )
    order = SalesOrderFactory.create(
        channel=SalesChannelFactory.create(name="Amazon.com"),
        amazon_order_id="113-1234567-7654321",
        currency="USD",
        subtotal=Decimal("90.00"),
        shipping_total=Decimal("10.00"),
        total=Decimal("100.00"),
        purchased_at=dt.datetime(2026, 11, 30, 22, 0, tzinfo=dt.UTC),
    )
    page = admin_page

    page.goto(f"/sales-orders/{order.id}/")
    total_in_cad = page.locator("#total-in-base")
    expect(total_in_cad).to_contain_text("139.21 CAD")
    expect(total_in_cad).to_contain_text("at 1.3921 USD→CAD on 2026-11-30, Bank of Canada")
    screenshot(page, "sales-order-usd-in-cad")

    page.locator("summary", has_text="Settings").click()
    page.get_by_role("link", name="Exchange rates").click()
    page.locator("#rate-table").get_by_role("link", name="Edit").click()
    page.get_by_role("spinbutton", name="Rate").fill("1.4")
    page.get_by_role("button", name="Save rate").click()
    expect(page.get_by_text("USD→CAD on 2026-11-30 set to 1.4.")).to_be_visible()
    expect(page.locator("#rate-table")).to_contain_text("Set by an admin")
    screenshot(page, "exchange-rates")

    page.goto(f"/sales-orders/{order.id}/")
    expect(total_in_cad).to_contain_text("140.00 CAD")
    expect(total_in_cad).to_contain_text("at 1.4 USD→CAD on 2026-11-30, set by an admin")
