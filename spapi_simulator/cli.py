"""The simulator's one command line: ``python -m spapi_simulator`` (and ``manage.py
amazon_simulator``, which adds these same arguments to its parser and calls :func:`run`)."""

from __future__ import annotations

import argparse
import os
from collections.abc import Mapping, Sequence
from typing import Any

from .server import serve
from .state import redirect_uri_for

DESCRIPTION = (
    "Local Amazon SP-API simulator (LWA, Orders, Reports, Feeds, Listings, FBA, Notifications)."
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8765)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument(
        "--time-scale",
        type=float,
        default=1.0,
        help="simulated seconds per real second (0 = manual clock: POST /_sim/clock/advance)",
    )
    parser.add_argument(
        "--redirect-uri",
        # The product's web port, as `make run` (scripts/run.py) reads it.
        default=redirect_uri_for(os.environ.get("PORT", "8000")),
        help="where the consent page sends the seller back (default: the callback on $PORT)",
    )
    parser.add_argument("--quiet", action="store_true", help="do not log each request")
    parser.add_argument(
        "--sqs-endpoint",
        default=os.environ.get("SPAPI_SIMULATOR_SQS_ENDPOINT") or None,
        help="the SQS API endpoint notifications are sent through, e.g. moto's server "
        "(default: $SPAPI_SIMULATOR_SQS_ENDPOINT)",
    )
    parser.add_argument(
        "--notification-delay",
        type=float,
        default=0.0,
        help="simulated seconds between a change and its notification being sent",
    )


def run(options: Mapping[str, Any]) -> None:
    """Serve in the foreground until Ctrl-C; ``options`` are the parsed arguments."""
    # serve() prints the URL and the default credentials and returns on Ctrl-C.
    serve(
        host=options["host"],
        port=options["port"],
        seed=options["seed"],
        time_scale=options["time_scale"],
        redirect_uri=options["redirect_uri"],
        quiet=options["quiet"],
        sqs_endpoint_url=options.get("sqs_endpoint"),
        notification_delay_seconds=options.get("notification_delay", 0.0),
    )


def main(argv: Sequence[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m spapi_simulator", description=DESCRIPTION)
    add_arguments(parser)
    run(vars(parser.parse_args(argv)))
