"""Issue 5 acceptance: bad input fails at `pulumi preview` with the field named, and no write
request reaches the API.

Each case is one resource expression from the table in ``tests/unit/test_bad_input.py``; the program
is rewritten per case and previewed with the real CLI against the emulator.
"""

from __future__ import annotations

import re
import textwrap
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.conftest import backend_or_fail, tracebacks_through_our_code
from tests.unit.test_bad_input import case
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import Stack

API_KEY = "e2e-bad-input-key"
# One per resource (the whole table runs in-process): a name rule, the query grammar, a type rule.
CLI_CASES = [
    "endpoint-name-charset",
    "wg-query-grammar",
    "box-env-value-not-string",
    "box-order-names-no-field",
]


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=4) as emu:
        yield emu


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory, emulator: Emulator) -> Stack:
    root = tmp_path_factory.mktemp("bad-input")
    backend = backend_or_fail(root / "pulumi")
    project = root / "project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: bad-input\nruntime: python\n")
    (project / "__main__.py").write_text("")
    return backend.stack(
        project, "dev", config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
    )


def write_program(stack: Stack, expression: str) -> None:
    program = f"""
        from vast_pulumi import Endpoint, Instance, Workergroup

        {expression}
    """
    (Path(stack.project_dir) / "__main__.py").write_text(textwrap.dedent(program))


@pytest.mark.parametrize("case_id", CLI_CASES)
def test_bad_input_fails_preview_naming_the_field_with_no_write(
    stack: Stack, emulator: Emulator, case_id: str
) -> None:
    expression, field = case(case_id)
    write_program(stack, expression)
    before = len(emulator.request_log())
    result = stack.preview(check=False)
    assert result.returncode != 0, result.output
    # Our rule text starts with the field (or a path inside it); the engine prints no value.
    assert re.search(rf"resource '[\w-]+' has a problem: {field}[.:]", result.output), result.output
    assert tracebacks_through_our_code(result.output) == []
    writes = [r for r in emulator.request_log()[before:] if r["method"] in {"POST", "PUT", "DELETE", "PATCH"}]
    assert writes == []
