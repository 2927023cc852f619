"""The Pulumi toolchain that `make setup` provides is complete and pinned to the Python SDK."""

from __future__ import annotations

import importlib.metadata
import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from vast_pulumi import local_pulumi
from vast_pulumi.local_pulumi import LocalBackend, PulumiNotFoundError, toolchain_path

TOOLS = ["pulumi", "pulumi-language-python", "pulumi-language-python-exec", "pulumi-resource-pulumi-python"]


@pytest.mark.parametrize("tool", TOOLS)
def test_toolchain_tool_is_installed_and_executable(tool: str) -> None:
    found = shutil.which(tool, path=toolchain_path())
    assert found is not None, f"{tool} missing; run `make setup`"
    assert os.access(found, os.X_OK)


def test_cli_version_matches_the_installed_python_sdk() -> None:
    pulumi = local_pulumi.find_pulumi()
    printed = subprocess.run([pulumi, "version"], capture_output=True, text=True, check=True).stdout.strip()
    assert printed == "v" + importlib.metadata.version("pulumi")


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
    stack.destroy()
