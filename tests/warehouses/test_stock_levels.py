"""The quantity a channel tells Amazon (warehouse mapping, oversell protection)."""

from __future__ import annotations

from typing import Any

import pytest

from marketplaces.models import FulfillmentChannel
from marketplaces.stock_levels import limit_for_channel, quantities_to_push, quantity_to_push
from tests.factories import ItemFactory, ListingFactory, SalesChannelFactory, WarehouseFactory
from warehouses.models import Stock

pytestmark = pytest.mark.django_db


def put(item: Any, warehouse: Any, on_hand: int, committed: int = 0) -> None:
    Stock.objects.create(item=item, warehouse=warehouse, on_hand=on_hand, committed=committed)


@pytest.fixture
def stocked_item() -> dict[str, Any]:
    """Toronto 10 on hand / 3 committed (7 available), Montréal 5/0, inactive Halifax 100/0."""
    item = ItemFactory.create()
    toronto = WarehouseFactory.create(name="Toronto")
    montreal = WarehouseFactory.create(name="Montréal")
    halifax = WarehouseFactory.create(name="Halifax", is_active=False)
    put(item, toronto, 10, 3)
    put(item, montreal, 5)
    put(item, halifax, 100)
    return {"item": item, "toronto": toronto, "montreal": montreal, "halifax": halifax}


def test_it_pushes_the_organization_level_available_without_a_mapping(
    stocked_item: dict[str, Any],
) -> None:
    listing = ListingFactory.create(item=stocked_item["item"])
    assert quantity_to_push(listing) == 12  # 7 + 5; the inactive warehouse does not count


def test_it_pushes_the_mapped_warehouse_available(stocked_item: dict[str, Any]) -> None:
    channel = SalesChannelFactory.create(mapped_warehouse=stocked_item["toronto"])
    assert quantity_to_push(ListingFactory.create(channel=channel, item=stocked_item["item"])) == 7


def test_it_holds_back_the_safety_buffer_and_caps_at_the_maximum(
    stocked_item: dict[str, Any],
) -> None:
    buffered = SalesChannelFactory.create(safety_buffer=2)
    assert (
        quantity_to_push(ListingFactory.create(channel=buffered, item=stocked_item["item"])) == 10
    )
    capped = SalesChannelFactory.create(safety_buffer=2, max_quantity=4)
    assert quantity_to_push(ListingFactory.create(channel=capped, item=stocked_item["item"])) == 4


def test_it_never_pushes_below_zero() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    put(item, warehouse, 2, 5)  # oversold: available -3
    assert quantity_to_push(ListingFactory.create(item=item)) == 0
    buffered = SalesChannelFactory.create(safety_buffer=3)
    other = ItemFactory.create()
    put(other, warehouse, 2)
    assert quantity_to_push(ListingFactory.create(channel=buffered, item=other)) == 0


def test_it_pushes_zero_for_an_item_without_stock() -> None:
    assert quantity_to_push(ListingFactory.create()) == 0


def test_it_applies_channel_limits_as_a_pure_function() -> None:
    channel = SalesChannelFactory.build(safety_buffer=5, max_quantity=20)
    assert [limit_for_channel(n, channel) for n in (-4, 0, 5, 6, 25, 26, 1000)] == [
        0,
        0,
        0,
        1,
        20,
        20,
        20,
    ]


def test_it_computes_a_channel_s_quantities_in_one_query(
    stocked_item: dict[str, Any], django_assert_num_queries: Any
) -> None:
    channel = SalesChannelFactory.create(safety_buffer=1)
    empty_item, montreal_only = ItemFactory.create(), ItemFactory.create()
    put(montreal_only, stocked_item["montreal"], 9, 4)
    listings = [
        ListingFactory.create(channel=channel, item=stocked_item["item"]),
        ListingFactory.create(channel=channel, item=empty_item),
        ListingFactory.create(channel=channel, item=montreal_only),
    ]
    with django_assert_num_queries(1):
        result = quantities_to_push(channel, listings)
    assert result == {listings[0].pk: 11, listings[1].pk: 0, listings[2].pk: 4}


def test_it_computes_mapped_quantities_in_one_query(
    stocked_item: dict[str, Any], django_assert_num_queries: Any
) -> None:
    channel = SalesChannelFactory.create(mapped_warehouse=stocked_item["montreal"], max_quantity=3)
    listing = ListingFactory.create(channel=channel, item=stocked_item["item"])
    with django_assert_num_queries(1):
        assert quantities_to_push(channel, [listing]) == {listing.pk: 3}


def test_it_refuses_amazon_fulfilled_listings_and_other_channels_listings() -> None:
    channel = SalesChannelFactory.create()
    fba = ListingFactory.create(
        channel=channel, seller_sku="FBA-1", fulfillment_channel=FulfillmentChannel.AMAZON
    )
    with pytest.raises(ValueError, match="Listing FBA-1 is fulfilled by Amazon: never pushed."):
        quantities_to_push(channel, [fba])
    elsewhere = ListingFactory.create(seller_sku="ELSEWHERE")
    with pytest.raises(ValueError, match="Listing ELSEWHERE is not a listing of"):
        quantities_to_push(channel, [elsewhere])
    assert quantities_to_push(channel, []) == {}
