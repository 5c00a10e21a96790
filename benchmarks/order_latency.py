"""How long an order placed on Amazon takes to be visible here, at real time (time scale 1):
with Amazon's notifications, and with polling only.

Run: .venv/bin/python benchmarks/order_latency.py [--quick] [--orders N] [--minutes M]
         [--mode notifications|polling|both] [--json FILE] [--write-docs]
     .venv/bin/python benchmarks/order_latency.py --report A.json B.json --write-docs

Real parts, real time: moto's SQS server as its own process, the simulator on a clock that
runs at the real rate and enforces Amazon's usage plans (a 429 is counted, never hidden), and
the product's own code at Amazon's real pacing (AMAZON_RATE_SCALE=1):

- a **consumer** thread runs ``Consumer.run_once`` in a loop (what ``manage.py
  consume_notifications`` does), only in the notifications mode, where the channel is
  subscribed through ``marketplaces.notifications.enable``;
- a **scheduler** thread calls ``start_due_syncs`` once a minute (what beat does) and runs the
  order runs it queues in that thread (what a worker does): polling at
  ``order_polling.orders_interval``, slowed down while notifications are healthy;
- the main thread places N merchant orders (paid, Unshipped) on the simulator, evenly over M
  minutes, and records when.

The delay of an order is the time from placing it to its sales order's row being committed
here (``created_at``; both clocks are this machine's). It prints p50 / p95 / max per mode, the
Amazon calls and 429s; ``--write-docs`` puts them into docs/PERFORMANCE.md ("Order latency")
with a chart of the delays in docs/charts/order_latency.png. The two modes are independent
(each its own database, simulator and queue): ``--mode X --json FILE`` runs one, so both can
run side by side, and ``--report`` publishes saved results.
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import _common

SECTION = ("order_latency", "Order latency: notifications and polling at real time")
CHART = _common.ROOT / "docs" / "charts" / "order_latency.png"
MODES = ("notifications", "polling")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--orders", type=int, default=500)
    parser.add_argument("--minutes", type=float, default=10.0, help="placing lasts this long")
    parser.add_argument("--mode", choices=[*MODES, "both"], default="both")
    parser.add_argument("--quick", action="store_true", help="60 orders over 2 minutes")
    parser.add_argument("--json", type=Path, help="save the results here")
    parser.add_argument("--report", type=Path, nargs="+", help="publish saved results")
    parser.add_argument("--write-docs", action="store_true")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.report:
        results = [json.loads(path.read_text(encoding="utf-8")) for path in args.report]
        publish(results, write_docs=args.write_docs)
        return
    if args.quick:
        args.orders, args.minutes = 60, 2.0
    modes = MODES if args.mode == "both" else (args.mode,)
    results = []
    for mode in modes:
        # A fresh process per mode: Django's settings (the queue) and database are per mode.
        results.append(run_in_subprocess(args, mode) if len(modes) > 1 else measure(args, mode))
    if args.json:
        payload = results[0] if len(results) == 1 else results
        args.json.write_text(json.dumps(payload, indent=1), encoding="utf-8")
    publish(results, write_docs=args.write_docs)


def run_in_subprocess(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    import subprocess

    with tempfile.NamedTemporaryFile(suffix=".json", delete=False) as out:
        path = Path(out.name)
    command = [
        sys.executable,
        __file__,
        f"--mode={mode}",
        f"--orders={args.orders}",
        f"--minutes={args.minutes}",
        f"--seed={args.seed}",
        f"--json={path}",
    ]
    subprocess.run(command, check=True)
    return dict(json.loads(path.read_text(encoding="utf-8")))


def measure(args: argparse.Namespace, mode: str) -> dict[str, Any]:
    from tests.helpers.sqs import CREDENTIALS, REGION, SqsServer, new_queue, sqs_client

    workdir = Path(tempfile.mkdtemp(prefix=f"order-latency-{mode}-"))
    sqs_server = SqsServer(workdir / "moto.log").start()
    try:
        queue_url, queue_arn = new_queue(sqs_client(sqs_server.endpoint_url))
        # The product's settings come from the environment, read once by Django's set-up.
        os.environ.update(
            AMAZON_NOTIFICATIONS_QUEUE_ARN=queue_arn,
            SQS_ENDPOINT_URL=sqs_server.endpoint_url,
            AWS_REGION=REGION,
            AWS_ACCESS_KEY_ID=CREDENTIALS["aws_access_key_id"],
            AWS_SECRET_ACCESS_KEY=CREDENTIALS["aws_secret_access_key"],
        )
        database = _common.setup_django(rate_scale=1.0)
        print(f"[{mode}] database: {database}, SQS {sqs_server.endpoint_url}", flush=True)
        logging.getLogger("synchistory").setLevel(logging.WARNING)
        logging.getLogger("marketplaces").setLevel(logging.WARNING)
        return _measure(args, mode, sqs_server.endpoint_url, queue_arn)
    finally:
        sqs_server.stop()


def _measure(args: argparse.Namespace, mode: str, sqs_endpoint: str, queue_arn: str) -> dict:
    from django.db import connection

    from marketplaces import notifications
    from spapi_simulator import start_simulator
    from spapi_simulator.testing import sim_post

    sim = start_simulator(
        seed=args.seed,
        time_scale=1.0,
        order_interval_seconds=0,  # the benchmark places the orders itself, at known times
        history_orders=0,
        sqs_endpoint_url=sqs_endpoint,
        enforce_rate_limits=True,
    )
    try:
        channel = prepare(sim)
        first_poll(channel)  # the checkpoint a running product has; nothing to import yet
        if mode == "notifications":
            setup = notifications.enable(channel, actor=None)
            if setup.status != setup.Status.ENABLED:
                raise SystemExit(f"notifications could not be turned on: {setup.status_reason}")
        before = _common.counters(sim.base_url)
        stop = threading.Event()
        threads = [
            threading.Thread(target=scheduler, args=(stop,), daemon=True),
            threading.Thread(target=completer, args=(channel.id, stop), daemon=True),
        ]
        if mode == "notifications":
            threads.append(threading.Thread(target=consumer, args=(queue_arn, stop), daemon=True))
        for thread in threads:
            thread.start()

        placed: dict[str, float] = {}
        gap = args.minutes * 60 / args.orders
        started = time.time()
        for index in range(args.orders):
            time.sleep(max(0.0, started + index * gap - time.time()))
            body = {"count": 1, "fulfilledBy": "MERCHANT", "fulfillmentStatus": "UNSHIPPED"}
            order_id = sim_post(sim, "/_sim/orders", body)["orders"][0]["orderId"]
            placed[str(order_id)] = time.time()
        print(f"[{mode}] {len(placed)} orders placed in {time.time() - started:.0f} s", flush=True)

        # Polling alone needs up to Amazon's two-minute search lag plus an interval: wait for
        # every order, and for Amazon's details of those imported without them (getOrder's
        # quota), at most 20 minutes after the last one was placed.
        placed_by = time.time()
        deadline = placed_by + 20 * 60
        all_visible = all_complete = None
        while time.time() < deadline and all_complete is None:
            visible, awaiting = visible_and_awaiting(placed)
            if all_visible is None and visible == len(placed):
                all_visible = time.time() - placed_by
            if all_visible is not None and awaiting == 0:
                all_complete = time.time() - placed_by
            time.sleep(2)
        stop.set()
        for thread in threads:
            thread.join(timeout=120)
        calls = _common.calls_between(before, _common.counters(sim.base_url))
        throttled = throttled_calls(sim.base_url)
        delays = delays_of(placed)
        connection.close()
    finally:
        sim.stop()
    missing = len(placed) - len(delays)
    result = {
        "mode": mode,
        "orders": args.orders,
        "minutes": args.minutes,
        "delays": delays,
        "missing": missing,
        # Seconds after the last order was placed until all were visible / all complete.
        "all_visible_after": all_visible,
        "all_complete_after": all_complete,
        "calls": calls,
        "throttled": throttled,
        "machine": _common.machine(),
        "date": _common.today(),
    }
    print(f"[{mode}] {summary(result)}", flush=True)
    return result


def prepare(sim: Any) -> Any:
    """A warehouse holding every SKU the simulator lists, and the simulator's channel."""
    from django.core.management import call_command

    from spapi_simulator.testing import sim_get
    from warehouses import stock
    from warehouses.models import Item

    call_command("flush", verbosity=0, interactive=False)  # DATABASE_URL's may hold a last run
    warehouse = _common.main_warehouse()
    for entry in sim_get(sim, "/_sim/listings", timeout=30)["listings"]:
        if not entry["isParent"]:
            item = Item.objects.create(sku=entry["sku"], name=entry["title"][:500])
            stock.set_opening_stock(item, warehouse, 100_000)
    return _common.simulator_channel(sim, sync_interval_minutes=15)


def first_poll(channel: Any) -> None:
    from marketplaces import runs
    from synchistory import services as history
    from synchistory.models import SyncRun

    run = history.start_run(channel.id, SyncRun.Kind.ORDERS, SyncRun.Trigger.INITIAL)
    claimed = history.claim_run(run.id)
    assert claimed is not None
    if runs.attempt(claimed) is not None:
        raise SystemExit("the first orders run did not finish")


def scheduler(stop: threading.Event) -> None:
    """Beat's minute tick and a worker's order runs, in one thread."""
    from django.db import connection

    from marketplaces import runs, schedule
    from synchistory import services as history
    from synchistory.models import SyncRun

    try:
        while not stop.is_set():
            tick = time.monotonic()
            schedule.start_due_syncs()
            queued = SyncRun.objects.filter(
                kind=SyncRun.Kind.ORDERS, status=SyncRun.Status.QUEUED
            ).values_list("id", flat=True)
            for run_id in list(queued):
                claimed = history.claim_run(run_id)
                if claimed is not None:
                    runs.attempt(claimed)  # requeued when Amazon's quota says later
            stop.wait(max(0.0, 60 - (time.monotonic() - tick)))
    finally:
        connection.close()


def completer(channel_id: int, stop: threading.Event) -> None:
    """A worker's ``complete_awaiting_orders_task``, which the scheduler queues each minute
    while orders await Amazon's details (getOrder at its quota's pace)."""
    from django.db import connection

    from marketplaces.tasks import complete_awaiting_orders_task

    try:
        while not stop.is_set():
            tick = time.monotonic()
            complete_awaiting_orders_task(channel_id)
            stop.wait(max(0.0, 60 - (time.monotonic() - tick)))
    finally:
        connection.close()


def consumer(queue_arn: str, stop: threading.Event) -> None:
    """``manage.py consume_notifications``' loop: long polls, each message handled."""
    from django.db import connection

    from marketplaces.amazon.sqs import SqsUnavailable
    from marketplaces.notification_consumer import Consumer

    reader = Consumer(queue_arn)
    try:
        while not stop.is_set():
            try:
                reader.run_once(wait_seconds=2)
            except SqsUnavailable as error:
                print(f"SQS unavailable: {error}", flush=True)
                stop.wait(1)
    finally:
        connection.close()


def visible_and_awaiting(placed: dict[str, float]) -> tuple[int, int]:
    from django.db.models import Count, Q

    from marketplaces.models import SalesOrder

    counts = SalesOrder.objects.filter(amazon_order_id__in=list(placed)).aggregate(
        visible=Count("id"), awaiting=Count("id", filter=Q(awaiting_details=True))
    )
    return counts["visible"], counts["awaiting"]


def delays_of(placed: dict[str, float]) -> list[float]:
    from marketplaces.models import SalesOrder

    created = dict(
        SalesOrder.objects.filter(amazon_order_id__in=list(placed)).values_list(
            "amazon_order_id", "created_at"
        )
    )
    return sorted(
        round(created[order_id].timestamp() - at, 2)
        for order_id, at in placed.items()
        if order_id in created
    )


def throttled_calls(base_url: str) -> int:
    from spapi_simulator.testing import sim_get

    operations = sim_get(base_url, "/_sim/counters", timeout=30)["operations"]
    return sum(int(values.get("throttled", 0)) for values in operations.values())


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, int(round(q / 100 * (len(ordered) - 1))))]


def seconds(value: float) -> str:
    if value < 10:
        return f"{value:.1f} s"
    return f"{value:.0f} s" if value < 120 else f"{value / 60:.1f} min"


def after_last(value: float | None) -> str:
    return "not within 20 min" if value is None else f"{seconds(value)} after the last"


def summary(result: dict[str, Any]) -> str:
    delays = result["delays"]
    return (
        f"{len(delays)} of {result['orders']} visible, p50 {seconds(percentile(delays, 50))}, "
        f"p95 {seconds(percentile(delays, 95))}, max {seconds(max(delays, default=0))}, "
        f"{result['throttled']} answered 429, calls {result['calls']}"
    )


def publish(results: list[dict[str, Any]], *, write_docs: bool) -> None:
    header = [
        "mode",
        "orders visible",
        "p50",
        "p95",
        "max",
        "all details in",
        "429s",
        "Amazon calls",
    ]
    rows = [
        [
            result["mode"],
            f"{len(result['delays'])} of {result['orders']}",
            seconds(percentile(result["delays"], 50)),
            seconds(percentile(result["delays"], 95)),
            seconds(max(result["delays"], default=0)),
            (
                "with each order"
                if result.get("complete_when_visible")
                else after_last(result.get("all_complete_after"))
            ),
            str(result["throttled"]),
            ", ".join(f"{op} {n}" for op, n in result["calls"].items()),
        ]
        for result in results
    ]
    _common.print_table(header, rows)
    if not write_docs:
        return
    chart(results)
    first = results[0]
    before = (
        '\nRows marked "before" are saved results of this benchmark on the code before new '
        "orders could be imported\nwithout waiting for getOrder (every new merchant order "
        "fetched with its own getOrder first)."
        if any("before" in result["mode"] for result in results)
        else ""
    )
    body = f"""
`.venv/bin/python benchmarks/order_latency.py --write-docs` ({first["date"]}, {first["machine"]},
shared with other work; both modes side by side: `--mode notifications --json n.json` and
`--mode polling --json p.json`, then `--report n.json p.json --write-docs`).

{first["orders"]} merchant orders placed on the simulator evenly over {first["minutes"]:g} minutes
at real time (time scale 1, Amazon's usage plans enforced by the simulator, our own pacing at
Amazon's rates): 50 orders a minute, more than `getOrder`'s sustained 30 a minute. The delay is
from placing an order to its sales order being committed here, lines and stock committed.
"notifications": the channel subscribed to ORDER_CHANGE, the consumer reading moto's SQS server;
"polling": no notifications, order runs at Amazon's searchOrders rate (about every 3 minutes;
Amazon only returns orders at least two minutes old). A worker's `complete_awaiting_orders_task`
runs each minute in both. "All details in": when the last order imported while `getOrder`'s
quota was spent (from its notification, or without its buyer) had Amazon's prices, taxes and
buyer, counted from the last order placed.{before}

{_common.markdown_table(header, rows)}

![Delays from placing to visible](charts/{CHART.name})
"""
    _common.write_section(*SECTION, body)
    print(f"Written to {_common.PERFORMANCE_MD.relative_to(_common.ROOT)}")


def chart(results: list[dict[str, Any]]) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, axis = plt.subplots(figsize=(10, 5))
    for result in results:
        delays = result["delays"]
        if not delays:
            continue
        shares = [100 * (index + 1) / result["orders"] for index in range(len(delays))]
        axis.step(delays, shares, where="post", label=result["mode"])
    axis.set_xscale("log")
    axis.set_xlabel("seconds from placing on Amazon to visible here (log scale)")
    axis.set_ylabel("% of orders visible")
    axis.axhline(95, color="grey", linewidth=0.5, linestyle="--")
    axis.grid(True, which="both", linewidth=0.3)
    axis.legend()
    axis.set_title("Order latency at real time")
    fig.tight_layout()
    CHART.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(CHART, dpi=100)
    plt.close(fig)


if __name__ == "__main__":
    main()
