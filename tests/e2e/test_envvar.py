"""An EnvVar through the real CLI against the emulator: up, a no-change preview, an in-place update, a
replacement (a new name), an out-of-band delete then refresh and re-up, a destroy that leaves nothing."""

from __future__ import annotations

from pathlib import Path

from tests.e2e.conftest import ProjectFactory
from tests.e2e.lifecycle import (
    API_KEY,
    bad_input_fails_at_preview,
    emulator,
    in_state,
    make_stack,
    up_ops,
    vastai,
)
from vast_pulumi.emulator import Emulator
from vast_pulumi.local_pulumi import LocalBackend

__all__ = ["emulator"]  # the fixture, imported


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

    stack.preview("--expect-no-changes")  # the re-made object is what the program says
    stack.destroy()
    assert env_vars(emulator) == {}


def test_bad_input_fails_at_preview_naming_field_and_rule_with_nothing_made(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator
) -> None:
    bad_input_fails_at_preview(
        local_backend,
        make_project,
        emulator,
        "EnvVar('e', name='HF_TOKEN', value='has spaces SEEDED')",
        "value",
        "only letters",
    )
