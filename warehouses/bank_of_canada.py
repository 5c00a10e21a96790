"""The Bank of Canada's Valet API: its daily exchange rates to the Canadian dollar.

A thin typed edge: one call, its status checked, its answer refused with a reason unless it is
what the Valet API documents. Knows nothing of our models; ``warehouses.exchange_rates`` stores
what it returns.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from decimal import Decimal, InvalidOperation
from typing import Any

import httpx
from django.conf import settings

# The Bank's daily average rates, in CAD for one unit of the currency ("FXUSDCAD": 1 USD in CAD).
SERIES: dict[str, str] = {"USD": "FXUSDCAD", "MXN": "FXMXNCAD"}
TIMEOUT_SECONDS = 20.0


class ValetError(Exception):
    """The Bank's answer could not be used; the message says why."""


@dataclass(frozen=True)
class Observation:
    currency: str
    date: dt.date
    rate: Decimal


def fetch_observations(currencies: list[str], start: dt.date, end: dt.date) -> list[Observation]:
    """The Bank's published rates of ``currencies`` from ``start`` to ``end`` (both included).

    The Bank publishes business days only, so days without an observation are simply absent.
    Raises ``ValetError`` for a failed call or an answer that is not the documented shape.
    """
    # Reference: https://www.bankofcanada.ca/valet/docs#observations_series_json
    series = [SERIES[currency] for currency in currencies]
    url = f"{settings.BANK_OF_CANADA_VALET_URL.rstrip('/')}/observations/{','.join(series)}/json"
    params = {"start_date": start.isoformat(), "end_date": end.isoformat()}
    try:
        response = httpx.get(url, params=params, timeout=TIMEOUT_SECONDS)
    except httpx.HTTPError as error:
        raise ValetError(f"The Bank of Canada could not be reached: {error}") from error
    if response.status_code != httpx.codes.OK:
        raise ValetError(
            f"The Bank of Canada answered HTTP {response.status_code}: {response.text[:200]}"
        )
    try:
        payload = response.json()
    except ValueError as error:
        raise ValetError("The Bank of Canada's answer is not JSON.") from error
    return _parse(payload, dict(zip(series, currencies, strict=True)))


def _parse(payload: Any, currency_of: dict[str, str]) -> list[Observation]:
    if not isinstance(payload, dict) or not isinstance(payload.get("observations"), list):
        raise ValetError("The Bank of Canada's answer has no list of observations.")
    observations = []
    for entry in payload["observations"]:
        if not isinstance(entry, dict):
            raise ValetError(f"An observation is not an object: {entry!r:.100}.")
        try:
            day = dt.date.fromisoformat(entry.get("d", ""))
        except (TypeError, ValueError) as error:
            raise ValetError(f"An observation has no valid date: {entry!r:.100}.") from error
        for series, currency in currency_of.items():
            value = entry.get(series)
            if value is None:
                continue  # this series was not published that day
            raw = value.get("v") if isinstance(value, dict) else None
            try:
                rate = Decimal(str(raw))
            except InvalidOperation as error:
                raise ValetError(f"{series} on {day} is not a number: {raw!r:.40}.") from error
            if raw is None or not rate.is_finite() or rate <= 0:
                raise ValetError(f"{series} on {day} is not a positive rate: {raw!r:.40}.")
            observations.append(Observation(currency=currency, date=day, rate=rate))
    return observations
