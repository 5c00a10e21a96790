"""Show Details > Stock on Amazon: the drifted SKUs, Check now, Re-push."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import pytest
from django.test import Client
from django.utils import timezone

from marketplaces import tasks
from marketplaces.models import FulfillmentChannel, Listing, SalesChannel
from tests.factories import ItemFactory, ListingFactory, SalesChannelFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def queued(monkeypatch: pytest.MonkeyPatch) -> dict[str, list[int]]:
    """The tasks the views hand to Celery, by name."""
    calls: dict[str, list[int]] = {"check_drift": [], "push_stock_soon": []}

    def recorder(name: str) -> Any:
        return lambda args, **options: calls[name].append(*args)

    monkeypatch.setattr(tasks.check_drift_task, "apply_async", recorder("check_drift"))
    monkeypatch.setattr(tasks.push_stock_soon_task, "apply_async", recorder("push_stock_soon"))
    return calls


@pytest.fixture
def post(admin_client: Client, django_capture_on_commit_callbacks: Any) -> Any:
    """An admin's POST whose on-commit callbacks (the queued tasks) run."""

    def send(url: str) -> Any:
        with django_capture_on_commit_callbacks(execute=True):
            return admin_client.post(url, follow=True)

    return send


def listing(channel: SalesChannel, sku: str, **fields: Any) -> Listing:
    return ListingFactory.create(
        channel=channel, item=ItemFactory.create(sku=sku, name=f"Item {sku}"), **fields
    )


def checked(amazon: int | None, pushed: int | None, **fields: Any) -> dict[str, Any]:
    return {
        "amazon_quantity": amazon,
        "pushed_quantity": pushed,
        "amazon_quantity_checked_at": timezone.now() - timedelta(minutes=5),
        **fields,
    }


def test_it_lists_only_merchant_skus_whose_amazon_quantity_differs(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    listing(channel, "DRIFT-1", **checked(3, 7))
    listing(channel, "DRIFT-NONE", **checked(None, 2))
    listing(channel, "SAME-1", **checked(5, 5))
    listing(channel, "NEVER-PUSHED", **checked(4, None))
    listing(channel, "NEVER-CHECKED", amazon_quantity=1, pushed_quantity=9)
    listing(channel, "FBA-1", fulfillment_channel=FulfillmentChannel.AMAZON, **checked(1, 9))
    listing(SalesChannelFactory.create(), "OTHER-CHANNEL", **checked(1, 9))

    html = admin_client.get(f"/settings/integrations/marketplaces/{channel.id}/").content.decode()

    start = html.index('id="drift-table"')
    table = html[start : html.index("</table>", start)]
    assert "DRIFT-1" in table and "DRIFT-NONE" in table
    for sku in ("SAME-1", "NEVER-PUSHED", "NEVER-CHECKED", "FBA-1", "OTHER-CHANNEL"):
        assert sku not in table, sku
    assert "5\xa0minutes ago" in html
    assert f'action="/settings/integrations/marketplaces/{channel.id}/drift/repush/"' in html


def test_it_says_when_nothing_was_checked_or_everything_matches(admin_client: Client) -> None:
    channel = SalesChannelFactory.create()
    url = f"/settings/integrations/marketplaces/{channel.id}/"
    assert "Not checked yet." in admin_client.get(url).content.decode()
    listing(channel, "SAME-1", **checked(5, 5))
    html = admin_client.get(url).content.decode()
    assert "Every merchant-fulfilled SKU on Amazon.ca matches what we last sent." in html
    assert "Re-push" not in html


def test_check_now_queues_the_drift_check(post: Any, queued: dict[str, list[int]]) -> None:
    channel = SalesChannelFactory.create()
    response = post(f"/settings/integrations/marketplaces/{channel.id}/drift/check/")
    assert queued["check_drift"] == [channel.id]
    assert response.redirect_chain == [
        (f"/settings/integrations/marketplaces/{channel.id}/#stock-on-amazon", 302)
    ]
    assert "Checking Amazon.ca&#x27;s quantities…" in response.content.decode()


def test_check_now_refuses_an_inactive_channel(
    admin_client: Client, queued: dict[str, list[int]]
) -> None:
    channel = SalesChannelFactory.create(status=SalesChannel.Status.INACTIVE)
    response = admin_client.post(
        f"/settings/integrations/marketplaces/{channel.id}/drift/check/", follow=True
    )
    assert queued["check_drift"] == []
    assert "Amazon is not asked." in response.content.decode()


def test_re_push_marks_the_drifted_skus_and_queues_a_push(
    post: Any, queued: dict[str, list[int]]
) -> None:
    channel = SalesChannelFactory.create()
    drifted = listing(channel, "DRIFT-1", **checked(3, 7))
    drifted_too = listing(channel, "DRIFT-2", **checked(0, 2))
    same = listing(channel, "SAME-1", **checked(5, 5))

    response = post(f"/settings/integrations/marketplaces/{channel.id}/drift/repush/")

    assert "2 SKUs will be sent to Amazon.ca again" in response.content.decode()
    assert queued["push_stock_soon"] == [channel.id]
    for row in (drifted, drifted_too):
        row.refresh_from_db()
        assert (row.push_pending, row.pushed_quantity) == (True, None)
    same.refresh_from_db()
    assert (same.push_pending, same.pushed_quantity) == (False, 5)


def test_re_push_with_nothing_drifted_queues_nothing(
    admin_client: Client, queued: dict[str, list[int]]
) -> None:
    channel = SalesChannelFactory.create()
    listing(channel, "SAME-1", **checked(5, 5))
    response = admin_client.post(
        f"/settings/integrations/marketplaces/{channel.id}/drift/repush/", follow=True
    )
    assert "nothing to send again" in response.content.decode()
    assert queued["push_stock_soon"] == []


@pytest.mark.parametrize("action", ["check", "repush"])
def test_staff_may_not_check_or_re_push(
    staff_client: Client, queued: dict[str, list[int]], action: str
) -> None:
    channel = SalesChannelFactory.create()
    drifted = listing(channel, "DRIFT-1", **checked(3, 7))
    response = staff_client.post(
        f"/settings/integrations/marketplaces/{channel.id}/drift/{action}/"
    )
    assert response.status_code == 403
    assert queued == {"check_drift": [], "push_stock_soon": []}
    drifted.refresh_from_db()
    assert drifted.pushed_quantity == 7
    html = staff_client.get(f"/settings/integrations/marketplaces/{channel.id}/").content.decode()
    assert "DRIFT-1" in html and "Check now" not in html


@pytest.mark.parametrize("action", ["check", "repush"])
def test_drift_actions_are_post_only_and_404_for_unknown_channels(
    admin_client: Client, action: str
) -> None:
    channel = SalesChannelFactory.create()
    url = f"/settings/integrations/marketplaces/{channel.id}/drift/{action}/"
    assert admin_client.get(url).status_code == 405
    assert (
        admin_client.post(f"/settings/integrations/marketplaces/999/drift/{action}/").status_code
        == 404
    )
