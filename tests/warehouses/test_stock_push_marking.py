"""A committed stock change marks the item's listings for a stock push."""

from __future__ import annotations

import time
from typing import Any

import pytest
from django.db import OperationalError, transaction

from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from tests.factories import ItemFactory, ListingFactory, SalesChannelFactory, WarehouseFactory
from warehouses import stock
from warehouses.models import Stock
from warehouses.services import save_warehouse

pytestmark = pytest.mark.django_db


def pending_skus() -> list[str]:
    return list(
        Listing.objects.filter(push_pending=True)
        .order_by("seller_sku")
        .values_list("seller_sku", flat=True)
    )


def test_it_marks_merchant_listings_of_active_channels_only(
    django_capture_on_commit_callbacks: Any,
) -> None:
    item, other_item, warehouse = (
        ItemFactory.create(),
        ItemFactory.create(),
        WarehouseFactory.create(),
    )
    active = SalesChannelFactory.create()
    inactive = SalesChannelFactory.create(status=SalesChannel.Status.INACTIVE)
    reauthorize = SalesChannelFactory.create(status=SalesChannel.Status.NEEDS_REAUTHORIZATION)
    ListingFactory.create(channel=active, item=item, seller_sku="MFN-ACTIVE")
    ListingFactory.create(
        channel=active,
        item=item,
        seller_sku="FBA-ACTIVE",
        fulfillment_channel=FulfillmentChannel.AMAZON,
    )
    ListingFactory.create(channel=inactive, item=item, seller_sku="MFN-INACTIVE")
    ListingFactory.create(channel=reauthorize, item=item, seller_sku="MFN-REAUTH")
    ListingFactory.create(channel=active, item=other_item, seller_sku="OTHER-ITEM")
    with django_capture_on_commit_callbacks(execute=True):
        stock.adjust_stock(item, warehouse, 4, note="Count")
    assert pending_skus() == ["MFN-ACTIVE"]


def test_it_marks_all_changed_items_in_one_update(
    django_capture_on_commit_callbacks: Any, django_assert_num_queries: Any
) -> None:
    channel, warehouse = SalesChannelFactory.create(), WarehouseFactory.create()
    items = [ItemFactory.create() for _ in range(3)]
    for item in items:
        ListingFactory.create(channel=channel, item=item)
    with django_capture_on_commit_callbacks() as callbacks, transaction.atomic():
        for item in items:
            stock.adjust_stock(item, warehouse, 1, note="Count")
    assert len(callbacks) == 1
    # However many items: the outbox rows locked, one SELECT locks the listings (and finds the
    # channels to push), one UPDATE marks them, the rows deleted; each step in a savepoint.
    with django_assert_num_queries(8):
        callbacks[0]()
    assert pending_skus() == sorted(item.sku for item in items)


def test_it_marks_nothing_when_the_change_rolls_back(
    django_capture_on_commit_callbacks: Any,
) -> None:
    item = ItemFactory.create()
    ListingFactory.create(item=item)
    with (
        django_capture_on_commit_callbacks(execute=True),
        pytest.raises(RuntimeError),
        transaction.atomic(),
    ):
        stock.adjust_stock(item, WarehouseFactory.create(), 4, note="Count")
        raise RuntimeError("rolled back")
    assert pending_skus() == []


def test_it_moves_the_version_of_a_listing_already_pending(
    django_capture_on_commit_callbacks: Any,
) -> None:
    listing = ListingFactory.create(push_pending=True)
    read_by_push_job = Listing.objects.get(pk=listing.pk).push_version
    with django_capture_on_commit_callbacks(execute=True):
        stock.adjust_stock(listing.item, WarehouseFactory.create(), 1, note="Count")
    # The push job's conditional clear now matches nothing: the new quantity is not lost.
    cleared = Listing.objects.filter(pk=listing.pk, push_version=read_by_push_job).update(
        push_pending=False
    )
    assert cleared == 0
    assert pending_skus() == [listing.seller_sku]


def test_a_failed_delivery_loses_no_change(
    django_capture_on_commit_callbacks: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The database goes away right after the commit: the adjustment stands, its listings are
    not marked yet, and the next sweep marks them (before, the mark was lost for good)."""
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    ListingFactory.create(item=item, seller_sku="MUG-RED")

    def connection_lost(**kwargs: Any) -> None:
        raise OperationalError("server closed the connection unexpectedly")

    monkeypatch.setattr("marketplaces.signals.queue_stock_push", connection_lost)
    with django_capture_on_commit_callbacks(execute=True):
        stock.adjust_stock(item, warehouse, 4, note="Count")  # no error for the user
    assert Stock.objects.get(item=item, warehouse=warehouse).on_hand == 4
    assert pending_skus() == []
    monkeypatch.undo()

    assert stock.deliver_stock_changes() == 1
    assert pending_skus() == ["MUG-RED"]
    assert stock.deliver_stock_changes() == 0  # delivered once


def test_deactivating_a_warehouse_marks_the_listings_of_its_items(
    django_capture_on_commit_callbacks: Any,
) -> None:
    """Without a mapping a channel pushes the sum over active warehouses."""
    kept, toronto = WarehouseFactory.create(), WarehouseFactory.create()
    stocked, elsewhere = ItemFactory.create(), ItemFactory.create()
    ListingFactory.create(item=stocked, seller_sku="IN-TORONTO")
    ListingFactory.create(item=elsewhere, seller_sku="NOT-IN-TORONTO")
    with django_capture_on_commit_callbacks(execute=True):
        stock.adjust_stock(stocked, toronto, 5, note="Count")
        stock.adjust_stock(elsewhere, kept, 5, note="Count")
    Listing.objects.update(push_pending=False)

    toronto.is_active = False
    with django_capture_on_commit_callbacks(execute=True):
        save_warehouse(toronto, actor=None)
    assert pending_skus() == ["IN-TORONTO"]

    Listing.objects.update(push_pending=False)
    toronto.is_active = True
    with django_capture_on_commit_callbacks(execute=True):
        save_warehouse(toronto, actor=None)
    assert pending_skus() == ["IN-TORONTO"]


@pytest.mark.django_db(transaction=True)
def test_it_marks_listings_when_a_real_transaction_commits() -> None:
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    ListingFactory.create(item=item, seller_sku="MUG-RED")
    with transaction.atomic():
        stock.set_opening_stock(item, warehouse, 8)
        stock.commit_stock(item, warehouse, 2, reference="702-1")
        assert pending_skus() == []  # not before the commit
    assert pending_skus() == ["MUG-RED"]


@pytest.mark.django_db(transaction=True)  # two real sessions: each thread has its own
def test_marking_survives_being_a_deadlocks_victim(monkeypatch: pytest.MonkeyPatch) -> None:
    """Another session (an order import of another channel) holds one of the listings and then
    wants one the marking holds: PostgreSQL breaks the deadlock by failing one statement. A lost
    mark is a quantity never sent to Amazon, so the marking runs again."""
    import threading

    from django.db import connection, connections

    from marketplaces.signals import mark_listings_for_push

    if connection.vendor != "postgresql":
        pytest.skip("deadlock detection needs PostgreSQL (SQLite locks the whole database)")
    item = ItemFactory.create()
    first, second = (ListingFactory.create(item=item) for _ in range(2))
    holding_second = threading.Event()
    importer_failed: list[BaseException] = []

    def other_channels_import() -> None:
        try:
            with transaction.atomic():
                with connection.cursor() as cursor:  # never the one to break the deadlock
                    cursor.execute("SET LOCAL deadlock_timeout = '20s'")
                Listing.objects.select_for_update().filter(pk=second.pk).first()
                holding_second.set()
                time.sleep(0.5)  # the marking now holds `first` and waits for `second`
                Listing.objects.select_for_update().filter(pk=first.pk).first()
        except BaseException as error:  # noqa: BLE001 - reported by the assertion below
            importer_failed.append(error)
        finally:
            connections.close_all()

    importer = threading.Thread(target=other_channels_import)
    importer.start()
    assert holding_second.wait(10)
    with connection.cursor() as cursor:  # checks after the importer waits: the victim
        cursor.execute("SET deadlock_timeout = '2s'")
    monkeypatch.setattr("marketplaces.tasks.push_stock_soon_task.apply_async", lambda *a, **k: None)

    try:
        mark_listings_for_push(sender=None, item_ids={item.id})
    finally:
        with connection.cursor() as cursor:
            cursor.execute("RESET deadlock_timeout")

    importer.join(10)
    assert not importer_failed, importer_failed
    assert pending_skus() == sorted([first.seller_sku, second.seller_sku])


@pytest.mark.django_db(transaction=True)  # a real commit, then a real lost connection
def test_a_change_whose_connection_drops_at_commit_is_still_pushed(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Seen with backends terminated for 3 s while staff adjusted 90 items: Django only logged
    "Error calling _ChangedItems.send in on_commit()" and 4-5 SKUs kept the old quantity on
    Amazon for good. The change's outbox row committed with it: the sweep delivers it."""
    import threading

    from django.db import connection, connections

    from marketplaces import schedule

    if connection.vendor != "postgresql":
        pytest.skip("terminating a backend needs PostgreSQL")
    item, warehouse = ItemFactory.create(), WarehouseFactory.create()
    ListingFactory.create(item=item, seller_sku="MUG-RED")
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        (our_backend,) = cursor.fetchone()

    def terminate_our_backend() -> None:
        try:
            with connection.cursor() as cursor:  # this thread's own connection
                cursor.execute("SELECT pg_terminate_backend(%s)", [our_backend])
        finally:
            connections.close_all()

    deliver = stock._ChangedItems.send

    def connection_lost_after_commit(batch: Any) -> None:
        killer = threading.Thread(target=terminate_our_backend)
        killer.start()
        killer.join(10)
        deliver(batch)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(stock._ChangedItems, "send", connection_lost_after_commit)
        stock.adjust_stock(item, warehouse, 4, note="Count")  # no error for the user
    assert "in on_commit()" in caplog.text
    connection.close()  # the next query opens a new connection, as a worker's would
    assert Stock.objects.get(item=item, warehouse=warehouse).on_hand == 4
    assert pending_skus() == []

    assert schedule.deliver_lost_stock_changes() == 1
    assert pending_skus() == ["MUG-RED"]
