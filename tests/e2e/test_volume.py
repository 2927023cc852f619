"""A Volume through the real CLI against the emulator: an Instance that mounts the stack's volume with its
SSH key, and bad input refused at preview. Its lifecycle (up, a replacement by a new size, an
out-of-band delete then refresh and re-up, destroy) runs with the other account resources' in
tests/e2e/test_account_resources_lifecycle.py."""

from __future__ import annotations

from tests.e2e.conftest import ProjectFactory
from tests.e2e.lifecycle import (
    API_KEY,
    BadInputCheck,
    bad_input_fails_at_preview,
    emulator,
    inventory,
    make_stack,
)
from tests.unit.test_sshkey import ED25519
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

__all__ = ["bad_input_fails_at_preview", "emulator"]  # the fixtures, imported


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
    outputs = stack.state_outputs()
    (box,) = inventory(emulator)["instances"]
    assert str(box["id"]) == outputs["box_id"]
    assert [(v["id"], v["mount_path"]) for v in box["volume_info"]] == [(outputs["volume_id"], "/data")]
    instance = emulator.backend.authenticate(API_KEY).instances[int(outputs["box_id"])]
    assert [k["public_key"].split()[:2] for k in instance.ssh_keys] == [ED25519.split()[:2]]
    stack.preview("--expect-no-changes")
    stack.destroy()  # the instance goes first: a volume in use cannot be deleted
    left = inventory(emulator)
    assert (left["instances"], left["volumes"], left["ssh_keys"]) == ([], [], [])


def test_bad_input_fails_at_preview_naming_field_and_rule_with_nothing_made(
    bad_input_fails_at_preview: BadInputCheck,
) -> None:
    bad_input_fails_at_preview(
        "Volume('v', size=10, offer_query='gpu_name=RTX_4090')", "offer_query", "not a volume offer"
    )
