"""Documents are bounded: report and feed documents come only from public https addresses
(outside development), streamed within a download cap and a decompressed-size cap."""

from __future__ import annotations

import gzip
import socket
from typing import Any

import pytest

from marketplaces.amazon.client import AmazonClient, _DocumentLimits
from marketplaces.amazon.connection import connection_for
from marketplaces.amazon.errors import AmazonUnsafe
from marketplaces.endpoints import UntrustedUrl, check_document_url
from marketplaces.models import SalesChannel
from marketplaces.runs import attempt
from spapi_simulator import Simulator
from spapi_simulator.testing import sim_post
from synchistory import services as history
from synchistory.models import SyncRun

pytestmark = pytest.mark.django_db


def run_items(sim: Simulator, channel: SalesChannel) -> SyncRun:
    """An item sync as a worker attempts it, the simulator's clock moved on while Amazon
    prepares the listings report."""
    run = history.start_run(channel.id, SyncRun.Kind.ITEMS, SyncRun.Trigger.MANUAL)
    assert history.claim_run(run.id)
    run.refresh_from_db()
    for _ in range(10):
        if attempt(run) is None:
            run.refresh_from_db()
            return run
        sim_post(sim, "/_sim/clock/advance", {"seconds": 120})
        run.refresh_from_db()  # the report being waited for is kept on the run
    raise AssertionError("the run never finished")


def test_a_gzip_bomb_fails_the_run_with_the_reason(
    live_sim: Simulator, channel: SalesChannel, settings: Any
) -> None:
    settings.AMAZON_DOCUMENT_MAX_UNCOMPRESSED_BYTES = 8 * 1024 * 1024
    sim_post(live_sim, "/_sim/faults", {"kind": "gzip_bomb"})  # 64 MiB of zeros, gzipped

    run = run_items(live_sim, channel)

    assert run.status == SyncRun.Status.FAILED
    assert "getReportDocument: the document inflates to more than 8388608 bytes" in run.error
    assert "AMAZON_DOCUMENT_MAX_UNCOMPRESSED_BYTES" in run.error
    assert not channel.listings.exists()


def test_a_document_past_the_download_cap_fails_the_run(
    live_sim: Simulator, channel: SalesChannel, settings: Any
) -> None:
    settings.AMAZON_DOCUMENT_MAX_BYTES = 1024  # the listings report is far larger

    run = run_items(live_sim, channel)

    assert run.status == SyncRun.Status.FAILED
    assert "larger than 1024 bytes (AMAZON_DOCUMENT_MAX_BYTES)" in run.error


def test_documents_within_the_caps_still_import(
    live_sim: Simulator, channel: SalesChannel, settings: Any
) -> None:
    settings.AMAZON_DOCUMENT_MAX_UNCOMPRESSED_BYTES = 8 * 1024 * 1024
    run = run_items(live_sim, channel)
    assert run.status in {SyncRun.Status.SUCCEEDED, SyncRun.Status.PARTIAL}, run.error
    assert channel.listings.exists()


def test_gunzip_is_bounded_step_by_step() -> None:
    """Never more than one step (64 KiB) past the cap is inflated: the bomb is not held."""
    limits = _DocumentLimits("getReportDocument", 10**9, 1024 * 1024)
    bomb = gzip.compress(bytes(256 * 1024 * 1024))
    inflated = 0
    with pytest.raises(AmazonUnsafe):
        for piece in limits.gunzipped([bomb]):
            inflated += len(piece)
    assert inflated <= 1024 * 1024
    text = "é\tligne\r\n".encode("windows-1252") * 50_000
    several = [gzip.compress(text)[i : i + 1000] for i in range(0, len(gzip.compress(text)), 1000)]
    assert b"".join(limits.gunzipped(several)) == text


@pytest.fixture
def production(settings: Any) -> Any:
    settings.AMAZON_ALLOW_SIMULATOR_HOSTS = False
    return settings


def resolving_to(monkeypatch: pytest.MonkeyPatch, *addresses: str) -> None:
    def getaddrinfo(host: str, port: int, *args: Any, **kwargs: Any) -> list[Any]:
        family = socket.AF_INET6 if ":" in addresses[0] else socket.AF_INET
        return [(family, socket.SOCK_STREAM, 6, "", (a, port)) for a in addresses]

    monkeypatch.setattr(socket, "getaddrinfo", getaddrinfo)


@pytest.mark.parametrize(
    "address", ["127.0.0.1", "10.0.0.5", "192.168.1.1", "169.254.169.254", "::1", "::ffff:10.0.0.1"]
)
def test_a_document_url_at_a_private_address_is_refused(
    production: Any, monkeypatch: pytest.MonkeyPatch, address: str
) -> None:
    resolving_to(monkeypatch, address)
    with pytest.raises(UntrustedUrl, match="non-public address"):
        check_document_url("https://tortuga-prod-na.s3-external-1.amazonaws.com/doc?X-Amz=1")


def test_one_private_address_among_public_ones_is_enough_to_refuse(
    production: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolving_to(monkeypatch, "52.216.0.1", "10.1.2.3")
    with pytest.raises(UntrustedUrl, match="10.1.2.3"):
        check_document_url("https://bucket.example/doc")


def test_a_public_https_document_url_is_accepted(
    production: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    resolving_to(monkeypatch, "52.216.0.1")
    check_document_url("https://tortuga-prod-na.s3-external-1.amazonaws.com/doc")
    with pytest.raises(UntrustedUrl, match="https"):
        check_document_url("http://tortuga-prod-na.s3-external-1.amazonaws.com/doc")


def test_the_client_fetches_nothing_from_a_private_document_url(
    production: Any, live_sim: Simulator, channel: SalesChannel
) -> None:
    """The simulator on 127.0.0.1 stands for a host inside the network: not one byte is read."""
    client = AmazonClient(connection_for(channel))
    document_url = f"https://localhost:{live_sim.port}/_documents/x"
    with pytest.raises(AmazonUnsafe):
        client._download({"url": document_url}, "getReportDocument")
    with pytest.raises(AmazonUnsafe, match="non-public address"):
        client._download({"url": "https://localhost/_documents/x"}, "getReportDocument")
    assert live_sim.state.counters == {}
