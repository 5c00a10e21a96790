"""Running the simulator: in-process (:func:`start_simulator`) or blocking (:func:`serve`)."""

from __future__ import annotations

import threading
from datetime import UTC, datetime
from types import TracebackType
from typing import Any

from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server

from .app import SimulatorApp
from .clock import SimClock
from .state import (
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SELLER_ID,
    SimConfig,
    SimState,
)

# Real seconds between two ticks of simulated time while a seller is subscribed to
# notifications (an event is published at most this late).
TICK_SECONDS = 0.25


class _QuietHandler(WSGIRequestHandler):
    def log_request(self, code: int | str = "-", size: int | str = "-") -> None:
        return


class Simulator:
    """A simulator bound to ``host:port`` (0 picks a free port); ``start()`` serves in a thread."""

    def __init__(
        self,
        config: SimConfig | None = None,
        host: str = "127.0.0.1",
        port: int = 0,
        quiet: bool = True,
    ) -> None:
        self.config = config or SimConfig()
        start = self.config.start_time or datetime.now(UTC).replace(microsecond=0)
        self.clock = SimClock(start, self.config.time_scale)
        self.state = SimState(self.config, self.clock)
        self.app = SimulatorApp(self.state)
        self._server: BaseWSGIServer = make_server(
            host,
            port,
            self.app,
            threaded=True,
            request_handler=_QuietHandler if quiet else WSGIRequestHandler,
        )
        self.host = host
        self.port = self._server.port
        self.base_url = f"http://{host}:{self.port}"
        self.state.base_url = self.base_url
        self._thread: threading.Thread | None = None
        self._stopping = threading.Event()
        self._ticker: threading.Thread | None = None

    def start(self) -> Simulator:
        # A short poll interval keeps stop() fast (tests start and stop many simulators).
        self._thread = threading.Thread(
            target=self._server.serve_forever, args=(0.05,), name="amazon-simulator", daemon=True
        )
        self._thread.start()
        self._start_ticker()
        return self

    def serve_forever(self) -> None:
        self._start_ticker()
        self._server.serve_forever()

    def _start_ticker(self) -> None:
        """Simulated time otherwise acts only when a request comes in; a seller subscribed to
        notifications must hear of a new order when it happens, not at the next poll."""
        if self.clock.time_scale <= 0:
            return  # a manual clock moves (and ticks) only through the control API

        def tick_while_subscribed() -> None:
            while not self._stopping.wait(TICK_SECONDS):
                if self.state.subscriptions:
                    with self.state.lock:
                        self.state.tick()

        self._ticker = threading.Thread(
            target=tick_while_subscribed, name="amazon-simulator-ticker", daemon=True
        )
        self._ticker.start()

    def _stop_background(self) -> None:
        self._stopping.set()
        if self._ticker is not None:
            self._ticker.join(timeout=5)
            self._ticker = None
        self.state.outbox.close()

    def close(self) -> None:
        self._server.server_close()
        self._stop_background()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._stop_background()
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> Simulator:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.stop()


def start_simulator(
    seed: int = 1, time_scale: float = 0.0, *, port: int = 0, **options: Any
) -> Simulator:
    """Start a simulator on 127.0.0.1 in a background thread; ``time_scale=0`` is a manual clock.

    ``options`` are :class:`SimConfig` fields (e.g. ``enforce_rate_limits=False``,
    ``order_interval_seconds=0``, ``start_time=datetime(...)``).
    """
    config = SimConfig(seed=seed, time_scale=time_scale, **options)
    return Simulator(config, port=port).start()


def banner(simulator: Simulator) -> str:
    return "\n".join(
        [
            f"Amazon SP-API simulator listening on {simulator.base_url}",
            f"  seed {simulator.config.seed}, time scale {simulator.config.time_scale:g}, "
            f"clock {simulator.clock.now().isoformat()}",
            f"  LWA token endpoint:  {simulator.base_url}/auth/o2/token",
            f"  consent page:        {simulator.base_url}/apps/authorize/consent"
            "?application_id=...&state=...",
            f"  redirect URI:        {simulator.config.redirect_uri}",
            f"  SQS endpoint:        {simulator.config.sqs_endpoint_url or '(none yet)'}",
            f"  control API:         {simulator.base_url}/_sim  (docs/SIMULATOR.md)",
            "Default credentials:",
            f"  LWA client id        {DEFAULT_CLIENT_ID}",
            f"  LWA client secret    {DEFAULT_CLIENT_SECRET}",
            f"  selling partner id   {DEFAULT_SELLER_ID}",
            f"  refresh token        {DEFAULT_REFRESH_TOKEN}",
            "Press Ctrl-C to stop.",
        ]
    )


def serve(
    host: str = "127.0.0.1",
    port: int = 8765,
    seed: int = 1,
    time_scale: float = 1.0,
    redirect_uri: str = DEFAULT_REDIRECT_URI,
    quiet: bool = False,
    sqs_endpoint_url: str | None = None,
    notification_delay_seconds: float = 0.0,
) -> None:
    """Run in the foreground until Ctrl-C (the management command and ``python -m`` use this)."""
    config = SimConfig(
        seed=seed,
        time_scale=time_scale,
        redirect_uri=redirect_uri,
        sqs_endpoint_url=sqs_endpoint_url,
        notification_delay_seconds=notification_delay_seconds,
    )
    simulator = Simulator(config, host=host, port=port, quiet=quiet)
    print(banner(simulator), flush=True)
    try:
        # werkzeug's serve_forever returns (closing the socket) on Ctrl-C.
        simulator.serve_forever()
    except KeyboardInterrupt:
        pass
    finally:
        simulator.close()
    print("Amazon SP-API simulator stopped.", flush=True)
