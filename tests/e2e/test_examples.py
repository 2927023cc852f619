"""Issue 4 acceptance: the multi-stack example across its stacks in one backend; issue 23's: the app
stack routes a request to the platform's endpoint with the key it reads, kept secret, from it."""

from __future__ import annotations

import json
import shutil
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend

API_KEY = "e2e-examples-key"
MULTI_STACK = Path(__file__).resolve().parents[2] / "examples" / "multi-stack"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=1, seed=5) as emu:
        yield emu


def test_workers_stack_puts_a_workergroup_on_the_platform_stacks_endpoint_and_the_app_stack_routes_to_it(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    projects = tmp_path / "multi-stack"
    shutil.copytree(MULTI_STACK, projects)
    settings = {"config": {"vast:apiUrl": emulator.url}, "secrets": {"vast:apiKey": API_KEY}}
    platform = local_backend.stack(projects / "platform", "prod", **settings)
    workers = local_backend.stack(projects / "workers", "prod", **settings)
    # No Vast account key: the app only has what the platform stack gives it.
    app = local_backend.stack(projects / "app", "prod", config={"routeUrl": emulator.url})

    platform.up()
    workers.up()
    app_up = app.up()

    # Read from state (no CLI run each: `stack output` prints what state holds, a secret as [secret]).
    platform_out, workers_out = platform.state_outputs(), workers.state_outputs()
    app_out = app.state_outputs()
    inventory = VastInventory(emulator.url, API_KEY)
    (group,) = inventory.workergroups()
    assert int(group["id"]) == int(workers_out["workergroup_id"])
    assert int(group["endpoint_id"]) == int(platform_out["endpoint_id"]) == int(workers_out["endpoint_id"])
    assert group["endpoint_name"] == platform_out["endpoint_name"]

    # The request went through /route/ (authenticated with the endpoint's key) to a worker of the group.
    (account,) = emulator.inventory()
    workers_now = [r for r in account["instances"] if r.get("workergroup_id") == int(group["id"])]
    reply = app_out["answer"]["reply"]
    assert reply["worker_id"] in [r["id"] for r in workers_now]
    assert (reply["route"], reply["payload"]) == ("/v1/echo", {"prompt": "Hello from the app stack"})
    routes = [e for e in emulator.request_log() if e["path"] == "/route/"]
    assert routes and all(e["status"] == 200 for e in routes)

    # The endpoint's key stays a secret across the stack boundary: never in clear in the app's state,
    # outputs or CLI output, nor in the platform's.
    (endpoint,) = account["endpoints"]
    key = endpoint["api_key"]
    # Pulumi's signature of a secret in state, ciphertext beside it: what `stack output` shows as [secret].
    assert set(platform_out["endpoint_api_key"]) == {"4dabf18193072939515e22adb298388d", "ciphertext"}
    assert platform.outputs(show_secrets=True)["endpoint_api_key"] == key
    for text in (
        local_backend.state_file("app", "prod").read_text(),
        local_backend.state_file("platform", "prod").read_text(),
        json.dumps(app_out),
        app_up.output,
    ):
        assert key not in text

    workers.destroy()
    platform.destroy()
    assert inventory.ids() == {"endpoints": set(), "workergroups": set(), "instances": set()}
