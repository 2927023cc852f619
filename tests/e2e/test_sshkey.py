"""An SshKey through the real CLI against the emulator: up, a no-change preview, an in-place update, an
out-of-band delete with the official client then refresh and re-up, a destroy that leaves nothing."""

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
from tests.unit.test_sshkey import ED25519, ED25519_FINGERPRINT, RSA, RSA_FINGERPRINT
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

__all__ = ["emulator"]  # the fixture, imported


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

    stack.preview("--expect-no-changes")  # the re-made object is what the program says
    stack.destroy()
    assert inventory(emulator)["ssh_keys"] == []


def test_bad_input_fails_at_preview_naming_field_and_rule_with_nothing_made(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator
) -> None:
    bad_input_fails_at_preview(
        local_backend,
        make_project,
        emulator,
        "SshKey('k', public_key='ssh-ed25519 not-base64!')",
        "public_key",
        "not base64",
    )
