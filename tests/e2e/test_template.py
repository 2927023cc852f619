"""A Template through the real CLI against the emulator: up, a no-change preview, an edit that is one
update of the template and one of its workergroup and instance (no replacement; the group's row carries
the new hash), an out-of-band delete then refresh and re-up, a destroy that leaves nothing; and a delete
refused while a live workergroup uses it."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import ProjectFactory
from tests.e2e.lifecycle import (
    bad_input_fails_at_preview,
    emulator,
    in_state,
    inventory,
    make_stack,
    up_ops,
    vastai,
)
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

__all__ = ["emulator"]  # the fixture, imported


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

    stack.preview("--expect-no-changes")  # the re-made object is what the program says
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


def test_bad_input_fails_at_preview_naming_field_and_rule_with_nothing_made(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator
) -> None:
    bad_input_fails_at_preview(
        local_backend,
        make_project,
        emulator,
        "Template('t', image='vllm/vllm-openai', ports=['80000'])",
        "ports",
        "must be a port",
    )
