"""Shared plumbing of the product benchmarks: a throwaway database, an in-process simulator,
Amazon call counts, the usage-plan arithmetic, and writing a section of docs/PERFORMANCE.md.

Import this module before anything of Django: ``setup_django()`` points VAR_DIR (and so the
default SQLite database and the Celery folders) at a temporary folder unless DATABASE_URL is
set, in which case that database is used as it is (migrated, never dropped).
"""

from __future__ import annotations

import os
import platform
import re
import subprocess
import sys
import tempfile
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import date
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
PERFORMANCE_MD = ROOT / "docs" / "PERFORMANCE.md"
sys.path.insert(0, str(ROOT))


def setup_django(rate_scale: float = 1_000_000.0) -> str:
    """Configure and start Django on a throwaway database; returns a description of it.

    ``rate_scale`` (AMAZON_RATE_SCALE) makes our own usage-plan pacing negligible: the
    benchmarks measure our processing, and compute Amazon's time from the call counts.
    """
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "inventory_sync.settings")
    os.environ.pop("SP_API_DEFAULT_MARKETPLACE", None)
    os.environ["AMAZON_RATE_SCALE"] = str(rate_scale)
    if not os.environ.get("DATABASE_URL"):
        os.environ["VAR_DIR"] = tempfile.mkdtemp(prefix="inventory-sync-bench-")
    import django

    django.setup()
    from django.conf import settings
    from django.core.management import call_command

    from inventory_sync.celery import app as celery_app

    # What the product queues (debounced stock pushes) is dropped, never left for a worker.
    celery_app.conf.update(broker_url="memory://")
    call_command("migrate", verbosity=0, interactive=False)
    database = settings.DATABASES["default"]
    return f"{database['ENGINE'].rsplit('.', 1)[-1]} ({database['NAME']})"


def main_warehouse(*, import_every_order: bool = False) -> Any:
    """The organization's primary warehouse, made; ``import_every_order``: the "Confirmed and
    fulfilled" preference, so every order Amazon hands over, shipped ones included, is one."""
    from warehouses.models import Organization, Warehouse

    warehouse = Warehouse.objects.create(name="Main warehouse")
    organization = Organization.load()
    organization.primary_warehouse = warehouse
    if import_every_order:
        preference = Organization.OrderSyncPreference.CONFIRMED_AND_FULFILLED
        organization.order_sync_preference = preference
    organization.save()
    return warehouse


def simulator_channel(sim: Any, **fields: Any) -> Any:
    """A sales channel of the simulator's seller (Amazon.ca unless ``fields`` say otherwise)."""
    from marketplaces.models import SalesChannel

    return SalesChannel.objects.create(
        **{"name": "Amazon.ca", "seller_id": "A3SIMULATORCA", **fields},
        refresh_token="Atzr|simulator",  # noqa: S106 - the simulator's public demo token
        spapi_endpoint=sim.base_url,
        lwa_endpoint=sim.base_url,
    )


def counters(base_url: str) -> dict[str, int]:
    from spapi_simulator.testing import sim_get

    body = sim_get(base_url, "/_sim/counters", timeout=30)
    return {op: int(values["calls"]) for op, values in body["operations"].items()}


def calls_between(before: dict[str, int], after: dict[str, int]) -> dict[str, int]:
    return {
        op: after[op] - before.get(op, 0) for op in sorted(after) if after[op] - before.get(op, 0)
    }


def amazon_seconds(calls: dict[str, int]) -> tuple[float, dict[str, float]]:
    """Time Amazon's real usage plans need for these calls: per operation
    max(0, (calls - burst) / rate) from a full bucket; the whole is the slowest operation."""
    from marketplaces.amazon.ratelimit import USAGE_PLANS

    per_operation = {}
    for operation, count in calls.items():
        plan = USAGE_PLANS.get(operation)
        if plan is None:  # the LWA token endpoint, document downloads: not usage-planned
            continue
        per_operation[operation] = max(0.0, (count - plan.burst) / plan.rate)
    return max(per_operation.values(), default=0.0), per_operation


def duration(seconds: float) -> str:
    if seconds < 120:
        return f"{seconds:.0f} s"
    if seconds < 7200:
        return f"{seconds / 60:.1f} min"
    return f"{seconds / 3600:.1f} h"


_TABLE = re.compile(r'(?:FROM|INTO|UPDATE)\s+"?(\w+)"?', re.IGNORECASE)


class QueryCounter:
    """Counts this thread's SQL statements by verb and table (``connection.execute_wrapper``),
    without keeping the statements: 10,000 orders make hundreds of thousands."""

    def __init__(self) -> None:
        self.by_kind: Counter[str] = Counter()

    @property
    def total(self) -> int:
        return sum(self.by_kind.values())

    def __call__(
        self, execute: Callable[..., Any], sql: str, params: Any, many: bool, context: Any
    ) -> Any:
        verb = sql.lstrip().split(None, 1)[0].upper() if sql.strip() else "?"
        match = _TABLE.search(sql)
        self.by_kind[f"{verb} {match.group(1) if match else ''}".strip()] += 1
        return execute(sql, params, many, context)

    @contextmanager
    def counting(self) -> Iterator[QueryCounter]:
        from django.db import connection

        with connection.execute_wrapper(self):
            yield self


def max_rss_mib() -> float:
    import resource

    # Linux reports kilobytes.
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def machine() -> str:
    cpus = os.cpu_count()
    memory = ""
    with suppress(OSError, IndexError):
        memory = (
            subprocess.run(["free", "-h"], capture_output=True, text=True, check=False)
            .stdout.splitlines()[1]
            .split()[1]
        )
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return (
        f"{cpus} cores ({model or platform.processor() or 'unknown CPU'}), {memory or '?'} RAM, "
        f"Python {platform.python_version()}"
    )


def today() -> str:
    return date.today().isoformat()  # noqa: DTZ011 - the machine's date, for the record


def markdown_table(header: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(header) + " |", "|" + "|".join("---" for _ in header) + "|"]
    lines += ["| " + " | ".join(row) + " |" for row in rows]
    return "\n".join(lines)


def print_table(header: list[str], rows: list[list[str]]) -> None:
    widths = [max(len(str(x)) for x in column) for column in zip(header, *rows, strict=True)]
    for row in [header, ["-" * w for w in widths], *rows]:
        print("  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)))


def write_section(key: str, title: str, body: str) -> None:
    """Replace (or append) the section between this benchmark's markers in PERFORMANCE.md."""
    start, end = f"<!-- benchmark:{key} -->", f"<!-- /benchmark:{key} -->"
    section = f"{start}\n## {title}\n\n{body.strip()}\n{end}"
    text = PERFORMANCE_MD.read_text(encoding="utf-8")
    if start in text and end in text:
        before, rest = text.split(start, 1)
        _, after = rest.split(end, 1)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    PERFORMANCE_MD.write_text(text, encoding="utf-8")
    print(f"Wrote section {title!r} of {PERFORMANCE_MD.relative_to(ROOT)}")
