"""Issue 5: a wrong or missing API key is one clear line at `pulumi up`, never the key, and nothing
is created.

Since pulumi/pulumi#24465 (in the 3.272 SDK) the dynamic-provider server sends every exception with
its traceback; the package reports its own errors as their message alone (``_provider_server``), so the
line below is all the user sees.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import tracebacks_through_our_code
from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.errors import STALE_CONFIG_NOTE
from vast_pulumi.local_pulumi import LocalBackend

RIGHT_KEY = "e2e-auth-right-key"
WRONG_KEY = "e2e-auth-WRONG-key-5d1c"
PROGRAM = "from vast_pulumi import Endpoint\n\nEndpoint('ep')\n"


def error_line(output: str) -> str:
    """The Endpoint's one error under Diagnostics (the engine's own "update failed" lines, in the
    stack's section, which the CLI prints before or after it, aside)."""
    diagnostics = output.split("Diagnostics:", 1)[-1].split("Resources:", 1)[0]
    sections = re.split(r"^ {2}(\S.*):$", diagnostics, flags=re.M)  # [text, header, body, header, ...]
    bodies = dict(zip(sections[1::2], sections[2::2], strict=True))
    found = re.findall(r"^ {4}error: (.+)$", bodies.get("pulumi-python:dynamic/vast:Endpoint (ep)", ""), re.M)
    assert len(found) == 1, output
    return str(found[0])


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[RIGHT_KEY], seed=1) as emu:
        yield emu


def test_wrong_key_is_one_clear_line(
    local_backend: LocalBackend, emulator: Emulator, make_project: Callable[[str, str], Path]
) -> None:
    stack = local_backend.stack(
        make_project("wrongkey", PROGRAM),
        config={"vast:apiUrl": emulator.url},
        secrets={"vast:apiKey": WRONG_KEY},
    )
    output = stack.up(check=False).output
    assert error_line(output) == (
        "Vast API rejected the API key from the stack config vast:apiKey (401 Invalid user key); "
        "set vast:apiKey or VAST_API_KEY. " + STALE_CONFIG_NOTE
    )
    assert tracebacks_through_our_code(output) == []
    assert WRONG_KEY not in output
    assert VastInventory(emulator.url, RIGHT_KEY).endpoints() == []


def test_missing_key_names_where_to_set_it(
    local_backend: LocalBackend, emulator: Emulator, make_project: Callable[[str, str], Path], tmp_path: Path
) -> None:
    # No stack config, no VAST_API_KEY, and a home without the official client's key files.
    local_backend.extra_env.update(
        HOME=str(tmp_path), XDG_CONFIG_HOME=str(tmp_path / "config"), VAST_API_KEY=""
    )
    stack = local_backend.stack(make_project("nokey", PROGRAM), config={"vast:apiUrl": emulator.url})
    result = stack.up(check=False)
    assert result.returncode != 0
    assert re.match(r"no Vast.ai API key: .*vast:apiKey.*VAST_API_KEY", error_line(result.output)), (
        result.output
    )
    assert VastInventory(emulator.url, RIGHT_KEY).endpoints() == []
