"""``manage.py sync_channel CHANNEL --kind items|orders|stock|shipments``: one sync, in the
foreground, for an operator.

It goes through the same code as the pages and the Celery tasks: the run is started by
``marketplaces.services.request_sync`` (so it is refused while one of the same kind is running,
automatic or manual), taken with ``claim_run``, and attempted by ``marketplaces.runs.attempt``,
the tasks' own run policy. Where a task would be retried later by Celery, this command waits
(keeping the run's heartbeat fresh) and attempts it again. A run that is queued for a worker
(none is running, say, after ``connect_amazon``) is taken over and run here first.

Exit codes: 0 succeeded, 1 refused or failed, 2 finished with failed records (partial).
"""

from __future__ import annotations

import threading
from datetime import date
from typing import Any

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError, CommandParser, OutputWrapper
from django.db import connection
from django.utils import timezone

from accounts import audit
from marketplaces import runs, services
from marketplaces.amazon import ratelimit
from marketplaces.forms import ManualSyncForm
from marketplaces.models import SalesChannel, StockPushLine
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun

AMAZON_HISTORY_DAYS = 730
COMMAND = audit.Actor.command("sync_channel")  # who the audit log says started the run
BAR_WIDTH = 30
EXIT_PARTIAL = 2


def progress_bar(done: int, total: int | None) -> str:
    if not total:
        return f"[{'.' * BAR_WIDTH}] {done} done"
    shown = min(done, total)
    filled = BAR_WIDTH * shown // total
    return f"[{'#' * filled}{'.' * (BAR_WIDTH - filled)}] {shown}/{total} ({100 * shown // total}%)"


class ProgressPrinter:
    """Prints the run's progress bar whenever it changed. On a terminal the bar is redrawn in
    place; otherwise (a log, a pipe) each change is its own line."""

    def __init__(self, out: OutputWrapper, run_id: int, *, interactive: bool) -> None:
        self.out = out
        self.run_id = run_id
        self.interactive = interactive
        self.last = ""
        self.lock = threading.Lock()

    def refresh(self) -> None:
        values = (
            SyncRun.objects.filter(id=self.run_id)
            .values_list("progress_done", "progress_total")
            .first()
        )
        if values is None:
            return
        self.show(progress_bar(*values))

    def show(self, bar: str) -> None:
        with self.lock:
            if bar == self.last:
                return
            self.last = bar
            if self.interactive:
                self.out.write(f"\r{bar}", ending="")
            else:
                self.out.write(bar)
            self.out.flush()

    def note(self, message: str) -> None:
        with self.lock:
            if self.interactive and self.last:
                self.out.write("")
                self.last = ""
            self.out.write(message)
            self.out.flush()

    def end(self) -> None:
        with self.lock:
            if self.interactive and self.last:
                self.out.write("")
            self.out.flush()


class ProgressPoller(threading.Thread):
    """Reads the run's progress through its own database connection while the work function
    runs in the main thread (the work only reports through ``history.heartbeat``)."""

    def __init__(self, printer: ProgressPrinter, interval: float) -> None:
        super().__init__(name="sync-progress", daemon=True)
        self.printer = printer
        self.interval = interval
        self.stopped = threading.Event()

    def run(self) -> None:
        try:
            while not self.stopped.wait(self.interval):
                try:
                    self.printer.refresh()
                except Exception:  # noqa: BLE001, S112 - a missed refresh is not worth dying for
                    continue
        finally:
            connection.close()  # this thread's own connection

    def stop(self) -> None:
        self.stopped.set()
        self.join(timeout=5)


class Command(BaseCommand):
    help = (
        "Run one sync of a sales channel in the foreground (the same code as the workers), "
        "showing its progress and result. Exit code 0 succeeded, 1 refused or failed, "
        "2 finished with failed records."
    )

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("channel", help="the sales channel's id or name")
        parser.add_argument("--kind", choices=[k.value for k in SyncRun.Kind], help="what to sync")
        parser.add_argument(
            "--from",
            dest="start",
            metavar="YYYY-MM-DD",
            help="items/orders: fetch a specific period starting this day (local time)",
        )
        parser.add_argument(
            "--to",
            dest="end",
            metavar="YYYY-MM-DD",
            help="last day of the period (default: today)",
        )
        parser.add_argument(
            "--reinitiate",
            type=int,
            metavar="RUN_ID",
            help="fetch again exactly the items or orders that run brought in",
        )
        parser.add_argument(
            "--refresh",
            type=float,
            default=1.0,
            metavar="SECONDS",
            help="how often the progress bar is re-read while Amazon is called (0: only "
            "between steps)",
        )

    # -- entry point --------------------------------------------------------------------

    def handle(self, *args: Any, **options: Any) -> None:
        channel = find_channel(options["channel"])
        reinitiates = None
        if options["reinitiate"] is not None:
            reinitiates = reinitiated_run(channel, options["reinitiate"], options["kind"])
            if options["start"] or options["end"]:
                raise CommandError("A re-initiated run uses the period of the run it repeats.")
            kind = reinitiates.kind
        elif options["kind"]:
            kind = options["kind"]
        else:
            raise CommandError("Say what to sync: --kind items|orders|stock|shipments.")
        window_start, window_end = sync_window(kind, options["start"], options["end"])
        queued = SyncRun.objects.filter(
            channel=channel, kind=kind, status=SyncRun.Status.QUEUED
        ).first()
        if queued is not None and channel.is_active:
            self.stdout.write(f"Run #{queued.id} is waiting for a worker: running it here.")
            done = self.run_here(queued, options["refresh"])
            if window_start is None and reinitiates is None:
                self.report(done)
                return
        trigger = SyncRun.Trigger.REINITIATED if reinitiates else SyncRun.Trigger.MANUAL
        try:
            if reinitiates is not None:
                run = services.reinitiate(reinitiates, to_worker=False, actor=COMMAND)
            else:
                run = services.request_sync(
                    channel,
                    kind,
                    trigger,
                    window_start=window_start,
                    window_end=window_end,
                    to_worker=False,
                    actor=COMMAND,
                )
        except ValidationError as refused:
            raise CommandError(" ".join(refused.messages)) from None
        self.report(self.run_here(run, options["refresh"]))

    def run_here(self, run: SyncRun, refresh: float) -> SyncRun:
        """Claim a queued run and carry it out in the foreground, showing its progress."""
        claimed = history.claim_run(run.id)
        if claimed is None:
            raise CommandError(f"Run #{run.id} was taken by another worker.")
        run = claimed
        self.stdout.write(
            f"Run #{run.id}: {run.get_kind_display().lower()} sync of {run.channel.name} "
            f"({run.get_trigger_display().lower()})"
            + (f", {describe_window(run.window_start, run.window_end)}" if run.window_start else "")
        )
        printer = ProgressPrinter(self.stdout, run.id, interactive=self.stdout.isatty())
        poller = ProgressPoller(printer, refresh) if refresh > 0 else None
        if poller:
            poller.start()
        try:
            return self.execute_foreground(run, printer)
        finally:
            if poller:
                poller.stop()
            printer.refresh()
            printer.end()

    # -- the run policy, in the foreground -------------------------------------------------

    def execute_foreground(self, run: SyncRun, printer: ProgressPrinter) -> SyncRun:
        failures = 0
        claim = run.claim  # this process's, whatever another worker may write in the row
        while True:
            run.refresh_from_db()  # the work keeps its place (report id, page token) in the row
            run.claim = claim
            try:
                again = runs.attempt(run, failures, backoff=runs.foreground_backoff)
            except KeyboardInterrupt:
                history.finish_run(
                    run,
                    error="Stopped by the operator (Ctrl-C); the next run picks up its work.",
                )
                raise
            if again is None:
                run.refresh_from_db()
                if not run.is_final:
                    raise CommandError(self.taken_over(run))
                return run
            printer.note(again.reason)
            failures = again.failures
            try:
                self.sleep(run, again.seconds, printer)
            except history.RunTakenOver:
                raise CommandError(self.taken_over(run)) from None

    @staticmethod
    def taken_over(run: SyncRun) -> str:
        return (
            f"Run #{run.id} was taken over by a worker while this command was stalled; "
            "it carries on there (see Sync History)."
        )

    @staticmethod
    def sleep(run: SyncRun, seconds: float, printer: ProgressPrinter) -> None:
        """Sleep outside any transaction, keeping the run's heartbeat fresh so nobody takes
        it for dead (``STALE_AFTER``)."""
        clock = ratelimit.clock
        deadline = clock.monotonic() + max(0.0, seconds)
        while (left := deadline - clock.monotonic()) > 0:
            clock.sleep(min(left, 5.0))
            history.heartbeat(run)
            printer.refresh()

    # -- the result ------------------------------------------------------------------------

    def report(self, run: SyncRun) -> None:
        self.stdout.write(
            f"Run #{run.id} {run.get_status_display().lower()}: "
            f"items synced {run.items_synced}, failed {run.items_failed}; "
            f"orders synced {run.orders_synced}, failed {run.orders_failed}"
        )
        if run.kind == SyncRun.Kind.STOCK:
            self.report_stock(run)
        elif run.items_failed or run.orders_failed:
            for record in run.records.filter(outcome=SyncRecord.Outcome.FAILED).order_by("id")[:50]:
                self.stdout.write(f"  failed {record.external_id}: {record.reason}")
        if run.status == SyncRun.Status.FAILED:
            raise CommandError(f"Run #{run.id} failed: {run.error}")
        if run.status == SyncRun.Status.PARTIAL:
            raise CommandError(
                f"Run #{run.id} finished with failed records.", returncode=EXIT_PARTIAL
            )
        self.stdout.write(self.style.SUCCESS(f"Run #{run.id} succeeded."))

    def report_stock(self, run: SyncRun) -> None:
        quantities = dict(
            StockPushLine.objects.filter(push__run=run).values_list(
                "listing__seller_sku", "quantity"
            )
        )
        records = list(
            run.records.filter(record_type=SyncRecord.RecordType.STOCK).order_by("external_id")
        )
        if not records:
            self.stdout.write("No stock to push: every listing is as Amazon last accepted it.")
            return
        width = max(len(r.external_id) for r in records)
        self.stdout.write(f"{'SKU':<{width}}  {'qty':>6}  result")
        for r in records:
            quantity = quantities.get(r.external_id)
            shown = "" if quantity is None else str(quantity)
            line = f"{r.external_id:<{width}}  {shown:>6}  {r.outcome}"
            if r.reason:
                line += f"  {r.reason}"
            self.stdout.write(line)


def find_channel(value: str) -> SalesChannel:
    if value.isdigit():
        channel = SalesChannel.objects.filter(id=int(value)).first()
        if channel is not None:
            return channel
    matches = list(SalesChannel.objects.filter(name__iexact=value)[:2])
    if len(matches) == 1:
        return matches[0]
    if matches:
        raise CommandError(f"Several sales channels are named {value!r}: give its id.")
    known = (
        ", ".join(f"{c.id} {c.name!r}" for c in SalesChannel.objects.order_by("id")[:20]) or "none"
    )
    raise CommandError(f"No sales channel {value!r}. Channels: {known}.")


def reinitiated_run(channel: SalesChannel, run_id: int, kind: str | None) -> SyncRun:
    """The run to re-initiate, if it is this channel's (``services.reinitiate`` checks the rest)."""
    run = SyncRun.objects.filter(id=run_id).first()
    if run is None:
        raise CommandError(f"There is no sync run #{run_id}.")
    if run.channel_id != channel.id:
        raise CommandError(f"Run #{run_id} belongs to another sales channel.")
    if kind and kind != run.kind:
        raise CommandError(f"Run #{run_id} is a {run.kind} sync, not {kind}.")
    return run


def parse_day(value: str, option: str) -> date:
    try:
        return date.fromisoformat(value)
    except ValueError:
        raise CommandError(f"{option} must be a date as YYYY-MM-DD, not {value!r}.") from None


def sync_window(kind: str, start: str | None, end: str | None) -> tuple[Any, Any]:
    """--from/--to as the Sync Manually page checks and converts them (its form does both)."""
    if not start and not end:
        return None, None
    if kind not in (SyncRun.Kind.ITEMS, SyncRun.Kind.ORDERS, SyncRun.Kind.RETURNS):
        raise CommandError("--from/--to apply to item, order and returns syncs only.")
    if not start:
        raise CommandError("--to needs --from: the period has a start date.")
    start_day = parse_day(start, "--from")
    end_day = parse_day(end, "--to") if end else timezone.localdate()

    form = ManualSyncForm(
        data={
            "kind": kind,
            "fetch_from": ManualSyncForm.SPECIFIC_PERIOD,
            "start_date": start_day.isoformat(),
            "end_date": end_day.isoformat(),
        }
    )
    if not form.is_valid():
        messages = [str(m) for errors in form.errors.values() for m in errors]
        raise CommandError(" ".join(messages))
    return form.window()


def describe_window(start: Any, end: Any) -> str:
    start_text = timezone.localtime(start).strftime("%Y-%m-%d %H:%M %Z")
    end_text = timezone.localtime(end).strftime("%Y-%m-%d %H:%M %Z") if end else "now"
    return f"from {start_text} to {end_text}"
