"""At the default log level a sync run is one line when it starts and one when it ends; the
HTTP calls to Amazon are DEBUG detail."""

from __future__ import annotations

import logging

import pytest

from marketplaces.models import SalesChannel
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_post
from tests.helpers.amazon import run_order_sync
from warehouses.models import Item

pytestmark = pytest.mark.django_db


def info_lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [
        f"{record.name}: {record.getMessage()}"
        for record in caplog.records
        if record.levelno >= logging.INFO
    ]


def test_an_order_sync_logs_its_start_and_its_end_and_no_http_call(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)

    run = run_order_sync(channel)

    lines = info_lines(caplog)
    assert not [line for line in lines if "HTTP Request" in line or "http://" in line], lines
    assert [line for line in lines if f"Sync run {run.id} " in line] == [
        f"synchistory.services: Sync run {run.id} started: orders of channel {channel.id} "
        "(automatic)",
        f"synchistory.services: Sync run {run.id} {run.status}: "
        f"{run.orders_synced} orders synced, 0 failed, {run.orders_skipped} skipped",
    ]


def test_a_failed_run_says_why_in_one_warning(
    live_sim: Simulator,
    channel: SalesChannel,
    stocked_items: dict[str, Item],
    caplog: pytest.LogCaptureFixture,
) -> None:
    sim_post(live_sim, "/_sim/auth/revoke", {"refreshToken": "Atzr|simulator"})
    caplog.set_level(logging.INFO)

    run = run_order_sync(channel)

    assert run.status == "failed"
    warnings = [
        r
        for r in caplog.records
        if r.levelno == logging.WARNING and r.name == "synchistory.services"
    ]
    assert [r.getMessage() for r in warnings] == [f"Sync run {run.id} failed: {run.error}"]
