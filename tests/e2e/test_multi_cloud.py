"""Issue 24 acceptance: examples/multi-cloud, a Vast serverless service and its Kubernetes gateway in one
program, through the real CLI with the real Kubernetes provider plugin (built by `make setup`) rendering
manifests to a directory, against the emulator.

One stack carries the life cycle (up, no-change preview, a Vast-side rename, a Kubernetes-only change,
destroy); a second one fails on the Kubernetes side mid-up and converges on the next up.
"""

from __future__ import annotations

import base64
import json
import shutil
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # installed with the Pulumi SDK

from tests.e2e.conftest import EXAMPLES
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import CommandResult, LocalBackend, Stack, toolchain_path

API_KEY = "e2e-multi-cloud-key"
PROJECT = "multi-cloud"
PLUGIN = "pulumi-resource-kubernetes"
WRITES = {"POST", "PUT", "PATCH", "DELETE"}
VAST_TYPE = "pulumi-python:dynamic/vast:"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=1, seed=24) as emu:
        yield emu


def require_plugin(path: str | None = None) -> None:
    """Fails (never skips) without the Kubernetes provider plugin on ``path`` (the CLI's), naming the fix."""
    if shutil.which(PLUGIN, path=path or toolchain_path()) is None:
        hint = (
            "run `make setup` (it builds the plugin once into ~/.cache/vast-pulumi, links it into .venv/bin)"
        )
        pytest.fail(f"{PLUGIN} was not found next to the Pulumi CLI or on PATH; {hint}", pytrace=False)


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """A copy of the example: the test may edit it, and the CLI writes stack files beside it."""
    require_plugin()
    copy = tmp_path / PROJECT
    shutil.copytree(
        EXAMPLES / PROJECT, copy, ignore=shutil.ignore_patterns(".venv", "rendered", "Pulumi.*.yaml")
    )
    return copy


def deploy(backend: LocalBackend, project: Path, emulator: Emulator, render_dir: Path) -> Stack:
    config = {"vast:apiUrl": emulator.url, f"{PROJECT}:renderDir": str(render_dir)}
    return backend.stack(project, "dev", config=config, secrets={"vast:apiKey": API_KEY})


REPLACED = {"create-replacement", "replace", "delete-replaced"}  # the three steps of one replacement


def up(stack: Stack) -> tuple[dict[str, set[str]], CommandResult]:
    """`pulumi up --json`: the steps of each resource (``Kind/name`` -> ops) and the run."""
    result = stack.run("up", "--yes", "--skip-preview", "--json")
    events = (json.loads(line) for line in result.stdout.splitlines() if line.startswith("{"))
    steps: dict[str, set[str]] = {}
    for event in events:
        if (
            "resourcePreEvent" in event
            and "::pulumi:pulumi:Stack::" not in event["resourcePreEvent"]["metadata"]["urn"]
        ):
            step = event["resourcePreEvent"]["metadata"]
            steps.setdefault(short(step["urn"]), set()).add(step["op"])
    return steps, result


def short(urn: str) -> str:
    """``urn:pulumi:dev::multi-cloud::kubernetes:core/v1:ConfigMap::gateway-config`` ->
    ``ConfigMap/gateway-config`` (a provider: ``kubernetes/gateway-cluster``)."""
    type_, name = urn.split("::")[-2:]
    return f"{type_.split(':')[-1]}/{name}"


def manifests(render_dir: Path) -> dict[str, dict[str, Any]]:
    """The rendered objects by ``Kind/metadata.name``."""
    docs = (
        doc for path in sorted(render_dir.rglob("*.yaml")) for doc in yaml.safe_load_all(path.read_text())
    )
    return {f"{doc['kind']}/{doc['metadata']['name']}": doc for doc in docs if doc}


def vast_ids(stack: Stack) -> dict[str, set[str]]:
    """The Vast resources the stack's state knows, by type (``Endpoint`` -> ids)."""
    known: dict[str, set[str]] = {}
    for resource in stack.resources():
        if resource["type"].startswith(VAST_TYPE) and resource.get("id"):
            known.setdefault(resource["type"].removeprefix(VAST_TYPE), set()).add(str(resource["id"]))
    return known


def live_vast_ids(emulator: Emulator) -> dict[str, set[str]]:
    (account,) = emulator.inventory()
    return {
        "Template": {str(row["id"]) for row in account["templates"]},
        "Endpoint": {str(row["id"]) for row in account["endpoints"]},
        "Workergroup": {str(row["id"]) for row in account["workergroups"]},
    }


def billing(emulator: Emulator) -> list[dict[str, Any]]:
    """The instances the account pays for (the endpoint's workers): every one listed, running or not (a
    cold worker loads, then stops, and bills its storage while stopped)."""
    (account,) = emulator.inventory()
    return list(account["instances"])


def billing_outside_state(emulator: Emulator, stack: Stack) -> list[int]:
    """Paid-for instances that no workergroup in the stack's state recruited."""
    groups = vast_ids(stack).get("Workergroup", set())
    return [row["id"] for row in billing(emulator) if str(row.get("workergroup_id")) not in groups]


def everything_pulumi_wrote(backend: LocalBackend, project: Path, *runs: CommandResult) -> dict[str, str]:
    """Every file under the backend's state and home directories, the stack's settings file, and every
    run's output."""
    written = {
        str(path): path.read_text(errors="replace") for path in backend.root.rglob("*") if path.is_file()
    }
    written |= {str(path): path.read_text() for path in project.glob("Pulumi.*.yaml")}
    written |= {f"run {i}: {' '.join(run.args[1:3])}": run.output for i, run in enumerate(runs)}
    return written


def test_multi_cloud_stack_lifecycle(
    local_backend: LocalBackend, emulator: Emulator, project: Path, tmp_path: Path
) -> None:
    render_dir = tmp_path / "rendered"
    stack = deploy(local_backend, project, emulator, render_dir)
    steps, first = up(stack)
    assert all(ops == {"create"} for ops in steps.values()) and len(steps) == 8

    # The rendered manifests carry the endpoint's name and mount its key.
    (account,) = emulator.inventory()
    (endpoint,) = account["endpoints"]
    rendered = manifests(render_dir)
    assert sorted(rendered) == [
        "ConfigMap/inference-gateway",
        "Deployment/inference-gateway",
        "Secret/inference-gateway-key",
        "Service/inference-gateway",
    ]
    assert rendered["ConfigMap/inference-gateway"]["data"]["endpoint_name"] == endpoint["endpoint_name"]
    assert stack.outputs()["endpoint_name"] == endpoint["endpoint_name"]

    # The key: base64 in the rendered Secret (what a Secret manifest is), nowhere in what Pulumi writes.
    key = str(endpoint["api_key"])
    encoded = base64.b64encode(key.encode()).decode()
    assert rendered["Secret/inference-gateway-key"]["data"] == {"api_key": encoded}
    preview = stack.preview("--expect-no-changes")

    # A Vast change: the renamed endpoint is a new endpoint (and group); on Kubernetes it updates the
    # ConfigMap, and the Secret (a new endpoint has a new key), nothing else.
    stack.set_config("endpointName", "renamed-inference")
    mark = len(emulator.request_log())
    steps, renamed = up(stack)
    renames = [r["route"] for r in emulator.request_log(mark) if r["method"] == "POST"]
    assert "/api/v0/endptjobs/" in renames  # the request log sees this program's Vast writes
    assert steps == {
        "Template/vllm-worker": {"same"},
        "Endpoint/inference": REPLACED,
        "Workergroup/vllm-workers": REPLACED,
        "kubernetes/gateway-cluster": {"same"},
        "ConfigMap/gateway-config": {"update"},
        "Secret/gateway-key": {"update"},
        "Deployment/gateway": {"same"},
        "Service/gateway": {"same"},
    }
    assert (
        manifests(render_dir)["ConfigMap/inference-gateway"]["data"]["endpoint_name"] == "renamed-inference"
    )
    assert vast_ids(stack) == live_vast_ids(emulator)  # the old endpoint and group are gone
    assert billing_outside_state(emulator, stack) == []

    # A Kubernetes-only change: every Vast resource untouched, not one write to the Vast API.
    mark = len(emulator.request_log())
    stack.set_config("gatewayReplicas", "3")
    steps, scaled = up(stack)
    vast_requests = emulator.request_log(mark)
    writes = [(r["method"], r["path"]) for r in vast_requests if r["method"] in WRITES]
    print(f"Kubernetes-only change: {len(vast_requests)} Vast API requests, {len(writes)} writes")
    assert writes == []
    assert {name: ops for name, ops in steps.items() if ops != {"same"}} == {"Deployment/gateway": {"update"}}
    assert manifests(render_dir)["Deployment/inference-gateway"]["spec"]["replicas"] == 3

    every_key = {key, encoded}
    written = everything_pulumi_wrote(local_backend, project, first, preview, renamed, scaled)
    written["outputs, secrets shown"] = json.dumps(stack.outputs(show_secrets=True))
    (account,) = emulator.inventory()
    every_key |= {str(row["api_key"]) for row in account["endpoints"]}
    every_key |= {base64.b64encode(k.encode()).decode() for k in every_key}
    assert str(local_backend.state_file(PROJECT, "dev")) in written
    leaks = sorted(where for where, text in written.items() for k in every_key if k in text)
    assert leaks == []

    # Destroy leaves nothing on either side.
    stack.destroy()
    assert live_vast_ids(emulator) == {"Template": set(), "Endpoint": set(), "Workergroup": set()}
    assert billing(emulator) == []
    assert manifests(render_dir) == {}


BROKEN = """
# An invalid manifest that waits for the whole Vast side (the endpoint's name, the workergroup's id): it
# fails mid-up, after all of it was created. Waiting on the endpoint alone raced the workergroup's create:
# the engine starts no new step once one failed.
k8s.yaml.v2.ConfigGroup(
    "broken",
    yaml=pulumi.Output.all(endpoint.endpoint_name, workers.id).apply(
        lambda args: f"apiVersion: v1\\nmetadata:\\n  name: {args[0]}\\n"
    ),
    opts=on_cluster,
)
"""


def test_a_kubernetes_failure_mid_up_costs_the_vast_side_nothing(
    local_backend: LocalBackend, emulator: Emulator, project: Path, tmp_path: Path
) -> None:
    program = project / "__main__.py"
    original = program.read_text()
    program.write_text(original + BROKEN)
    stack = deploy(local_backend, project, emulator, tmp_path / "rendered")

    failed = stack.up(check=False)
    assert failed.returncode != 0
    assert "ConfigGroup resource 'broken' has a problem" in failed.output
    assert "Kubernetes resources require a kind and apiVersion" in failed.output
    # What was created on Vast is in state; nothing bills that state does not know.
    assert vast_ids(stack) == live_vast_ids(emulator)
    assert set(vast_ids(stack)) == {"Template", "Endpoint", "Workergroup"}
    assert billing(emulator), "the workergroup recruited no worker: the check below would prove nothing"
    assert billing_outside_state(emulator, stack) == []

    program.write_text(original)
    stack.up()
    stack.preview("--expect-no-changes")
    assert vast_ids(stack) == live_vast_ids(emulator)
    assert billing_outside_state(emulator, stack) == []


def test_a_missing_plugin_fails_with_the_setup_hint(tmp_path: Path) -> None:
    with pytest.raises(pytest.fail.Exception, match="make setup"):
        require_plugin(str(tmp_path))
