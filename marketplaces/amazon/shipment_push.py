"""Shipment confirmations out to Amazon (confirmShipment, Orders v0).

Each pending shipment is claimed with a conditional UPDATE (pending → sending), so two workers
never send the same one. When the answer is lost (a timeout, a dead worker) the shipment stays
"sending": Amazon may or may not have it. Only one shipment run per channel is active at a
time, so every "sending" shipment a run finds is such a leftover, and the run asks Amazon
whether the package is there (getOrder's packages) before sending it again. No confirmation is
sent twice.

The same run then sends the seller's cancellations (``cancellation_push``): both tell Amazon
what the seller did to an order, and both wait for nothing else.
"""

from __future__ import annotations

from datetime import UTC

from django.db import transaction
from django.utils import timezone

from marketplaces.amazon import cancellation_push
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.errors import AmazonRejected
from marketplaces.models import Shipment
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun


def push_shipments(run: SyncRun, client: AmazonClient) -> None:
    channel = run.channel
    for shipment in Shipment.objects.filter(
        order__channel=channel, amazon_status=Shipment.AmazonStatus.SENDING
    ).select_related("order"):
        if client.package_confirmed(shipment.order.amazon_order_id, shipment.package_reference_id):
            _accepted(run, shipment)
        else:
            with transaction.atomic():
                history.heartbeat(run)
                Shipment.objects.filter(
                    id=shipment.id, amazon_status=Shipment.AmazonStatus.SENDING
                ).update(amazon_status=Shipment.AmazonStatus.PENDING)
    pending = list(
        Shipment.objects.filter(
            order__channel=channel, amazon_status=Shipment.AmazonStatus.PENDING
        ).select_related("order")
    )
    history.heartbeat(run, done=0, total=len(pending))
    for done, shipment in enumerate(pending, start=1):
        with transaction.atomic():
            history.heartbeat(run)  # nothing is confirmed for a run taken over meanwhile
            claimed = Shipment.objects.filter(
                id=shipment.id, amazon_status=Shipment.AmazonStatus.PENDING
            ).update(
                amazon_status=Shipment.AmazonStatus.SENDING, amazon_attempted_at=timezone.now()
            )
        if not claimed:
            continue
        try:
            client.confirm_shipment(shipment.order.amazon_order_id, package_detail(shipment))
        except AmazonRejected as rejected:
            with transaction.atomic():
                history.heartbeat(run)
                Shipment.objects.filter(id=shipment.id).update(
                    amazon_status=Shipment.AmazonStatus.REJECTED, amazon_error=rejected.reason
                )
                history.record(
                    run,
                    SyncRecord.RecordType.SHIPMENT,
                    shipment.order.amazon_order_id,
                    "failed",
                    reason=f"Amazon rejected the shipment ({shipment.tracking_number}): "
                    f"{rejected.reason}",
                    local_object=shipment,
                )
        else:
            _accepted(run, shipment)
        history.heartbeat(run, done=done)
    cancellation_push.push_cancellations(run, client)


def _accepted(run: SyncRun, shipment: Shipment) -> None:
    with transaction.atomic():
        history.heartbeat(run)  # a run taken over leaves the shipment to its new owner
        Shipment.objects.filter(id=shipment.id).update(
            amazon_status=Shipment.AmazonStatus.ACCEPTED,
            amazon_error="",
            confirmed_at=timezone.now(),
        )
        history.record(
            run,
            SyncRecord.RecordType.SHIPMENT,
            shipment.order.amazon_order_id,
            "synced",
            local_object=shipment,
        )


def package_detail(shipment: Shipment) -> dict[str, object]:
    """confirmShipment's packageDetail. carrierCode is always set (mandatory in Canada)."""
    detail: dict[str, object] = {
        "packageReferenceId": shipment.package_reference_id,
        "carrierCode": shipment.carrier_code,
        "trackingNumber": shipment.tracking_number,
        "shipDate": shipment.ship_date.astimezone(UTC).isoformat().replace("+00:00", "Z"),
        "orderItems": [
            {"orderItemId": line.order_line.amazon_order_item_id, "quantity": line.quantity}
            for line in shipment.lines.select_related("order_line")
        ],
    }
    if shipment.carrier_code == "Other":
        detail["carrierName"] = shipment.carrier_name
    if shipment.shipping_method:
        detail["shippingMethod"] = shipment.shipping_method
    return detail
