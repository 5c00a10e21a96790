"""The sales order's rules: which Amazon orders are imported, when an order is held, how its
stock is committed, shipped and released, and its status from its lines.

Functions take the order and plain values (Amazon's status, the units Amazon counts as shipped
per line), never an Amazon payload: the connector maps Amazon's data to these values, and a
local action (a shipment, an item confirmed) calls the same rules with its own. Returns, FBA
and other marketplaces add their rules here.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from datetime import datetime
from typing import Any

from django.db import transaction

from accounts.models import User
from marketplaces.models import (
    FulfillmentChannel,
    Listing,
    SalesChannel,
    SalesOrder,
    SalesOrderLine,
    mark_for_push,
)
from warehouses import stock
from warehouses.models import Item, Organization, Warehouse
from warehouses.models import StockMovement as Movement

# Amazon's order statuses, as the rules use them.
CANCELLED = "CANCELLED"
SHIPPED = "SHIPPED"
CONFIRMED_STATUSES = {"UNSHIPPED", "PARTIALLY_SHIPPED"}
FULFILLED_STATUSES = {SHIPPED}
NEVER_IMPORTED = {"PENDING", "PENDING_AVAILABILITY"}


def importable_statuses(organization: Organization) -> set[str]:
    if organization.order_sync_preference == Organization.OrderSyncPreference.CONFIRMED:
        return set(CONFIRMED_STATUSES)
    return CONFIRMED_STATUSES | FULFILLED_STATUSES


# Why a run fetched an order and did not import it: each a sync record of its own, grouped by
# these words on the run's page. The run's other skip is UP_TO_DATE (seen again, unchanged).
PENDING_REASON = "Pending at Amazon: imported once Amazon has the buyer's payment"
SHIPPED_REASON = 'Shipped before it was ever imported, and the order preference is "Confirmed only"'
CANCELLED_REASON = "Cancelled at Amazon before it was ever imported"
UP_TO_DATE_REASON = "Already up to date: nothing changed at Amazon since it was imported"


def skip_reason(organization: Organization, amazon_status: str) -> str | None:
    """``None``: a new order in this Amazon status is imported. Otherwise why it is not."""
    if amazon_status in NEVER_IMPORTED:
        return PENDING_REASON
    if amazon_status not in importable_statuses(organization):
        if amazon_status in FULFILLED_STATUSES:
            return SHIPPED_REASON
        if amazon_status == CANCELLED:
            return CANCELLED_REASON
        return f"Amazon status {amazon_status} is not imported"
    return None


def warehouse_for(channel: SalesChannel, organization: Organization) -> Warehouse:
    """Where a new order of the channel takes its stock from."""
    warehouse = channel.mapped_warehouse or organization.primary_warehouse
    if warehouse is None:
        raise ValueError(
            "No primary warehouse is set: choose one in Settings › Organization, then "
            "re-initiate this sync."
        )
    return warehouse


def hold_for_unconfirmed_items(order: SalesOrder, lines: Sequence[SalesOrderLine]) -> bool:
    """Put a new order on hold (in memory) while any of its items is unconfirmed."""
    unconfirmed = sorted({line.item.sku for line in lines if not line.item.is_confirmed})
    if not unconfirmed:
        return False
    order.status = SalesOrder.Status.ON_HOLD
    order.hold_reason = "Waiting for unconfirmed items: " + ", ".join(unconfirmed)
    return True


def plan_new_order(
    order: SalesOrder,
    lines: Sequence[SalesOrderLine],
    shipped_units: Sequence[int],
    *,
    shipped_at: datetime,
) -> list[stock.OrderStockChange]:
    """A new confirmed order built in memory: set each line's shipped and committed units and
    the order's status, and return the stock changes to write with it (as ``apply_amazon_status``
    would, for lines that hold nothing yet)."""
    changes: list[stock.OrderStockChange] = []
    merchant = order.fulfillment_channel == FulfillmentChannel.MERCHANT
    for line, amazon_shipped in zip(lines, shipped_units, strict=True):
        if not merchant:
            # Amazon-fulfilled orders ship from Amazon's warehouse, not ours: no stock moves.
            line.quantity_shipped = max(0, amazon_shipped)
            continue
        if amazon_shipped > 0:
            changes.append(
                _stock_change(order, line, Movement.Kind.SHIP, amazon_shipped, from_committed=False)
            )
            line.quantity_shipped = amazon_shipped
        still_to_ship = line.quantity_open
        if still_to_ship > 0:
            changes.append(_stock_change(order, line, Movement.Kind.COMMIT, still_to_ship))
        elif still_to_ship < 0:
            changes.append(_stock_change(order, line, Movement.Kind.RELEASE, -still_to_ship))
        line.stock_committed = still_to_ship
    status_from_lines(order, lines, shipped_at=shipped_at)
    return changes


def _stock_change(
    order: SalesOrder,
    line: SalesOrderLine,
    kind: str,
    quantity: int,
    *,
    from_committed: bool = True,
) -> stock.OrderStockChange:
    return stock.OrderStockChange(
        item_id=line.item_id,
        warehouse_id=order.warehouse_id,
        kind=kind,
        quantity=quantity,
        reference=order.amazon_order_id,
        from_committed=from_committed,
    )


def lock_lines(order: SalesOrder) -> list[SalesOrderLine]:
    return list(order.lines.select_related("item").select_for_update(of=("self",)))


def apply_amazon_status(
    order: SalesOrder,
    amazon_status: str,
    lines: Sequence[SalesOrderLine],
    shipped_units: Sequence[int],
    *,
    shipped_at: datetime,
    cancelled_units: Sequence[int] | None = None,
) -> None:
    """Bring local stock and status in line with Amazon's for a confirmed order.

    ``lines``: the order's lines, locked (``lock_lines``) or just created; ``shipped_units``:
    for each, the units Amazon counts as shipped; ``cancelled_units``: the units Amazon counts
    as cancelled (a line the seller cancelled); ``shipped_at``: when Amazon shipped it.
    """
    if amazon_status == CANCELLED:
        cancel(order)
        return
    if order.status == SalesOrder.Status.CANCELLED:
        return
    merchant = order.fulfillment_channel == FulfillmentChannel.MERCHANT
    for line, amazon_cancelled in zip(lines, cancelled_units or [0] * len(lines), strict=True):
        # Units cancelled here already (the seller's cancellation) are not released twice
        # when Amazon reports them: only a cancellation Amazon knows of and we did not counts.
        if amazon_cancelled > line.quantity_cancelled:
            line.quantity_cancelled = min(amazon_cancelled, line.quantity - line.quantity_shipped)
            line.save(update_fields=["quantity_cancelled"])
    for line, amazon_shipped in zip(lines, shipped_units, strict=True):
        # Amazon-fulfilled orders ship from Amazon's warehouse, not ours: no local stock moves.
        if merchant:
            ship_line(order, line, max(0, amazon_shipped - line.quantity_shipped))
            commit_line(order, line)
        elif amazon_shipped > line.quantity_shipped:
            line.quantity_shipped = amazon_shipped
            line.save(update_fields=["quantity_shipped"])
    before = (order.status, order.shipped_at, order.hold_reason, order.buyer_cancel_request)
    status_from_lines(order, lines, shipped_at=shipped_at)
    if (order.status, order.shipped_at, order.hold_reason, order.buyer_cancel_request) != before:
        order.save(
            update_fields=[
                "status",
                "shipped_at",
                "hold_reason",
                "buyer_cancel_request",
                "updated_at",
            ]
        )


def commit_line(order: SalesOrder, line: SalesOrderLine, *, user: User | None = None) -> None:
    """Hold exactly the units still to ship (neither shipped nor cancelled)."""
    wanted = line.quantity_open
    difference = wanted - line.stock_committed
    reference = order.amazon_order_id
    if difference > 0:
        stock.commit_stock(line.item, order.warehouse, difference, reference=reference, user=user)
    elif difference < 0:
        stock.release_stock(line.item, order.warehouse, -difference, reference=reference, user=user)
    if difference:
        line.stock_committed = wanted
        line.save(update_fields=["stock_committed"])


def ship_line(
    order: SalesOrder, line: SalesOrderLine, quantity: int, *, user: User | None = None
) -> None:
    """Move ``quantity`` units of a line out of the order's warehouse: first the units the line
    holds committed, then any beyond (shipped without having been committed)."""
    if quantity <= 0:
        return
    from_committed = min(quantity, line.stock_committed)
    reference = order.amazon_order_id
    if from_committed:
        stock.ship_stock(line.item, order.warehouse, from_committed, reference=reference, user=user)
    if quantity - from_committed:
        stock.ship_stock(
            line.item,
            order.warehouse,
            quantity - from_committed,
            reference=reference,
            from_committed=False,
            user=user,
        )
    line.quantity_shipped += quantity
    line.stock_committed -= from_committed
    line.save(update_fields=["quantity_shipped", "stock_committed"])


def cancel(order: SalesOrder) -> None:
    """Cancelled: the units it still holds go back to available, once (a cancelled order is
    never cancelled again, whoever reports it)."""
    if order.status == SalesOrder.Status.CANCELLED:
        return
    for line in order.lines.select_related("item").select_for_update(of=("self",)):
        if line.stock_committed:
            stock.release_stock(
                line.item, order.warehouse, line.stock_committed, reference=order.amazon_order_id
            )
            line.stock_committed = 0
        line.quantity_cancelled = line.quantity - line.quantity_shipped
        line.save(update_fields=["stock_committed", "quantity_cancelled"])
    order.status = SalesOrder.Status.CANCELLED
    order.hold_reason = ""
    if order.buyer_cancel_request == SalesOrder.CancelRequest.OPEN:
        order.buyer_cancel_request = SalesOrder.CancelRequest.CANCELLED
    order.save(update_fields=["status", "hold_reason", "buyer_cancel_request", "updated_at"])
    amazon_moved_its_quantity(order)


def cancel_lines(
    order: SalesOrder,
    units: Sequence[tuple[SalesOrderLine, int]],
    *,
    user: User | None = None,
) -> None:
    """The seller cancels these units of a merchant order (each at most the line's open
    units; the lines locked by the caller): their committed stock is released, and the order
    is cancelled when nothing is left to ship, shipped when the rest has shipped, else keeps
    its status."""
    held = order.status == SalesOrder.Status.ON_HOLD  # holds no stock: nothing to release
    for line, quantity in units:
        if quantity <= 0:
            continue
        line.quantity_cancelled += quantity
        line.save(update_fields=["quantity_cancelled"])
        if not held:
            commit_line(order, line, user=user)
    if order.buyer_cancel_request == SalesOrder.CancelRequest.OPEN:
        order.buyer_cancel_request = SalesOrder.CancelRequest.CANCELLED
    lines = list(order.lines.all())
    if all(line.quantity_open == 0 for line in lines) and not any(
        line.quantity_shipped for line in lines
    ):
        order.status = SalesOrder.Status.CANCELLED
    elif not held:
        status_from_lines(order, lines, shipped_at=order.shipped_at or order.amazon_updated_at)
    order.save(
        update_fields=["status", "shipped_at", "hold_reason", "buyer_cancel_request", "updated_at"]
    )
    # Amazon puts cancelled units back in the listing's quantity itself.
    amazon_moved_its_quantity(order, {line.item_id for line, quantity in units if quantity > 0})


def reopen_lines(order: SalesOrder, units: Sequence[tuple[SalesOrderLine, int]]) -> None:
    """Amazon refused the seller's cancellation: the units are the order's to ship again and
    their stock is committed again; a buyer's request the cancellation answered is open again."""
    held = bool(order.hold_reason)  # an order cancelled while on hold goes back on hold
    for line, quantity in units:
        line.quantity_cancelled = max(0, line.quantity_cancelled - quantity)
        line.save(update_fields=["quantity_cancelled"])
        if not held:
            commit_line(order, line)
    if held:
        order.status = SalesOrder.Status.ON_HOLD
    else:
        status_from_lines(
            order, list(order.lines.all()), shipped_at=order.shipped_at or order.amazon_updated_at
        )
    if order.buyer_cancel_request == SalesOrder.CancelRequest.CANCELLED and any(
        line.buyer_cancel_requested for line, _ in units
    ):
        order.buyer_cancel_request = SalesOrder.CancelRequest.OPEN
    order.save(
        update_fields=["status", "shipped_at", "hold_reason", "buyer_cancel_request", "updated_at"]
    )
    amazon_moved_its_quantity(order, {line.item_id for line, _ in units})


def note_buyer_cancel_request(order: SalesOrder, reason: str, at: datetime) -> None:
    """Amazon marks the order with the buyer's cancellation request (in memory; the caller
    saves). Seen once: what the seller did about it stands when Amazon repeats it."""
    if order.buyer_cancel_request:
        return
    order.buyer_cancel_requested_at = at
    order.buyer_cancel_reason = reason[:500]
    if order.status == SalesOrder.Status.CANCELLED:
        order.buyer_cancel_request = SalesOrder.CancelRequest.CANCELLED
    elif order.status in (SalesOrder.Status.SHIPPED, SalesOrder.Status.PARTIALLY_SHIPPED):
        order.buyer_cancel_request = SalesOrder.CancelRequest.DECLINED
    else:
        order.buyer_cancel_request = SalesOrder.CancelRequest.OPEN


def decline_cancel_request_when_shipped(order: SalesOrder) -> None:
    """Shipping answers a buyer's open cancellation request: declined (in memory)."""
    if order.buyer_cancel_request == SalesOrder.CancelRequest.OPEN and order.status in (
        SalesOrder.Status.SHIPPED,
        SalesOrder.Status.PARTIALLY_SHIPPED,
    ):
        order.buyer_cancel_request = SalesOrder.CancelRequest.DECLINED


def amazon_moved_its_quantity(order: SalesOrder, item_ids: set[int] | None = None) -> None:
    """Amazon lowers a merchant listing's quantity itself when an order is placed and raises
    it again when the order is cancelled: what we last pushed no longer says what Amazon lists.
    Forget it and queue the listing, so the next push sends our quantity even when it equals
    the last one pushed (an oversold SKU stays at 0 here while a cancellation put it back above
    0 on Amazon)."""
    if order.fulfillment_channel != FulfillmentChannel.MERCHANT:
        return
    forget_pushed_quantities(
        order.channel_id, order.lines.values("item_id") if item_ids is None else item_ids
    )


def forget_pushed_quantities(channel_id: int, item_ids: Collection[int] | Any) -> None:
    """``item_ids``: a set, or a subquery of them. See ``amazon_moved_its_quantity``."""
    if not item_ids:
        return
    mark_for_push(
        Listing.objects.filter(
            channel_id=channel_id,
            fulfillment_channel=FulfillmentChannel.MERCHANT,
            item_id__in=item_ids,
        ),
        forget_pushed=True,
    )


def status_from_lines(
    order: SalesOrder, lines: Sequence[SalesOrderLine], *, shipped_at: datetime
) -> None:
    """Shipped, partially shipped or confirmed, from the lines' shipped units (in memory);
    cancelled units are not wanted."""
    shipped = sum(line.quantity_shipped for line in lines)
    wanted = sum(line.quantity - line.quantity_cancelled for line in lines)
    if wanted and shipped >= wanted:
        order.status = SalesOrder.Status.SHIPPED
        order.shipped_at = order.shipped_at or shipped_at
    elif shipped:
        order.status = SalesOrder.Status.PARTIALLY_SHIPPED
    else:
        order.status = SalesOrder.Status.CONFIRMED
    order.hold_reason = ""
    decline_cancel_request_when_shipped(order)


def release_held_orders(item: Item) -> int:
    """After an item is confirmed or linked: orders waiting only for it commit their stock,
    as Amazon last described them (its status, the units its lines had shipped)."""
    released = 0
    held = SalesOrder.objects.filter(status=SalesOrder.Status.ON_HOLD, lines__item=item).distinct()
    for order in held:
        with transaction.atomic():
            locked = SalesOrder.objects.select_for_update().get(id=order.id)
            if locked.status != SalesOrder.Status.ON_HOLD:
                continue
            if locked.lines.filter(item__status=Item.Status.UNCONFIRMED).exists():
                continue
            lines = lock_lines(locked)
            shipped_on_amazon = locked.amazon_status == SHIPPED
            apply_amazon_status(
                locked,
                locked.amazon_status,
                lines,
                [line.quantity if shipped_on_amazon else line.quantity_shipped for line in lines],
                shipped_at=locked.amazon_updated_at,
            )
            released += 1
    return released
