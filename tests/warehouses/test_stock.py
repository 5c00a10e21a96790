"""The stock services: every quantity change goes through them and leaves a movement."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from tests.factories import ItemFactory, WarehouseFactory
from warehouses import stock
from warehouses.models import Stock, StockMovement
from warehouses.signals import stock_changed

pytestmark = pytest.mark.django_db


@pytest.fixture
def sent() -> Iterator[list[set[int]]]:
    """The ``item_ids`` of every ``stock_changed`` sent during the test."""
    calls: list[set[int]] = []

    def record(sender: Any, item_ids: set[int], **kwargs: Any) -> None:
        calls.append(item_ids)

    stock_changed.connect(record, dispatch_uid="test-record")
    yield calls
    stock_changed.disconnect(dispatch_uid="test-record")


def quantities(item: Any, warehouse: Any) -> tuple[int, int]:
    row = Stock.objects.get(item=item, warehouse=warehouse)
    return row.on_hand, row.committed


def test_it_sets_opening_stock_creating_the_stock_row() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    movement = stock.set_opening_stock(item, warehouse, 12, reference="amazon:MUG-1")
    assert quantities(item, warehouse) == (12, 0)
    assert movement.kind == StockMovement.Kind.OPENING
    assert (movement.on_hand_change, movement.committed_change) == (12, 0)
    assert (movement.on_hand_after, movement.committed_after) == (12, 0)
    assert movement.reference == "amazon:MUG-1"


def test_it_sets_opening_stock_as_an_absolute_quantity() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    stock.set_opening_stock(item, warehouse, 12)
    again = stock.set_opening_stock(item, warehouse, 12)
    assert again.on_hand_change == 0
    assert quantities(item, warehouse) == (12, 0)
    with pytest.raises(ValidationError, match=r"Opening stock cannot be negative \(got -1\)\."):
        stock.set_opening_stock(item, warehouse, -1)


def test_it_adjusts_stock_both_ways_and_records_who_and_why(admin_user: User) -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    stock.adjust_stock(item, warehouse, 10, note="Stock count", user=admin_user)
    movement = stock.adjust_stock(item, warehouse, -4, note="  Damaged  ", user=admin_user)
    assert quantities(item, warehouse) == (6, 0)
    assert movement.kind == StockMovement.Kind.ADJUSTMENT
    assert (movement.on_hand_change, movement.on_hand_after) == (-4, 6)
    assert movement.note == "Damaged"
    assert movement.created_by == admin_user
    assert StockMovement.objects.filter(item=item).count() == 2


def test_it_refuses_an_adjustment_below_committed_and_changes_nothing() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create(name="Toronto")
    stock.adjust_stock(item, warehouse, 5, note="Count")
    stock.commit_stock(item, warehouse, 3, reference="702-1")
    with pytest.raises(ValidationError) as raised:
        stock.adjust_stock(item, warehouse, -3, note="Damaged")
    assert raised.value.messages == [
        "Cannot remove 3 from Toronto: it has 5 on hand and 3 committed to orders, "
        "so at most 2 can be removed."
    ]
    assert quantities(item, warehouse) == (5, 3)
    assert StockMovement.objects.filter(item=item).count() == 2


def test_it_refuses_an_adjustment_below_zero_on_a_new_stock_row() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create(name="Toronto")
    with pytest.raises(ValidationError) as raised:
        stock.adjust_stock(item, warehouse, -1, note="Lost")
    assert raised.value.messages == [
        "Cannot remove 1 from Toronto: it has 0 on hand and 0 committed to orders, "
        "so at most 0 can be removed."
    ]
    assert StockMovement.objects.count() == 0


def test_it_allows_adding_to_an_oversold_stock() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    stock.commit_stock(item, warehouse, 4, reference="702-1")  # an order with nothing on hand
    movement = stock.adjust_stock(item, warehouse, 1, note="Found one")
    assert (movement.on_hand_after, movement.committed_after) == (1, 4)


def test_it_refuses_a_zero_adjustment_or_a_missing_reason() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    with pytest.raises(ValidationError, match="Enter a quantity change other than zero."):
        stock.adjust_stock(item, warehouse, 0, note="Count")
    with pytest.raises(ValidationError, match="Say why the stock is adjusted."):
        stock.adjust_stock(item, warehouse, 2, note="   ")
    assert Stock.objects.count() == 0


def test_it_commits_releases_and_ships() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    stock.set_opening_stock(item, warehouse, 10)
    commit = stock.commit_stock(item, warehouse, 4, reference="702-1")
    assert (commit.kind, commit.committed_change, commit.on_hand_after, commit.committed_after) == (
        "commit",
        4,
        10,
        4,
    )
    release = stock.release_stock(item, warehouse, 1, reference="702-1")
    assert (release.committed_change, release.committed_after) == (-1, 3)
    ship = stock.ship_stock(item, warehouse, 3, reference="702-1")
    assert (ship.kind, ship.on_hand_change, ship.committed_change) == ("ship", -3, -3)
    assert (ship.on_hand_after, ship.committed_after) == (7, 0)
    assert quantities(item, warehouse) == (7, 0)


def test_it_never_releases_below_zero_committed() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    stock.commit_stock(item, warehouse, 2, reference="702-1")
    release = stock.release_stock(item, warehouse, 5, reference="702-1")
    assert (release.committed_change, release.committed_after) == (-2, 0)
    assert release.note == "Asked to release 5; 2 committed."
    assert quantities(item, warehouse) == (0, 0)


def test_it_ships_more_than_committed_releasing_only_the_committed_part() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    stock.set_opening_stock(item, warehouse, 10)
    stock.commit_stock(item, warehouse, 1, reference="702-1")
    ship = stock.ship_stock(item, warehouse, 3, reference="702-1")
    assert (ship.on_hand_change, ship.committed_change) == (-3, -1)
    assert ship.note == "Shipped 3; 1 were committed."
    assert quantities(item, warehouse) == (7, 0)


def test_it_ships_without_touching_committed_when_not_from_committed() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    stock.set_opening_stock(item, warehouse, 10)
    stock.commit_stock(item, warehouse, 2, reference="702-1")
    ship = stock.ship_stock(item, warehouse, 3, reference="702-2", from_committed=False)
    assert (ship.on_hand_change, ship.committed_change) == (-3, 0)
    assert quantities(item, warehouse) == (7, 2)


@pytest.mark.parametrize(
    "change",
    [
        lambda i, w: stock.commit_stock(i, w, 0, reference="x"),
        lambda i, w: stock.release_stock(i, w, -1, reference="x"),
        lambda i, w: stock.ship_stock(i, w, 0, reference="x"),
    ],
)
def test_it_refuses_non_positive_order_quantities(change: Callable[[Any, Any], Any]) -> None:
    with pytest.raises(ValidationError, match="The quantity must be a positive number"):
        change(ItemFactory.create(), WarehouseFactory.create())
    assert StockMovement.objects.count() == 0


def test_it_sends_stock_changed_once_per_transaction_after_commit(
    sent: list[set[int]], django_capture_on_commit_callbacks: Any
) -> None:
    mug, cup, warehouse = ItemFactory.create(), ItemFactory.create(), WarehouseFactory.create()
    with django_capture_on_commit_callbacks(execute=True) as callbacks, transaction.atomic():
        stock.set_opening_stock(mug, warehouse, 5)
        stock.commit_stock(mug, warehouse, 1, reference="702-1")
        stock.adjust_stock(cup, warehouse, 3, note="Count")
        assert sent == []  # nothing before the commit
    assert len(callbacks) == 1
    assert sent == [{mug.id, cup.id}]


def test_it_starts_a_new_batch_for_the_next_transaction(
    sent: list[set[int]], django_capture_on_commit_callbacks: Any
) -> None:
    mug, cup, warehouse = ItemFactory.create(), ItemFactory.create(), WarehouseFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        stock.adjust_stock(mug, warehouse, 1, note="Count")
    with django_capture_on_commit_callbacks(execute=True):
        stock.adjust_stock(cup, warehouse, 1, note="Count")
    assert sent == [{mug.id}, {cup.id}]


def test_it_sends_nothing_when_the_transaction_rolls_back(
    sent: list[set[int]], django_capture_on_commit_callbacks: Any
) -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    with (
        django_capture_on_commit_callbacks(execute=True) as callbacks,
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        stock.adjust_stock(item, warehouse, 3, note="Count")
        raise RuntimeError("the order import failed")
    assert callbacks == []
    assert sent == []
    assert Stock.objects.count() == 0


def test_it_keeps_changes_after_a_rolled_back_savepoint_in_the_batch(
    sent: list[set[int]], django_capture_on_commit_callbacks: Any
) -> None:
    mug, cup, warehouse = ItemFactory.create(), ItemFactory.create(), WarehouseFactory.create()
    with django_capture_on_commit_callbacks(execute=True), transaction.atomic():
        with pytest.raises(RuntimeError), transaction.atomic():
            stock.adjust_stock(mug, warehouse, 3, note="Count")  # queues the batch, then…
            raise RuntimeError("…its savepoint rolls back, taking the callback with it")
        stock.adjust_stock(cup, warehouse, 2, note="Count")
    assert sent == [{cup.id}]


def test_it_sends_nothing_for_a_movement_that_changes_nothing(
    sent: list[set[int]], django_capture_on_commit_callbacks: Any
) -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    with django_capture_on_commit_callbacks(execute=True):
        stock.release_stock(item, warehouse, 1, reference="702-1")  # nothing was committed
    assert sent == []
