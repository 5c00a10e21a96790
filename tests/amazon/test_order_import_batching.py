"""A page of Amazon orders is imported in a number of SQL statements that does not grow with the
number of orders, and still behaves as importing them one by one (docs/PERFORMANCE.md)."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from decimal import Decimal
from typing import Any

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.test.utils import CaptureQueriesContext

from marketplaces import orders
from marketplaces.amazon import order_sync
from marketplaces.amazon.types import AmazonOrder, AmazonOrderItem
from marketplaces.models import Listing, SalesChannel, SalesOrder, SalesOrderLine
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun
from tests.chaos.invariants import stock_matches_movements
from tests.factories import ListingFactory, SalesChannelFactory, SyncRunFactory
from warehouses import stock
from warehouses.models import Item, Organization, Stock, StockMovement, Warehouse
from warehouses.signals import stock_changed

pytestmark = pytest.mark.django_db

PLACED = datetime(2026, 11, 20, 9, 0, tzinfo=UTC)
SKUS = ["MUG-RED", "MUG-BLUE", "TEE-M", "TEE-L", "CAP"]


@pytest.fixture
def shop() -> SalesChannel:
    warehouse = Warehouse.objects.create(name="Main")
    organization = Organization.load()
    organization.primary_warehouse = warehouse
    organization.order_sync_preference = Organization.OrderSyncPreference.CONFIRMED_AND_FULFILLED
    organization.save()
    channel = SalesChannelFactory.create()
    for sku in SKUS:
        item = Item.objects.create(sku=sku, name=sku)
        stock.set_opening_stock(item, warehouse, 50)
        ListingFactory.create(channel=channel, item=item, push_pending=False, pushed_quantity=50)
    return channel


def line(number: int, sku: str, quantity: int = 2, shipped: int = 0) -> AmazonOrderItem:
    return AmazonOrderItem(
        order_item_id=f"{number}",
        seller_sku=sku,
        asin="B000000000",
        title=f"{sku} title",
        quantity=quantity,
        quantity_shipped=shipped,
        unit_price=Decimal("12.50"),
        item_subtotal=Decimal("12.50") * quantity,
        shipping=Decimal("4.00"),
        item_tax=Decimal("1.63"),
        shipping_tax=Decimal("0.52"),
        gift_wrap_tax=Decimal("0"),
        item_discount=Decimal("0"),
        shipping_discount=Decimal("0"),
        marketplace_collects_tax=False,
    )


def amazon_order(
    number: int,
    *,
    status: str = "UNSHIPPED",
    fulfilled_by: str = "MERCHANT",
    items: tuple[AmazonOrderItem, ...] | None = None,
    updated: datetime = PLACED,
) -> AmazonOrder:
    return AmazonOrder(
        order_id=f"702-{number:07d}-0000001",
        created=PLACED,
        last_updated=updated,
        status=status,
        fulfilled_by=fulfilled_by,
        marketplace_id="A2EUQ1WTGCTBG2",
        currency="CAD",
        items=items or (line(1, SKUS[number % 5]), line(2, SKUS[(number + 1) % 5], 1)),
        grand_total=None,
    )


def mixed_page(first: int, count: int) -> list[AmazonOrder]:
    """Merchant orders to ship, merchant orders already shipped, Amazon-fulfilled ones."""
    kinds: list[dict[str, Any]] = [
        {},
        {"status": "SHIPPED"},
        {"fulfilled_by": "AMAZON"},
        {"status": "PARTIALLY_SHIPPED", "items": (line(1, "CAP", 3, shipped=1),)},
    ]
    return [amazon_order(n, **kinds[n % len(kinds)]) for n in range(first, first + count)]


def import_page(
    channel: SalesChannel, orders: list[AmazonOrder], run: SyncRun
) -> tuple[list[order_sync.OrderOutcome], list[str]]:
    """The outcomes, and the SQL statements the import took."""
    with CaptureQueriesContext(connection) as queries:
        outcomes = order_sync.import_orders(channel, Organization.load(), orders, None, run=run)
    return outcomes, [query["sql"] for query in queries.captured_queries]


def written_tables(statements: list[str]) -> list[str]:
    return [
        match.group(1)
        for sql in statements
        if (match := re.match(r'(?:INSERT INTO|UPDATE|DELETE FROM) "(\w+)"', sql))
    ]


def test_a_page_of_2n_orders_takes_as_many_statements_as_a_page_of_n(shop: SalesChannel) -> None:
    run = SyncRunFactory.create(channel=shop, status=SyncRun.Status.RUNNING)
    import_page(shop, mixed_page(0, 4), run)  # what any first page pays once (content types)

    outcomes, ten = import_page(shop, mixed_page(100, 10), run)
    assert {outcome.outcome for outcome in outcomes} == {"synced"}
    outcomes, twenty = import_page(shop, mixed_page(200, 20), run)
    assert {outcome.outcome for outcome in outcomes} == {"synced"}

    assert len(twenty) == len(ten), "\n".join(twenty)
    assert SalesOrder.objects.count() == 34
    run.refresh_from_db()
    assert run.orders_synced == 34
    assert SyncRecord.objects.filter(run=run, outcome="synced").count() == 34
    stock_matches_movements()


def test_a_page_seen_again_writes_only_its_sync_records(shop: SalesChannel) -> None:
    run = SyncRunFactory.create(channel=shop, status=SyncRun.Status.RUNNING)
    page = mixed_page(0, 12)
    import_page(shop, page, run)
    stocks = list(Stock.objects.order_by("pk").values_list("on_hand", "committed"))
    movements = StockMovement.objects.count()

    SyncRun.objects.filter(id=run.id).update(status=SyncRun.Status.SUCCEEDED)
    later_run = SyncRunFactory.create(channel=shop, status=SyncRun.Status.RUNNING)
    outcomes, statements = import_page(shop, page, later_run)

    assert [outcome.outcome for outcome in outcomes] == ["skipped"] * 12
    assert {outcome.reason for outcome in outcomes} == {orders.UP_TO_DATE_REASON}
    assert written_tables(statements) == ["synchistory_syncrecord", "synchistory_syncrun"]
    # The same run meeting the page again (a retried page) already recorded those orders.
    _, statements = import_page(shop, page, run)
    assert written_tables(statements) == []
    assert run.records.count() == 12
    assert list(Stock.objects.order_by("pk").values_list("on_hand", "committed")) == stocks
    assert StockMovement.objects.count() == movements
    assert SalesOrder.objects.count() == 12


@pytest.mark.django_db(transaction=True)  # the page's own commit sends stock_changed
def test_new_orders_move_stock_as_one_by_one(shop: SalesChannel) -> None:
    run = SyncRunFactory.create(channel=shop, status=SyncRun.Status.RUNNING)
    changed: list[set[int]] = []

    def receiver(**kwargs: Any) -> None:
        changed.append(kwargs["item_ids"])

    stock_changed.connect(receiver)
    try:
        import_page(
            shop,
            [
                amazon_order(1, items=(line(1, "MUG-RED", 3),)),
                amazon_order(2, status="SHIPPED", items=(line(1, "MUG-BLUE", 2),)),
                amazon_order(3, fulfilled_by="AMAZON", items=(line(1, "TEE-M", 4),)),
                amazon_order(4, items=(line(1, "NEW-SKU", 1), line(2, "CAP", 1))),
            ],
            run,
        )
    finally:
        stock_changed.disconnect(receiver)

    def quantities(sku: str) -> tuple[int, int]:
        row = Stock.objects.get(item__sku=sku)
        return row.on_hand, row.committed

    assert quantities("MUG-RED") == (50, 3)  # committed to the order to ship
    assert quantities("MUG-BLUE") == (48, 0)  # shipped already: out, never committed
    assert quantities("TEE-M") == (50, 0)  # Amazon's warehouse, not ours
    assert quantities("CAP") == (50, 0)  # on hold with the unknown SKU
    held = SalesOrder.objects.get(amazon_order_id=amazon_order(4).order_id)
    assert held.status == SalesOrder.Status.ON_HOLD
    assert held.hold_reason == "Waiting for unconfirmed items: NEW-SKU"
    assert Item.objects.get(sku="NEW-SKU").status == Item.Status.UNCONFIRMED
    shipped = SalesOrder.objects.get(amazon_order_id=amazon_order(2).order_id)
    assert shipped.status == SalesOrder.Status.SHIPPED and shipped.shipped_at == PLACED
    assert changed == [
        set(Item.objects.filter(sku__in=["MUG-RED", "MUG-BLUE"]).values_list("pk", flat=True))
    ]
    # Amazon lowered its merchant listings by itself: pushed again, Amazon-fulfilled or not.
    assert set(
        Listing.objects.filter(push_pending=True, pushed_quantity=None).values_list(
            "seller_sku", flat=True
        )
    ) == {"MUG-RED", "MUG-BLUE", "CAP"}
    stock_matches_movements()


def test_a_bad_order_fails_alone_with_its_reason(shop: SalesChannel) -> None:
    run = SyncRunFactory.create(channel=shop, status=SyncRun.Status.RUNNING)
    too_expensive = amazon_order(2, items=(line(1, "CAP", 1),))
    too_expensive = AmazonOrder(**{**too_expensive.__dict__, "grand_total": Decimal("1e12")})
    # More shipped than ordered: only the database's check refuses it, during the page's INSERT.
    overshipped = amazon_order(4, status="PARTIALLY_SHIPPED", items=(line(1, "CAP", 1, 3),))
    page = [amazon_order(1), too_expensive, amazon_order(3), overshipped, amazon_order(5)]

    outcomes, _ = import_page(shop, page, run)

    assert [outcome.outcome for outcome in outcomes] == [
        "synced",
        "failed",
        "synced",
        "failed",
        "synced",
    ]
    assert "out of range" in outcomes[1].reason
    assert outcomes[3].reason
    imported = set(SalesOrder.objects.values_list("amazon_order_id", flat=True))
    assert imported == {page[0].order_id, page[2].order_id, page[4].order_id}
    run.refresh_from_db()
    assert (run.orders_synced, run.orders_failed) == (3, 2)
    failed = SyncRecord.objects.filter(run=run, outcome="failed")
    assert set(failed.values_list("external_id", flat=True)) == {
        too_expensive.order_id,
        overshipped.order_id,
    }
    stock_matches_movements()


def test_a_changed_order_is_updated_and_its_stock_moves(shop: SalesChannel) -> None:
    run = SyncRunFactory.create(channel=shop, status=SyncRun.Status.RUNNING)
    placed = amazon_order(1, items=(line(1, "MUG-RED", 3),))
    import_page(shop, [placed, amazon_order(2, items=(line(1, "MUG-RED", 1),))], run)
    assert Stock.objects.get(item__sku="MUG-RED").committed == 4

    shipped = AmazonOrder(
        **{**placed.__dict__, "status": "SHIPPED", "last_updated": PLACED + timedelta(hours=5)}
    )
    cancelled = AmazonOrder(
        **{
            **amazon_order(2, items=(line(1, "MUG-RED", 1),)).__dict__,
            "status": "CANCELLED",
            "last_updated": PLACED + timedelta(hours=5),
        }
    )
    outcomes, _ = import_page(shop, [shipped, cancelled, amazon_order(3)], run)

    assert [outcome.outcome for outcome in outcomes] == ["synced"] * 3
    statuses = dict(SalesOrder.objects.values_list("amazon_order_id", "status"))
    assert statuses[placed.order_id] == SalesOrder.Status.SHIPPED
    assert statuses[cancelled.order_id] == SalesOrder.Status.CANCELLED
    red = Stock.objects.get(item__sku="MUG-RED")
    assert (red.on_hand, red.committed) == (47, 0)
    assert SalesOrderLine.objects.get(order__amazon_order_id=placed.order_id).quantity_shipped == 3
    stock_matches_movements()


def test_a_batch_of_stock_changes_ends_as_the_same_single_changes() -> None:
    warehouse = Warehouse.objects.create(name="Main")
    items = [Item.objects.create(sku=f"SKU-{n}", name=f"SKU {n}") for n in range(4)]
    for item in items:
        stock.set_opening_stock(item, warehouse, 5)
    kinds = StockMovement.Kind
    changes = [
        stock.OrderStockChange(items[0].pk, warehouse.pk, kinds.COMMIT, 3, "A"),
        stock.OrderStockChange(items[0].pk, warehouse.pk, kinds.SHIP, 4, "A"),
        stock.OrderStockChange(items[1].pk, warehouse.pk, kinds.SHIP, 2, "B", from_committed=False),
        stock.OrderStockChange(items[2].pk, warehouse.pk, kinds.RELEASE, 1, "C"),
    ]
    other = Warehouse.objects.create(name="Other")  # no Stock row yet: created at zero
    changes.append(stock.OrderStockChange(items[3].pk, other.pk, kinds.COMMIT, 2, "D"))

    with CaptureQueriesContext(connection) as queries:
        movements = stock.apply_order_changes(changes)

    assert [(m.on_hand_change, m.committed_change, m.note) for m in movements] == [
        (0, 3, ""),
        (-4, -3, "Shipped 4; 3 were committed."),
        (-2, 0, ""),
        (0, 0, "Asked to release 1; 0 committed."),
        (0, 2, ""),
    ]
    assert [(m.on_hand_after, m.committed_after) for m in movements] == [
        (5, 3),
        (1, 0),
        (3, 0),
        (5, 0),
        (0, 2),
    ]
    assert Stock.objects.get(item=items[3], warehouse=other).committed == 2
    # Refuse Amazon's warehouses, lock, create the missing row, lock it, update, record, one
    # outbox INSERT for the items: not one statement per change.
    writes = [q["sql"].split()[0] for q in queries.captured_queries]
    assert writes.count("SELECT") == 3 and writes.count("INSERT") == 3
    assert writes.count("UPDATE") == 1


def test_a_batch_refuses_what_is_not_an_order_change() -> None:
    warehouse = Warehouse.objects.create(name="Main")
    item = Item.objects.create(sku="SKU-1", name="SKU 1")
    with pytest.raises(ValidationError, match="positive"):
        stock.apply_order_changes(
            [stock.OrderStockChange(item.pk, warehouse.pk, StockMovement.Kind.COMMIT, 0, "A")]
        )
    assert not StockMovement.objects.exists()


def test_a_sync_run_records_every_order_of_a_page_once(shop: SalesChannel) -> None:
    run = history.start_run(shop.id, SyncRun.Kind.ORDERS, SyncRun.Trigger.MANUAL)
    assert history.claim_run(run.id)  # a run's records are written by the worker holding it
    run.refresh_from_db()
    invalid = [history.Entry(SyncRecord.RecordType.ORDER, "?", "failed", "no orderId")]
    order_sync.import_orders(
        shop, Organization.load(), mixed_page(0, 6), None, run=run, records=invalid
    )
    assert list(
        SyncRecord.objects.filter(run=run).order_by("id").values_list("external_id", "outcome")
    ) == [("?", "failed")] + [(order.order_id, "synced") for order in mixed_page(0, 6)]
