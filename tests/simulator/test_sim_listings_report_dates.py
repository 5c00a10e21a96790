"""The listings report's open-date is Pacific time, labelled PST or PDT as Amazon writes it."""

from __future__ import annotations

from datetime import UTC, datetime

from spapi_simulator.data import MERCHANT_CHANNEL, Listing
from spapi_simulator.documents import listings_report


def open_date(created: datetime) -> str:
    listing = Listing(
        sku="MUG-1",
        asin="B0SIMMUG01",
        title="Tasse",
        language_tag="fr_CA",
        product_type="DRINKING_CUP",
        price_cents=1299,
        quantity=5,
        fulfillment_channel=MERCHANT_CHANNEL,
        created=created,
        last_updated=created,
    )
    header, row = listings_report([listing]).splitlines()[:2]
    return dict(zip(header.split("\t"), row.split("\t"), strict=True))["open-date"]


def test_a_winter_open_date_is_pacific_standard_time() -> None:
    assert open_date(datetime(2026, 1, 15, 20, 30, tzinfo=UTC)) == "2026-01-15 12:30:00 PST"


def test_a_summer_open_date_is_pacific_daylight_time() -> None:
    assert open_date(datetime(2026, 7, 15, 20, 30, tzinfo=UTC)) == "2026-07-15 13:30:00 PDT"
