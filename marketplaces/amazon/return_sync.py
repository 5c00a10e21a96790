"""Returns and refunds in: Amazon's two returns reports and its Finances transactions.

One run asks for the merchant returns report (by return request date) and the FBA customer
returns report (by the date the fulfilment centre received the units), records each return on
its sales order (``marketplaces.returns``), then reads the Finances ``listTransactions`` pages
of the period and records each refund. Returns come first so that a refund finds its return.

A retried run resumes where it was: the reports it asked for, the ones it has read and the
transactions page it reached are in the run's cursor (JSON). Amazon is never called inside a
transaction; each return and refund is written in its own.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.db import transaction
from django.utils import timezone

from marketplaces import returns as return_rules
from marketplaces.amazon.client import AmazonClient
from marketplaces.amazon.errors import AmazonPayloadError, WaitForAmazon
from marketplaces.amazon.return_types import (
    FBA_RETURNS_REPORT,
    MERCHANT_RETURNS_REPORT,
    parse_fba_returns,
    parse_merchant_returns,
    parse_transactions,
)
from marketplaces.models import SalesChannel, SalesOrder
from synchistory import services as history
from synchistory.models import SyncRecord, SyncRun

logger = logging.getLogger(__name__)

# A merchant return is listed by its request date and changes afterwards (delivered back,
# refunded): an automatic run reads the returns requested this far back again.
RETURNS_LOOKBACK = timedelta(days=30)
# Transactions posted late (Amazon's own replication) are still seen; seeing one twice is
# harmless (once per order and transaction id).
OVERLAP = timedelta(hours=1)
# listTransactions refuses a postedBefore less than two minutes before the request, and gives
# an empty page for a span over 180 days.
FINANCES_LAG = timedelta(minutes=3)
FINANCES_MAX_SPAN = timedelta(days=180)
REPORTS = {"merchant": MERCHANT_RETURNS_REPORT, "fba": FBA_RETURNS_REPORT}
RECORD_BATCH = 100


@dataclass
class _State:
    """What a run has done so far; kept in the run's cursor."""

    start: datetime
    end: datetime | None  # None: up to Amazon's now (its clock, not ours)
    refunds_start: datetime
    reports: dict[str, str]  # "merchant"/"fba" -> Amazon's report id
    read: list[str]  # the reports already read
    # Read since the channel's checkpoint (no period of its own): moves it at the end.
    moves_checkpoint: bool = False
    # Transactions are read up to here (the checkpoint then), fixed when reading them starts.
    refunds_until: datetime | None = None
    refunds_after: datetime | None = None  # the Finances chunk being read
    token: str = ""  # its next page
    done: int = 0
    total: int = 0

    def dump(self) -> str:
        return json.dumps(
            {
                "start": self.start.isoformat(),
                "end": self.end.isoformat() if self.end else None,
                "refunds_start": self.refunds_start.isoformat(),
                "reports": self.reports,
                "read": self.read,
                "moves_checkpoint": self.moves_checkpoint,
                "refunds_until": self.refunds_until.isoformat() if self.refunds_until else None,
                "refunds_after": self.refunds_after.isoformat() if self.refunds_after else None,
                "token": self.token,
                "done": self.done,
                "total": self.total,
            }
        )

    @classmethod
    def load(cls, cursor: str) -> _State:
        raw = json.loads(cursor)
        after, until = raw.get("refunds_after"), raw.get("refunds_until")
        return cls(
            start=datetime.fromisoformat(raw["start"]),
            end=datetime.fromisoformat(raw["end"]) if raw.get("end") else None,
            refunds_start=datetime.fromisoformat(raw["refunds_start"]),
            reports=dict(raw["reports"]),
            read=list(raw["read"]),
            moves_checkpoint=bool(raw.get("moves_checkpoint")),
            refunds_until=datetime.fromisoformat(until) if until else None,
            refunds_after=datetime.fromisoformat(after) if after else None,
            token=raw.get("token") or "",
            done=int(raw.get("done") or 0),
            total=int(raw.get("total") or 0),
        )


def returns_window(run: SyncRun, now: datetime) -> tuple[datetime, datetime | None, datetime]:
    """(returns from, to, refunds from). A specific period (manual, re-initiated) is read as
    asked; otherwise the returns of the last RETURNS_LOOKBACK and the refunds since the
    channel's checkpoint, up to Amazon's now (``None``)."""
    latest = now - FINANCES_LAG
    if run.window_start is not None:
        end = run.window_end if run.window_end and run.window_end < latest else None
        return run.window_start, end, run.window_start
    start = now - RETURNS_LOOKBACK
    checkpoint = run.channel.refunds_checkpoint
    refunds_start = checkpoint - OVERLAP if checkpoint else start
    return start, None, refunds_start


def sync_returns(run: SyncRun, client: AmazonClient) -> None:
    """One returns sync run (the connector's work for ``SyncRun.Kind.RETURNS``)."""
    now = timezone.now()
    if run.cursor:
        state = _State.load(run.cursor)
    else:
        start, end, refunds_start = returns_window(run, now)
        state = _State(
            start, end, refunds_start, reports={}, read=[], moves_checkpoint=not run.window_start
        )
        # The period read is shown in Sync History, and a re-initiated run reads it again.
        history.heartbeat(run, window_start=start, cursor=state.dump())
    for name, report_type in REPORTS.items():
        if name not in state.reports:
            history.heartbeat(run)  # no report is asked for by a worker taken over meanwhile
            state.reports[name] = client.create_report(
                report_type, start=state.start, end=state.end
            )
            history.heartbeat(run, cursor=state.dump())
    for name, report_type in REPORTS.items():
        if name not in state.read:
            _read_report(run, client, state, name, report_type)
    if state.refunds_until is None:
        state.refunds_until = state.end or timezone.now() - FINANCES_LAG
        history.heartbeat(run, cursor=state.dump())
    _read_refunds(run, client, state, state.refunds_until)
    if state.moves_checkpoint:
        _advance_checkpoint(run.channel, state.refunds_until)


def _read_report(
    run: SyncRun, client: AmazonClient, state: _State, name: str, report_type: str
) -> None:
    report_id = state.reports[name]
    status = client.get_report(report_id)
    if status.status in {"IN_QUEUE", "IN_PROGRESS"}:
        raise WaitForAmazon(f"Amazon is preparing returns report {report_id}", _report_poll())
    state.read.append(name)
    if status.status == "CANCELLED":
        # Amazon cancels a report with no data: no return in the window.
        history.heartbeat(run, cursor=state.dump())
        return
    if status.status != "DONE" or not status.document_id:
        history.record(
            run,
            SyncRecord.RecordType.RETURN,
            report_type,
            "failed",
            reason=f"Amazon's {report_type} report {report_id} ended {status.status}: its "
            "returns were not read; the next returns sync asks for it again.",
        )
        history.heartbeat(run, cursor=state.dump())
        return
    text = client.download_report(status.document_id)
    parse = parse_merchant_returns if name == "merchant" else parse_fba_returns
    try:
        facts, unreadable = parse(text)
    except AmazonPayloadError as error:
        # The same document would be just as unreadable on a retry: the report fails alone.
        history.record(
            run,
            SyncRecord.RecordType.RETURN,
            report_type,
            "failed",
            reason=f"Amazon's {report_type} report {report_id} could not be read: {error}",
        )
        history.heartbeat(run, cursor=state.dump())
        return
    state.total += len(facts) + len(unreadable)
    history.heartbeat(run, done=state.done, total=state.total)
    entries = [
        history.Entry(SyncRecord.RecordType.RETURN, external_id, "failed", reason)
        for external_id, reason in unreadable
    ]
    for one in facts:
        entries.append(import_return(run.channel, one, fence=lambda: history.heartbeat(run)))
        if len(entries) >= RECORD_BATCH:
            state.done += len(entries)
            _flush(run, entries)
            entries = []
    state.done += len(entries)
    _flush(run, entries)
    history.heartbeat(run, done=state.done, cursor=state.dump())


def _flush(run: SyncRun, entries: list[history.Entry]) -> None:
    if entries:
        history.record_many(run, entries)


def import_return(
    channel: SalesChannel,
    facts: return_rules.ReturnFacts,
    *,
    fence: Callable[[], None] = lambda: None,
) -> history.Entry:
    """Record one return of a report on this channel's order; the sync record to write."""
    external_id = f"{facts.amazon_order_id} {facts.amazon_return_id}"
    outcome = return_rules.record_return(channel, facts, fence=fence)
    if outcome.outcome == "failed" and (owner := _sibling_owner(channel, facts)) is not None:
        # The FBA report lists every marketplace of the seller's FBA network: an order of
        # another marketplace is that channel's to record.
        return history.Entry(
            SyncRecord.RecordType.RETURN,
            external_id,
            "skipped",
            f"An order of {owner.name}: that channel's returns sync records it",
        )
    return history.Entry(
        SyncRecord.RecordType.RETURN,
        external_id,
        outcome.outcome,
        outcome.reason,
        outcome.local_object,
    )


def _sibling_owner(channel: SalesChannel, facts: return_rules.ReturnFacts) -> SalesChannel | None:
    if return_rules.find_order(channel, facts.amazon_order_id) is not None:
        return None
    other = (
        SalesOrder.objects.filter(
            amazon_order_id=facts.amazon_order_id, channel__seller_id__iexact=channel.seller_id
        )
        .exclude(channel=channel)
        .select_related("channel")
        .first()
    )
    return other.channel if other is not None else None


def _read_refunds(run: SyncRun, client: AmazonClient, state: _State, stop: datetime) -> None:
    """Every Finances page of the period up to ``stop``, in chunks of at most 180 days."""
    after = state.refunds_after or state.refunds_start
    while after < stop:
        before = after + FINANCES_MAX_SPAN
        # The last chunk of a period up to now ends at Amazon's now (no postedBefore).
        bound = min(before, state.end) if state.end else (before if before < stop else None)
        state.refunds_after = after
        while True:
            payload = client.list_transactions(
                posted_after=None if state.token else after,
                posted_before=None if state.token else bound,
                next_token=state.token or None,
            )
            refunds, unreadable, token = parse_transactions(payload)
            entries = [
                history.Entry(SyncRecord.RecordType.REFUND, external_id, "failed", reason)
                for external_id, reason in unreadable
            ]
            for facts in refunds:
                outcome = return_rules.record_refund(
                    run.channel, facts, fence=lambda: history.heartbeat(run)
                )
                entries.append(
                    history.Entry(
                        SyncRecord.RecordType.REFUND,
                        f"{facts.amazon_order_id} {facts.transaction_id}",
                        outcome.outcome,
                        outcome.reason,
                        outcome.local_object,
                    )
                )
            state.total += len(entries)
            state.done += len(entries)
            state.token = token or ""
            _flush(run, entries)
            history.heartbeat(run, done=state.done, total=state.total, cursor=state.dump())
            if not token:
                break
        after = before if bound is not None else stop
        state.refunds_after = after
        history.heartbeat(run, cursor=state.dump())


def _advance_checkpoint(channel: SalesChannel, read_up_to: datetime) -> None:
    with transaction.atomic():
        locked = SalesChannel.objects.select_for_update().get(id=channel.id)
        if locked.refunds_checkpoint is None or read_up_to > locked.refunds_checkpoint:
            locked.refunds_checkpoint = read_up_to
            locked.save(update_fields=["refunds_checkpoint", "updated_at"])
            channel.refunds_checkpoint = read_up_to


def _report_poll() -> float:
    return max(1.0, 30.0 / float(getattr(settings, "AMAZON_RATE_SCALE", 1.0)))


@dataclass(frozen=True)
class Estimate:
    count: int
    exact: bool


def estimate_refunds(client: AmazonClient, start: datetime, end: datetime | None) -> Estimate:
    """Dry run: one listTransactions page; its refunds, extrapolated over the period from how
    much of it the page covers when there are more pages."""
    latest = timezone.now() - FINANCES_LAG
    end = min(end or latest, latest, start + FINANCES_MAX_SPAN)
    payload: Any = client.list_transactions(posted_after=start, posted_before=end)
    refunds, unreadable, token = parse_transactions(payload)
    count = len(refunds) + len(unreadable)
    if not token:
        return Estimate(count, exact=True)
    posted = [
        str(raw.get("postedDate"))
        for raw in payload.get("transactions") or []
        if isinstance(raw, dict) and raw.get("postedDate")
    ]
    if not posted:
        return Estimate(count, exact=False)
    last = datetime.fromisoformat(max(posted).replace("Z", "+00:00"))
    covered = (last - start).total_seconds()
    scale = (end - start).total_seconds() / covered if covered > 0 else 1.0
    return Estimate(int(count * scale), exact=False)
