"""Issue 13 acceptance, per new resource, through the real CLI against the emulator: up, a no-change
preview, an in-place update, a replacement where one applies, an out-of-band delete with the official
``vastai`` client then refresh and re-up, and a destroy that leaves nothing (read from the emulator's
inventory). A template edit is one update of the template and one of its workergroup, no replacement,
and the group's row carries the new hash. Bad input of each resource fails at preview, nothing made.

Inputs that change between runs come from stack config, so the program itself never changes.
"""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ProjectFactory
from tests.unit.test_sshkey import ED25519, ED25519_FINGERPRINT, RSA, RSA_FINGERPRINT
from tests.vastai_cli import VastaiCli
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

API_KEY = "e2e-new-resources-key"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=1, seed=13) as emu:
        yield emu


def inventory(emulator: Emulator) -> dict[str, Any]:
    (account,) = emulator.inventory()
    return account


def vastai(emulator: Emulator, home: Path, *args: str) -> str:
    """Run the official client against the emulator (the out-of-band hand)."""
    env = {"PATH": os.environ.get("PATH", ""), "HOME": str(home), "VAST_URL": emulator.url}
    env["VASTAI_NO_UPDATE_CHECK"] = "1"
    with VastaiCli(env) as cli:
        result = cli.run("--url", emulator.url, "--api-key", API_KEY, *args, timeout=120)
    assert result.returncode == 0 and "Failed with error" not in result.stderr, result.stdout + result.stderr
    return result.stdout


def make_stack(
    local_backend: LocalBackend,
    make_project: ProjectFactory,
    emulator: Emulator,
    name: str,
    program: str,
    config: dict[str, str],
) -> Stack:
    return local_backend.stack(
        make_project(name, program),
        config={"vast:apiUrl": emulator.url, **{f"{name}:{k}": v for k, v in config.items()}},
        secrets={"vast:apiKey": API_KEY},
    )


def up_ops(stack: Stack) -> dict[str, list[str]]:
    """``pulumi up``, and op -> resource names of the steps it carried out, without unchanged
    resources and the stack."""
    by_op: dict[str, list[str]] = {}
    for step in stack.up_steps():
        urn = str(step["urn"])
        if step["op"] != "same" and "pulumi:pulumi:Stack" not in urn:
            by_op.setdefault(str(step["op"]), []).append(urn.rsplit("::", 1)[-1])
    return {op: sorted(names) for op, names in by_op.items()}


def in_state(stack: Stack, type_name: str) -> list[dict[str, Any]]:
    return [r for r in stack.resources() if r["type"] == f"pulumi-python:dynamic/vast:{type_name}"]


# -- Template ---------------------------------------------------------------------------------------------

TEMPLATE_PROGRAM = """
import pulumi
from vast_pulumi import Endpoint, Instance, Template, Workergroup

config = pulumi.Config()
template = Template(
    "worker",
    image="vllm/vllm-openai",
    tag="latest",
    env={"MODEL": "Qwen3-8B"},
    ports=["8000"],
    onstart=config.require("onstart"),
    extra_filters="gpu_ram>=24 num_gpus=1",
    disk=64,
)
if config.require_bool("withGroup"):
    endpoint = Endpoint("ep", max_workers=2, cold_workers=0)
    Workergroup("wg", endpoint_id=endpoint.id, template_hash=template.hash_id)
    box = Instance("box", offer_query="gpu_ram>=24 num_gpus=1", template_hash_id=template.hash_id, disk=64)
    pulumi.export("box_id", box.id)
pulumi.export("hash_id", template.hash_id)
pulumi.export("template_id", template.template_id)
"""


def test_template_edit_updates_it_and_its_workergroup_in_place_then_lifecycle(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator, tmp_path: Path
) -> None:
    stack = make_stack(
        local_backend,
        make_project,
        emulator,
        "tmpl",
        TEMPLATE_PROGRAM,
        {"onstart": "bash start.sh", "withGroup": "true"},
    )
    stack.up()
    first = stack.outputs()
    (row,) = inventory(emulator)["templates"]
    assert (row["id"], row["hash_id"]) == (first["template_id"], first["hash_id"])
    (group,) = inventory(emulator)["workergroups"]
    assert group["template_hash"] == first["hash_id"]
    stack.preview("--expect-no-changes")

    # An edit: one update of the template, one of each resource that uses its hash, no replacement.
    stack.set_config("tmpl:onstart", "bash start.sh --warm")
    assert up_ops(stack) == {"update": ["box", "wg", "worker"]}
    edited = stack.outputs()
    assert edited["template_id"] == first["template_id"]
    assert edited["hash_id"] != first["hash_id"]
    assert edited["box_id"] == first["box_id"]  # the same machine, its container recreated
    (group,) = inventory(emulator)["workergroups"]
    assert group["template_hash"] == edited["hash_id"]
    boxes = [row for row in inventory(emulator)["instances"] if str(row["id"]) == edited["box_id"]]
    assert [row["template_hash_id"] for row in boxes] == [edited["hash_id"]]
    stack.preview("--expect-no-changes")

    # Every template input updates in place: there is no replacement to show. Out-of-band delete:
    stack.set_config("tmpl:withGroup", "false")
    stack.up()
    vastai(emulator, tmp_path, "delete", "template", "--template-id", str(edited["template_id"]))
    assert inventory(emulator)["templates"] == []
    stack.refresh()
    assert in_state(stack, "Template") == []
    stack.up()
    (remade,) = inventory(emulator)["templates"]
    assert remade["onstart"] == "bash start.sh --warm"

    stack.destroy()
    left = inventory(emulator)
    assert (left["templates"], left["endpoints"], left["workergroups"], left["instances"]) == ([], [], [], [])


IN_USE_PROGRAM = """
import pulumi
from vast_pulumi import Endpoint, Template, Workergroup

config = pulumi.Config()
endpoint = Endpoint("ep", max_workers=2, cold_workers=0)
if config.get("hash") is None:
    template = Template("worker", image="vllm/vllm-openai")
    Workergroup("wg", endpoint_id=endpoint.id, template_hash=template.hash_id)
    pulumi.export("hash_id", template.hash_id)
else:  # the template is gone from the program; the group still names its hash
    Workergroup("wg", endpoint_id=endpoint.id, template_hash=config.get("hash"))
"""


def test_deleting_a_template_a_live_workergroup_uses_fails_clearly_and_keeps_it(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator
) -> None:
    stack = make_stack(local_backend, make_project, emulator, "inuse", IN_USE_PROGRAM, {})
    stack.up()
    hash_id = stack.outputs()["hash_id"]
    stack.set_config("inuse:hash", hash_id)
    result = stack.up(check=False)
    assert result.returncode != 0
    (group,) = inventory(emulator)["workergroups"]
    (template,) = inventory(emulator)["templates"]
    assert f"template {template['id']} is still used by workergroup(s) {group['id']}" in result.stdout
    assert "Traceback" not in result.stdout
    assert len(in_state(stack, "Template")) == 1  # the stack keeps what it could not delete


# -- SshKey -------------------------------------------------------------------------------------------------

SSH_PROGRAM = """
import pulumi
from vast_pulumi import SshKey

key = SshKey("laptop", public_key=pulumi.Config().require("publicKey"))
pulumi.export("key_id", key.key_id)
pulumi.export("fingerprint", key.fingerprint)
"""


def test_ssh_key_lifecycle(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator, tmp_path: Path
) -> None:
    stack = make_stack(local_backend, make_project, emulator, "keys", SSH_PROGRAM, {"publicKey": ED25519})
    stack.up()
    outputs = stack.outputs()
    (row,) = inventory(emulator)["ssh_keys"]
    assert (row["id"], outputs["fingerprint"]) == (outputs["key_id"], ED25519_FINGERPRINT)
    assert row["key"].startswith(ED25519 + " vast-pulumi:")
    stack.preview("--expect-no-changes")

    # A new key updates the account key in place (public_key is the only input: no replacement applies).
    stack.set_config("keys:publicKey", RSA)
    assert up_ops(stack) == {"update": ["laptop"]}
    (row,) = inventory(emulator)["ssh_keys"]
    assert row["id"] == outputs["key_id"] and row["key"].startswith(RSA)
    assert stack.outputs()["fingerprint"] == RSA_FINGERPRINT

    vastai(emulator, tmp_path, "delete", "ssh-key", str(outputs["key_id"]))
    stack.refresh()
    assert in_state(stack, "SshKey") == []
    stack.up()
    (row,) = inventory(emulator)["ssh_keys"]
    assert row["key"].startswith(RSA)

    stack.destroy()
    assert inventory(emulator)["ssh_keys"] == []


# -- EnvVar -------------------------------------------------------------------------------------------------

ENV_PROGRAM = """
import pulumi
from vast_pulumi import EnvVar

config = pulumi.Config()
token = EnvVar("token", name=config.require("name"), value=config.require_secret("token"))
pulumi.export("name", token.name)
"""


def env_vars(emulator: Emulator) -> dict[str, str]:
    return dict(emulator.backend.authenticate(API_KEY).env_vars)


def test_env_var_lifecycle(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator, tmp_path: Path
) -> None:
    stack = make_stack(local_backend, make_project, emulator, "envs", ENV_PROGRAM, {"name": "hf_token"})
    stack.set_config("envs:token", "first-token-1", secret=True)
    stack.up()
    assert env_vars(emulator) == {"HF_TOKEN": "first-token-1"}
    assert stack.outputs()["name"] == "HF_TOKEN"
    stack.preview("--expect-no-changes")

    stack.set_config("envs:token", "second-token-2", secret=True)
    assert up_ops(stack) == {"update": ["token"]}
    assert env_vars(emulator) == {"HF_TOKEN": "second-token-2"}

    stack.set_config("envs:name", "MODEL_TOKEN")
    assert "replace" in up_ops(stack)
    assert env_vars(emulator) == {"MODEL_TOKEN": "second-token-2"}

    vastai(emulator, tmp_path, "delete", "env-var", "MODEL_TOKEN")
    stack.refresh()
    assert in_state(stack, "EnvVar") == []
    stack.up()
    assert env_vars(emulator) == {"MODEL_TOKEN": "second-token-2"}

    stack.destroy()
    assert env_vars(emulator) == {}


# -- Volume -------------------------------------------------------------------------------------------------

VOLUME_PROGRAM = """
import pulumi
from vast_pulumi import Volume

config = pulumi.Config()
data = Volume(
    "data", size=config.require_int("size"), offer_query="reliability>0.9", order=config.require("order")
)
pulumi.export("volume_id", data.volume_id)
"""


def test_volume_lifecycle(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator, tmp_path: Path
) -> None:
    config = {"size": "20", "order": "storage_cost"}
    stack = make_stack(local_backend, make_project, emulator, "vols", VOLUME_PROGRAM, config)
    stack.up()
    (row,) = inventory(emulator)["volumes"]
    assert row["id"] == stack.outputs()["volume_id"] and row["disk_space"] == 20.0
    assert re.fullmatch(r"data_[0-9a-f]{8}", row["label"])
    stack.preview("--expect-no-changes")

    stack.set_config("vols:order", "-reliability")  # only matters to a create: in place, no API write
    assert up_ops(stack) == {"update": ["data"]}
    assert [v["id"] for v in inventory(emulator)["volumes"]] == [row["id"]]

    stack.set_config("vols:size", "30")
    assert "replace" in up_ops(stack)
    (bigger,) = inventory(emulator)["volumes"]
    assert bigger["id"] != row["id"] and bigger["disk_space"] == 30.0

    vastai(emulator, tmp_path, "delete", "volume", str(bigger["id"]))
    stack.refresh()
    assert in_state(stack, "Volume") == []
    stack.up()
    (again,) = inventory(emulator)["volumes"]
    assert again["disk_space"] == 30.0

    stack.destroy()
    assert inventory(emulator)["volumes"] == []


MOUNT_PROGRAM = """
import pulumi
from vast_pulumi import Instance, SshKey, Volume

data = Volume("data", size=20, offer_query="reliability>0.9")
key = SshKey("key", public_key=pulumi.Config().require("publicKey"))
# A local volume mounts only on its own machine: the offer search is pinned there, so the query asks
# only for what that machine may have.
box = Instance(
    "box",
    offer_query="num_gpus>=1",
    image="pytorch/pytorch",
    volume_info={"volume_id": data.volume_id, "mount_path": "/data"},
    ssh_key_ids=[key.key_id],
)
pulumi.export("box_id", box.id)
pulumi.export("volume_id", data.volume_id)
"""


def test_an_instance_mounts_the_stacks_volume_with_its_key_and_destroy_leaves_neither(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator
) -> None:
    stack = make_stack(local_backend, make_project, emulator, "mount", MOUNT_PROGRAM, {"publicKey": ED25519})
    stack.up()
    outputs = stack.outputs()
    (box,) = inventory(emulator)["instances"]
    assert str(box["id"]) == outputs["box_id"]
    assert [(v["id"], v["mount_path"]) for v in box["volume_info"]] == [(outputs["volume_id"], "/data")]
    instance = emulator.backend.authenticate(API_KEY).instances[int(outputs["box_id"])]
    assert [k["public_key"].split()[:2] for k in instance.ssh_keys] == [ED25519.split()[:2]]
    stack.preview("--expect-no-changes")
    stack.destroy()  # the instance goes first: a volume in use cannot be deleted
    left = inventory(emulator)
    assert (left["instances"], left["volumes"], left["ssh_keys"]) == ([], [], [])


LOOKUP_PROGRAM = """
import pulumi
from vast_pulumi import get_instances, get_templates, get_user, get_volume_offers

user = get_user()
pulumi.export("account", user.id)
pulumi.export("credit", user.credit)
pulumi.export("templates", len(get_templates("name=anything")))
pulumi.export("instances", len(get_instances(label="dev")))
pulumi.export("cheapest_volume_cost", get_volume_offers("reliability>0.9", size=100)[0]["storage_cost"])
"""


def test_lookups_answer_at_preview(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator
) -> None:
    stack = make_stack(local_backend, make_project, emulator, "lookups", LOOKUP_PROGRAM, {})
    before = len(emulator.request_log())
    printed = stack.preview().stdout
    account = emulator.backend.authenticate(API_KEY)
    cheapest = min(
        o["storage_cost"]
        for o in emulator.backend.state.volume_offers.values()
        if o["reliability"] > 0.9 and o["disk_space"] >= 100 and o["verified"] and not o["external"]
    )
    assert re.search(rf"account\s*:\s*{account.user_id}\b", printed), printed
    assert re.search(rf"cheapest_volume_cost\s*:\s*{cheapest}\b", printed), printed
    routes = {(r["method"], r["route"]) for r in emulator.request_log()[before:]}
    assert ("POST", "/api/v0/volumes/search/") in routes and ("GET", "/api/v0/template/") in routes


# -- bad input, at preview ----------------------------------------------------------------------------------

BAD_INPUT = [
    ("template", "Template('t', image='vllm/vllm-openai', ports=['80000'])", "ports", "must be a port"),
    ("sshkey", "SshKey('k', public_key='ssh-ed25519 not-base64!')", "public_key", "not base64"),
    ("envvar", "EnvVar('e', name='HF_TOKEN', value='has spaces SEEDED')", "value", "only letters"),
    ("volume", "Volume('v', size=10, offer_query='gpu_name=RTX_4090')", "offer_query", "not a volume offer"),
]


@pytest.mark.parametrize(
    ("expression", "field", "rule"), [c[1:] for c in BAD_INPUT], ids=[c[0] for c in BAD_INPUT]
)
def test_bad_input_fails_at_preview_naming_field_and_rule_with_nothing_made(
    local_backend: LocalBackend,
    make_project: ProjectFactory,
    emulator: Emulator,
    expression: str,
    field: str,
    rule: str,
) -> None:
    program = f"""
        from vast_pulumi import EnvVar, SshKey, Template, Volume

        {expression}
    """
    stack = make_stack(local_backend, make_project, emulator, "bad", textwrap.dedent(program), {})
    before = len(emulator.request_log())
    result = stack.preview(check=False)
    assert result.returncode != 0, result.stdout
    assert re.search(rf"property {field} value .* has a problem: {field}: [^\n]*{rule}", result.stdout), (
        result.stdout
    )
    assert "SEEDED" not in result.stdout and "Traceback" not in result.stdout
    writes = [r for r in emulator.request_log()[before:] if r["method"] in {"POST", "PUT", "DELETE"}]
    assert writes == []
