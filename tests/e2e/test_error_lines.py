"""An error of the tree that used to be a bare ``ValueError`` (and reached the CLI as a traceback) is now
one line under Diagnostics: an Endpoint whose ``adopt_id`` names nothing fails ``pulumi up`` with the
``AdoptError`` message alone, and nothing is created."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import tracebacks_through_our_code
from tests.e2e.test_auth import error_line
from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend

API_KEY = "e2e-error-lines-key"
PROGRAM = "from vast_pulumi import Endpoint\n\nEndpoint('ep', adopt_id=4999)\n"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=1) as emu:
        yield emu


def test_adopting_an_endpoint_that_does_not_exist_is_one_line_and_creates_nothing(
    local_backend: LocalBackend, emulator: Emulator, make_project: Callable[[str, str], Path]
) -> None:
    stack = local_backend.stack(
        make_project("adoptnothing", PROGRAM),
        config={"vast:apiUrl": emulator.url},
        secrets={"vast:apiKey": API_KEY},
    )
    output = stack.up(check=False).output
    assert error_line(output) == "adopt_id: there is no endpoint 4999 on this account"
    assert tracebacks_through_our_code(output) == [] and "ValueError" not in output
    assert VastInventory(emulator.url, API_KEY).endpoints() == []
