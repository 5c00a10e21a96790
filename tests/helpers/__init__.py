"""Plain helper functions for the tests (no fixtures: those are plugins in tests/fixtures/).

Test modules import these normally; they never import another test module or a conftest.
"""
