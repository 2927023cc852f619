"""A Template through the real CLI against the emulator, in what only a template has: a delete refused
while a live workergroup uses it, and bad input refused at preview. Its lifecycle (up, an edit that is
one update of the template and one of its workergroup and instance, an out-of-band delete then refresh
and re-up, destroy) runs with the other account resources' in
tests/e2e/test_account_resources_lifecycle.py."""

from __future__ import annotations

from tests.e2e.conftest import ProjectFactory, tracebacks_through_our_code
from tests.e2e.lifecycle import (
    BadInputCheck,
    bad_input_fails_at_preview,
    emulator,
    in_state,
    inventory,
    make_stack,
)
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

__all__ = ["bad_input_fails_at_preview", "emulator"]  # the fixtures, imported


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
    hash_id = stack.state_outputs()["hash_id"]
    stack.set_config("inuse:hash", hash_id)
    result = stack.up(check=False)
    assert result.returncode != 0
    (group,) = inventory(emulator)["workergroups"]
    (template,) = inventory(emulator)["templates"]
    assert f"template {template['id']} is still used by workergroup(s) {group['id']}" in result.stdout
    assert tracebacks_through_our_code(result.stdout) == []
    assert len(in_state(stack, "Template")) == 1  # the stack keeps what it could not delete


def test_bad_input_fails_at_preview_naming_field_and_rule_with_nothing_made(
    bad_input_fails_at_preview: BadInputCheck,
) -> None:
    bad_input_fails_at_preview(
        "Template('t', image='vllm/vllm-openai', ports=['80000'])", "ports", "must be a port"
    )
