"""Issue 2 acceptance: up, preview --expect-no-changes and destroy of a stack with a dynamic
resource from the package, asserting on the outputs and the state file."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend

API_KEY = "e2e-endpoint-key"
PROGRAM = """
import pulumi
from vast_pulumi import Endpoint

endpoint = Endpoint("api", endpoint_name="e2e-endpoint", max_workers=3, cold_workers=1)
pulumi.export("name", endpoint.endpoint_name)
pulumi.export("max_workers", endpoint.max_workers)
pulumi.export("id", endpoint.id)
"""


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], seed=2) as emu:
        yield emu


def test_endpoint_stack_up_preview_destroy(
    local_backend: LocalBackend, emulator: Emulator, make_project: Callable[[str, str], Path]
) -> None:
    stack = local_backend.stack(
        make_project("endpoint-stack", PROGRAM),
        config={"vast:apiUrl": emulator.url},
        secrets={"vast:apiKey": API_KEY},
    )
    stack.up()
    outputs = stack.outputs()
    assert outputs["name"] == "e2e-endpoint"
    assert outputs["max_workers"] == 3

    state = json.loads(local_backend.state_file("endpoint-stack", "dev").read_text())
    (endpoint,) = [
        r
        for r in state["checkpoint"]["latest"]["resources"]
        if r["type"] == "pulumi-python:dynamic/vast:Endpoint"
    ]
    assert endpoint["id"] == str(outputs["id"])
    assert endpoint["outputs"]["endpoint_name"] == "e2e-endpoint"
    # the endpoint's own API key is a secret output: ciphertext in state, never the value
    assert (
        endpoint["outputs"]["api_key"]["4dabf18193072939515e22adb298388d"]
        == "1b47061264138c4ac30d75fd1eb44270"
    )
    assert "ciphertext" in endpoint["outputs"]["api_key"]
    # What the tests read as the stack's resources and outputs is what the CLI exports and prints.
    assert stack.resources() == stack.export()["deployment"]["resources"]
    assert stack.state_outputs() == outputs

    stack.preview("--expect-no-changes")
    stack.destroy()
    state = json.loads(local_backend.state_file("endpoint-stack", "dev").read_text())
    assert not state["checkpoint"]["latest"].get("resources")
