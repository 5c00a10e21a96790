"""The item page: stock per warehouse, Amazon listings, history, and the admin's adjust form."""

from __future__ import annotations

import re

import pytest
from django.test import Client

from accounts.models import User
from marketplaces.models import FulfillmentChannel, SalesChannel
from tests.factories import ItemFactory, ListingFactory, SalesChannelFactory, WarehouseFactory
from warehouses import stock
from warehouses.models import Item, Stock, StockMovement, Warehouse

pytestmark = pytest.mark.django_db

NOT_ZERO = "Enter a quantity other than zero."
WHOLE_NUMBER = "Enter a whole number."
REQUIRED = "This field is required."
NOTHING_TO_REMOVE = (
    "Cannot remove 1 from Toronto: it has 0 on hand and 0 committed to orders, "
    "so at most 0 can be removed."
)


@pytest.fixture
def mug() -> Item:
    return ItemFactory.create(sku="MUG-RED", name="Red maple mug")


@pytest.fixture
def toronto() -> Warehouse:
    return WarehouseFactory.create(name="Toronto")


def text(response: object) -> str:
    """The page with tags and repeated whitespace removed, for reading order and numbers."""
    html = response.content.decode()  # type: ignore[attr-defined]
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def test_it_links_item_skus_to_the_item_page(staff_client: Client, mug: Item) -> None:
    page = staff_client.get("/items/").content.decode()
    assert f'<a href="/items/{mug.id}/"><code>MUG-RED</code></a>' in page


def test_it_shows_stock_per_warehouse_with_totals(
    staff_client: Client, mug: Item, toronto: Warehouse
) -> None:
    montreal = WarehouseFactory.create(name="Montréal")
    stock.set_opening_stock(mug, toronto, 10)
    stock.commit_stock(mug, toronto, 3, reference="702-1")
    stock.set_opening_stock(mug, montreal, 4)
    response = staff_client.get(f"/items/{mug.id}/")
    assert response.status_code == 200
    page = text(response)
    assert "Red maple mug" in page
    assert " Available to sell 11 " in page
    assert " Montréal 4 0 4 " in page
    assert " Toronto 10 3 7 " in page
    assert " Total 14 3 11 " in page


def test_it_leaves_inactive_warehouses_out_of_the_totals(
    staff_client: Client, mug: Item, toronto: Warehouse
) -> None:
    halifax = WarehouseFactory.create(name="Halifax")
    stock.set_opening_stock(mug, toronto, 10)
    stock.set_opening_stock(mug, halifax, 5)
    Warehouse.objects.filter(pk=halifax.pk).update(is_active=False)
    page = text(staff_client.get(f"/items/{mug.id}/"))
    assert " Halifax Inactive 5 0 5 " in page
    assert " Total active warehouses 10 0 10 " in page
    assert " Available to sell 10 " in page


def test_it_shows_the_item_s_amazon_listings(staff_client: Client, mug: Item) -> None:
    channel = SalesChannelFactory.create(name="Amazon.ca")
    ListingFactory.create(
        channel=channel, item=mug, seller_sku="MUG-RED-MFN", push_pending=True, pushed_quantity=6
    )
    ListingFactory.create(
        channel=channel,
        item=mug,
        seller_sku="MUG-RED-FBA",
        fulfillment_channel=FulfillmentChannel.AMAZON,
    )
    ListingFactory.create(
        channel=SalesChannelFactory.create(name="Old account", status=SalesChannel.Status.INACTIVE),
        item=mug,
        seller_sku="MUG-OLD",
    )
    page = text(staff_client.get(f"/items/{mug.id}/"))
    assert " Amazon.ca MUG-RED-FBA Fulfilled by Amazon Amazon counts this stock — " in page
    assert " Amazon.ca MUG-RED-MFN Fulfilled by merchant Push pending 6 " in page
    assert " Old account Inactive MUG-OLD Fulfilled by merchant Not pushed yet — " in page


def test_it_shows_the_movement_history_newest_first_in_pages(
    staff_client: Client, admin_user: User, mug: Item, toronto: Warehouse
) -> None:
    stock.set_opening_stock(mug, toronto, 10, reference="amazon:MUG-RED")
    stock.adjust_stock(mug, toronto, -2, note="Damaged in transit", user=admin_user)
    page = text(staff_client.get(f"/items/{mug.id}/"))
    history = page[page.index("Stock history") :]
    assert " Adjustment Toronto -2 → 8 0 Damaged in transit alice " in history
    assert " Opening stock Toronto +10 → 10 0 amazon:MUG-RED — " in history
    assert history.index("Adjustment") < history.index("Opening stock")

    for number in range(30):
        stock.adjust_stock(mug, toronto, 1, note=f"Found {number}")
    first = staff_client.get(f"/items/{mug.id}/").content.decode()
    assert "Page 1 of 2" in first
    assert "Found 29" in first and "Found 5" in first and "Found 4" not in first
    second = staff_client.get(f"/items/{mug.id}/?page=2").content.decode()
    assert "Found 4" in second and "Opening stock" in second and "Found 5" not in second


def test_it_shows_the_adjust_form_to_admins_only(
    admin_client: Client, staff_client: Client, mug: Item, toronto: Warehouse
) -> None:
    WarehouseFactory.create(name="Closed", is_active=False)
    admin_page = admin_client.get(f"/items/{mug.id}/").content.decode()
    assert f'action="/items/{mug.id}/adjust/"' in admin_page
    assert f'<option value="{toronto.id}"' in admin_page
    assert ">Closed</option>" not in admin_page  # only active warehouses
    staff_page = staff_client.get(f"/items/{mug.id}/").content.decode()
    assert "Adjust stock" not in staff_page
    assert "/adjust/" not in staff_page


def test_it_adjusts_stock_from_the_item_page(
    admin_client: Client, admin_user: User, mug: Item, toronto: Warehouse
) -> None:
    response = admin_client.post(
        f"/items/{mug.id}/adjust/",
        {"warehouse": toronto.id, "quantity_change": "7", "reason": "Stock count"},
        follow=True,
    )
    assert response.redirect_chain == [(f"/items/{mug.id}/", 302)]
    assert "Stock of MUG-RED in Toronto adjusted by +7: 7 on hand." in response.content.decode()
    row = Stock.objects.get(item=mug, warehouse=toronto)
    assert (row.on_hand, row.committed) == (7, 0)
    movement = StockMovement.objects.get(item=mug)
    assert (movement.kind, movement.on_hand_change, movement.note, movement.created_by) == (
        "adjustment",
        7,
        "Stock count",
        admin_user,
    )


@pytest.mark.parametrize(
    ("posted", "field", "error"),
    [
        ({"quantity_change": "0", "reason": "Count"}, "quantity_change", NOT_ZERO),
        ({"quantity_change": "1.5", "reason": "Count"}, "quantity_change", WHOLE_NUMBER),
        ({"quantity_change": "", "reason": "Count"}, "quantity_change", REQUIRED),
        ({"quantity_change": "3", "reason": "   "}, "reason", REQUIRED),
        ({"quantity_change": "-1", "reason": "Lost"}, "quantity_change", NOTHING_TO_REMOVE),
    ],
)
def test_it_shows_field_errors_and_saves_nothing(
    admin_client: Client,
    mug: Item,
    toronto: Warehouse,
    posted: dict[str, str],
    field: str,
    error: str,
) -> None:
    response = admin_client.post(f"/items/{mug.id}/adjust/", {"warehouse": toronto.id, **posted})
    assert response.status_code == 200
    page = response.content.decode()
    form_field = page[page.index(f'id="id_{field}"') :]
    form_field = form_field[: form_field.index("</div>")]
    assert f'<p class="field-error" role="alert">{error}</p>' in form_field
    assert StockMovement.objects.count() == 0
    assert Stock.objects.count() == 0


def test_it_refuses_an_inactive_warehouse(admin_client: Client, mug: Item) -> None:
    closed = WarehouseFactory.create(name="Closed", is_active=False)
    response = admin_client.post(
        f"/items/{mug.id}/adjust/",
        {"warehouse": closed.id, "quantity_change": "3", "reason": "Count"},
    )
    assert "Select a valid choice. That choice is not one of the available choices." in (
        response.content.decode()
    )
    assert StockMovement.objects.count() == 0


def test_it_refuses_staff_adjustments(staff_client: Client, mug: Item, toronto: Warehouse) -> None:
    response = staff_client.post(
        f"/items/{mug.id}/adjust/",
        {"warehouse": toronto.id, "quantity_change": "3", "reason": "Count"},
    )
    assert response.status_code == 403
    assert StockMovement.objects.count() == 0


def test_it_answers_404_for_a_missing_item(admin_client: Client) -> None:
    assert admin_client.get("/items/999999/").status_code == 404
    assert admin_client.post("/items/999999/adjust/").status_code == 404
    assert admin_client.get("/items/999999/adjust/").status_code == 405
