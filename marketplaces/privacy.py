"""Buyers' personal data (Amazon's Data Protection Policy): who may see it, what the
others see instead, and its erasure 30 days after delivery.

Who sees it unmasked: admins, and staff granted the ``accounts.view_personal_data`` permission
(Django admin → Users → "Can see buyers' personal data unmasked", saved and audited by
``accounts.services.do_set_personal_data_permission``). Every unmasked view writes an audit
event.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from celery import shared_task
from django.db import transaction
from django.db.models import Q
from django.http import HttpRequest
from django.utils import timezone

from accounts import audit
from marketplaces.models import SalesOrder

logger = logging.getLogger(__name__)

PERSONAL_FIELDS = ("buyer_name", "buyer_email", "buyer_phone", "shipping_address")
PERMISSION = "accounts.view_personal_data"
# Amazon: delete personal data within 30 days after the order is delivered.
ERASE_AFTER = timedelta(days=30)
ERASE_BATCH = 500
MASK = "•••••"


def can_view_personal_data(user: Any) -> bool:
    if user is None or not getattr(user, "is_authenticated", False):
        return False
    if not getattr(user, "is_active", False):
        return False
    return bool(getattr(user, "is_org_admin", False) or user.has_perm(PERMISSION))


def _plain(value: Any) -> str:
    return str(value or "")


def masked(value: Any) -> str:
    """Shows that a value exists, not what it is: "Émilie Tremblay" → "É•••••"."""
    text = str(value or "").strip()
    return f"{text[0]}{MASK}" if text else ""


def buyer_details(
    order: SalesOrder, user: Any, request: HttpRequest | None = None
) -> dict[str, Any]:
    """What the order page shows of the buyer for this user.

    Same shape for everyone: ``name``, ``email``, ``phone``, ``address`` (a list of
    (field, value) pairs), ``revealed`` (unmasked?) and ``erased`` (when it was erased, or None).
    Showing unmasked data writes a ``personal-data-viewed`` audit event.
    """
    erased_at = order.personal_data_erased_at
    reveal = can_view_personal_data(user) and erased_at is None
    show: Callable[[Any], str] = _plain if reveal else masked
    address = order.shipping_address if isinstance(order.shipping_address, dict) else {}
    details = {
        "name": show(order.buyer_name),
        "email": show(order.buyer_email),
        "phone": show(order.buyer_phone),
        "address": [
            (key, show(value)) for key, value in address.items() if value not in (None, "")
        ],
        "revealed": reveal,
        "erased": erased_at,
    }
    has_data = any((details["name"], details["email"], details["phone"], details["address"]))
    if reveal and has_data:
        audit.record(
            request if request is not None else user,
            "personal-data-viewed",
            target=("marketplaces.SalesOrder", order.pk, order.amazon_order_id),
            detail={"fields": [field for field in PERSONAL_FIELDS if getattr(order, field)]},
        )
    return details


def erasable(now: datetime) -> Any:
    """Orders whose personal data is due: 30 days after delivery, or after shipment where Amazon
    gave no delivery date. Orders never shipped keep theirs (they are still to fulfil)."""
    cutoff = now - ERASE_AFTER
    return SalesOrder.objects.filter(personal_data_erased_at__isnull=True).filter(
        Q(delivered_at__lt=cutoff) | Q(delivered_at__isnull=True, shipped_at__lt=cutoff)
    )


def erase_personal_data(now: datetime | None = None) -> int:
    """Blank the buyer's name, e-mail, phone and address of every due order, in batches.

    Lines, amounts and taxes stay. Idempotent: erased orders are marked and skipped.
    """
    now = now or timezone.now()
    erased = 0
    while True:
        ids = list(erasable(now).order_by("id").values_list("id", flat=True)[:ERASE_BATCH])
        if not ids:
            break
        with transaction.atomic():
            erased += SalesOrder.objects.filter(
                id__in=ids, personal_data_erased_at__isnull=True
            ).update(
                buyer_name="",
                buyer_email="",
                buyer_phone="",
                shipping_address=None,
                personal_data_erased_at=now,
            )
    if erased:
        logger.info("Personal data of %s sales orders erased", erased)
        audit.record(None, "personal-data-erased", detail={"orders": erased})
    return erased


@shared_task
def erase_personal_data_task() -> int:
    """Daily (CELERY_BEAT_SCHEDULE "erase-personal-data")."""
    return erase_personal_data()
