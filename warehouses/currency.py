"""Amounts in another currency, in the base currency: the one conversion rule of the product.

Orders keep Amazon's amounts in their own currency (an Amazon.com order in USD); wherever
amounts are summed or compared across channels they are shown in the base currency, at the
Bank of Canada's rate of the order's day. The Bank publishes business days only, so a weekend
or holiday uses the latest earlier published rate, and never one more than
``MAX_RATE_AGE_DAYS`` older (a gap that long means rates are missing, not a holiday).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal

from warehouses.models import ExchangeRate, Organization

# The rates are the Bank of Canada's, in CAD, so the base currency must be CAD. Connecting a
# sales channel checks the same rule (marketplaces/connect.py reads it from here).
BASE_CURRENCY = "CAD"
# The longest run of days the Bank publishes nothing (a long weekend around Christmas) is four
# days; a week without a rate is a gap in our rates.
MAX_RATE_AGE_DAYS = 7
CENT = Decimal("0.01")


@dataclass(frozen=True)
class Converted:
    """``amount`` in ``currency`` is ``base_amount`` in the base currency at ``rate``."""

    amount: Decimal
    currency: str
    base_amount: Decimal
    base_currency: str
    rate: Decimal
    rate_date: dt.date
    source: str
    converted = True

    def __str__(self) -> str:
        return (
            f"at {self.rate.normalize():f} {self.currency}→{self.base_currency} on "
            f"{self.rate_date.isoformat()}, {self.source}"
        )


@dataclass(frozen=True)
class NotConverted:
    """The amount cannot be shown in the base currency, for ``reason``."""

    currency: str
    base_currency: str
    day: dt.date
    reason: str
    converted = False

    def __str__(self) -> str:
        return self.reason


Conversion = Converted | NotConverted


def base_currency_problem(base_currency: str) -> str | None:
    """Why ``base_currency`` cannot be the organization's, or None when it can."""
    if base_currency != BASE_CURRENCY:
        return (
            f"The base currency is {base_currency}; exchange rates are the Bank of Canada's, "
            f"to {BASE_CURRENCY}. Change it in Settings › Organization."
        )
    return None


def round_to_cents(amount: Decimal) -> Decimal:
    return amount.quantize(CENT, rounding=ROUND_HALF_UP)


def to_base_currency(amount: Decimal, currency: str, day: dt.date) -> Conversion:
    """``amount`` of ``currency`` on ``day`` (the local date of the order) in the base currency,
    rounded to the cent, or why it cannot be."""
    return convert_many([(amount, currency, day)])[0]


def convert_many(amounts: Iterable[tuple[Decimal, str, dt.date]]) -> list[Conversion]:
    """``to_base_currency`` for many amounts, in two queries whatever their number (a list page
    converts its rows at once)."""
    wanted = list(amounts)
    base = Organization.load().base_currency
    problem = base_currency_problem(base)
    foreign = [(currency, day) for _, currency, day in wanted if currency != base]
    rates = _rates_for(foreign) if foreign and problem is None else {}
    results: list[Conversion] = []
    for amount, currency, day in wanted:
        if currency == base:
            results.append(
                Converted(amount, currency, round_to_cents(amount), base, Decimal(1), day, "")
            )
        elif problem is not None:
            results.append(NotConverted(currency, base, day, problem))
        else:
            results.append(_convert(amount, currency, day, base, rates.get(currency, [])))
    return results


def _rates_for(wanted: list[tuple[str, dt.date]]) -> dict[str, list[ExchangeRate]]:
    """Every stored rate that can serve these days, newest first per currency: one query."""
    currencies = {currency for currency, _ in wanted}
    earliest = min(day for _, day in wanted) - dt.timedelta(days=MAX_RATE_AGE_DAYS)
    latest = max(day for _, day in wanted)
    by_currency: dict[str, list[ExchangeRate]] = {currency: [] for currency in currencies}
    for rate in ExchangeRate.objects.filter(
        currency__in=currencies, date__gte=earliest, date__lte=latest
    ).order_by("currency", "-date"):
        by_currency[rate.currency].append(rate)
    return by_currency


def _convert(
    amount: Decimal, currency: str, day: dt.date, base: str, rates: list[ExchangeRate]
) -> Conversion:
    rate = next((rate for rate in rates if rate.date <= day), None)
    if rate is None or (day - rate.date).days > MAX_RATE_AGE_DAYS:
        return NotConverted(
            currency,
            base,
            day,
            f"No {currency}→{base} rate on or before {day.isoformat()}: add one in "
            "Settings › Exchange rates.",
        )
    return Converted(
        amount=amount,
        currency=currency,
        base_amount=round_to_cents(amount * rate.rate),
        base_currency=base,
        rate=rate.rate,
        rate_date=rate.date,
        source=(
            "Bank of Canada"
            if rate.source == ExchangeRate.Source.BANK_OF_CANADA
            else "set by an admin"
        ),
    )


def missing_rate_days(days_by_currency: dict[str, set[dt.date]]) -> dict[str, list[dt.date]]:
    """Of the days that need a rate (days with orders, per currency), those no stored rate can
    serve, sorted; currencies with none missing are left out."""
    wanted = [(currency, day) for currency, days in days_by_currency.items() for day in days]
    if not wanted:
        return {}
    rates = _rates_for(wanted)
    missing: dict[str, list[dt.date]] = {}
    for currency, day in sorted(wanted):
        conversion = _convert(Decimal(0), currency, day, BASE_CURRENCY, rates.get(currency, []))
        if isinstance(conversion, NotConverted):
            missing.setdefault(currency, []).append(day)
    return missing
