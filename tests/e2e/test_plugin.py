"""Issue 25: the provider plugin ``pulumi-resource-vast`` through the real CLI, from YAML.

The plugin is the same providers behind Pulumi's gRPC provider protocol; these tests drive it the way
a YAML team would (``pulumi-language-yaml`` built from the module proxy by ``make setup``), and
``pulumi import`` of an instance rented outside any stack.
"""

from __future__ import annotations

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
    # The functions (Invoke): the key's account and the offers the instance chose from.
    assert first["accountId"] == emulator.backend.authenticate(API_KEY).user_id
    assert first["offeredGpu"] == first["gpu"] == "RTX 4090"
    assert inventory.ids()["endpoints"] == {endpoint_id}
    assert inventory.ids()["workergroups"] == {int(first["workergroupId"])}
    assert {int(row["id"]) for row in inventory.instances() if row.get("label") == "yaml-dev-box"} == {
        instance_id
    }
    # The endpoint's key is a secret output, the API key a secret config: state holds only ciphertext.
    (endpoint,) = inventory.endpoints()
    state = local_backend.state_file("vast-yaml-serverless", "dev").read_text()
    assert endpoint["api_key"] not in state and API_KEY not in state

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


def test_a_dynamic_stacks_running_instance_moves_to_the_plugin_by_import_without_a_rent_or_destroy(
    local_backend: LocalBackend, emulator: Emulator, inventory: VastInventory, tmp_path: Path
) -> None:
    """The README's path from the dynamic providers to the plugin: forget the instance in the Python
    stack (``pulumi state delete``: nothing is deleted), ``pulumi import`` it by id into a YAML
    stack, and the generated program previews with no changes. Nothing billing is touched."""
    python_project = tmp_path / "python"
    python_project.mkdir()
    (python_project / "Pulumi.yaml").write_text("name: vast-dynamic\nruntime: python\n")
    (python_project / "__main__.py").write_text(
        "import pulumi\nfrom vast_pulumi import Instance\n"
        'box = Instance("box", offer_query="num_gpus=1", image="pytorch/pytorch:latest", disk=16, '
        'label="moved")\npulumi.export("id", box.id)\n'
    )
    dynamic = _stack(local_backend, python_project, emulator)
    dynamic.up()
    instance_id = int(dynamic.outputs()["id"])
    (resource,) = [r for r in dynamic.resources() if r["type"].endswith("vast:Instance")]
    mark = len(emulator.request_log())

    dynamic.run("state", "delete", resource["urn"], "--yes")
    yaml_project = tmp_path / "yaml"
    yaml_project.mkdir()
    (yaml_project / "Pulumi.yaml").write_text("name: vast-import\nruntime: yaml\n")
    plugin = _stack(local_backend, yaml_project, emulator)
    generated = tmp_path / "generated.yaml"
    plugin.run("import", "vast:index:Instance", "box", str(instance_id), "--yes", "--out", str(generated))
    program = generated.read_text()
    assert f"adoptId: '{instance_id}'" in program and "image: pytorch/pytorch:latest" in program
    (yaml_project / "Pulumi.yaml").write_text("name: vast-import\nruntime: yaml\n" + program)
    plugin.preview("--expect-no-changes")

    # Forgetting, importing and previewing only read: nothing was rented, changed or destroyed.
    writes = [r for r in emulator.request_log()[mark:] if r["method"] in ("PUT", "POST", "DELETE")]
    assert [r["path"] for r in writes if not r["path"].startswith("/api/v0/bundles")] == []
    assert (inventory.instance(instance_id) or {})["actual_status"] == "running"
    assert [r["id"] for r in plugin.resources() if r["type"] == "vast:index:Instance"] == [str(instance_id)]
    assert not [r for r in dynamic.resources() if r["type"].endswith("vast:Instance")]
