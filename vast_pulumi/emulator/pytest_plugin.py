"""Pytest fixtures (registered through the ``pytest11`` entry point ``vast_emulator``).

- ``vast_emulator``: a running :class:`Emulator` per test, one account with key ``test-key``
  (:data:`DEFAULT_API_KEY`), instances running 0.2 s after create and gone 0.5 s after destroy.
- ``vast_emulator_factory``: ``vast_emulator_factory(**options)`` starts one with any
  :class:`Emulator` options; every one started is stopped after the test.

Both answer as the real service does, with the emulator's defaults: serverless workers (workergroups
recruit billing instances), asynchronous destroy (a destroyed instance lingers for ``destroy_seconds``)
and the 400 of an account without endpoints. A test that needs otherwise passes the option, and says
why.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TYPE_CHECKING, Any

import pytest

if TYPE_CHECKING:
    from vast_pulumi.emulator.server import Emulator

FAST_BOOT_SECONDS = 0.2
# Still asynchronous, as the real destroy is, but over in half a second: tests wait for it often.
FAST_DESTROY_SECONDS = 0.5

EmulatorFactory = Callable[..., "Emulator"]


@pytest.fixture
def vast_emulator_factory() -> Iterator[EmulatorFactory]:
    started: list[Emulator] = []

    # Imported here, not at module level: pytest loads this plugin in every run of the project,
    # and most runs never start an emulator.
    from vast_pulumi.emulator.server import Emulator

    def start(**options: Any) -> Emulator:
        options.setdefault("boot_seconds", FAST_BOOT_SECONDS)
        options.setdefault("destroy_seconds", FAST_DESTROY_SECONDS)
        emulator = Emulator(**options).start()
        started.append(emulator)
        return emulator

    yield start
    for emulator in reversed(started):
        emulator.stop()


@pytest.fixture
def vast_emulator(vast_emulator_factory: EmulatorFactory) -> Emulator:
    return vast_emulator_factory()
