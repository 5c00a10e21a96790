"""Daily exchange rates: the fetch fills the days missing since the last one, a weekend uses
the latest earlier rate, conversions round to the cent, an admin's rate is kept and audited."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
import time_machine

from accounts.models import AuditEvent, User
from tests.fixtures.valet import Valet
from warehouses import currency, exchange_rates
from warehouses.models import ExchangeRate, ExchangeRateFetch, Organization
from warehouses.tasks import fetch_exchange_rates_task

pytestmark = pytest.mark.django_db

BOC = ExchangeRate.Source.BANK_OF_CANADA


def a_rate(code: str, day: str, rate: str, source: str = BOC) -> ExchangeRate:
    return ExchangeRate.objects.create(
        currency=code, date=dt.date.fromisoformat(day), rate=Decimal(rate), source=source
    )


def stored() -> dict[tuple[str, str], tuple[str, str]]:
    return {
        (rate.currency, rate.date.isoformat()): (f"{rate.rate.normalize():f}", rate.source)
        for rate in ExchangeRate.objects.all()
    }


@time_machine.travel(dt.datetime(2026, 12, 2, 20, 0, tzinfo=dt.UTC), tick=False)
def test_the_daily_task_fetches_the_days_missing_since_the_last_stored_one(
    valet: Valet,
) -> None:
    a_rate("USD", "2026-11-26", "1.3850")
    a_rate("MXN", "2026-11-26", "0.0799")
    valet.rates = {
        ("FXUSDCAD", "2026-11-26"): "9.9999",  # already stored: not asked for again
        ("FXUSDCAD", "2026-11-27"): "1.3890",
        ("FXMXNCAD", "2026-11-27"): "0.0801",
        # 28 and 29 are a weekend: the Bank publishes nothing
        ("FXUSDCAD", "2026-11-30"): "1.3921",
        ("FXMXNCAD", "2026-11-30"): "0.0812",
        ("FXUSDCAD", "2026-12-01"): "1.3935",
        ("FXMXNCAD", "2026-12-01"): "0.0815",
    }

    result = fetch_exchange_rates_task()

    assert valet.requests[0]["start_date"] == "2026-11-27"
    assert valet.requests[0]["end_date"] == "2026-12-02"
    assert stored() == {
        ("USD", "2026-11-26"): ("1.385", BOC),
        ("MXN", "2026-11-26"): ("0.0799", BOC),
        ("USD", "2026-11-27"): ("1.389", BOC),
        ("MXN", "2026-11-27"): ("0.0801", BOC),
        ("USD", "2026-11-30"): ("1.3921", BOC),
        ("MXN", "2026-11-30"): ("0.0812", BOC),
        ("USD", "2026-12-01"): ("1.3935", BOC),
        ("MXN", "2026-12-01"): ("0.0815", BOC),
    }
    fetch = ExchangeRateFetch.objects.get()
    assert (fetch.rates_added, fetch.error) == (6, "")
    assert "6 added" in result


def test_a_fetch_never_overwrites_an_admins_rate(valet: Valet) -> None:
    a_rate("USD", "2026-11-27", "1.3890")
    a_rate("MXN", "2026-11-27", "0.0801")
    a_rate("USD", "2026-11-30", "1.4000", source=ExchangeRate.Source.ADMIN)
    valet.rates = {("FXUSDCAD", "2026-11-30"): "1.3921", ("FXMXNCAD", "2026-11-30"): "0.0812"}

    exchange_rates.fetch_missing_rates(today=dt.date(2026, 11, 30))

    assert stored()["USD", "2026-11-30"] == ("1.4", ExchangeRate.Source.ADMIN)
    assert stored()["MXN", "2026-11-30"] == ("0.0812", BOC)


def test_the_first_fetch_reaches_back_a_year(valet: Valet) -> None:
    exchange_rates.fetch_missing_rates(today=dt.date(2026, 11, 30))

    assert valet.requests[0]["start_date"] == "2025-11-29"


def test_a_failed_fetch_is_recorded_with_its_reason_and_stores_nothing(valet: Valet) -> None:
    valet.answer = (502, "Bad gateway")

    fetch = exchange_rates.fetch_missing_rates(today=dt.date(2026, 11, 30))

    assert fetch.error == "The Bank of Canada answered HTTP 502: Bad gateway"
    assert ExchangeRateFetch.objects.get().error == fetch.error
    assert not ExchangeRate.objects.exists()


def test_a_weekend_day_uses_the_latest_earlier_published_rate() -> None:
    a_rate("USD", "2026-11-26", "1.3850")
    a_rate("USD", "2026-11-27", "1.3890")  # Friday
    a_rate("USD", "2026-11-30", "1.3921")  # Monday

    saturday = currency.to_base_currency(Decimal("100.00"), "USD", dt.date(2026, 11, 28))

    assert isinstance(saturday, currency.Converted)
    assert (saturday.base_amount, saturday.rate_date) == (Decimal("138.90"), dt.date(2026, 11, 27))
    assert str(saturday) == "at 1.389 USD→CAD on 2026-11-27, Bank of Canada"


def test_a_conversion_rounds_half_up_to_the_cent() -> None:
    a_rate("USD", "2026-11-30", "1.2250")

    converted = currency.to_base_currency(Decimal("1.00"), "USD", dt.date(2026, 11, 30))

    assert isinstance(converted, currency.Converted)
    assert converted.base_amount == Decimal("1.23")  # 1.225: half up, not to even


def test_a_day_without_a_rate_on_or_before_it_cannot_be_converted() -> None:
    a_rate("USD", "2026-12-01", "1.3935")

    result = currency.to_base_currency(Decimal("10.00"), "USD", dt.date(2026, 11, 30))

    assert result == currency.NotConverted(
        "USD",
        "CAD",
        dt.date(2026, 11, 30),
        "No USD→CAD rate on or before 2026-11-30: add one in Settings › Exchange rates.",
    )


def test_a_rate_more_than_a_week_old_is_a_missing_rate_not_a_holiday() -> None:
    a_rate("USD", "2026-11-20", "1.3800")

    result = currency.to_base_currency(Decimal("10.00"), "USD", dt.date(2026, 11, 30))

    assert isinstance(result, currency.NotConverted)
    assert currency.missing_rate_days({"USD": {dt.date(2026, 11, 27), dt.date(2026, 11, 30)}}) == {
        "USD": [dt.date(2026, 11, 30)]
    }


def test_nothing_converts_when_the_base_currency_is_not_the_banks() -> None:
    a_rate("USD", "2026-11-30", "1.3921")
    Organization.objects.update_or_create(id=1, defaults={"base_currency": "EUR"})

    result = currency.to_base_currency(Decimal("10.00"), "USD", dt.date(2026, 11, 30))

    assert isinstance(result, currency.NotConverted)
    assert "exchange rates are the Bank of Canada's, to CAD" in result.reason


def test_an_admins_rate_replaces_the_banks_and_is_audited(admin_user: User) -> None:
    a_rate("USD", "2026-11-30", "1.3921")

    exchange_rates.set_rate("USD", dt.date(2026, 11, 30), Decimal("1.4"), actor=admin_user)

    rate = ExchangeRate.objects.get()
    assert (rate.rate, rate.source, rate.changed_by) == (
        Decimal("1.4"),
        ExchangeRate.Source.ADMIN,
        admin_user,
    )
    event = AuditEvent.objects.get(action="settings-changed")
    assert event.user == admin_user
    assert event.detail == {
        "setting": "exchange_rate",
        "currency": "USD",
        "date": "2026-11-30",
        "rate": "1.4",
        "previous": "1.3921",
    }
