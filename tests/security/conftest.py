"""The Amazon simulator fixtures of tests/amazon, for the leak tests here."""

from tests.amazon.conftest import (  # noqa: F401  (fixtures, found by name)
    channel,
    live_sim,
    sim_factory,
    stocked_items,
    warehouse,
)
