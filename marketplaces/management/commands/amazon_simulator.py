"""``manage.py amazon_simulator``: ``python -m spapi_simulator`` under manage.py.

The arguments and what they do are the simulator's own (:mod:`spapi_simulator.cli`,
docs/SIMULATOR.md).
"""

from __future__ import annotations

from typing import Any

from django.core.management.base import BaseCommand, CommandParser

from spapi_simulator import cli


class Command(BaseCommand):
    help = cli.DESCRIPTION

    def add_arguments(self, parser: CommandParser) -> None:
        cli.add_arguments(parser)

    def handle(self, *args: Any, **options: Any) -> None:
        cli.run(options)
