"""Amazon's returns reports and Finances transactions, read into the domain's plain values.

Every reader returns what it could read and, separately, what it could not (an id and the
reason): one unreadable row or transaction is a failed record, never the run's failure.
"""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal, InvalidOperation
from typing import Any

from marketplaces.amazon.errors import AmazonPayloadError
from marketplaces.amazon.types import MAX_AMOUNT, _identifier, _text, parse_time
from marketplaces.models import FulfillmentChannel
from marketplaces.returns import RefundFacts, ReturnFacts, ReturnLineFacts

MERCHANT_RETURNS_REPORT = "GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE"
FBA_RETURNS_REPORT = "GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA"

Unreadable = list[tuple[str, str]]


def _rows(text: str, required: str, what: str) -> list[tuple[int, dict[str, str]]]:
    lines = text.splitlines()
    if not lines:
        raise AmazonPayloadError(f"the {what} is empty")
    header = [column.strip() for column in lines[0].lstrip("\ufeff").split("\t")]
    if required not in header:
        raise AmazonPayloadError(f"the {what} has no {required!r} column")
    return [
        (number, dict(zip(header, line.split("\t"), strict=False)))
        for number, line in enumerate(lines[1:], start=2)
        if line.strip()
    ]


def _report_time(row: dict[str, str], column: str) -> datetime | None:
    """A report's date or time. Amazon publishes no sample of these files: a value without a
    time zone (a bare date) is taken as UTC rather than refused."""
    text = (row.get(column) or "").strip()
    if not text:
        return None
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise AmazonPayloadError(f"{column} is not an ISO 8601 time: {text!r}") from None
    return moment if moment.tzinfo else moment.replace(tzinfo=UTC)


def _quantity(row: dict[str, str], column: str) -> int:
    text = (row.get(column) or "").strip()
    try:
        return int(text)
    except ValueError:
        raise AmazonPayloadError(f"{column} is not a whole number: {text!r}") from None


def parse_merchant_returns(text: str) -> tuple[list[ReturnFacts], Unreadable]:
    """GET_FLAT_FILE_RETURNS_DATA_BY_RETURN_DATE: one row per SKU of an Amazon RMA; the rows
    of one RMA are one return."""
    grouped: dict[tuple[str, str], list[dict[str, str]]] = {}
    bad: Unreadable = []
    for number, row in _rows(text, "Order ID", "merchant returns report"):
        order_id = (row.get("Order ID") or "").strip()
        rma = (row.get("Amazon RMA ID") or "").strip()
        if not order_id or not rma:
            bad.append(
                (order_id or rma or f"row {number}", f"row {number}: no Order ID or Amazon RMA ID")
            )
            continue
        grouped.setdefault((order_id, rma), []).append(row)
    returns: list[ReturnFacts] = []
    for (order_id, rma), rows in grouped.items():
        try:
            returns.append(_merchant_return(order_id, rma, rows))
        except (AmazonPayloadError, ValueError) as error:
            bad.append((rma, f"unreadable report row: {error}"))
    return returns, bad


def _merchant_return(order_id: str, rma: str, rows: list[dict[str, str]]) -> ReturnFacts:
    first = rows[0]
    lines: dict[str, int] = {}
    for row in rows:
        sku = _identifier((row.get("Merchant SKU") or "").strip(), "Merchant SKU")
        lines[sku] = lines.get(sku, 0) + _quantity(row, "Return quantity")
    status = (first.get("Return request status") or "").strip().lower()
    received = _report_time(first, "Return delivery date")
    if received is None and status == "closed":
        # Closed without a delivery date: Amazon counts it in; when is unknown.
        received = _report_time(first, "Return request date")
    return ReturnFacts(
        amazon_return_id=_identifier(rma, "Amazon RMA ID"),
        amazon_order_id=_identifier(order_id, "Order ID"),
        fulfillment_channel=FulfillmentChannel.MERCHANT,
        lines=tuple(ReturnLineFacts(sku, quantity) for sku, quantity in lines.items()),
        reason=_text(first.get("Return Reason")).strip(),
        requested_at=_report_time(first, "Return request date"),
        received_at=received,
        merchant_rma_id=_text(first.get("Merchant RMA ID")).strip(),
        carrier=_text(first.get("Return carrier")).strip(),
        tracking_id=_text(first.get("Tracking ID")).strip(),
    )


def parse_fba_returns(text: str) -> tuple[list[ReturnFacts], Unreadable]:
    """GET_FBA_FULFILLMENT_CUSTOMER_RETURNS_DATA: one row per unit batch the fulfilment centre
    received, each its own return (its license plate number)."""
    returns: list[ReturnFacts] = []
    bad: Unreadable = []
    for number, row in _rows(text, "order-id", "FBA returns report"):
        order_id = (row.get("order-id") or "").strip()
        try:
            returns.append(_fba_return(row))
        except (AmazonPayloadError, ValueError) as error:
            bad.append((order_id or f"row {number}", f"row {number}: unreadable: {error}"))
    return returns, bad


def _fba_return(row: dict[str, str]) -> ReturnFacts:
    order_id = _identifier((row.get("order-id") or "").strip(), "order-id")
    sku = _identifier((row.get("sku") or "").strip(), "sku")
    received = _report_time(row, "return-date")
    if received is None:
        raise AmazonPayloadError("return-date is missing")
    # The license plate identifies the returned units; without one the SKU and time do.
    identity = (row.get("license-plate-number") or "").strip() or f"{sku}@{received.isoformat()}"
    return ReturnFacts(
        amazon_return_id=identity,
        amazon_order_id=order_id,
        fulfillment_channel=FulfillmentChannel.AMAZON,
        lines=(
            ReturnLineFacts(
                sku,
                _quantity(row, "quantity"),
                disposition=(row.get("detailed-disposition") or "").strip(),
            ),
        ),
        reason=_text(row.get("reason")).strip(),
        requested_at=received,
        received_at=received,
        fulfillment_center_id=(row.get("fulfillment-center-id") or "").strip(),
        customer_comments=_text(row.get("customer-comments")).strip(),
    )


# -- Finances 2024-06-19 ---------------------------------------------------------------------

REFUND = "Refund"


def _amount(value: Any, what: str) -> tuple[Decimal, str]:
    if not isinstance(value, dict) or "currencyAmount" not in value:
        raise AmazonPayloadError(f"{what} is not a Currency object")
    try:
        amount = Decimal(str(value["currencyAmount"])).quantize(Decimal("0.01"))
    except InvalidOperation:
        raise AmazonPayloadError(f"{what} is not a number: {value['currencyAmount']!r}") from None
    if not amount.is_finite() or abs(amount) >= MAX_AMOUNT:
        raise AmazonPayloadError(f"{what} is out of range: {value['currencyAmount']!r}")
    return amount, str(value.get("currencyCode") or "")


def _breakdowns(raw: Any) -> dict[str, dict[str, Any]]:
    return {
        str(entry.get("breakdownType")): entry
        for entry in raw or []
        if isinstance(entry, dict) and entry.get("breakdownType")
    }


def _part(breakdowns: dict[str, dict[str, Any]], name: str) -> Decimal:
    entry = breakdowns.get(name)
    return _amount(entry["breakdownAmount"], name)[0] if entry else Decimal("0")


def parse_transactions(payload: Any) -> tuple[list[RefundFacts], Unreadable, str | None]:
    """A ``listTransactions`` page: its refunds (other transactions are not ours to record),
    the unreadable ones, and the next page's token."""
    if not isinstance(payload, dict):
        raise AmazonPayloadError("listTransactions: the payload is not an object")
    refunds: list[RefundFacts] = []
    bad: Unreadable = []
    for raw in payload.get("transactions") or []:
        if not isinstance(raw, dict) or raw.get("transactionType") != REFUND:
            continue
        try:
            refunds.append(_refund(raw))
        except (AmazonPayloadError, ValueError) as error:
            bad.append((str(raw.get("transactionId") or "?"), f"unreadable refund: {error}"))
    token = payload.get("nextToken")
    return refunds, bad, token if isinstance(token, str) and token else None


def _related(identifiers: Any, name: str) -> str:
    for entry in identifiers if isinstance(identifiers, list) else []:
        if isinstance(entry, dict) and entry.get("relatedIdentifierName") == name:
            return str(entry.get("relatedIdentifierValue") or "")
    return ""


def _refund(raw: dict[str, Any]) -> RefundFacts:
    transaction_id = _identifier(raw.get("transactionId"), "transactionId")
    order_id = _related(raw.get("relatedIdentifiers"), "ORDER_ID")
    if not order_id:
        raise AmazonPayloadError(f"refund {transaction_id} names no ORDER_ID")
    total, currency = _amount(raw.get("totalAmount"), "totalAmount")
    if not currency:
        raise AmazonPayloadError(f"refund {transaction_id}: totalAmount has no currencyCode")
    parts = _breakdowns(raw.get("breakdowns"))
    charges = _breakdowns(parts.get("ProductCharges", {}).get("breakdowns"))
    tax_parts = _breakdowns(parts.get("Tax", {}).get("breakdowns"))
    taxes = {name: -_part(tax_parts, name) for name in tax_parts}
    if not taxes and "Tax" in parts:
        taxes = {"Tax": -_part(parts, "Tax")}
    sku = ""
    quantity = 0
    for item in raw.get("items") or []:
        for context in (item or {}).get("contexts") or []:
            if isinstance(context, dict) and context.get("contextType") == "ProductContext":
                sku = sku or str(context.get("sku") or "")
                quantity += int(context.get("quantityShipped") or 0)
    # Signs as Amazon gives them for a refund: charges negative, fees and promotion positive.
    return RefundFacts(
        transaction_id=transaction_id,
        amazon_order_id=order_id,
        posted_at=parse_time(raw.get("postedDate"), "postedDate"),
        currency=currency,
        seller_sku=sku,
        quantity=max(quantity, 0),
        refund_id=_related(raw.get("relatedIdentifiers"), "REFUND_ID"),
        principal=-_part(charges, "Principal"),
        shipping=-_part(charges, "Shipping"),
        promotion=_part(parts, "Promotion"),
        taxes={name: amount for name, amount in taxes.items() if amount},
        fees_returned=_part(parts, "AmazonFees"),
        seller_total=total,
    )
