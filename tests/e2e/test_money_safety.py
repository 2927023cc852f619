"""Issue 11, points 1-4, through the real CLI: nothing that bills is ever forgotten, duplicated or
taken over.

1. A rejected key at refresh and destroy fails in one line and the stack keeps every resource.
2. A key of another account at ``refresh --run-program`` fails naming both account ids and keeps
   every resource.
3. A rent that the API applied and then answered with a 500 leaves exactly one instance.
4. An endpoint name the user gave that already exists fails the ``up`` and changes nothing; when a
   killed ``up`` made it, the error names the ``adopt_id`` that recovers it.
"""

from __future__ import annotations

import json
import random
import threading
from collections.abc import Callable, Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest
import requests

from tests.e2e.conftest import tracebacks_through_our_code
from tests.e2e.fleet import live_ids, managed_ids, set_faults
from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, PulumiCommandError, Stack

OWNER_KEY = "e2e-money-owner-key-4b1d"
OTHER_KEY = "e2e-money-other-key-8c3a"
RENT_ROUTE = "/api/v0/asks/{id}/"
EMPTY: dict[str, set[int]] = {"endpoints": set(), "workergroups": set(), "instances": set()}

# Workergroups name a template: the official SDK and CLI require one, and under the pessimistic profile
# the emulator refuses a group without (reading templateless_workergroup).
STACK_PROGRAM = """
from vast_pulumi import Endpoint, Instance, Template, Workergroup

endpoint = Endpoint("ep", max_workers=2)
worker = Template("worker", image="vastai/base-image", extra_filters="gpu_name=RTX_4090 num_gpus=1")
Workergroup("wg", endpoint_id=endpoint.id, template_hash=worker.hash_id)
Instance("box", offer_query="num_gpus=1", image="vastai/base-image", disk=16)
"""
INSTANCE_PROGRAM = """
from vast_pulumi import Instance

Instance("box", offer_query="num_gpus=1", image="vastai/base-image", disk=16)
"""
NAMED_ENDPOINT_PROGRAM = """
from vast_pulumi import Endpoint, Template, Workergroup

endpoint = Endpoint("api", endpoint_name="team-api", max_workers=3)
worker = Template("worker", image="vastai/base-image", extra_filters="gpu_name=RTX_4090 num_gpus=1")
Workergroup("wg", endpoint_id=endpoint.id, template_hash=worker.hash_id)
"""

# The same stacks in YAML, through the provider plugin (issue 25): its money safety is the providers'.
YAML_STACK = """
resources:
  ep:
    type: vast:index:Endpoint
    properties:
      maxWorkers: 2
  worker:
    type: vast:index:Template
    properties:
      image: vastai/base-image
      extraFilters: gpu_name=RTX_4090 num_gpus=1
  wg:
    type: vast:index:Workergroup
    properties:
      endpointId: ${ep.id}
      templateHash: ${worker.hashId}
  box:
    type: vast:index:Instance
    properties:
      offerQuery: num_gpus=1
      image: vastai/base-image
      disk: 16
"""
YAML_INSTANCE = """
resources:
  box:
    type: vast:index:Instance
    properties:
      offerQuery: num_gpus=1
      image: vastai/base-image
      disk: 16
"""
FACES = ["dynamic", "plugin"]
# Both faces call the same account guard (vast_pulumi/_dynamic.py); every run checks it through the dynamic
# face, the plugin face under --soak (`make soak`). The plugin face's own path runs in every run in
# test_a_rent_applied_then_answered_500_leaves_exactly_one_instance[plugin] and tests/e2e/test_plugin.py.
GUARD_FACES = ["dynamic", pytest.param("plugin", marks=pytest.mark.soak)]

MakeProject = Callable[[str, str], Path]


def face_project(make_project: MakeProject, name: str, face: str, python: str, yaml: str) -> Path:
    """A project of ``python`` (the dynamic providers) or of ``yaml`` (the provider plugin)."""
    directory = make_project(name, python)
    if face == "plugin":
        (directory / "__main__.py").unlink()
        (directory / "Pulumi.yaml").write_text(f"name: {name}\nruntime: yaml\n{yaml}")
    return directory


def deployed(backend: LocalBackend, project: Path, url: str, key: str = OWNER_KEY) -> Stack:
    return backend.stack(project, "dev", config={"vast:apiUrl": url}, secrets={"vast:apiKey": key})


def api_requests(emulator: Emulator) -> list[dict[str, Any]]:
    return [entry for entry in emulator.request_log() if str(entry["path"]).startswith("/api/")]


def error_lines(output: str) -> str:
    return "\n".join(line for line in output.splitlines() if "error:" in line)


# -- 1. a rejected key ---------------------------------------------------------------------------------


class AuthFailureAs404(BaseHTTPRequestHandler):
    """A proxy to the emulator that answers a rejected key the way some real routes do: 404
    ``auth_error`` "Invalid user key" (openapi.yaml, POST /bundles/; the audit's item 1)."""

    upstream: ClassVar[str] = ""

    def log_message(self, *args: Any) -> None:
        pass

    def _forward(self) -> None:
        body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        headers = {k: v for k, v in self.headers.items() if k.lower() in ("authorization", "content-type")}
        answer = requests.request(
            self.command, self.upstream + self.path, data=body or None, headers=headers, timeout=30
        )
        status, payload = answer.status_code, answer.content
        if status == 401:
            status = 404
            payload = json.dumps(
                {"success": False, "error": "auth_error", "msg": "Invalid user key"}
            ).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(payload)))
        self.end_headers()
        self.wfile.write(payload)

    do_GET = do_PUT = do_POST = do_DELETE = _forward


@pytest.fixture
def auth_as_404() -> Iterator[Callable[[str], str]]:
    server = ThreadingHTTPServer(("127.0.0.1", 0), AuthFailureAs404)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()

    def proxy_to(upstream: str) -> str:
        AuthFailureAs404.upstream = upstream
        return f"http://127.0.0.1:{server.server_port}"

    yield proxy_to
    server.shutdown()


# The harsher shape in every run: a 404 that a careless client reads as "gone". The plain 401 under --soak;
# tests/unit/test_account_safety.py puts both shapes (and three more) through every resource's read and
# delete in every run.
REVOKED_SHAPES = [pytest.param("401", marks=pytest.mark.soak), "404 auth_error"]


@pytest.mark.parametrize("shape", REVOKED_SHAPES)
def test_a_revoked_key_at_refresh_and_destroy_fails_in_one_line_and_keeps_every_resource(
    local_backend: LocalBackend, make_project: MakeProject, auth_as_404: Callable[[str], str], shape: str
) -> None:
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[OWNER_KEY], seed=11, boot_seconds=0.5
    ) as emulator:
        url = emulator.url if shape == "401" else auth_as_404(emulator.url)
        stack = deployed(local_backend, make_project("revoked", STACK_PROGRAM), url)
        stack.up()
        before = managed_ids(stack)
        assert before == live_ids(emulator, OWNER_KEY) and all(before.values())

        emulator.backend.api_keys.remove(OWNER_KEY)  # revoked: the API now rejects it
        status = shape.split()[0]
        for attempt in (stack.destroy, stack.refresh):
            result = attempt(check=False)
            assert managed_ids(stack) == before  # nothing forgotten
            assert result.returncode != 0
            rejected = f"rejected the API key from the stack config vast:apiKey ({status} Invalid user key)"
            assert rejected in result.stdout
            assert tracebacks_through_our_code(result.stdout) == []
            assert OWNER_KEY not in result.stdout

        emulator.backend.api_keys.append(OWNER_KEY)
        assert live_ids(emulator, OWNER_KEY) == before  # nothing destroyed either
        stack.destroy()
        assert live_ids(emulator, OWNER_KEY) == EMPTY


# -- 2. a key of another account ------------------------------------------------------------------------


@pytest.mark.parametrize("face", GUARD_FACES)
def test_a_key_of_another_account_fails_refresh_naming_both_accounts_and_keeps_every_resource(
    local_backend: LocalBackend, make_project: MakeProject, face: str
) -> None:
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[OWNER_KEY, OTHER_KEY], seed=12, boot_seconds=0.5
    ) as emulator:
        owner, other = (emulator.backend.authenticate(key).user_id for key in (OWNER_KEY, OTHER_KEY))
        project = face_project(make_project, "foreign", face, STACK_PROGRAM, YAML_STACK)
        stack = deployed(local_backend, project, emulator.url)
        stack.up()
        before = managed_ids(stack)
        assert before == live_ids(emulator, OWNER_KEY) and all(before.values())
        mark = len(api_requests(emulator))
        stack.preview("--expect-no-changes")  # the recorded account is no change, and costs no call
        assert api_requests(emulator)[mark:] == []

        stack.set_config("vast:apiKey", OTHER_KEY, secret=True)
        for attempt in (
            lambda: stack.refresh("--run-program", check=False),
            lambda: stack.destroy(check=False),
        ):
            result = attempt()
            assert managed_ids(stack) == before
            assert result.returncode != 0
            errors = error_lines(result.stdout)
            assert (
                f"belongs to Vast.ai account {owner}, but the configured API key is of account {other}"
                in errors
            )
            assert tracebacks_through_our_code(result.stdout) == []
            assert OWNER_KEY not in result.stdout and OTHER_KEY not in result.stdout
            assert live_ids(emulator, OWNER_KEY) == before
        assert VastInventory(emulator.url, OTHER_KEY).ids() == EMPTY

        # The failed runs recorded the other key as the provider's config: destroy must read it anew.
        stack.set_config("vast:apiKey", OWNER_KEY, secret=True)
        stack.destroy("--run-program")
        assert live_ids(emulator, OWNER_KEY) == EMPTY


# -- 3. a 500 after a committed rent --------------------------------------------------------------------


def seed_faulting_only(index: int, probability: float, horizon: int = 40) -> int:
    """A seed whose draws fault API request number ``index`` (0-based) and none other of the first
    ``horizon``: the emulator draws one ``random.Random(seed).random()`` per API request."""
    wanted = [position == index for position in range(horizon)]
    for seed in range(1_000_000):
        rng = random.Random(seed)
        if [rng.random() < probability for _ in wanted] == wanted:
            return seed
    raise AssertionError(f"no seed faults only request {index}")


@pytest.mark.parametrize("face", FACES)
def test_a_rent_applied_then_answered_500_leaves_exactly_one_instance(
    local_backend: LocalBackend, make_project: MakeProject, face: str
) -> None:
    # Where the rent falls in a create's requests, learned from a run without faults.
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[OWNER_KEY], seed=13, boot_seconds=0.5
    ) as emulator:
        learn = face_project(make_project, "learn", face, INSTANCE_PROGRAM, YAML_INSTANCE)
        deployed(local_backend, learn, emulator.url).up()
        routes = [(entry["method"], entry["route"]) for entry in api_requests(emulator)]
        rent_index = routes.index(("PUT", RENT_ROUTE))

    seed = seed_faulting_only(rent_index, 0.05)
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS,
        api_keys=[OWNER_KEY],
        seed=seed,
        boot_seconds=0.5,
        faults="500-after=0.05",
    ) as emulator:
        project = face_project(make_project, "rent500", face, INSTANCE_PROGRAM, YAML_INSTANCE)
        stack = deployed(local_backend, project, emulator.url)
        stack.up()
        set_faults(emulator, "")
        faulted = [
            (e["method"], e["path"], e["status"], e["fault"]) for e in api_requests(emulator) if e["fault"]
        ]
        assert len(faulted) == 1, faulted
        method, path, status, fault = faulted[0]
        assert (method, status, fault) == ("PUT", 500, "500-after") and path.startswith("/api/v0/asks/")
        managed = managed_ids(stack)
        assert len(managed["instances"]) == 1
        assert live_ids(emulator, OWNER_KEY) == managed  # the committed rent is the one managed
        stack.destroy()
        assert live_ids(emulator, OWNER_KEY) == EMPTY


# -- 4. a user-given endpoint name that is taken --------------------------------------------------------


def test_a_taken_endpoint_name_fails_up_pointing_to_adopt_id_and_changes_nothing(
    local_backend: LocalBackend, make_project: MakeProject
) -> None:
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[OWNER_KEY], seed=14, boot_seconds=0.5
    ) as emulator:
        inventory = VastInventory(emulator.url, OWNER_KEY)
        created = requests.post(
            emulator.url + "/api/v0/endptjobs/",
            json={"endpoint_name": "team-api", "max_workers": 11, "cold_workers": 2},
            headers={"Authorization": f"Bearer {OWNER_KEY}"},
            timeout=10,
        )
        colleague = int(created.json()["result"])
        before = inventory.endpoints()

        stack = deployed(local_backend, make_project("taken", NAMED_ENDPOINT_PROGRAM), emulator.url)
        result = stack.up(check=False)
        assert result.returncode != 0
        assert f"'team-api' is already the name of endpoint {colleague}" in result.stdout
        assert f"set adopt_id={colleague}" in result.stdout
        assert tracebacks_through_our_code(result.stdout) == []
        assert inventory.endpoints() == before  # the colleague's endpoint is untouched
        assert inventory.workergroups() == [] and inventory.instances() == []
        assert managed_ids(stack) == EMPTY


def endpoint_created(emulator: Emulator) -> bool:
    """The moment the API has answered the endpoint's POST (the log has it before the client)."""
    return any(
        r["method"] == "POST" and r["route"] == "/api/v0/endptjobs/" and r["status"] == 200
        for r in emulator.request_log()
    )


def test_an_endpoint_a_killed_up_made_under_a_user_given_name_is_recovered_with_the_adopt_id_named(
    local_backend: LocalBackend, make_project: MakeProject
) -> None:
    from tests.e2e.test_resilience import kill_up_when, recover

    program = 'from vast_pulumi import Endpoint\n\nEndpoint("api", endpoint_name="team-api"{adopt})\n'
    project = make_project("killed-named", program.format(adopt=""))
    # Latency holds the provider in the read after the POST, so the kill lands before state records it.
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[OWNER_KEY], seed=15, boot_seconds=0.5, latency_ms=400
    ) as emulator:
        stack = deployed(local_backend, project, emulator.url)
        kill_up_when(stack, emulator, endpoint_created)
        (leftover,) = live_ids(emulator, OWNER_KEY)["endpoints"]
        assert managed_ids(stack) == EMPTY, "the kill came too late: state already has the endpoint"

        with pytest.raises(PulumiCommandError, match=f"set adopt_id={leftover}"):
            recover(stack)  # cancel, refresh, up: the name is taken by an endpoint state does not know
        assert live_ids(emulator, OWNER_KEY)["endpoints"] == {leftover}

        (project / "__main__.py").write_text(program.format(adopt=f", adopt_id={leftover}"))
        stack.up()
        assert managed_ids(stack)["endpoints"] == {leftover} == live_ids(emulator, OWNER_KEY)["endpoints"]
        stack.destroy()
        assert live_ids(emulator, OWNER_KEY) == EMPTY
