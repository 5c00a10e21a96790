"""The seller cancels an unshipped merchant order, or some of its lines: committed stock is
released at once (a stock movement naming the order), the cancellation is recorded (who,
when, Amazon's reason, the lines) and, after commit, the shipments run tells Amazon through
the order acknowledgement feed (``marketplaces/amazon/cancellation_push.py``)."""

from __future__ import annotations

from dataclasses import dataclass

from django.core.exceptions import ValidationError
from django.db import transaction

from accounts.models import User
from marketplaces import jobs
from marketplaces import orders as order_rules
from marketplaces.models import FulfillmentChannel, SalesOrder, SellerCancellation

# Amazon's CancelReason values of the order acknowledgement feed (OrderAcknowledgement.xsd),
# with the words the seller chooses from.
CANCEL_REASONS = [
    ("NoInventory", "No inventory"),
    ("ShippingAddressUndeliverable", "Shipping address undeliverable"),
    ("CustomerExchange", "Customer exchange"),
    ("BuyerCanceled", "Buyer cancelled"),
    ("GeneralAdjustment", "General adjustment"),
    ("CarrierCreditDecision", "Carrier credit decision"),
    ("RiskAssessmentInformationNotValid", "Risk assessment information not valid"),
    ("CarrierCoverageFailure", "Carrier coverage failure"),
    ("CustomerReturn", "Customer return"),
    ("MerchandiseNotReceived", "Merchandise not received"),
]
CANCEL_REASON_CODES = {code for code, _ in CANCEL_REASONS}


@dataclass(frozen=True)
class CancellationRequest:
    reason: str
    quantities: dict[int, int]  # order line id -> units to cancel


def refusal(order: SalesOrder) -> str:
    """Why this order cannot be cancelled by the seller, or "" when it can."""
    if order.fulfillment_channel != FulfillmentChannel.MERCHANT:
        return (
            "Amazon fulfils this order (FBA): only Amazon or the buyer can cancel it, "
            "from Seller Central."
        )
    if order.status == SalesOrder.Status.CANCELLED:
        return "This order is already cancelled."
    if order.status == SalesOrder.Status.SHIPPED:
        return "A shipped order cannot be cancelled: its units have left the warehouse."
    return ""


def cancel_order(
    order: SalesOrder, request: CancellationRequest, *, user: User | None = None
) -> SellerCancellation:
    """Cancel the chosen lines now; Amazon hears of it after commit."""
    if request.reason not in CANCEL_REASON_CODES:
        raise ValidationError({"reason": "Choose one of Amazon's cancellation reasons."})
    if any(quantity < 0 for quantity in request.quantities.values()):
        raise ValidationError("Quantities cannot be negative.")
    if not any(quantity > 0 for quantity in request.quantities.values()):
        raise ValidationError("Choose at least one line to cancel.")
    with transaction.atomic():
        order = SalesOrder.objects.select_for_update().get(id=order.id)
        problem = refusal(order)
        if problem:
            raise ValidationError(problem)
        lines = {line.id: line for line in order_rules.lock_lines(order)}
        units = []
        for line_id, quantity in request.quantities.items():
            line = lines.get(line_id)
            if line is None:
                raise ValidationError(f"Line {line_id} is not a line of this order.")
            if quantity == 0:
                continue
            if quantity > line.quantity_open:
                raise ValidationError(
                    f"{line.seller_sku}: only {line.quantity_open} left to ship, so at most "
                    f"{line.quantity_open} can be cancelled."
                )
            if quantity < line.quantity_open:
                # OrderAcknowledgement names items, not units: Amazon cancels all a line has
                # not shipped, so fewer would leave Amazon and the product disagreeing.
                raise ValidationError(
                    f"{line.seller_sku}: Amazon cancels a line's unshipped units together: "
                    f"cancel all {line.quantity_open} or none."
                )
            units.append((line, quantity))
        cancellation = SellerCancellation.objects.create(
            order=order, reason=request.reason, created_by=user
        )
        cancellation.lines.bulk_create(
            [
                cancellation.lines.model(cancellation=cancellation, order_line=line, quantity=q)
                for line, q in units
            ]
        )
        order_rules.cancel_lines(order, units, user=user)
        jobs.enqueue(jobs.PUSH_SHIPMENTS_SOON, order.channel_id)
    return cancellation
