"""The web pages under load: Sync History (and its page 2), Sales Orders and Items, read by 50
concurrent users from the production server (gunicorn as docker-compose.yml runs it, DEBUG
off) over PostgreSQL holding 100,000 recent sync runs with 1,000,000 records, 100,000 expired
runs with another 1,000,000 records, 100,000 sales orders and 10,000 items; then the retention
job deleting the expired million while the pages are being read.

    flock /tmp/heavy.lock .venv/bin/python benchmarks/load_web.py [--quick] [--write-docs]

A fresh database ``inventory_sync_loadbench`` is created on 127.0.0.1:5432 (dropped first if
it exists, dropped again at the end unless ``--keep-db``). ``--quick``: 10x less data, 15 s per
phase. Loopback only; the number of users and the phases' lengths bound the load.

Phases, each a closed loop of ``--users`` virtual users over the same page mix:
  * paced: every user waits 0.5-1.5 s (uniform) between pages, as people do;
  * saturated: no wait at all, to find the server's throughput (latency is then queueing);
  * prune: paced users while ``prune_sync_history`` runs in another process.

The users are asyncio tasks on plain HTTP/1.1 connections (no HTTP library in the loop), so
the generator costs well under a millisecond of CPU per request; each phase reports the CPU
per request of the generator, gunicorn and PostgreSQL, and how busy the whole machine was.

The static files are collected into a temporary folder: the server is started from this
script (``--serve``) with ``STATIC_ROOT`` pointed there, so nothing is written to the project.
"""

from __future__ import annotations

import argparse
import asyncio
import csv
import json
import os
import random
import re
import resource
import shutil
import socket
import subprocess
import sys
import tempfile
import threading
import time
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _common import ROOT, machine, markdown_table, print_table, today, write_section  # noqa: E402

DB_NAME = "inventory_sync_loadbench"
SERVER_URL = "postgres://postgres@127.0.0.1:5432"
DATABASE_URL = f"{SERVER_URL}/{DB_NAME}"
PYTHON = str(ROOT / ".venv" / "bin" / "python")
USERNAME = "loadbench-admin"
PASSWORD = "load-bench-Password-2026"  # noqa: S105 - a throwaway account of a throwaway database
TARGET_P95_MS = 300.0


def quiet_http_logs() -> None:
    import logging

    logging.getLogger("httpx").setLevel(logging.WARNING)
    logging.getLogger("httpcore").setLevel(logging.WARNING)


def log(message: str) -> None:
    print(f"[{datetime.now(UTC):%H:%M:%S}] {message}", flush=True)


def bench_env(static_root: str) -> dict[str, str]:
    from cryptography.fernet import Fernet

    env = dict(os.environ)
    for name in ("REDIS_URL", "VAR_DIR", "SP_API_DEFAULT_MARKETPLACE"):
        env.pop(name, None)
    env.update(
        DJANGO_SETTINGS_MODULE="inventory_sync.settings",
        DATABASE_URL=DATABASE_URL,
        DEBUG="false",
        SECRET_KEY="load-bench-" + Fernet.generate_key().decode(),
        ALLOWED_HOSTS="127.0.0.1",
        FIELD_ENCRYPTION_KEY=Fernet.generate_key().decode(),
        SECURE_SSL_REDIRECT="false",
        BENCH_STATIC_ROOT=static_root,
        VAR_DIR=str(Path(static_root).parent / "var"),
        PYTHONPATH=str(ROOT),
    )
    return env


def patch_static_root() -> None:
    """Point STATIC_ROOT at the benchmark's temporary folder before Django reads the settings."""
    import inventory_sync.settings as settings_module

    settings_module.STATIC_ROOT = Path(os.environ["BENCH_STATIC_ROOT"])


def serve(port: int, workers: int, threads: int) -> None:
    """Run gunicorn as docker-compose.yml deploys it (gthread workers), static files from the
    temporary folder, no access log."""
    sys.path.insert(0, str(ROOT))
    patch_static_root()
    sys.argv = [
        "gunicorn",
        "inventory_sync.wsgi",
        "--bind",
        f"127.0.0.1:{port}",
        "--workers",
        str(workers),
        "--worker-class",
        "gthread" if threads > 1 else "sync",
        "--threads",
        str(threads),
        "--chdir",
        str(ROOT),
        "--log-level",
        "warning",
    ]
    from gunicorn.app.wsgiapp import run

    run()


# -- Database --------------------------------------------------------------------------------


def admin_sql(statement: str) -> None:
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as connection:
        connection.execute(statement)


def drop_database() -> None:
    admin_sql(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")


def setup_database(env: dict[str, str], scale: float) -> dict[str, object]:
    drop_database()
    admin_sql(f"CREATE DATABASE {DB_NAME}")
    started = time.perf_counter()
    subprocess.run(
        [PYTHON, "manage.py", "migrate", "--verbosity", "0", "--no-input"],
        cwd=ROOT,
        env=env,
        check=True,
    )
    log(f"migrated in {time.perf_counter() - started:.1f} s")

    # Django in this process too: the singleton rows, the admin user, query counts per page.
    os.environ.update(env)
    sys.path.insert(0, str(ROOT))
    patch_static_root()
    import django

    django.setup()
    from django.core.management import call_command
    from django.db import connection

    from accounts.models import User
    from marketplaces.models import SalesChannel
    from warehouses.models import Organization, Warehouse

    call_command("collectstatic", "--no-input", verbosity=0)
    main = Warehouse.objects.create(name="Main warehouse", address="1 Industrial Rd, Toronto")
    overflow = Warehouse.objects.create(name="Overflow", address="2 Depot St, Mississauga")
    Organization.objects.update_or_create(
        id=Organization.SINGLETON_ID,
        defaults={"multi_warehouse_enabled": True, "primary_warehouse": main},
    )
    channel = SalesChannel.objects.create(
        name="Amazon.ca store", seller_id="A1LOADBENCH", mapped_warehouse=main
    )
    User.objects.create_user(
        USERNAME, email="admin@example.com", password=PASSWORD, role=User.Role.ADMIN
    )

    import _web_data

    counts = {
        "runs": int(100_000 * scale),
        "expired runs": int(100_000 * scale),
        "orders": int(100_000 * scale),
        "items": int(10_000 * scale),
    }
    started = time.perf_counter()
    with connection.cursor() as cursor:
        _web_data.load(
            cursor.cursor,  # the psycopg cursor under Django's wrapper
            now=datetime.now(UTC),
            channel=channel.id,
            warehouses=(main.id, overflow.id),
            runs=counts["runs"],
            expired=counts["expired runs"],
            orders=counts["orders"],
            items=counts["items"],
            log=log,
        )
    connection.close()
    import psycopg

    admin = psycopg.connect(DATABASE_URL, autocommit=True)
    admin.execute("VACUUM ANALYZE")
    admin.close()
    load_seconds = time.perf_counter() - started
    log(f"data loaded and analyzed in {load_seconds:.1f} s")
    return {"channel": channel.id, "load_seconds": load_seconds, **counts}


def table_counts() -> dict[str, int]:
    import psycopg

    tables = {
        "sync runs": "synchistory_syncrun",
        "sync records": "synchistory_syncrecord",
        "sales orders": "marketplaces_salesorder",
        "order lines": "marketplaces_salesorderline",
        "items": "warehouses_item",
        "stock rows": "warehouses_stock",
    }
    with psycopg.connect(DATABASE_URL) as connection:
        return {
            label: (connection.execute(f"SELECT count(*) FROM {table}").fetchone() or (0,))[0]  # noqa: S608
            for label, table in tables.items()
        }


# -- The page mix ----------------------------------------------------------------------------


def page_mix(channel: int, history_older: int, orders_older: int) -> list[tuple[str, str]]:
    history = f"/settings/integrations/marketplaces/{channel}/history/"
    return [
        ("Home", "/"),
        ("Sync History", history),
        ("Sync History page 2 (Older)", f"{history}?older_than={history_older}"),
        ("Sync History kind=orders status=partial", f"{history}?kind=orders&status=partial"),
        ("Sales Orders", "/sales-orders/"),
        ("Sales Orders page 2 (Older)", f"/sales-orders/?older_than={orders_older}"),
        ("Sales Orders status=on_hold", "/sales-orders/?status=on_hold"),
        ("Sales Orders ship=late", "/sales-orders/?ship=late"),
        ("Sales Orders search q=SKU-0042", "/sales-orders/?q=SKU-0042"),
        ("Items", "/items/"),
        ("Items page 100", "/items/?page=100"),
        ("Items search q=SKU-0042", "/items/?q=SKU-0042"),
        ("Items unconfirmed", "/items/?status=unconfirmed"),
        ("Items low stock", "/items/?attention=low_stock"),
    ]


# Each user reads the three main pages more often than the variants.
WEIGHTS = {"Home": 3, "Sync History": 3, "Sales Orders": 3, "Items": 3}


def query_profile(pages: list[tuple[str, str]], repeat: int = 1) -> list[dict[str, object]]:
    """Queries per page and the slowest one, from Django's test client in this process; with
    ``repeat``, the page is read that many times more for its p50 / p95 (one at a time)."""
    from django.db import connection, reset_queries
    from django.test import Client
    from django.test.utils import CaptureQueriesContext

    from accounts.models import User

    client = Client(HTTP_HOST="127.0.0.1")
    client.force_login(User.objects.get(username=USERNAME))
    rows = []
    for name, url in pages:
        client.get(url, secure=True)  # warm
        reset_queries()
        with CaptureQueriesContext(connection) as captured:
            started = time.perf_counter()
            response = client.get(url, secure=True)
            elapsed = time.perf_counter() - started
        queries = list(captured.captured_queries)  # before the next request resets the log
        slowest = max(queries, key=lambda q: float(q["time"]))
        timings = [elapsed]
        for _ in range(repeat - 1):
            started = time.perf_counter()
            client.get(url, secure=True)
            timings.append(time.perf_counter() - started)
        rows.append(
            {
                "p50_ms": percentile(timings, 50) * 1000,
                "p95_ms": percentile(timings, 95) * 1000,
                "page": name,
                "status": response.status_code,
                "queries": len(queries),
                "ms": elapsed * 1000,
                "sql_ms": sum(float(q["time"]) for q in queries) * 1000,
                "slowest_ms": float(slowest["time"]) * 1000,
                "slowest_sql": slowest["sql"],
            }
        )
    connection.close()
    return rows


# -- Load generator --------------------------------------------------------------------------


@dataclass
class Samples:
    latencies: dict[str, list[float]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    error_examples: list[str] = field(default_factory=list)
    # (page, perf_counter at the request's start, seconds, ok): to cut out a window.
    log: list[tuple[str, float, float, bool]] = field(default_factory=list)

    def add(self, name: str, at: float, seconds: float, ok: bool, detail: str = "") -> None:
        self.latencies.setdefault(name, []).append(seconds)
        self.log.append((name, at, seconds, ok))
        if not ok:
            self.errors[name] = self.errors.get(name, 0) + 1
            if len(self.error_examples) < 5:
                self.error_examples.append(f"{name}: {detail}")

    def between(self, first: float, last: float) -> Samples:
        """The requests started in [first, last]."""
        window = Samples()
        for name, at, seconds, ok in self.log:
            if first <= at <= last:
                window.add(name, at, seconds, ok)
        window.error_examples = self.error_examples
        return window


def percentile(values: list[float], q: float) -> float:
    """Nearest-rank percentile."""
    ordered = sorted(values)
    rank = max(1, min(len(ordered), int(-(-q * len(ordered) // 100))))
    return ordered[rank - 1]


def summarize(
    samples: Samples, pages: list[tuple[str, str]], seconds: float, cpu: dict[str, float]
) -> list[dict]:
    rows = []
    everything: list[float] = []
    for name, _ in pages:
        values = samples.latencies.get(name, [])
        everything += values
        if values:
            rows.append(_row(name, values, samples.errors.get(name, 0)))
    total = _row("all pages", everything, sum(samples.errors.values()))
    total["rps"] = len(everything) / seconds if seconds else 0.0
    total["loadavg"] = os.getloadavg()[0]
    # CPU milliseconds per request of each part, and cores busy on average.
    for part in ("generator", "gunicorn", "postgres", "machine"):
        total[f"{part}_ms"] = cpu[part] * 1000 / max(len(everything), 1)
        total[f"{part}_cores"] = cpu[part] / cpu["wall"]
    return [*rows, total]


def _row(name: str, values: list[float], errors: int) -> dict:
    return {
        "page": name,
        "requests": len(values),
        "errors": errors,
        "p50": percentile(values, 50) * 1000,
        "p95": percentile(values, 95) * 1000,
        "p99": percentile(values, 99) * 1000,
        "max": max(values) * 1000,
    }


class HttpConnection:
    """One user's HTTP/1.1 connection, written on asyncio streams: a GET costs the generator
    about half a millisecond of CPU (measured in every phase), so it does not take the cores
    it measures. Reconnects when the server closes (gunicorn's sync workers close
    after every response; gthread workers keep the connection alive)."""

    def __init__(self, host: str, port: int, headers: dict[str, str]) -> None:
        self.host, self.port = host, port
        self.header_lines = "".join(f"{name}: {value}\r\n" for name, value in headers.items())
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None

    async def get(self, path: str) -> tuple[int, int]:
        """(HTTP status, body length). A kept-alive connection the server has meanwhile
        closed is retried once on a fresh one."""
        for attempt in (1, 2):
            reused = self.writer is not None
            if self.writer is None:
                self.reader, self.writer = await asyncio.open_connection(self.host, self.port)
            try:
                return await self._exchange(path)
            except (ConnectionError, asyncio.IncompleteReadError, EOFError):
                self.close()
                if not reused or attempt == 2:
                    raise
        raise AssertionError("unreachable")

    async def _exchange(self, path: str) -> tuple[int, int]:
        assert self.reader is not None and self.writer is not None
        self.writer.write(
            f"GET {path} HTTP/1.1\r\nHost: {self.host}\r\n{self.header_lines}\r\n".encode()
        )
        await self.writer.drain()
        status_line = await self.reader.readline()
        if not status_line:
            raise EOFError("connection closed before the response")
        status = int(status_line.split()[1])
        length, close = None, False
        while (line := await self.reader.readline()) not in (b"\r\n", b""):
            name, _, value = line.decode("latin-1").partition(":")
            name = name.strip().lower()
            if name == "content-length":
                length = int(value)
            elif name == "connection" and value.strip().lower() == "close":
                close = True
        if length is None:  # no length: the body runs to the end of the connection
            body = await self.reader.read()
            close = True
        else:
            body = await self.reader.readexactly(length)
        if close:
            self.close()
        return status, len(body)

    def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
        self.reader = self.writer = None


async def run_users(
    base_url: str,
    cookie: str,
    pages: list[tuple[str, str]],
    *,
    users: int,
    seconds: float,
    think: tuple[float, float],
    stop: asyncio.Event | None = None,
    seed: int = 1,
) -> tuple[Samples, float]:
    """``users`` virtual users, each on its own connection GETting pages in random order until
    time is up (or ``stop`` is set, after at least ``seconds``), waiting ``think`` seconds
    between pages. A latency runs from sending the request (connecting included when the
    connection is new) to the last byte of the body, so it includes any wait for a worker."""
    samples = Samples()
    weighted = [page for page in pages for _ in range(WEIGHTS.get(page[0], 1))]
    headers = {"Cookie": cookie, "X-Forwarded-Proto": "https", "User-Agent": "load-web-bench"}
    host, port = base_url.split("://")[1].split(":")
    started = time.perf_counter()
    deadline = started + seconds

    def more() -> bool:
        now = time.perf_counter()
        if stop is None:
            return now < deadline
        return now < deadline or not stop.is_set()

    async def user(number: int) -> None:
        rng = random.Random(seed * 1000 + number)
        connection = HttpConnection(host, int(port), headers)
        await asyncio.sleep(rng.uniform(0, max(think[1], 0.2)))  # no thundering start
        while more():
            name, url = rng.choice(weighted)
            t0 = time.perf_counter()
            try:
                status, _ = await asyncio.wait_for(connection.get(url), timeout=60)
                samples.add(name, t0, time.perf_counter() - t0, status == 200, f"HTTP {status}")
            except (OSError, EOFError, asyncio.IncompleteReadError, TimeoutError) as exc:
                connection.close()
                samples.add(name, t0, time.perf_counter() - t0, False, repr(exc))
            if think[1]:
                await asyncio.sleep(rng.uniform(*think))
        connection.close()

    await asyncio.gather(*(user(n) for n in range(users)))
    return samples, time.perf_counter() - started


# -- CPU accounting --------------------------------------------------------------------------

CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


def process_cpu_seconds(pid: int) -> float:
    """User + system CPU of one process (0 if it has exited)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return 0.0
    return (int(fields[11]) + int(fields[12])) / CLOCK_TICKS  # utime, stime


def server_pids(server_pid: int) -> list[int]:
    """gunicorn's arbiter and its workers."""
    pids = [server_pid]
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            if int(stat.read_text().rsplit(")", 1)[1].split()[1]) == server_pid:
                pids.append(int(stat.parent.name))
        except (OSError, ValueError, IndexError):
            continue
    return pids


def database_pids() -> list[int]:
    """PostgreSQL backends serving the benchmark database (persistent: CONN_MAX_AGE)."""
    import psycopg

    with psycopg.connect(f"{SERVER_URL}/postgres") as connection:
        rows = connection.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB_NAME,)
        ).fetchall()
    return [row[0] for row in rows]


@dataclass
class CpuMeter:
    """CPU seconds of the load generator (this process), gunicorn and PostgreSQL's backends,
    and of the whole machine, over one phase: what the 2 cores had to cover.

    Backends come and go (``CONN_MAX_AGE`` closes a connection after 60 s and the next
    request opens another), so a thread samples them twice a second and keeps each one's last
    reading: a backend that exited during the phase still counts."""

    server_pid: int
    start: dict[str, dict[int, float]] = field(default_factory=dict)
    seen: dict[str, dict[int, float]] = field(default_factory=dict)
    wall_start: float = 0.0
    busy_start: float = 0.0
    sampler: threading.Thread | None = None
    done: threading.Event = field(default_factory=threading.Event)

    def snapshot(self) -> dict[str, dict[int, float]]:
        return {
            "generator": {0: time.process_time()},
            "gunicorn": {pid: process_cpu_seconds(pid) for pid in server_pids(self.server_pid)},
            "postgres": {pid: process_cpu_seconds(pid) for pid in database_pids()},
        }

    def _merge(self, snapshot: dict[str, dict[int, float]]) -> None:
        for part, pids in snapshot.items():
            for pid, cpu in pids.items():
                if cpu:  # 0: the process has exited; keep its last reading
                    self.seen[part][pid] = cpu

    def _sample(self) -> None:
        import psycopg

        with psycopg.connect(f"{SERVER_URL}/postgres", autocommit=True) as connection:
            while not self.done.wait(0.5):
                rows = connection.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s", (DB_NAME,)
                ).fetchall()
                # Only the backends churn; gunicorn's workers live as long as the server.
                self._merge({"postgres": {row[0]: process_cpu_seconds(row[0]) for row in rows}})

    def begin(self) -> None:
        self.start = self.snapshot()
        self.seen = {part: dict(pids) for part, pids in self.start.items()}
        self.wall_start = time.perf_counter()
        self.busy_start = machine_busy_seconds()
        self.done.clear()
        self.sampler = threading.Thread(target=self._sample, daemon=True)
        self.sampler.start()

    def stop(self, exclude: frozenset[int] = frozenset()) -> dict[str, float]:
        """CPU seconds per part (a backend or worker new since ``begin`` counts from 0; the
        processes in ``exclude`` not at all); ``machine`` is everything the machine ran,
        anyone's; ``wall`` the phase's length."""
        self._merge(self.snapshot())
        used = {
            part: sum(
                cpu - self.start[part].get(pid, 0.0)
                for pid, cpu in pids.items()
                if pid not in exclude
            )
            for part, pids in self.seen.items()
        }
        used["machine"] = machine_busy_seconds() - self.busy_start
        used["wall"] = time.perf_counter() - self.wall_start
        self.done.set()
        if self.sampler is not None:
            self.sampler.join()
        return used


def machine_busy_seconds() -> float:
    """CPU seconds all cores spent busy since boot (/proc/stat: all but idle and iowait)."""
    fields = [int(value) for value in Path("/proc/stat").read_text().split("\n")[0].split()[1:]]
    idle = fields[3] + fields[4]
    return (sum(fields[:8]) - idle) / CLOCK_TICKS


# -- Server and login ------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def start_server(env: dict[str, str], workers: int, threads: int) -> tuple[subprocess.Popen, str]:
    import httpx

    port = free_port()
    server = subprocess.Popen(
        [PYTHON, __file__, "--serve", str(port)]
        + ["--workers", str(workers), "--threads", str(threads)],
        cwd=ROOT,
        env=env,
    )
    base_url = f"http://127.0.0.1:{port}"
    for _ in range(300):
        if server.poll() is not None:
            raise SystemExit(f"gunicorn exited with {server.returncode}")
        try:
            if (
                httpx.get(
                    f"{base_url}/healthz/", headers={"X-Forwarded-Proto": "https"}, timeout=2
                ).status_code
                < 500
            ):
                return server, base_url
        except httpx.HTTPError:
            pass
        time.sleep(0.2)
    server.terminate()
    raise SystemExit("gunicorn did not answer within 60 s")


def login(base_url: str) -> str:
    """One login; returns the Cookie header every virtual user sends. Production cookies are
    Secure, so they are read from Set-Cookie and sent by hand over the loopback http."""
    import httpx

    headers = {"X-Forwarded-Proto": "https", "Origin": f"https://{base_url.split('://')[1]}"}
    with httpx.Client(base_url=base_url, headers=headers, follow_redirects=False) as client:
        page = client.get("/login/")
        csrf = page.cookies.get("csrftoken")
        if not csrf:
            raise SystemExit(f"no CSRF cookie from /login/ (HTTP {page.status_code})")
        response = client.post(
            "/login/",
            data={"username": USERNAME, "password": PASSWORD, "csrfmiddlewaretoken": csrf},
            headers={"Cookie": f"csrftoken={csrf}", "Referer": headers["Origin"] + "/login/"},
        )
        session = response.cookies.get("sessionid")
        if response.status_code != 302 or not session:
            raise SystemExit(f"login failed: HTTP {response.status_code}")
    return f"csrftoken={csrf}; sessionid={session}"


def older_cursor(base_url: str, cookie: str, url: str) -> int:
    import httpx

    body = httpx.get(
        base_url + url, headers={"Cookie": cookie, "X-Forwarded-Proto": "https"}, timeout=60
    ).text
    match = re.search(r"older_than=(\d+)", body)
    if not match:
        raise SystemExit(f"no Older link on {url}")
    return int(match.group(1))


# -- Prune -----------------------------------------------------------------------------------

PRUNE_CODE = """
import json, time
from django.db import connection
from synchistory.models import SyncRecord, SyncRun
from synchistory.services import prune_sync_history
from load_web import process_cpu_seconds
with connection.cursor() as cursor:
    cursor.execute("SELECT pg_backend_pid()")
    backend = cursor.fetchone()[0]
started, cpu, backend_cpu = time.perf_counter(), time.process_time(), process_cpu_seconds(backend)
result = prune_sync_history()
print("PRUNE " + json.dumps({
    "seconds": time.perf_counter() - started, "cpu_seconds": time.process_time() - cpu,
    "postgres_cpu_seconds": process_cpu_seconds(backend) - backend_cpu, "backend": backend,
    "runs": result.runs_deleted, "records": result.records_deleted,
    "runs_left": SyncRun.objects.count(), "records_left": SyncRecord.objects.count(),
}))
"""


async def prune_under_load(
    env: dict[str, str],
    base_url: str,
    cookie: str,
    pages: list[tuple[str, str]],
    users: int,
    meter: CpuMeter,
) -> tuple[Samples, float, dict]:
    """Paced users read the pages from 5 s before the prune to 5 s after it; the figures
    are those of the requests started while the prune ran."""
    stop = asyncio.Event()
    load = asyncio.create_task(
        run_users(
            base_url, cookie, pages, users=users, seconds=0, think=(0.5, 1.5), stop=stop, seed=3
        )
    )
    await asyncio.sleep(5)  # the users are reading before the prune starts
    meter.begin()
    started = time.perf_counter()
    process = await asyncio.create_subprocess_exec(
        PYTHON,
        "manage.py",
        "shell",
        "-c",
        PRUNE_CODE,
        cwd=ROOT,
        env={**env, "PYTHONPATH": f"{ROOT}{os.pathsep}{ROOT / 'benchmarks'}"},
        stdout=asyncio.subprocess.PIPE,
    )
    output, _ = await process.communicate()
    finished = time.perf_counter()
    lines = [line for line in output.decode().splitlines() if line.startswith("PRUNE ")]
    if process.returncode or not lines:
        meter.stop()
        raise SystemExit(f"prune failed (exit {process.returncode}): {output.decode()[-2000:]}")
    prune = json.loads(lines[-1][len("PRUNE ") :])
    # The prune's own backend is reported with the prune, not with the pages.
    prune["cpu"] = meter.stop(exclude=frozenset({prune["backend"]}))
    await asyncio.sleep(5)
    stop.set()
    samples, _ = await load
    window = samples.between(started, finished)
    return window, finished - started, prune


# -- Report ----------------------------------------------------------------------------------

HEADER = ["page", "requests", "errors", "p50 ms", "p95 ms", "p99 ms", "max ms"]


def table_rows(rows: list[dict], *, bold_total: bool = False) -> list[list[str]]:
    out = []
    for row in rows:
        cells = [
            row["page"],
            f"{row['requests']:,}",
            str(row["errors"]),
            f"{row['p50']:.0f}",
            f"{row['p95']:.0f}",
            f"{row['p99']:.0f}",
            f"{row['max']:.0f}",
        ]
        if bold_total and row["page"] == "all pages":
            cells = [f"**{cell}**" for cell in cells]
        out.append(cells)
    return out


def verdict(rows: list[dict]) -> str:
    slow = [
        row["page"] for row in rows if row["page"] != "all pages" and row["p95"] >= TARGET_P95_MS
    ]
    if not slow:
        return "all pages under 300 ms at p95"
    if len(slow) == len(rows) - 1:
        return "every page over 300 ms at p95"
    return "over 300 ms at p95: " + ", ".join(slow)


def cpu_line(total: dict) -> str:
    return (
        f"{total['rps']:.1f} requests/s; CPU per request: gunicorn {total['gunicorn_ms']:.1f} ms, "
        f"PostgreSQL {total['postgres_ms']:.1f} ms, load generator {total['generator_ms']:.2f} ms; "
        f"machine busy {total['machine_cores']:.2f} of {os.cpu_count()} cores; "
        f"load average {total['loadavg']:.1f}"
    )


def run_locust(
    base_url: str, cookie: str, pages: list[tuple[str, str]], *, users: int, seconds: float
) -> dict[str, float]:
    """The paced phase again, driven by Locust (benchmarks/locustfile.py, headless): the same
    page mix, users and think time, measured by a standard tool instead of ours."""
    log(f"phase 1b: the same {users} paced users from Locust for {seconds:.0f} s")
    weighted = [[name, path, WEIGHTS.get(name, 1)] for name, path in pages]
    env = {
        **os.environ,
        "LOADBENCH_PAGES": json.dumps(weighted),
        "LOADBENCH_COOKIE": cookie,
    }
    with tempfile.TemporaryDirectory(prefix="loadweb-locust-") as folder:
        prefix = str(Path(folder) / "locust")
        before = resource.getrusage(resource.RUSAGE_CHILDREN)
        subprocess.run(
            [
                PYTHON,
                *("-m", "locust", "-f", str(ROOT / "benchmarks" / "locustfile.py")),
                *("--headless", "--only-summary", "--host", base_url),
                *("--users", str(users), "--spawn-rate", str(users)),
                *("--run-time", f"{int(seconds)}s", "--stop-timeout", "5"),
                *("--csv", prefix, "--loglevel", "WARNING"),
            ],
            env=env,
            check=False,  # exits 1 when a request failed: the figures say so
            capture_output=True,
            timeout=seconds + 120,
        )
        after = resource.getrusage(resource.RUSAGE_CHILDREN)
        with open(f"{prefix}_stats.csv", newline="") as stats:
            total = next(row for row in csv.DictReader(stats) if row["Name"] == "Aggregated")
    requests = int(total["Request Count"])
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    result = {
        "requests": requests,
        "failures": int(total["Failure Count"]),
        "rps": float(total["Requests/s"]),
        "median": float(total["50%"]),
        "p95": float(total["95%"]),
        "p99": float(total["99%"]),
        "max": float(total["Max Response Time"]),
        "cpu_ms": cpu * 1000 / max(requests, 1),
    }
    print(
        f"  Locust: {requests:,} requests, {result['failures']} failed, "
        f"{result['rps']:.1f}/s, median {result['median']:.0f} ms, p95 {result['p95']:.0f} ms, "
        f"p99 {result['p99']:.0f} ms, max {result['max']:.0f} ms; "
        f"Locust's own CPU {result['cpu_ms']:.2f} ms per request"
    )
    return result


def run_phase(
    label: str,
    meter: CpuMeter,
    base_url: str,
    cookie: str,
    pages: list[tuple[str, str]],
    *,
    users: int,
    seconds: float,
    think: tuple[float, float],
    seed: int,
) -> tuple[list[dict], list[str]]:
    log(label)
    meter.begin()
    samples, elapsed = asyncio.run(
        run_users(base_url, cookie, pages, users=users, seconds=seconds, think=think, seed=seed)
    )
    rows = summarize(samples, pages, elapsed, meter.stop())
    print_table(HEADER, table_rows(rows))
    print("  " + cpu_line(rows[-1]))
    return rows, samples.error_examples


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--quick", action="store_true", help="10x less data, 15 s phases")
    parser.add_argument("--write-docs", action="store_true", help="update docs/PERFORMANCE.md")
    parser.add_argument("--users", type=int, default=50)
    parser.add_argument("--seconds", type=float, help="length of each load phase")
    parser.add_argument("--workers", type=int, default=3, help="gunicorn workers")
    parser.add_argument(
        "--threads", type=int, default=4, help="threads per gunicorn worker (1: sync workers)"
    )
    parser.add_argument("--keep-db", action="store_true", help="do not drop the database")
    parser.add_argument(
        "--profile-only",
        type=int,
        metavar="N",
        help="only the one-at-a-time profile: each page read N times (p50/p95), no load phases",
    )
    parser.add_argument("--serve", type=int, metavar="PORT", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        serve(args.serve, args.workers, args.threads)
        return

    scale = 0.1 if args.quick else 1.0
    seconds = args.seconds or (15.0 if args.quick else 60.0)
    workdir = tempfile.mkdtemp(prefix="inventory-sync-loadweb-")
    env = bench_env(str(Path(workdir) / "static"))
    server = None
    try:
        info = setup_database(env, scale)
        quiet_http_logs()
        counts = table_counts()
        log("rows: " + ", ".join(f"{k} {v:,}" for k, v in counts.items()))
        server, base_url = start_server(env, args.workers, args.threads)
        meter = CpuMeter(server.pid)
        cookie = login(base_url)
        history = f"/settings/integrations/marketplaces/{info['channel']}/history/"
        pages = page_mix(
            int(str(info["channel"])),
            older_cursor(base_url, cookie, history),
            older_cursor(base_url, cookie, "/sales-orders/"),
        )
        profile = query_profile(pages, repeat=args.profile_only or 1)
        print_table(
            ["page", "HTTP", "queries", "in-process ms", "SQL ms", "slowest SQL ms", "p50", "p95"],
            [
                [
                    str(p["page"]),
                    str(p["status"]),
                    str(p["queries"]),
                    f"{p['ms']:.1f}",
                    f"{p['sql_ms']:.1f}",
                    f"{p['slowest_ms']:.1f}",
                    f"{p['p50_ms']:.1f}",
                    f"{p['p95_ms']:.1f}",
                ]
                for p in profile
            ],
        )
        if args.profile_only:
            slowest = max(profile, key=lambda p: float(str(p["p95_ms"])))
            log(f"slowest SQL of {slowest['page']}: {slowest['slowest_sql']}")
            return
        # Warm every worker's connection and caches before measuring.
        asyncio.run(run_users(base_url, cookie, pages, users=6, seconds=3, think=(0, 0)))

        paced, errors = run_phase(
            f"phase 1: {args.users} paced users for {seconds:.0f} s",
            meter,
            base_url,
            cookie,
            pages,
            users=args.users,
            seconds=seconds,
            think=(0.5, 1.5),
            seed=1,
        )
        locust = run_locust(base_url, cookie, pages, users=args.users, seconds=seconds)
        saturated_seconds = max(10.0, seconds / 2)
        saturated, more_errors = run_phase(
            f"phase 2: {args.users} users without think time for {saturated_seconds:.0f} s",
            meter,
            base_url,
            cookie,
            pages,
            users=args.users,
            seconds=saturated_seconds,
            think=(0, 0),
            seed=2,
        )
        errors += more_errors

        log(f"phase 3: {args.users} paced users while prune_sync_history runs")
        samples, elapsed, prune = asyncio.run(
            prune_under_load(env, base_url, cookie, pages, args.users, meter)
        )
        during_prune = summarize(samples, pages, elapsed, prune["cpu"])
        errors += samples.error_examples
        print_table(HEADER, table_rows(during_prune))
        print("  " + cpu_line(during_prune[-1]))
        log(
            f"prune: {prune['runs']:,} runs and {prune['records']:,} records deleted in "
            f"{prune['seconds']:.1f} s ({prune['cpu_seconds']:.1f} s CPU in its process); "
            f"left {prune['runs_left']:,} runs, {prune['records_left']:,} records"
        )
        if errors:
            print("Errors, first ones:", *errors, sep="\n  ")
        if args.write_docs:
            write_docs(
                args,
                counts=counts,
                info=info,
                profile=profile,
                phases={"paced": paced, "saturated": saturated, "prune": during_prune},
                locust=locust,
                prune=prune,
                seconds=seconds,
                saturated_seconds=saturated_seconds,
            )
    finally:
        if server is not None:
            server.terminate()
            try:
                server.wait(timeout=30)
            except subprocess.TimeoutExpired:
                server.kill()
        try:
            from django.db import connections

            connections.close_all()
        except Exception:  # noqa: BLE001, S110 - Django may not have been set up
            pass
        if not args.keep_db:
            drop_database()
            log(f"database {DB_NAME} dropped")
        shutil.rmtree(workdir, ignore_errors=True)


def write_docs(  # noqa: PLR0913
    args: argparse.Namespace,
    *,
    counts: dict[str, int],
    info: dict[str, object],
    profile: list[dict[str, object]],
    phases: dict[str, list[dict]],
    locust: dict[str, float],
    prune: dict,
    seconds: float,
    saturated_seconds: float,
) -> None:
    paced, saturated, during_prune = phases["paced"], phases["saturated"], phases["prune"]
    memory = subprocess.run(["free", "-h"], capture_output=True, text=True, check=False)
    total_memory = memory.stdout.splitlines()[1].split()[1] if memory.stdout else "?"
    command = "flock /tmp/heavy.lock .venv/bin/python benchmarks/load_web.py" + (
        " --quick" if args.quick else ""
    )
    recent, expired = int(str(info["runs"])), int(str(info["expired runs"]))
    per_run = _web_data_records_per_run()
    data = (
        f"{recent:,} recent sync runs with {recent * per_run:,} records (what the pages show), "
        f"{expired:,} expired runs with {expired * per_run:,} records (what the prune deletes), "
        f"{counts['sales orders']:,} sales orders with {counts['order lines']:,} lines, "
        f"{counts['items']:,} items with {counts['stock rows']:,} stock rows"
    )
    cores = os.cpu_count() or 1
    server = (
        f"{args.workers} gthread workers x {args.threads} threads"
        if args.threads > 1
        else f"{args.workers} sync workers"
    )
    p_total, s_total, r_total = paced[-1], saturated[-1], during_prune[-1]
    prune_cpu = prune["cpu_seconds"] + prune["postgres_cpu_seconds"]
    prune_cores = prune_cpu / max(prune["seconds"], 1e-3)

    def others(row: dict, extra: float = 0.0) -> float:
        """Cores taken by everything but this benchmark (other people's jobs)."""
        ours = row["gunicorn_cores"] + row["postgres_cores"] + row["generator_cores"] + extra
        return max(0.0, row["machine_cores"] - ours)

    # The CPU one request costs the server side, and what the paced users' rate asks of it.
    per_request = s_total["gunicorn_ms"] + s_total["postgres_ms"]
    ceiling = cores * 1000 / per_request
    busy_paced = p_total["rps"] * (p_total["gunicorn_ms"] + p_total["postgres_ms"]) / 1000
    left = cores - others(p_total)
    need = 45 * per_request / 1000  # 50 users, 1 s think time on average, short pages
    cpu_table = markdown_table(
        [
            "phase",
            "requests/s",
            "gunicorn ms",
            "PostgreSQL ms",
            "generator ms",
            "machine busy (cores)",
            "of which other jobs",
        ],
        [
            [
                label,
                f"{row['rps']:.1f}",
                f"{row['gunicorn_ms']:.1f}",
                f"{row['postgres_ms']:.1f}",
                f"{row['generator_ms']:.2f}",
                f"{row['machine_cores']:.2f} of {cores}",
                f"{others(row, extra):.2f}",
            ]
            for label, row, extra in (
                ("paced", p_total, 0.0),
                ("saturated", s_total, 0.0),
                ("paced, during the prune", r_total, prune_cores),
            )
        ],
    )
    body = f"""
{args.users} concurrent users read Sync History (page 1, its page 2 through the "Older" link,
a kind and status filter), Sales Orders (page 1, page 2, a status filter) and Items (page 1,
page 100, a search, the unconfirmed tab) from the production server: gunicorn with
{server} (as `docker-compose.yml`), DEBUG off, PostgreSQL holding {data}.
Target: p95 under {TARGET_P95_MS:.0f} ms. The three main pages are drawn three times as often as
each variant.

**Paced users** (each waits 0.5-1.5 s between pages, {seconds:.0f} s): {verdict(paced)};
{p_total["rps"]:.0f} requests/s (1-minute load average at the end: {p_total["loadavg"]:.1f}).

{markdown_table(HEADER, table_rows(paced, bold_total=True))}

**The same paced load from Locust** (`benchmarks/locustfile.py`, {args.users} FastHttpUsers
waiting 0.5-1.5 s, {seconds:.0f} s, right after): p95 **{locust["p95"]:.0f} ms**, p99
{locust["p99"]:.0f} ms, median {locust["median"]:.0f} ms, max {locust["max"]:.0f} ms over
{locust["requests"]:,.0f} requests ({locust["rps"]:.0f}/s), {locust["failures"]:.0f} failed.
Locust took {locust["cpu_ms"]:.1f} ms of CPU per request on the cores the server shares
(our generator: {p_total["generator_ms"]:.2f} ms). Locust rounds response times above 100 ms to
two significant digits.

**Saturated** (the same {args.users} users with no wait, {saturated_seconds:.0f} s): the server's
throughput on this machine is **{s_total["rps"]:.0f} requests/s**; latency is then queueing
({verdict(saturated)}; load average {s_total["loadavg"]:.1f}).

{markdown_table(HEADER, table_rows(saturated, bold_total=True))}

**Retention under load.** `prune_sync_history()` (batches of 1,000 runs / records, each its
own transaction) deleted **{prune["runs"]:,} expired runs and {prune["records"]:,} records in
{prune["seconds"]:.1f} s** ({prune["records"] / max(prune["seconds"], 0.001):,.0f} records/s;
{prune["cpu_seconds"]:.1f} s of CPU in its own process, {prune["postgres_cpu_seconds"]:.1f} s in its
PostgreSQL backend) while the paced users read the pages:
{verdict(during_prune)}, {r_total["errors"]} errors, load average {r_total["loadavg"]:.1f}
(the requests started while the prune ran). Left: {prune["runs_left"]:,} runs and
{prune["records_left"]:,} records, the recent ones the pages show.

{markdown_table(HEADER, table_rows(during_prune, bold_total=True))}

**Where the CPU goes** (per request, from /proc: gunicorn's processes, the benchmark
database's PostgreSQL backends, the load generator; "machine busy" counts every process on
the machine, other people's jobs included):

{cpu_table}

One page costs the server about {per_request:.0f} ms of CPU (saturated phase), so {cores} cores
serve at most about {ceiling:.0f} pages/s. The paced users asked {p_total["rps"]:.0f} pages/s,
which kept {busy_paced:.2f} of the {cores} cores busy with gunicorn and PostgreSQL; other jobs on
the machine took {others(p_total):.2f} cores meanwhile, leaving the application
{left:.2f} cores, {busy_paced / max(left, 0.01):.0%} used by it. 50 users paced at 1 s ask at
most about 45 pages/s: {need:.2f} cores at this cost, {need / cores:.0%} of {cores} cores the
application would have to itself (arithmetic, not measured: this machine is shared).

Queries per page (one request through Django's test client, same database; the history
chart is already cached by then):

{
        markdown_table(
            ["page", "queries", "SQL ms", "in-process ms"],
            [
                [str(p["page"]), str(p["queries"]), f"{p['sql_ms']:.1f}", f"{p['ms']:.1f}"]
                for p in profile
            ],
        )
    }

- Machine: {machine()}, `free -h`: {total_memory} total; gunicorn, PostgreSQL and the load
  generator share the same cores. Date: {today()}.
- Command: `{command} --write-docs` (`--quick`: 10x less data, 15 s phases; `--users`,
  `--seconds`, `--workers`, `--threads`). The database `{DB_NAME}` is created, filled by
  `INSERT … SELECT generate_series` in {info["load_seconds"]:.0f} s, and dropped afterwards.
- Load generator: each virtual user holds one HTTP/1.1 connection written on asyncio
  streams (no HTTP library in the loop), {p_total["generator_ms"]:.2f} ms of CPU per request
  with the CPU meter's sampling;
  a latency runs from sending the request to the last byte, waiting for a worker included.
- Sessions: one login, its cookie shared by all virtual users; requests carry
  `X-Forwarded-Proto: https` as behind the TLS proxy. Static files are collected into a
  temporary folder (the script starts gunicorn with `STATIC_ROOT` pointed there).
"""  # noqa: S608 - Markdown, not SQL
    write_section("load_web", "Web pages under load", body + ANALYSIS)


def _web_data_records_per_run() -> int:
    import _web_data

    return _web_data.RECORDS_PER_RUN


ANALYSIS = """
**Where a page's time goes, and what was changed** (cProfile around the WSGI handler, one
request per page on the loaded database):

- SQL is not the cost any more: 4 to 7 indexed queries, 1-6 ms per page (the Sync History chart
  query and the Items catalogue-wide GROUP BY were the slow ones; both fixed earlier). The
  exception is the Items search: `icontains` on SKU and name scans the 10,000 items twice (the
  COUNT and the page), 4-18 ms; a trigram index (pg_trgm) would serve it if catalogues grow.
  The rest is Python, two thirds of it template rendering of the 50-row tables.
- The Sync History chart is now cached as rendered HTML (`synchistory/_chart.html`, 60 s per
  channel, kind and day): drawing its 30 bars was about 8 of the page's 20 ms even with the
  numbers cached. The table rows print their numbers without the per-number locale lookup
  (`{% localize off %}` on the table bodies; the HTML is byte-for-byte the same, as numbers are
  not grouped): about 270 lookups a page, 15-20% of rendering.
- A page with an empty table (the Items search that matches nothing) costs about 5 ms: the
  middleware (sessions, authentication, django-otp, the idle timeout, CSP, axes, whitenoise)
  and the layout. Of the middleware, loading the session and the user (two queries) is most
  of it; none of the others stands out.
- Sessions stay in the database: one indexed SELECT per request (0.3 ms) and a write at most
  once a minute (the idle timeout's touch). `cached_db` would only save that SELECT with a
  shared cache (Redis); with the default per-process cache a logout in one worker would leave
  the session alive in the others' caches. Signed-cookie sessions cannot be revoked at logout.
  Persistent connections (`CONN_MAX_AGE` 60) were already on; the health check's `SELECT 1`
  per request is kept so a PostgreSQL restart costs no failed page.
- gunicorn: gthread workers keep connections alive; sync workers close every connection.
  Measured side by side (10-12 s phases on the busy machine, load average 8-10, so only the
  order holds): 3 gthread workers x 4 threads used 17.8-20.0 ms of gunicorn CPU per page and
  answered 37-39 paced pages/s; 3 sync workers 18.9-19.6 ms and 30 pages/s; 5 x 2 threads and
  5 sync workers 20-21.5 ms. `docker-compose.yml` now runs 3 x 4 gthread. Access logging is
  off here and on in `docker-compose.yml` (one line per request, small beside rendering).
- Retention: `prune_sync_history()` deletes in short transactions, so readers never wait on
  its row locks (MVCC); what it takes from the pages is CPU: its own process and its
  PostgreSQL backend, figures above.
"""


if __name__ == "__main__":
    main()
