"""The Bank of Canada's Valet API client, against the local stand-in (tests/fixtures/valet.py)."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest

from tests.fixtures.valet import Valet
from warehouses.bank_of_canada import Observation, ValetError, fetch_observations

NOV_27 = dt.date(2026, 11, 27)
NOV_30 = dt.date(2026, 11, 30)


def test_it_returns_each_currencys_rate_of_each_published_day(valet: Valet) -> None:
    valet.rates = {
        ("FXUSDCAD", "2026-11-27"): "1.3890",
        ("FXMXNCAD", "2026-11-27"): "0.0801",
        ("FXUSDCAD", "2026-11-30"): "1.3921",
        ("FXMXNCAD", "2026-11-30"): "0.0812",
    }

    observations = fetch_observations(["USD", "MXN"], NOV_27, NOV_30)

    assert observations == [
        Observation("USD", NOV_27, Decimal("1.3890")),
        Observation("MXN", NOV_27, Decimal("0.0801")),
        Observation("USD", NOV_30, Decimal("1.3921")),
        Observation("MXN", NOV_30, Decimal("0.0812")),
    ]
    assert valet.requests == [
        {
            "path": "/valet/observations/FXUSDCAD,FXMXNCAD/json",
            "start_date": "2026-11-27",
            "end_date": "2026-11-30",
        }
    ]


def test_it_returns_nothing_for_days_the_bank_did_not_publish(valet: Valet) -> None:
    valet.rates = {("FXUSDCAD", "2026-11-27"): "1.3890"}

    assert fetch_observations(["USD", "MXN"], dt.date(2026, 11, 28), NOV_30) == []


def test_it_skips_a_series_missing_from_one_days_observation(valet: Valet) -> None:
    valet.rates = {("FXUSDCAD", "2026-11-30"): "1.3921"}

    assert fetch_observations(["USD", "MXN"], NOV_30, NOV_30) == [
        Observation("USD", NOV_30, Decimal("1.3921"))
    ]


def test_it_refuses_an_answer_without_observations(valet: Valet) -> None:
    valet.answer = (200, '{"terms": {}, "seriesDetail": {}}')

    with pytest.raises(ValetError, match="has no list of observations"):
        fetch_observations(["USD"], NOV_27, NOV_30)


@pytest.mark.parametrize(
    ("observation", "reason"),
    [
        ('{"FXUSDCAD": {"v": "1.39"}}', "has no valid date"),
        ('{"d": "2026-11-30", "FXUSDCAD": {"v": "n/a"}}', "FXUSDCAD on 2026-11-30 is not a number"),
        ('{"d": "2026-11-30", "FXUSDCAD": {"v": "-1.2"}}', "is not a positive rate"),
        ('{"d": "2026-11-30", "FXUSDCAD": "1.39"}', "FXUSDCAD on 2026-11-30 is not a number"),
    ],
)
def test_it_refuses_a_malformed_observation(valet: Valet, observation: str, reason: str) -> None:
    valet.answer = (200, f'{{"observations": [{observation}]}}')

    with pytest.raises(ValetError, match=reason):
        fetch_observations(["USD"], NOV_27, NOV_30)


def test_it_refuses_a_server_error_naming_the_status(valet: Valet) -> None:
    valet.answer = (503, '{"message": "Service unavailable"}')

    with pytest.raises(ValetError, match="answered HTTP 503"):
        fetch_observations(["USD"], NOV_27, NOV_30)


def test_it_refuses_an_answer_that_is_not_json(valet: Valet) -> None:
    valet.answer = (200, "<html>Maintenance</html>")

    with pytest.raises(ValetError, match="not JSON"):
        fetch_observations(["USD"], NOV_27, NOV_30)


def test_it_says_when_the_bank_cannot_be_reached(settings: object) -> None:
    # The suite's default URL is a closed port on 127.0.0.1 (tests/conftest.py).
    with pytest.raises(ValetError, match="could not be reached"):
        fetch_observations(["USD"], NOV_27, NOV_30)
