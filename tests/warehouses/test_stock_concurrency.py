"""Concurrent changes of one stock row add up (needs PostgreSQL: SQLite has no row locks)."""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from django.core.exceptions import ValidationError
from django.db import close_old_connections, connection

from tests.factories import ItemFactory, WarehouseFactory
from tests.helpers.services import require_service
from warehouses import stock
from warehouses.models import Stock, StockMovement

ROUNDS = 50


def run_in_threads(*workers: Callable[[], None]) -> list[BaseException]:
    """Start the workers together, each on its own thread and database connection."""
    start = threading.Barrier(len(workers))
    errors: list[BaseException] = []

    def run(worker: Callable[[], None]) -> None:
        try:
            start.wait()
            worker()
        except BaseException as error:  # a failure in a thread must fail the test
            errors.append(error)
        finally:
            close_old_connections()
            connection.close()

    threads = [threading.Thread(target=run, args=(worker,)) for worker in workers]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return errors


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_it_adds_up_concurrent_adjustments_of_one_stock_row() -> None:
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    item, warehouse = (
        ItemFactory.create(),
        WarehouseFactory.create(),
    )  # no Stock row yet: both race to create

    def add(units: int) -> Callable[[], None]:
        def worker() -> None:
            for _ in range(ROUNDS):
                stock.adjust_stock(item, warehouse, units, note=f"+{units}")

        return worker

    def commit() -> None:
        for _ in range(ROUNDS):
            stock.commit_stock(item, warehouse, 1, reference="702-1")

    assert run_in_threads(add(1), add(2), commit) == []
    row = Stock.objects.get(item=item, warehouse=warehouse)
    assert (row.on_hand, row.committed) == (150, 50)
    adjustments = StockMovement.objects.filter(item=item, kind="adjustment")
    afters = sorted(adjustments.values_list("on_hand_after", flat=True))
    assert len(afters) == 2 * ROUNDS
    assert len(set(afters)) == 2 * ROUNDS  # each change saw the one before it
    assert afters[-1] == 150
    commits = StockMovement.objects.filter(item=item, kind="commit")
    assert sorted(commits.values_list("committed_after", flat=True)) == list(range(1, 51))


@pytest.mark.services
@pytest.mark.django_db(transaction=True)
def test_it_never_lets_concurrent_removals_take_more_than_is_there() -> None:
    require_service(connection.vendor == "postgresql", "PostgreSQL")
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    stock.set_opening_stock(item, warehouse, 60)
    stock.commit_stock(item, warehouse, 10, reference="702-1")
    refused: list[ValidationError] = []

    def remove() -> None:
        for _ in range(ROUNDS):
            try:
                stock.adjust_stock(item, warehouse, -1, note="Damaged")
            except ValidationError as error:
                refused.append(error)

    assert run_in_threads(remove, remove) == []
    row = Stock.objects.get(item=item, warehouse=warehouse)
    assert (row.on_hand, row.committed) == (10, 10)
    assert len(refused) == 2 * ROUNDS - 50  # 50 of the 100 attempts found nothing to take
    assert refused[0].messages[0].startswith("Cannot remove 1 from ")
    assert StockMovement.objects.filter(item=item, kind="adjustment").count() == 50
