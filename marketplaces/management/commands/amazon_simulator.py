"""``manage.py amazon_simulator``: run the local Amazon SP-API simulator (docs/SIMULATOR.md)."""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from marketplaces.amazon.simulator import DEFAULT_REDIRECT_URI, serve


class Command(BaseCommand):
    help = "Run the local Amazon SP-API simulator (LWA, Orders, Reports, Feeds, Listings, FBA)."

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument("--host", default="127.0.0.1")
        parser.add_argument("--port", type=int, default=8765)
        parser.add_argument("--seed", type=int, default=1)
        parser.add_argument(
            "--time-scale",
            type=float,
            default=1.0,
            help="simulated seconds per real second (0 = manual clock: POST /_sim/clock/advance)",
        )
        parser.add_argument("--redirect-uri", default=DEFAULT_REDIRECT_URI)
        parser.add_argument("--quiet", action="store_true", help="do not log each request")

    def handle(self, *args: Any, **options: Any) -> None:
        # serve() prints the URL and the default credentials and returns on Ctrl-C.
        serve(
            host=options["host"],
            port=options["port"],
            seed=options["seed"],
            time_scale=options["time_scale"],
            redirect_uri=options["redirect_uri"],
            quiet=options["quiet"],
        )
