"""A user's install: the wheel built from this checkout, installed with its dependencies from PyPI
into a fresh virtualenv outside the repository, drives a program that lives outside the repository
against the emulator with the real Pulumi CLI (up, outputs, destroy). What the package forgets to
ship, or what only works from a checkout, fails here."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from tests.e2e.vast_api import VastInventory
from vast_pulumi.emulator import Emulator
from vast_pulumi.emulator.pytest_plugin import FAST_DESTROY_SECONDS
from vast_pulumi.local_pulumi import LocalBackend, find_pulumi

REPO_ROOT = Path(__file__).resolve().parents[2]
# The SDK the Makefile pins, so the user's install and the developer's match.
SDK = "pulumi==" + re.findall(r"^PULUMI_SDK_VERSION := (\S+)$", (REPO_ROOT / "Makefile").read_text(), re.M)[0]
API_KEY = "e2e-install-key"
PROGRAM = """
    import pulumi
    import vast_pulumi
    from vast_pulumi import Endpoint, Instance

    endpoint = Endpoint("inference", max_workers=2)
    box = Instance("box", offer_query="gpu_name=RTX_4090 num_gpus=1", image="pytorch/pytorch")
    pulumi.export("endpoint_id", endpoint.id)
    pulumi.export("ssh_port", box.ssh_port)
    pulumi.export("package", vast_pulumi.__file__)
"""


def outside_env() -> dict[str, str]:
    """Our environment without what points into the checkout (a PYTHONPATH to it would make pip
    count the checkout as installed, and the program import it)."""
    return {name: value for name, value in os.environ.items() if name not in ("PYTHONPATH", "VIRTUAL_ENV")}


def run(*argv: str | Path, cwd: Path) -> None:
    result = subprocess.run(
        [str(a) for a in argv], cwd=cwd, env=outside_env(), capture_output=True, text=True, check=False
    )
    assert result.returncode == 0, f"{argv}:\n{result.stdout}\n{result.stderr}"


def uv() -> Path:
    """The uv that `make setup` links next to this Python: it builds and installs in ~5 CPU-s what
    pip took ~25 for (resolving the same declared dependencies from PyPI)."""
    found = Path(sys.executable).parent / "uv"
    if not found.exists():
        pytest.fail(f"uv was not found next to {sys.executable}; run `make setup`", pytrace=False)
    return found


@pytest.fixture(scope="session")
def user_venv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A virtualenv with the wheel of this checkout and its dependencies, pip (which the Python
    language host runs), and nothing else."""
    root = tmp_path_factory.mktemp("user-install")
    # Built from a copy of what the package declares, so the build leaves nothing in the checkout
    # and stray files there cannot slip into the wheel.
    source = root / "source"
    source.mkdir()
    for name in ("pyproject.toml", "README.md"):
        shutil.copy(REPO_ROOT / name, source / name)
    shutil.copytree(
        REPO_ROOT / "vast_pulumi", source / "vast_pulumi", ignore=shutil.ignore_patterns("__pycache__")
    )
    build_tool = uv()
    wheels = root / "wheels"
    run(build_tool, "build", "--quiet", "--wheel", "--out-dir", wheels, source, cwd=root)
    (wheel,) = wheels.glob("vast_pulumi-*.whl")
    venv = root / "venv"
    run(build_tool, "venv", "--quiet", "--seed", "--python", sys.executable, venv, cwd=root)
    # Compiled up front, as pip does by default: else each Pulumi process compiles the SDK again.
    install: list[str | Path] = [
        "pip",
        "install",
        "--quiet",
        "--compile-bytecode",
        "--python",
        venv / "bin" / "python",
    ]
    run(build_tool, *install, f"{wheel}[emulator]", SDK, cwd=root)
    return venv


def test_the_installed_wheel_deploys_a_program_outside_the_repository(
    user_venv: Path, tmp_path: Path
) -> None:
    # The provider plugin is installed beside python (where Pulumi finds it on PATH), and GetSchema's
    # schema.json is in the wheel.
    assert (user_venv / "bin" / "pulumi-resource-vast").is_file()
    code = "import json, vast_pulumi.plugin.schema as s; print(json.load(open(s.SCHEMA_PATH))['name'])"
    shown = subprocess.run(
        [str(user_venv / "bin" / "python"), "-c", code], env=outside_env(), capture_output=True, text=True
    )
    assert shown.stdout.strip() == "vast", shown.stderr

    project = tmp_path / "user-project"
    project.mkdir()
    (project / "Pulumi.yaml").write_text("name: user-project\nruntime: python\n")
    (project / "__main__.py").write_text(textwrap.dedent(PROGRAM))
    backend = LocalBackend(tmp_path / "pulumi")
    engine_dir = Path(find_pulumi()).resolve().parent
    # The user's virtualenv first: the language host and the provider run `python3` from PATH.
    backend.extra_env.update(
        PATH=os.pathsep.join([str(user_venv / "bin"), str(engine_dir), "/usr/bin", "/bin"]),
        PYTHONPATH="",
        VIRTUAL_ENV=str(user_venv),
    )
    with Emulator(
        destroy_seconds=FAST_DESTROY_SECONDS, api_keys=[API_KEY], boot_seconds=0.5, seed=12
    ) as emulator:
        stack = backend.stack(
            project, "dev", config={"vast:apiUrl": emulator.url}, secrets={"vast:apiKey": API_KEY}
        )
        stack.up()
        outputs = stack.outputs()
        assert Path(outputs["package"]).is_relative_to(user_venv), outputs["package"]
        inventory = VastInventory(emulator.url, API_KEY)
        assert inventory.ids()["endpoints"] == {int(outputs["endpoint_id"])}
        assert isinstance(outputs["ssh_port"], int)
        stack.destroy()
        assert inventory.ids() == {"endpoints": set(), "workergroups": set(), "instances": set()}
