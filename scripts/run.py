"""Run the whole product in the foreground: web, Celery worker, Celery beat, the notifications
consumer, the simulator and a local SQS (moto's server, where the simulator sends Amazon's
notifications and the consumer reads them).

Started by `make run` after `migrate` and `setup_demo`. Every line a process prints is prefixed
with its name. Ctrl-C (or SIGTERM) stops them all; if one of them dies, the others are stopped
too and this script exits non-zero, so a broken piece is never silently missing.

Once the simulator answers, `setup_demo --stock-from-simulator` runs once: it gives the demo
items with stock in two warehouses and queues the first syncs (only on a channel that never
synced). The simulator runs 60 times faster than real time, so orders keep arriving (one every
10 seconds or so) and Amazon's reports and feeds take about a second; web, worker and beat get
AMAZON_RATE_SCALE=60, so the product paces its Amazon calls to the simulator's speed.

The demo's queue (DEMO_QUEUE_ARN, in moto's account) is created once moto answers, as a seller
creates theirs in AWS; the consumer (`manage.py consume_notifications`) reads it through
SQS_ENDPOINT_URL and waits, retrying, until it exists.

Environment: PORT (web, default 8000), SIMULATOR_PORT (default 8765), SQS_PORT (moto's SQS
server, default 9324), VAR_DIR (default var/).
"""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.request
from dataclasses import dataclass
from pathlib import Path
from types import FrameType

ROOT = Path(__file__).resolve().parent.parent
VAR_DIR = Path(os.environ.get("VAR_DIR", ROOT / "var"))
# The simulator is its own package and process (`python -m spapi_simulator`), no Django settings.
SIMULATOR_COMMAND = ROOT / "spapi_simulator" / "__main__.py"
STOP_TIMEOUT = 20.0  # seconds a process gets to stop after SIGTERM before it is killed
# Simulated seconds per real second in the demo; the product's pacing follows (AMAZON_RATE_SCALE).
DEMO_TIME_SCALE = "60"
# The seller's queue in the demo: moto's default account and region.
DEMO_QUEUE_NAME = "inventory-sync-notifications"
DEMO_QUEUE_ARN = f"arn:aws:sqs:us-east-1:123456789012:{DEMO_QUEUE_NAME}"


@dataclass
class Child:
    name: str
    argv: list[str]
    process: subprocess.Popen[bytes] | None = None


def commands(python: str, port: str, simulator_port: str, sqs_port: str = "9324") -> list[Child]:
    manage = [python, str(ROOT / "manage.py")]
    celery = [python, "-m", "celery", "-A", "inventory_sync"]
    children = [
        Child("web", [*manage, "runserver", f"127.0.0.1:{port}"]),
        Child("worker", [*celery, "worker", "-l", "info", "--concurrency", "2"]),
        Child(
            "beat",
            [
                *celery,
                "beat",
                "-l",
                "info",
                "--scheduler",
                "django_celery_beat.schedulers:DatabaseScheduler",
                # Beat's pid file goes with the rest of the local state, not the working folder.
                "--pidfile",
                str(VAR_DIR / "celerybeat.pid"),
            ],
        ),
        # Amazon's notifications from the SQS queue, applied (its own process, as in production).
        Child("notifications", [*manage, "consume_notifications"]),
    ]
    if SIMULATOR_COMMAND.exists():
        # A real SQS-API server on this machine (moto's, a dev dependency), the queue the
        # simulator delivers notifications to, as Amazon delivers to the seller's AWS queue.
        children.append(
            Child("sqs", [python, "-m", "moto.server", "-H", "127.0.0.1", "-p", sqs_port])
        )
        children.append(
            Child(
                "simulator",
                [
                    python,
                    "-m",
                    "spapi_simulator",
                    "--host",
                    "127.0.0.1",
                    "--port",
                    simulator_port,
                    "--seed",
                    "1",
                    "--time-scale",
                    DEMO_TIME_SCALE,
                    # The seller comes back to this web server, on whatever PORT it listens.
                    "--redirect-uri",
                    f"http://127.0.0.1:{port}/integrations/amazon/callback/",
                    "--sqs-endpoint",
                    f"http://127.0.0.1:{sqs_port}",
                    "--quiet",
                ],
            )
        )
    else:
        print(f"run: {SIMULATOR_COMMAND.relative_to(ROOT)} not found; starting without simulator")
    return children


class Supervisor:
    def __init__(self, children: list[Child], sqs_port: str = "9324") -> None:
        self.children = children
        self.sqs_port = sqs_port
        self.width = max(len(name) for name in ["demo", *(child.name for child in children)])
        self.stopping = threading.Event()
        self.print_lock = threading.Lock()

    def say(self, name: str, line: str) -> None:
        with self.print_lock:
            sys.stdout.write(f"{name:<{self.width}} | {line}\n")
            sys.stdout.flush()

    def start(self) -> None:
        env = child_environment(self.sqs_port)
        for child in self.children:
            # Each child leads its own process group: the terminal's Ctrl-C reaches only this
            # script, which then stops every group in order (runserver's reloader and Celery's
            # pool processes included) instead of each child handling the signal on its own.
            child.process = subprocess.Popen(  # noqa: S603 - fixed argv built above
                child.argv,
                cwd=ROOT,
                env=env,
                stdin=subprocess.DEVNULL,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            threading.Thread(target=self.pump, args=(child,), daemon=True).start()
            self.say("run", f"started {child.name} (pid {child.process.pid})")

    def pump(self, child: Child) -> None:
        assert child.process is not None and child.process.stdout is not None
        for raw in iter(child.process.stdout.readline, b""):
            self.say(child.name, raw.decode("utf-8", "replace").rstrip("\n"))

    def first_exited(self) -> Child | None:
        for child in self.children:
            if child.process is not None and child.process.poll() is not None:
                return child
        return None

    def stop_all(self) -> None:
        # SIGTERM to each leader only: Celery's warm shutdown stops its own pool processes and
        # hangs if they are killed under it.
        for child in self.children:
            if child.process is not None and child.process.poll() is None:
                child.process.terminate()
        deadline = time.monotonic() + STOP_TIMEOUT
        for child in self.children:
            if child.process is None:
                continue
            try:
                child.process.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.say("run", f"{child.name} did not stop in {STOP_TIMEOUT:.0f}s; killing it")
                self.signal_group(child, signal.SIGKILL)
                child.process.wait()
            self.say("run", f"{child.name} stopped (exit code {child.process.returncode})")
        # Whatever a leader left behind in its group, e.g. the serving process under
        # runserver's reloader, which does not pass SIGTERM on.
        for child in self.children:
            self.signal_group(child, signal.SIGTERM)

    @staticmethod
    def signal_group(child: Child, signum: signal.Signals) -> None:
        assert child.process is not None
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(child.process.pid, signum)


def child_environment(sqs_port: str = "9324") -> dict[str, str]:
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    env.setdefault("AMAZON_RATE_SCALE", DEMO_TIME_SCALE)
    # The demo's SQS is moto's server on this machine, which takes any keys.
    env.setdefault("SQS_ENDPOINT_URL", f"http://127.0.0.1:{sqs_port}")
    env.setdefault("AMAZON_NOTIFICATIONS_QUEUE_ARN", DEMO_QUEUE_ARN)
    env.setdefault("AWS_REGION", "us-east-1")
    env.setdefault("AWS_ACCESS_KEY_ID", "demo")
    env.setdefault("AWS_SECRET_ACCESS_KEY", "demo")
    # The demo's Amazon is the local simulator (http, 127.0.0.1), which production refuses.
    env.setdefault("AMAZON_ALLOW_SIMULATOR_HOSTS", "true")
    return env


def create_demo_queue(supervisor: Supervisor) -> None:
    """The seller's queue, in moto's server: what a seller creates in AWS (README). Creating
    an existing queue with the same attributes is a no-op, so a restart is fine."""
    env = child_environment(supervisor.sqs_port)
    try:
        import boto3

        sqs = boto3.client(
            "sqs",
            endpoint_url=env["SQS_ENDPOINT_URL"],
            region_name=env["AWS_REGION"],
            aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
            aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        )
        sqs.create_queue(QueueName=DEMO_QUEUE_NAME)
    except Exception as error:  # noqa: BLE001 - reported; the rest of the demo runs
        supervisor.say("demo", f"the demo SQS queue was not created: {error}")


def prime_demo(python: str, simulator_port: str, supervisor: Supervisor) -> None:
    """Items, stock and the first syncs, once the simulator answers (in its own thread, so a
    slow start never holds up Ctrl-C). A failure is reported, never fatal: the product runs."""
    if not wait_for(f"http://127.0.0.1:{simulator_port}/_sim", supervisor, timeout=60.0):
        if not supervisor.stopping.is_set():
            supervisor.say("demo", "the simulator did not answer; demo data not loaded")
        return
    if wait_for(f"http://127.0.0.1:{supervisor.sqs_port}/", supervisor, timeout=30.0):
        create_demo_queue(supervisor)
    result = subprocess.run(  # noqa: S603 - fixed argv
        [python, str(ROOT / "manage.py"), "setup_demo", "--stock-from-simulator"],
        cwd=ROOT,
        env=child_environment(supervisor.sqs_port),
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        check=False,
    )
    for line in result.stdout.decode("utf-8", "replace").splitlines():
        supervisor.say("demo", line)
    if result.returncode:
        supervisor.say("demo", f"setup_demo --stock-from-simulator exited {result.returncode}")


def wait_for(url: str, supervisor: Supervisor, timeout: float = 60.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline and not supervisor.stopping.is_set():
        if supervisor.first_exited() is not None:
            return False
        try:
            with urllib.request.urlopen(url, timeout=2):  # noqa: S310 - our own http URL
                return True
        except urllib.error.HTTPError:
            return True  # it answers; the status is the page's business
        except OSError:
            time.sleep(0.5)
    return False


def main() -> int:
    port = os.environ.get("PORT", "8000")
    simulator_port = os.environ.get("SIMULATOR_PORT", "8765")
    sqs_port = os.environ.get("SQS_PORT", "9324")
    VAR_DIR.mkdir(parents=True, exist_ok=True)
    if not os.environ.get("REDIS_URL"):
        # kombu's filesystem transport does not create its folders (setup_demo does too).
        for folder in ("queue", "processed", "control"):
            (VAR_DIR / "celery" / folder).mkdir(parents=True, exist_ok=True)

    supervisor = Supervisor(commands(sys.executable, port, simulator_port, sqs_port), sqs_port)
    reason: list[str] = []

    def on_signal(signum: int, frame: FrameType | None) -> None:
        reason.append(signal.Signals(signum).name)
        supervisor.stopping.set()

    signal.signal(signal.SIGINT, on_signal)
    signal.signal(signal.SIGTERM, on_signal)

    supervisor.start()
    url = f"http://127.0.0.1:{port}/"
    if any(child.name == "simulator" for child in supervisor.children):
        threading.Thread(
            target=prime_demo, args=(sys.executable, simulator_port, supervisor), daemon=True
        ).start()
    if wait_for(url + "login/", supervisor):
        password_path = VAR_DIR / "demo-admin-password"
        password = (
            password_path.read_text(encoding="utf-8").strip()
            if password_path.exists()
            else "(run `python manage.py setup_demo`)"
        )
        supervisor.say("run", f"Open {url}  and log in as  admin / {password}")
        supervisor.say("run", "Press Ctrl-C to stop everything.")

    exited: Child | None = None
    while not supervisor.stopping.is_set():
        exited = supervisor.first_exited()
        if exited is not None:
            break
        supervisor.stopping.wait(0.5)

    if exited is not None:
        assert exited.process is not None
        supervisor.say(
            "run", f"{exited.name} exited with code {exited.process.returncode}; stopping all"
        )
    else:
        supervisor.say("run", f"{reason[0] if reason else 'stop'} received; stopping all")
    supervisor.stop_all()
    return 1 if exited is not None else 0


if __name__ == "__main__":
    sys.exit(main())
