"""The orphan finder: what it recognises as vast-pulumi's, what it leaves alone, how it destroys, and
its command line."""

from __future__ import annotations

import io
import json
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from vast_pulumi.__main__ import main
from vast_pulumi._launch_args import with_marker
from vast_pulumi.client import VastClient
from vast_pulumi.emulator import Emulator
from vast_pulumi.endpoint import default_name
from vast_pulumi.orphans import StackState, StateError, destroy, find, read_stack, removed_stack, state_of
from vast_pulumi.settings import ProviderSettings
from vast_pulumi.volume import search_volume_offers

INSTANCE = "pulumi-python:dynamic/vast:Instance"
WORKERGROUP = "pulumi-python:dynamic/vast:Workergroup"
ENDPOINT = "pulumi-python:dynamic/vast:Endpoint"


def urn(kind: str, name: str) -> str:
    return f"urn:pulumi:dev::proj::{kind}::{name}"


def resource(kind: str, name: str, id_: int, marker: str) -> dict[str, Any]:
    return {"urn": urn(kind, name), "type": kind, "id": str(id_), "outputs": {"_marker": marker}}


def export(resources: list[dict[str, Any]], pending: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    stack = {"urn": urn("pulumi:pulumi:Stack", "proj-dev"), "type": "pulumi:pulumi:Stack"}
    operations = [{"resource": row, "type": "creating"} for row in pending or []]
    return {"version": 3, "deployment": {"resources": [stack, *resources], "pending_operations": operations}}


@pytest.fixture
def emulator(vast_emulator_factory: Callable[..., Emulator]) -> Emulator:
    # The account below rents its "workers" by hand, each with a known marker; the emulator's own
    # recruiting would add more. test_recruited_workers_of_an_orphan_group_are_orphans turns it on.
    return vast_emulator_factory(seed=1, boot_seconds=0.3, workers=False)


@pytest.fixture
def client(emulator: Emulator) -> VastClient:
    return VastClient(ProviderSettings(emulator.api_keys[0], emulator.url), pacing_scale=0)


def rent(client: VastClient, env: dict[str, str]) -> int:
    offer = client.search_offers({"num_gpus": {"eq": "1"}, "limit": 1})[0]
    reply = client.create_instance(int(offer["id"]), {"image": "vastai/base-image", "disk": 10, "env": env})
    return int(reply["new_contract"])


def group(client: VastClient, endpoint_id: int, marker: str | None) -> int:
    body = {"endpoint_id": endpoint_id, "search_params": "num_gpus=1"}
    return client.create_workergroup({**body, "launch_args": with_marker("--image x", marker or "")})


class Account:
    """An account with, for each kind, something managed, something orphaned and the user's own."""

    def __init__(self, client: VastClient) -> None:
        state = StackState("organization", "proj", "dev")
        self.managed_instance = rent(client, {"VAST_PULUMI_MARKER": "a" * 16})
        self.orphan_instance = rent(client, {"VAST_PULUMI_MARKER": "b" * 16})
        self.users_instance = rent(client, {"HOME": "/root"})
        endpoint_marker = state.endpoint_marker("inference")
        self.managed_endpoint = client.create_endpoint(
            {"endpoint_name": default_name("inference", endpoint_marker)}
        )
        # A leftover of the same resource, and one of a resource the stack never recorded.
        self.orphan_endpoint = client.create_endpoint(
            {"endpoint_name": default_name("inference", endpoint_marker)}
        )
        gone_marker = state.endpoint_marker("old-api")
        self.unrecorded_endpoint = client.create_endpoint(
            {"endpoint_name": default_name("old-api", gone_marker)}
        )
        self.users_endpoint = client.create_endpoint({"endpoint_name": "team-api-1a2b3c4d"})  # looks alike
        self.managed_group = group(client, self.managed_endpoint, "c" * 16)
        self.orphan_group = group(client, self.managed_endpoint, "d" * 16)
        self.users_group = group(client, self.users_endpoint, None)
        self.managed_worker = rent(client, {"VAST_PULUMI_GROUP_MARKER": "c" * 16})
        self.orphan_worker = rent(client, {"VAST_PULUMI_GROUP_MARKER": "d" * 16})
        self.export = export(
            [
                resource(INSTANCE, "box", self.managed_instance, "a" * 16),
                resource(ENDPOINT, "inference", self.managed_endpoint, endpoint_marker),
                resource(WORKERGROUP, "workers", self.managed_group, "c" * 16),
            ],
            # The create `pulumi up` was killed in: the marker is known, the id is not.
            pending=[{"urn": urn(INSTANCE, "second"), "type": INSTANCE, "inputs": {"_marker": "b" * 16}}],
        )


def test_find_lists_exactly_what_has_a_marker_and_no_state_records(client: VastClient) -> None:
    account = Account(client)
    found = {(o.kind, o.id): o for o in find(client, [state_of(account.export)])}
    assert set(found) == {
        ("instance", account.orphan_instance),
        ("instance", account.orphan_worker),
        ("workergroup", account.orphan_group),
        ("endpoint", account.orphan_endpoint),
        ("endpoint", account.unrecorded_endpoint),
    }
    listed = {row["id"]: row for row in client.list_instances()}
    orphan = found[("instance", account.orphan_instance)]
    assert (
        orphan.dph_total is not None and orphan.dph_total == listed[account.orphan_instance]["dph_total"] > 0
    )
    assert orphan.origin == "second (stack dev)"  # the interrupted create it was made for
    assert found[("endpoint", account.orphan_endpoint)].origin == "inference (stack dev)"
    assert found[("workergroup", account.orphan_group)].dph_total is None


def test_without_a_stack_only_what_carries_its_own_marker_is_listed(client: VastClient) -> None:
    account = Account(client)
    kinds = {(o.kind, o.id) for o in find(client, [])}
    # Endpoint names prove nothing without the stack that would have made them.
    assert ("endpoint", account.orphan_endpoint) not in kinds
    assert ("instance", account.users_instance) not in kinds
    assert {("instance", account.managed_instance), ("workergroup", account.managed_group)} <= kinds


def test_destroy_removes_the_orphans_and_waits_until_they_are_gone(client: VastClient) -> None:
    account = Account(client)
    found = find(client, [state_of(account.export)])
    outcome = destroy(client, found, poll=0.05)
    assert outcome.failed == []
    assert {o.id for o in outcome.gone} == {o.id for o in found}
    assert {row["id"] for row in client.list_instances()} == {
        account.managed_instance,
        account.users_instance,
        account.managed_worker,
    }
    assert {row["id"] for row in client.list_workergroups()} == {account.managed_group, account.users_group}
    assert {row["id"] for row in client.list_endpoints()} == {
        account.managed_endpoint,
        account.users_endpoint,
    }
    assert find(client, [state_of(account.export)]) == []


def test_an_orphan_endpoint_that_serves_a_managed_group_is_left_alone(client: VastClient) -> None:
    state = StackState("organization", "proj", "dev")
    orphan = client.create_endpoint({"endpoint_name": default_name("api", state.endpoint_marker("api"))})
    managed = group(client, orphan, "e" * 16)
    recorded = export([resource(WORKERGROUP, "workers", managed, "e" * 16)])
    (found,) = find(client, [state_of(recorded)])
    outcome = destroy(client, [found], poll=0.05)
    ((kept, reason),) = outcome.failed
    assert kept.id == orphan and f"workergroup(s) {managed}" in reason
    assert [row["id"] for row in client.list_workergroups()] == [managed]


def test_a_state_that_cannot_be_read_is_an_error_never_an_empty_state(tmp_path: Path) -> None:
    failing = tmp_path / "pulumi"
    failing.write_text("#!/bin/sh\necho 'error: no stack named dev found' >&2\nexit 255\n")
    failing.chmod(failing.stat().st_mode | stat.S_IEXEC)
    with pytest.raises(StateError, match="no stack named dev found"):
        read_stack("dev", pulumi=str(failing))
    with pytest.raises(StateError, match="deployment"):
        state_of({"version": 3})


def test_read_stack_runs_pulumi_stack_export(tmp_path: Path) -> None:
    document = export([resource(INSTANCE, "box", 7, "a" * 16)])
    fake = tmp_path / "pulumi"
    (tmp_path / "export.json").write_text(json.dumps(document))
    expected = "stack export --stack acme/proj/dev"
    fake.write_text(f'#!/bin/sh\n[ "$1 $2 $3 $4" = "{expected}" ] || exit 3\ncat {tmp_path}/export.json\n')
    fake.chmod(fake.stat().st_mode | stat.S_IEXEC)
    state = read_stack("acme/proj/dev", pulumi=str(fake))
    assert (state.organization, state.project, state.stack) == ("acme", "proj", "dev")
    assert [(r.kind, r.id, r.marker) for r in state.resources] == [("instance", 7, "a" * 16)]


# -- the command line --------------------------------------------------------------------------------------


@pytest.fixture
def cli(emulator: Emulator, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Any:
    monkeypatch.setenv("VAST_URL", emulator.url)
    key_file = tmp_path / "key"
    key_file.write_text(emulator.api_keys[0])

    def run(*args: str, stdin: str = "") -> tuple[int, str]:
        out = io.StringIO()
        code = main(["orphans", "--api-key-file", str(key_file), *args], stdin=io.StringIO(stdin), out=out)
        return code, out.getvalue()

    return run


def test_the_listing_is_plain_text_with_prices_or_json(
    cli: Any, client: VastClient, tmp_path: Path, emulator: Emulator, capsys: pytest.CaptureFixture[str]
) -> None:
    account = Account(client)
    state_file = tmp_path / "dev.json"
    state_file.write_text(json.dumps(account.export))
    code, text = cli("--state", str(state_file))
    assert code == 0
    price = {row["id"]: row["dph_total"] for row in client.list_instances()}[account.orphan_instance]
    (line,) = [line for line in text.splitlines() if f" {account.orphan_instance} " in line]
    assert line.split()[:3] == ["instance", str(account.orphan_instance), f"{price:.4f}"]
    assert "5 object(s)" in text and "Total: $" in text
    code, printed = cli("--state", str(state_file), "--json")
    document = json.loads(printed)
    assert len(document["orphans"]) == 5
    assert document["total_dph"] == pytest.approx(sum(o["dph_total"] or 0 for o in document["orphans"]))
    assert emulator.api_keys[0] not in text + printed + "".join(capsys.readouterr())


def test_destroy_asks_first_and_does_nothing_without_a_yes(
    cli: Any, client: VastClient, tmp_path: Path
) -> None:
    account = Account(client)
    state_file = tmp_path / "dev.json"
    state_file.write_text(json.dumps(account.export))
    before = len(client.list_instances())
    code, _ = cli("--state", str(state_file), "--destroy", stdin="no\n")
    assert code == 1 and len(client.list_instances()) == before
    code, _ = cli("--state", str(state_file), "--destroy", stdin="")  # no answer at all
    assert code == 1 and len(client.list_instances()) == before
    code, text = cli("--state", str(state_file), "--destroy", stdin="yes\n")
    assert code == 0 and f"destroyed instance {account.orphan_instance}" in text
    code, text = cli("--state", str(state_file))
    assert "No orphans" in text


def test_destroy_with_yes_and_json_reports_what_went(cli: Any, client: VastClient, tmp_path: Path) -> None:
    account = Account(client)
    state_file = tmp_path / "dev.json"
    state_file.write_text(json.dumps(account.export))
    code, printed = cli("--state", str(state_file), "--destroy", "--yes", "--json")
    document = json.loads(printed)
    assert code == 0 and document["failed"] == []
    assert {d["id"] for d in document["destroyed"]} == {o["id"] for o in document["orphans"]}


def test_no_stack_named_is_refused(cli: Any, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = cli()
    assert code == 2
    assert "name the stacks" in capsys.readouterr().err


def test_recruited_workers_of_an_orphan_group_are_orphans(
    vast_emulator_factory: Callable[..., Emulator],
) -> None:
    emulator = vast_emulator_factory(seed=1, boot_seconds=0.3)  # the autoscaler recruits workers
    client = VastClient(ProviderSettings(emulator.api_keys[0], emulator.url), pacing_scale=0)
    endpoint = client.create_endpoint({"endpoint_name": "api", "cold_workers": 2, "max_workers": 2})
    orphan_group = group(client, endpoint, "f" * 16)
    workers = {row["id"] for row in client.list_instances()}
    assert len(workers) == 2  # the endpoint's cold workers, carrying the group's --env
    found = {(o.kind, o.id) for o in find(client, [])}
    assert found >= {("workergroup", orphan_group)} | {("instance", worker) for worker in workers}


def test_members_a_fleet_records_are_not_orphans_and_its_unrecorded_ones_are(client: VastClient) -> None:
    fleet = "f" * 16
    recorded = rent(client, {"VAST_PULUMI_MARKER": f"{fleet}-0badcafe-0"})
    unrecorded = rent(client, {"VAST_PULUMI_MARKER": f"{fleet}-0badcafe-1"})
    row = {
        "urn": urn("pulumi-python:dynamic/vast:Fleet", "trainers"),
        "type": "pulumi-python:dynamic/vast:Fleet",
        "id": fleet,
        "outputs": {"_marker": fleet, "instance_ids": [float(recorded)]},
    }
    found = {(o.kind, o.id) for o in find(client, [state_of(export([row]))])}
    assert found == {("instance", unrecorded)}


def test_volumes_templates_and_ssh_keys_a_removed_stack_left_are_orphans_and_destroyed(
    client: VastClient,
) -> None:
    removed = removed_stack("proj/dev")  # `pulumi stack rm --force`: no state, its markers still known
    volume_marker = removed.marker("pulumi-python:dynamic/vast:Volume", "data")
    template_marker = removed.marker("pulumi-python:dynamic/vast:Template", "vllm")
    (offer, *_) = search_volume_offers(client, "reliability>0.5", size=10, order="storage_cost", limit=2)
    volume = client.create_volume(int(offer["id"]), 10, default_name("data", volume_marker))
    users_volume = client.create_volume(int(offer["id"]), 10, "scratch-1a2b3c4d")
    template = int(
        client.create_template({"name": default_name("vllm", template_marker), "image": "x"})["id"]
    )
    users_template = int(client.create_template({"name": "mine-1a2b3c4d", "image": "y"})["id"])
    line = "ssh-ed25519 AAAAC3NzaC1lZDI1NTE5AAAAIJK9F1pSEMt/BAon67seVRFk7PHt5CVhLLud826EorlK me@laptop"
    key = int(client.create_ssh_key(f"{line} vast-pulumi:{'9' * 16}")["id"])
    users_key = int(client.create_ssh_key(line.replace("me@laptop", "other@laptop"))["id"])

    found = {(o.kind, o.id): o for o in find(client, [removed])}
    assert set(found) == {("volume", volume), ("template", template), ("ssh_key", key)}
    volume_price = found[("volume", volume)].dph_total
    assert volume_price is not None and volume_price > 0
    # Without the stack, only the key's full marker tells it apart from one made by hand.
    assert {(o.kind, o.id) for o in find(client, [])} == {("ssh_key", key)}

    outcome = destroy(client, list(found.values()), poll=0.05)
    assert outcome.failed == [] and {(o.kind, o.id) for o in outcome.gone} == set(found)
    assert [row["id"] for row in client.list_volumes()] == [users_volume]
    assert [row["id"] for row in client.list_own_templates()] == [users_template]
    assert [row["id"] for row in client.list_ssh_keys()] == [users_key]


def test_a_removed_stack_is_named_project_slash_stack() -> None:
    assert (removed_stack("acme/proj/dev").organization, removed_stack("proj/dev").stack) == ("acme", "dev")
    with pytest.raises(StateError, match="PROJECT/STACK"):
        removed_stack("dev")


def test_what_a_provider_plugin_stack_records_is_not_an_orphan(client: VastClient) -> None:
    """A stack of the plugin (`vast:index:<Name>`, camelCase outputs) records its instances and its
    fleet's members just as a stack of the dynamic resources does: none of them may be destroyed."""
    instance = rent(client, {"VAST_PULUMI_MARKER": "a" * 16})
    fleet = "f" * 16
    member = rent(client, {"VAST_PULUMI_MARKER": f"{fleet}-0badcafe-0"})
    unrecorded = rent(client, {"VAST_PULUMI_MARKER": "b" * 16})
    rows = [
        resource("vast:index:Instance", "box", instance, "a" * 16),
        {
            "urn": urn("vast:index:Fleet", "trainers"),
            "type": "vast:index:Fleet",
            "id": fleet,
            "outputs": {"_marker": fleet, "instanceIds": [float(member)]},
        },
    ]
    found = {(o.kind, o.id) for o in find(client, [state_of(export(rows))])}
    assert found == {("instance", unrecorded)}


def test_a_default_named_object_a_provider_plugin_stack_left_is_an_orphan_of_that_stack(
    client: VastClient,
) -> None:
    """Through the plugin the marker is of the type `vast:index:<Name>`: a template a killed plugin
    `up` left under its default name is found for that stack as a dynamic resource's would be."""
    removed = removed_stack("proj/dev")
    plugin_marker = removed.marker("vast:index:Template", "vllm")
    template = int(client.create_template({"name": default_name("vllm", plugin_marker), "image": "x"})["id"])
    assert {(o.kind, o.id) for o in find(client, [removed])} == {("template", template)}


def test_no_orphans_is_not_said_while_an_endpoint_of_a_stack_not_given_may_remain(
    cli: Any, client: VastClient, tmp_path: Path
) -> None:
    # An endpoint of a stack removed since: its name carries only the hash of that stack's marker.
    removed = removed_stack("proj/removed-stack")
    name = default_name("inference", removed.marker("pulumi-python:dynamic/vast:Endpoint", "inference"))
    endpoint_id = client.create_endpoint({"endpoint_name": name})
    client.create_endpoint({"endpoint_name": "team-api"})  # a name of the user's: never mentioned
    state_file = tmp_path / "other.json"
    state_file.write_text(json.dumps(export([])))
    code, text = cli("--state", str(state_file))
    assert code == 0
    assert text.splitlines()[1] == (
        f"But 1 endpoint(s) have a name like a generated one that no given stack made: {name} (id "
        f"{endpoint_id}). An endpoint of a stack not named here cannot be recognised: name that stack too "
        "(a removed one with --removed-stack), or delete the endpoint yourself if it is unused (vastai "
        "delete endpoint ID)."
    )
    # Named, it is an orphan like any other.
    code, text = cli("--state", str(state_file), "--removed-stack", "proj/removed-stack")
    assert f"endpoint {endpoint_id}" in " ".join(text.split()) or str(endpoint_id) in text
