"""The one way to change stock (docs/ARCHITECTURE.md).

Every change of an on-hand or committed quantity goes through a function here. Each one runs in
``transaction.atomic``, locks the (item, warehouse) ``Stock`` row, computes the new totals from
the locked values (so concurrent changes of the same row add up), records a ``StockMovement``
with the totals after it and a ``StockChangeOutbox`` row for the item, and, once the outermost
transaction commits, delivers the outbox: ``stock_changed`` for the items it touched, one
signal per transaction however many rows changed, sent in the transaction that removes the
rows. A delivery that fails leaves the rows for ``deliver_stock_changes``, which the scheduler
calls every minute: a committed change is never lost on its way to Amazon.
``apply_order_changes`` does the same for many order changes at once (an imported page of
orders): all their rows locked in one query, one UPDATE, one INSERT of movements.

Manual adjustments are checked against what is physically there. Commit, release and ship record
what happened on the marketplace (an Amazon order exists whether or not we had stock), so they
never refuse a quantity that leaves ``available`` negative: that is an oversell to show, not an
error to hide.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import Q, QuerySet
from django.utils import timezone

from accounts.models import User
from warehouses.models import Item, Stock, StockChangeOutbox, StockMovement, Warehouse
from warehouses.signals import stock_changed

# The most units one adjustment, or one opening quantity, may add or remove. A real count is
# far below it, so a larger number is a typing slip (an extra zero, a pasted barcode); and it
# keeps every total far inside the 32-bit integer PostgreSQL stores on-hand quantities in
# (2,147,483,647), which Amazon's listings quantity (an integer, no maximum in its models) is
# never asked to exceed either.
MAX_UNITS_PER_CHANGE = 1_000_000


def _check_units(quantity: int, what: str) -> None:
    if abs(quantity) > MAX_UNITS_PER_CHANGE:
        raise ValidationError(
            f"{what} can be at most {MAX_UNITS_PER_CHANGE} units (got {quantity})."
        )


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
    _check_units(quantity, "Opening stock")
    _refuse_amazon(warehouse)
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
    _check_units(change, "An adjustment")
    if not note.strip():
        raise ValidationError("Say why the stock is adjusted.")
    _refuse_amazon(warehouse)
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
    return _change_one(item, warehouse, StockMovement.Kind.COMMIT, quantity, reference, user)


def release_stock(
    item: Item, warehouse: Warehouse, quantity: int, *, reference: str, user: User | None = None
) -> StockMovement:
    """Give back units an order held (cancelled order, fewer units). Never below zero committed:
    releasing more than is committed releases what is there and says so in the note."""
    return _change_one(item, warehouse, StockMovement.Kind.RELEASE, quantity, reference, user)


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
    return _change_one(
        item,
        warehouse,
        StockMovement.Kind.SHIP,
        quantity,
        reference,
        user,
        from_committed=from_committed,
    )


def return_stock(
    item: Item,
    warehouse: Warehouse,
    quantity: int,
    *,
    reference: str,
    note: str = "",
    user: User | None = None,
) -> StockMovement:
    """Units a buyer sent back go on hand again (sellable ones only: the caller decides)."""
    _require_positive(quantity)
    _check_units(quantity, "A return")
    _refuse_amazon(warehouse)
    with transaction.atomic():
        stock = _locked_stock(item.pk, warehouse.pk)
        return _apply(
            stock,
            StockMovement.Kind.RETURN,
            on_hand_change=quantity,
            committed_change=0,
            reference=reference,
            note=note,
            user=user,
        )


@dataclass(frozen=True)
class OrderStockChange:
    """One commit, release or shipment for ``apply_order_changes``; the same meaning as a call
    of ``commit_stock``, ``release_stock`` or ``ship_stock``."""

    item_id: int
    warehouse_id: int
    kind: str  # StockMovement.Kind.COMMIT, RELEASE or SHIP
    quantity: int
    reference: str
    from_committed: bool = True  # SHIP only, as in ship_stock


ORDER_KINDS = (StockMovement.Kind.COMMIT, StockMovement.Kind.RELEASE, StockMovement.Kind.SHIP)


def apply_order_changes(
    changes: Sequence[OrderStockChange], *, user: User | None = None
) -> list[StockMovement]:
    """Many order commits, releases and shipments (a page of imported orders) in a constant
    number of statements: the Stock rows they need locked in one ``SELECT … FOR UPDATE`` (by
    primary key, the order every batch locks in, so two batches cannot deadlock), one UPDATE of
    the rows and one INSERT of the movements. Applied in the given order, each computed from
    the totals the previous ones left, exactly as that many single calls would be."""
    for change in changes:
        _require_positive(change.quantity)
        if change.kind not in ORDER_KINDS:
            raise ValidationError(f"{change.kind} is not an order stock change.")
    if not changes:
        return []
    amazon = Warehouse.objects.filter(id__in={change.warehouse_id for change in changes}).exclude(
        amazon_pool=""
    )
    for warehouse in amazon:
        _refuse_amazon(warehouse)
    with transaction.atomic():
        rows = _locked_stocks({(change.item_id, change.warehouse_id) for change in changes})
        movements = []
        for change in changes:
            stock = rows[(change.item_id, change.warehouse_id)]
            on_hand_change, committed_change, note = _order_change(
                stock, change.kind, change.quantity, from_committed=change.from_committed
            )
            stock.on_hand += on_hand_change
            stock.committed += committed_change
            movements.append(
                StockMovement(
                    item_id=stock.item_id,
                    warehouse_id=stock.warehouse_id,
                    kind=change.kind,
                    on_hand_change=on_hand_change,
                    committed_change=committed_change,
                    on_hand_after=stock.on_hand,
                    committed_after=stock.committed,
                    reference=change.reference,
                    note=note,
                    created_by=user,
                )
            )
        now = timezone.now()
        for stock in rows.values():
            stock.updated_at = now  # bulk_update does not apply auto_now
        Stock.objects.bulk_update(list(rows.values()), ["on_hand", "committed", "updated_at"])
        StockMovement.objects.bulk_create(movements)
        _record_changes(
            {
                movement.item_id
                for movement in movements
                if movement.on_hand_change or movement.committed_change
            }
        )
    return movements


def _change_one(
    item: Item,
    warehouse: Warehouse,
    kind: str,
    quantity: int,
    reference: str,
    user: User | None,
    *,
    from_committed: bool = True,
) -> StockMovement:
    _require_positive(quantity)
    _refuse_amazon(warehouse)
    with transaction.atomic():
        stock = _locked_stock(item.pk, warehouse.pk)
        on_hand_change, committed_change, note = _order_change(
            stock, kind, quantity, from_committed=from_committed
        )
        return _apply(
            stock,
            kind,
            on_hand_change=on_hand_change,
            committed_change=committed_change,
            reference=reference,
            note=note,
            user=user,
        )


def _order_change(
    stock: Stock, kind: str, quantity: int, *, from_committed: bool
) -> tuple[int, int, str]:
    """(on hand change, committed change, note) of a commit, release or shipment of
    ``quantity`` units, from the locked row's totals."""
    if kind == StockMovement.Kind.COMMIT:
        return 0, quantity, ""
    if kind == StockMovement.Kind.RELEASE:
        released = min(quantity, stock.committed)
        note = "" if released == quantity else f"Asked to release {quantity}; {released} committed."
        return 0, -released, note
    released = min(quantity, stock.committed) if from_committed else 0
    note = ""
    if from_committed and released < quantity:
        note = f"Shipped {quantity}; {released} were committed."
    return -quantity, -released, note


@dataclass(frozen=True)
class AmazonCount:
    """What Amazon counts of one item in one of its FBA warehouses (all its SKUs together)."""

    item_id: int
    fulfillable: int
    reserved: int = 0
    inbound: int = 0
    unfulfillable: int = 0


def set_amazon_counts(
    warehouse: Warehouse, counts: Sequence[AmazonCount], *, reference: str
) -> list[StockMovement]:
    """Make an Amazon warehouse hold what Amazon counts: fulfillable units as on hand, and the
    reserved, inbound and unfulfillable units beside them. Absolute, so a repeat changes
    nothing; one ``AMAZON_COUNT`` movement per item whose fulfillable units changed, the rows
    locked in one query and written in one UPDATE. Amazon-fulfilled stock is never pushed to
    Amazon, so no ``stock_changed`` is sent."""
    if not warehouse.is_amazon:
        raise ValidationError(f"{warehouse.name} is not one of Amazon's warehouses.")
    if len({count.item_id for count in counts}) < len(counts):
        raise ValueError("One count per item: add up the units of its SKUs first.")
    for count in counts:
        numbers = (count.fulfillable, count.reserved, count.inbound, count.unfulfillable)
        if min(numbers) < 0:
            raise ValidationError(f"Amazon's counts cannot be negative (got {numbers}).")
    if not counts:
        return []
    with transaction.atomic():
        rows = _locked_stocks({(count.item_id, warehouse.pk) for count in counts})
        movements = []
        now = timezone.now()
        for count in counts:
            row = rows[(count.item_id, warehouse.pk)]
            change = count.fulfillable - row.on_hand
            if change:
                movements.append(
                    StockMovement(
                        item_id=count.item_id,
                        warehouse_id=warehouse.pk,
                        kind=StockMovement.Kind.AMAZON_COUNT,
                        on_hand_change=change,
                        committed_change=0,
                        on_hand_after=count.fulfillable,
                        committed_after=row.committed,
                        reference=reference,
                    )
                )
            row.on_hand = count.fulfillable
            row.amazon_reserved = count.reserved
            row.amazon_inbound = count.inbound
            row.amazon_unfulfillable = count.unfulfillable
            row.updated_at = now  # bulk_update does not apply auto_now
        Stock.objects.bulk_update(
            list(rows.values()),
            ["on_hand", "amazon_reserved", "amazon_inbound", "amazon_unfulfillable", "updated_at"],
        )
        StockMovement.objects.bulk_create(movements)
    return movements


def _refuse_amazon(warehouse: Warehouse) -> None:
    if warehouse.is_amazon:
        raise ValidationError(
            f"Amazon counts the stock in {warehouse.name}: it changes only with Amazon's "
            "inventory, never by hand or by an order here."
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


def _locked_stocks(pairs: set[tuple[int, int]]) -> dict[tuple[int, int], Stock]:
    """The (item, warehouse) rows, locked until the transaction ends, in primary key order;
    missing ones created at zero as in ``_locked_stock``. Must run inside
    ``transaction.atomic``."""

    def locked(wanted: set[tuple[int, int]]) -> dict[tuple[int, int], Stock]:
        items_by_warehouse: dict[int, set[int]] = {}
        for item_id, warehouse_id in wanted:
            items_by_warehouse.setdefault(warehouse_id, set()).add(item_id)
        condition = Q()
        for warehouse_id, item_ids in items_by_warehouse.items():
            condition |= Q(warehouse_id=warehouse_id, item_id__in=item_ids)
        rows = Stock.objects.select_for_update().filter(condition).order_by("pk")
        return {(stock.item_id, stock.warehouse_id): stock for stock in rows}

    found = locked(pairs)
    missing = pairs - found.keys()
    if missing:
        new_rows = [Stock(item_id=item, warehouse_id=warehouse) for item, warehouse in missing]
        Stock.objects.bulk_create(new_rows, ignore_conflicts=True)
        found.update(locked(missing))
    return found


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
        _record_changes({stock.item_id})
    return movement


def record_quantity_change(item_ids: Iterable[int]) -> None:
    """The available quantity of these items changed without a movement of their own (a
    warehouse was deactivated or activated): tell the listeners as for any stock change. Call
    it inside the transaction that makes the change."""
    with transaction.atomic():
        _record_changes(set(item_ids))


# Rows delivered per transaction by the sweep: one signal (one locking UPDATE of listings) each.
DELIVERY_BATCH = 2000


def deliver_stock_changes() -> int:
    """Send ``stock_changed`` for every change whose delivery after its commit failed; returns
    how many outbox rows it delivered. Safe beside other deliveries: rows another one holds are
    skipped, and a receiver that raises leaves its batch for the next sweep."""
    delivered = 0
    while batch := _deliver(StockChangeOutbox.objects.all()):
        delivered += batch
    return delivered


def _deliver(rows: QuerySet[StockChangeOutbox]) -> int:
    with transaction.atomic():
        locked = list(
            rows.select_for_update(skip_locked=True)
            .order_by("id")
            .values_list("id", "item_id")[:DELIVERY_BATCH]
        )
        if not locked:
            return 0
        stock_changed.send(sender=Stock, item_ids={item_id for _, item_id in locked})
        StockChangeOutbox.objects.filter(id__in=[row_id for row_id, _ in locked]).delete()
    return len(locked)


def _record_changes(item_ids: set[int]) -> None:
    """Write the outbox rows of ``item_ids`` in this transaction and add them to its batch,
    registering the batch's one on_commit delivery when the transaction has none yet.

    The batch lives on the connection (one per thread). It is reused only while its callback is
    still queued on that connection: a commit runs it and a rollback (of the transaction, or of
    the savepoint it was queued in) drops it, and either way the next change starts a new batch.
    """
    if not item_ids:
        return
    rows = StockChangeOutbox.objects.bulk_create(
        [StockChangeOutbox(item_id=item_id) for item_id in sorted(item_ids)]
    )
    connection = transaction.get_connection()
    batch: _ChangedItems | None = getattr(connection, "_stock_changed_batch", None)
    if batch is None or batch.sent or not _is_queued(connection, batch):
        batch = _ChangedItems()
        connection._stock_changed_batch = batch
        # robust: the stock change is committed by now, and its outbox rows with it; a failing
        # delivery is logged by Django and the sweep delivers them, rather than turning a
        # successful change into an error for the caller.
        # A bound method, not the batch itself: Django names a failing robust callback by its
        # __qualname__, which an instance lacks (the error would hide the receiver's).
        transaction.on_commit(batch.send, robust=True)
    batch.row_ids.update(row.pk for row in rows)


class _ChangedItems:
    """The outbox rows one transaction wrote; delivered once, on commit."""

    def __init__(self) -> None:
        self.row_ids: set[int] = set()
        self.sent = False

    def send(self) -> None:
        self.sent = True
        _deliver(StockChangeOutbox.objects.filter(id__in=self.row_ids))


def _is_queued(connection: Any, batch: _ChangedItems) -> bool:
    # Django keeps pending callbacks as (savepoint ids, callback, robust) tuples.
    return any(getattr(entry[1], "__self__", None) is batch for entry in connection.run_on_commit)
