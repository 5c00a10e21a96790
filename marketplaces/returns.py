"""The sales return's and the refund's rules: what a return Amazon reports may be, how it is
recorded on its order, when its units go back on hand, and how a refund is recorded.

Functions take plain values (``ReturnFacts``, ``RefundFacts``), never an Amazon payload: the
connector (``marketplaces.amazon.return_sync``) maps Amazon's reports and transactions to
them. Each ``record_*`` is one transaction and never raises for bad input: it returns the
outcome with the reason, so one bad return holds up nothing else.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.db.models import Sum
from django.utils import timezone

from accounts.models import User
from marketplaces.models import (
    FulfillmentChannel,
    SalesChannel,
    SalesOrder,
    SalesOrderLine,
    SalesRefund,
    SalesRefundTax,
    SalesReturn,
    SalesReturnLine,
)
from warehouses import stock
from warehouses.models import Warehouse

# Amazon's reasons that say the unit itself is faulty: such a merchant return is never put
# back on hand without the seller looking at it first.
FAULTY_REASONS = frozenset(
    {"DEFECTIVE", "DAMAGED_BY_CARRIER", "QUALITY_UNACCEPTABLE", "NOT_AS_DESCRIBED"}
)
# FBA's detailed disposition of a unit the fulfilment centre can sell again.
SELLABLE_DISPOSITION = "SELLABLE"

UP_TO_DATE_REASON = "Already up to date: Amazon reports nothing new about it"


@dataclass(frozen=True)
class ReturnLineFacts:
    seller_sku: str
    quantity: int
    disposition: str = ""  # FBA's detailed disposition, once received


@dataclass(frozen=True)
class ReturnFacts:
    """One return as Amazon's returns report gives it."""

    amazon_return_id: str
    amazon_order_id: str
    fulfillment_channel: str  # FulfillmentChannel
    lines: tuple[ReturnLineFacts, ...]
    reason: str = ""
    requested_at: datetime | None = None
    received_at: datetime | None = None
    merchant_rma_id: str = ""
    carrier: str = ""
    tracking_id: str = ""
    fulfillment_center_id: str = ""
    customer_comments: str = ""


@dataclass(frozen=True)
class RefundFacts:
    """One Finances ``Refund`` transaction, amounts positive (what went back to the buyer)."""

    transaction_id: str
    amazon_order_id: str
    posted_at: datetime
    currency: str
    seller_sku: str = ""
    # Units refunded: 0 for a concession (a refund without a return).
    quantity: int = 0
    refund_id: str = ""
    principal: Decimal = Decimal("0")
    shipping: Decimal = Decimal("0")
    promotion: Decimal = Decimal("0")
    taxes: Mapping[str, Decimal] = field(default_factory=dict)
    fees_returned: Decimal = Decimal("0")
    seller_total: Decimal = Decimal("0")

    @property
    def tax(self) -> Decimal:
        return sum(self.taxes.values(), Decimal("0"))

    @property
    def refunded(self) -> Decimal:
        return self.principal + self.shipping + self.tax - self.promotion


@dataclass(frozen=True)
class Outcome:
    outcome: str  # SyncRecord.Outcome
    reason: str = ""
    local_object: SalesReturn | SalesRefund | None = None


def condition_for(fulfillment_channel: str, reason: str, disposition: str) -> str:
    """What the units are worth: FBA says it (its disposition, once received); a merchant
    return is presumed sellable unless Amazon's reason says the unit is faulty, and the seller
    inspects those."""
    if fulfillment_channel == FulfillmentChannel.AMAZON:
        if not disposition:
            return SalesReturnLine.Condition.TO_INSPECT
        if disposition.upper() == SELLABLE_DISPOSITION:
            return SalesReturnLine.Condition.SELLABLE
        return SalesReturnLine.Condition.DAMAGED
    if reason.upper().removeprefix("CR-") in FAULTY_REASONS:
        return SalesReturnLine.Condition.TO_INSPECT
    return SalesReturnLine.Condition.SELLABLE


def find_order(channel: SalesChannel, amazon_order_id: str) -> SalesOrder | None:
    return SalesOrder.objects.filter(channel=channel, amazon_order_id=amazon_order_id).first()


def never_imported_reason(amazon_order_id: str) -> str:
    return (
        f"Order {amazon_order_id} was never imported here, so its return or refund has no "
        "order to go on: sync the order first (Sync Manually, Orders, a period covering its "
        "purchase date), then sync returns again."
    )


def _no_fence() -> None:
    pass


def record_return(
    channel: SalesChannel, facts: ReturnFacts, *, fence: Callable[[], None] = _no_fence
) -> Outcome:
    """Create or update the return on its order; failed with the reason for a return this
    product cannot place (no such order, an SKU not on it, more units than shipped).

    ``fence`` runs first in the transaction: a sync run's ownership check, so a worker whose
    run was taken over writes nothing (it raises, and the transaction is rolled back)."""
    order = find_order(channel, facts.amazon_order_id)
    if order is None:
        return Outcome("failed", never_imported_reason(facts.amazon_order_id))
    try:
        with transaction.atomic():
            fence()
            # The order's row lock serialises two runs recording returns of the same order,
            # so the shipped-versus-returned check below holds.
            SalesOrder.objects.select_for_update().filter(id=order.id).first()
            return _record_return(channel, order, facts)
    except _Refused as refused:
        return Outcome("failed", str(refused))
    except IntegrityError as error:
        return Outcome("failed", f"The database refused this return: {error}")


class _Refused(Exception):
    pass


def _record_return(channel: SalesChannel, order: SalesOrder, facts: ReturnFacts) -> Outcome:
    lines_by_sku: dict[str, SalesOrderLine] = {}
    for line in order.lines.all():
        lines_by_sku.setdefault(line.seller_sku, line)
    existing = SalesReturn.objects.filter(
        order=order, amazon_return_id=facts.amazon_return_id
    ).first()
    wanted: list[tuple[SalesOrderLine, ReturnLineFacts]] = []
    for line_facts in facts.lines:
        found = lines_by_sku.get(line_facts.seller_sku)
        if found is None:
            raise _Refused(
                f"Return {facts.amazon_return_id} names SKU {line_facts.seller_sku}, which is "
                f"not on order {order.amazon_order_id}."
            )
        line = found
        if line_facts.quantity < 1:
            raise _Refused(
                f"Return {facts.amazon_return_id}: a return quantity must be at least 1 "
                f"(Amazon gave {line_facts.quantity} for SKU {line_facts.seller_sku})."
            )
        others = (
            SalesReturnLine.objects.filter(order_line=line)
            .exclude(sales_return__amazon_return_id=facts.amazon_return_id)
            .aggregate(units=Sum("quantity"))["units"]
            or 0
        )
        shipped = line.quantity_shipped
        if others + line_facts.quantity > shipped:
            already = f" ({others} already returned)" if others else ""
            raise _Refused(
                f"Return {facts.amazon_return_id} of order {order.amazon_order_id}: "
                f"{line_facts.quantity} units of {line.seller_sku} returned, but only "
                f"{shipped} shipped{already}."
            )
        wanted.append((line, line_facts))

    values = {
        "fulfillment_channel": facts.fulfillment_channel,
        "reason": facts.reason[:120],
        "requested_at": facts.requested_at,
        "received_at": facts.received_at,
        "merchant_rma_id": facts.merchant_rma_id[:120],
        "carrier": facts.carrier[:120],
        "tracking_id": facts.tracking_id[:120],
        "fulfillment_center_id": facts.fulfillment_center_id[:16],
        "customer_comments": facts.customer_comments,
    }
    if existing is None:
        sales_return = SalesReturn.objects.create(
            order=order,
            amazon_return_id=facts.amazon_return_id,
            status=SalesReturn.Status.RECEIVED
            if facts.received_at
            else SalesReturn.Status.REQUESTED,
            **values,
        )
        changed = True
    else:
        sales_return = existing
        changed = any(getattr(existing, name) != value for name, value in values.items())
        for name, value in values.items():
            setattr(existing, name, value)
        if existing.status == SalesReturn.Status.REQUESTED and facts.received_at:
            # Restocked stays restocked: the seller's receipt is newer than Amazon's news.
            existing.status = SalesReturn.Status.RECEIVED
            changed = True
        if changed:
            existing.save()

    current = {line.order_line_id: line for line in sales_return.lines.all()}
    for line, line_facts in wanted:
        condition = condition_for(facts.fulfillment_channel, facts.reason, line_facts.disposition)
        known = current.get(line.id)
        if known is None:
            SalesReturnLine.objects.create(
                sales_return=sales_return,
                order_line=line,
                quantity=line_facts.quantity,
                condition=condition,
                disposition=line_facts.disposition[:64],
            )
            changed = True
        elif (known.quantity, known.disposition) != (line_facts.quantity, line_facts.disposition):
            if line_facts.quantity < known.quantity_restocked + known.quantity_damaged:
                raise _Refused(
                    f"Return {facts.amazon_return_id}: Amazon now says {line_facts.quantity} "
                    f"units of {line.seller_sku}, fewer than the "
                    f"{known.quantity_restocked + known.quantity_damaged} already received."
                )
            known.quantity = line_facts.quantity
            known.disposition = line_facts.disposition[:64]
            if not known.quantity_restocked:
                known.condition = condition
            known.save(update_fields=["quantity", "disposition", "condition"])
            changed = True

    if changed:
        _link_refunds(sales_return)
        if (
            channel.restock_returns_automatically
            and sales_return.is_merchant
            and sales_return.status == SalesReturn.Status.RECEIVED
        ):
            _restock_automatically(sales_return, order)
    if not changed:
        return Outcome("skipped", UP_TO_DATE_REASON, sales_return)
    return Outcome("synced", "", sales_return)


def _restock_automatically(sales_return: SalesReturn, order: SalesOrder) -> None:
    """The channel's rule: sellable units of a return Amazon reports delivered back go on hand
    at once; one with any unit to inspect waits for the seller."""
    lines = list(sales_return.lines.select_related("order_line"))
    if any(line.condition != SalesReturnLine.Condition.SELLABLE for line in lines):
        return
    try:
        receive_return(
            sales_return,
            order.warehouse,
            {line.id: line.quantity for line in lines},
            note="Restocked automatically: the channel restocks sellable returns on receipt",
        )
    except ValidationError:
        # The seller received it meanwhile, or the order's warehouse was deactivated: the
        # return stays delivered back, for the seller to receive where they choose.
        return


def _link_refunds(sales_return: SalesReturn) -> None:
    """A return's refund may come in before the return (Finances posts it when the units are
    in, the report may list them later): refunds of its SKUs not yet linked are linked now."""
    skus = list(sales_return.lines.values_list("order_line__seller_sku", flat=True))
    SalesRefund.objects.filter(
        order_id=sales_return.order_id,
        sales_return__isnull=True,
        is_concession=False,
        seller_sku__in=skus,
    ).update(sales_return=sales_return)


def receive_return(
    sales_return: SalesReturn,
    warehouse: Warehouse,
    sellable: Mapping[int, int],
    *,
    user: User | None = None,
    note: str = "",
) -> SalesReturn:
    """The seller receives a merchant return into ``warehouse``: per return line, ``sellable``
    units go back on hand (one stock movement naming the return), the others are recorded as
    damaged and stay out. Once per return; ValidationError with the reason otherwise."""
    if not sales_return.is_merchant:
        raise ValidationError(
            "Amazon's fulfilment centre received this return: its units reach the FBA "
            "warehouse through Amazon's own counts, never by hand."
        )
    if warehouse.is_amazon:
        raise ValidationError("Receive a merchant return into one of your own warehouses.")
    if not warehouse.is_active:
        raise ValidationError(f"{warehouse.name} is inactive: choose an active warehouse.")
    with transaction.atomic():
        locked = SalesReturn.objects.select_for_update().get(id=sales_return.id)
        if locked.status == SalesReturn.Status.RESTOCKED:
            raise ValidationError(
                f"Return {locked.amazon_return_id} was already received into "
                f"{locked.restocked_into.name if locked.restocked_into else 'a warehouse'}."
            )
        lines = list(locked.lines.select_related("order_line__item"))
        unknown = set(sellable) - {line.id for line in lines}
        if unknown:
            raise ValidationError("A quantity was given for a line that is not on this return.")
        reference = f"Return {locked.amazon_return_id} of order {locked.order.amazon_order_id}"
        for line in lines:
            units = sellable.get(line.id, 0)
            if units < 0 or units > line.quantity:
                raise ValidationError(
                    f"{line.order_line.seller_sku}: between 0 and {line.quantity} sellable "
                    f"units can be received (got {units})."
                )
            if units:
                stock.return_stock(
                    line.order_line.item,
                    warehouse,
                    units,
                    reference=reference,
                    note=note or "Sellable units of a return received",
                    user=user,
                )
            line.quantity_restocked = units
            line.quantity_damaged = line.quantity - units
            line.condition = (
                SalesReturnLine.Condition.SELLABLE
                if units == line.quantity
                else SalesReturnLine.Condition.DAMAGED
            )
            line.save(update_fields=["quantity_restocked", "quantity_damaged", "condition"])
        locked.status = SalesReturn.Status.RESTOCKED
        locked.restocked_into = warehouse
        locked.restocked_at = timezone.now()
        locked.restocked_by = user
        if locked.received_at is None:
            locked.received_at = locked.restocked_at
        locked.save()
    return locked


def record_refund(
    channel: SalesChannel, facts: RefundFacts, *, fence: Callable[[], None] = _no_fence
) -> Outcome:
    """Create or update the refund on its order. Failed with the reason for an order never
    imported or a refund in another currency than the order's. ``fence`` as for returns."""
    order = find_order(channel, facts.amazon_order_id)
    if order is None:
        return Outcome("failed", never_imported_reason(facts.amazon_order_id))
    if facts.currency.upper() != order.currency.upper():
        return Outcome(
            "failed",
            f"Refund {facts.transaction_id} is in {facts.currency} but order "
            f"{order.amazon_order_id} was paid in {order.currency}: it is not recorded, as the "
            "amounts cannot be compared.",
        )
    is_concession = facts.quantity == 0
    values = {
        "refund_id": facts.refund_id[:100],
        "is_concession": is_concession,
        "posted_at": facts.posted_at,
        "currency": facts.currency.upper(),
        "seller_sku": facts.seller_sku[:200],
        "quantity": facts.quantity,
        "principal": facts.principal,
        "shipping": facts.shipping,
        "promotion": facts.promotion,
        "tax": facts.tax,
        "refunded": facts.refunded,
        "fees_returned": facts.fees_returned,
        "seller_total": facts.seller_total,
    }
    try:
        with transaction.atomic():
            fence()
            refund = SalesRefund.objects.filter(
                order=order, transaction_id=facts.transaction_id
            ).first()
            if refund is not None:
                taxes = {t.tax_name: t.amount for t in refund.taxes.all()}
                if taxes == dict(facts.taxes) and all(
                    getattr(refund, name) == value for name, value in values.items()
                ):
                    return Outcome("skipped", UP_TO_DATE_REASON, refund)
                for name, value in values.items():
                    setattr(refund, name, value)
                refund.save()
                refund.taxes.all().delete()
            else:
                refund = SalesRefund.objects.create(
                    order=order, transaction_id=facts.transaction_id, **values
                )
            SalesRefundTax.objects.bulk_create(
                SalesRefundTax(refund=refund, tax_name=name[:64], amount=amount)
                for name, amount in facts.taxes.items()
            )
            if not is_concession and refund.sales_return_id is None:
                refund.sales_return = _return_for(order, facts.seller_sku)
                if refund.sales_return is not None:
                    refund.save(update_fields=["sales_return"])
    except IntegrityError as error:
        return Outcome("failed", f"The database refused this refund: {error}")
    return Outcome("synced", "", refund)


def _return_for(order: SalesOrder, seller_sku: str) -> SalesReturn | None:
    """The order's return of this SKU still without a refund (the oldest first)."""
    return (
        SalesReturn.objects.filter(order=order, lines__order_line__seller_sku=seller_sku)
        .exclude(refunds__isnull=False)
        .order_by("requested_at", "id")
        .first()
    )


def refunded_total(refunds: Sequence[SalesRefund]) -> Decimal:
    return sum((refund.refunded for refund in refunds), Decimal("0"))
