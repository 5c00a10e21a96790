"""The suite reaches only this machine: a channel left at Amazon's own endpoints fails fast."""

from __future__ import annotations

import socket

import pytest

from tests.conftest import OutsideNetworkRefused


def test_a_connection_to_another_host_is_refused() -> None:
    with pytest.raises(OutsideNetworkRefused, match="not 52.94.236.248"):
        socket.create_connection(("52.94.236.248", 443), timeout=1)  # sellingpartnerapi-na


def test_this_machine_is_reachable() -> None:
    server = socket.create_server(("127.0.0.1", 0))
    with server, socket.create_connection(server.getsockname(), timeout=1):
        pass
