"""Options for the whole suite: ``--soak`` runs the long forms of randomised tests (``make soak``).

A test case marked ``soak`` (say, the fault matrix's seeds beyond the first three) is left out of a
normal run, not skipped: the run reports what it ran, and ``--soak`` runs them all.
"""

from __future__ import annotations

import pytest


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak", action="store_true", help="also run the cases marked soak (every seed of the fault matrix)"
    )


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    if config.getoption("--soak"):
        return
    soak = [item for item in items if item.get_closest_marker("soak")]
    if soak:
        config.hook.pytest_deselected(items=soak)
        items[:] = [item for item in items if not item.get_closest_marker("soak")]


@pytest.fixture
def soak(request: pytest.FixtureRequest) -> bool:
    """True under ``--soak``: a test may then use its full-length settings."""
    return bool(request.config.getoption("--soak"))
