"""Daily exchange rates: the Bank of Canada's, fetched once a day, and an admin's edits.

The fetch asks the Bank for every day since the last rate it stored (per currency) up to today;
the Bank publishes business days only, so weekends and holidays stay without a row and the
conversion (``warehouses.currency``) uses the latest earlier one. A rate an admin set is never
overwritten by a fetch. Each fetch writes an ``ExchangeRateFetch`` row with its outcome.
"""

from __future__ import annotations

import datetime as dt
import logging
from decimal import Decimal

from django.db import transaction
from django.db.models import Max
from django.utils import timezone

from accounts import audit
from warehouses import bank_of_canada
from warehouses.models import ExchangeRate, ExchangeRateFetch

logger = logging.getLogger(__name__)

# With no rate stored yet, the first fetch reaches back this far (older orders than a year
# are rarely compared; an admin can enter their rates by hand).
FIRST_FETCH_DAYS = 366


def fetch_missing_rates(today: dt.date | None = None) -> ExchangeRateFetch:
    """Fetch and store the Bank of Canada's rates of the days missing since the last one
    fetched, up to ``today`` (local date). A failure is recorded on the returned row, with its
    reason, and nothing is stored."""
    today = today or timezone.localdate()
    start = _first_missing_day(today)
    fetch = ExchangeRateFetch(start_date=start, end_date=today)
    try:
        observations = bank_of_canada.fetch_observations(list(bank_of_canada.SERIES), start, today)
    except bank_of_canada.ValetError as error:
        fetch.error = str(error)
        fetch.save()
        logger.warning("Exchange rates not fetched (%s to %s): %s", start, today, error)
        return fetch
    with transaction.atomic():
        for observation in observations:
            _, created = ExchangeRate.objects.get_or_create(
                currency=observation.currency,
                date=observation.date,
                defaults={"rate": observation.rate, "source": ExchangeRate.Source.BANK_OF_CANADA},
            )
            fetch.rates_added += created
        fetch.save()
    return fetch


def _first_missing_day(today: dt.date) -> dt.date:
    """The day after the oldest of the currencies' last fetched rates: one request covers
    every currency, and what is already stored is skipped."""
    last: dict[str, dt.date] = dict(
        ExchangeRate.objects.filter(source=ExchangeRate.Source.BANK_OF_CANADA)
        .values_list("currency")
        .annotate(last=Max("date"))
        .values_list("currency", "last")
    )
    if any(currency not in last for currency in bank_of_canada.SERIES):
        return today - dt.timedelta(days=FIRST_FETCH_DAYS)
    return min(min(last.values()) + dt.timedelta(days=1), today)


@transaction.atomic
def set_rate(currency: str, day: dt.date, rate: Decimal, *, actor: audit.Who) -> ExchangeRate:
    """An admin's rate for ``currency`` on ``day``, replacing any stored one (the Bank's too);
    audited with the rate it replaced."""
    actor = audit.as_actor(actor)
    existing = ExchangeRate.objects.select_for_update().filter(currency=currency, date=day).first()
    previous = existing.rate if existing is not None else None
    exchange_rate = existing or ExchangeRate(currency=currency, date=day)
    exchange_rate.rate = rate
    exchange_rate.source = ExchangeRate.Source.ADMIN
    exchange_rate.changed_by = actor.user
    exchange_rate.save()
    audit.record(
        actor,
        "settings-changed",
        target=exchange_rate,
        detail={
            "setting": "exchange_rate",
            "currency": currency,
            "date": day.isoformat(),
            "rate": f"{rate.normalize():f}",
            "previous": f"{previous.normalize():f}" if previous is not None else None,
        },
    )
    return exchange_rate
