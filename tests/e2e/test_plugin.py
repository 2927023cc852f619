"""Issue 25: the provider plugin ``pulumi-resource-vast`` through the real CLI, from YAML.

The plugin is the same providers behind Pulumi's gRPC provider protocol; these tests drive it the way
a YAML team would (``pulumi-language-yaml`` built from the module proxy by ``make setup``), and
``pulumi import`` of an instance rented outside any stack.
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

API_KEY = "e2e-plugin-key"
YAML_EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "yaml-serverless"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=0.5, seed=25) as emu:
        yield emu


@pytest.fixture
def inventory(emulator: Emulator) -> VastInventory:
    return VastInventory(emulator.url, API_KEY)


def _stack(backend: LocalBackend, project: Path, emulator: Emulator) -> Stack:
    return backend.stack(
        project, "dev", config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
    )


def _api(
    emulator: Emulator, method: str, path: str, body: dict[str, object] | None = None
) -> requests.Response:
    headers = {"Authorization": f"Bearer {API_KEY}"}
    response = requests.request(method, emulator.url + path, json=body, headers=headers, timeout=30)
    response.raise_for_status()
    return response


def _edit(program: Path, old: str, new: str) -> None:
    text = program.read_text()
    assert text.count(old) == 1, f"expected exactly one {old!r}"
    program.write_text(text.replace(old, new))


def test_yaml_stack_up_previews_clean_updates_replaces_refreshes_and_destroys_to_nothing(
    local_backend: LocalBackend, emulator: Emulator, inventory: VastInventory, tmp_path: Path
) -> None:
    project = tmp_path / "yaml-serverless"
    shutil.copytree(YAML_EXAMPLE, project)
    stack = _stack(local_backend, project, emulator)

    stack.up()
    first = stack.outputs()
    endpoint_id, instance_id = int(first["endpointId"]), int(first["instanceId"])
    assert inventory.ids()["endpoints"] == {endpoint_id}
    assert inventory.ids()["workergroups"] == {int(first["workergroupId"])}
    assert {int(row["id"]) for row in inventory.instances() if row.get("label") == "yaml-dev-box"} == {
        instance_id
    }
    # The endpoint's key is a secret output: the state holds only its ciphertext.
    (endpoint,) = inventory.endpoints()
    assert endpoint["api_key"] not in local_backend.state_file("vast-yaml-serverless", "dev").read_text()

    stack.preview("--expect-no-changes")

    # In place (maxWorkers) and a replacement (the instance's disk) in one run.
    _edit(project / "Pulumi.yaml", "maxWorkers: 4", "maxWorkers: 6")
    _edit(project / "Pulumi.yaml", "disk: 32", "disk: 48")
    stack.up()
    second = stack.outputs()
    assert int(second["endpointId"]) == endpoint_id
    (endpoint,) = inventory.endpoints()
    assert endpoint["max_workers"] == 6
    new_instance = int(second["instanceId"])
    assert new_instance != instance_id
    assert inventory.instance(instance_id) is None
    assert float((inventory.instance(new_instance) or {})["disk_space"]) == 48.0

    # Deleted behind the stack's back: refresh drops it from state.
    _api(emulator, "DELETE", f"/api/v0/instances/{new_instance}/")
    stack.refresh("--yes")
    types_ = [resource["type"] for resource in stack.resources()]
    assert "vast:index:Instance" not in types_
    assert types_.count("vast:index:Endpoint") == 1

    stack.destroy("--yes")
    ids = inventory.ids()
    assert ids["endpoints"] == set() and ids["workergroups"] == set()
    assert [row["id"] for row in inventory.instances()] == []


def test_import_of_a_running_instance_writes_a_program_that_previews_with_no_changes(
    local_backend: LocalBackend, emulator: Emulator, inventory: VastInventory, tmp_path: Path
) -> None:
    offers = _api(emulator, "POST", "/api/v0/bundles/", {"rentable": {"eq": True}, "limit": 1}).json()[
        "offers"
    ]
    body = {"image": "pytorch/pytorch:latest", "disk": 16, "label": "hand-made"}
    instance_id = int(_api(emulator, "PUT", f"/api/v0/asks/{offers[0]['id']}/", body).json()["new_contract"])
    project = tmp_path / "imported"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: vast-import\nruntime: yaml\n")
    stack = _stack(local_backend, project, emulator)
    generated = tmp_path / "generated.yaml"
    mark = len(emulator.request_log())

    stack.run("import", "vast:index:Instance", "box", str(instance_id), "--yes", "--out", str(generated))
    program = generated.read_text()
    assert f"adoptId: '{instance_id}'" in program and "image: pytorch/pytorch:latest" in program
    (project / "Pulumi.yaml").write_text("name: vast-import\nruntime: yaml\n" + program)
    stack.preview("--expect-no-changes")

    # Importing and previewing only read: nothing was rented, changed or destroyed.
    writes = [r for r in emulator.request_log()[mark:] if r["method"] in ("PUT", "POST", "DELETE")]
    assert [r["path"] for r in writes if not r["path"].startswith("/api/v0/bundles")] == []
    assert (inventory.instance(instance_id) or {})["actual_status"] == "running"
    (resource,) = [r for r in stack.resources() if r["type"] == "vast:index:Instance"]
    assert resource["id"] == str(instance_id) and json.dumps(resource).count("hand-made") >= 1
