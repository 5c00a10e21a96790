"""`make run`'s supervisor (scripts/run.py) and the simulator agree on the web port."""

from __future__ import annotations

import argparse
import importlib.util
import sys
from pathlib import Path
from types import ModuleType

import pytest

from spapi_simulator import cli

ROOT = Path(__file__).resolve().parents[2]


def load_run_script(monkeypatch: pytest.MonkeyPatch) -> ModuleType:
    spec = importlib.util.spec_from_file_location("run_script", ROOT / "scripts" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, "run_script", module)  # its dataclasses look it up
    spec.loader.exec_module(module)
    return module


def test_the_demo_simulator_sends_the_seller_back_to_the_web_port_in_use(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    children = load_run_script(monkeypatch).commands(sys.executable, "9000", "8765")
    simulator = next(child for child in children if child.name == "simulator")
    flag = simulator.argv.index("--redirect-uri")
    assert simulator.argv[flag + 1] == "http://127.0.0.1:9000/integrations/amazon/callback/"


def test_the_simulator_s_redirect_uri_follows_port(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("PORT", "9000")
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    options = parser.parse_args([])
    assert options.redirect_uri == "http://127.0.0.1:9000/integrations/amazon/callback/"


def test_the_demo_simulator_sends_notifications_to_the_demo_sqs_server(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    children = load_run_script(monkeypatch).commands(sys.executable, "9000", "8765", "9555")
    sqs = next(child for child in children if child.name == "sqs")
    simulator = next(child for child in children if child.name == "simulator")
    assert sqs.argv[1:] == ["-m", "moto.server", "-H", "127.0.0.1", "-p", "9555"]
    flag = simulator.argv.index("--sqs-endpoint")
    assert simulator.argv[flag + 1] == "http://127.0.0.1:9555"


def test_the_demo_runs_the_notifications_consumer_on_the_demo_queue(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name in ("SQS_ENDPOINT_URL", "AMAZON_NOTIFICATIONS_QUEUE_ARN"):
        monkeypatch.delenv(name, raising=False)
    script = load_run_script(monkeypatch)
    children = script.commands(sys.executable, "9000", "8765", "9555")
    consumer = next(child for child in children if child.name == "notifications")
    env = script.child_environment("9555")

    assert consumer.argv[1:] == [str(ROOT / "manage.py"), "consume_notifications"]
    assert env["SQS_ENDPOINT_URL"] == "http://127.0.0.1:9555"
    assert env["AMAZON_NOTIFICATIONS_QUEUE_ARN"] == script.DEMO_QUEUE_ARN
    assert script.DEMO_QUEUE_ARN.endswith(":" + script.DEMO_QUEUE_NAME)
