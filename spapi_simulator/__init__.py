"""A local Amazon SP-API simulator (see docs/SIMULATOR.md).

Its own top-level package: it imports nothing of the product and no Django. The command line
is ``python -m spapi_simulator`` (:mod:`spapi_simulator.cli`; ``manage.py amazon_simulator``
calls the same entry point), which runs :func:`serve`; tests use :func:`start_simulator`.
"""

from .server import Simulator, serve, start_simulator
from .state import (
    DEFAULT_APPLICATION_ID,
    DEFAULT_CLIENT_ID,
    DEFAULT_CLIENT_SECRET,
    DEFAULT_REDIRECT_URI,
    DEFAULT_REFRESH_TOKEN,
    DEFAULT_SELLER_ID,
    SimConfig,
)

MARKETPLACE_ID = "A2EUQ1WTGCTBG2"

__all__ = [
    "DEFAULT_APPLICATION_ID",
    "DEFAULT_CLIENT_ID",
    "DEFAULT_CLIENT_SECRET",
    "DEFAULT_REDIRECT_URI",
    "DEFAULT_REFRESH_TOKEN",
    "DEFAULT_SELLER_ID",
    "MARKETPLACE_ID",
    "SimConfig",
    "Simulator",
    "serve",
    "start_simulator",
]
