"""The Pulumi toolchain that `make setup` provides is complete, and its CLI is at least as new as the
Python SDK (the CLI speaks to older SDKs; PyPI may trail the Go module proxy)."""

from __future__ import annotations

import functools
import importlib.metadata
import json
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
import yaml  # type: ignore[import-untyped]  # installed with the Pulumi SDK

from vast_pulumi import local_pulumi
from vast_pulumi.local_pulumi import LocalBackend, PulumiNotFoundError, Stack, toolchain_path

TOOLS = [
    "pulumi",
    "pulumi-language-python",
    "pulumi-language-python-exec",
    "pulumi-resource-pulumi-python",
    "pulumi-resource-kubernetes",  # examples/multi-cloud; built by .ci/build-pulumi-kubernetes.sh
]


@pytest.mark.parametrize("tool", TOOLS)
def test_toolchain_tool_is_installed_and_executable(tool: str) -> None:
    found = shutil.which(tool, path=toolchain_path())
    assert found is not None, f"{tool} missing; run `make setup`"
    assert os.access(found, os.X_OK)


def version_tuple(version: str) -> tuple[int, ...]:
    """``"v3.276.0"`` -> ``(3, 276, 0)``; a pre-release suffix (``-alpha...``) is ignored."""
    return tuple(int(part) for part in version.lstrip("v").split("-", 1)[0].split("."))


def test_cli_is_at_least_as_new_as_the_installed_python_sdk() -> None:
    pulumi = local_pulumi.find_pulumi()
    printed = subprocess.run([pulumi, "version"], capture_output=True, text=True, check=True).stdout.strip()
    cli, sdk = version_tuple(printed), version_tuple(importlib.metadata.version("pulumi"))
    assert cli[0] == sdk[0], f"CLI {printed} and SDK {sdk} differ in major version"
    assert cli >= sdk, f"the CLI {printed} is older than the Python SDK {sdk}"


def test_version_tuples_compare_numerically() -> None:
    assert version_tuple("v3.276.0") > version_tuple("3.272.0") > version_tuple("3.99.9")
    assert version_tuple("v3.276.0-alpha.1") == (3, 276, 0)


def test_missing_engine_fails_with_the_setup_hint(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    empty = tmp_path / "empty-bin"
    empty.mkdir()
    monkeypatch.setattr(local_pulumi, "toolchain_path", lambda: str(empty))
    with pytest.raises(PulumiNotFoundError, match="make setup"):
        LocalBackend(tmp_path / "backend")


def test_program_runs_under_the_virtualenv_python(
    local_backend: LocalBackend, make_project: Callable[[str, str], Path]
) -> None:
    project = make_project(
        "pyprobe",
        """
        import sys
        import pulumi
        pulumi.export("python", sys.executable)
        """,
    )
    stack = local_backend.stack(project)
    stack.up()
    assert Path(stack.outputs()["python"]).parent == Path(sys.executable).parent


def test_a_kill_mid_write_cannot_leave_the_local_backend_unloadable(
    local_backend: LocalBackend, make_project: Callable[[str, str], Path]
) -> None:
    """The file backend rewrites each state file's ``.attrs`` sidecar in place, so a SIGKILL can leave
    it empty, and then nothing loads the stack ("failed to load checkpoint: EOF", seen in CI after
    test_resilience's kill). Our backend writes no sidecar; the default one shows why that matters."""
    project = make_project("sidecar", "import pulumi\n")
    stack = local_backend.stack(project)
    assert not list(local_backend.state_dir.rglob("*.attrs"))

    default_url = dict(local_backend.env(), PULUMI_BACKEND_URL=local_backend.state_dir.as_uri())
    run = functools.partial(
        subprocess.run, cwd=project, env=default_url, capture_output=True, text=True, check=False
    )
    run([local_backend.pulumi, "stack", "init", "sidecar", "--non-interactive"], check=True)
    sidecar = next(local_backend.state_dir.rglob("sidecar.json.attrs"))
    sidecar.write_text("")  # what a kill between its truncation and its write leaves
    export = run([local_backend.pulumi, "stack", "export", "--stack", "sidecar", "--non-interactive"])
    assert export.returncode != 0 and "failed to load checkpoint: EOF" in export.stderr
    assert stack.run("stack", "export").returncode == 0


def test_config_written_beside_the_cli_is_what_the_cli_reads(
    tmp_path: Path, make_project: Callable[[str, str], Path]
) -> None:
    """LocalBackend writes plain config itself and lets the CLI seal each secret once per salt: a
    second stack reuses the first one's salt and ciphertext. The CLI must read all of it back."""
    backend = LocalBackend(tmp_path / "pulumi", passphrase=f"only-this-test-{os.getpid()}-{tmp_path.name}")
    project = make_project("cfg", "import pulumi\n")
    config = {"cfg:plain": "a", "bare": "b"}
    first = backend.stack(project, "first", config=config, secrets={"vast:apiKey": "sealed-1"})
    second = backend.stack(project, "second", secrets={"vast:apiKey": "sealed-1", "token": "sealed-1"})

    def settings(stack: Stack) -> dict[str, Any]:
        loaded: dict[str, Any] = yaml.safe_load(stack.config_file.read_text())
        return loaded

    assert settings(second)["encryptionsalt"] == settings(first)["encryptionsalt"]
    assert settings(second)["config"]["vast:apiKey"] == settings(first)["config"]["vast:apiKey"]
    assert settings(second)["config"]["cfg:token"] == settings(first)["config"]["vast:apiKey"]

    def shown(stack: Stack) -> dict[str, Any]:
        printed = stack.run("config", "--json", "--show-secrets").stdout
        return {key: (item["value"], item["secret"]) for key, item in json.loads(printed).items()}

    assert shown(first) == {
        "cfg:plain": ("a", False),
        "cfg:bare": ("b", False),
        "vast:apiKey": ("sealed-1", True),
    }
    assert shown(second) == {"vast:apiKey": ("sealed-1", True), "cfg:token": ("sealed-1", True)}
