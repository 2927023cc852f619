"""Pytest fixtures (registered through the ``pytest11`` entry point ``vast_emulator``).

- ``vast_emulator``: a running :class:`Emulator` per test, one account with key ``test-key``
  (:data:`DEFAULT_API_KEY`), instances running 0.2 s after create.
- ``vast_emulator_factory``: ``vast_emulator_factory(**options)`` starts one with any
  :class:`Emulator` options; every one started is stopped after the test.

Both give the old answers where the provider does not yet cope with the real ones
(:data:`UNTIL_THE_PROVIDER_COPES`); a test passes the real one explicitly to get it. Both serve
serverless workers as the real service does (workergroups recruit billing instances);
``vast_emulator_factory(workers=False)`` turns them off.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from vast_pulumi.emulator.server import Emulator

FAST_BOOT_SECONDS = 0.2
# Until the provider handles it (issue 11): a destroyed instance is gone at once (the real destroy
# is asynchronous), and an account without endpoints lists [] (the real API answers 400).
UNTIL_THE_PROVIDER_COPES = {"destroy_seconds": 0.0, "no_endpoints_error": False}

EmulatorFactory = Callable[..., "Emulator"]


@pytest.fixture
def vast_emulator_factory() -> Iterator[EmulatorFactory]:
    started: list[Emulator] = []

    # Imported here, not at module level: pytest loads this plugin in every run of the project,
    # and most runs never start an emulator.
    from vast_pulumi.emulator.server import Emulator

    def start(**options: Any) -> Emulator:
        options.setdefault("boot_seconds", FAST_BOOT_SECONDS)
        for name, value in UNTIL_THE_PROVIDER_COPES.items():
            options.setdefault(name, value)
        emulator = Emulator(**options).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture
def vast_emulator(vast_emulator_factory: EmulatorFactory) -> Emulator:
    return vast_emulator_factory()
