"""Options for the whole suite: ``--soak`` runs the long forms of randomised tests (``make soak``);
``--vast-profile pessimistic`` runs every emulator the tests start under the readings harder on a client
(``vast_pulumi.emulator.readings``; ``make soak`` runs the money-safety and lifecycle e2e tests so).

A test case marked ``soak`` (say, the fault matrix's seeds beyond the first three) is left out of a
normal run, not skipped: the run reports what it ran, and ``--soak`` runs them all.
"""

from __future__ import annotations

import os

import pytest

from vast_pulumi.emulator.readings import PROFILE_ENV, PROFILES


def pytest_addoption(parser: pytest.Parser) -> None:
    parser.addoption(
        "--soak", action="store_true", help="also run the cases marked soak (every seed of the fault matrix)"
    )
    parser.addoption(
        "--vast-profile",
        choices=PROFILES,
        default=None,
        help="the readings profile of every emulator a test starts without naming one (sets "
        f"${PROFILE_ENV}, which the Pulumi programs' and the CLI's emulators read too)",
    )


def pytest_configure(config: pytest.Config) -> None:
    profile = config.getoption("--vast-profile")
    if profile is not None:
        os.environ[PROFILE_ENV] = profile


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
