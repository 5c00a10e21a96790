"""Stopping an in-process simulator without waiting out its server's poll."""

from __future__ import annotations

import contextlib
import socket
import threading

from spapi_simulator import Simulator


def stop_simulator(sim: Simulator) -> None:
    """``Simulator.stop`` returns once its server loop notices the request, at the loop's next
    50 ms poll; a connection wakes the loop at once. Almost every test stops a simulator."""
    stopping = threading.Thread(target=sim.stop, name="stop-amazon-simulator")
    stopping.start()
    while stopping.is_alive():
        # Refused once the socket is closed; a connection made before the stop was asked for
        # only means one more poll.
        with contextlib.suppress(OSError):
            socket.create_connection((sim.host, sim.port), timeout=0.05).close()
        stopping.join(0.002)
