"""A local Amazon SP-API simulator (see docs/SIMULATOR.md).

Imports nothing of the product and no Django: the management command
``amazon_simulator`` and ``python -m marketplaces.amazon.simulator`` are thin wrappers over
:func:`serve`; tests use :func:`start_simulator`.
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
