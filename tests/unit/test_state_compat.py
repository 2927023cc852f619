"""State is forever: what vast-pulumi 0.1.0 wrote into real Pulumi state (recorded from a deployed
quickstart, secrets scrubbed) must keep working in every later version: the pickled providers load
and name the same classes, the type tokens are unchanged, and the recorded inputs diff as "no
change" against the recorded outputs, so an upgrade plans no spurious update or replacement.

Never edit the recording to make a test pass; add a new recording next to it for a new version.
Each recording is checked the same way: ``state-0.1.0.json`` (the quickstart), ``state-0.2.0.json``
(the same program plus an SshKey, an EnvVar, a Template and a Volume, recorded from a real
``pulumi up`` against the emulator, secrets replaced by "recorded-secret"), ``state-0.3.0.json`` (every
resource, Fleet included, written by ``python -m tests.unit.data.record_state``: a real ``pulumi up``
against the emulator, secrets replaced the same way). Each recording holds exactly the resource types
the registry (:mod:`vast_pulumi._registry`) says its release had.
"""

from __future__ import annotations

import functools
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

import vast_pulumi
from vast_pulumi import _registry
from vast_pulumi._registry import ResourceKind

DATA = Path(__file__).parent / "data"
RELEASES = ("0.1.0", "0.2.0", "0.3.0")
RECORDINGS = {
    version: json.loads((DATA / f"state-{version}.json").read_text())["resources"] for version in RELEASES
}
RESOURCES = [
    pytest.param(version, resource, id=f"{version}-{resource['type'].rsplit(':', 1)[-1]}")
    for version, resources in RECORDINGS.items()
    for resource in resources
]
LOAD = """
import base64, sys, dill
from pulumi.runtime import _serialization
provider = _serialization._deserialize(lambda: dill.loads(base64.b64decode(sys.argv[1])))
print(f"{type(provider).__module__}.{type(provider).__qualname__}")
"""


def as_the_engine_sends(value: Any) -> Any:
    """Numbers reach a dynamic provider as floats."""
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        return float(value)
    if isinstance(value, dict):
        return {key: as_the_engine_sends(item) for key, item in value.items()}
    if isinstance(value, list):
        return [as_the_engine_sends(item) for item in value]
    return value


def kind_of(recorded: dict[str, Any]) -> ResourceKind:
    kind = _registry.by_token(recorded["type"])
    assert kind is not None, f"{recorded['type']} is in a recorded state but in no registry entry"
    return kind


@pytest.mark.parametrize("version", RELEASES)
def test_each_recording_covers_every_resource_type_of_its_release(version: str) -> None:
    released = sorted(kind.type_token for kind in _registry.released_in(version))
    assert sorted(r["type"] for r in RECORDINGS[version]) == released


def test_the_newest_recording_holds_every_resource_of_this_version() -> None:
    assert RELEASES[-1] == vast_pulumi.__version__, (
        "record this version's state (tests/unit/data/record_state.py)"
    )
    assert {r["type"] for r in RECORDINGS[RELEASES[-1]]} == {kind.type_token for kind in _registry.RESOURCES}


@pytest.mark.parametrize(("version", "recorded"), RESOURCES)
def test_type_tokens_never_change(version: str, recorded: dict[str, Any]) -> None:
    assert kind_of(recorded).resource_class().type_token() == recorded["type"]


@pytest.mark.parametrize(("version", "recorded"), RESOURCES)
def test_recorded_provider_loads_in_a_fresh_process_as_the_same_class(
    version: str, recorded: dict[str, Any]
) -> None:
    provider_class = kind_of(recorded).provider_class()
    loaded = class_loaded_in_a_fresh_process(recorded["outputs"]["__provider"])
    assert loaded == f"{provider_class.__module__}.{provider_class.__qualname__}"


@functools.cache
def class_loaded_in_a_fresh_process(pickled: str) -> str:
    """The class a pickled provider loads as, in a process of its own. Once per distinct pickle: the
    18 recorded resources hold 8 (a class pickles alike in every release that kept it), and a fresh
    process's answer for the same bytes is the same."""
    loaded = subprocess.run(
        [sys.executable, "-c", LOAD, pickled],
        capture_output=True,
        text=True,
        check=True,
        cwd="/",  # like the provider server: the package must be importable, not found beside us
    )
    return loaded.stdout.strip()


@pytest.mark.parametrize(("version", "recorded"), RESOURCES)
def test_recorded_inputs_diff_clean_against_recorded_outputs(version: str, recorded: dict[str, Any]) -> None:
    provider = kind_of(recorded).provider_class()()
    program_inputs = {k: v for k, v in as_the_engine_sends(recorded["inputs"]).items() if k != "__provider"}
    # As the engine checks an existing resource: against its old inputs (a Volume named before the name
    # rule keeps its name; only a new or changed name is checked).
    checked = provider.check(program_inputs, program_inputs)
    assert checked.failures == []
    result = provider.diff(recorded["id"], as_the_engine_sends(recorded["outputs"]), checked.inputs)
    assert result.changes is False, result.replaces
