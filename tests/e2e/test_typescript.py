"""Issue 25: a TypeScript program through the provider plugin, with the real CLI and Node.js host.

The SDK is generated from the committed schema by Pulumi's own Node.js code generator
(``gen-nodejs-sdk``, built by ``make setup``), compiled with ``tsc``, and used by
``examples/typescript``; the language host is ``pulumi-language-nodejs`` from sdk/v3@v3.68.0.
npm packages come from the registry (``npm install --prefer-offline``: a warm cache needs no network).
"""

from __future__ import annotations

import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, toolchain_path
from vast_pulumi.plugin.schema import SCHEMA_PATH

API_KEY = "e2e-typescript-key"
EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "typescript"


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=0.5, seed=26) as emu:
        yield emu


def _run(argv: list[str], cwd: Path) -> None:
    tool = shutil.which(argv[0], path=toolchain_path())
    assert tool is not None, f"{argv[0]} is not on PATH: run `make setup`"
    result = subprocess.run([tool, *argv[1:]], cwd=cwd, capture_output=True, text=True, check=False)
    assert result.returncode == 0, f"{' '.join(argv)} failed:\n{result.stdout}\n{result.stderr}"


def _typescript_project(root: Path) -> Path:
    """The example with its generated, compiled SDK linked in as ``@vast-pulumi/vast``."""
    project = root / "typescript"
    shutil.copytree(EXAMPLE, project)
    _run(["gen-nodejs-sdk", str(SCHEMA_PATH), str(project / "sdk")], project)
    _run(["npm", "install", "--no-audit", "--no-fund", "--prefer-offline"], project)
    _run([str(project / "node_modules" / ".bin" / "tsc"), "-p", "sdk"], project)  # the SDK, to sdk/bin
    shutil.copy(project / "sdk" / "package.json", project / "sdk" / "bin" / "package.json")
    scope = project / "node_modules" / "@vast-pulumi"
    scope.mkdir()
    (scope / "vast").symlink_to(project / "sdk" / "bin", target_is_directory=True)
    return project


def test_a_typescript_program_ups_previews_clean_and_destroys_to_nothing(
    local_backend: LocalBackend, emulator: Emulator, tmp_path: Path
) -> None:
    project = _typescript_project(tmp_path)
    config = {"vast:apiUrl": emulator.url}
    stack = local_backend.stack(project, "dev", config=config, secrets={"vast:apiKey": API_KEY})
    inventory = VastInventory(emulator.url, API_KEY)

    stack.up()
    outputs = stack.outputs()
    assert str(outputs["endpointName"]).startswith("inference-")
    assert {int(row["id"]) for row in inventory.instances()} == {int(outputs["instanceId"])}
    assert outputs["gpu"] == "RTX 4090"
    assert {r["type"] for r in stack.resources()} >= {"vast:index:Endpoint", "vast:index:Instance"}

    stack.preview("--expect-no-changes")

    stack.destroy("--yes")
    assert inventory.ids() == {"endpoints": set(), "workergroups": set(), "instances": set()}
