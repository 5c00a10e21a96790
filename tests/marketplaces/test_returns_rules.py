"""The return and refund rules (marketplaces/returns.py) and the readers of Amazon's returns
reports and Finances transactions (marketplaces/amazon/return_types.py)."""

from __future__ import annotations

from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError

from marketplaces import returns
from marketplaces.amazon.errors import AmazonPayloadError
from marketplaces.amazon.return_sync import import_return
from marketplaces.amazon.return_types import (
    parse_fba_returns,
    parse_merchant_returns,
    parse_transactions,
)
from marketplaces.models import (
    Listing,
    SalesChannel,
    SalesOrder,
    SalesOrderLine,
    SalesRefund,
    SalesReturn,
    SalesReturnLine,
)
from marketplaces.returns import RefundFacts, ReturnFacts, ReturnLineFacts
from warehouses import stock
from warehouses.models import Item, Stock, StockMovement, Warehouse

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)

MERCHANT_HEADER = (
    "Order ID\tOrder date\tReturn request date\tReturn request status\tAmazon RMA ID\t"
    "Merchant RMA ID\tLabel type\tLabel cost\tCurrency code\tReturn carrier\tTracking ID\t"
    "Label to be paid by\tA-to-Z Claim\tIs prime\tASIN\tMerchant SKU\tItem Name\t"
    "Return quantity\tReturn Reason\tIn policy\tReturn type\tResolution\tInvoice number\t"
    "Return delivery date\tOrder Amount\tOrder quantity\tSafeT Action reason\tSafeT claim id\t"
    "SafeT claim state\tSafeT claim creation time\tSafeT claim reimbursement amount\t"
    "Refunded Amount"
)


def merchant_row(order_id: str, rma: str, sku: str, quantity: str, delivered: str = "") -> str:
    values = {
        "Order ID": order_id,
        "Return request date": "2026-11-18T10:00:00+00:00",
        "Return request status": "Closed" if delivered else "Approved",
        "Amazon RMA ID": rma,
        "Return carrier": "Canada Post",
        "Tracking ID": "RT12345678901234",
        "Merchant SKU": sku,
        "Return quantity": quantity,
        "Return Reason": "CR-UNWANTED_ITEM",
        "Return delivery date": delivered,
    }
    return "\t".join(values.get(column, "") for column in MERCHANT_HEADER.split("\t"))


@pytest.fixture
def warehouse() -> Warehouse:
    return Warehouse.objects.create(name="Main")


@pytest.fixture
def shipped(warehouse: Warehouse) -> SalesOrder:
    """A merchant order of 3 units of MUG, 2 of them shipped."""
    order = SalesOrder.objects.create(
        channel=SalesChannel.objects.create(name="Amazon.ca", seller_id="A3SELLER"),
        amazon_order_id="702-1234567-1234567",
        amazon_status="PARTIALLY_SHIPPED",
        fulfillment_channel="merchant",
        warehouse=warehouse,
        currency="CAD",
        purchased_at=WHEN,
        amazon_updated_at=WHEN,
    )
    SalesOrderLine.objects.create(
        order=order,
        amazon_order_item_id="1001",
        item=Item.objects.create(sku="MUG", name="Mug"),
        seller_sku="MUG",
        quantity=3,
        quantity_shipped=2,
        unit_price=Decimal("20.00"),
    )
    return order


def merchant_return(
    order: SalesOrder, quantity: int = 1, rma: str = "D1RRMA", received: bool = False
) -> ReturnFacts:
    return ReturnFacts(
        amazon_return_id=rma,
        amazon_order_id=order.amazon_order_id,
        fulfillment_channel="merchant",
        lines=(ReturnLineFacts("MUG", quantity),),
        reason="CR-UNWANTED_ITEM",
        requested_at=WHEN,
        received_at=WHEN if received else None,
    )


def refund(order: SalesOrder, **changes: object) -> RefundFacts:
    values: dict[str, object] = {
        "transaction_id": "T1",
        "amazon_order_id": order.amazon_order_id,
        "posted_at": WHEN,
        "currency": "CAD",
        "seller_sku": "MUG",
        "quantity": 1,
        "principal": Decimal("20.00"),
        "taxes": {"GST": Decimal("1.00"), "QST": Decimal("2.00")},
        "fees_returned": Decimal("3.00"),
        "seller_total": Decimal("-20.00"),
    }
    values.update(changes)
    return RefundFacts(**values)  # type: ignore[arg-type]


# -- reading Amazon's reports and transactions ---------------------------------------------


def test_merchant_rows_of_one_rma_are_one_return_and_a_bad_row_fails_alone() -> None:
    text = "\r\n".join(
        [
            MERCHANT_HEADER,
            merchant_row("702-1", "D1RRMA", "MUG", "1", "2026-11-19T09:00:00+00:00"),
            merchant_row("702-1", "D1RRMA", "SOCK", "2", "2026-11-19T09:00:00+00:00"),
            merchant_row("702-2", "D2RRMA", "MUG", "two"),
            merchant_row("", "", "MUG", "1"),
            merchant_row("702-3", "D3RRMA", "MUG", "1"),
            merchant_row("702-4", "D4RRMA", "MUG", "1", "2026-11-19"),
        ]
    )

    facts, bad = parse_merchant_returns(text)

    by_rma = {f.amazon_return_id: f for f in facts}
    assert set(by_rma) == {"D1RRMA", "D3RRMA", "D4RRMA"}
    assert by_rma["D4RRMA"].received_at == datetime(2026, 11, 19, tzinfo=UTC)
    first = by_rma["D1RRMA"]
    assert [(x.seller_sku, x.quantity) for x in first.lines] == [("MUG", 1), ("SOCK", 2)]
    assert first.received_at == datetime(2026, 11, 19, 9, 0, tzinfo=UTC)
    assert (first.carrier, first.tracking_id) == ("Canada Post", "RT12345678901234")
    assert by_rma["D3RRMA"].received_at is None
    reasons = dict(bad)
    assert "Return quantity is not a whole number" in reasons["D2RRMA"]
    assert any("no Order ID or Amazon RMA ID" in reason for reason in reasons.values())


def test_fba_rows_are_returns_with_their_disposition() -> None:
    header = (
        "return-date\torder-id\tsku\tasin\tfnsku\tproduct-name\tquantity\t"
        "fulfillment-center-id\tdetailed-disposition\treason\tstatus\tlicense-plate-number\t"
        "customer-comments"
    )
    rows = [
        "2026-11-19T09:00:00+00:00\t702-9\tMUG\tB0\tX0\tMug\t1\tYYZ4\tCUSTOMER_DAMAGED\t"
        "DEFECTIVE\tUnit returned to inventory\tLPN123\tCracked",
        "not a date\t702-8\tMUG\tB0\tX0\tMug\t1\tYYZ4\tSELLABLE\tUNWANTED_ITEM\t\tLPN124\t",
    ]

    facts, bad = parse_fba_returns("\r\n".join([header, *rows]))

    assert len(facts) == 1
    only = facts[0]
    assert (only.amazon_return_id, only.fulfillment_channel) == ("LPN123", "amazon")
    assert only.lines[0].disposition == "CUSTOMER_DAMAGED"
    assert (only.fulfillment_center_id, only.customer_comments) == ("YYZ4", "Cracked")
    assert bad[0][0] == "702-8"
    assert "return-date" in bad[0][1]


def money(amount: float) -> dict[str, object]:
    return {"currencyCode": "CAD", "currencyAmount": amount}


def test_a_refund_transaction_is_read_with_its_taxes_by_component() -> None:
    transaction = {
        "transactionType": "Refund",
        "transactionId": "TX1",
        "postedDate": "2026-11-19T09:00:00Z",
        "totalAmount": money(-20.45),
        "relatedIdentifiers": [
            {"relatedIdentifierName": "ORDER_ID", "relatedIdentifierValue": "702-1"},
            {"relatedIdentifierName": "REFUND_ID", "relatedIdentifierValue": "R1"},
        ],
        "items": [
            {"contexts": [{"contextType": "ProductContext", "sku": "MUG", "quantityShipped": 1}]}
        ],
        "breakdowns": [
            {
                "breakdownType": "ProductCharges",
                "breakdownAmount": money(-20.0),
                "breakdowns": [
                    {"breakdownType": "Principal", "breakdownAmount": money(-20.0)},
                    {"breakdownType": "Shipping", "breakdownAmount": money(0)},
                ],
            },
            {
                "breakdownType": "Tax",
                "breakdownAmount": money(-2.99),
                "breakdowns": [
                    {"breakdownType": "GST", "breakdownAmount": money(-1.0)},
                    {"breakdownType": "QST", "breakdownAmount": money(-1.99)},
                ],
            },
            {"breakdownType": "AmazonFees", "breakdownAmount": money(3.0)},
        ],
    }
    shipment = {**transaction, "transactionType": "Shipment", "transactionId": "TX0"}
    broken = {"transactionType": "Refund", "transactionId": "TX2", "totalAmount": money(-1)}

    refunds, bad, token = parse_transactions(
        {"transactions": [shipment, transaction, broken], "nextToken": "next"}
    )

    assert token == "next"
    assert [r.transaction_id for r in refunds] == ["TX1"]
    only = refunds[0]
    assert only.taxes == {"GST": Decimal("1.00"), "QST": Decimal("1.99")}
    assert (only.principal, only.refunded, only.fees_returned) == (
        Decimal("20.00"),
        Decimal("22.99"),
        Decimal("3.00"),
    )
    assert (only.quantity, only.seller_sku, only.refund_id) == (1, "MUG", "R1")
    assert bad == [("TX2", "unreadable refund: refund TX2 names no ORDER_ID")]


# -- recording returns --------------------------------------------------------------------


def test_a_return_is_recorded_once_and_updated(shipped: SalesOrder) -> None:
    channel = shipped.channel
    assert returns.record_return(channel, merchant_return(shipped)).outcome == "synced"
    again = returns.record_return(channel, merchant_return(shipped))
    assert (again.outcome, again.reason) == ("skipped", returns.UP_TO_DATE_REASON)

    received = returns.record_return(channel, merchant_return(shipped, received=True))

    assert received.outcome == "synced"
    only = SalesReturn.objects.get()
    assert only.status == SalesReturn.Status.RECEIVED
    assert only.lines.get().condition == SalesReturnLine.Condition.SELLABLE


def test_the_database_refuses_a_second_copy_of_a_return(shipped: SalesOrder) -> None:
    SalesReturn.objects.create(
        order=shipped, amazon_return_id="D1RRMA", fulfillment_channel="merchant"
    )
    with pytest.raises(IntegrityError):
        SalesReturn.objects.create(
            order=shipped, amazon_return_id="D1RRMA", fulfillment_channel="merchant"
        )


def test_more_units_returned_than_shipped_fail_with_the_reason(shipped: SalesOrder) -> None:
    channel = shipped.channel
    assert returns.record_return(channel, merchant_return(shipped, 1, "D1RRMA")).outcome == "synced"

    too_many = returns.record_return(channel, merchant_return(shipped, 2, "D2RRMA"))

    assert too_many.outcome == "failed"
    assert too_many.reason == (
        f"Return D2RRMA of order {shipped.amazon_order_id}: 2 units of MUG returned, but only "
        "2 shipped (1 already returned)."
    )
    assert SalesReturn.objects.count() == 1


def test_a_return_of_an_order_never_imported_or_of_an_sku_not_on_it_fails(
    shipped: SalesOrder,
) -> None:
    channel = shipped.channel
    unknown = ReturnFacts("D9RRMA", "702-0000000-0000000", "merchant", (ReturnLineFacts("MUG", 1),))
    assert "was never imported here" in returns.record_return(channel, unknown).reason
    other_sku = ReturnFacts(
        "D8RRMA", shipped.amazon_order_id, "merchant", (ReturnLineFacts("SOCK", 1),)
    )
    outcome = returns.record_return(channel, other_sku)
    assert outcome.outcome == "failed"
    assert "names SKU SOCK, which is not on order" in outcome.reason
    assert not SalesReturn.objects.exists()


@pytest.mark.parametrize(
    ("channel_kind", "reason", "disposition", "condition"),
    [
        ("merchant", "CR-UNWANTED_ITEM", "", "sellable"),
        ("merchant", "CR-DEFECTIVE", "", "to_inspect"),
        ("amazon", "UNWANTED_ITEM", "SELLABLE", "sellable"),
        ("amazon", "UNWANTED_ITEM", "CUSTOMER_DAMAGED", "damaged"),
        ("amazon", "UNWANTED_ITEM", "", "to_inspect"),
    ],
)
def test_the_condition_of_returned_units(
    channel_kind: str, reason: str, disposition: str, condition: str
) -> None:
    assert returns.condition_for(channel_kind, reason, disposition) == condition


# -- restocking -----------------------------------------------------------------------------


def on_hand(order: SalesOrder) -> int:
    line = order.lines.get()
    row = Stock.objects.filter(item=line.item, warehouse=order.warehouse).first()
    return row.on_hand if row else 0


def test_receiving_puts_sellable_units_back_and_names_the_return(shipped: SalesOrder) -> None:
    returns.record_return(shipped.channel, merchant_return(shipped, 2, received=True))
    sales_return = SalesReturn.objects.get()
    line = sales_return.lines.get()

    returns.receive_return(sales_return, shipped.warehouse, {line.id: 1})

    assert on_hand(shipped) == 1  # one sellable back, the damaged one stays out
    line.refresh_from_db()
    assert (line.quantity_restocked, line.quantity_damaged) == (1, 1)
    movement = StockMovement.objects.get(kind=StockMovement.Kind.RETURN)
    assert movement.reference == f"Return D1RRMA of order {shipped.amazon_order_id}"
    sales_return.refresh_from_db()
    assert sales_return.status == SalesReturn.Status.RESTOCKED
    with pytest.raises(ValidationError, match="already received into Main"):
        returns.receive_return(sales_return, shipped.warehouse, {line.id: 1})
    assert on_hand(shipped) == 1


def test_receiving_sellable_units_queues_the_stock_push(
    shipped: SalesOrder, django_capture_on_commit_callbacks: Any
) -> None:
    line = shipped.lines.get()
    listing = Listing.objects.create(channel=shipped.channel, item=line.item, seller_sku="MUG")
    returns.record_return(shipped.channel, merchant_return(shipped, 1, received=True))
    sales_return = SalesReturn.objects.get()

    with django_capture_on_commit_callbacks(execute=True):
        returns.receive_return(sales_return, shipped.warehouse, {sales_return.lines.get().id: 1})

    listing.refresh_from_db()
    assert listing.push_pending


def test_receiving_refuses_more_units_than_returned(shipped: SalesOrder) -> None:
    returns.record_return(shipped.channel, merchant_return(shipped, 1))
    sales_return = SalesReturn.objects.get()
    line = sales_return.lines.get()
    with pytest.raises(ValidationError, match="between 0 and 1 sellable units"):
        returns.receive_return(sales_return, shipped.warehouse, {line.id: 2})
    assert on_hand(shipped) == 0


def test_the_channel_rule_restocks_sellable_returns_on_receipt(shipped: SalesOrder) -> None:
    SalesChannel.objects.filter(id=shipped.channel_id).update(restock_returns_automatically=True)
    channel = SalesChannel.objects.get(id=shipped.channel_id)
    returns.record_return(channel, merchant_return(shipped, 1))
    assert on_hand(shipped) == 0  # not yet delivered back

    returns.record_return(channel, merchant_return(shipped, 1, received=True))

    assert on_hand(shipped) == 1
    assert SalesReturn.objects.get().status == SalesReturn.Status.RESTOCKED


def test_the_channel_rule_waits_for_the_seller_on_a_defective_return(shipped: SalesOrder) -> None:
    SalesChannel.objects.filter(id=shipped.channel_id).update(restock_returns_automatically=True)
    channel = SalesChannel.objects.get(id=shipped.channel_id)
    facts = merchant_return(shipped, 1, received=True)
    defective = ReturnFacts(**{**facts.__dict__, "reason": "CR-DEFECTIVE"})

    returns.record_return(channel, defective)

    assert on_hand(shipped) == 0
    assert SalesReturn.objects.get().status == SalesReturn.Status.RECEIVED


def test_an_fba_return_is_never_received_by_hand(shipped: SalesOrder) -> None:
    facts = ReturnFacts(
        "LPN1",
        shipped.amazon_order_id,
        "amazon",
        (ReturnLineFacts("MUG", 1, "SELLABLE"),),
        received_at=WHEN,
    )
    returns.record_return(shipped.channel, facts)
    sales_return = SalesReturn.objects.get()
    with pytest.raises(ValidationError, match="Amazon's own counts"):
        returns.receive_return(sales_return, shipped.warehouse, {})
    assert not StockMovement.objects.filter(kind=StockMovement.Kind.RETURN).exists()


def test_stock_refuses_a_return_into_nothing(warehouse: Warehouse) -> None:
    with pytest.raises(ValidationError):
        stock.return_stock(Item.objects.create(sku="X", name="X"), warehouse, 0, reference="R")


# -- refunds ------------------------------------------------------------------------------


def test_a_refund_is_linked_to_its_return_whichever_comes_first(shipped: SalesOrder) -> None:
    channel = shipped.channel
    assert returns.record_refund(channel, refund(shipped)).outcome == "synced"
    assert SalesRefund.objects.get().sales_return is None

    returns.record_return(channel, merchant_return(shipped, 1, received=True))

    only = SalesRefund.objects.get()
    assert only.sales_return == SalesReturn.objects.get()
    assert not only.is_concession
    assert dict(only.taxes.values_list("tax_name", "amount")) == {
        "GST": Decimal("1.00"),
        "QST": Decimal("2.00"),
    }
    assert only.refunded == Decimal("23.00")
    again = returns.record_refund(channel, refund(shipped))
    assert again.outcome == "skipped"
    assert SalesRefund.objects.count() == 1


def test_a_refund_of_no_units_is_a_concession(shipped: SalesOrder) -> None:
    returns.record_return(shipped.channel, merchant_return(shipped, 1, received=True))
    returns.record_refund(shipped.channel, refund(shipped, quantity=0))
    only = SalesRefund.objects.get()
    assert only.is_concession
    assert only.sales_return is None


def test_a_refund_in_another_currency_fails_alone(shipped: SalesOrder) -> None:
    channel = shipped.channel
    other = returns.record_refund(channel, refund(shipped, transaction_id="T2", currency="USD"))
    fine = returns.record_refund(channel, refund(shipped))

    assert other.outcome == "failed"
    assert other.reason == (
        f"Refund T2 is in USD but order {shipped.amazon_order_id} was paid in CAD: it is not "
        "recorded, as the amounts cannot be compared."
    )
    assert fine.outcome == "synced"
    assert list(SalesRefund.objects.values_list("transaction_id", flat=True)) == ["T1"]


def test_a_refund_for_an_order_never_imported_fails() -> None:
    channel = SalesChannel.objects.create(name="Amazon.ca", seller_id="A3OTHER")
    facts = RefundFacts("T1", "702-404", WHEN, "CAD")
    outcome = returns.record_refund(channel, facts)
    assert outcome.outcome == "failed"
    assert "Order 702-404 was never imported here" in outcome.reason


def test_an_fba_return_of_another_marketplace_is_left_to_its_channel(shipped: SalesOrder) -> None:
    """The FBA report lists the returns of every marketplace the FBA network serves."""
    us = SalesChannel.objects.create(
        name="Amazon.com", seller_id="a3seller", marketplace_id="ATVPDKIKX0DER", currency="USD"
    )
    facts = ReturnFacts(
        "LPN9", shipped.amazon_order_id, "amazon", (ReturnLineFacts("MUG", 1, "SELLABLE"),)
    )

    entry = import_return(us, facts)

    assert (entry.outcome, entry.reason) == (
        "skipped",
        "An order of Amazon.ca: that channel's returns sync records it",
    )
    assert not SalesReturn.objects.exists()


def test_a_report_without_its_columns_is_refused_as_a_whole() -> None:
    with pytest.raises(AmazonPayloadError, match="has no 'Order ID' column"):
        parse_merchant_returns("something\telse\r\n1\t2\r\n")
    with pytest.raises(AmazonPayloadError, match="is empty"):
        parse_fba_returns("")


def test_a_run_taken_over_writes_no_return_or_refund(shipped: SalesOrder) -> None:
    class TakenOver(Exception):
        pass

    def taken_over() -> None:
        raise TakenOver

    with pytest.raises(TakenOver):
        returns.record_return(shipped.channel, merchant_return(shipped), fence=taken_over)
    with pytest.raises(TakenOver):
        returns.record_refund(shipped.channel, refund(shipped), fence=taken_over)
    assert not SalesReturn.objects.exists()
    assert not SalesRefund.objects.exists()


def test_a_return_the_seller_received_first_is_not_restocked_again(shipped: SalesOrder) -> None:
    SalesChannel.objects.filter(id=shipped.channel_id).update(restock_returns_automatically=True)
    channel = SalesChannel.objects.get(id=shipped.channel_id)
    returns.record_return(channel, merchant_return(shipped, 1))
    sales_return = SalesReturn.objects.get()
    returns.receive_return(sales_return, shipped.warehouse, {sales_return.lines.get().id: 1})

    outcome = returns.record_return(channel, merchant_return(shipped, 1, received=True))

    assert outcome.outcome == "synced"
    assert on_hand(shipped) == 1
    assert StockMovement.objects.filter(kind=StockMovement.Kind.RETURN).count() == 1
