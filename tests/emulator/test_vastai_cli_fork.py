"""The forked official CLI (``tests.vastai_cli``) answers as the ``vastai`` console script does: same
exit status, stdout and stderr for a success, an API error and a usage error, and a command past its
timeout is killed without taking the server with it."""

from __future__ import annotations

import os
import socket
import subprocess
from collections.abc import Iterator

import pytest

from tests.vastai_cli import VASTAI, VastaiCli, exit_status
from vast_pulumi.emulator import Emulator

KEY = "fork-key"


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(api_keys=[KEY], seed=3) as emu:
        yield emu


@pytest.fixture(scope="module")
def env(emulator: Emulator, tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    home = tmp_path_factory.mktemp("home")
    return {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "VAST_URL": emulator.url,
        "VASTAI_NO_UPDATE_CHECK": "1",
    }


@pytest.fixture(scope="module")
def forked(env: dict[str, str]) -> Iterator[VastaiCli]:
    with VastaiCli(env) as cli:
        yield cli


@pytest.mark.parametrize(
    ("args", "returncode"),
    [
        (["--api-key", KEY, "search", "offers", "num_gpus=1", "--limit", "2", "--raw"], 0),
        (["--api-key", "not-a-key", "show", "instances"], 0),  # prints the 401 to stderr, exits 0
        (["--api-key", KEY, "show", "instance", "not-a-number"], 2),  # argparse's usage error
    ],
)
def test_a_forked_command_answers_as_the_console_script(
    forked: VastaiCli, env: dict[str, str], args: list[str], returncode: int
) -> None:
    argv = [VASTAI, "--url", env["VAST_URL"], *args]
    script = subprocess.run(argv, env=env, capture_output=True, text=True, timeout=120, check=False)
    fork = forked.run(*argv[1:], timeout=120)
    assert (fork.args, fork.returncode, fork.stdout, fork.stderr) == (
        script.args,
        script.returncode,
        script.stdout,
        script.stderr,
    )
    assert fork.returncode == returncode
    assert fork.stdout or fork.stderr


def test_a_command_past_its_timeout_is_killed_and_the_server_serves_on(
    forked: VastaiCli, env: dict[str, str]
) -> None:
    with socket.create_server(("127.0.0.1", 0)) as silent:  # accepts the connection, never answers
        url = f"http://127.0.0.1:{silent.getsockname()[1]}"
        with pytest.raises(subprocess.TimeoutExpired):
            forked.run("--url", url, "--api-key", KEY, "show", "instances", timeout=1)
    assert (
        forked.run(
            "--url", env["VAST_URL"], "--api-key", KEY, "show", "instances", "--raw", timeout=120
        ).returncode
        == 0
    )


@pytest.mark.parametrize(
    ("code", "status", "printed"), [(None, 0, ""), (3, 3, ""), (256, 0, ""), ("bye", 1, "bye\n")]
)
def test_exit_status_is_the_interpreters(
    code: object, status: int, printed: str, capsys: pytest.CaptureFixture[str]
) -> None:
    assert exit_status(code) == status
    assert capsys.readouterr().err == printed
