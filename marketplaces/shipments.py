"""Shipments: stock out locally, tracking to Amazon for merchant-fulfilled orders."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import User
from marketplaces import jobs
from marketplaces.models import FulfillmentChannel, SalesOrder, Shipment
from marketplaces.orders import decline_cancel_request_when_shipped, ship_line

# Amazon's carrier codes most used from Canada; "Other" needs a carrier name.
# Reference: https://developer-docs.amazon.com/sp-api/docs/carriercode-values
CARRIERS = [
    ("Canada Post", "Canada Post"),
    ("Purolator", "Purolator"),
    ("UPS", "UPS"),
    ("FedEx", "FedEx"),
    ("DHL", "DHL"),
    ("Canpar", "Canpar"),
    ("Loomis Express", "Loomis Express"),
    ("Intelcom", "Intelcom"),
    ("Other", "Other"),
]
CARRIER_CODES = {code for code, _ in CARRIERS}


@dataclass(frozen=True)
class ShipmentRequest:
    carrier_code: str
    tracking_number: str
    ship_date: datetime
    quantities: dict[int, int]  # order line id -> units in this package
    carrier_name: str = ""
    shipping_method: str = ""


def create_shipment(
    order: SalesOrder, request: ShipmentRequest, *, user: User | None = None
) -> Shipment:
    """Record a package: stock leaves the warehouse now; Amazon hears of it after commit."""
    errors = _validate(order, request)
    if errors:
        raise ValidationError(errors)
    with transaction.atomic():
        order = SalesOrder.objects.select_for_update().get(id=order.id)
        if order.status in (SalesOrder.Status.CANCELLED, SalesOrder.Status.ON_HOLD):
            raise ValidationError(f"A {order.get_status_display().lower()} order cannot ship.")
        lines = {line.id: line for line in order.lines.select_for_update().select_related("item")}
        for line_id, quantity in request.quantities.items():
            line = lines.get(line_id)
            if line is None:
                raise ValidationError(f"Line {line_id} is not a line of this order.")
            if quantity > line.quantity_open:
                raise ValidationError(f"{line.seller_sku}: only {line.quantity_open} left to ship.")
        merchant = order.fulfillment_channel == FulfillmentChannel.MERCHANT
        shipment = Shipment.objects.create(
            order=order,
            package_reference_id=uuid.uuid4().hex[:12],
            carrier_code=request.carrier_code,
            carrier_name=request.carrier_name,
            shipping_method=request.shipping_method,
            tracking_number=request.tracking_number.strip(),
            ship_date=request.ship_date,
            amazon_status=(
                Shipment.AmazonStatus.PENDING if merchant else Shipment.AmazonStatus.NOT_SENT
            ),
            created_by=user,
        )
        for line_id, quantity in request.quantities.items():
            if quantity <= 0:
                continue
            line = lines[line_id]
            shipment.lines.create(order_line=line, quantity=quantity)
            if merchant:
                ship_line(order, line, quantity, user=user)
        _update_order_status(order)
        if merchant:
            jobs.enqueue(jobs.PUSH_SHIPMENTS_SOON, order.channel_id)
    return shipment


def correct_tracking(shipment: Shipment, tracking_number: str) -> Shipment:
    """Fix the tracking number of a shipment Amazon rejected, before sending it again."""
    if shipment.amazon_status != Shipment.AmazonStatus.REJECTED:
        raise ValidationError("Only a shipment Amazon rejected can be corrected.")
    problem = tracking_problem(tracking_number)
    if problem:
        raise ValidationError(problem)
    Shipment.objects.filter(id=shipment.id).update(tracking_number=tracking_number.strip())
    shipment.refresh_from_db()
    return shipment


# Shipment.tracking_number's length, and more than any carrier's tracking numbers need.
TRACKING_NUMBER_MAX_LENGTH = 120


def tracking_problem(tracking_number: str) -> str:
    """Why a tracking number cannot be sent to Amazon, or "" when it can."""
    tracking_number = tracking_number.strip()
    if not tracking_number:
        return "Enter the tracking number."
    if len(tracking_number) > TRACKING_NUMBER_MAX_LENGTH:
        return f"A tracking number has at most {TRACKING_NUMBER_MAX_LENGTH} characters."
    # A NUL or a line break would be sent to Amazon as it is (and PostgreSQL refuses a NUL).
    if not tracking_number.isprintable():
        return "A tracking number holds letters, digits and punctuation only."
    return ""


def retry_confirmation(shipment: Shipment) -> Shipment:
    """After fixing what Amazon rejected (e.g. the tracking number), send it again."""
    if shipment.amazon_status != Shipment.AmazonStatus.REJECTED:
        raise ValidationError("Only a shipment Amazon rejected can be sent again.")
    Shipment.objects.filter(id=shipment.id).update(
        amazon_status=Shipment.AmazonStatus.PENDING, amazon_error=""
    )
    jobs.enqueue(jobs.PUSH_SHIPMENTS_SOON, shipment.order.channel_id)
    shipment.refresh_from_db()
    return shipment


def _validate(order: SalesOrder, request: ShipmentRequest) -> dict[str, str]:
    errors: dict[str, str] = {}
    if request.carrier_code not in CARRIER_CODES:
        errors["carrier_code"] = "Choose a carrier from the list."
    if request.carrier_code == "Other" and not request.carrier_name.strip():
        errors["carrier_name"] = "Name the carrier when it is “Other”."
    problem = tracking_problem(request.tracking_number)
    if problem:
        errors["tracking_number"] = problem
    if request.ship_date > timezone.now() + timedelta(days=1):
        errors["ship_date"] = "The ship date cannot be in the future."
    if request.ship_date < order.purchased_at - timedelta(days=1):
        errors["ship_date"] = "The ship date is before the order was placed."
    if not any(quantity > 0 for quantity in request.quantities.values()):
        errors["__all__"] = "Put at least one unit in the package."
    if any(quantity < 0 for quantity in request.quantities.values()):
        errors["__all__"] = "Quantities cannot be negative."
    return errors


def _update_order_status(order: SalesOrder) -> None:
    lines = list(order.lines.all())
    if all(line.quantity_open <= 0 for line in lines):
        order.status = SalesOrder.Status.SHIPPED
        order.shipped_at = order.shipped_at or timezone.now()
    else:
        order.status = SalesOrder.Status.PARTIALLY_SHIPPED
    decline_cancel_request_when_shipped(order)
    order.save(update_fields=["status", "shipped_at", "buyer_cancel_request", "updated_at"])
