"""The account resources (Template, EnvVar, SshKey, Volume) through the real CLI against the emulator,
all four on one stack, so each phase is one CLI run for the four:

* ``up`` makes each, as its outputs and the API's rows say; a preview plans no change;
* an update in place of each that has one: a template edit is one update of the template and one of
  each resource that uses its hash (its workergroup and instance; no replacement, the group's row
  carries the new hash), an env var's new value and an SSH key's new key update them, and a volume's
  ``order`` (which only matters to a create) does nothing; a preview plans no change;
* a replacement of each that has one: an env var's new name, a volume's new size (every template and
  SSH key input updates in place: they have no replacement to show);
* an out-of-band delete of each with the official client, then ``refresh`` forgets them and ``up``
  re-makes them as the program says (a preview plans no change);
* ``destroy`` leaves nothing.

What only one of them has (bad input refused at preview, a template in use, a volume mounted by an
instance) is in tests/e2e/test_<resource>.py.
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from tests.e2e.conftest import ProjectFactory
from tests.e2e.lifecycle import (
    API_KEY,
    emulator,
    inventory,
    make_stack,
    refresh_forgets_deleted,
    up_ops,
)
from tests.unit.test_sshkey import ED25519, ED25519_FINGERPRINT, RSA, RSA_FINGERPRINT
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend, Stack

__all__ = ["emulator"]  # the fixture, imported

PROGRAM = """
import pulumi
from vast_pulumi import Endpoint, EnvVar, Instance, SshKey, Template, Volume, Workergroup

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

token = EnvVar("token", name=config.require("name"), value=config.require_secret("token"))
pulumi.export("name", token.name)

key = SshKey("laptop", public_key=config.require("publicKey"))
pulumi.export("key_id", key.key_id)
pulumi.export("fingerprint", key.fingerprint)

data = Volume(
    "data", size=config.require_int("size"), offer_query="reliability>0.9", order=config.require("order")
)
pulumi.export("volume_id", data.volume_id)
"""
CONFIG = {
    "onstart": "bash start.sh",
    "withGroup": "true",
    "name": "hf_token",
    "publicKey": ED25519,
    "size": "20",
    "order": "storage_cost",
}


def env_vars(emulator: Emulator) -> dict[str, str]:
    return dict(emulator.backend.authenticate(API_KEY).env_vars)


def test_template_env_var_ssh_key_and_volume_lifecycle(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator, tmp_path: Path
) -> None:
    stack = make_stack(local_backend, make_project, emulator, "account", PROGRAM, CONFIG)
    stack.set_config("account:token", "first-token-1", secret=True)
    stack.up()
    first = made(stack, emulator)
    stack.preview("--expect-no-changes")

    edited = updated_in_place(stack, emulator, first)
    stack.preview("--expect-no-changes")

    bigger = replaced(stack, emulator, first)

    # Out-of-band deletes of all four; the template first loses its workergroup (the API refuses to
    # delete a template a live group uses: tests/e2e/test_template.py).
    refresh_forgets_deleted(
        stack,
        emulator,
        tmp_path,
        {
            "Template": ["template", "--template-id", str(edited["template_id"])],
            "EnvVar": ["env-var", "MODEL_TOKEN"],
            "SshKey": ["ssh-key", str(first["key_id"])],
            "Volume": ["volume", str(bigger["id"])],
        },
    )
    left = inventory(emulator)
    assert (left["templates"], env_vars(emulator), left["ssh_keys"], left["volumes"]) == ([], {}, [], [])
    remade(stack, emulator)

    stack.preview("--expect-no-changes")  # the re-made objects are what the program says
    stack.destroy()
    left = inventory(emulator)
    assert (left["templates"], left["endpoints"], left["workergroups"], left["instances"]) == ([], [], [], [])
    assert (env_vars(emulator), left["ssh_keys"], left["volumes"]) == ({}, [], [])


def made(stack: Stack, emulator: Emulator) -> dict[str, Any]:
    """After the first ``up``: each resource's row is what its outputs say. Returns the outputs."""
    first = stack.state_outputs()
    account = inventory(emulator)
    (template,) = account["templates"]
    assert (template["id"], template["hash_id"]) == (first["template_id"], first["hash_id"])
    (group,) = account["workergroups"]
    assert group["template_hash"] == first["hash_id"]

    assert env_vars(emulator) == {"HF_TOKEN": "first-token-1"}
    assert first["name"] == "HF_TOKEN"

    (key,) = account["ssh_keys"]
    assert (key["id"], first["fingerprint"]) == (first["key_id"], ED25519_FINGERPRINT)
    assert key["key"].startswith(ED25519 + " vast-pulumi:")

    (volume,) = account["volumes"]
    assert volume["id"] == first["volume_id"] and volume["disk_space"] == 20.0
    assert re.fullmatch(r"data_[0-9a-f]{8}", volume["label"])
    return first


def updated_in_place(stack: Stack, emulator: Emulator, first: dict[str, Any]) -> dict[str, Any]:
    """One ``up`` of every in-place change: each is one update (the template's also of its group and
    instance), with no replacement; the volume's ``order`` only matters to a create: nothing to do.
    Returns the outputs."""
    stack.set_config("account:onstart", "bash start.sh --warm")
    stack.set_config("account:token", "second-token-2", secret=True)
    stack.set_config("account:publicKey", RSA)  # public_key is an SshKey's only input
    stack.set_config("account:order", "-reliability")
    assert up_ops(stack) == {"update": ["box", "laptop", "token", "wg", "worker"]}
    edited = stack.state_outputs()
    account = inventory(emulator)

    assert edited["template_id"] == first["template_id"]
    assert edited["hash_id"] != first["hash_id"]
    assert edited["box_id"] == first["box_id"]  # the same machine, its container recreated
    (group,) = account["workergroups"]
    assert group["template_hash"] == edited["hash_id"]
    boxes = [row for row in account["instances"] if str(row["id"]) == edited["box_id"]]
    assert [row["template_hash_id"] for row in boxes] == [edited["hash_id"]]

    assert env_vars(emulator) == {"HF_TOKEN": "second-token-2"}

    (key,) = account["ssh_keys"]
    assert key["id"] == first["key_id"] and key["key"].startswith(RSA)
    assert edited["fingerprint"] == RSA_FINGERPRINT

    assert [v["id"] for v in account["volumes"]] == [first["volume_id"]]
    return edited


def replaced(stack: Stack, emulator: Emulator, first: dict[str, Any]) -> dict[str, Any]:
    """One ``up`` that replaces the env var (a new name) and the volume (a new size), and drops the
    template's workergroup, endpoint and instance (so the template can be deleted out of band).
    Returns the new volume's row."""
    stack.set_config("account:name", "MODEL_TOKEN")
    stack.set_config("account:size", "30")
    stack.set_config("account:withGroup", "false")
    replacement = {op: ["data", "token"] for op in ("create-replacement", "replace", "delete-replaced")}
    assert up_ops(stack) == {**replacement, "delete": ["box", "ep", "wg"]}

    assert env_vars(emulator) == {"MODEL_TOKEN": "second-token-2"}
    (bigger,) = inventory(emulator)["volumes"]
    assert bigger["id"] != first["volume_id"] and bigger["disk_space"] == 30.0
    return dict(bigger)


def remade(stack: Stack, emulator: Emulator) -> None:
    """The ``up`` after the refresh makes each again, as the program says."""
    assert up_ops(stack) == {"create": ["data", "laptop", "token", "worker"]}
    account = inventory(emulator)
    (template,) = account["templates"]
    assert template["onstart"] == "bash start.sh --warm"
    assert env_vars(emulator) == {"MODEL_TOKEN": "second-token-2"}
    (key,) = account["ssh_keys"]
    assert key["key"].startswith(RSA)
    (volume,) = account["volumes"]
    assert volume["disk_space"] == 30.0
