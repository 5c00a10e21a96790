"""The one way to change stock (DESIGN, Key decisions).

Every change of an on-hand or committed quantity goes through a function here. Each one runs in
``transaction.atomic``, locks the (item, warehouse) ``Stock`` row, computes the new totals from
the locked values (so concurrent changes of the same row add up), records a ``StockMovement``
with the totals after it, and, once the outermost transaction commits, sends ``stock_changed``
for the items it touched: one signal per transaction, however many rows changed.

Manual adjustments are checked against what is physically there. Commit, release and ship record
what happened on the marketplace (an Amazon order exists whether or not we had stock), so they
never refuse a quantity that leaves ``available`` negative: that is an oversell to show, not an
error to hide.
"""

from __future__ import annotations

from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from warehouses.models import Item, Stock, StockMovement, Warehouse
from warehouses.signals import stock_changed


def set_opening_stock(
    item: Item,
    warehouse: Warehouse,
    quantity: int,
    *,
    user: User | None = None,
    reference: str = "",
) -> StockMovement:
    """Set the on-hand quantity an item starts with in a warehouse (e.g. the Amazon quantity of
    a confirmed listing). Absolute, so running it twice with the same quantity changes nothing
    the second time."""
    if quantity < 0:
        raise ValidationError(f"Opening stock cannot be negative (got {quantity}).")
    with transaction.atomic():
        stock = _locked_stock(item.pk, warehouse.pk)
        return _apply(
            stock,
            StockMovement.Kind.OPENING,
            on_hand_change=quantity - stock.on_hand,
            committed_change=0,
            reference=reference,
            note="",
            user=user,
        )


def adjust_stock(
    item: Item,
    warehouse: Warehouse,
    change: int,
    *,
    note: str,
    user: User | None = None,
    reference: str = "",
) -> StockMovement:
    """A manual correction of the on-hand quantity (count, damage, found units). Refuses to take
    out units that are not there or that orders hold committed."""
    if change == 0:
        raise ValidationError("Enter a quantity change other than zero.")
    if not note.strip():
        raise ValidationError("Say why the stock is adjusted.")
    with transaction.atomic():
        stock = _locked_stock(item.pk, warehouse.pk)
        new_on_hand = stock.on_hand + change
        if change < 0 and new_on_hand < max(stock.committed, 0):
            removable = max(stock.on_hand - stock.committed, 0)
            raise ValidationError(
                f"Cannot remove {-change} from {warehouse.name}: it has {stock.on_hand} on hand "
                f"and {stock.committed} committed to orders, so at most {removable} can be "
                "removed."
            )
        return _apply(
            stock,
            StockMovement.Kind.ADJUSTMENT,
            on_hand_change=change,
            committed_change=0,
            reference=reference,
            note=note.strip(),
            user=user,
        )


def commit_stock(
    item: Item, warehouse: Warehouse, quantity: int, *, reference: str, user: User | None = None
) -> StockMovement:
    """Hold ``quantity`` units for an order: on hand stays, available goes down."""
    _require_positive(quantity)
    with transaction.atomic():
        stock = _locked_stock(item.pk, warehouse.pk)
        return _apply(
            stock,
            StockMovement.Kind.COMMIT,
            on_hand_change=0,
            committed_change=quantity,
            reference=reference,
            note="",
            user=user,
        )


def release_stock(
    item: Item, warehouse: Warehouse, quantity: int, *, reference: str, user: User | None = None
) -> StockMovement:
    """Give back units an order held (cancelled order, fewer units). Never below zero committed:
    releasing more than is committed releases what is there and says so in the note."""
    _require_positive(quantity)
    with transaction.atomic():
        stock = _locked_stock(item.pk, warehouse.pk)
        released = min(quantity, stock.committed)
        note = "" if released == quantity else f"Asked to release {quantity}; {released} committed."
        return _apply(
            stock,
            StockMovement.Kind.RELEASE,
            on_hand_change=0,
            committed_change=-released,
            reference=reference,
            note=note,
            user=user,
        )


def ship_stock(
    item: Item,
    warehouse: Warehouse,
    quantity: int,
    *,
    reference: str,
    from_committed: bool = True,
    user: User | None = None,
) -> StockMovement:
    """Units leave the warehouse. With ``from_committed`` (an order that held them) the shipped
    units also stop being committed, as far as they were; without it (e.g. an order imported
    already shipped) only on hand goes down."""
    _require_positive(quantity)
    with transaction.atomic():
        stock = _locked_stock(item.pk, warehouse.pk)
        released = min(quantity, stock.committed) if from_committed else 0
        note = ""
        if from_committed and released < quantity:
            note = f"Shipped {quantity}; {released} were committed."
        return _apply(
            stock,
            StockMovement.Kind.SHIP,
            on_hand_change=-quantity,
            committed_change=-released,
            reference=reference,
            note=note,
            user=user,
        )


def _require_positive(quantity: int) -> None:
    if quantity <= 0:
        raise ValidationError(f"The quantity must be a positive number (got {quantity}).")


def _locked_stock(item_id: int, warehouse_id: int) -> Stock:
    """The (item, warehouse) row, locked until the transaction ends; created at zero if missing.

    Creating is race-safe: ``INSERT … ON CONFLICT DO NOTHING`` (``INSERT OR IGNORE`` on SQLite)
    waits for a concurrent insert of the same row and then does nothing, and the following
    ``SELECT … FOR UPDATE`` sees whichever row won. Must run inside ``transaction.atomic``.
    """
    locked = Stock.objects.select_for_update()
    try:
        return locked.get(item_id=item_id, warehouse_id=warehouse_id)
    except Stock.DoesNotExist:
        pass
    Stock.objects.bulk_create(
        [Stock(item_id=item_id, warehouse_id=warehouse_id)], ignore_conflicts=True
    )
    return locked.get(item_id=item_id, warehouse_id=warehouse_id)


def _apply(
    stock: Stock,
    kind: str,
    *,
    on_hand_change: int,
    committed_change: int,
    reference: str,
    note: str,
    user: User | None,
) -> StockMovement:
    """Write new totals computed from the locked row, record the movement, queue the signal."""
    stock.on_hand += on_hand_change
    stock.committed += committed_change
    stock.save(update_fields=["on_hand", "committed", "updated_at"])
    movement = StockMovement.objects.create(
        item_id=stock.item_id,
        warehouse_id=stock.warehouse_id,
        kind=kind,
        on_hand_change=on_hand_change,
        committed_change=committed_change,
        on_hand_after=stock.on_hand,
        committed_after=stock.committed,
        reference=reference,
        note=note,
        created_by=user,
    )
    if on_hand_change or committed_change:
        _stock_changed_on_commit(stock.item_id)
    return movement


class _ChangedItems:
    """The items one transaction changed; called once, on commit, to send ``stock_changed``."""

    def __init__(self) -> None:
        self.item_ids: set[int] = set()
        self.sent = False

    def __call__(self) -> None:
        self.sent = True
        stock_changed.send(sender=Stock, item_ids=set(self.item_ids))


def _stock_changed_on_commit(item_id: int) -> None:
    """Add ``item_id`` to this transaction's batch, registering the batch's one on_commit
    callback when the transaction has none yet.

    The batch lives on the connection (one per thread). It is reused only while its callback is
    still queued on that connection: a commit runs it and a rollback (of the transaction, or of
    the savepoint it was queued in) drops it, and either way the next change starts a new batch.
    """
    connection = transaction.get_connection()
    batch: _ChangedItems | None = getattr(connection, "_stock_changed_batch", None)
    if batch is None or batch.sent or not _is_queued(connection, batch):
        batch = _ChangedItems()
        connection._stock_changed_batch = batch
        # robust: the stock change is committed by now; a failing receiver is logged by Django
        # rather than turning a successful change into an error for the caller.
        transaction.on_commit(batch, robust=True)
    batch.item_ids.add(item_id)


def _is_queued(connection: Any, batch: _ChangedItems) -> bool:
    # Django keeps pending callbacks as (savepoint ids, callback, robust) tuples.
    return any(entry[1] is batch for entry in connection.run_on_commit)
