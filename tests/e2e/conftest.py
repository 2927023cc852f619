"""The end-to-end harness: the real Pulumi CLI, a throw-away local backend, the Vast emulator.

Every test in this directory is marked ``e2e``. A test asks for ``local_backend`` (and usually
``vast_emulator``) and writes or points at a Pulumi project; see ``make_project``.

The emulators here are started with ``destroy_seconds=FAST_DESTROY_SECONDS``: a destroyed instance
stays listed for 0.5 s instead of the real API's ~5 s, so every destroy still has to wait until the
API no longer lists what it deleted, without spending minutes of the suite on it.
``test_destroy.py``'s first test keeps the real default.
"""

from __future__ import annotations

import os
import re
import shutil
import textwrap
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from vast_pulumi._workers import LATE_RECRUIT_ENV
from vast_pulumi.emulator.readings import PESSIMISTIC, ambient_profile
from vast_pulumi.local_pulumi import LocalBackend, PulumiNotFoundError, SecretSeals, Stack

if TYPE_CHECKING:
    from vast_pulumi.emulator import Emulator

REPO_ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = REPO_ROOT / "examples"


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    here = Path(__file__).parent
    for item in items:
        if here in Path(str(item.fspath)).parents:
            item.add_marker(pytest.mark.e2e)


def backend_or_fail(root: Path, seals: SecretSeals | None = None) -> LocalBackend:
    """An isolated PULUMI_HOME and file:// backend under ``root``. Fails (never skips) without the
    engine, with the hint to run `make setup`."""
    try:
        backend = LocalBackend(root) if seals is None else LocalBackend(root, seals=seals)
        # A workergroup's delete looks for late recruits for a second, not the 30 s a real autoscaler's
        # lag needs: the emulator recruits synchronously under the default profile. Under pessimistic
        # (worker_recruit=late) a rent lands 5 s after the decision on the emulator's clock: 8 s cover it.
        backend.extra_env[LATE_RECRUIT_ENV] = "8" if ambient_profile() == PESSIMISTIC else "1"
        return backend
    except PulumiNotFoundError as exc:
        missing = str(exc)  # fail outside the handler, so the message is shown once
    pytest.fail(missing, pytrace=False)


OUR_FRAME = re.compile(r'File "[^"]*[/\\]vast_pulumi[/\\]')


def tracebacks_through_our_code(output: str) -> list[str]:
    """The Python tracebacks in a command's output that pass through vast_pulumi's code.

    A command that runs the program (preview, up, refresh --run-program) and fails a resource's step
    ends the deployment while the program may still be registering other resources; the Pulumi SDK's
    program process then sometimes prints its own traceback (the resource monitor shut down, then
    the language host's interrupt, in the SDK's and gRPC's frames only: seen in `test_bad_input` in a
    fresh-clone run, and in the foreign-key refresh of `test_money_safety` under the pessimistic
    readings). That one is the engine's shutdown race, not our failure; a traceback with a frame of
    ours is ours, and fails the tests that call this."""
    blocks = output.split("Traceback (most recent call last):")[1:]
    return [block for block in blocks if OUR_FRAME.search(block)]


@pytest.fixture(scope="session")
def shared_seals(tmp_path_factory: pytest.TempPathFactory) -> SecretSeals:
    """The secrets every worker's stacks have sealed, kept in this run's temporary root (which
    pytest-xdist's workers share): each distinct secret costs one `pulumi config set --secret` per
    run, not one per worker."""
    run_root = tmp_path_factory.getbasetemp()
    under_xdist = "PYTEST_XDIST_WORKER" in os.environ  # not its worker_id fixture: absent with -p no:xdist
    directory = (run_root.parent if under_xdist else run_root) / "sealed-secrets"
    directory.mkdir(exist_ok=True)
    return SecretSeals(directory)


@pytest.fixture
def local_backend(tmp_path: Path, shared_seals: SecretSeals) -> LocalBackend:
    return backend_or_fail(tmp_path / "pulumi", shared_seals)


def emulator_stack(
    backend: LocalBackend,
    project: Path,
    emulator: Emulator,
    api_key: str,
    name: str = "dev",
    config: Mapping[str, str] | None = None,
) -> Stack:
    """Stack ``name`` of ``project`` against ``emulator``: its URL and ``config`` in the stack's config,
    ``api_key`` as the secret ``vast:apiKey``."""
    return backend.stack(
        project,
        name,
        config={"vast:apiUrl": emulator.url, **(config or {})},
        secrets={"vast:apiKey": api_key},
    )


def copy_example(name: str, tmp_path: Path) -> Path:
    """A copy of ``examples/<name>`` (without a virtualenv) the test may run and edit."""
    return Path(shutil.copytree(EXAMPLES / name, tmp_path / name, ignore=shutil.ignore_patterns(".venv")))


ProjectFactory = Callable[[str, str], Path]


@pytest.fixture
def make_project(tmp_path: Path) -> ProjectFactory:
    """Write a one-file Pulumi Python project; returns its directory."""

    def make(name: str, program: str) -> Path:
        project_dir = tmp_path / name
        project_dir.mkdir()
        (project_dir / "Pulumi.yaml").write_text(f"name: {name}\nruntime: python\n")
        (project_dir / "__main__.py").write_text(textwrap.dedent(program))
        return project_dir

    return make
