"""What the account resources' end-to-end tests share (Template, SshKey, EnvVar, Volume: their one
lifecycle in tests/e2e/test_account_resources_lifecycle.py, their own cases in tests/e2e/
test_<resource>.py): one emulator per test, the official client as the out-of-band hand, a stack whose
changing inputs come from its config (the program itself never changes), and readers of what ``up``
did and what state holds."""

from __future__ import annotations

import os
import re
import textwrap
from collections.abc import Callable, Iterator, Mapping, Sequence
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.conftest import ProjectFactory, emulator_stack, tracebacks_through_our_code
from tests.vastai_cli import VastaiCli
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, Stack

__all__ = ["bad_input_fails_at_preview", "emulator"]  # fixtures: test modules import them

API_KEY = "e2e-resources-key"


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
    project_config = {f"{name}:{key}": value for key, value in config.items()}
    return emulator_stack(
        local_backend, make_project(name, program), emulator, API_KEY, config=project_config
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


def refresh_forgets_deleted(
    stack: Stack, emulator: Emulator, home: Path, deletes: Mapping[str, Sequence[str]]
) -> None:
    """For each ``type_name: args`` of ``deletes``, the official client runs ``delete *args`` behind the
    stack's back; then one ``pulumi refresh`` drops every one of those types from state."""
    for args in deletes.values():
        vastai(emulator, home, "delete", *args)
    stack.refresh()
    assert {type_name: in_state(stack, type_name) for type_name in deletes} == {name: [] for name in deletes}


BadInputCheck = Callable[[str, str, str], None]


@pytest.fixture
def bad_input_fails_at_preview(
    local_backend: LocalBackend, make_project: ProjectFactory, emulator: Emulator
) -> BadInputCheck:
    """``check(expression, field, rule)``: a program of one resource ``expression`` fails ``pulumi
    preview`` naming the field and the rule (never a value: each expression's secret part reads SEEDED),
    with no write reaching the API."""

    def check(expression: str, field: str, rule: str) -> None:
        program = f"""
            from vast_pulumi import EnvVar, SshKey, Template, Volume

            {expression}
        """
        stack = make_stack(local_backend, make_project, emulator, "bad", textwrap.dedent(program), {})
        before = len(emulator.request_log())
        result = stack.preview(check=False)
        assert result.returncode != 0, result.stdout
        problem = rf"resource '[\w-]+' has a problem: {field}: [^\n]*{rule}"
        assert re.search(problem, result.stdout), result.stdout
        assert "SEEDED" not in result.stdout
        assert tracebacks_through_our_code(result.stdout) == []
        writes = [r for r in emulator.request_log()[before:] if r["method"] in {"POST", "PUT", "DELETE"}]
        assert writes == []

    return check
